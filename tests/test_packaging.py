"""`pip install .` gives a working `ehmap` command: the CLI and the app run from the installed copy, away from the
checkout; pyproject.toml and requirements.txt name the same dependencies."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from browser_support import map_holding, screenshot_on_failure

from ehmap.catalogue import ROOT

PIN = re.compile(r"^([A-Za-z0-9_.\[\]-]+)==([^\s#]+)")


def _pins() -> dict[str, str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return {m[1].lower(): m[2] for line in lines if (m := PIN.match(line.strip()))}


def test_pyproject_declares_what_requirements_pin():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    minimums = dict(re.fullmatch(r"([A-Za-z0-9_.\[\]-]+)>=(\S+)", d).groups() for d in declared)
    assert {name.lower(): version for name, version in minimums.items()} == _pins()


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A virtual environment (seeing the installed dependencies) with `pip install .` of this checkout."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(ROOT)],
                   check=True, cwd=venv, timeout=600)
    return venv


def _away(tmp_path: Path) -> dict[str, str]:
    """An environment for running the installed copy from a folder that is not the checkout."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["EHMAP_STATE_DIR"] = str(tmp_path / "state")
    return env


def test_the_installed_command_runs_the_analyses_away_from_the_checkout(installed, tmp_path, data_dir):
    out = tmp_path / "context.csv"
    run = subprocess.run([str(installed / "bin" / "ehmap"), "context", "--la", "E09000008", "--indicator", "iod2019",
                          "--out", str(out)], cwd=tmp_path, env=_away(tmp_path), capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    table = pd.read_csv(out)
    assert len(table) == 220 and table["iod2019_imd_decile"].between(1, 10).all()
    where = subprocess.run([str(installed / "bin" / "python"), "-c",
                            "import ehmap, ehmap.launch as l; print(ehmap.__file__); print(l.APP)"],
                           cwd=tmp_path, env=_away(tmp_path), capture_output=True, text=True, check=True)
    package, app = where.stdout.split()
    assert package.startswith(str(installed)) and Path(app) == installed / "share" / "ehmap" / "app.py"


def test_the_installed_app_draws_the_demo_with_no_data_folder(installed, tmp_path, page):
    from browser_support import _free_port, _process_group, _wait_until_healthy

    port, log = _free_port(), tmp_path / "app.log"
    env = _away(tmp_path)
    env.pop("EHMAP_DATA_DIR", None)  # a fresh machine: the demo's built-in reference rows
    command = [str(installed / "bin" / "ehmap"), "app", "--server.port", str(port)]
    with _process_group(command, log, cwd=tmp_path, env=env) as server:
        url = f"http://127.0.0.1:{port}"
        _wait_until_healthy(f"{url}/_stcore/health", server, log, "The installed app", 120)
        with screenshot_on_failure(page, "installed_app"):
            page.goto(url, wait_until="domcontentloaded")
            frame = map_holding(page, "path.leaflet-interactive >> nth=228", 180)
            assert frame.locator("path.leaflet-interactive").count() == 229  # Croydon's LSOAs 2021, from the bundle
            assert page.get_by_text("is not loaded").count() == 0
