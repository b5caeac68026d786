"""The board report: a released paper (every count the release's), a team paper (exact, marked not for sharing),
as PDF and HTML, from the CLI and the page."""

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

from ehmap.audience import Audience
from ehmap.board_report import SECTIONS, TEAM_PAPER, ReportChoices, build_report, report_data
from ehmap.release.protect import RULE
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
def release(demo):
    from ehmap.release.output import release_of

    return release_of(demo)


@pytest.fixture(scope="module")
def data(demo, demo_services, council_names, release):
    from ehmap.demo import DEMO_LABEL

    return report_data(demo, council_names[CROYDON], DEMO_LABEL, services=demo_services,
                       services_label="croydon_services.csv", release=release)


@pytest.fixture(scope="module")
def paper(data):
    """The demo's released paper for all years, every section, all needs and domestic abuse, rendered both ways."""
    choices = ReportChoices(period="all", needs=(None, "domestic_abuse"), cut=("Parenting Programme", 250_000.0))
    report = build_report(data, choices, produced=PRODUCED)
    return report, render_pdf(report), render_html(report)


def pdf_text(pdf: bytes) -> str:
    """The PDF's words, one space apart."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())


def is_subsequence(needle: list[str], haystack: list[str]) -> bool:
    remaining = iter(haystack)
    return all(any(word == token for token in remaining) for word in needle)


def released_cell(cell: str) -> bool:
    """What a released paper may show for a count: blank, c, 0, or a multiple of 5 from 10 up."""
    text = cell.strip().replace(",", "")
    return text in ("", "c", "0") or (text.isdigit() and int(text) % 5 == 0 and int(text) >= 10)


# ------------------------------------------------------------------------------------------ the model


def small_table_report(cell: str, released: bool = True) -> Report:
    table = Table(("Service", "Episodes", "Median days"), (("Parenting", cell, "3"),), count_columns=("Episodes",))
    return Report("Paper", "Test", "OFFICIAL", PRODUCED, (Section("Services", (Paragraph("Text."), table)),),
                  released=released)


@pytest.mark.parametrize("cell", ["1", "5", " 3 ", "7", "12", "1,234"])
def test_a_released_paper_never_renders_a_count_the_release_would_not_show(cell):
    report = small_table_report(cell)
    assert report.unreleased_counts() == [f"Services: 'Episodes' is {cell.strip()} in the row starting 'Parenting'"]
    with pytest.raises(DisclosureError, match="would show a count that is not released: Services: 'Episodes' is"):
        render_pdf(report)
    with pytest.raises(DisclosureError):
        render_html(report)
    assert render_pdf(small_table_report(cell, released=False)).startswith(b"%PDF-")  # a team paper shows them


@pytest.mark.parametrize("cell", ["c", "0", "10", "1,235", ""])
def test_released_counts_and_other_small_numbers_render(cell):
    report = small_table_report(cell)  # "Median days" is 3, but it is not a count of families
    assert report.unreleased_counts() == []
    assert render_pdf(report).startswith(b"%PDF-")
    assert "<td" in render_html(report)


def test_tables_are_checked_when_made():
    with pytest.raises(ValueError, match=r"Count columns \['Families'\] are not columns"):
        Table(("Service", "Episodes"), (), count_columns=("Families",))
    with pytest.raises(ValueError, match="A row has 1 cells for 2 columns"):
        Table(("Service", "Episodes"), (("Parenting",),))


def test_choices_are_checked_with_the_valid_values():
    with pytest.raises(ValueError, match=r"Unknown report section\(s\) \['maps'\]; choose from \['need_map'"):
        ReportChoices(period="all", sections=("maps",))
    with pytest.raises(ValueError, match="Unknown need in \\['poverty'\\]"):
        ReportChoices(period="all", needs=("poverty",))
    with pytest.raises(ValueError, match="Unknown grouping 'team'"):
        ReportChoices(period="all", by="team")
    with pytest.raises(ValueError, match="A paper that leaves the team covers a financial year or all years"):
        ReportChoices(START, END)
    with pytest.raises(ValueError, match="A team paper needs the first and last referral dates"):
        ReportChoices(audience=Audience.TEAM, period="all")


# ------------------------------------------------------------------------------------------ the demo's paper


def test_demo_paper_renders_to_pdf_with_every_part(paper):
    report, pdf, _ = paper
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    pages = [page.extract_text() for page in reader.pages]
    assert len(pages) >= 6
    for number, text in enumerate(pages, start=1):  # the marking and the page number on every page
        assert "OFFICIAL" in text and f"page {number} of {len(pages)}" in text and TEAM_PAPER not in text
    text = " ".join(" ".join(pages).split())  # words wrapped in table cells joined again
    for title in ["Summary", "Where needs are: All needs", "Where needs are: Safe from domestic abuse",
                  "Hot spots: All needs", "Hot spots: Safe from domestic abuse",
                  "Service coverage: All needs", "Service coverage: Safe from domestic abuse",
                  *list(SECTIONS.values())[3:], "Data sources, licences and methods"]:
        assert title in text, title
    assert "Early Help in Croydon: needs, reach and what works" in text
    assert "Referrals 1 April 2022 to 31 March 2025. Produced on 25 November 2026" in text
    for must in ["Open Government Licence", "Contains OS data ©", "Royal Mail data ©",
                 "How these figures were protected: Counts are rounded to the nearest 5",
                 "checked together by linear programming", "released figures: protected so the paper can be shared",
                 "GMCA Unit Cost Database v1.4", "[assumption]", "National reference figures", "[unverified]",
                 "ONS Postcode Directory", "Population estimates, mid-2020", "Services file croydon_services.csv",
                 "Outreach list: the first 10 LSOAs", "Distances are straight-line",
                 "What would a cut cost elsewhere? A cut of £250,000 a year to Parenting Programme",
                 "What a cut of £250,000 to Parenting Programme would likely cost elsewhere",
                 "Key points", "no significant hot spot after correcting for multiple testing",
                 "by electoral ward"]:
        assert must in text, must
    images = sum(len(page.images) for page in reader.pages)
    figures = sum(isinstance(b, Figure) for s in report.sections for b in s.blocks)
    # 2 need maps, 2 hot spot maps, 2 coverage maps, trend; a released case-mix comparison has readings, no plot
    assert images == figures == 7
    performance = next(section for section in report.sections if section.title == SECTIONS["performance"])
    reading = performance.blocks[0].text  # the services page's reading, for the released figures
    assert "than expected" in reading and " ".join(reading.split()) in text


def test_every_count_in_the_released_paper_is_released_and_the_pdf_shows_it(paper):
    report, pdf, _ = paper
    assert report.unreleased_counts() == []
    cells = [cell for _, table in report.tables() for _, _, cell in table.count_cells()]
    assert len(cells) > 60 and all(released_cell(c) for c in cells)
    words = pdf_text(pdf).split()
    for title, table in report.tables():  # what the PDF shows is what was checked, cell by cell in order
        expected = [word for row in table.rows for cell in row for word in cell.split()]
        assert is_subsequence(expected, words), f"{title}: {table.caption or table.columns}"


def raw_counts(cases: pd.DataFrame, need_bits: int, area_of: pd.Series) -> pd.Series:
    """Episodes per area counted with plain pandas (every year)."""
    chosen = cases if need_bits == 0 else cases[(cases["needs_mask"].astype("int64") & need_bits) != 0]
    return chosen["lsoa11cd"].astype(str).map(area_of).value_counts()


def test_need_map_counts_are_the_raw_counts_rounded(paper, demo, release):
    """Counted again from the episodes: each area's count in the paper is its raw count rounded to 5, or 'c' for 1
    to 7 (or hidden to protect another); the areas are the release's wards."""
    report, _, _ = paper
    table = next(tab for t, tab in report.tables() if t == "Where needs are: All needs")
    wards = release.areas["ward"].lsoa_to_area
    counts = raw_counts(demo.cases, 0, pd.Series(wards.to_numpy(), index=wards.index.astype(str)))
    assert len(table.rows) == 10
    rates = [float(row[3]) for row in table.rows]
    assert rates == sorted(rates, reverse=True)
    for row in table.rows:
        shown, raw = row[2], int(counts.get(row[1], 0))
        assert shown == "c" or int(shown.replace(",", "")) == RULE.rounded(raw), (row, raw)
        assert not RULE.hides(raw) or shown == "c"


