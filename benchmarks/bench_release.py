"""How long the release gate takes to build and check a dataset's whole release, and what it hides.

Run from the repository root (reference files from EHMAP_DATA_DIR):
    EHMAP_DATA_DIR=../shared/data python benchmarks/bench_release.py [--repeats 3]

Datasets: the demo (Croydon, 4,415 episodes), a generated West Berkshire export (2,600 episodes, a part year),
a generated small Croydon export (60 episodes) and a generated Birmingham export (20,000 episodes, 639 LSOAs).
Prints, per dataset, the median build time over the repeats (a fresh build each time: the app builds a release
once per dataset and keeps it), the counts registered, hidden, hidden to protect others, withheld, and the
rounds of the joint check.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from ehmap.config import pseudonymisation_key  # noqa: E402
from ehmap.demo import load_demo  # noqa: E402
from ehmap.geocode import PostcodeDirectory  # noqa: E402
from ehmap.geography import councils  # noqa: E402
from ehmap.ingest import ingest  # noqa: E402
from ehmap.release.output import release_of  # noqa: E402
from synthetic_export import make_export  # noqa: E402


def datasets(directory, names):
    key = pseudonymisation_key()
    yield "Croydon demo", load_demo(directory, names, key)
    yield "West Berkshire (generated)", ingest(make_export(directory), "E06000037", directory, names, key)
    yield "Croydon small (generated)", ingest(make_export(directory, "E09000008", ("CR",), episodes=60, seed=2),
                                              "E09000008", directory, names, key)
    yield "Birmingham (generated)", ingest(make_export(directory, "E08000025", ("B",), episodes=20_000, seed=11),
                                           "E08000025", directory, names, key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    directory = PostcodeDirectory.load()
    names = {council.code: council.name for council in councils()}
    print(f"{'dataset':30} {'episodes':>8} {'median s':>9} {'counts':>7} {'hidden':>7} {'partner':>8} "
          f"{'withheld':>9} {'rounds':>7}")
    for title, result in datasets(directory, names):
        release_of(result)  # warm: areas and reference files read once
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            release = release_of(result)
            times.append(time.perf_counter() - start)
        protected = release.protected
        print(f"{title:30} {result.accepted:>8,} {statistics.median(times):>9.2f} {release.cells:>7,} "
              f"{len(protected.hidden):>7,} {protected.secondary:>8,} {protected.withheld:>9,} "
              f"{protected.rounds:>7}")


if __name__ == "__main__":
    main()
