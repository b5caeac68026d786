"""Need-map rerun time, server side, measured with Streamlit's AppTest on the demo.

Runs the app once (warm-up: reference data loaded and cached), then times reruns with a changed
widget each time (need, then measure), as a user clicking through the map would. Prints medians,
and the process's memory once the postcode directory and all LSOA boundaries are loaded.
Targets: a rerun in <= 300 ms; memory <= 800 MB.

    EHMAP_DATA_DIR=../shared/data python benchmarks/bench_app.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import sys

from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script from anywhere

from ehmap.geography import lsoa_boundaries  # noqa: E402
from ehmap.taxonomy import NEED_KEYS  # noqa: E402

APP = str(REPO / "app.py")


def _status_mb(field: str) -> int:
    """A memory figure of this process from /proc/self/status (Linux), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    raise LookupError(field)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    start = time.perf_counter()
    at = AppTest.from_file(APP, default_timeout=300).run()
    first = time.perf_counter() - start
    assert not at.exception, at.exception

    plain, need_change, measure_change = [], [], []
    for i in range(args.repeat):
        start = time.perf_counter()
        at.run()
        plain.append(time.perf_counter() - start)

        start = time.perf_counter()
        at.selectbox(key="need_map_need").set_value(NEED_KEYS[i % len(NEED_KEYS)]).run()
        need_change.append(time.perf_counter() - start)

        measure = at.radio(key="need_map_measure")
        start = time.perf_counter()
        measure.set_value(measure.options[i % len(measure.options)]).run()
        measure_change.append(time.perf_counter() - start)
        assert not at.exception, at.exception

    print(f"first run (loads reference data, ingests the demo): {first:.2f} s")
    boundaries = lsoa_boundaries()  # all England and Wales LSOAs, as a national view would hold them
    print(f"app process memory with the postcode directory, the demo and all {len(boundaries):,} LSOA boundaries "
          f"loaded: RSS {_status_mb('VmRSS')} MB, peak {_status_mb('VmHWM')} MB (target <= 800 MB)")
    for label, times in (("rerun, no change", plain), ("rerun, need changed", need_change), ("rerun, measure changed", measure_change)):
        print(f"{label:<24} median {statistics.median(times) * 1000:6.0f} ms  (min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}, n={len(times)})")


if __name__ == "__main__":
    main()
