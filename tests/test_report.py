"""The board report (issue 6, item 5): the demo's paper as PDF and HTML, and no count from 1 to 5 in it."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import subprocess
import sys

import pandas as pd
import pytest
from pypdf import PdfReader

from ehmap.board_report import SECTIONS, ReportChoices, build_report, report_data
from ehmap.disclosure import count_text
from ehmap.report import DisclosureError, Figure, Paragraph, Report, Section, Table, render_html, render_pdf
from tests.conftest import CROYDON, REPO

START, END = dt.date(2022, 4, 1), dt.date(2025, 3, 31)  # the demo's whole referral period
PRODUCED = dt.date(2026, 11, 25)


@pytest.fixture(scope="module")
def demo(directory, council_names, data_dir):
    from ehmap.config import pseudonymisation_key
    from ehmap.demo import load_demo

    return load_demo(directory, council_names, pseudonymisation_key())


@pytest.fixture(scope="module")
def demo_services(directory):
    from ehmap.exports import read_export
    from ehmap.geography import council_lsoas
    from ehmap.services import ingest_services

    path = REPO / "demo" / "croydon_services.csv"
    return ingest_services(read_export(path.read_bytes(), path.name), CROYDON, directory,
                           council_lsoas(CROYDON).union_all())


@pytest.fixture(scope="module")
def paper(demo, demo_services, council_names):
    """The demo's paper with every section, for all needs and domestic abuse, rendered both ways."""
    from ehmap.demo import DEMO_LABEL

    data = report_data(demo, council_names[CROYDON], DEMO_LABEL, services=demo_services,
                       services_label="croydon_services.csv")
    choices = ReportChoices(START, END, needs=(None, "domestic_abuse"), cut=("Parenting Programme", 250_000.0))
    report = build_report(data, choices, produced=PRODUCED)
    return report, render_pdf(report), render_html(report)


