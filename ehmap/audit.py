"""The audit log: sign-ins, uploads, deletions, views of exact figures and every release.

Each entry says who (user id and role), when, which dataset and what happened, never a case field: the
`detail` holds only counts, choices (need, period, geography) and file names. Entries are appended, never
changed. Until the team store holds them, they are JSON lines in `audit.jsonl` in the state directory.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from pathlib import Path

from ehmap.access import User
from ehmap.config import state_dir

AUDIT_FILE = "audit.jsonl"
EVENTS = frozenset({
    "sign_in", "sign_out", "refused", "upload", "delete", "view_exact", "release", "reference_change", "retention",
})


def audit_path() -> Path:
    return state_dir() / AUDIT_FILE


def record(event: str, user: User | None, dataset: str | None = None, detail: Mapping[str, object] | None = None) -> dict:
    """Append one entry and return it; `detail` must hold choices and counts only, never case fields."""
    if event not in EVENTS:
        raise ValueError(f"Unknown audit event '{event}'; valid events are {sorted(EVENTS)}.")
    entry = {
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "event": event,
        "user": user.id if user else None,
        "role": str(user.role) if user and user.role else None,
        "dataset": dataset,
        "detail": dict(detail or {}),
    }
    line = json.dumps(entry, sort_keys=True, default=str) + "\n"
    fd = os.open(audit_path(), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:  # one write per entry: appends do not interleave
        handle.write(line)
    return entry


def entries() -> list[dict]:
    """Every entry, oldest first."""
    path = audit_path()
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
