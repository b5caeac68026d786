"""Downloading and uploading reference files, end to end against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import pandas as pd
import pytest

from ehmap.catalogue import indicator_source
from ehmap.download import CHUNK, DownloadError, download_source, provenance, save_upload
from ehmap.indicators import FROM_CACHE, deprivation, locate, sources_dir

SOURCE = indicator_source("iod2019")


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        if self.path == "/truncated.csv":  # promises more bytes than it sends
            body = (Path(self.directory) / "File_7.csv").read_bytes()[:5000]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body) + 1000))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


@pytest.fixture(scope="module")
def subset(data_dir) -> pd.DataFrame:
    """The first 149 rows of the real IoD2019 file plus its most deprived LSOA (Jaywick, rank 1, in the national
    file), as published text: 150 rows."""
    real = pd.read_csv(data_dir / SOURCE.file, dtype=str)
    rank = real["Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)"].astype(int)
    return pd.concat([real.head(149), real[rank == rank.min()]])


@pytest.fixture
def served(tmp_path, subset):
    """A real-format File 7 subset served by a real HTTP server on 127.0.0.1."""
    site = tmp_path / "site"
    site.mkdir()
    subset.to_csv(site / "File_7.csv", index=False)
    subset.drop(columns="Index of Multiple Deprivation (IMD) Score").to_csv(site / "no_score.csv", index=False)
    (site / "page.csv").write_text("<!DOCTYPE html><html><body>" + "moved " * 100 + "</body></html>")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", site
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """Downloads land in a fresh cache; the data folder holds no IoD file."""
    monkeypatch.setenv("EHMAP_CACHE_DIR", str(tmp_path / "cache"))
    empty = tmp_path / "data"
    empty.mkdir()
    monkeypatch.setenv("EHMAP_DATA_DIR", str(empty))


def test_download_end_to_end(served, subset):
    base, site = served
    seen: list[tuple[int, int | None]] = []
    expected = hashlib.sha256((site / "File_7.csv").read_bytes()).hexdigest()
    fetched = download_source(
        SOURCE, f"{base}/File_7.csv", progress=lambda done, total: seen.append((done, total)), expected_sha256=expected
    )
    size = (site / "File_7.csv").stat().st_size
    assert (fetched.size, fetched.sha256, fetched.origin) == (size, expected, f"{base}/File_7.csv")
    assert seen[-1] == (size, size) and len(seen) == -(-size // CHUNK)  # progress reported chunk by chunk
    located = locate(SOURCE)
    assert located.origin == FROM_CACHE and located.path == sources_dir() / SOURCE.file
    assert provenance(located.path).origin == f"{base}/File_7.csv"
    table = deprivation("iod2019")
    assert len(table) == 150
    most = subset.iloc[-1]
    shown = table.set_index("lsoa11cd").loc[most["LSOA code (2011)"]]
    assert (shown["imd_rank"], shown["imd_score"]) == (
        int(most["Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)"]),
        pytest.approx(float(most["Index of Multiple Deprivation (IMD) Score"])))
    assert [p.name for p in sources_dir().iterdir() if p.name.endswith(".part")] == []


def test_truncated_download_is_refused_and_leaves_the_earlier_copy(served):
    base, _ = served
    download_source(SOURCE, f"{base}/File_7.csv")
    before = (sources_dir() / SOURCE.file).read_bytes()
    with pytest.raises(DownloadError) as error:
        download_source(SOURCE, f"{base}/truncated.csv")
    assert str(error.value).startswith(f"The download of {base}/truncated.csv was cut short: ")
    assert str(error.value).endswith("Try again.")
    assert (sources_dir() / SOURCE.file).read_bytes() == before
    assert [p.name for p in sources_dir().iterdir() if p.name.endswith(".part")] == []


def test_wrong_checksum_is_refused(served):
    base, _ = served
    with pytest.raises(DownloadError) as error:
        download_source(SOURCE, f"{base}/File_7.csv", expected_sha256="0" * 64)
    assert "not the expected " + "0" * 64 + "; it was not saved." in str(error.value)
    assert not (sources_dir() / SOURCE.file).exists()


def test_file_missing_a_required_column_names_it(served):
    base, _ = served
    with pytest.raises(DownloadError) as error:
        download_source(SOURCE, f"{base}/no_score.csv")
    assert str(error.value) == (
        f"{base}/no_score.csv lacks the column(s) ['Index of Multiple Deprivation (IMD) Score'] "
        "that indicators/iod2019.yaml requires."
    )


def test_web_page_instead_of_csv(served):
    base, _ = served
    with pytest.raises(
        DownloadError, match=r"page.csv is a web page, not the CSV file iod2019_lsoa11_file7_columns.csv"
    ):
        download_source(SOURCE, f"{base}/page.csv")


def test_not_found_and_unreachable(served):
    base, _ = served
    with pytest.raises(DownloadError) as error:
        download_source(SOURCE, f"{base}/nothing.csv")
    assert str(error.value).startswith(
        f"{base}/nothing.csv answered 404 File not found: iod2019_lsoa11_file7_columns.csv is not there."
    )
    with pytest.raises(
        DownloadError, match=r"Could not reach http://127.0.0.1:9/x.csv .*Check the internet connection"
    ):
        download_source(SOURCE, "http://127.0.0.1:9/x.csv", timeout=5)
    with pytest.raises(DownloadError, match=r"only http and https addresses are supported"):
        download_source(SOURCE, "file:///etc/passwd")


def test_size_limit(served):
    base, _ = served
    with pytest.raises(DownloadError, match=r"bytes, more than the 1,000 allowed for a reference file"):
        download_source(SOURCE, f"{base}/File_7.csv", max_bytes=1000)


def test_upload_is_checked_and_kept(served):
    _, site = served
    fetched = save_upload(SOURCE, (site / "File_7.csv").read_bytes(), "File_7.csv")
    assert fetched.origin == "upload: File_7.csv"
    assert locate(SOURCE).origin == FROM_CACHE and len(deprivation("iod2019")) == 150
    with pytest.raises(DownloadError) as error:
        save_upload(SOURCE, (site / "no_score.csv").read_bytes(), "mine.csv")
    assert str(error.value).startswith("mine.csv lacks the column(s) ['Index of Multiple Deprivation (IMD) Score']")
    with pytest.raises(DownloadError, match=r"tiny.csv is only 9 bytes"):
        save_upload(SOURCE, b"a,b\n1,2\n\n", "tiny.csv")