def test_outreach_list_shows_flags_and_public_facts_only(paper):
    report, _, _ = paper
    table = next(tab for t, tab in report.tables() if t == "Service coverage: Safe from domestic abuse")
    assert len(table.rows) == 10
    assert "Expected" not in table.columns and "Observed" not in table.columns  # never released
    assert table.columns[:4] == ("Rank", "Area", "LSOA code", "Children 0-17")


def test_a_team_paper_is_exact_and_says_on_every_page_that_it_is_not_for_sharing(data, demo):
    choices = ReportChoices(START, END, audience=Audience.TEAM, sections=("need_map",), needs=("substance_use",))
    report = build_report(data, choices, PRODUCED)
    table = next(tab for t, tab in report.tables() if t.startswith("Where needs are"))
    lsoas = pd.Series(data.lsoas.areas["code"].to_numpy(), index=data.lsoas.areas["code"].to_numpy())
    from ehmap.taxonomy import NEED_BITS

    counts = raw_counts(demo.cases, NEED_BITS["substance_use"], lsoas)
    for row in table.rows:
        assert int(row[2].replace(",", "")) == counts.get(row[1], 0)
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(render_pdf(report))).pages]
    assert all(TEAM_PAPER in " ".join(page.split()) for page in pages)
    assert "Team view: exact figures for authorised staff only" in render_html(report)


