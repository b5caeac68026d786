"""`python -m ehmap hotspots`: one row per area, small counts as `c`, on LSOAs, wards and a locality file."""

from __future__ import annotations

import pandas as pd
import pytest

from ehmap.areas import ward_area_set
from ehmap.cli import main
from ehmap.demo import DEMO_FILE

COLUMNS = ["code", "name", "count", "children", "rate", "smoothed_rate", "statistic", "z", "p", "p_fdr", "label"]


def run(tmp_path, *extra: str) -> tuple[int, pd.DataFrame | None]:
    out = tmp_path / "hotspots.csv"
    code = main(["hotspots", str(DEMO_FILE), "--la", "E09000008", "--out", str(out), *extra])
    return code, (pd.read_csv(out, dtype={"count": str}) if out.exists() else None)


def test_lsoa_hotspots_csv(directory, tmp_path, capsys):
    code, table = run(tmp_path, "--need", "substance_use", "--measure", "rate", "--statistic", "gi_star",
                      "--seed", "12345", "--permutations", "999")
    assert code == 0
    assert list(table.columns) == COLUMNS and len(table) == 220
    assert (table["count"] == "c").sum() > 50
    shown = pd.to_numeric(table["count"], errors="coerce")
    assert not shown.between(1, 5).any()
    assert table.loc[table["count"] == "c", ["rate", "smoothed_rate", "statistic", "z", "p", "p_fdr"]].isna().all().all()
    assert list(table.loc[table["label"].str.startswith("hot spot"), "code"]) == ["E01001138"]
    assert "220 areas (LSOA (2011)); 1 hot spot(s), 9 cold spot(s) after FDR" in capsys.readouterr().out


def test_ward_hotspots_csv(directory, tmp_path):
    code, table = run(tmp_path, "--geography", "ward", "--statistic", "local_moran", "--seed", "3", "--permutations", "199")
    assert code == 0 and len(table) == 28
    assert set(table["code"]) == set(ward_area_set("E09000008").areas["code"])
    assert table["count"].astype(int).sum() == 4377  # every demo episode falls in a ward, none small


def test_wgs84_locality_file_end_to_end(directory, tmp_path):
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
    assert table["count"].astype(int).sum() == 4377


def test_broken_locality_file_exits_2_with_the_reason(directory, tmp_path, capsys):
    path = tmp_path / "hubs.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}')
    code, _ = run(tmp_path, "--geography", str(path), "--name-column", "hub")
    assert code == 2
    assert capsys.readouterr().err.strip() == "error: 'hubs.geojson' has no features."


@pytest.mark.parametrize(("args", "message"), [
    (["--geography", "msoa"], "error: Unknown geography 'msoa'; valid geographies are ['lsoa11', 'ward']"),
    (["--need", "shopping"], "error: Unknown need 'shopping'; valid needs are"),
])
def test_bad_choices_are_named(directory, tmp_path, capsys, args, message):
    code, _ = run(tmp_path, *args)
    assert code == 2
    assert capsys.readouterr().err.startswith(message)
