"""Laptop mode: `python -m ehmap app` serves only this machine unless sign-in is configured (ehmap.launch), and
app.py itself shows nothing but the reason when run on another address without sign-in."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from browser_support import (
    ARTIFACTS,
    TEST_ROLES,
    VIEWER,
    _free_port,
    _process_group,
    _wait_until_healthy,
    screenshot_on_failure,
)

from ehmap.access import SIGN_IN_HINT
from ehmap.audit import entries
from ehmap.launch import ServeSettings, StartRefused, serve_settings, start_problem
from tests.conftest import REPO
from ui.frame import OUTSIDE

REFUSAL_0000 = f"ehmap will not listen on 0.0.0.0 without sign-in: {SIGN_IN_HINT}"


def _start(*options: str, env: dict | None = None, cwd: Path = REPO) -> tuple[subprocess.CompletedProcess, bool, float]:
    """Run `python -m ehmap app OPTIONS` until it exits (at most 30 s), watching whether anything ever accepts
    connections on its port meanwhile; returns (result, port was bound, seconds)."""
    port = _free_port()
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "ehmap", "app", "--server.port", str(port), *options],
        cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    bound = False
    try:
        while process.poll() is None and time.monotonic() - started < 30:
            with socket.socket() as probe:
                probe.settimeout(0.2)
                bound = bound or probe.connect_ex(("127.0.0.1", port)) == 0
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 9)
    stdout, stderr = process.communicate(timeout=10)
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return result, bound, time.monotonic() - started


def assert_refused(result: subprocess.CompletedProcess, bound: bool, seconds: float, reason: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.strip().splitlines() == [reason]
    assert result.stdout == ""
    assert not bound, "the port was bound before ehmap refused to start"
    assert seconds < 15


def test_refuses_every_interface_without_sign_in():
    assert_refused(*_start("--server.address", "0.0.0.0"), REFUSAL_0000)


def test_refuses_an_address_from_the_environment():
    assert_refused(*_start(env={"STREAMLIT_SERVER_ADDRESS": "0.0.0.0"}), REFUSAL_0000)


def test_refuses_a_misconfigured_sign_in_even_on_loopback(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[auth]\nredirect_uri = "http://127.0.0.1:8501/oauth2callback"\n', encoding="utf-8")
    assert_refused(
        *_start("--secrets.files", str(secrets)),
        "Sign-in is misconfigured: [auth] in secrets.toml has no cookie_secret (a long random string, identical on "
        "every replica).",
    )


def test_refuses_trusted_headers_that_are_not_json():
    assert_refused(
        *_start("--server.address=0.0.0.0", "--server.trustedUserHeaders", "X-Forwarded-Email: email"),
        'ehmap will not start: server.trustedUserHeaders must be a JSON object such as '
        '{"X-Forwarded-Email": "email"}.',
    )


def test_refuses_trusted_headers_without_an_email():
    assert_refused(
        *_start("--server.trustedUserHeaders", json.dumps({"X-Forwarded-User": "name"})),
        'Sign-in is misconfigured: server.trustedUserHeaders must map the header carrying the signed-in user\'s '
        'email to "email", e.g. {"X-Forwarded-Email" = "email"}.',
    )


def test_help_describes_the_launcher():
    result = subprocess.run([sys.executable, "-m", "ehmap", "app", "--help"], cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: python -m ehmap app [streamlit run options]")


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_settings_are_resolved_as_streamlit_resolves_them(tmp_path):
    home, cwd = tmp_path / "home", tmp_path / "project"
    cwd.mkdir()
    _write(home / ".streamlit" / "config.toml", '[server]\naddress = "0.0.0.0"\n')
    # the repository's config (next to app.py) is stronger than the user's: laptop mode stays on loopback
    assert serve_settings([], {}, cwd, home).address == "127.0.0.1"
    assert serve_settings([], {"STREAMLIT_SERVER_ADDRESS": "10.0.0.5"}, cwd, home).address == "10.0.0.5"
    given = serve_settings(["--server.address", "::"], {"STREAMLIT_SERVER_ADDRESS": "10.0.0.5"}, cwd, home)
    assert given.address == "::"
    headers = serve_settings(["--server.trustedUserHeaders={\"X-Email\": \"email\"}"], {}, cwd, home)
    assert headers.trusted_headers == {"X-Email": "email"} and headers.sign_in_configured


def test_secrets_are_found_where_streamlit_looks(tmp_path):
    home, cwd = tmp_path / "home", tmp_path / "project"
    auth = ('[auth]\nredirect_uri = "https://ehmap.example/oauth2callback"\ncookie_secret = "s"\n'
            '[auth.microsoft]\nclient_id = "i"\nclient_secret = "c"\nserver_metadata_url = "https://idp/x"\n')
    _write(cwd / ".streamlit" / "secrets.toml", auth)
    settings = serve_settings(["--server.address", "0.0.0.0"], {}, cwd, home)
    assert settings.auth["microsoft"]["client_id"] == "i" and start_problem(settings) is None
    # --secrets.files replaces the default places
    other = _write(tmp_path / "elsewhere" / "secrets.toml", 'title = "no auth here"\n')
    refused = serve_settings(["--server.address", "0.0.0.0", "--secrets.files", str(other)], {}, cwd, home)
    assert refused.auth is None and start_problem(refused) == REFUSAL_0000
    # Kubernetes-style secret folders: one folder per table, one file per key
    folder = tmp_path / "mounted"
    for key, value in {"redirect_uri": "https://e/oauth2callback", "cookie_secret": "s", "client_id": "i",
                       "client_secret": "c", "server_metadata_url": "https://idp/x"}.items():
        _write(folder / "auth" / key, value + "\n")
    mounted = serve_settings(["--server.address", "0.0.0.0"], {"STREAMLIT_SECRETS_FILES": str(folder)}, cwd, home)
    assert mounted.auth["client_id"] == "i" and start_problem(mounted) is None


def test_an_unreadable_config_file_is_named(tmp_path):
    home, cwd = tmp_path / "home", tmp_path / "project"
    bad = _write(cwd / ".streamlit" / "config.toml", "[server\n")
    with pytest.raises(StartRefused, match=rf"^ehmap will not start: {re.escape(str(bad))} could not be read \("):
        serve_settings([], {}, cwd, home)


def test_start_problem_for_each_case():
    assert start_problem(ServeSettings("127.0.0.1", None)) is None
    assert start_problem(ServeSettings("0.0.0.0", None)) == REFUSAL_0000
    assert start_problem(ServeSettings("0.0.0.0", None, {"X-Email": "email"})) is None


def links(page) -> list[str]:
    """Every link on the page but the "Skip to main content" link Streamlit puts on every page."""
    return page.locator('a:not([data-testid="stSkipToContent"])').evaluate_all("links => links.map(a => a.outerHTML)")


def _listening_addresses(port: int) -> set[str]:
    """The local addresses a TCP socket listens on at `port` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                found.add(address)
    return found


