"""Where ehmap keeps its on-disk cache, finds reference files and its pseudonymisation secret."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import platformdirs

from ehmap.cache import sweep_once

SECRET_FILE = "pseudonymisation.key"


def app_root() -> Path:
    """The folder holding app.py, pages/, boundaries/, indicators/ and demo/: the checkout ehmap runs from, else
    the copy `pip install .` puts beside the package (sys.prefix/share/ehmap)."""
    checkout = Path(__file__).resolve().parent.parent
    return checkout if (checkout / "app.py").is_file() else Path(sys.prefix) / "share" / "ehmap"


ROOT = app_root()
DEMO_REFERENCE_DIR = ROOT / "demo" / "reference"
DEMO_REFERENCE_COUNCIL = "E09000008"  # Croydon: the demo's council, the only one the bundle covers


def cache_dir() -> Path:
    """The on-disk cache of converted reference files (`EHMAP_CACHE_DIR`, else the user cache dir)."""
    path = Path(os.environ.get("EHMAP_CACHE_DIR") or platformdirs.user_cache_dir("ehmap"))
    path.mkdir(parents=True, exist_ok=True)
    return sweep_once(path)  # the first open in a process removes temporary files left by writes that died


def state_dir() -> Path:
    """Where ehmap keeps what it saves for the team: the store and the audit log (`EHMAP_STATE_DIR`, else the
    user data dir). Created owner-only: it holds pseudonymised episodes."""
    path = Path(os.environ.get("EHMAP_STATE_DIR") or platformdirs.user_data_dir("ehmap"))
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def data_dir() -> Path | None:
    """The folder of official reference files (`EHMAP_DATA_DIR`), or None when not configured."""
    value = os.environ.get("EHMAP_DATA_DIR")
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_dir() else None


def demo_reference_dir() -> Path | None:
    """The demo council's reference rows (demo/reference, made by demo/make_reference_bundle.py), read only when
    no data folder is set at all, so a fresh install shows the demo on every page; None once one is set."""
    if os.environ.get("EHMAP_DATA_DIR"):
        return None
    return DEMO_REFERENCE_DIR if DEMO_REFERENCE_DIR.is_dir() else None


def reference_folder() -> Path | None:
    """Where reference files are read from: the data folder, else (none set) the demo council's bundle."""
    return data_dir() or demo_reference_dir()


def reference_mirror() -> str | None:
    """A council's own copy of the publishers' files to fetch reference files from (`EHMAP_REFERENCE_MIRROR`, an
    http(s) address), instead of the publishers' sites; None to fetch from the publishers."""
    return os.environ.get("EHMAP_REFERENCE_MIRROR") or None


def secret_path() -> Path:
    """Where the per-installation secret lives (`EHMAP_SECRET_FILE`, else the user config dir)."""
    value = os.environ.get("EHMAP_SECRET_FILE")
    return Path(value) if value else Path(platformdirs.user_config_dir("ehmap")) / SECRET_FILE


def pseudonymisation_key() -> bytes:
    """The 16-byte key for pseudonymising identifiers, generated once per installation.

    It is created with owner-only permissions outside the repository, so it is never committed.
    """
    path = secret_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(12))
    key = path.read_text().strip().encode("ascii")
    if len(key) != 16:
        raise ValueError(f"The pseudonymisation key in {path} must be 16 characters; delete it to make a new one.")
    return key
