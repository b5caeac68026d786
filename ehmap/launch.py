"""`python -m ehmap app [streamlit options]`: start the app, refusing to listen beyond this machine without sign-in.

It works out, as Streamlit will, the address the server would listen on (`--server.address`, else
`STREAMLIT_SERVER_ADDRESS`, else the `.streamlit/config.toml` files) and whether sign-in is configured (an `[auth]`
table in the secrets Streamlit will read, or `server.trustedUserHeaders`), then either exits with code 2 and a
one-line reason, or starts Streamlit on app.py (through `ui.serve`, which also switches off Streamlit's legacy
`pages/` folder mode so no page can be reached without passing the sign-in gate in app.py).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ehmap.access import auth_problem, listen_problem, proxy_headers_problem
from ehmap.config import ROOT

APP = ROOT / "app.py"
USAGE = """usage: python -m ehmap app [streamlit run options]

Starts ehmap (app.py) with Streamlit, e.g. `python -m ehmap app --server.port 8600`. Without sign-in configured
(secrets.toml [auth], or server.trustedUserHeaders behind a reverse proxy) it only listens on this machine
(127.0.0.1) and refuses any other address with exit code 2. See README 'Deploying and signing in'."""


class StartRefused(Exception):
    """ehmap must not start with these settings; the message is the one-line reason."""


@dataclass(frozen=True)
class ServeSettings:
    """What Streamlit would run with, as far as who can reach the app is concerned."""

    address: str  # "" when unset: Streamlit then listens on every interface
    auth: Mapping[str, object] | None  # the [auth] secrets table, if any
    trusted_headers: Mapping[str, str] = field(default_factory=dict)  # server.trustedUserHeaders

    @property
    def sign_in_configured(self) -> bool:
        return self.auth is not None or bool(self.trusted_headers)


def option_values(options: Sequence[str], key: str) -> list[str]:
    """Every value given for `--KEY VALUE` or `--KEY=VALUE` among Streamlit command-line options, in order."""
    flag, values = f"--{key}", []
    for i, option in enumerate(options):
        if option == flag and i + 1 < len(options):
            values.append(options[i + 1])
        elif option.startswith(flag + "="):
            values.append(option[len(flag) + 1:])
    return values


def _config_files(cwd: Path, home: Path) -> list[Path]:
    """Streamlit's config.toml files, weakest first: global, project (working directory), next to app.py."""
    paths = [folder / ".streamlit" / "config.toml" for folder in (home, cwd, ROOT)]
    return list(dict.fromkeys(p.resolve() for p in paths))


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise StartRefused(f"ehmap will not start: {path} could not be read ({error}).") from None


def _option(options: Sequence[str], env: Mapping[str, str], files: list[dict], section: str, name: str, env_name: str):
    """An option as Streamlit resolves it: command line, else environment, else the strongest config file."""
    given = option_values(options, f"{section}.{name}")
    if given:
        return given if section == "secrets" else given[-1]
    if env.get(env_name):
        return env[env_name].split() if section == "secrets" else env[env_name]
    for data in reversed(files):
        if name in data.get(section, {}):
            return data[section][name]
    return None


def _secrets(paths: Sequence[str]) -> dict:
    """The secrets Streamlit would load from these paths (TOML files or Kubernetes-style folders; later wins)."""
    merged: dict = {}
    for path in map(Path, paths):
        if path.suffix == ".toml":
            merged.update(_read_toml(path))
        elif path.is_dir():
            for entry in sorted(path.iterdir()):
                if entry.is_dir():
                    values = {f.name: f.read_text(encoding="utf-8").strip() for f in entry.iterdir() if f.is_file()}
                    merged[entry.name] = next(iter(values.values())) if len(values) == 1 else values
    return merged


def serve_settings(options: Sequence[str], env: Mapping[str, str], cwd: Path, home: Path) -> ServeSettings:
    """Work out the address and sign-in settings Streamlit would run app.py with (raises StartRefused when a file
    cannot be read or the trusted-headers option is not a JSON object)."""
    files = [_read_toml(path) for path in _config_files(cwd, home)]
    address = _option(options, env, files, "server", "address", "STREAMLIT_SERVER_ADDRESS")
    headers = _option(options, env, files, "server", "trustedUserHeaders", "STREAMLIT_SERVER_TRUSTED_USER_HEADERS")
    if isinstance(headers, str):
        try:
            headers = json.loads(headers)
        except json.JSONDecodeError:
            headers = None
        if not isinstance(headers, dict):
            raise StartRefused('ehmap will not start: server.trustedUserHeaders must be a JSON object such as '
                               '{"X-Forwarded-Email": "email"}.')
    secret_paths = _option(options, env, files, "secrets", "files", "STREAMLIT_SECRETS_FILES")
    if secret_paths is None:
        secret_paths = [str(folder / ".streamlit" / "secrets.toml") for folder in (home, cwd, ROOT)]
    auth = _secrets(secret_paths).get("auth")
    return ServeSettings(str(address or ""), auth, dict(headers or {}))


def start_problem(settings: ServeSettings) -> str | None:
    """The one-line reason not to start, or None."""
    if settings.auth is not None and (problem := auth_problem(settings.auth)):
        return problem
    if settings.trusted_headers and (problem := proxy_headers_problem(settings.trusted_headers)):
        return problem
    return listen_problem(settings.address, settings.sign_in_configured)


def app_command(args) -> int:
    """Run `python -m ehmap app`: refuse with exit code 2 and the reason, or replace this process with Streamlit."""
    options = list(args.options)
    if options and options[0] == "--":
        options = options[1:]
    if any(option in ("-h", "--help") for option in options):
        print(USAGE)
        return 0
    try:
        problem = start_problem(serve_settings(options, os.environ, Path.cwd(), Path.home()))
    except StartRefused as refused:
        problem = str(refused)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "ui.serve", "run", str(APP), *options]
    print(f"Starting ehmap: {shlex.join(command[1:])}", flush=True)
    os.execve(sys.executable, command, env)
    return 0  # not reached
