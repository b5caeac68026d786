"""Command-line interface: `python -m ehmap COMMAND ...` (ingest, context, hotspots, coverage, performance,
business-case, report, datasets); `python -m ehmap COMMAND --help` for each command's options."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ehmap.audience import Audience
from ehmap.config import pseudonymisation_key
from ehmap.exports import ExportError, load_mapping, read_export
from ehmap.geocode import PostcodeDirectory
from ehmap.geography import councils
from ehmap.ingest import IngestResult, council_of_export, ingest, wrong_council_message
from ehmap.safe_output import write_atomic, write_csv, write_csv_fast
from ehmap.store import StoreError

# ehmap.hotspots' ALL_STATISTIC_TITLES and DEFAULT_PERMUTATIONS, written out so the CLI starts without importing esda
# (tests/test_hotspots_cli.py checks they agree).
HOTSPOT_STATISTICS = ("gi_star", "local_moran", "local_moran_rate")
HOTSPOT_PERMUTATIONS = 99_999


def ingest_file(path: Path, la_code: str, mapping_path: Path | None = None) -> IngestResult:
    """Read, validate and geocode one export for one council (raises ExportError if unusable)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ExportError(f"{path} could not be opened ({error.strerror}).") from None
    names = {council.code: council.name for council in councils()}
    if la_code not in names:
        raise ExportError(f"'{la_code}' is not an English council code; for example Croydon is E09000008.")
    mapping = load_mapping(mapping_path) if mapping_path else None
    table = read_export(data, path.name)
    directory = PostcodeDirectory.load()
    found = council_of_export(table, mapping, directory)
    wrong = wrong_council_message(found, la_code, names)
    if wrong:  # refused before ingest: it would reject nearly every row as outside the area
        raise ExportError(f"{wrong} Give --la {found.la_code} to use it there." if found.la_code in names else wrong)
    return ingest(table, la_code, directory, names, pseudonymisation_key(), mapping)


def episodes(args: argparse.Namespace) -> tuple[IngestResult, str]:
    """The episodes an analysis command reads, and where from: its case file (ingested now, for --la or the
    council most postcodes are in) or a saved dataset (--dataset ID); exactly one of the two."""
    if (args.cases is None) == (args.dataset is None):
        raise ExportError("Give a case export file or --dataset ID" + (", not both." if args.cases else "."))
    if args.dataset is not None:
        from ehmap.store.commands import saved_episodes

        result, info = saved_episodes(args.dataset, args.la)
        return result, f"dataset {info.id}: {info.name} (saved {info.uploaded_at:%d/%m/%Y})"
    la_code = args.la or infer_council(args.cases, args.mapping)
    return ingest_file(args.cases, la_code, args.mapping), f"{args.cases.name} (case export)"


def write_ingest_outputs(result: IngestResult, out: Path, output_format: str = "csv") -> None:
    """cases and rejects (.csv or .parquet) and summary.json in `out`.

    Both tables hold episode rows, so they are created readable by the owner only (0600). CSV cells are
    formula-safe (ehmap.safe_output); Parquet keeps types (dates as dates), and no spreadsheet evaluates it.
    """
    out.mkdir(parents=True, exist_ok=True)
    cases = result.cases_for_export()
    if output_format == "parquet":
        table = _arrow_table(cases)
        for name in ("referral_date", "end_date"):  # dates as dates, not ISO texts
            dates = pc.cast(pa.array(result.cases[name].to_numpy(), from_pandas=True), pa.date32())
            table = table.set_column(table.schema.get_field_index(name), name, dates)
        write_parquet(table, out / "cases.parquet")
        write_parquet(_arrow_table(result.rejects), out / "rejects.parquet")
    else:
        write_csv_fast(cases, out / "cases.csv", private=True)
        write_csv_fast(result.rejects, out / "rejects.csv", private=True)
    (out / "summary.json").write_text(json.dumps(result.summary(), indent=2) + "\n", encoding="utf-8")


def _arrow_table(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)


def write_parquet(table: pa.Table, path: Path) -> None:
    """`table` as a Parquet file at `path`, created atomically and readable by the owner only (0600)."""
    import pyarrow.parquet as pq

    write_atomic(path, lambda file: pq.write_table(table, file), private=True)


