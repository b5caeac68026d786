"""Services files: every row accepted or rejected with one reason, located in EPSG:27700, linked to cases."""

from __future__ import annotations

import io

import numpy as np
import openpyxl
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from pyproj import Transformer

from ehmap.demo import DEMO_FILE, DEMO_LA_CODE
from ehmap.exports import ExportError, read_export
from ehmap.geography import council_lsoas
from ehmap.services import (
    ALL_NEEDS_MASK,
    REJECT_REASONS,
    SERVICE_TYPES,
    ingest_services,
    link_cases,
    parse_service_type,
    services_serving,
)
from ehmap.taxonomy import NEED_BITS

CROYDON = "E09000008"
DEMO_SERVICES = "demo/croydon_services.csv"
HEADER = [
    "Service Name",
    "Type",
    "Postcode",
    "Easting",
    "Northing",
    "Latitude",
    "Longitude",
    "Needs Served",
    "Capacity",
    "Team",
]


@pytest.fixture(scope="module")
def croydon_area():
    return council_lsoas(CROYDON).union_all()


def _latlon_of(easting: float, northing: float) -> tuple[float, float]:
    lon, lat = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True).transform(easting, northing)
    return lat, lon


def _bad_file(directory) -> pd.DataFrame:
    grid = directory.lookup(np.array(["CR09ED"], dtype=object))
    lat, lon = _latlon_of(float(grid.easting[0]), float(grid.northing[0]))
    rows = [
        ["Hub A", "Family Hub", "CR7 8PU", "", "", "", "", "", "120", "Family Hub Thornton Heath"],  # 2 ok, postcode
        ["Grid B", "school", "", "530230", "167139", "", "", "education; early years", "", ""],  # 3 ok, grid
        [
            "LatLon C",
            "Children's Centre",
            "",
            "",
            "",
            f"{lat:.6f}",
            f"{lon:.6f}",
            "early_years",
            "",
            "",
        ],  # 4 ok, lat/long
        ["", "", "", "", "", "", "", "", "", ""],  # 5 blank row
        ["", "Health", "CR0 1NX", "", "", "", "", "", "", ""],  # 6 missing name
        ["hub a", "VCS", "CR0 1NX", "", "", "", "", "", "", ""],  # 7 duplicate of row 2
        ["Bad type", "Leisure centre", "CR0 1NX", "", "", "", "", "", "", ""],  # 8
        ["Bad needs", "Health", "CR0 1NX", "", "", "", "", "health; gardening", "", ""],  # 9
        ["Bad capacity", "Health", "CR0 1NX", "", "", "", "", "", "about 20", ""],  # 10
        ["Nowhere", "Health", "", "", "", "", "", "", "", ""],  # 11 missing location
        ["Bad postcode", "Health", "CR0 1N", "", "", "", "", "", "", ""],  # 12
        ["Half grid", "Health", "", "530230", "", "", "", "", "", ""],  # 13
        ["Swapped", "Health", "", "", "", "-0.1", "51.37", "", "", ""],  # 14 lat/long swapped
        ["Unknown postcode", "Health", "CR0 9ZZ", "", "", "", "", "", "", ""],  # 15
        ["Leeds site", "Health", "LS1 4AP", "", "", "", "", "", "", ""],  # 16 outside area
    ]
    return pd.DataFrame(rows, columns=HEADER, dtype="string")


EXPECTED_REJECTS = [
    (5, "missing_name", "The row is blank."),
    (6, "missing_name", "The service name is blank."),
    (7, "duplicate", "Same service name as row 2."),
    (
        8,
        "invalid_type",
        "'Leisure centre' is not a known service type; use one of Family hub, Children's centre, School, "
        "Domestic abuse service, Parenting programme, Youth service, Health, "
        "Voluntary and community sector (VCS), Other.",
    ),
    (
        9,
        "invalid_needs",
        "Needs served: 'gardening' is not a need; use need keys such as education, early_years, health.",
    ),
    (10, "invalid_capacity", "The capacity 'about 20' is not a whole number of 0 or more."),
    (11, "missing_location", "No postcode, easting/northing or latitude/longitude is given."),
    (12, "invalid_location", "The postcode is not in a UK postcode format."),
    (13, "invalid_location", "The easting and northing must both be numbers (metres on the British National Grid)."),
    (14, "invalid_location", "The latitude/longitude -0.1, 51.37 is not in Great Britain (are they swapped?)."),
    (15, "unknown_postcode", REJECT_REASONS["unknown_postcode"]),
]


