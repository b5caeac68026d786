"""The audit log: sign-ins, uploads, deletions, views of exact figures and every release.

Each entry says who (user id and role), when, which dataset and what happened, never a case field: the
`detail` holds only counts, choices (need, period, geography) and file names. Entries are appended, never
changed. They live in the team store's `audit_log` table (`ehmap.store`), where the database itself refuses
to update or delete them; changes to the store write their entry in the same transaction as the change. There
is no JSON-lines fallback: an action that cannot be audited (the store unreachable) does not happen either.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping

from ehmap.access import User

EVENTS = frozenset({
    "sign_in", "sign_out", "refused", "upload", "rename", "delete", "view_exact", "release", "reference_change",
    "retention",
})
CASE_FIELDS = frozenset({"case_id", "family_id", "postcode", "date_of_birth", "dob"})  # never in `detail`


def make_entry(event: str, user: User | None, dataset: str | None = None,
               detail: Mapping[str, object] | None = None) -> dict:
    """An audit entry (not yet written); refuses an unknown event, a case field or a non-scalar in `detail`."""
    if event not in EVENTS:
        raise ValueError(f"Unknown audit event '{event}'; valid events are {sorted(EVENTS)}.")
    detail = dict(detail or {})
    for key, value in detail.items():
        if key.lower() in CASE_FIELDS:
            raise ValueError(f"An audit entry holds no case field; '{key}' is one.")
        values = value if isinstance(value, list | tuple) else [value]
        if not all(item is None or isinstance(item, str | int | float | bool) for item in values):
            raise ValueError(f"An audit entry holds counts, choices and file names only; '{key}' is a "
                             f"{type(value).__name__}.")
    return {
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "event": event,
        "user": user.id if user else None,
        "role": str(user.role) if user and user.role else None,
        "dataset": dataset,
        "detail": json.loads(json.dumps(detail)),
    }


def record(event: str, user: User | None, dataset: str | None = None,
           detail: Mapping[str, object] | None = None) -> dict:
    """Append one entry and return it; `detail` must hold choices and counts only, never case fields."""
    from ehmap.store import default_store

    return default_store().append_audit(event, user, dataset, detail)


def entries() -> list[dict]:
    """Every entry, oldest first."""
    from ehmap.store import default_store

    return default_store().audit_entries()
