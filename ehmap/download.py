"""Getting a reference file into ehmap: a download from the publisher's URL, or a user's upload.

Both end the same way: the bytes are checked (size, optional SHA-256, a CSV header holding the
catalogue's required columns) and written atomically into the sources cache (`ehmap.indicators.
sources_dir()`), with a small JSON note of where the file came from. Only public reference data is
fetched; nothing about the user's cases is sent anywhere.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import http.client
import io
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ehmap.catalogue import IndicatorSource
from ehmap.indicators import missing_required, sources_dir

MIN_BYTES = 256  # anything smaller is an error page or an empty file, not a reference table
MAX_BYTES = 512 * 1024 * 1024
CHUNK = 1 << 16
USER_AGENT = "ehmap (reference-data download)"


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


def provenance_path(target: Path) -> Path:
    """The JSON note kept beside a cached reference file."""
    return target.with_name(f"{target.name}.source.json")


def provenance(target: Path) -> Fetched | None:
    """Where a cached reference file came from (None when there is no note)."""
    note = provenance_path(target)
    if not note.exists():
        return None
    return Fetched(**json.loads(note.read_text(encoding="utf-8")))


def check_header(source: IndicatorSource, first_bytes: bytes, name: str) -> None:
    """Raise DownloadError unless the bytes start with a CSV header holding the required columns."""
    text = first_bytes.decode("utf-8-sig", errors="replace")
    if text.lstrip()[:15].lower().startswith(("<!doctype", "<html", "<?xml")):
        raise DownloadError(
            f"{name} is a web page, not the CSV file {source.file}; the publisher's address may have moved."
        )
    if first_bytes[:4] == b"PK\x03\x04":
        raise DownloadError(f"{name} is a ZIP or Excel file; ehmap needs the CSV file {source.file}.")
    first_line = text.splitlines()[0] if text else ""
    header = next(csv.reader(io.StringIO(first_line)), [])
    missing = missing_required(source, header)
    if missing:
        raise DownloadError(f"{name} lacks the column(s) {missing} that indicators/{source.id}.yaml requires.")


def _finish(
    source: IndicatorSource,
    tmp: Path,
    target: Path,
    origin: str,
    size: int,
    digest: str,
    expected_sha256: str | None,
    name: str,
    approve: Callable[[Fetched], None] | None = None,
) -> Fetched:
    if size < MIN_BYTES:
        raise DownloadError(f"{name} is only {size} bytes; a real {source.title} file is much larger.")
    if expected_sha256 and digest != expected_sha256.lower():
        raise DownloadError(
            f"{name} has SHA-256 {digest}, not the expected {expected_sha256.lower()}; it was not saved."
        )
    with open(tmp, "rb") as handle:
        check_header(source, handle.read(CHUNK), name)
    fetched = Fetched(str(target), origin, size, digest, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    if approve is not None:  # e.g. the audit entry: when it fails, the file is not replaced
        approve(fetched)
    os.replace(tmp, target)
    provenance_path(target).write_text(json.dumps(asdict(fetched), indent=2) + "\n", encoding="utf-8")
    return fetched


def _part_file(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.part")


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
    url = url or source.url
    if urllib.parse.urlparse(url).scheme not in ("http", "https"):
        raise DownloadError(f"Cannot download from '{url}': only http and https addresses are supported.")
    target = sources_dir() / source.file
    tmp = _part_file(target)
    digest = hashlib.sha256()
    received = 0
    try:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        with urllib.request.urlopen(request, timeout=timeout) as response, open(tmp, "wb") as out:
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
        return _finish(source, tmp, target, url, received, digest.hexdigest(), expected_sha256, url, approve)
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
        if tmp.exists():
            tmp.unlink()


def save_upload(source: IndicatorSource, data: bytes, filename: str,
                approve: Callable[[Fetched], None] | None = None) -> Fetched:
    """Check an uploaded reference file and keep it in the sources cache (public data, not case data);
    `approve` as for `download_source`."""
    target = sources_dir() / source.file
    tmp = _part_file(target)
    try:
        tmp.write_bytes(data)
        return _finish(
            source, tmp, target, f"upload: {filename}", len(data), hashlib.sha256(data).hexdigest(), None, filename,
            approve,
        )
    finally:
        if tmp.exists():
            tmp.unlink()
