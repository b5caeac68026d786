"""Cold start: time from a fresh process on an empty cache to the first need map, and the memory it then holds.

Each repetition makes an empty `EHMAP_CACHE_DIR` and a fresh `EHMAP_STATE_DIR` (temporary folders), starts a fresh
process and times from its start to the first need map drawn (cold), then starts another fresh process on the cache
that one built (warm). Two ways to start:

- `appserver` (default): `AppTest.from_file('app.py').run()` in a fresh Python process, timed from before the
  process is started to the end of the first script run, with a map on the page; RSS of that process after.
- `--browser`: a real `streamlit run app.py` and headless Chromium (/usr/bin/chromium through Playwright), timed from
  before the server is started to the map's polygons drawn in the page; the server's RSS once the run is done.

Prints medians of `--repeat` runs (3) and each target (issue 18: cold start <= 30 s; RSS after a cold start
<= 600 MB and no more than after a warm start) as met or not met, with the machine's load average.

    EHMAP_DATA_DIR=../shared/data python benchmarks/bench_cold_start.py [--repeat 3] [--browser] [--app-dir DIR]

`--app-dir` measures another checkout of the app (e.g. an older commit unpacked with `git archive`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COLD_TARGET_S = 30.0
RSS_TARGET_MB = 600
MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _status_mb(pid: int | str, field: str) -> int:
    """A memory figure of a process from /proc/PID/status (Linux), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    raise LookupError(field)


def child(app_dir: Path) -> None:
    """In the fresh process: run the app once in AppTest, check a map is drawn, report time and memory as JSON."""
    started = float(os.environ["BENCH_T0"])
    sys.path.insert(0, str(app_dir))
    from streamlit.testing.v1 import AppTest

    run_start = time.time()
    at = AppTest.from_file(str(app_dir / "app.py"), default_timeout=900).run()
    done = time.time()
    if at.exception or len(at.get("component_instance")) != 1:
        raise SystemExit(f"no map drawn: {[e.message for e in at.exception]}")
    print(json.dumps({"to_map_s": done - started, "first_run_s": done - run_start, "imports_s": run_start - started,
                      "rss_mb": _status_mb("self", "VmRSS"), "peak_mb": _status_mb("self", "VmHWM")}))


def _environment(cache: Path, state: Path) -> dict[str, str]:
    env = os.environ.copy()
    env.update(EHMAP_CACHE_DIR=str(cache), EHMAP_STATE_DIR=str(state), EHMAP_SECRET_FILE=str(state / "secret.key"))
    return env


def apptest_start(app_dir: Path, cache: Path, state: Path) -> dict:
    """One start in a fresh process (AppTest): seconds to the first map and memory after."""
    env = _environment(cache, state) | {"BENCH_T0": repr(time.time())}
    out = subprocess.run([sys.executable, __file__, "--child", "--app-dir", str(app_dir)], env=env, cwd=app_dir,
                         capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"the app failed to start:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def browser_start(app_dir: Path, cache: Path, state: Path, browser) -> dict:
    """One start of a real server with Chromium: seconds to the map's polygons drawn, server memory after."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(state / "server.log", "wb")
    started = time.time()
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                               "--server.address", "127.0.0.1", "--server.headless", "true"],
                              cwd=app_dir, env=_environment(cache, state), stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.time() - started > 300:
                    raise SystemExit(f"the server did not start; see {state / 'server.log'}") from None
                time.sleep(0.1)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(url)
        polygons = page.frame_locator(MAP_IFRAME).locator("path.leaflet-interactive")
        polygons.first.wait_for(timeout=300_000)  # a first map later than 5 minutes is a failure
        to_map = time.time() - started
        page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=120_000)
        time.sleep(2)  # the run ends and its garbage is collected
        result = {"to_map_s": to_map, "rss_mb": _status_mb(server.pid, "VmRSS"),
                  "peak_mb": _status_mb(server.pid, "VmHWM")}
        page.close()
        return result
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def _verdict(met: bool) -> str:
    return "met" if met else "not met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--browser", action="store_true", help="a real server and Chromium instead of AppTest")
    parser.add_argument("--app-dir", type=Path, default=REPO, help="the checkout of the app to measure")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    app_dir = args.app_dir.resolve()
    if args.child:
        child(app_dir)
        return
    if not os.environ.get("EHMAP_DATA_DIR"):
        raise SystemExit("Set EHMAP_DATA_DIR to the shared reference data folder.")

    browser = playwright = None
    if args.browser:
        from playwright.sync_api import sync_playwright

        playwright = sync_playwright().start()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    load_before = os.getloadavg()
    cold, warm = [], []
    try:
        for i in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix="ehmap-bench-cache-") as cache:
                for label, runs in (("cold", cold), ("warm", warm)):
                    with tempfile.TemporaryDirectory(prefix="ehmap-bench-state-") as state:
                        if browser is not None:
                            run = browser_start(app_dir, Path(cache), Path(state), browser)
                        else:
                            run = apptest_start(app_dir, Path(cache), Path(state))
                    runs.append(run)
                    print(f"run {i + 1} {label}: " + ", ".join(f"{k} {v:.1f}" for k, v in run.items()), flush=True)
    finally:
        if browser is not None:
            browser.close()
            playwright.stop()
    load_after = os.getloadavg()

    how = "real server + Chromium, to polygons drawn" if args.browser else "AppTest in a fresh process"
    print(f"\n{app_dir} ({how}); medians of {args.repeat}; load average before {load_before[0]:.2f}, "
          f"after {load_after[0]:.2f} (1 min), {os.cpu_count()} cores")
    for label, runs in (("cold (empty cache)", cold), ("warm", warm)):
        parts = f"to first map {_median(runs, 'to_map_s'):.1f} s"
        if "first_run_s" in runs[0]:
            parts += (f" (imports before the run {_median(runs, 'imports_s'):.1f} s, "
                      f"first run {_median(runs, 'first_run_s'):.1f} s)")
        memory = f"RSS after {_median(runs, 'rss_mb'):.0f} MB, peak {_median(runs, 'peak_mb'):.0f} MB"
        print(f"{label:<20} {parts}; {memory}")
    cold_s, cold_rss, warm_rss = _median(cold, "to_map_s"), _median(cold, "rss_mb"), _median(warm, "rss_mb")
    print(f"target cold start <= {COLD_TARGET_S:.0f} s: {cold_s:.1f} s, {_verdict(cold_s <= COLD_TARGET_S)}")
    print(f"target RSS after a cold start <= {RSS_TARGET_MB} MB: {cold_rss:.0f} MB, "
          f"{_verdict(cold_rss <= RSS_TARGET_MB)}")
    print(f"target RSS after a cold start <= after a warm start ({warm_rss:.0f} MB): {cold_rss:.0f} MB, "
          f"{_verdict(cold_rss <= warm_rss * 1.05)} (within 5%)")


if __name__ == "__main__":
    main()
