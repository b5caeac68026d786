"""The need map as a PNG for slides: the same areas, classes and colours as the live map, with its title, legend,
who may see it, source and OGL line; a released view's image shows released values only (the demo, real boundaries)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from PIL import Image

from ehmap.audience import RELEASE_MARKING, TEAM_MARKING
from ehmap.charts import choropleth_figure
from ehmap.views.need_map import EPISODES, released_need_map, team_need_map
from tests.conftest import CROYDON
from ui.views import map_image_parts, map_layers, map_png

TITLE = "Safe from domestic abuse: Episodes, Croydon, 2024-25"


@pytest.fixture(scope="module")
def demo(directory, council_names, data_dir):
    from ehmap.config import pseudonymisation_key
    from ehmap.demo import load_demo

    return load_demo(directory, council_names, pseudonymisation_key())


@pytest.fixture(scope="module")
def released(demo):
    from ehmap.release.output import release_of

    release = release_of(demo)
    return released_need_map(release, "domestic_abuse", release.calendar.years[-1].key, EPISODES, None)  # some hidden


@pytest.fixture(scope="module")
def team(demo):
    from ehmap.areas import area_set

    return team_need_map(demo.cases, area_set("lsoa11", CROYDON), None, dt.date(2024, 4, 1), dt.date(2025, 3, 31),
                         None, EPISODES, None)


def _texts(figure) -> list[str]:
    legend = [text.get_text() for item in figure.legends for text in [item.get_title(), *item.get_texts()]]
    return [text.get_text() for text in figure.texts] + legend


def test_a_released_map_image_shows_the_released_values_title_marking_and_licence(released):
    layers = map_layers(released)
    shown = layers.geometry["episodes"]
    counts = [int(value) for value in shown if value not in ("c", "x")]
    assert counts and all(count % 5 == 0 for count in counts)  # the release's rounded counts, never exact ones
    assert (shown == "c").any()  # ... and hidden ones, drawn grey
    figure = choropleth_figure(**map_image_parts(released, layers, TITLE))
    texts = " ".join(_texts(figure)).replace("\n", " ")
    assert TITLE in texts and released.value_title in texts
    assert RELEASE_MARKING in texts and TEAM_MARKING not in texts
    assert "Open Government Licence v.3.0" in texts and "Crown copyright" in texts
    for entry in layers.choropleth.legend:
        assert entry.label in texts
    assert any("hidden" in entry.label for entry in layers.choropleth.legend)
    image = Image.open(io.BytesIO(map_png(released, layers, TITLE)))
    assert image.format == "PNG" and image.size == (1440, 1200)


def test_a_team_map_image_is_marked_not_for_sharing_and_keeps_the_exact_counts(team):
    layers = map_layers(team)
    counts = [int(value) for value in layers.geometry["episodes"]]
    assert any(count % 5 for count in counts)  # exact counts: what the released image never shows
    assert len(layers.geometry) == len(team.table)  # every LSOA
    texts = " ".join(_texts(choropleth_figure(**map_image_parts(team, layers, TITLE)))).replace("\n", " ")
    assert TEAM_MARKING.split(":")[0] in texts and "Not for sharing" in texts
    assert RELEASE_MARKING not in texts


def test_the_board_report_map_keeps_its_layout_without_a_title(released):
    layers = map_layers(released)
    parts = map_image_parts(released, layers, "")
    parts["marking"] = ""
    figure = choropleth_figure(**parts)
    assert figure.axes[0].get_position(original=True).bounds == pytest.approx((0.0, 0.09, 0.68, 0.89))
    assert [text.get_text() for text in figure.texts] == [parts["attribution"]]