def test_laptop_mode_serves_this_machine_only(page, directory):
    port = _free_port()
    log = ARTIFACTS / "laptop-streamlit.log"
    with _process_group([sys.executable, "-m", "ehmap", "app", "--server.port", str(port)], log, cwd=REPO) as server:
        url = f"http://127.0.0.1:{port}"
        _wait_until_healthy(f"{url}/_stcore/health", server, log, "The laptop-mode server")
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1 and nothing else
        with screenshot_on_failure(page, "laptop_mode"):
            page.goto(url, wait_until="domcontentloaded")
            page.get_by_text("Role: admin").wait_for(timeout=90_000)
            assert page.get_by_text("You (laptop mode)").is_visible()
            assert page.get_by_text("Laptop mode: no sign-in, and only this computer can open the app.").is_visible()
            assert page.get_by_role("button", name="Sign out").count() == 0
            page.get_by_role("link", name="Need map").wait_for(timeout=30_000)
            assert page.off_machine == []


def test_app_run_directly_on_every_interface_shows_only_the_reason(page):
    """Defence in depth: `streamlit run app.py` on 0.0.0.0 without sign-in (no launcher) serves one sentence."""
    port = _free_port()
    log = ARTIFACTS / "direct-0000-streamlit.log"
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address",
               "0.0.0.0"]
    with _process_group(command, log, cwd=REPO) as server:
        url = f"http://127.0.0.1:{port}"
        _wait_until_healthy(f"{url}/_stcore/health", server, log, "The directly started server")
        with screenshot_on_failure(page, "direct_0000"):
            # first thing, the page's own script name is Streamlit's legacy pages/ route (until app.py has run once):
            # the page refuses to run without the frame
            # (Streamlit lists the pages/ scripts in that mode; each refuses to run, and `python -m ehmap app` turns
            # the mode off before anyone connects)
            page.goto(url + "/need_map", wait_until="domcontentloaded")
            page.get_by_text(OUTSIDE).wait_for(timeout=60_000)
            assert page.get_by_text("Croydon").count() == 0 and page.get_by_role("img").count() == 0
            for path in ("/", "/hot-spots"):
                page.goto(url + path, wait_until="domcontentloaded")
                page.get_by_text(REFUSAL_0000).wait_for(timeout=60_000)
                assert page.locator('[data-testid="stSidebarNav"]').count() == 0
                assert links(page) == []
            assert page.get_by_text("Need map").count() == 0


def test_signed_in_through_a_trusted_proxy(page, directory, tmp_path):
    """Proxy mode: the headers a trusted proxy sends (here set by the browser) say who the user is."""
    roles = _write(tmp_path / "roles.yaml", TEST_ROLES)
    port = _free_port()
    log = ARTIFACTS / "proxy-streamlit.log"
    mapping = json.dumps({"X-Forwarded-Email": "email", "X-Forwarded-Name": "name"})
    command = [sys.executable, "-m", "ehmap", "app", "--server.port", str(port), "--server.address", "127.0.0.1",
               "--server.trustedUserHeaders", mapping]
    with _process_group(command, log, cwd=REPO, env={**os.environ, "EHMAP_ROLES_FILE": str(roles)}) as server:
        url = f"http://127.0.0.1:{port}"
        _wait_until_healthy(f"{url}/_stcore/health", server, log, "The proxy-mode server")
        with screenshot_on_failure(page, "proxy_mode"):
            page.goto(url, wait_until="domcontentloaded")
            page.get_by_text("Your sign-in did not reach ehmap: the proxy in front of it sent no email.").wait_for(
                timeout=60_000)
            assert links(page) == []
            page.context.set_extra_http_headers({"X-Forwarded-Email": "Viewer@Example.org",
                                                 "X-Forwarded-Name": "Vic via the proxy"})
            page.goto(url, wait_until="domcontentloaded")
            page.get_by_text("Role: viewer").wait_for(timeout=90_000)
            assert page.get_by_text("Vic via the proxy").is_visible()
            assert page.get_by_text("Councils: Croydon (E09000008)").is_visible()
            assert page.get_by_role("button", name="Sign out").count() == 0  # signing out is the proxy's business
    signed_in = [e for e in entries() if e["event"] == "sign_in" and e["user"] == VIEWER]
    assert signed_in and signed_in[-1]["role"] == "viewer" and signed_in[-1]["detail"] == {"mode": "proxy"}
