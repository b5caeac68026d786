"""Shared files are written safely (issue 17): unique temporary names, write-then-rename, a reference file and its
provenance note put in place as one unit, changes one at a time, and temporaries of writes that died removed when
the cache is next opened. Real files, real threads and processes, a real HTTP server and a real kill -9."""

from __future__ import annotations

import fcntl
import functools
import hashlib
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ehmap.catalogue import indicator_source
from ehmap.indicators import FROM_CACHE, locate

REPO = Path(__file__).resolve().parent.parent
SOURCE = indicator_source("iod2019")
NOT_SAVED_BUSY = ("File_7.csv was not saved: another change to the reference files is still being saved. Try again "
                  "in a minute.")


@pytest.fixture()
def folders(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """A cache folder of this test's own and a data folder holding no reference file: (cache, sources folder)."""
    cache, data = tmp_path / "cache", tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("EHMAP_CACHE_DIR", str(cache))
    monkeypatch.setenv("EHMAP_DATA_DIR", str(data))
    return cache, cache / "sources"


@pytest.fixture(scope="module")
def variants(data_dir) -> list[bytes]:
    """Eight different real IoD2019 File 7 files: the published header and a different 120 LSOAs each."""
    lines = (data_dir / SOURCE.file).read_bytes().splitlines(keepends=True)
    return [lines[0] + b"".join(lines[1 + 120 * i: 1 + 120 * (i + 1)]) for i in range(8)]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def consistent(sources: Path) -> tuple[str, str]:
    """Assert the cached file is what its note describes; (its SHA-256, the note's origin)."""
    from ehmap.download import provenance

    target = sources / SOURCE.file
    note = provenance(target)
    data = target.read_bytes()
    assert note is not None and (note.sha256, note.size) == (sha(data), len(data)), "file and note disagree"
    return note.sha256, note.origin


def leftovers(sources: Path) -> list[str]:
    """Temporary files and superseded versions still in the sources folder."""
    from ehmap.download import versions_dir

    temporary = [p.name for p in sources.iterdir() if p.name.startswith(".")]
    versions = versions_dir(sources / SOURCE.file)
    return temporary + ([p.name for p in versions.iterdir()][1:] if versions.exists() else [])


def test_two_threads_uploading_the_same_file_at_once_40_times_end_consistent_with_the_last_change_audited(
        folders, variants):
    from ehmap.download import save_upload

    _, sources = folders
    approved: list[str] = []  # the audit entries, in the order they were written
    errors: list[BaseException] = []
    for round_ in range(40):
        barrier = threading.Barrier(2)

        def upload(data: bytes, name: str, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                save_upload(SOURCE, data, name, approve=lambda fetched: approved.append(fetched.sha256))
            except BaseException as error:  # noqa: BLE001 - collected and asserted below
                errors.append(error)

        threads = [threading.Thread(target=upload, args=(variants[(2 * round_ + i) % 8], f"{'ab'[i]}{round_}.csv"))
                   for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        digest, origin = consistent(sources)
        assert digest == approved[-1]  # the change in use is the one audited last
        assert origin in (f"upload: a{round_}.csv", f"upload: b{round_}.csv")
        assert leftovers(sources) == []
    assert len(approved) == 80


WRITER = """
import json, sys, time
from pathlib import Path
from ehmap.catalogue import indicator_source
from ehmap.download import save_upload
tag, rounds, start_at = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
variants = [path.read_bytes() for path in sorted(Path(sys.argv[4]).glob("*.csv"))]
while time.time() < start_at:
    time.sleep(0.001)
outcomes = []
for i in range(rounds):
    try:
        outcomes.append(["ok", save_upload(indicator_source("iod2019"), variants[i % len(variants)],
                                           f"{tag}{i}.csv").sha256])
    except Exception as error:
        outcomes.append([type(error).__name__, str(error)])
print(json.dumps(outcomes))
"""


def test_two_processes_uploading_the_same_file_at_once_end_consistent_and_readers_never_miss_it(
        folders, variants, tmp_path):
    from ehmap.download import provenance, save_upload

    _, sources = folders
    files = tmp_path / "variants"
    files.mkdir()
    for i, data in enumerate(variants):
        (files / f"{i}.csv").write_bytes(data)
    known = {sha(data) for data in variants}
    save_upload(SOURCE, variants[0], "first.csv")  # readers start from a copy in use
    start_at = time.time() + 3  # both writers start together, once their imports are done
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, tag, "25", str(start_at), str(files)], cwd=REPO,
                                env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for tag in ("a", "b")]
    reads = 0
    while any(writer.poll() is None for writer in writers):  # a reader during the race: never a missing file
        located = locate(SOURCE)
        note = provenance(located.path)
        assert located.origin == FROM_CACHE and note is not None and note.sha256 in known
        assert sha(located.path.read_bytes()) in known
        reads += 1
    outcomes = []
    for writer in writers:
        out, err = writer.communicate()
        assert writer.returncode == 0, err
        outcomes += json.loads(out)
    assert [outcome[0] for outcome in outcomes] == ["ok"] * 50, outcomes  # no FileNotFoundError, no refusal
    digest, origin = consistent(sources)
    assert digest in known and origin.startswith(("upload: a", "upload: b"))
    assert leftovers(sources) == [] and reads > 0


def test_a_change_that_waits_too_long_for_another_says_so_in_one_line_and_changes_nothing(
        folders, variants, monkeypatch):
    import ehmap.download
    from ehmap.download import DownloadError, save_upload

    _, sources = folders
    save_upload(SOURCE, variants[0], "first.csv")
    monkeypatch.setattr(ehmap.download, "LOCK_WAIT_S", 0.5)
    held = os.open(sources, os.O_RDONLY)  # another change holds the lock (as another process would)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(DownloadError) as refused:
            save_upload(SOURCE, variants[1], "File_7.csv")
    finally:
        os.close(held)
    assert str(refused.value) == NOT_SAVED_BUSY
    assert consistent(sources) == (sha(variants[0]), "upload: first.csv") and leftovers(sources) == []


def test_a_copy_kept_before_versions_is_read_and_replaced_with_its_note(folders, variants):
    from ehmap.download import provenance, save_upload

    _, sources = folders
    sources.mkdir(parents=True)
    old = sources / SOURCE.file
    old.write_bytes(variants[0])
    note = {"path": str(old), "origin": "upload: old.csv", "size": len(variants[0]), "sha256": sha(variants[0]),
            "fetched_at": "2026-01-02T03:04:05+00:00"}
    (sources / f"{SOURCE.file}.source.json").write_text(json.dumps(note), encoding="utf-8")
    assert provenance(old).origin == "upload: old.csv"
    save_upload(SOURCE, variants[1], "new.csv")
    assert old.is_symlink() and not (sources / f"{SOURCE.file}.source.json").exists()
    assert consistent(sources) == (sha(variants[1]), "upload: new.csv")


def test_atomic_write_from_two_threads_at_once_leaves_one_whole_file_and_no_temporary(tmp_path):
    from ehmap.cache import atomic_write

    target = tmp_path / "table.parquet"
    contents = [bytes([i]) * 200_000 for i in range(2)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def write(data: bytes) -> None:
        barrier.wait()
        for _ in range(30):
            try:
                atomic_write(target, lambda tmp: tmp.write_bytes(data))
            except BaseException as error:  # noqa: BLE001 - collected and asserted below
                errors.append(error)

    threads = [threading.Thread(target=write, args=(data,)) for data in contents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and target.read_bytes() in contents
    assert [p.name for p in tmp_path.iterdir()] == ["table.parquet"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # an ordinary file, not mkstemp's 0600


class _Stalling(http.server.SimpleHTTPRequestHandler):
    """Sends the header and the first half of the file, then stalls: a download a kill -9 interrupts."""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        body = (Path(self.directory) / "File_7.csv").read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        time.sleep(60)


def test_a_killed_download_leaves_a_temporary_that_the_next_start_removes_once_stale(folders, data_dir, tmp_path):
    cache, sources = folders
    site = tmp_path / "site"
    site.mkdir()
    real = (data_dir / SOURCE.file).read_bytes()[: 4 << 20]
    rows = real.split(b"\n", 1)[1]
    body = real + rows * ((256 << 10) // len(rows))  # at least 256 KB (the demo's rows repeated), so whole chunks flow
    (site / "File_7.csv").write_bytes(body)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Stalling, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/File_7.csv"
    download = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom ehmap.catalogue import indicator_source\n"
         "from ehmap.download import download_source\ndownload_source(indicator_source('iod2019'), sys.argv[1])", url],
        cwd=REPO, env=os.environ.copy(), start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not [p for p in sources.glob(".*.part/*") if p.stat().st_size >= 1 << 16]:
            assert download.poll() is None and time.monotonic() < deadline, "the download never started"
            time.sleep(0.1)
        os.killpg(download.pid, signal.SIGKILL)
        download.wait()
    finally:
        server.shutdown()
        server.server_close()
    [part] = [p.name for p in sources.iterdir()]  # what a killed download leaves behind
    assert part.startswith(f".{SOURCE.file}.") and part.endswith(".part")
    (cache / ".wards_x.parquet.live.tmp").write_bytes(b"another process is writing this now")
    stale = time.time() - 10 * 60
    for path in [*(sources / part).iterdir(), sources / part]:
        os.utime(path, (stale, stale))
    old_style = cache / f".lsoa11_x.parquet.{download.pid}.tmp"  # the process-id name of earlier versions
    old_style.write_bytes(b"half a file")
    os.utime(old_style, (stale, stale))
    # the next process to open the cache removes the stale temporaries, not the live one
    subprocess.run([sys.executable, "-c", "from ehmap.config import cache_dir; cache_dir()"], cwd=REPO,
                   env=os.environ.copy(), check=True)
    assert list(sources.iterdir()) == []
    assert sorted(p.name for p in cache.iterdir()) == [".wards_x.parquet.live.tmp", "sources"]