def pdf_text(pdf: bytes) -> str:
    """The PDF's words, one space apart."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())


def is_subsequence(needle: list[str], haystack: list[str]) -> bool:
    remaining = iter(haystack)
    return all(any(word == token for token in remaining) for word in needle)


# ------------------------------------------------------------------------------------------ the model


@pytest.mark.parametrize(("count", "shown"), [(0, "0"), (1, "c"), (5, "c"), (6, "6"), (12_345, "12,345")])
def test_count_text_hides_1_to_5(count, shown):
    assert count_text(count) == shown


def small_table_report(cell: str, column: str = "Episodes") -> Report:
    table = Table(("Service", "Episodes", "Median days"), (("Parenting", cell, "3"),), count_columns=(column,))
    return Report("Paper", "Test", "OFFICIAL", PRODUCED, (Section("Services", (Paragraph("Text."), table)),))


@pytest.mark.parametrize("cell", ["1", "5", " 3 "])
def test_a_count_under_6_is_never_rendered(cell):
    report = small_table_report(cell)
    assert report.small_counts() == [f"Services: 'Episodes' is {cell.strip()} in the row starting 'Parenting'"]
    with pytest.raises(DisclosureError, match="would show a count under 6: Services: 'Episodes' is"):
        render_pdf(report)
    with pytest.raises(DisclosureError):
        render_html(report)


@pytest.mark.parametrize("cell", ["c", "0", "6", "1,234", ""])
def test_safe_counts_and_other_small_numbers_render(cell):
    report = small_table_report(cell)  # "Median days" is 3, but it is not a count of families
    assert report.small_counts() == []
    assert render_pdf(report).startswith(b"%PDF-")
    assert "<td" in render_html(report)


def test_tables_are_checked_when_made():
    with pytest.raises(ValueError, match=r"Count columns \['Families'\] are not columns"):
        Table(("Service", "Episodes"), (), count_columns=("Families",))
    with pytest.raises(ValueError, match="A row has 1 cells for 2 columns"):
        Table(("Service", "Episodes"), (("Parenting",),))


def test_choices_are_checked_with_the_valid_values():
    with pytest.raises(ValueError, match=r"Unknown report section\(s\) \['maps'\]; choose from \['need_map'"):
        ReportChoices(START, END, sections=("maps",))
    with pytest.raises(ValueError, match="The period starts .* after it ends"):
        ReportChoices(END, START)
    with pytest.raises(ValueError, match="Unknown need in \\['poverty'\\]"):
        ReportChoices(START, END, needs=("poverty",))
    with pytest.raises(ValueError, match="Unknown grouping 'team'"):
        ReportChoices(START, END, by="team")


# ------------------------------------------------------------------------------------------ the demo's paper


def test_demo_paper_renders_to_pdf_with_every_part(paper):
    report, pdf, _ = paper
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    pages = [page.extract_text() for page in reader.pages]
    assert len(pages) >= 6
    for number, text in enumerate(pages, start=1):  # the marking and the page number on every page
        assert "OFFICIAL" in text and f"page {number} of {len(pages)}" in text
    text = " ".join(" ".join(pages).split())  # words wrapped in table cells joined again
    for title in ["Summary", "Where needs are: all needs", "Where needs are: Safe from domestic abuse",
                  "Hot spots: all needs", "Hot spots: Safe from domestic abuse",
                  "Service coverage: all needs", "Service coverage: Safe from domestic abuse",
                  *list(SECTIONS.values())[3:], "Data sources, licences and methods"]:
        assert title in text, title
    assert "Early Help in Croydon: needs, reach and what works" in text
    assert "Referrals 1 April 2022 to 31 March 2025. Produced on 25 November 2026" in text
    for must in ["Open Government Licence", "Contains OS data ©", "Royal Mail data ©", "shown as 'c'",
                 "No count from 1 to 5 appears in this paper", "GMCA Unit Cost Database v1.4", "[assumption]",
                 "Low and high are the least and greatest result", "National reference figures", "[unverified]",
                 "IDACI quintile", "ONS Postcode Directory", "Population estimates, mid-2020",
                 "English Indices of Deprivation 2019", "Services file croydon_services.csv",
                 "Outreach list: the first 10 LSOAs", "Distances are straight-line",
                 "What would a cut cost elsewhere? A cut of £250,000 a year to Parenting Programme (185 episodes",
                 "What a cut of £250,000 to Parenting Programme would likely cost elsewhere", "SS18.10",
                 "Key points", "All needs: the highest smoothed rates are in Croydon 015D",
                 "All needs: no significant hot spot after correcting for multiple testing",
                 "Areas for hot spots: LSOA (2011)",
                 "LSOA(s) flagged for outreach (fewer episodes than expected and no service within 1 mile)",
                 "Step-up rate to children's social care higher than expected for its case mix: Family Support "
                 "Central", "Costs likely avoided are given per cost line, each in its own price year"]:
        assert must in text, must
    images = sum(len(page.images) for page in reader.pages)
    figures = sum(isinstance(b, Figure) for s in report.sections for b in s.blocks)
    assert images == figures == 8  # 2 need maps, 2 hot spot maps, 2 coverage maps, funnel, trend


def test_demo_paper_has_no_count_under_6(paper, demo):
    report, pdf, _ = paper
    assert report.small_counts() == []
    cells = [cell for _, table in report.tables() for _, _, cell in table.count_cells()]
    assert "c" in cells and len(cells) > 80  # suppression was exercised, over many counts
    words = pdf_text(pdf).split()
    for title, table in report.tables():  # what the PDF shows is what was checked, cell by cell in order
        expected = [word for row in table.rows for cell in row for word in cell.split()]
        assert is_subsequence(expected, words), f"{title}: {table.caption or table.columns}"


def test_suppressed_cells_are_the_small_counts_of_the_raw_data(paper, demo):
    """Counted again from the episodes with plain pandas: every service's step-ups of 1 to 5 are 'c'."""
    report, _, _ = paper
    cases = demo.cases[(demo.cases["referral_date"] >= pd.Timestamp(START))
                       & (demo.cases["referral_date"] <= pd.Timestamp(END))]
    closed = cases[cases["end_date"].notna()]
    step_ups = closed[closed["outcome"].astype(object) == "step_up_csc"].groupby("service").size()
    step_ups = step_ups.reindex(cases["service"].dropna().unique(), fill_value=0)
    table = next(t for title, t in report.tables() if t.caption == "Outcome measures by service (team)")
    shown = {row[0]: row[table.columns.index("Stepped up")] for row in table.rows}
    small = step_ups[(step_ups >= 1) & (step_ups <= 5)]
    assert len(small) >= 1  # the demo has a service with a handful of step-ups
    for service in small.index:
        assert shown[service] == "c", service
    for service, count in step_ups[step_ups >= 6].items():
        assert shown[service] in ("c", f"{count:,}")  # shown exactly, or hidden as a secondary cell
    assert shown["All"] == f"{int(step_ups.sum()):,}"


