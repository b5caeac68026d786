"""Board report time on the demo: building the paper (analyses, maps and charts) and rendering PDF and HTML.

Every section includes service coverage, with the demo's services file.

The report is built when a download button is clicked, so this is what a user waits for. Prints medians
over repeats, after one warm-up run (reference data loaded, fonts read).

    EHMAP_DATA_DIR=../shared/data python benchmarks/bench_report.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script from anywhere

from ehmap.board_report import ReportChoices, build_report, report_data  # noqa: E402
from ehmap.config import pseudonymisation_key  # noqa: E402
from ehmap.demo import DEMO_LA_CODE, DEMO_LABEL, load_demo  # noqa: E402
from ehmap.geocode import PostcodeDirectory  # noqa: E402
from ehmap.exports import read_export  # noqa: E402
from ehmap.geography import council_lsoas, councils  # noqa: E402
from ehmap.report import render_html, render_pdf  # noqa: E402
from ehmap.services import ingest_services  # noqa: E402


def timed(function) -> tuple[float, object]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    names = {council.code: council.name for council in councils()}
    directory = PostcodeDirectory.load()
    demo = load_demo(directory, names, pseudonymisation_key())
    services_file = REPO / "demo" / "croydon_services.csv"
    services = ingest_services(read_export(services_file.read_bytes(), services_file.name), DEMO_LA_CODE, directory,
                               council_lsoas(DEMO_LA_CODE).union_all())
    data = report_data(demo, names[DEMO_LA_CODE], DEMO_LABEL, "locality", services, services_file.name)
    dates = demo.cases["referral_date"]
    variants = {
        "every section, one need": ReportChoices(dates.min().date(), dates.max().date()),
        "every section, three needs": ReportChoices(dates.min().date(), dates.max().date(),
                                                    needs=(None, "domestic_abuse", "financial_stability")),
        "one year, by locality": ReportChoices(dt.date(2024, 4, 1), dates.max().date(), by="locality"),
    }
    print(f"{'paper':34} {'build':>8} {'PDF':>8} {'HTML':>8} {'total':>8} {'pages':>6} {'PDF size':>9}")
    for name, choices in variants.items():
        runs = []
        for _ in range(args.repeat + 1):
            build, report = timed(lambda: build_report(data, choices))
            pdf_time, pdf = timed(lambda: render_pdf(report))
            html_time, html = timed(lambda: render_html(report))
            runs.append((build, pdf_time, html_time, build + pdf_time + html_time))
        runs = runs[1:]  # the first run warms matplotlib's and fpdf2's font caches
        medians = [statistics.median(column) for column in zip(*runs)]
        pages = pdf.count(b"/Type /Page\n") or pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
        print(f"{name:34} " + " ".join(f"{m:7.2f}s" for m in medians) + f" {pages:6} {len(pdf) / 1e6:8.2f}MB")


if __name__ == "__main__":
    main()
