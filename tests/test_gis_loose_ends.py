"""GIS loose ends (issue 22 item 9): an empty layer in a GeoPackage still has its geometry type
and CRS, read back as GIS clients read it (GDAL's ogrinfo, geopandas)."""
import shutil
import subprocess

import geopandas as gpd
import pyogrio
import pytest


@pytest.fixture
def all_gpkg(client, tmp_path):
    response = client.get("/export/all.gpkg")
    assert response.status_code == 200
    path = tmp_path / "all.gpkg"
    path.write_bytes(response.data)
    return path


def test_the_empty_import_layer_has_a_geometry_type_and_a_crs(all_gpkg, app):
    catalog = app.extensions["atlas"].bundle().catalog
    empty = [c for c in catalog.collections.values() if len(c.frame) == 0]
    assert empty, "the shipped data has an imported list with no rows yet"
    layers = dict(pyogrio.list_layers(all_gpkg))
    for collection in empty:
        assert layers[collection.id] == "Point"
        frame = gpd.read_file(all_gpkg, layer=collection.id)
        assert len(frame) == 0 and frame.crs is not None and frame.crs.to_epsg() == 4326
    # every layer of the file: a real type, EPSG:4326
    for name, geometry_type in layers.items():
        if name == "layer_styles":
            continue
        assert geometry_type not in (None, "Unknown"), name
        assert pyogrio.read_info(all_gpkg, layer=name)["crs"] == "EPSG:4326", name


def test_ogrinfo_reads_the_empty_layer_as_points_in_wgs84(all_gpkg):
    assert shutil.which("ogrinfo"), "GDAL's ogrinfo is missing: make system-deps installs gdal-bin"
    out = subprocess.run(["ogrinfo", "-so", str(all_gpkg), "enterprises_platforms"],
                         capture_output=True, text=True, check=True).stdout
    assert "Geometry: Point" in out and "Feature Count: 0" in out
    assert 'ID["EPSG",4326]' in out