def test_need_map_table_counts_are_the_raw_counts(paper, demo):
    report, _, _ = paper
    title, table = next((t, tab) for t, tab in report.tables() if t == "Where needs are: all needs")
    period = demo.cases[(demo.cases["referral_date"] >= pd.Timestamp(START))
                        & (demo.cases["referral_date"] <= pd.Timestamp(END))]
    counts = period["lsoa11cd"].astype(object).value_counts()
    assert len(table.rows) == 10
    smoothed = [float(row[table.columns.index("Smoothed rate")]) for row in table.rows]
    assert smoothed == sorted(smoothed, reverse=True)
    for row in table.rows:
        assert int(row[table.columns.index("Episodes")].replace(",", "")) == counts[row[1]] >= 6


def test_outreach_counts_are_the_raw_counts_or_hidden(paper, demo):
    report, _, _ = paper
    title, table = next((t, tab) for t, tab in report.tables() if t == "Service coverage: Safe from domestic abuse")
    from ehmap.taxonomy import NEED_BITS

    period = demo.cases[(demo.cases["referral_date"] >= pd.Timestamp(START))
                        & (demo.cases["referral_date"] <= pd.Timestamp(END))]
    abuse = period[(period["needs_mask"].astype("int64") & NEED_BITS["domestic_abuse"]) != 0]
    counts = abuse["lsoa11cd"].astype(object).value_counts()
    assert len(table.rows) == 10
    for row in table.rows:
        raw = int(counts.get(row[1], 0))
        shown = row[table.columns.index("Observed")]
        assert shown == ("c" if 1 <= raw <= 5 else shown) and (shown == "c" or int(shown) == raw), (row, raw)


def test_need_map_reveals_nothing_about_a_hidden_count(demo, council_names):
    """The smoothed-rate map and its table are the same whatever a hidden LSOA's count (1-5) is."""
    from dataclasses import replace

    from ehmap.demo import DEMO_LABEL
    from ehmap.needmap import CaseFilter
    from tests.test_hotspots import one_fewer_in_a_hidden_area

    year = ReportChoices(dt.date(2024, 4, 1), END, sections=("need_map",), needs=("substance_use",))
    data = report_data(demo, council_names[CROYDON], DEMO_LABEL)
    fewer = one_fewer_in_a_hidden_area(data.cases, CaseFilter("substance_use", year.start, year.end),
                                       pd.Index(data.lsoas["lsoa11cd"]))
    sections = [build_report(d, year, PRODUCED).sections[1] for d in (data, replace(data, cases=fewer))]
    figures = [[b.png for b in section.blocks if isinstance(b, Figure)] for section in sections]
    tables = [[b for b in section.blocks if isinstance(b, Table)] for section in sections]
    assert figures[0] == figures[1] and tables[0] == tables[1]


def test_html_is_one_self_contained_file(paper):
    report, _, page = paper
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page.lower()
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert page.count("<img ") == 8 and page.count("<table>") == len(report.tables())
    assert page.count('<p class="marking">OFFICIAL</p>') == 2
    assert "Contains OS data ©" in page and "shown as &#x27;c&#x27;" in page


def test_html_paper_prints_in_chromium(paper, page):
    """The HTML opened in Debian's Chromium: every figure decodes, and it prints to A4 PDF pages."""
    _, _, html = paper
    page.set_content(html, wait_until="load")
    widths = page.eval_on_selector_all("img", "images => images.map(i => i.naturalWidth)")
    assert len(widths) == 8 and min(widths) > 1000
    assert page.locator("h2").all_inner_texts()[0] == "Summary"
    printed = page.pdf(format="A4")
    assert len(PdfReader(io.BytesIO(printed)).pages) >= 6
    assert page.off_machine == []


def test_sections_can_be_left_out(demo, council_names):
    from ehmap.demo import DEMO_LABEL

    data = report_data(demo, council_names[CROYDON], DEMO_LABEL)
    report = build_report(data, ReportChoices(START, END, sections=("trends",), frequency="month"), PRODUCED)
    assert [s.title for s in report.sections] == ["Summary", "Trends", "Data sources, licences and methods"]
    months = next(t for _, t in report.tables() if t.columns[0] == "Month")
    assert len(months.rows) == 36 and months.rows[0][0] == "2022-04"
    assert report.small_counts() == []


