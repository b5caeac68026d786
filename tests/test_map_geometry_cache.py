"""A map rerun that only recolours reuses the areas' geometry: counted builds, never timed."""

from __future__ import annotations

from pathlib import Path

import folium
import geopandas as gpd
import jinja2
import pytest
import shapely
from streamlit.testing.v1 import AppTest

from ehmap import maps
from ehmap.taxonomy import NEED_KEYS

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def test_changing_only_the_need_does_not_rebuild_the_map_geometry(directory):
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, [e.message for e in at.exception]
    scripts = {at.get("component_instance")[0].proto.json_args}
    builds = maps.geometry_builds()
    need = at.selectbox(key="need_map_need")
    others = [key for key in NEED_KEYS if key != need.value]
    for key in others[:3]:
        at.selectbox(key="need_map_need").set_value(key).run()
        assert not at.exception, [e.message for e in at.exception]
        scripts.add(at.get("component_instance")[0].proto.json_args)
    assert maps.geometry_builds() == builds  # same areas: the geometry built for the first run is reused
    assert len(scripts) > 1  # ... and the map was redrawn with each need's colours


def _squares(offset: float = 0.0) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": ["A", "B"], "name": ["Area A", "Area B"]},
                            geometry=[shapely.box(530000 + offset, 160000, 531000, 161000),
                                      shapely.box(531000, 160000, 532000, 161000)], crs="EPSG:27700")


def _fills(fmap: folium.Map) -> list[str]:
    layer = next(child for child in fmap._children.values() if isinstance(child, folium.GeoJson))
    return [feature["properties"]["fill"] for feature in layer.data["features"]]


def test_geometry_is_built_once_per_area_set_and_again_for_other_polygons_with_the_same_codes():
    before = maps.geometry_builds()
    first = maps.area_map(_squares(), _squares()["code"].map({"A": "#fd8d3c", "B": "#bd0026"}), {"name": "Area"})
    again = maps.area_map(_squares(), _squares()["code"].map({"A": "#bd0026", "B": "#fd8d3c"}), {"name": "Area"})
    assert maps.geometry_builds() == before + 1
    assert _fills(first) == ["#fd8d3c", "#bd0026"] and _fills(again) == ["#bd0026", "#fd8d3c"]
    maps.area_map(_squares(offset=100), _squares()["code"].map(lambda _: "#fd8d3c"), {"name": "Area"})
    assert maps.geometry_builds() == before + 2  # same codes, other polygons (another locality file): built anew


def test_areas_without_a_crs_are_refused():
    with pytest.raises(ValueError, match="no CRS"):
        maps.drawn_geometry(_squares().geometry.set_crs(None, allow_override=True))


@pytest.mark.parametrize("text", ["<style>a{b}</style>", "line\r\nnext\rlast\n", "ends\n\n", "", "\n", "{ a: {b: 1}}",
                                  "{{ 1 + 1 }} and {% if true %}yes{% endif %}{# note #}\n"])
def test_branca_element_text_renders_as_jinja_would_without_compiling_plain_text(text):
    import branca.element

    assert branca.element.Element(text).render() == jinja2.Template(text).render()


def test_gc_freeze_is_done_again_only_after_more_modules_are_imported():
    import gc

    from ehmap.process import freeze_long_lived_objects

    freeze_long_lived_objects()
    frozen = gc.get_freeze_count()
    assert freeze_long_lived_objects() is False  # nothing new imported: a rerun only compares a count
    assert gc.get_freeze_count() == frozen