def _ingest_command(args: argparse.Namespace) -> int:
    result = ingest_file(args.file, args.la, args.mapping)
    write_ingest_outputs(result, args.out, args.format)
    print(f"{result.rows_read} rows read: {result.accepted} accepted, {result.rejected} rejected -> {args.out}")
    return 0


def _context_command(args: argparse.Namespace) -> int:
    from ehmap.areas import small_area_wards, with_ward_columns
    from ehmap.context import context_csv, council_context
    from ehmap.indicators import SourceMissing

    try:
        table = council_context(args.la, args.indicator)
    except (SourceMissing, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    wards = small_area_wards("lsoa11", args.la)
    write_csv(with_ward_columns(context_csv(table), wards, after="lsoa11nm", code="lsoa11cd"), args.out)
    for note in table.notes:
        print(note)
    print(f"{len(table.areas)} LSOAs of {args.la} with {len(table.columns)} indicator columns -> {args.out}")
    return 0


def _hotspots_command(args: argparse.Namespace) -> int:
    from ehmap.areas import area_set, small_area_wards, with_ward_columns
    from ehmap.hotspots import hotspot_table
    from ehmap.indicators import SourceMissing, child_population
    from ehmap.lsoa21 import Lsoa21Missing, children_on
    from ehmap.needmap import CaseFilter
    from ehmap.views.need_map import team_small_area

    result, source = episodes(args)
    need = None if args.need == "all" else args.need
    if args.release:
        return _released_hotspots(args, result, need, source)
    try:
        areas = area_set(args.geography or team_small_area(result.cases), result.la_code, args.name_column)
        try:
            population = children_on(areas.kind, child_population())
        except SourceMissing:
            if args.measure != "count":
                raise
            population = None
        table = hotspot_table(result.cases, areas, CaseFilter(need=need), population, args.measure, args.statistic,
                              args.weights, args.k, args.threshold, args.permutations, args.seed, args.smoothing)
    except (SourceMissing, Lsoa21Missing, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(with_ward_columns(table.for_csv(), small_area_wards(areas.kind, result.la_code)), args.out)
    labels = table.areas["label"]
    print(f"{len(labels)} areas ({areas.title}); {int(table.result.hot.sum())} hot spot(s), "
          f"{int(labels.str.startswith(('cold spot', 'Low-Low')).sum())} cold spot(s) after FDR -> {args.out}")
    print("Team figures: exact counts, not for sharing; add --release for a table that can be shared.")
    return 0


def _geography_kind(geography: str | None) -> str | None:
    """'lsoa11', 'ward', 'custom' (a locality file) or None (not given)."""
    if geography is None or geography in ("lsoa11", "ward"):
        return geography
    return "custom"


def _released_hotspots(args: argparse.Namespace, result: IngestResult, need: str | None, source: str) -> int:
    """Hot spot labels beside released counts on the release's geography for the need, for a fixed period."""
    from ehmap.areas import area_set
    from ehmap.hotspots import CSV_COLUMNS
    from ehmap.indicators import SourceMissing, child_population
    from ehmap.release.output import (
        ReleaseRefused,
        check_geography,
        period_key,
        release_of,
        released_columns,
        write_released,
    )
    from ehmap.release.tables import released_need_areas
    from ehmap.views.hotspots import released_hotspots

    kind = _geography_kind(args.geography)
    try:
        localities = area_set(args.geography, result.la_code, args.name_column) if kind == "custom" else None
        release = release_of(result, localities)
        check_geography(release, need, kind)
        period = period_key(release, args.period)
        try:
            population = child_population()
        except SourceMissing:
            population = None
        view = released_hotspots(release, result.cases, need, period, population, args.statistic,
                                 args.permutations, args.seed)
        _, counts = released_need_areas(release, need, period, population)
    except (ReleaseRefused, SourceMissing, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    released = counts.rename(columns={"episodes": "count"}).assign(label=view.table["label"].to_numpy())
    table = released_columns(list(CSV_COLUMNS), released)
    sidecar = write_released(table, args.out, view.method)
    _audit_release("hotspots", result, args.out, {"need": need or "all", "period": period,
                                                  "geography": release.geography[need or "all"], "source": source})
    print(view.method)
    print(f"Released: {len(table)} areas ({view.areas.title}), period {release.period(period).label}, "
          f"{len(view.hot)} significant hot spot(s) -> {args.out} (method: {sidecar.name})")
    return 0


def _audit_release(command: str, result: IngestResult, out: Path, detail: dict) -> None:
    """The audit entry for a release written by the CLI (its user is laptop mode's local user)."""
    from ehmap.access import laptop_user
    from ehmap.audit import record

    record("release", laptop_user(), None, {"command": command, "output": out.name, "council": result.la_code,
                                            **detail})


def infer_council(path: Path, mapping_path: Path | None = None) -> str:
    """The council most of an export's postcodes are in (for commands where --la is optional)."""
    from ehmap.exports import match_columns

    try:
        table = read_export(path.read_bytes(), path.name)
    except OSError as error:
        raise ExportError(f"{path} could not be opened ({error.strerror}).") from None
    mapping = load_mapping(mapping_path) if mapping_path else None
    match_columns(list(table.columns), mapping)  # names a missing column
    found = council_of_export(table, mapping, PostcodeDirectory.load())
    if found.la_code is None:
        raise ExportError(f"No postcode in {path} is in the ONS Postcode Directory: give the council with --la.")
    return found.la_code


def _performance_command(args: argparse.Namespace) -> int:
    from ehmap.performance import outcome_table, performance_csv

    result, source = episodes(args)
    la_code = result.la_code
    if args.release:
        return _released_performance(args, result, source)
    localities = None
    if args.by == "locality":
        from ehmap.areas import area_set

        localities = area_set("ward", la_code).area_names()
    try:
        table = outcome_table(result.cases, args.by, localities)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(performance_csv(table), args.out)
    for note in table.notes:
        print(note)
    print(f"{len(table.shown) - 1} groups by {args.by} from {result.accepted} episodes of {la_code} -> {args.out}")
    return 0


def _released_performance(args: argparse.Namespace, result: IngestResult, source: str) -> int:
    """The released outcome table per service or referral source, in the team table's columns, for a fixed period."""
    from ehmap.performance import GROUPINGS, outcome_table, performance_csv
    from ehmap.release.output import ReleaseRefused, period_key, release_of, released_columns, write_released
    from ehmap.release.tables import method_statement, released_groups
    from ehmap.views.performance import LOCALITY_TEAM_ONLY, RELEASED_GROUPINGS

    if args.by not in RELEASED_GROUPINGS:
        print(f"error: {LOCALITY_TEAM_ONLY} Use --by service or --by referral_source.", file=sys.stderr)
        return 2
    try:
        release = release_of(result)
        period = period_key(release, args.period)
    except ReleaseRefused as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    released = released_groups(release, args.by, period).rename(
        columns={"step_up_csc": "step_up", "step_up_csc_pct": "step_up_pct", "rereferred": "rereferral"})
    team_columns = list(performance_csv(outcome_table(result.cases.head(0), args.by)).columns)
    released = released.rename(columns={"group": GROUPINGS[args.by]})
    method = method_statement(release)
    sidecar = write_released(released_columns(team_columns, released), args.out, method)
    _audit_release("performance", result, args.out, {"by": args.by, "period": period, "source": source})
    print(method)
    print(f"Released: {len(released) - 1} groups by {args.by}, period {release.period(period).label} -> {args.out} "
          f"(method: {sidecar.name})")
    return 0


def _business_case_command(args: argparse.Namespace) -> int:
    from ehmap.business_case import business_case_csv, costs_avoided, money_short, read_deflators, read_unit_costs

    try:
        costs = read_unit_costs(args.costs)
        deflators = read_deflators(args.deflators) if args.deflators else None
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    result, source = episodes(args)
    la_code = result.la_code
    if args.release:
        return _released_business_case(args, result, costs, deflators, source)
    try:
        case = costs_avoided(result.cases, costs, deflators=deflators, year=args.year)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(business_case_csv(case), args.out)
    for note in case.notes:
        print(note)
    headline = case.headline()
    summary = (f"total about {money_short(headline.central)} (range {money_short(headline.low)} to "
               f"{money_short(headline.high)}) at {headline.year} prices"
               + "".join(f"; {caveat}" for caveat in headline.caveats()) if headline else "no cost line to add up")
    print(f"{len(case.lines)} cost lines from {result.accepted} episodes of {la_code}; {summary} -> {args.out}")
    return 0


def _released_business_case(args: argparse.Namespace, result: IngestResult, costs, deflators, source: str) -> int:
    """Costs likely avoided from the released council counts of a fixed period, money to the nearest £1,000."""
    from ehmap.business_case import business_case_csv
    from ehmap.release.output import ReleaseRefused, period_key, release_of, write_released
    from ehmap.views.business_case import released_business_case

    try:
        release = release_of(result)
        period = period_key(release, args.period)
        view = released_business_case(release, period, costs, deflators=deflators, year=args.year)
    except (ReleaseRefused, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if view.case is None:
        print(f"error: {view.finding}", file=sys.stderr)
        return 2
    method = " ".join([view.method or "", *view.notes])
    sidecar = write_released(business_case_csv(view.case), args.out, method)
    _audit_release("business-case", result, args.out, {"period": period, "source": source})
    print(method)
    print(f"Released: {len(view.case.lines)} cost lines, period {release.period(period).label}; {view.finding} "
          f"-> {args.out} (method: {sidecar.name})")
    return 0


def _coverage_command(args: argparse.Namespace) -> int:
    from ehmap.coverage import area_csv, check_coverage_arguments, coverage_for_files
    from ehmap.store.commands import saved_file

    try:
        if args.services is None and args.dataset is None:
            raise ValueError("--services is required with a case file (a saved dataset may have its own).")
        if args.services is not None:
            check_coverage_arguments(args.services, args.need, args.bands)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    result, source = episodes(args)
    try:
        with saved_file(args.dataset) if args.services is None else contextlib.nullcontext(args.services) as path:
            if path is None:
                raise ValueError(f"Dataset {args.dataset} has no services file saved: give one with --services.")
            release = period = None
            if args.release:
                from ehmap.release.output import period_key, release_of

                release = release_of(result)
                period = release.period(period_key(release, args.period))
            table, services = coverage_for_files(
                result, path, result.la_code, args.need, args.type, args.bands, args.poor_access, period
            )
            table = _coverage_wards(table, result.la_code, args.ward)
    except (LookupError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if release is not None:
        return _released_coverage(args, result, table, release, period.key, source)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(area_csv(table), args.out)
    if services.rejected:
        write_csv(services.rejects, args.out.with_name(f"{args.out.stem}_service_rejects.csv"))
    for note in [*table.notes, table.straight_line_note]:
        print(note)
    flagged = int(table.areas["flag"].sum())
    print(f"services: {services.rows_read} rows read, {services.accepted} accepted, {services.rejected} rejected; "
          f"{len(table.areas)} LSOAs, {flagged} flagged (below expected, poor access) -> {args.out}")
    return 0


def _report_command(args: argparse.Namespace) -> int:
    from ehmap.board_report import SECTIONS, ReportChoices, build_report, report_data
    from ehmap.business_case import read_deflators, read_unit_costs
    from ehmap.report import render_html, render_pdf
    from ehmap.views.need_map import team_small_area

    kinds = {".pdf": render_pdf, ".html": render_html, ".htm": render_html}
    unknown = [str(out) for out in args.out if out.suffix.lower() not in kinds]
    if unknown:
        print(f"error: --out must end in .pdf or .html; got {', '.join(unknown)}", file=sys.stderr)
        return 2
    result, source = episodes(args)
    la_code = result.la_code
    dates = result.cases["referral_date"]
    if args.release and (args.start or args.end):
        print("error: a released paper covers a financial year or all years: give --period, not --from/--to.",
              file=sys.stderr)
        return 2
    try:
        release = period = None
        if args.release:
            from ehmap.release.output import period_key, release_of

            release = release_of(result)
            period = period_key(release, args.period)
        choices = ReportChoices(
            start=args.start or dates.min().date(), end=args.end or dates.max().date(),
            audience=Audience.RELEASE if args.release else Audience.TEAM, period=period,
            sections=tuple(args.section or SECTIONS),
            needs=tuple(None if need == "all" else need for need in args.need or ["all"]),
            measure=args.measure, by=args.by,
            adjusted=not args.unadjusted, frequency=args.frequency, marking=args.marking,
            costs=read_unit_costs(args.costs) if args.costs else None,
            deflators=read_deflators(args.deflators) if args.deflators else None, price_year=args.year,
            cut=(args.cut_service, args.cut) if args.cut_service else None,
        )
        council = {c.code: c.name for c in councils()}[la_code]
        services_path = args.services
        if services_path is None and args.dataset is not None:
            from ehmap.store.commands import saved_file

            with saved_file(args.dataset) as saved:
                services = _services_for_report(saved, la_code) if saved else None
                services_path = saved
        else:
            services = _services_for_report(services_path, la_code) if services_path else None
        data = report_data(result, council, source, args.by, services,
                           services_path.name if services_path else "",
                           (args.hotspot_geography or team_small_area(result.cases))
                           if "hotspots" in choices.sections else None, release)
        report = build_report(data, choices)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for out in args.out:
        out.parent.mkdir(parents=True, exist_ok=True)
        rendered = kinds[out.suffix.lower()](report)
        out.write_bytes(rendered if isinstance(rendered, bytes) else rendered.encode("utf-8"))
        print(f"{report.title}: {len(report.sections)} sections -> {out}")
    if release is not None:
        from ehmap.release.tables import method_statement

        method = method_statement(release)
        for out in args.out:
            out.with_name(out.name + ".release.txt").write_text(method + "\n", encoding="utf-8")
            _audit_release("report", result, out, {"period": period, "source": source})
        print(method)
    else:
        print("Team paper: exact figures, marked on every page as not for sharing; add --release for a paper to "
              "share.")
    return 0


def _services_for_report(path: Path, la_code: str):
    """A services file read and placed for the report's coverage section (raises ValueError, ExportError)."""
    from ehmap.geography import council_lsoas
    from ehmap.services import ingest_services

    try:
        data = path.read_bytes()
    except OSError as error:
        raise ValueError(f"{path} could not be opened ({error.strerror}).") from None
    area = council_lsoas(la_code).union_all()
    services = ingest_services(read_export(data, path.name), la_code, PostcodeDirectory.load(), area)
    if services.accepted == 0:
        raise ValueError(f"No row of {path.name} could be used as a service ({services.rejected} rejected).")
    return services


def _iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date like 2024-04-01") from None


def _release_options(command: argparse.ArgumentParser) -> None:
    """--release (a table that can be shared, through the release gate) and its fixed --period."""
    command.add_argument("--release", action="store_true",
                         help="write the released table (counts rounded to 5, 1-7 as c, checked with every other "
                              "table of the release) and its method as FILE.release.txt; default: exact team figures")
    command.add_argument("--period", help="with --release: a financial year such as 2024-25, or all "
                                          "(default: the latest year)")


def _coverage_wards(table, la_code: str, ward: str | None):
    """Coverage with each LSOA's ward beside it, cut to `ward` when given; unchanged (with a note) when the council's
    wards are not known and no ward was asked for."""
    from ehmap.areas import ward_area_set
    from ehmap.coverage import in_ward, with_wards

    try:
        wards = ward_area_set(la_code).lsoa_table("ward")
    except FileNotFoundError as missing:
        if ward is not None:
            raise ValueError(f"--ward needs the council's wards: {missing}") from None
        print(f"note: no ward columns: {missing}", file=sys.stderr)
        return table
    table = with_wards(table, wards)
    return in_ward(table, ward) if ward is not None else table


def _released_coverage(args: argparse.Namespace, result: IngestResult, table, release, period: str,
                       source: str) -> int:
    """The coverage table with only what a release may show: public facts, flags, released LSOA counts."""
    from ehmap.coverage import area_csv
    from ehmap.release.output import released_columns, write_released
    from ehmap.release.tables import method_statement
    from ehmap.views.coverage import RELEASED_NOTE, public_facts

    need = None if args.need == "all" else args.need
    released = public_facts(table.areas)
    if release.geography[need or "all"] == "lsoa11":
        released["observed"] = [release.text(("episodes", need or "all", "lsoa11", code, period))
                                for code in released["lsoa11cd"]]
    columns = list(area_csv(table).columns)
    method = method_statement(release, need) + " " + RELEASED_NOTE
    sidecar = write_released(released_columns(columns, released), args.out, method)
    _audit_release("coverage", result, args.out, {"need": need or "all", "period": period, "source": source})
    print(method)
    print(f"Released: {len(released)} LSOAs, period {release.period(period).label}, "
          f"{int(released['flag'].sum())} flagged (below expected, poor access) -> {args.out} (method: {sidecar.name})")
    return 0


def _progress(name: str) -> Callable[[int, int | None], None]:
    """Print a download's progress to stderr, at most once per tenth (or per 10 MB when the size is unknown)."""
    shown = [-1]

    def report(received: int, total: int | None) -> None:
        step = received * 10 // total if total else received // 10_000_000
        if step != shown[0]:
            shown[0] = step
            size = f"{received / 1e6:,.1f} of {total / 1e6:,.1f} MB" if total else f"{received / 1e6:,.1f} MB"
            print(f"  {name}: {size}", file=sys.stderr, flush=True)
    return report


def _reference_fetch_command(args: argparse.Namespace) -> int:
    """Download reference files from their publishers (or a mirror) into the sources cache, checked and audited."""
    from ehmap.audit import record
    from ehmap.download import fetch_address, fetch_reference, reference_files
    from ehmap.store.commands import cli_user

    try:
        sources = reference_files(args.source)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    user = cli_user()

    def progress(source):
        print(f"{source.id}: {source.file} from {fetch_address(source, args.mirror)}", file=sys.stderr)
        return _progress(source.published_name)

    def approve(source):
        return lambda fetched: record("reference_change", user, None, {
            "source": source.id, "file": source.file, "sha256": fetched.sha256, "how": "download"})

    outcomes = fetch_reference(sources, args.mirror, progress, approve)
    for outcome in outcomes:
        if outcome.fetched is None:
            print(f"{outcome.source.id}: not fetched: {outcome.problem}")
        else:
            print(f"{outcome.source.id}: {outcome.source.file} saved ({outcome.fetched.size:,} bytes, "
                  f"SHA-256 {outcome.fetched.sha256[:12]})")
    saved = sum(outcome.fetched is not None for outcome in outcomes)
    print(f"{saved} of {len(outcomes)} reference file(s) fetched; pages use them from now on "
          "(a file in the data folder, EHMAP_DATA_DIR, still comes first).")
    return 0 if saved == len(outcomes) else 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ehmap", description="Early Help needs mapped onto LSOAs.")
    commands = parser.add_subparsers(dest="command", required=True)
    ingest_parser = commands.add_parser("ingest", help="validate and geocode a case export")
    ingest_parser.add_argument("file", type=Path, help="case export (CSV or XLSX)")
    ingest_parser.add_argument("--la", required=True, help="council LAD code, e.g. E09000008 (Croydon)")
    ingest_parser.add_argument("--out", required=True, type=Path,
                               help="folder for cases and rejects (.csv or .parquet) and summary.json")
    ingest_parser.add_argument("--format", default="csv", choices=["csv", "parquet"],
                               help="cases and rejects as formula-safe CSV (default) or Parquet")
    ingest_parser.add_argument("--mapping", type=Path, help="YAML/JSON file: field -> header in this export")
    ingest_parser.set_defaults(run=_ingest_command)
    context_parser = commands.add_parser("context", help="write a council's LSOAs with deprivation and child population")
    context_parser.add_argument("--la", required=True, help="council LAD code, e.g. E06000060 (Buckinghamshire)")
    context_parser.add_argument("--indicator", required=True, action="append",
                                help="indicator source id from indicators/, e.g. iod2019 or iod2025 (repeatable)")
    context_parser.add_argument("--out", required=True, type=Path, help="CSV file to write")
    context_parser.set_defaults(run=_context_command)
    hot = commands.add_parser("hotspots", help="Gi* or local Moran hot spots per area, with FDR control, as CSV")
    hot.add_argument("cases", type=Path, nargs="?", help="case export (any file `ingest` accepts); or --dataset")
    hot.add_argument("--dataset", type=int, help="a saved dataset's id (see `datasets list`) instead of a file")
    hot.add_argument("--la", help="council LAD code (default: the council most postcodes are in, or the dataset's)")
    hot.add_argument("--need", default="all", help="need key (e.g. domestic_abuse) or 'all'")
    hot.add_argument("--geography", help="lsoa21 (the default, when the episodes were placed on LSOA 2021), lsoa11, ward, "
                     "or a locality file (.geojson, .gpkg, zipped Shapefile); with --release, the geography the release "
                     "shows the need on")
    hot.add_argument("--name-column", help="column naming the localities in a locality file (default: the first with 'name')")
    hot.add_argument("--measure", default="smoothed_rate", choices=["count", "rate", "smoothed_rate"])
    hot.add_argument("--statistic", default="gi_star", choices=list(HOTSPOT_STATISTICS),
                     help="local_moran_rate (Assunção-Reis rates) needs the child population")
    hot.add_argument("--smoothing", default="global", choices=["global", "local"], help="empirical Bayes towards the council or the neighbours")
    hot.add_argument("--weights", default="queen", choices=["queen", "knn", "distance_band"])
    hot.add_argument("--k", type=int, default=6, help="neighbours for --weights knn")
    hot.add_argument("--threshold", type=float, help="metres for --weights distance_band")
    hot.add_argument("--permutations", type=int, default=HOTSPOT_PERMUTATIONS,
                     help="random reshuffles; the smallest p is 1/(permutations+1)")
    hot.add_argument("--seed", type=int, default=12345)
    hot.add_argument("--mapping", type=Path, help="YAML/JSON file: field -> header in this export")
    hot.add_argument("--out", required=True, type=Path, help="CSV file to write")
    _release_options(hot)
    hot.set_defaults(run=_hotspots_command)
    cov = commands.add_parser(
        "coverage", help="access to services, expected vs observed episodes and gap flags per LSOA, as CSV"
    )
    cov.add_argument("cases", type=Path, nargs="?", help="case export (any file `ingest` accepts); or --dataset")
    cov.add_argument("--dataset", type=int, help="a saved dataset's id (see `datasets list`) instead of a file")
    cov.add_argument("--services", type=Path, help="services file (CSV or XLSX); with --dataset, default: its own")
    cov.add_argument("--la", help="council LAD code (default: the council most postcodes are in, or the dataset's)")
    cov.add_argument("--need", default="all", help="need key (e.g. domestic_abuse) or 'all'")
    cov.add_argument("--type", action="append", help="count only services of this type (repeatable), e.g. family_hub")
    cov.add_argument("--bands", default="1,1.5,2", help="distance bands in miles, comma-separated (default 1,1.5,2)")
    cov.add_argument("--poor-access", type=float, help="miles beyond which access is poor (default: the first band)")
    cov.add_argument("--mapping", type=Path, help="YAML/JSON file: field -> header in the case export")
    cov.add_argument("--ward", help="only the LSOAs of this electoral ward (its code, e.g. E05011462; ONS LSOA to "
                     "ward best fit); every row names its ward either way")
    cov.add_argument("--out", required=True, type=Path, help="CSV file to write")
    _release_options(cov)
    cov.set_defaults(run=_coverage_command)
    perf = commands.add_parser("performance", help="outcome measures per service (or referral source, locality) as CSV")
    perf.add_argument("cases", type=Path, nargs="?", help="case export (any file `ingest` accepts); or --dataset")
    perf.add_argument("--dataset", type=int, help="a saved dataset's id (see `datasets list`) instead of a file")
    perf.add_argument("--by", default="service", choices=["service", "referral_source", "locality"],
                      help="grouping; locality = electoral ward (ONS LSOA->ward best fit)")
    perf.add_argument("--la", help="council LAD code (default: the council most postcodes are in)")
    perf.add_argument("--mapping", type=Path, help="YAML/JSON file: field -> header in this export")
    perf.add_argument("--out", required=True, type=Path, help="CSV file to write")
    _release_options(perf)
    perf.set_defaults(run=_performance_command)
    case = commands.add_parser("business-case", help="costs likely avoided per cost line (low/central/high) as CSV")
    case.add_argument("cases", type=Path, nargs="?", help="case export (any file `ingest` accepts); or --dataset")
    case.add_argument("--dataset", type=int, help="a saved dataset's id (see `datasets list`) instead of a file")
    case.add_argument("--costs", type=Path, help="unit costs CSV: code,item,value,unit,price_year,source "
                      "(default: the shipped GMCA Unit Cost Database v1.4 rows)")
    case.add_argument("--deflators", type=Path, help="deflator series CSV: year,index (none shipped; without it "
                      "each cost stays in its own price year)")
    case.add_argument("--year", help="price year to uprate to, e.g. 2024/25 (default: the series' latest)")
    case.add_argument("--la", help="council LAD code (default: the council most postcodes are in)")
    case.add_argument("--mapping", type=Path, help="YAML/JSON file: field -> header in this export")
    case.add_argument("--out", required=True, type=Path, help="CSV file to write")
    _release_options(case)
    case.set_defaults(run=_business_case_command)
    paper = commands.add_parser("report", help="the board paper (PDF and/or HTML): need map, services, trends, "
                                "business case, sources; no count under 6")
    paper.add_argument("cases", type=Path, nargs="?", help="case export (any file `ingest` accepts); or --dataset")
    paper.add_argument("--dataset", type=int, help="a saved dataset's id (see `datasets list`) instead of a file")
    paper.add_argument("--out", required=True, type=Path, action="append",
                       help="file to write, .pdf or .html (repeat for both)")
    paper.add_argument("--la", help="council LAD code (default: the council most postcodes are in)")
    _release_options(paper)
    paper.add_argument("--from", dest="start", type=_iso_date,
                       help="first referral date, e.g. 2024-04-01 (default: the earliest)")
    paper.add_argument("--to", dest="end", type=_iso_date, help="last referral date (default: the latest)")
    paper.add_argument("--services", type=Path, help="services file (CSV or XLSX) for the coverage section")
    paper.add_argument("--section", action="append",
                       choices=["need_map", "hotspots", "coverage", "performance", "trends", "business_case"],
                       help="a section to include (repeatable; default: all)")
    paper.add_argument("--need", action="append", help="a need map: need key (e.g. domestic_abuse) or 'all' "
                       "(repeatable; default: all)")
    paper.add_argument("--measure", default="step_up", choices=["step_up", "needs_met", "disengaged", "rereferral"])
    paper.add_argument("--by", default="service", choices=["service", "referral_source", "locality"])
    paper.add_argument("--unadjusted", action="store_true", help="compare raw shares, without case-mix adjustment")
    paper.add_argument("--frequency", default="quarter", choices=["month", "quarter"])
    paper.add_argument("--hotspot-geography", choices=["lsoa21", "lsoa11", "ward"],
                       help="areas the team's hot spots are tested on (default: LSOA 2021 when the episodes were "
                            "placed on it, else LSOA 2011)")
    paper.add_argument("--marking", default="OFFICIAL", help="protective marking printed on every page")
    paper.add_argument("--costs", type=Path, help="unit costs CSV (default: the shipped GMCA v1.4 rows)")
    paper.add_argument("--deflators", type=Path, help="deflator series CSV: year,index")
    paper.add_argument("--year", help="price year to uprate to, e.g. 2024/25")
    paper.add_argument("--cut-service", help="a service whose cut the business case costs (with --cut)")
    paper.add_argument("--cut", type=float, default=100_000, help="the cut, £ a year (default 100000)")
    paper.add_argument("--mapping", type=Path, help="YAML/JSON file: field -> header in this export")
    paper.set_defaults(run=_report_command)
    from ehmap.store.commands import add_datasets_command

    add_datasets_command(commands)
    from ehmap.launch import app_command  # `app` passes its options through to Streamlit, so it parses none itself

    reference = commands.add_parser("reference", help="official reference files: fetch them from their publishers")
    actions = reference.add_subparsers(dest="action", required=True)
    fetch = actions.add_parser("fetch", help="download reference files (default: all) into ehmap's cache, checked")
    fetch.add_argument("source", nargs="*", help="indicator source ids from indicators/ (e.g. iod2019); default all")
    fetch.add_argument("--mirror", help="fetch each file by its published name from this address (e.g. a council's "
                       "own mirror of the national files) instead of the publisher's URL; default "
                       "EHMAP_REFERENCE_MIRROR")
    fetch.set_defaults(run=_reference_fetch_command)
    app = commands.add_parser("app", prefix_chars="+", add_help=False,
                              help="start the app (without sign-in, on this machine only); options go to Streamlit")
    app.add_argument("options", nargs=argparse.REMAINDER, help="streamlit run options, e.g. --server.port 8600")
    app.set_defaults(run=app_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ExportError, StoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