def test_a_short_period_hides_more_and_still_renders(demo, council_names):
    """One month of referrals: small counts everywhere, council totals included, and still no count 1-5."""
    from ehmap.demo import DEMO_LABEL

    data = report_data(demo, council_names[CROYDON], DEMO_LABEL, by="locality")
    report = build_report(data, ReportChoices(dt.date(2024, 6, 1), dt.date(2024, 6, 30), by="locality",
                                              needs=("substance_use",)), PRODUCED)
    assert report.small_counts() == []
    cells = [cell for _, table in report.tables() for _, _, cell in table.count_cells()]
    assert cells.count("c") > 20
    assert render_pdf(report).startswith(b"%PDF-")


def test_an_export_with_only_the_required_columns_still_makes_a_paper(tmp_path):
    """Case ID, postcode, referral date and needs only: no outcomes, so no comparison and no business case."""
    full = pd.read_csv(REPO / "demo" / "croydon_cases.csv")
    minimal = tmp_path / "minimal.csv"
    full[["Case ID", "Home Postcode", "Referral Date", "Presenting Needs"]].to_csv(minimal, index=False)
    pdf = tmp_path / "paper.pdf"
    run = subprocess.run([sys.executable, "-m", "ehmap", "report", str(minimal), "--out", str(pdf)], cwd=REPO,
                         env=os.environ.copy(), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    text = pdf_text(pdf.read_bytes())
    assert "Families (pseudonymised family IDs) not in the export" in text
    assert "No funnel plot: No step-up rate to children's social care can be compared" in text
    assert "No business case: no episode referred in the period has closed with an outcome recorded" in text


def test_hot_spots_section_lists_significant_areas(demo, council_names):
    """The demo has no hot spot that survives FDR; with a planted cluster (five times the episodes in an LSOA
    and its neighbours) the section maps it and lists the areas, with their counts under the rule."""
    from dataclasses import replace

    from ehmap.demo import DEMO_LABEL
    from ehmap.hotspots import spatial_weights

    data = report_data(demo, council_names[CROYDON], DEMO_LABEL)
    areas = data.hotspot_areas.areas
    w = spatial_weights(areas)
    centre = areas["code"].iloc[100]
    cluster = {centre, *(areas["code"].iloc[j] for j in w.neighbors[w.id_order[100]])}
    cases = data.cases
    extra = cases[cases["lsoa11cd"].astype(str).isin(cluster)]
    planted = pd.concat([cases, *[extra.assign(case_id=extra["case_id"].astype(str) + f"-{k}") for k in range(4)]],
                        ignore_index=True)
    report = build_report(replace(data, cases=planted), ReportChoices(START, END, sections=("hotspots",)), PRODUCED)
    section = report.sections[1]
    assert section.title == "Hot spots: all needs"
    table = next(b for b in section.blocks if isinstance(b, Table))
    assert table.caption.startswith("Significant hot spots (")
    assert {row[1] for row in table.rows} & cluster
    assert all(row[-1].startswith("hot spot (") for row in table.rows)
    assert "significant hot spot(s) after correcting for multiple testing, led by" in section.highlights[0]
    assert report.small_counts() == []
    assert render_pdf(report).startswith(b"%PDF-")


def test_an_empty_period_is_refused(demo, council_names):
    from ehmap.demo import DEMO_LABEL

    data = report_data(demo, council_names[CROYDON], DEMO_LABEL)
    with pytest.raises(ValueError, match="No episode was referred between 2030-01-01 and 2030-12-31"):
        build_report(data, ReportChoices(dt.date(2030, 1, 1), dt.date(2030, 12, 31)))
    with pytest.raises(ValueError, match="Comparing by locality needs each LSOA's locality"):
        build_report(data, ReportChoices(START, END, by="locality"))


# ------------------------------------------------------------------------------------------ CLI


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ehmap", "report", "demo/croydon_cases.csv", *args], cwd=REPO,
                          env=os.environ.copy(), capture_output=True, text=True, timeout=300)