def test_html_is_one_self_contained_file(paper):
    report, _, page = paper
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page.lower()
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert page.count("<img ") == 7 and page.count("<table>") == len(report.tables())
    assert page.count('<p class="marking">OFFICIAL</p>') == 2
    assert "Contains OS data ©" in page and "shown as &#x27;c&#x27;" in page


def test_html_paper_prints_in_chromium(paper, page):
    """The HTML opened in Debian's Chromium: every figure decodes, and it prints to A4 PDF pages."""
    _, _, html = paper
    page.set_content(html, wait_until="load")
    widths = page.eval_on_selector_all("img", "images => images.map(i => i.naturalWidth)")
    assert len(widths) == 7 and min(widths) > 1000
    assert page.locator("h2").all_inner_texts()[0] == "Summary"
    printed = page.pdf(format="A4")
    assert len(PdfReader(io.BytesIO(printed)).pages) >= 6
    assert page.off_machine == []


def test_sections_can_be_left_out(data):
    report = build_report(data, ReportChoices(START, END, audience=Audience.TEAM, sections=("trends",),
                                              frequency="month"), PRODUCED)
    assert [s.title for s in report.sections] == ["Summary", "Trends", "Data sources, licences and methods"]
    months = next(t for _, t in report.tables() if t.columns[0] == "Month")
    assert len(months.rows) == 36


def test_a_released_paper_has_quarters_of_its_year_only(data):
    report = build_report(data, ReportChoices(period="2023-24", sections=("trends",)), PRODUCED)
    quarters = next(t for _, t in report.tables() if t.columns[0] == "Quarter")
    assert [row[0] for row in quarters.rows] == [f"2023-24 Q{q}" for q in range(1, 5)]
    assert all(released_cell(cell) for _, _, cell in quarters.count_cells())
    yearly = build_report(data, ReportChoices(period="2023-24", sections=("performance", "business_case")), PRODUCED)
    assert all(released_cell(cell) for _, table in yearly.tables() for _, _, cell in table.count_cells())


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
    assert "No step-up rate to children's social care can be compared" in text
    assert "nothing to cost" in text.lower()


def test_hot_spots_section_lists_significant_areas(data):
    """The demo has no hot spot that survives FDR; with a planted cluster (five times the episodes in an LSOA
    and its neighbours) the team paper maps it and lists the areas."""
    from dataclasses import replace

    from ehmap.hotspots import spatial_weights

    areas = data.hotspot_areas.areas
    w = spatial_weights(areas)
    centre = areas["code"].iloc[100]
    cluster = {centre, *(areas["code"].iloc[j] for j in w.neighbors[w.id_order[100]])}
    cases = data.cases
    extra = cases[cases["lsoa11cd"].astype(str).isin(cluster)]
    planted = pd.concat([cases, *[extra.assign(case_id=extra["case_id"].astype(str) + f"-{k}") for k in range(4)]],
                        ignore_index=True)
    choices = ReportChoices(START, END, audience=Audience.TEAM, sections=("hotspots",))
    report = build_report(replace(data, cases=planted), choices, PRODUCED)
    section = report.sections[1]
    assert section.title == "Hot spots: All needs"
    table = next(b for b in section.blocks if isinstance(b, Table))
    assert table.caption.startswith("Significant hot spots (")
    assert {row[1] for row in table.rows} & cluster
    assert all(row[-1].startswith("hot spot (") for row in table.rows)
    assert "significant hot spot(s) after correcting for multiple testing, led by" in section.highlights[0]
    assert render_pdf(report).startswith(b"%PDF-")


