"""Service coverage by ward in Debian's Chromium: a locality manager cuts the outreach list to one ward, switches to
the released view and downloads it; the CSV holds that ward's LSOAs only, each named, checked against the ONS lookups
chained by hand (tests/ward_support.py)."""

from __future__ import annotations

import io

import pandas as pd
from browser_support import map_holding, screenshot_on_failure, wait_until_idle
from ward_support import lsoa11_wards


def test_an_outreach_csv_cut_to_one_ward_holds_only_that_wards_areas_with_names(app_url, page, data_dir):
    lookup = lsoa11_wards(data_dir)
    sizes = lookup.groupby("WD24NM").size()
    name = sizes.index[sizes.argmax()]  # the ward with most LSOAs
    code = lookup.loc[lookup["WD24NM"] == name, "WD24CD"].iloc[0]
    with screenshot_on_failure(page, "coverage_wards"):
        page.goto(app_url, wait_until="domcontentloaded")
        page.get_by_role("link", name="Service coverage").click()
        map_holding(page, "path.leaflet-interactive")
        page.get_by_text("Show the released view (as shared)").click()
        wait_until_idle(page)
        picker = page.get_by_test_id("stSelectbox").filter(has=page.get_by_text("Outreach list: ward", exact=True))
        picker.click()
        page.get_by_role("option", name=name, exact=True).click()
        page.get_by_role("heading", name=f"Outreach list: {name}").wait_for(timeout=120_000)
        wait_until_idle(page)
        button = page.get_by_role("button", name="Download the outreach list (CSV)", exact=True)
        with page.expect_download(timeout=60_000) as download:
            button.click()
        assert download.value.suggested_filename.endswith(f"_{code}.csv")
        table = pd.read_csv(io.BytesIO(open(download.value.path(), "rb").read()), dtype=str, keep_default_na=False)
        assert len(table) > 1 and set(table["Ward code"]) == {code} and set(table["Ward"]) == {name}
        ward_of = lookup.set_index("LSOA11CD")["WD24CD"]
        assert (table["LSOA code"].map(ward_of) == code).all()  # every area is in the ward by the ONS lookups
        names = lookup.set_index("LSOA11CD")["LSOA11NM"]
        assert (table["Area"] == table["LSOA code"].map(names)).all()  # named, not codes alone
        assert page.off_machine == []
