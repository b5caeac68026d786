"""Getting a reference file into ehmap: a download from the publisher's URL, or a user's upload.

Both end the same way: the bytes are checked (size, optional SHA-256, a CSV header holding the
catalogue's required columns) and saved into the sources cache (`ehmap.indicators.sources_dir()`),
with a small JSON note of where the file came from. Only public reference data is fetched; nothing
about the user's cases is sent anywhere.

Several sessions, processes or replicas may change the same file at once, so a file and the note that
describes it are one unit, put in place in one atomic step:

- Each version lives in a folder of its own, `sources/<file>.versions/<time>-<random>/`, holding the
  file and its note (`source.json`). `sources/<file>` is a symbolic link to the current version's file,
  so `ehmap.indicators.locate` and every reader open it by its usual name.
- A change writes the new version into a fresh temporary folder beside it (`tempfile.mkdtemp`, named
  `.<file>.<random>.part`: unique per call, never made from the process id alone) and checks it there.
  Then, holding the sources folder's lock, it runs `approve` (the audit entry), renames the folder among
  the versions and replaces the link with one rename. A reader, or a crash at any moment, finds the old
  pair or the new pair, never the file of one change with the note of another: `provenance` reads the
  note beside the file the link names.
- The lock (`fcntl.flock`, shared by threads, processes and anything on the same file system) puts
  changes one after the other: two at once both succeed, the last is in use and its audit entry is the
  last written. A change that waits more than LOCK_WAIT_S seconds gives up with a one-line message.
- Superseded versions are deleted under the lock (a reader that has one open keeps reading it); a
  temporary folder left by a change that died is removed when the cache is next opened (`ehmap.cache`).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import fcntl
import functools
import hashlib
import http.client
import io
import json
import os
import secrets
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ehmap.catalogue import BoundarySet, IndicatorSource, ReferenceFile, indicator_source, indicator_sources
from ehmap.config import reference_mirror
from ehmap.indicators import FROM_CACHE, FROM_DATA_DIR, FROM_DEMO, locate, missing_required, sources_dir
from ehmap.limits import MB
from ehmap.ons_workbook import WorkbookError, is_zip, workbook_to_children_csv
from ehmap.store import StoreError

MIN_BYTES = 256  # anything smaller is an error page or an empty file, not a reference table
MAX_BYTES = 512 * 1024 * 1024
CHUNK = 1 << 16
USER_AGENT = "ehmap (reference-data download)"
NOTE = "source.json"  # the note kept in each version's folder, beside the file
VERSIONS = ".versions"  # sources/<file>.versions/ holds the versions of <file>
NOT_AUDITED = "Not saved, because the audit log could not record the change:"
LOCK_WAIT_S = 30.0  # how long a change waits for another change to the reference files to finish


class DownloadError(RuntimeError):
    """A reference file could not be fetched or failed a check; the message says what to do."""


@dataclass(frozen=True)
class Fetched:
    """A reference file now in the sources cache, and where it came from."""

    path: str
    origin: str  # the URL, or 'upload: <filename>'
    size: int
    sha256: str
    fetched_at: str


def versions_dir(target: Path) -> Path:
    """The folder holding the versions of a cached reference file, each with its note."""
    return target.with_name(f"{target.name}{VERSIONS}")


def provenance_path(target: Path) -> Path:
    """The JSON note describing the copy `target` names now: in the folder of the version its link points to (a
    copy kept before versions existed has its note beside it)."""
    if target.is_symlink():
        return Path(os.path.realpath(target)).with_name(NOTE)
    return target.with_name(f"{target.name}.source.json")


def provenance(target: Path) -> Fetched | None:
    """Where a cached reference file came from (None when there is no note)."""
    for _ in range(5):  # a change may replace the version between resolving the link and reading its note
        try:
            return Fetched(**json.loads(provenance_path(target).read_text(encoding="utf-8")))
        except FileNotFoundError:
            if not target.is_symlink():
                return None
    return None


@dataclass(frozen=True)
class CopyInUse:
    """Which copy of a reference file the pages use: how it got here, its size, date and SHA-256 (no server path)."""

    file: str  # the catalogue's file name
    kept_as: str  # FROM_DATA_DIR, FROM_CACHE or FROM_DEMO
    note: Fetched | None  # where an uploaded or downloaded copy came from (None in the data folder)
    size: int
    when: dt.datetime  # UTC: when it was uploaded or downloaded, else the file's modification time
    sha256: str

    @property
    def uploaded(self) -> bool:
        return self.note is not None and self.note.origin.startswith("upload: ")

    @property
    def status(self) -> str:
        if self.note is not None:
            return "loaded from an upload" if self.uploaded else "loaded from a download"
        return f"loaded from {self.kept_as}"

    @property
    def came_from(self) -> str:
        """'the data folder', 'upload of File_7.csv', the URL it was downloaded from, or that no note was kept."""
        if self.note is not None:
            return f"upload of {self.note.origin.removeprefix('upload: ')}" if self.uploaded else self.note.origin
        if self.kept_as == FROM_DEMO:
            return "the built-in demo rows (Croydon only)"
        return "the data folder" if self.kept_as == FROM_DATA_DIR else "an upload or download (no note kept)"

    @property
    def version(self) -> str:
        """'7.0 MB, 30/11/2026 18:42 UTC, SHA-256 1a2b3c4d5e6f'."""
        return f"{self.size / MB:,.1f} MB, {self.when:%d/%m/%Y %H:%M} UTC, SHA-256 {self.sha256[:12]}"

    @property
    def short(self) -> str:
        """'iod2019_lsoa11_file7_columns.csv (SHA-256 1a2b3c4d5e6f, 30/11/2026, the data folder)', for a caption."""
        return f"{self.file} (SHA-256 {self.sha256[:12]}, {self.when:%d/%m/%Y}, {self.came_from})"


@functools.lru_cache(maxsize=32)
def _file_sha256(path: str, size: int, modified_ns: int) -> str:
    """A file's SHA-256, kept per path, size and modification time (a data folder's file is hashed once)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def copy_in_use(source: ReferenceFile) -> CopyInUse:
    """The copy of a source's file the pages use now and its version; raises SourceMissing (which says how to add
    it) when there is none. An uploaded or downloaded copy is described by its note, read with the file it
    describes."""
    located = locate(source)
    note = provenance(located.path) if located.origin == FROM_CACHE else None
    if note is not None:
        return CopyInUse(source.file, located.origin, note, note.size, dt.datetime.fromisoformat(note.fetched_at),
                         note.sha256)
    stat = located.path.stat()
    return CopyInUse(source.file, located.origin, None, stat.st_size,
                     dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC),
                     _file_sha256(str(located.path), stat.st_size, stat.st_mtime_ns))