def test_a_services_file_with_bad_rows_reconciles(directory, croydon_area):
    result = ingest_services(_bad_file(directory), CROYDON, directory, croydon_area)
    assert result.rows_read == 15 == result.accepted + result.rejected
    assert (result.accepted, result.rejected) == (3, 12)
    got = list(result.rejects.itertuples(index=False, name=None))
    assert got[:-1] == EXPECTED_REJECTS
    row, reason, message = got[-1]
    assert (row, reason) == (16, "outside_area")
    assert message.startswith("The location is ") and message.endswith(
        " km outside the council; services more than 5 km outside are not counted."
    )
    assert float(message.split()[3]) > 200  # Leeds is about 270 km from Croydon
    summary = result.summary()
    assert summary["rejected_by_reason"] == {
        "missing_name": 2,
        "duplicate": 1,
        "invalid_type": 1,
        "invalid_needs": 1,
        "invalid_capacity": 1,
        "missing_location": 1,
        "invalid_location": 3,
        "unknown_postcode": 1,
        "outside_area": 1,
    }
    services = result.services.set_index("name")
    assert list(services["type"]) == ["family_hub", "school", "childrens_centre"]
    assert list(services["located_by"]) == ["postcode", "grid", "latlon"]
    assert services.loc["Hub A", ["easting", "northing"]].tolist() == [532491.0, 169123.0]  # CR7 8PU in the directory
    assert services.loc["Grid B", ["easting", "northing"]].tolist() == [530230.0, 167139.0]
    assert_allclose(
        services.loc["LatLon C", ["easting", "northing"]].to_numpy(dtype=float), [538149.0, 164033.0], atol=1.0
    )
    assert services.loc["Hub A", "needs_mask"] == ALL_NEEDS_MASK  # blank needs: serves every need
    assert services.loc["Grid B", "needs_mask"] == NEED_BITS["education"] | NEED_BITS["early_years"]
    assert services.loc["Hub A", "capacity"] == 120 and pd.isna(services.loc["Grid B", "capacity"])


def test_the_same_file_as_xlsx_gives_the_same_result(directory, croydon_area):
    table = _bad_file(directory)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for record in table.itertuples(index=False):
        sheet.append([None if v == "" else v for v in record])
    buffer = io.BytesIO()
    workbook.save(buffer)
    from_xlsx = ingest_services(read_export(buffer.getvalue(), "services.xlsx"), CROYDON, directory, croydon_area)
    from_frame = ingest_services(table, CROYDON, directory, croydon_area)
    pd.testing.assert_frame_equal(from_xlsx.rejects, from_frame.rejects)
    assert list(from_xlsx.services["name"]) == list(from_frame.services["name"])


def test_headers_are_matched_and_missing_columns_are_named(directory, croydon_area):
    table = pd.DataFrame({"site_name": ["A"], "SERVICE TYPE": ["youth"], "post code": ["CR0 1NX"]}, dtype="string")
    assert ingest_services(table, CROYDON, directory, croydon_area).columns_used == {
        "name": "site_name",
        "type": "SERVICE TYPE",
        "postcode": "post code",
    }
    with pytest.raises(
        ExportError, match=r"^No type column: expected one headed Type / Service Type / Site Type / Category / Kind"
    ):
        ingest_services(table.drop(columns="SERVICE TYPE"), CROYDON, directory, croydon_area)
    with pytest.raises(
        ExportError,
        match=r"^No location columns: expected a Postcode column, Easting and Northing columns, or Latitude and",
    ):
        ingest_services(table.drop(columns="post code").assign(Easting="530000"), CROYDON, directory, croydon_area)
    with pytest.raises(ExportError, match="unknown field 'where'"):
        ingest_services(table, CROYDON, directory, croydon_area, mapping={"where": "post code"})


def test_service_types_and_filters():
    assert parse_service_type("Family Hub") == "family_hub"
    assert parse_service_type("children's centre") == parse_service_type("Childrens Centre") == "childrens_centre"
    assert parse_service_type("DA service") == "domestic_abuse"
    assert parse_service_type("") is None and parse_service_type("swimming pool") is None
    services = pd.DataFrame(
        {
            "name": ["a", "b"],
            "type": ["school", "health"],
            "needs_mask": np.array([NEED_BITS["education"], ALL_NEEDS_MASK], dtype=np.uint16),
        }
    )
    assert list(services_serving(services, "health")["name"]) == ["b"]
    assert list(services_serving(services, "education", ["school"])["name"]) == ["a"]
    with pytest.raises(ValueError, match=r"Unknown service type\(s\) \['pool'\]; valid types are \['family_hub'"):
        services_serving(services, None, ["pool"])
    with pytest.raises(ValueError, match="Unknown need 'joy'"):
        services_serving(services, "joy")
    assert len(SERVICE_TYPES) == 9


def test_the_demo_services_link_every_demo_episode_to_a_site(directory, croydon_area):
    with open(DEMO_SERVICES, "rb") as handle:
        services = ingest_services(
            read_export(handle.read(), "croydon_services.csv"), DEMO_LA_CODE, directory, croydon_area
        )
    assert services.rows_read == services.accepted == 26 and services.rejected == 0
    assert set(services.services["type"]) == set(SERVICE_TYPES) - {"other"}
    cases = pd.DataFrame({"service": read_export(DEMO_FILE.read_bytes(), DEMO_FILE.name)["Allocated Team"]})
    links = link_cases(cases, services.services)
    assert links.linked_share == 1.0
    linked = dict(zip(links.values["case_service"], links.values["linked_to"], strict=False))
    assert linked["Family Hub Thornton Heath"] == "Family Hub Thornton Heath"
    assert linked["Family Support North"] == "Family Support North (Norbury base)"
    assert linked["School Early Help"] == "Bensham Brook Primary School"  # first school site with that team
    assert links.values["episodes"].sum() == len(cases)
    unlinked = link_cases(cases.assign(service="Somewhere Else"), services.services)
    assert unlinked.linked_share == 0.0 and list(unlinked.values["linked_to"]) == [""]
    few = link_cases(
        pd.DataFrame({"service": ["Youth Support"] * 3 + ["Domestic Abuse Service"] * 40 + ["X"] * 9}),
        services.services,
    ).shown_values()
    assert list(few.columns) == ["Service in case records", "Episodes", "Linked to"]
    assert list(few["Episodes"]) == [40, 9, 3]  # the team's exact counts (the coverage page shows it to the team only)
