"""Need-map rerun time, server side, measured with Streamlit's AppTest, against a minimal app as the floor.

Runs the app once (warm-up: reference data loaded and cached), then times reruns with a changed widget each
time, as a user clicking through the map would, on the areas the map opens on (LSOAs 2021 when their files are
loaded: Croydon 229, else LSOAs 2011: Croydon 220): for the demo a rerun with no change, a need change and a measure
change; for a generated Birmingham export (20,000 episodes) a need change.
AppTest does not run the full garbage collection a real server runs after every script run
(`runner.postScriptGC`), so each rerun is followed by a timed `gc.collect(2)` and the server-side figure is
the sum; and AppTest compiles every script again on each run, which a server does once, so the bench keeps one
script cache for all runs. The floor is a minimal Streamlit + folium app drawing the same polygons with the same
tooltip, reading its GeoJSON once, run the same way. Prints medians, each target and whether it is met, and the
process's memory once the postcode directory and all LSOA boundaries are loaded.
Targets: need-map rerun <= 150 ms for Croydon and <= 300 ms for Birmingham (server side); memory <= 800 MB.

    EHMAP_DATA_DIR=../shared/data python benchmarks/bench_app.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # run as a script from anywhere
os.environ.setdefault("EHMAP_STATE_DIR", tempfile.mkdtemp(prefix="ehmap-bench-state-"))  # saves nothing of yours

import numpy as np  # noqa: E402
import streamlit.testing.v1.app_test as app_test_module  # noqa: E402
from streamlit.runtime.scriptrunner.script_cache import ScriptCache  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from ehmap.geography import lsoa_boundaries  # noqa: E402
from ehmap.taxonomy import NEED_KEYS  # noqa: E402

# A server compiles each script once and keeps its bytecode; AppTest makes a new ScriptCache, so compiles every
# script again, on each run. One cache for every run, for ehmap and the floor alike, times reruns as a server runs them.
_SCRIPT_CACHE = ScriptCache()
app_test_module.ScriptCache = lambda: _SCRIPT_CACHE

APP = str(REPO / "app.py")
CROYDON, BIRMINGHAM = "E09000008", "E08000025"
TARGETS_MS = {CROYDON: 150, BIRMINGHAM: 300}

MINIMAL_APP = textwrap.dedent('''
    """The floor: what an analyst's own Streamlit + folium need map would do on a rerun."""
    import folium
    import geopandas as gpd
    import streamlit as st
    from streamlit_folium import st_folium

    @st.cache_resource
    def areas():
        return gpd.read_file({path!r})

    frame = areas()
    need = st.selectbox("Need", [c for c in frame.columns if c.startswith("need_")], key="need")
    fmap = folium.Map(location=[frame.total_bounds[[1, 3]].mean(), frame.total_bounds[[0, 2]].mean()], zoom_start=11,
                      tiles=None)
    folium.GeoJson(frame[["code", "name", need, "geometry"]], style_function=lambda f: {{
        "fillColor": "#bd0026" if f["properties"][need] > 3 else "#ffffb2", "color": "#555555", "weight": 0.6,
        "fillOpacity": 0.85}}, tooltip=folium.GeoJsonTooltip(["name", "code", need])).add_to(fmap)
    st_folium(fmap, key="map", returned_objects=[], height=620, use_container_width=True)