def check_header(source: IndicatorSource, first_bytes: bytes, name: str) -> None:
    """Raise DownloadError unless the bytes start with a CSV header holding the required columns."""
    text = first_bytes.decode("utf-8-sig", errors="replace")
    if text.lstrip()[:15].lower().startswith(("<!doctype", "<html", "<?xml")):
        raise DownloadError(
            f"{name} is a web page, not the CSV file {source.file}; the publisher's address may have moved."
        )
    if is_zip(first_bytes):
        raise DownloadError(f"{name} is a ZIP or Excel file; ehmap needs the CSV file {source.file}.")
    first_line = text.splitlines()[0] if text else ""
    header = next(csv.reader(io.StringIO(first_line)), [])
    missing = missing_required(source, header)
    if missing:
        raise DownloadError(f"{name} lacks the column(s) {missing} that indicators/{source.id}.yaml requires.")


def check_boundaries(definition: BoundarySet, staged: Path, name: str) -> None:
    """Raise DownloadError unless a staged file is a readable polygon layer with a declared CRS and the code and name
    columns `boundaries/<id>.yaml` declares."""
    import pyogrio  # here: only an admin's boundary upload needs it

    try:
        info = pyogrio.read_info(staged)
    except Exception:  # noqa: BLE001 - GDAL names many failures; the reader needs one line
        raise DownloadError(f"{name} is not a boundary file GDAL can read; ehmap needs the GeoJSON "
                            f"{definition.file}.") from None
    missing = [c for c in (definition.code_column, definition.name_column) if c not in list(info["fields"])]
    if missing:
        raise DownloadError(f"{name} lacks the column(s) {missing} that boundaries/{definition.id}.yaml declares.")
    if not info.get("crs"):
        raise DownloadError(f"{name} declares no coordinate reference system; expected {definition.crs}.")
    if "polygon" not in str(info.get("geometry_type", "")).lower() or not info.get("features"):
        raise DownloadError(f"{name} holds no polygons; ehmap needs the areas of {definition.title}.")


