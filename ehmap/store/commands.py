"""`python -m ehmap datasets add|list|delete|purge`, and the saved datasets the analysis commands read
(`--dataset ID`)."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import getpass
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ehmap.access import Role, User
from ehmap.ingest import IngestResult
from ehmap.store.store import DatasetInfo, Store, StoreError, content_hash, default_store, name_from_file


def cli_user() -> User:
    """Who the command line records as uploading or deleting: the account running it, as an admin."""
    return User(f"cli:{getpass.getuser()}", "command line", Role.ADMIN)


def _council_names() -> dict[str, str]:
    from ehmap.geography import councils

    return {council.code: council.name for council in councils()}


def saved_episodes(dataset_id: int, la_code: str | None = None, store: Store | None = None) -> tuple[
        IngestResult, DatasetInfo]:
    """A saved dataset's episodes for an analysis command (raises StoreError, also when `la_code` differs)."""
    store = store or default_store()
    info = store.dataset(dataset_id)
    if la_code is not None and la_code != info.la_code:
        raise StoreError(f"Dataset {info.id} ('{info.name}') is {info.la_code}'s, not {la_code}'s: "
                         "leave out --la or give its council.")
    return store.load(info.id), info


@contextlib.contextmanager
def saved_file(dataset_id: int, kind: str = "services", store: Store | None = None) -> Iterator[Path | None]:
    """The services (or locality) file saved with a dataset, as a temporary file under its own name, or None."""
    stored = (store or default_store()).file(kind, dataset_id)
    if stored is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="ehmap-") as folder:
        path = Path(folder) / Path(stored.file_name).name
        path.write_bytes(stored.data)
        yield path


def _print_datasets(found: list[DatasetInfo], names: dict[str, str]) -> None:
    header = ["id", "council", "name", "period", "rows read", "accepted", "rejected", "uploaded by", "uploaded at",
              "file"]
    print("\t".join(header))
    for info in found:
        print("\t".join(str(value) for value in (
            info.id, f"{names.get(info.la_code, info.la_code)} ({info.la_code})", info.name, info.period or "-",
            info.rows_read, info.accepted, info.rejected, info.uploaded_by,
            f"{info.uploaded_at:%Y-%m-%d %H:%M} UTC", info.file_name)))


def _add(args: argparse.Namespace) -> int:
    from ehmap.cli import ingest_file

    names = _council_names()
    result = ingest_file(args.file, args.la, args.mapping)
    info = default_store().save_dataset(result, args.name or name_from_file(args.file.name), args.file.name,
                                        content_hash(args.file.read_bytes()), cli_user(), names.get(args.la))
    print(f"Saved dataset {info.id} '{info.name}' for {names[info.la_code]} ({info.la_code}): "
          f"{info.rows_read} rows read, {info.accepted} accepted, {info.rejected} rejected.")
    return 0


def _list(args: argparse.Namespace) -> int:
    names = _council_names()
    if args.la and args.la not in names:
        raise StoreError(f"'{args.la}' is not an English council code; for example Croydon is E09000008.")
    found = default_store().datasets(args.la)
    if not found:
        where = f" for {names[args.la]}" if args.la else ""
        print(f"No dataset is saved{where}.")
        return 0
    _print_datasets(found, names)
    return 0


def _delete(args: argparse.Namespace) -> int:
    info = default_store().delete_dataset(args.id, cli_user())
    print(f"Deleted dataset {info.id} '{info.name}' ({info.la_code}) and everything saved with it.")
    return 0


def _purge(args: argparse.Namespace) -> int:
    from ehmap.store.store import retention_days

    try:
        days = retention_days()
    except ValueError as error:
        raise StoreError(str(error)) from None
    purged = default_store().purge_expired(args.now, days)
    print(f"{len(purged)} dataset(s) uploaded more than {days} days ago deleted"
          + (f": {', '.join(str(info.id) for info in purged)}." if purged else "."))
    return 0


def _moment(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date like 2025-04-01") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def add_datasets_command(commands: argparse._SubParsersAction) -> None:
    """Register `datasets` and its actions on the CLI's subcommands."""
    parser = commands.add_parser("datasets", help="datasets saved in the team store: add, list, delete, purge")
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="ingest a case export and save it for a council")
    add.add_argument("file", type=Path, help="case export (CSV or XLSX)")
    add.add_argument("--la", required=True, help="council LAD code, e.g. E09000008 (Croydon)")
    add.add_argument("--name", help="dataset name (default: from the file name)")
    add.add_argument("--mapping", type=Path, help="YAML/JSON file: field -> header in this export")
    add.set_defaults(run=_add)
    listing = actions.add_parser("list", help="the saved datasets (of one council with --la)")
    listing.add_argument("--la", help="council LAD code")
    listing.set_defaults(run=_list)
    delete = actions.add_parser("delete", help="delete a dataset and everything saved with it")
    delete.add_argument("id", type=int, help="dataset id (see `datasets list`)")
    delete.set_defaults(run=_delete)
    purge = actions.add_parser("purge", help="delete the datasets older than the retention period "
                               "(EHMAP_RETENTION_DAYS, default 365)")
    purge.add_argument("--now", type=_moment, help="the moment to count from (default: now), e.g. 2026-01-01")
    purge.set_defaults(run=_purge)

