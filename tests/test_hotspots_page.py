"""The hot spot page run headless (AppTest): renders on the demo with its reading, hides small counts, lists what the
CLI writes, names the LSOAs found with their wards."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from ehmap.cli import main
from ehmap.demo import DEMO_FILE
from ehmap.hotspots import DEFAULT_PERMUTATIONS
from ehmap.maps import STATIC_URL
from ehmap.text import plain

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def run_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("pages/hotspots.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def unescaped(text: str) -> str:
    """Markdown shown through ehmap.text.plain, back to the characters it shows."""
    return re.sub(r"\\(.)", r"\1", text)


def reading(at: AppTest) -> str:
    """The page's one reading: the info box that starts with the need, the period and the geography."""
    [text] = [t for t in (unescaped(i.value) for i in at.info) if re.search(r", by (LSOA|LSOA 2021|ward|locality): ", t)]
    return text


def map_script(at: AppTest) -> str:
    maps = at.get("component_instance")
    assert len(maps) == 1
    args = json.loads(maps[0].proto.json_args)
    assert all(link.startswith(STATIC_URL) for link in args["js_links"] + args["css_links"])
    return args["script"]


def test_page_renders_on_the_demo_with_a_legend_and_an_explanation(directory):
    at = run_page()
    assert at.radio(key="hotspots_measure").value == "smoothed_rate"  # EB-smoothed rates by default
    assert at.selectbox(key="hotspots_geography").value == "lsoa21"  # the ONS's current small areas by default
    assert map_script(at).count('"type": "Feature"') == 229  # Croydon's LSOAs 2021
    text = " ".join(m.value for m in at.markdown)
    assert "Benjamini-Hochberg false discovery rate" in text and f"{DEFAULT_PERMUTATIONS:,} random reshuffles" in text
    assert "not significant" in text  # the legend
    said = reading(at)
    assert said.startswith("All needs, referrals ") and ", by LSOA 2021: " in said
    nothing = any("No area is a significant hot spot after correcting for multiple testing" in i.value for i in at.info)
    assert nothing == ("No cluster stands out beyond chance at LSOA 2021 level" in said)


def test_listed_hot_spots_are_the_areas_the_cli_writes(directory, tmp_path):
    at = run_page()
    at.selectbox(key="hotspots_need").set_value("substance_use").run()
    at.radio(key="hotspots_measure").set_value("rate").run()
    assert not at.exception
    out = tmp_path / "cli.csv"
    assert main(["hotspots", str(DEMO_FILE), "--la", "E09000008", "--need", "substance_use", "--measure", "rate",
                 "--statistic", "gi_star", "--seed", "12345", "--out", str(out)]) == 0
    cli = pd.read_csv(out, dtype={"count": str})
    cli_hot = cli[cli["label"].str.startswith("hot spot")]
    if cli_hot.empty:
        assert any("No area is a significant hot spot" in i.value for i in at.info)
    else:
        listed = at.dataframe[0].value
        assert list(listed["Code"]) == list(cli_hot["code"])
        assert {"Rate per 1,000", "95% CI lower", "95% CI upper", "Smoothed rate", "p after FDR"} <= set(listed.columns)
    # and the whole-area table agrees with the CLI label by label
    everything = at.dataframe[-1].value.set_index("Code")["Result"]
    assert everything.to_dict() == cli.set_index("code")["label"].to_dict()


def test_the_reading_names_the_lsoas_found_and_their_wards(directory, data_dir):
    at = run_page()
    at.selectbox(key="hotspots_need").set_value("domestic_abuse").run()
    assert not at.exception, [e.message for e in at.exception]
    lookup = pd.read_csv(data_dir / "lookup_lsoa21_ward24_lad24.csv", dtype=str).set_index("LSOA21CD")
    said = reading(at)
    assert said.startswith("Safe from domestic abuse, referrals ") and ", by LSOA 2021: " in said
    everything = at.dataframe[-1].value.set_index("Code")
    assert everything["Ward"].to_dict() == lookup.loc[everything.index, "WD24NM"].to_dict()
    hot = everything[everything["Result"].str.startswith("hot spot")]
    if hot.empty:
        assert "No cluster stands out beyond chance at LSOA 2021 level" in said
    else:
        assert set(at.dataframe[0].value["Code"]) == set(hot.index)  # the hot spots table lists them
        for code in at.dataframe[0].value["Code"].head(6):
            assert f"{lookup.loc[code, 'LSOA21NM']} ({lookup.loc[code, 'WD24NM']} ward)" in said
    at.toggle(key="show_released").set_value(True).run()
    assert not at.exception, [e.message for e in at.exception]
    shared = reading(at)
    assert ", by ward: " in shared  # the release's geography for this need
    released = at.dataframe[-1].value
    for name in released.loc[released["Result"].str.startswith("hot spot"), "Area"].head(6):
        assert name in shared


def test_team_view_shows_exact_counts_and_flags_small_ones(directory):
    at = run_page()
    at.selectbox(key="hotspots_need").set_value("domestic_abuse").run()
    assert any("Team view: exact figures" in w.value for w in at.warning)
    table = at.dataframe[-1].value
    small = table["Episodes"].between(1, 5)
    assert small.sum() > 10
    assert (table.loc[small, "Note"] == "fewer than 6: interpret with care").all()
    assert (table.loc[~small, "Note"] == "").all()


def test_released_view_shows_labels_and_protected_counts_only(directory):
    at = run_page()
    at.selectbox(key="hotspots_need").set_value("domestic_abuse").run()
    at.toggle(key="show_released").set_value(True).run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("Released view" in s.value for s in at.success)
    for frame in at.dataframe:
        assert set(frame.value.columns) <= {"Area", "Ward", "Code", "Episodes", "Result"}  # no score, no rate
        values = [str(v) for v in frame.value["Episodes"]]
        assert not [v for v in values if v != "c" and (int(v) % 5 or 1 <= int(v) <= 7)]
    episodes = re.findall(r'"episodes": "([^"]*)"', map_script(at))
    assert episodes and not [v for v in episodes if v != "c" and (int(v) % 5 or 1 <= int(v) <= 7)]
    captions = " ".join(c.value for c in at.caption)
    assert "How these figures were protected" in captions and "electoral ward" in captions


def test_wards_and_a_broken_locality_upload(directory):
    at = run_page()
    at.selectbox(key="hotspots_geography").set_value("ward").run()
    assert not at.exception
    assert map_script(at).count('"type": "Feature"') == 28
    at.selectbox(key="hotspots_geography").set_value("custom").run()
    at.file_uploader(key="hotspots_localities").set_value(("hubs.geojson", b"{not json", "application/geo+json")).run()
    assert any(plain("'hubs.geojson' could not be read as geographic data") in e.value for e in at.error)