def test_an_empty_period_is_refused(data):
    with pytest.raises(ValueError, match="No episode was referred between 2030-01-01 and 2030-12-31"):
        build_report(data, ReportChoices(dt.date(2030, 1, 1), dt.date(2030, 12, 31), audience=Audience.TEAM))
    with pytest.raises(ValueError, match="Shared papers compare services or referral sources; by locality is for"):
        build_report(data, ReportChoices(period="all", by="locality"))
    with pytest.raises(ValueError, match="Shared figures are for whole financial years or all years only"):
        build_report(data, ReportChoices(period="2024-04-01/2025-03-31"))


# ------------------------------------------------------------------------------------------ CLI


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ehmap", "report", "demo/croydon_cases.csv", *args], cwd=REPO,
                          env=os.environ.copy(), capture_output=True, text=True, timeout=300)


def test_report_cli_writes_a_team_paper_by_default(tmp_path):
    pdf, html = tmp_path / "paper.pdf", tmp_path / "out" / "paper.html"
    run = run_cli("--out", str(pdf), "--out", str(html), "--from", "2024-04-01", "--need", "domestic_abuse",
                  "--by", "referral_source", "--measure", "needs_met", "--marking", "OFFICIAL-SENSITIVE",
                  "--services", "demo/croydon_services.csv")
    assert run.returncode == 0, run.stderr
    assert f"-> {pdf}" in run.stdout and f"-> {html}" in run.stdout and "add --release for a paper to share" in \
        run.stdout
    text = pdf_text(pdf.read_bytes())
    assert "Referrals 1 April 2024 to 31 March 2025" in text and "OFFICIAL-SENSITIVE" in text and TEAM_PAPER in text
    assert "Where needs are: Safe from domestic abuse" in text and "Outcomes by referral source" in text
    assert "Service coverage: Safe from domestic abuse" in text and "from croydon_services.csv" in text
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert not (tmp_path / "paper.pdf.release.txt").exists()


def test_report_cli_release_writes_the_method_beside_the_paper(tmp_path):
    pdf = tmp_path / "paper.pdf"
    run = run_cli("--out", str(pdf), "--release", "--period", "2023-24", "--section", "need_map")
    assert run.returncode == 0, run.stderr
    text = pdf_text(pdf.read_bytes())
    assert "Referrals 1 April 2023 to 31 March 2024" in text and TEAM_PAPER not in text
    method = (tmp_path / "paper.pdf.release.txt").read_text()
    assert method.startswith("How these figures were protected") and method.strip() in run.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "paper.docx"], "error: --out must end in .pdf or .html; got paper.docx"),
        (["--out", "x.pdf", "--from", "1/4/2024"], "'1/4/2024' is not a date like 2024-04-01"),
        (["--out", "x.pdf", "--from", "2030-01-01", "--to", "2030-02-01"], "error: No episode was referred between"),
        (["--out", "x.pdf", "--need", "poverty"], "error: Unknown need in ['poverty']"),
        (["--out", "x.pdf", "--services", "nowhere.csv"], "nowhere.csv could not be opened (No such file or directory)"),
        (["--out", "x.pdf", "--cut-service", "Choir"], "error: 'Choir' is not a service in the data; choose one of"),
        (["--out", "x.pdf", "--release", "--from", "2024-04-01"],
         "error: a released paper covers a financial year or all years: give --period, not --from/--to."),
        (["--out", "x.pdf", "--release", "--period", "2019-20"], "error: '2019-20' is not a period this release"),
    ],
)
def test_report_cli_errors_in_one_line(tmp_path, args, message):
    args = [str(tmp_path / a) if a.endswith((".pdf", ".docx")) else a for a in args]
    run = run_cli(*args)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert message.replace("paper.docx", str(tmp_path / "paper.docx")) in run.stderr
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------------------------------ the page


def test_without_services_the_coverage_section_says_what_it_needs(data):
    from dataclasses import replace

    report = build_report(replace(data, coverage=None), ReportChoices(period="all", sections=("coverage",)), PRODUCED)
    section = report.sections[1]
    assert section.title == "Service coverage: All needs"
    assert section.blocks == (Paragraph("Not shown: coverage needs a services file (upload one on Service coverage, "
                                        "or give --services)."),)