def test_report_cli_writes_pdf_and_html(tmp_path):
    pdf, html = tmp_path / "paper.pdf", tmp_path / "out" / "paper.html"
    run = run_cli("--out", str(pdf), "--out", str(html), "--from", "2024-04-01", "--need", "domestic_abuse",
                  "--by", "referral_source", "--measure", "needs_met", "--marking", "OFFICIAL-SENSITIVE",
                  "--services", "demo/croydon_services.csv")
    assert run.returncode == 0, run.stderr
    assert f"-> {pdf}" in run.stdout and f"-> {html}" in run.stdout
    text = pdf_text(pdf.read_bytes())
    assert "Referrals 1 April 2024 to 31 March 2025" in text and "OFFICIAL-SENSITIVE" in text
    assert "Where needs are: Safe from domestic abuse" in text and "Outcome measures by referral source" in text
    assert "Share closed with needs met by referral source" in text
    assert "Service coverage: Safe from domestic abuse" in text and "from croydon_services.csv" in text
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "paper.docx"], "error: --out must end in .pdf or .html; got paper.docx"),
        (["--out", "x.pdf", "--from", "1/4/2024"], "'1/4/2024' is not a date like 2024-04-01"),
        (["--out", "x.pdf", "--from", "2030-01-01", "--to", "2030-02-01"], "error: No episode was referred between"),
        (["--out", "x.pdf", "--need", "poverty"], "error: Unknown need in ['poverty']"),
        (["--out", "x.pdf", "--services", "nowhere.csv"], "nowhere.csv could not be opened (No such file or directory)"),
        (["--out", "x.pdf", "--cut-service", "Choir"], "error: 'Choir' is not a service in the data; choose one of"),
    ],
)
def test_report_cli_errors_in_one_line(tmp_path, args, message):
    args = [str(tmp_path / a) if a.endswith((".pdf", ".docx")) else a for a in args]
    run = run_cli(*args)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert message.replace("paper.docx", str(tmp_path / "paper.docx")) in run.stderr
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------------------------------ the page


def test_without_services_the_coverage_section_says_what_it_needs(demo, council_names):
    from ehmap.demo import DEMO_LABEL

    data = report_data(demo, council_names[CROYDON], DEMO_LABEL)
    report = build_report(data, ReportChoices(START, END, sections=("coverage",)), PRODUCED)
    section = report.sections[1]
    assert section.title == "Service coverage: all needs"
    assert section.blocks == (Paragraph("Not shown: coverage needs a services file (upload one on Service coverage, "
                                        "or give --services)."),)


def test_report_page_on_the_demo(directory, data_dir):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()
    at.switch_page("pages/report.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.title[0].value == "Board report: Croydon"
    assert [b.label for b in at.get("download_button")] == ["Download the paper (PDF)", "Download the paper (HTML)"]
    assert "shipped with ehmap" in " ".join(c.value for c in at.caption)
    at.checkbox(key="report_performance").uncheck().run()
    assert at.selectbox(key="report_measure").disabled
    at.toggle(key="report_preview").set_value(True).run()
    assert not at.exception and not at.error, [e.value for e in at.error]

    at.switch_page("pages/business_case.py").run()  # its edits (and its cut) are handed to the report
    at.switch_page("pages/report.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert "as you edited them on the *Business case* page, and what a cut of £100,000 to" in " ".join(
        c.value for c in at.caption)


def test_report_page_downloads_the_paper_in_chromium(app_url, page, tmp_path):
    """The real app in Debian's Chromium: one click on each button downloads the demo's paper."""
    from browser_support import ARTIFACTS, screenshot_on_failure

    with screenshot_on_failure(page, "report_page"):
        page.goto(app_url, wait_until="domcontentloaded")
        page.get_by_role("link", name="Board report", exact=True).click()
        page.get_by_text("Board report: Croydon").wait_for(timeout=90_000)
        button = page.get_by_role("button", name="Download the paper (PDF)")
        button.wait_for(timeout=60_000)
        with page.expect_download(timeout=120_000) as download:
            button.click()
        pdf = tmp_path / download.value.suggested_filename
        download.value.save_as(pdf)
        assert pdf.name == "ehmap_E09000008_board_report_20220401_20250331.pdf"
        text = pdf_text(pdf.read_bytes())
        assert "Early Help in Croydon: needs, reach and what works" in text and "Business case" in text
        with page.expect_download(timeout=120_000) as download:
            page.get_by_role("button", name="Download the paper (HTML)").click()
        html = tmp_path / download.value.suggested_filename
        download.value.save_as(html)
        assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
        page.screenshot(path=str(ARTIFACTS / "report_page.png"))
        assert page.off_machine == [], f"the page tried to reach other hosts: {page.off_machine[:5]}"
