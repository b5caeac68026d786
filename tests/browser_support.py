"""Browser-test support: the real app served on loopback and a Chromium page that cannot leave the machine.

Fixtures `app_url` and `browser_page` are registered in conftest.py; tests use `screenshot_on_failure`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}
PAGES = {  # the app's 13 pages: URL path (app.py's st.Page url_path) -> title
    "": "Need map",
    "hot-spots": "Hot spots",
    "deprivation-context": "Deprivation context",
    "need-and-deprivation": "Need and deprivation",
    "destabilised-by-poverty": "Destabilised by poverty",
    "service-coverage": "Service coverage",
    "which-services-help": "Which services help most",
    "trends-over-time": "Trends",
    "business-case": "Business case",
    "board-report": "Board report",
    "your-data": "Your data",
    "data-sources": "Data sources",
    "about-and-sources": "About and sources",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_app() -> Iterator[str]:
    """Run `streamlit run app.py` on a free loopback port in its own process group; stop it after."""
    port = _free_port()
    log = ARTIFACTS / "streamlit-server.log"
    ARTIFACTS.mkdir(exist_ok=True)
    with open(log, "wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1"],
            cwd=REPO, env=os.environ.copy(), stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"The Streamlit server did not start; see {log}:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def context_page(browser, width: int = 1500, height: int = 1100, scale: float = 1.0) -> object:
    """A page in a browser context of its own (its own cookies: another session or user) that refuses every
    request off this machine (`page.off_machine` lists them); a viewport of `width` x `height` CSS pixels at
    `scale` device pixels each."""
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=scale)
    off_machine: list[str] = []

    def only_loopback(route):
        host = urlparse(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:", "about:")) or host in LOOPBACK:
            route.continue_()
        else:
            off_machine.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    page = context.new_page()
    page.off_machine = off_machine
    return page


def chromium_page() -> Iterator[object]:
    """A fresh headless Chromium page that refuses every request off this machine (`page.off_machine` lists them)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium), as .ci/run does.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield context_page(browser)
        browser.close()


@contextlib.contextmanager
def screenshot_on_failure(page, name: str):
    """Keep a full-page screenshot in test-artifacts/ when the block fails."""
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        raise


def wait_until_idle(page, timeout_ms: int = 180_000) -> None:
    """Wait for the page's title and until Streamlit has stopped running and spinning for three seconds."""
    page.locator("h1").first.wait_for(timeout=timeout_ms)
    busy = '[data-testid="stStatusWidget"], [data-testid="stSpinner"], [data-testid="stSkeleton"]'
    quiet, waited = 0, 0
    while quiet < 6:
        page.wait_for_timeout(500)
        waited += 500
        quiet = quiet + 1 if page.locator(busy).count() == 0 else 0
        if waited > timeout_ms:
            raise AssertionError(f"the page was still running after {timeout_ms / 1000:.0f} s")



MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]:not([width="-1"])'


def map_holding(page, selector: str, timeout_s: float = 90):
    """The frame of the shown map that holds `selector`: while a map is replaced (a rerun, another page), two
    can be on the page for a moment, and a plain frame locator would then match both."""
    deadline = time.monotonic() + timeout_s
    maps = page.locator(MAP_IFRAME)
    while time.monotonic() < deadline:
        for i in range(maps.count()):
            frame = maps.nth(i).content_frame
            if frame.locator(selector).count():
                return frame
        page.wait_for_timeout(250)
    raise AssertionError(f"no shown map holds {selector} after {timeout_s:.0f} s")


# --- sign-in: a real OpenID Connect provider and the app served with sign-in (added for issue 10) -----------------

OIDC_DIR = REPO / "tests" / "oidc"
ADMIN, ANALYST, VIEWER, STRANGER = ("admin@example.org", "analyst@example.org", "viewer@example.org",
                                    "stranger@example.org")
TEST_ACCOUNTS = [  # the provider's accounts; the analyst gets their role from the `roles` claim (an Entra app role)
    {"email": ADMIN, "name": "Ada Admin", "roles": []},
    {"email": ANALYST, "name": "Ann Analyst", "roles": ["ehmap.analyst"]},
    {"email": VIEWER, "name": "Vic Viewer", "roles": []},
    {"email": STRANGER, "name": "Sam Stranger", "roles": []},  # signs in, but is not in the roles file
]
TEST_ROLES = """\
users:
  - email: Admin@Example.org
    role: admin
  - email: viewer@example.org
    role: viewer
    councils: [E09000008]
claims:
  - claim: roles
    value: ehmap.analyst
    role: analyst
"""


@dataclasses.dataclass(frozen=True)
class SignedInApp:
    """The app served with sign-in through the test OpenID Connect provider."""

    url: str  # e.g. http://127.0.0.1:PORT (sign in with `sign_in(page, app.url, VIEWER)`)
    issuer: str  # the provider, e.g. http://127.0.0.1:PORT
    roles_file: Path
    log: Path


