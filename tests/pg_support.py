"""A throwaway PostgreSQL cluster for tests: `initdb` and `pg_ctl` on a free loopback port in a temp directory.

initdb refuses to run as root (CI runs as root), so there the cluster belongs to the unprivileged `postgres`
user that Debian's `postgresql` package creates, and its directory is theirs. `.ci/run` installs the package.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("EHMAP_PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "ehmap"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user() -> list[str]:
    """The command prefix that runs a program as the cluster's owner (none unless we are root)."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _run(command: list[str], log: Path | None = None) -> None:
    done = subprocess.run(_as_server_user() + command, capture_output=True, text=True, timeout=120)
    if done.returncode:
        extra = log.read_text()[-2000:] if log and log.exists() else ""
        pytest.fail(f"{' '.join(command[:2])} failed ({done.returncode}): {done.stderr[-2000:]}{extra}")


def postgres_cluster() -> Iterator[str]:
    """Start a cluster and yield the URL of its `postgres` database; stop and remove it afterwards."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"PostgreSQL is missing ({PG_BIN}/initdb): install Debian's postgresql, as .ci/run does.")
    root = Path(tempfile.mkdtemp(prefix="ehmap-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
    data, log, port = root / "data", root / "server.log", _free_port()
    _run([str(PG_BIN / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-locale"])
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
    _run([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"], log)
    try:
        yield f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_server_user() + [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(server_url: str) -> str:
    """A new empty database on the cluster; its URL."""
    import sqlalchemy as sa

    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"
