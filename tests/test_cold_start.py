"""The first start on an empty cache: the national LSOA boundaries are read once, the cache is built in one pass
with progress, and messages about reference files name a file, never its server path (issue 18)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from ehmap import geography
from tests.conftest import CROYDON


class ReadCounter:
    """Counts reads of the LSOA boundaries: of the source GeoJSON, and of the whole converted file in the cache."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.source = self.whole_cache = self.part_of_cache = 0
        read_file, read_parquet = gpd.read_file, gpd.read_parquet

        def counting_read_file(path, *args, **kwargs):
            self.source += Path(str(path)) == geography.lsoa_source_path()
            return read_file(path, *args, **kwargs)

        def counting_read_parquet(path, *args, **kwargs):
            if Path(str(path)).name.startswith("lsoa11_"):
                if kwargs.get("filters"):
                    self.part_of_cache += 1
                else:
                    self.whole_cache += 1
            return read_parquet(path, *args, **kwargs)

        monkeypatch.setattr(gpd, "read_file", counting_read_file)
        monkeypatch.setattr(gpd, "read_parquet", counting_read_parquet)


def test_a_cold_start_builds_the_cache_once_in_a_child_process_with_progress(tmp_path, monkeypatch):
    from ehmap import geocode
    from ehmap.areas import lsoa_area_set
    from ehmap.geocode import PostcodeDirectory

    monkeypatch.setenv("EHMAP_CACHE_DIR", str(tmp_path))
    reads = ReadCounter(monkeypatch)
    builds, steps = [], []
    build = geocode.build_reference_cache
    monkeypatch.setattr(geocode, "build_reference_cache", lambda progress=geocode._no_progress: builds.append(1)
                        or build(lambda done, text: (steps.append((done, text)), progress(done, text))))
    assert not geocode.reference_cache_ready()

    # what the app does on its first run: council list, postcode directory, the council's LSOAs and areas
    names = {council.code: council.name for council in geography.councils()}
    directory = PostcodeDirectory.load()
    croydon = geography.council_lsoas(CROYDON)
    areas = lsoa_area_set(CROYDON)

    assert names[CROYDON] == "Croydon" and directory.size > 2_500_000
    assert len(croydon) == len(areas.areas) == 220
    assert geocode.reference_cache_ready()
    assert builds == [1]  # one build makes every table
    assert (reads.source, reads.whole_cache) == (0, 0), "this process never reads the national boundaries"
    assert reads.part_of_cache == 2  # only Croydon's 220 polygons, once for each caller
    fractions = [done for done, _ in steps]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert len(steps) >= 5 and all(text for _, text in steps)  # the first start says what it is doing


def test_the_build_reads_the_national_boundaries_once(tmp_path, monkeypatch):
    from ehmap import geocode

    monkeypatch.setenv("EHMAP_CACHE_DIR", str(tmp_path))
    reads = ReadCounter(monkeypatch)
    geocode.build_reference_cache_here()
    assert geocode.reference_cache_ready()
    assert reads.source == 1, "the national LSOA GeoJSON is read once"
    assert reads.whole_cache == 0, "and the converted boundaries are not read back"


def test_a_failed_build_says_why_in_one_line(tmp_path, monkeypatch):
    from ehmap import geocode

    monkeypatch.setenv("EHMAP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("QLACREF_DATA_DIR", str(tmp_path / "postcodes"))  # the child reads a damaged directory
    (tmp_path / "postcodes").mkdir()
    (tmp_path / "postcodes" / "postcodes_A.msgpack.br").write_bytes(b"not brotli")
    with pytest.raises(RuntimeError, match="^Building the reference cache failed: ") as raised:
        geocode.build_reference_cache()
    assert "Traceback" not in str(raised.value) and "\n" not in str(raised.value)
    assert not geocode.reference_cache_ready()


def test_a_warm_start_names_councils_and_finds_their_lsoas_without_reading_every_polygon(directory, monkeypatch):
    geography._lsoa_councils.cache_clear()
    reads = ReadCounter(monkeypatch)
    geography.councils()
    geography.council_lsoas(CROYDON)
    geography.council_lsoas("E08000025")  # Birmingham
    assert geography._lsoa_councils.cache_info().misses == 1  # codes and names read once per process
    assert (reads.source, reads.whole_cache, reads.part_of_cache) == (0, 0, 2)


def _file_without_crs(folder: Path, code_column: str, name_column: str) -> Path:
    """A zipless Shapefile with no .prj: GDAL reads it with no CRS."""
    frame = gpd.GeoDataFrame({code_column: ["X01"], name_column: ["Somewhere"]},
                             geometry=[shapely.box(0, 0, 1, 1)], crs=None)
    path = folder / "private-server-folder" / "boundaries.shp"
    path.parent.mkdir()
    frame.to_file(path)
    assert not path.with_suffix(".prj").exists()
    return path


def test_a_boundary_file_without_a_crs_is_named_by_its_file_name_never_its_server_path(tmp_path, monkeypatch):
    from ehmap.areas import WARD_BOUNDARY_SET, _ward_boundaries_cached
    from ehmap.catalogue import boundary_set

    monkeypatch.setenv("EHMAP_CACHE_DIR", str(tmp_path / "cache"))
    wards = boundary_set(WARD_BOUNDARY_SET)
    path = _file_without_crs(tmp_path, wards.code_column, wards.name_column)
    with pytest.raises(ValueError, match=r"^boundaries\.shp declares no CRS") as raised:
        _ward_boundaries_cached(path, "no-crs-test")
    assert "private-server-folder" not in str(raised.value) and str(tmp_path) not in str(raised.value)

    lsoas = boundary_set("lsoa11")
    (tmp_path / "lsoa").mkdir()
    path = _file_without_crs(tmp_path / "lsoa", lsoas.code_column, lsoas.name_column)
    monkeypatch.setattr(geography, "lsoa_source_path", lambda: path)
    with pytest.raises(ValueError, match=r"^boundaries\.shp declares no CRS") as raised:
        geography.lsoa_boundaries()
    assert "private-server-folder" not in str(raised.value) and str(tmp_path) not in str(raised.value)
