"""`python -m ehmap hotspots`: one row per area (the team's exact figures), on LSOAs, wards and a locality file."""

from __future__ import annotations

import pandas as pd
import pytest
from ward_support import lsoa11_wards

from ehmap.areas import ward_area_set
from ehmap.cli import main
from ehmap.demo import DEMO_FILE

COLUMNS = ["code", "name", "count", "children", "rate", "smoothed_rate", "statistic", "z", "p", "p_fdr", "label"]


@pytest.fixture(scope="module")
def demo_episodes(directory, council_names) -> int:
    """Episodes the demo's ingest accepts: every one of them lies in a Croydon ward."""
    from ehmap.config import pseudonymisation_key
    from ehmap.demo import load_demo

    return len(load_demo(directory, council_names, pseudonymisation_key()).cases)


def test_cli_defaults_are_the_librarys():
    """The CLI writes ehmap.hotspots' statistics and default permutations out (to start without esda): they agree."""
    from ehmap import cli, hotspots

    assert cli.HOTSPOT_STATISTICS == tuple(hotspots.ALL_STATISTIC_TITLES)
    assert cli.HOTSPOT_PERMUTATIONS == hotspots.DEFAULT_PERMUTATIONS


def run(tmp_path, *extra: str) -> tuple[int, pd.DataFrame | None]:
    out = tmp_path / "hotspots.csv"
    code = main(["hotspots", str(DEMO_FILE), "--la", "E09000008", "--out", str(out), *extra])
    return code, (pd.read_csv(out, dtype={"count": str}) if out.exists() else None)


@pytest.mark.parametrize(("geography", "title", "areas"), [
    ([], "LSOA (2021)", 229),  # the default: the LSOAs 2021 ingest placed the episodes in
    (["--geography", "lsoa11"], "LSOA (2011)", 220),
])
def test_lsoa_hotspots_csv(directory, tmp_path, capsys, council_names, data_dir, geography, title, areas):
    from ehmap.areas import area_set
    from ehmap.config import pseudonymisation_key
    from ehmap.demo import load_demo
    from ehmap.hotspots import hotspot_table
    from ehmap.indicators import child_population
    from ehmap.lsoa21 import children_on
    from ehmap.needmap import CaseFilter

    code, table = run(tmp_path, "--need", "substance_use", "--measure", "rate", "--statistic", "gi_star",
                      "--seed", "12345", "--permutations", "999", *geography)
    assert code == 0
    assert list(table.columns) == [*COLUMNS[:2], "ward_code", "ward_name", *COLUMNS[2:]] and len(table) == areas
    counts = table["count"].astype(int)
    assert counts.between(1, 5).sum() > 50  # the team's exact counts: small ones are kept
    assert table[["rate", "smoothed_rate", "statistic", "z", "p", "p_fdr"]].notna().all().all()
    # the CLI writes what the library computes for the same choices
    cases = load_demo(directory, council_names, pseudonymisation_key()).cases
    kind = geography[-1] if geography else "lsoa21"
    same = hotspot_table(cases, area_set(kind, "E09000008"), CaseFilter(need="substance_use"),
                         children_on(kind, child_population()), "rate", "gi_star", permutations=999, seed=12345)
    assert list(table["label"]) == list(same.areas["label"]) and list(counts) == list(same.areas["count"])
    assert table["code"].str.startswith("E01").all()
    wards = lsoa11_wards(data_dir).set_index("LSOA11CD") if kind == "lsoa11" else pd.read_csv(
        data_dir / "lookup_lsoa21_ward24_lad24.csv", dtype=str).set_index("LSOA21CD")  # each LSOA's ward, by hand
    assert table.set_index("code")["ward_code"].to_dict() == wards.loc[table["code"], "WD24CD"].to_dict()
    assert table.set_index("code")["ward_name"].to_dict() == wards.loc[table["code"], "WD24NM"].to_dict()
    hot, cold = int(same.result.hot.sum()), int(same.areas["label"].str.startswith("cold spot").sum())
    assert f"{areas} areas ({title}); {hot} hot spot(s), {cold} cold spot(s) after FDR" in capsys.readouterr().out


def test_ward_hotspots_csv(directory, tmp_path, demo_episodes):
    code, table = run(tmp_path, "--geography", "ward", "--statistic", "local_moran", "--seed", "3", "--permutations", "199")
    assert code == 0 and len(table) == 28 and list(table.columns) == COLUMNS  # wards need no ward beside them
    assert set(table["code"]) == set(ward_area_set("E09000008").areas["code"])
    assert table["count"].astype(int).sum() == demo_episodes  # every demo episode falls in a ward, none small


def test_wgs84_locality_file_end_to_end(directory, tmp_path, demo_episodes):
    wards = ward_area_set("E09000008").areas
    wards["hub"] = ["North" if y > wards.geometry.representative_point().y.median() else "South"
                    for y in wards.geometry.representative_point().y]
    wards["hub"] = wards["hub"] + [str(i % 3) for i in range(len(wards))]
    hubs = wards.dissolve(by="hub").reset_index()[["hub", "geometry"]].to_crs("EPSG:4326")
    path = tmp_path / "hubs.geojson"
    hubs.to_file(path, driver="GeoJSON")
    code, table = run(tmp_path, "--geography", str(path), "--name-column", "hub", "--weights", "knn", "--k", "2",
                      "--permutations", "99")
    assert code == 0
    assert sorted(table["name"]) == sorted(hubs["hub"])
    assert table["count"].astype(int).sum() == demo_episodes


def test_broken_locality_file_exits_2_with_the_reason(directory, tmp_path, capsys):
    path = tmp_path / "hubs.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}')
    code, _ = run(tmp_path, "--geography", str(path), "--name-column", "hub")
    assert code == 2
    assert capsys.readouterr().err.strip() == "error: 'hubs.geojson' has no features."


@pytest.mark.parametrize(("args", "message"), [
    (["--geography", "msoa"], "error: Unknown geography 'msoa'; valid geographies are ['lsoa11', 'lsoa21', 'ward']"),
    (["--need", "shopping"], "error: Unknown need 'shopping'; valid needs are"),
])
def test_bad_choices_are_named(directory, tmp_path, capsys, args, message):
    code, _ = run(tmp_path, *args)
    assert code == 2
    assert capsys.readouterr().err.startswith(message)