def _wait_until_healthy(url: str, process: subprocess.Popen, log: Path, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{what} did not start; see {log}:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)


@contextlib.contextmanager
def _process_group(command: list[str], log: Path, **kwargs) -> Iterator[subprocess.Popen]:
    """Run a command in its own process group, output to `log`; stop the group after."""
    ARTIFACTS.mkdir(exist_ok=True)
    with open(log, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True, **kwargs)
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextlib.contextmanager
def oidc_provider(port: int, accounts_file: Path, client_id: str, client_secret: str, redirect_uri: str,
                  log: Path) -> Iterator[str]:
    """The npm `oidc-provider` (tests/oidc/provider.mjs) on a loopback port; yields its issuer URL."""
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("tests/oidc/node_modules is missing: run `npm ci --prefix tests/oidc` (bash .ci/run does).")
    command = ["node", str(OIDC_DIR / "provider.mjs"), f"--port={port}", f"--accounts={accounts_file}",
               f"--client-id={client_id}", f"--client-secret={client_secret}", f"--redirect-uri={redirect_uri}"]
    with _process_group(command, log, cwd=OIDC_DIR) as process:
        issuer = f"http://127.0.0.1:{port}"
        _wait_until_healthy(f"{issuer}/.well-known/openid-configuration", process, log, "The OIDC provider")
        yield issuer


@contextlib.contextmanager
def signed_in_server(folder: Path, roles: str = TEST_ROLES, accounts: list[dict] | None = None,
                     name: str = "signed-in") -> Iterator[SignedInApp]:
    """The test OIDC provider and the app started by `python -m ehmap app` with sign-in configured: secrets.toml
    written into `folder` and passed with `--secrets.files` (never the repository's .streamlit), the roles file
    given by EHMAP_ROLES_FILE."""
    import json
    import secrets as tokens

    app_port, provider_port = _free_port(), _free_port()
    app_url = f"http://127.0.0.1:{app_port}"
    client_id, client_secret = "ehmap-tests", tokens.token_hex(24)
    accounts_file, roles_file, secrets_file = folder / "accounts.json", folder / "roles.yaml", folder / "secrets.toml"
    accounts_file.write_text(json.dumps(TEST_ACCOUNTS if accounts is None else accounts), encoding="utf-8")
    roles_file.write_text(roles, encoding="utf-8")
    redirect_uri = f"{app_url}/oauth2callback"
    with oidc_provider(provider_port, accounts_file, client_id, client_secret, redirect_uri,
                       ARTIFACTS / f"{name}-oidc.log") as issuer:
        secrets_file.write_text(
            "[auth]\n"
            f'redirect_uri = "{redirect_uri}"\n'
            f'cookie_secret = "{tokens.token_hex(32)}"\n\n'
            "[auth.testidp]\n"
            f'client_id = "{client_id}"\n'
            f'client_secret = "{client_secret}"\n'
            f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n',
            encoding="utf-8",
        )
        log = ARTIFACTS / f"{name}-streamlit.log"
        command = [sys.executable, "-m", "ehmap", "app", "--server.port", str(app_port),
                   "--server.address", "127.0.0.1", "--secrets.files", str(secrets_file)]
        env = {**os.environ, "EHMAP_ROLES_FILE": str(roles_file)}
        with _process_group(command, log, cwd=REPO, env=env) as server:
            _wait_until_healthy(f"{app_url}/_stcore/health", server, log, "The signed-in Streamlit server")
            yield SignedInApp(app_url, issuer, roles_file, log)


def sign_in(page, app_url: str, email: str, timeout_s: float = 120) -> None:
    """Sign `page` in to the app at `app_url` as one of TEST_ACCOUNTS, through the provider's own sign-in page;
    returns once the app shows the user's role, or the no-role message."""
    page.goto(app_url, wait_until="domcontentloaded")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{app_url}/**", timeout=timeout_s * 1000)
    page.get_by_text("Role: ").or_(page.get_by_text("but have no role in this ehmap")).first.wait_for(
        timeout=timeout_s * 1000)


def sign_out(page, app_url: str, timeout_s: float = 60) -> None:
    """Sign out with the sidebar's (or the refusal's) button, confirm on the provider, and wait for the sign-in
    screen."""
    page.get_by_role("button", name="Sign out").click()
    confirm = page.get_by_role("button", name="Yes, sign me out")
    confirm.wait_for(timeout=timeout_s * 1000)
    confirm.click()
    page.wait_for_url(f"{app_url}/**", timeout=timeout_s * 1000)
    page.get_by_role("button", name="Sign in").wait_for(timeout=timeout_s * 1000)