def test_report_page_on_the_demo(directory, data_dir):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()
    at.switch_page("pages/report.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.title[0].value == "Board report: Croydon"
    assert [b.label for b in at.get("download_button")] == ["Download the paper (PDF)", "Download the paper (HTML)"]
    captions = " ".join(c.value for c in at.caption)
    assert "shipped with ehmap" in captions and "This is the team's paper" in captions
    at.checkbox(key="report_performance").uncheck().run()
    assert at.selectbox(key="report_measure").disabled
    at.toggle(key="report_preview").set_value(True).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.toggle(key="show_released").set_value(True).run()  # the paper to share: a fixed period
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="report_release_period").value == "2024-25"
    assert "Its figures are the released ones" in " ".join(c.value for c in at.caption)

    at.toggle(key="show_released").set_value(False).run()
    at.switch_page("pages/business_case.py").run()  # its edits (and its cut) are handed to the report
    at.switch_page("pages/report.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert "as you edited them on the *Business case* page" in " ".join(c.value for c in at.caption)


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
        assert pdf.name == "ehmap_E09000008_board_report_20220401_20250331_team.pdf"
        text = pdf_text(pdf.read_bytes())
        assert "Early Help in Croydon: needs, reach and what works" in text and "Business case" in text
        assert TEAM_PAPER in text
        with page.expect_download(timeout=120_000) as download:
            page.get_by_role("button", name="Download the paper (HTML)").click()
        html = tmp_path / download.value.suggested_filename
        download.value.save_as(html)
        assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
        page.screenshot(path=str(ARTIFACTS / "report_page.png"))
        assert page.off_machine == [], f"the page tried to reach other hosts: {page.off_machine[:5]}"


def test_the_business_case_section_says_what_the_page_says_in_one_price_year(data, demo):
    """The paper's business case: the page's reading, one total in one price year, and the cut over its horizon."""
    from ehmap.business_case import chosen_deflators, money_short
    from ehmap.views.business_case import team_business_case

    deflators, year = chosen_deflators({"2005/06": 1.6, "2008/09": 1.4, "2013/14": 1.2}, "2024/25")
    cut = ("Parenting Programme", 250_000.0)
    report = build_report(data, ReportChoices(START, END, audience=Audience.TEAM, sections=("business_case",),
                                              deflators=deflators, price_year=year, cut=cut), PRODUCED)
    section = next(s for s in report.sections if s.title == SECTIONS["business_case"])
    said = [block.text for block in section.blocks if isinstance(block, Paragraph)]
    view = team_business_case(demo.cases, START, END, deflators=deflators, year=year, cut=cut)
    assert said[0] == view.finding and section.highlights == (view.finding,)
    assert "at 2024/25 prices" in view.finding and "not uprated" not in view.finding
    total, shifted = view.headline(), view.shifted()
    assert said[1] == (f"Total costs likely avoided: about {money_short(total.central)} (range "
                       f"{money_short(total.low)} to {money_short(total.high)}) at 2024/25 prices.")
    assert ("Over 3 years it saves £750,000. Likely extra costs elsewhere over 3 years: about "
            f"{money_short(shifted.central)} (range {money_short(shifted.low)} to {money_short(shifted.high)}) at "
            "2024/25 prices.") in said[2]
    assert "DCLG 2015, contested: £5,214 intervention cost and £11,200 benefit per family" in said[2]
    assert "£2.28 per £1 is unverified and not used" in said[2]
    lines = next(t for _, t in report.tables() if t.columns[0] == "Cost line" and "Costs avoided" in t.columns[2])
    assert all(re.fullmatch(r"£[\d,]+ \(£[\d,]+ to £[\d,]+\)", row[2]) for row in lines.rows)


def test_a_team_paper_tests_hot_spots_on_lsoa_2021_with_children_carried_and_the_boundaries_credited(data):
    """The paper follows the pages: on LSOA 2021 the figure says how children were carried and credits the 2021
    boundaries, and it tests every one of the council's LSOAs 2021."""
    from dataclasses import replace

    from ehmap.areas import area_set
    from ehmap.lsoa21 import children_note
    from ehmap.report import Figure

    on_2021 = replace(data, hotspot_areas=area_set("lsoa21", CROYDON))
    report = build_report(on_2021, ReportChoices(START, END, audience=Audience.TEAM, sections=("hotspots",)),
                          PRODUCED)
    [figure] = [b for b in report.sections[1].blocks if isinstance(b, Figure)]
    assert "by LSOA (2021)" in figure.caption and children_note() in figure.caption
    assert "database right 2021" in figure.caption
    assert "(LSOA (2021))" in figure.alt