''')


def _status_mb(field: str) -> int:
    """A memory figure of this process from /proc/self/status (Linux), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    raise LookupError(field)


def _timed_reruns(at: AppTest, change: Callable[[AppTest, int], object],
                  repeat: int) -> tuple[list[float], list[float]]:
    """Rerun `repeat` times after `change(at, i)`: the AppTest run times and the post-run collection times (s)."""
    runs, collections = [], []
    for i in range(repeat):
        change(at, i)
        start = time.perf_counter()
        at.run()
        runs.append(time.perf_counter() - start)
        assert not at.exception, at.exception
        start = time.perf_counter()
        gc.collect(2)  # what the server does after each run
        collections.append(time.perf_counter() - start)
    return runs, collections


def _need(at: AppTest, i: int) -> None:
    """The need map's next need (all needs, then each need)."""
    widget = at.selectbox(key="need_map_need")
    needs = [None, *NEED_KEYS]
    widget.set_value(needs[(needs.index(widget.value) + 1) % len(needs)])


def _floor_need(at: AppTest, i: int) -> None:
    """The minimal app's next need."""
    widget = at.selectbox(key="need")
    widget.set_value(widget.options[(widget.options.index(widget.value) + 1) % len(widget.options)])


def _measure(at: AppTest, i: int) -> None:
    from ehmap.views.need_map import MEASURES

    measure = next(radio for radio in at.radio if radio.key.startswith("need_map_measure"))  # keyed per audience
    offered = [key for key, label in MEASURES.items() if label in measure.options]  # options are the labels
    measure.set_value(offered[(offered.index(measure.value) + 1) % len(offered)])


def _ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def _line(label: str, runs: list[float], collections: list[float], target_ms: float | None = None) -> str:
    server = [r + c for r, c in zip(runs, collections, strict=True)]
    text = (f"{label:<38} AppTest median {_ms(runs):5.0f} ms (min {min(runs) * 1000:.0f}, max {max(runs) * 1000:.0f}, "
            f"n={len(runs)}) + post-run gc {_ms(collections):4.0f} ms = server side {_ms(server):5.0f} ms")
    if target_ms is not None:
        text += f"  (target <= {target_ms} ms: {'met' if _ms(server) <= target_ms else 'not met'})"
    return text


def _birmingham_dataset() -> int:
    """A generated Birmingham export, ingested and saved in the bench's own team store: its dataset id."""
    from conftest import saved_dataset
    from synthetic_export import make_export

    from ehmap.config import pseudonymisation_key
    from ehmap.geocode import PostcodeDirectory
    from ehmap.geography import councils
    from ehmap.ingest import ingest

    directory = PostcodeDirectory.load()
    names = {council.code: council.name for council in councils()}
    table = make_export(directory, BIRMINGHAM, ("B",), episodes=20_000, seed=11)
    result = ingest(table, BIRMINGHAM, directory, names, pseudonymisation_key())
    return saved_dataset(result, "birmingham.csv", table.to_csv(index=False).encode())


def opening_areas(la_code: str):
    """The areas the need map opens on for the team: LSOAs 2021 when their files are loaded (ingest places the
    episodes on them), else LSOAs 2011; the floor draws the same polygons."""
    from ehmap.areas import area_set
    from ehmap.lsoa21 import Lsoa21Missing

    try:
        return area_set("lsoa21", la_code)
    except Lsoa21Missing:
        return area_set("lsoa11", la_code)


def write_minimal_app(la_code: str, folder: Path, leaflet_url: str | None = None) -> tuple[Path, int]:
    """The minimal app on the council's LSOAs, written into `folder` with its GeoJSON: the script and its number
    of polygons. Values are made up (only the colours change); its "Need" selectbox offers `need_<key>` for each
    of NEED_KEYS, in that order. With `leaflet_url` its map loads only Leaflet, from there (leaflet.js and
    leaflet.css), as ehmap's does, instead of folium's CDN links. Also used by bench_browser_map.py."""
    areas = opening_areas(la_code).areas.to_crs("EPSG:4326")
    rng = np.random.default_rng(3)
    for need in NEED_KEYS:
        areas[f"need_{need}"] = rng.integers(0, 8, len(areas))
    path = folder / f"{la_code}.geojson"
    areas.to_file(path, driver="GeoJSON")
    script = folder / f"minimal_{la_code}.py"
    source = MINIMAL_APP.format(path=str(path))
    if leaflet_url:
        source = source.replace("st_folium(", f"fmap.default_js = [('leaflet', '{leaflet_url}/leaflet.js')]\n"
                                f"fmap.default_css = [('leaflet_css', '{leaflet_url}/leaflet.css')]\nst_folium(")
    script.write_text(source)
    return script, len(areas)


def _floor(la_code: str, folder: Path, repeat: int) -> tuple[list[float], list[float]]:
    """The minimal app's need-change reruns on the council's LSOAs (values made up: only the colours change).

    Run in a process of its own (`--floor`), so its post-run collection walks only its own objects."""
    script, _ = write_minimal_app(la_code, folder)
    at = AppTest.from_file(str(script), default_timeout=300).run()
    assert not at.exception, at.exception
    _timed_reruns(at, _floor_need, 3)  # warm-up
    return _timed_reruns(at, _floor_need, repeat)


def _floor_in_own_process(la_code: str, repeat: int) -> tuple[list[float], list[float]]:
    """`_floor` run by this script in a fresh process: its AppTest and collection times."""
    output = subprocess.run([sys.executable, __file__, "--floor", la_code, "--repeat", str(repeat)], check=True,
                            capture_output=True, text=True).stdout
    return tuple(json.loads(output.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--no-floor", action="store_true", help="skip the minimal app")
    parser.add_argument("--floor", metavar="LA_CODE", help="only time the minimal app for this council (JSON)")
    args = parser.parse_args()
    if args.floor:
        with tempfile.TemporaryDirectory() as folder:
            print(json.dumps(_floor(args.floor, Path(folder), args.repeat)))
        return
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")

    start = time.perf_counter()
    at = AppTest.from_file(APP, default_timeout=300).run()
    first = time.perf_counter() - start
    assert not at.exception, at.exception
    _timed_reruns(at, _need, 3)  # warm-up: every need's first view
    lines = [
        _line("Croydon demo, rerun, no change", *_timed_reruns(at, lambda at, i: None, args.repeat)),
        _line("Croydon demo, rerun, need changed", *_timed_reruns(at, _need, args.repeat), TARGETS_MS[CROYDON]),
        _line("Croydon demo, rerun, measure changed", *_timed_reruns(at, _measure, args.repeat)),
    ]

    birmingham = AppTest.from_file(APP, default_timeout=300)
    birmingham.session_state["la_code"] = BIRMINGHAM
    birmingham.session_state["dataset"] = _birmingham_dataset()
    birmingham.run()
    assert not birmingham.exception, birmingham.exception
    script = json.loads(birmingham.get("component_instance")[0].proto.json_args)["script"]
    drawn = len(opening_areas(BIRMINGHAM).areas)
    assert script.count('"type": "Feature"') == drawn, f"Birmingham's {drawn} areas are drawn"
    _timed_reruns(birmingham, _need, 3)
    lines.append(_line("Birmingham generated, need changed", *_timed_reruns(birmingham, _need, args.repeat),
                       TARGETS_MS[BIRMINGHAM]))

    if not args.no_floor:
        for la_code, label in ((CROYDON, "Croydon"), (BIRMINGHAM, "Birmingham")):
            lines.append(_line(f"minimal app (floor), {label}", *_floor_in_own_process(la_code, args.repeat)))

    print(f"first run (loads reference data, ingests the demo): {first:.2f} s")
    boundaries = lsoa_boundaries()  # all England and Wales LSOAs, as a national view would hold them
    print(f"app process memory with the postcode directory, the demo and all {len(boundaries):,} LSOA boundaries "
          f"loaded: RSS {_status_mb('VmRSS')} MB, peak {_status_mb('VmHWM')} MB (target <= 800 MB)")
    print("\n".join(lines))
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
