"""Safe writes into ehmap's on-disk cache, which several sessions, processes and replicas share.

Every file ehmap writes there is first written under a unique temporary name in the same folder
(`tempfile.mkstemp`: never a name made from the process id alone, which two threads of one server share), then
renamed onto its name, so a reader sees the old file or the new one, never half a file. Our temporaries are
named `.NAME.RANDOM.tmp` (or `.part`, a download's folder); a process killed mid-write leaves one behind, so the
first time a process opens a cache folder it removes those it finds there that nobody has touched for
`STALE_AFTER_S` seconds (a live write touches its file as it goes).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

STALE_AFTER_S = 5 * 60  # a temporary file of ours untouched this long belongs to a write that died
TEMPORARY_SUFFIXES = (".tmp", ".part")
_SWEEP_DEPTH = 3  # the cache folder, its `sources/` folder and the version folders inside it

log = logging.getLogger(__name__)
_swept: set[str] = set()
_swept_lock = threading.Lock()


def is_temporary(name: str) -> bool:
    """True for a name ehmap gives a file while it is being written (`.NAME.RANDOM.tmp` or `.part`)."""
    return name.startswith(".") and name.endswith(TEMPORARY_SUFFIXES)


def temporary_name(target: Path, suffix: str = ".tmp") -> tuple[int, Path]:
    """A new, empty file beside `target` with a unique temporary name; its descriptor and path."""
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    return handle, Path(name)


def usual_permissions(handle: int) -> None:
    """Give a file made by mkstemp (0600) the permissions of an ordinary new file (0666 less the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(handle, 0o666 & ~umask)


def atomic_write(target: Path, write: Callable[[Path], object]) -> None:
    """Call `write(tmp)` on a unique temporary file beside `target`, then rename it onto `target`, so readers never
    see half a file and two writers of the same file at once both succeed (the last rename wins)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = temporary_name(target)
    try:
        usual_permissions(handle)
        os.close(handle)
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def last_touched(path: Path) -> float:
    """The latest modification time of a file, or of a folder and anything in it (0 when it vanished meanwhile)."""
    try:
        latest = path.lstat().st_mtime
        if path.is_dir() and not path.is_symlink():
            for inner in path.rglob("*"):
                try:
                    latest = max(latest, inner.lstat().st_mtime)
                except FileNotFoundError:
                    continue
        return latest
    except FileNotFoundError:
        return 0.0


def remove_stale_temporaries(folder: Path, older_than_s: float = STALE_AFTER_S, depth: int = _SWEEP_DEPTH) -> list[str]:
    """Remove our temporary files and folders left in `folder` (and its subfolders, `depth` levels down) by writes
    that died; returns their names. A temporary touched within `older_than_s` seconds is a live write: kept."""
    removed: list[str] = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for entry in entries:
        path = Path(entry.path)
        if is_temporary(entry.name):
            if now - last_touched(path) < older_than_s:
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(path)
                else:
                    path.unlink()
            except FileNotFoundError:
                continue  # another process cleaned it first
            removed.append(entry.name)
        elif depth > 1 and entry.is_dir(follow_symlinks=False):
            removed.extend(remove_stale_temporaries(path, older_than_s, depth - 1))
    if removed:
        log.info("Removed %d temporary file(s) left by interrupted writes in the cache", len(removed))
    return removed


def sweep_once(folder: Path) -> Path:
    """Clean a cache folder of stale temporaries the first time this process opens it; returns the folder."""
    key = str(folder)
    with _swept_lock:
        if key in _swept:
            return folder
        _swept.add(key)
    try:
        remove_stale_temporaries(folder)
    except OSError as error:  # cleaning is a courtesy: a folder we cannot clean still serves
        log.warning("Could not clean temporary files in the cache: %s", error)
    return folder