def _read_workbook(source: IndicatorSource, staged: Path, origin: str, name: str) -> tuple[str, int, str]:
    """Replace a staged ONS workbook by the CSV ehmap reads from its sheet; the CSV's origin, size and SHA-256."""
    published = staged.with_name(f"published-{staged.name}.xlsx")
    staged.rename(published)
    try:
        rows = workbook_to_children_csv(published, source.workbook, staged)
    except WorkbookError as problem:
        raise DownloadError(f"{name} is not the ONS population workbook ehmap reads: {problem}") from None
    finally:
        published.unlink(missing_ok=True)
    data = staged.read_bytes()
    return (f"{origin} (ONS workbook, sheet '{source.workbook}', {rows:,} LSOAs read)", len(data),
            hashlib.sha256(data).hexdigest())


def _finish(
    source: ReferenceFile,
    staged: Path,
    target: Path,
    origin: str,
    size: int,
    digest: str,
    expected_sha256: str | None,
    name: str,
    approve: Callable[[Fetched], None] | None = None,
) -> Fetched:
    """Check a staged file, write its note beside it and put both in place as the current version of `target`."""
    if size < MIN_BYTES:
        raise DownloadError(f"{name} is only {size} bytes; a real {source.title} file is much larger.")
    if expected_sha256 and digest != expected_sha256.lower():
        raise DownloadError(
            f"{name} has SHA-256 {digest}, not the expected {expected_sha256.lower()}; it was not saved."
        )
    if isinstance(source, BoundarySet):
        check_boundaries(source, staged, name)
    else:
        with open(staged, "rb") as handle:
            first_bytes = handle.read(CHUNK)
        if source.workbook and is_zip(first_bytes):
            origin, size, digest = _read_workbook(source, staged, origin, name)
            with open(staged, "rb") as handle:
                first_bytes = handle.read(CHUNK)
        check_header(source, first_bytes, name)
    fetched = Fetched(str(target), origin, size, digest, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    staged.with_name(NOTE).write_text(json.dumps(asdict(fetched), indent=2) + "\n", encoding="utf-8")
    with _one_change_at_a_time(target.parent, name):
        if approve is not None:  # e.g. the audit entry: when it fails, the file is not replaced
            approve(fetched)
        _put_in_place(staged.parent, target)
    return fetched


@contextlib.contextmanager
def _one_change_at_a_time(folder: Path, name: str, wait_s: float | None = None) -> Iterator[None]:
    """Hold the sources folder's exclusive lock while a change is audited and put in place."""
    wait_s = LOCK_WAIT_S if wait_s is None else wait_s
    handle = os.open(folder, os.O_RDONLY)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise DownloadError(f"{name} was not saved: another change to the reference files is still "
                                        "being saved. Try again in a minute.") from None
                time.sleep(0.02)
        yield
    finally:
        os.close(handle)  # closing the descriptor releases the lock


def _put_in_place(staging: Path, target: Path) -> None:
    """Make a staged folder (the file and its note) the current version of `target` in one rename of its link, then
    delete the versions it supersedes. Called under the lock."""
    versions = versions_dir(target)
    versions.mkdir(exist_ok=True)
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp makes it owner-only; these are public tables
    version = versions / f"{time.time_ns()}-{secrets.token_hex(4)}"
    os.rename(staging, version)
    link = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
    os.symlink(Path(versions.name, version.name, target.name), link)
    try:
        os.replace(link, target)
    except BaseException:
        link.unlink(missing_ok=True)
        raise
    target.with_name(f"{target.name}.source.json").unlink(missing_ok=True)  # a note from before versions
    for old in versions.iterdir():
        if old.name != version.name:
            shutil.rmtree(old, ignore_errors=True)


def _staging_folder(target: Path) -> Path:
    """A fresh folder beside `target` for a change to be written and checked in (unique per call)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))


def download_source(
    source: IndicatorSource,
    url: str | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    expected_sha256: str | None = None,
    timeout: float = 60.0,
    max_bytes: int = MAX_BYTES,
    approve: Callable[[Fetched], None] | None = None,
) -> Fetched:
    """Download a source's file (default: its publisher URL) into the sources cache, checked.

    `progress(received, total)` is called as bytes arrive (`total` is None when the server does not
    say). The file appears only once complete and checked; a failure leaves any earlier copy alone.
    `approve(fetched)` runs once the file has passed its checks, before it replaces the cached copy; if it
    raises (say, the audit log cannot be written), nothing is replaced.
    """
    url = url or source.download_url
    if urllib.parse.urlparse(url).scheme not in ("http", "https"):
        raise DownloadError(f"Cannot download from '{url}': only http and https addresses are supported.")
    target = sources_dir() / source.file
    staging = _staging_folder(target)
    staged = staging / target.name
    digest = hashlib.sha256()
    received = 0
    try:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        with urllib.request.urlopen(request, timeout=timeout) as response, open(staged, "wb") as out:
            length_text = response.headers.get("Content-Length")
            total = int(length_text) if length_text and length_text.isdigit() else None
            if total is not None and total > max_bytes:
                raise DownloadError(
                    f"{url} is {total:,} bytes, more than the {max_bytes:,} allowed for a reference file."
                )
            while chunk := response.read(CHUNK):
                received += len(chunk)
                if received > max_bytes:
                    raise DownloadError(f"{url} sent more than the {max_bytes:,} bytes allowed for a reference file.")
                digest.update(chunk)
                out.write(chunk)
                if progress:
                    progress(received, total)
        if total is not None and received != total:
            raise DownloadError(
                f"The download of {url} was cut short: {received:,} of {total:,} bytes arrived. Try again."
            )
        return _finish(source, staged, target, url, received, digest.hexdigest(), expected_sha256, url, approve)
    except http.client.IncompleteRead as error:
        raise DownloadError(
            f"The download of {url} was cut short: {received + len(error.partial):,} bytes arrived"
            + (f" of {received + len(error.partial) + error.expected:,}." if error.expected else ".")
            + " Try again."
        ) from None
    except urllib.error.HTTPError as error:
        raise DownloadError(
            f"{url} answered {error.code} {error.reason}: {source.file} is not there. "
            f"Download it from {source.publisher}'s site yourself and upload it."
        ) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(
            f"Could not reach {url} ({reason}). Check the internet connection, "
            f"or save {source.file} yourself and upload it."
        ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when it became the new version


def save_upload(source: ReferenceFile, data: bytes, filename: str,
                approve: Callable[[Fetched], None] | None = None) -> Fetched:
    """Check an uploaded reference file (a table, or a boundary set's GeoJSON) and keep it in the sources cache
    (public data, not case data); `approve` as for `download_source`."""
    target = sources_dir() / source.file
    staging = _staging_folder(target)
    try:
        (staging / target.name).write_bytes(data)
        return _finish(
            source, staging / target.name, target, f"upload: {filename}", len(data), hashlib.sha256(data).hexdigest(),
            None, filename, approve,
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when it became the new version


def reference_files(ids: Sequence[str] = ()) -> list[IndicatorSource]:
    """The catalogued sources to fetch, one per file (every file when `ids` is empty); an unknown id raises
    ValueError naming the known ones."""
    chosen = [indicator_source(i) for i in ids] if ids else indicator_sources()
    return list({source.file: source for source in chosen}.values())


def fetch_address(source: IndicatorSource, mirror: str | None = None) -> str:
    """Where a source's file is fetched from: the mirror (default: `EHMAP_REFERENCE_MIRROR`) holding it under its
    published name, else the publisher's address."""
    mirror = mirror or reference_mirror()
    return f"{mirror.rstrip('/')}/{source.published_name}" if mirror else source.download_url


@dataclass(frozen=True)
class FetchOutcome:
    """One file of a fetch: what was saved, or why not."""

    source: IndicatorSource
    address: str
    fetched: Fetched | None
    problem: str = ""


def fetch_reference(
    sources: Sequence[IndicatorSource],
    mirror: str | None = None,
    progress: Callable[[IndicatorSource], Callable[[int, int | None], None]] | None = None,
    approve: Callable[[IndicatorSource], Callable[[Fetched], None]] | None = None,
) -> list[FetchOutcome]:
    """Download each source's file in turn, checked and put in place; a failure is reported and the rest go on.
    `progress(source)` and `approve(source)` give that file's callbacks (see `download_source`)."""
    outcomes = []
    mirror = mirror or reference_mirror()
    for source in sources:
        address = fetch_address(source, mirror)
        if not mirror and not source.downloadable:
            outcomes.append(FetchOutcome(source, address, None, f"{source.publisher} offers {source.title} on a web "
                                         f"page, not as a file: get {source.file} from {address} and upload it."))
            continue
        try:
            fetched = download_source(source, address, progress=progress(source) if progress else None,
                                      approve=approve(source) if approve else None)
        except DownloadError as problem:
            outcomes.append(FetchOutcome(source, address, None, str(problem)))
        except StoreError as problem:
            outcomes.append(FetchOutcome(source, address, None, f"{NOT_AUDITED} {problem}"))
        else:
            outcomes.append(FetchOutcome(source, address, fetched))
    return outcomes
