"""How long a hot spot statistic takes to rerun on a council's LSOAs, by statistic and number of permutations.

Run from the repository root (reference files from EHMAP_DATA_DIR):
    EHMAP_DATA_DIR=../shared/data python benchmarks/bench_hotspots.py [--repeats 5] [--esda]

Councils: Croydon (E09000008, 220 LSOAs) and Birmingham (E08000025, 639 LSOAs), real LSOA 2011 boundaries and
real child populations, Poisson counts at about 20 per 1,000 children with risk varying between LSOAs
(log-normal, sd 0.3, so the smoothed rates vary too). Gi* and local Moran run on the EB-smoothed rate
(the app's default measure); the rate-adjusted local Moran on the counts and children. Prints the median time of
`ehmap.hotspots.hotspots` over the repeats (the neighbours are built once, as the app keeps them). With --esda,
also esda's G_Local and Moran_Local (its own conditional permutations, without numba here) at 9,999 for scale.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]

import esda  # noqa: E402
import numpy as np  # noqa: E402

from ehmap.areas import lsoa_area_set  # noqa: E402
from ehmap.hotspots import DEFAULT_PERMUTATIONS, area_children, hotspots, smoothed_rate, spatial_weights  # noqa: E402
from ehmap.indicators import child_population  # noqa: E402

COUNCILS = {"Croydon": "E09000008", "Birmingham": "E08000025"}
STATISTICS = ("gi_star", "local_moran", "local_moran_rate")
PERMUTATIONS = (999, 9_999, DEFAULT_PERMUTATIONS)


def median_seconds(run, repeats: int) -> float:
    """The median wall time of `run()` over `repeats` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--esda", action="store_true", help="also time esda's own permutations at 9,999")
    args = parser.parse_args()
    population = child_population()
    print(f"{'council':11} {'LSOAs':>5} {'statistic':17} {'permutations':>12} {'median s':>9}")
    for council, code in COUNCILS.items():
        areas = lsoa_area_set(code)
        children = area_children(areas, population).to_numpy()
        w = spatial_weights(areas.areas)
        rng = np.random.default_rng(1)
        counts = rng.poisson(children * 0.02 * np.exp(rng.normal(0, 0.3, len(children))))
        smoothed = smoothed_rate(counts, children, w)
        for statistic in STATISTICS:
            y, extra = (counts, {"population": children}) if statistic == "local_moran_rate" else (smoothed, {})
            for permutations in PERMUTATIONS:
                run = partial(hotspots, y, w, statistic=statistic, permutations=permutations, **extra)
                seconds = median_seconds(run, args.repeats)
                print(f"{council:11} {len(children):>5} {statistic:17} {permutations:>12,} {seconds:>9.3f}")
        if args.esda:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for title, run in [
                    ("esda G_Local", partial(esda.G_Local, smoothed, w, transform="B", star=True, permutations=9_999)),
                    ("esda Moran_Local", partial(esda.Moran_Local, smoothed, w, permutations=9_999)),
                ]:
                    print(f"{council:11} {len(children):>5} {title:17} {9_999:>12,} {median_seconds(run, 1):>9.3f}")

if __name__ == "__main__":
    main()
