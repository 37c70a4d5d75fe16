"""Downloads read back with real GIS clients (GDAL's ogrinfo, pyogrio, geopandas), as an analyst
opening them in QGIS would. Expected rows come from the registry with plain pandas, not from the
export code."""
import gzip
from pathlib import Path
import json
import subprocess

import geopandas as gpd
import pyogrio
import pytest

PLACE_LAYERS = ["high_tech_zones", "clusters_bases", "coastal_parks", "platforms_labs", "plan_areas",
                "shenyang_dalian_belt", "demo_zone_core"]
BOUNDARIES = {"province": "province", "cities": "city", "districts": "district"}
IMPORTED = ["enterprises_platforms"]   # filled by imports (layers/85_*.yaml); empty in the test app
FILE_LAYERS = PLACE_LAYERS + list(BOUNDARIES)
ALL_LAYERS = PLACE_LAYERS + IMPORTED + list(BOUNDARIES)


def source_frame(registry, layer):
    """The registry frame a published layer comes from, and its id column."""
    if layer in BOUNDARIES:
        return registry.boundaries[BOUNDARIES[layer]], "adcode"
    return registry.layers[layer], "id"


def ogrinfo(*args) -> str:
    result = subprocess.run(["ogrinfo", "-ro", "-so", *map(str, args)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "ERROR" not in result.stderr and "Warning" not in result.stderr, result.stderr
    return result.stdout


def feature_count(ogrinfo_output: str) -> int:
    counts = [int(line.split(":")[1]) for line in ogrinfo_output.splitlines() if line.startswith("Feature Count:")]
    assert len(counts) == 1, ogrinfo_output
    return counts[0]


def download(client, url, tmp_path, name):
    response = client.get(url)
    assert response.status_code == 200, response.data[:300]
    path = tmp_path / name
    path.write_bytes(response.data)
    return response, path


def signed_area(ring) -> float:
    """Shoelace formula: positive for a counter-clockwise ring."""
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:])) / 2


def polygons_of(geometry):
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    if geometry["type"] == "MultiPolygon":
        return geometry["coordinates"]
    return []


def all_positions(coords):
    if isinstance(coords[0], (int, float)):
        yield coords
    else:
        for part in coords:
            yield from all_positions(part)


@pytest.mark.parametrize("layer", FILE_LAYERS)
def test_geojson_export_is_rfc7946_and_opens_in_gdal(client, registry, tmp_path, layer):
    frame, id_column = source_frame(registry, layer)
    response, path = download(client, f"/export/{layer}.geojson", tmp_path, f"{layer}.geojson")
    assert response.mimetype == "application/geo+json"
    assert f'filename="liaoning_{layer}.geojson"' in response.headers["Content-Disposition"]

    info = ogrinfo(path, "-al")
    assert feature_count(info) == len(frame)
    assert 'ID["EPSG",4326]' in info  # GDAL reads RFC 7946 GeoJSON as WGS 84

    doc = json.loads(response.data.decode("utf-8"))
    assert "crs" not in doc
    assert [f["id"] for f in doc["features"]] == list(frame[id_column])  # stable ids, layer order
    text = response.data.decode("utf-8")
    assert "\\u" not in text and frame["name_zh"].iloc[0] in text  # Chinese as UTF-8, not escapes
    for feature, geometry in zip(doc["features"], frame.geometry):
        for position in all_positions(feature["geometry"]["coordinates"]):
            assert all(len(repr(v).split(".")[1]) <= 6 for v in position)  # documented precision
            assert 118 < position[0] < 126 and 38 < position[1] < 44  # lon, lat order
        for polygon in polygons_of(feature["geometry"]):
            assert signed_area(polygon[0]) > 0  # exterior counter-clockwise
            assert all(signed_area(hole) < 0 for hole in polygon[1:])

    read = pyogrio.read_dataframe(path)
    assert list(read["name_zh"]) == list(frame["name_zh"])


@pytest.mark.parametrize("layer", FILE_LAYERS)
def test_geopackage_export_opens_in_gdal_as_epsg_4326(client, registry, tmp_path, layer):
    frame, id_column = source_frame(registry, layer)
    response, path = download(client, f"/export/{layer}.gpkg", tmp_path, f"{layer}.gpkg")
    assert response.headers["Content-Disposition"] == f'attachment; filename="liaoning_{layer}.gpkg"'
    info = ogrinfo(path, layer)
    assert feature_count(info) == len(frame)
    assert 'ID["EPSG",4326]' in info
    read = pyogrio.read_dataframe(path, layer=layer)
    assert read.crs.to_epsg() == 4326
    assert list(read[id_column]) == list(frame[id_column])
    assert list(read["name_zh"]) == list(frame["name_zh"])
    assert read.geometry.geom_equals_exact(frame.geometry.reset_index(drop=True), tolerance=1e-6).all()


@pytest.mark.parametrize("layer", FILE_LAYERS)
def test_csv_export_has_bom_and_opens_in_gdal(client, registry, tmp_path, layer):
    frame, id_column = source_frame(registry, layer)
    response, path = download(client, f"/export/{layer}.csv", tmp_path, f"{layer}.csv")
    assert response.data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel opens Chinese right
    points = (frame.geom_type == "Point").all()
    # Points come as lon/lat columns; polygons as a WKT column, which GDAL picks up by name.
    options = ["-oo", "X_POSSIBLE_NAMES=lon", "-oo", "Y_POSSIBLE_NAMES=lat"] if points else []
    info = ogrinfo(path, "-al", *options)
    assert feature_count(info) == len(frame)
    read = pyogrio.read_dataframe(path, **({"X_POSSIBLE_NAMES": "lon", "Y_POSSIBLE_NAMES": "lat"} if points else {}))
    assert list(read[id_column]) == list(frame[id_column])
    assert list(read["name_zh"]) == list(frame["name_zh"])
    read = read.set_crs(4326)  # a CSV carries no CRS; the columns are WGS84 lon/lat by contract
    assert read.geometry.geom_equals_exact(frame.geometry.reset_index(drop=True), tolerance=1e-6).all()


def test_all_layers_geopackage_has_every_layer_filtered(client, registry, tmp_path):
    _, path = download(client, "/export/all.gpkg?city=大连", tmp_path, "all.gpkg")
    listed = {row[0] for row in pyogrio.list_layers(path)}
    assert listed == set(ALL_LAYERS) | {"layer_styles"}  # + QGIS's style table
    dalian = "210200"
    for layer in ["high_tech_zones", "clusters_bases", "platforms_labs", "coastal_parks"]:
        expected = registry.layers[layer].query("city_adcode == @dalian")
        assert feature_count(ogrinfo(path, layer)) == len(expected) > 0
        assert set(pyogrio.read_dataframe(path, layer=layer)["id"]) == set(expected["id"])
    districts = registry.boundaries["district"]
    assert feature_count(ogrinfo(path, "districts")) == (districts["parent_adcode"] == dalian).sum()


def test_filtered_export_is_what_geopandas_reads_from_the_url(live_server, registry):
    url = f"{live_server}/export/clusters_bases.geojson?industry=biomedicine&level=unspecified"
    read = gpd.read_file(url)
    frame = registry.layers["clusters_bases"]
    biomedicine = frame["industries"].str.split(";").map(lambda codes: "biomedicine" in codes)
    expected = frame[biomedicine & (frame["level"] == "unspecified")]
    assert len(expected) > 0 and sorted(read["id"]) == sorted(expected["id"])
    assert read.crs.to_epsg() == 4326
    assert set(read["name_zh"]) == set(expected["name_zh"])


def test_empty_selection_still_opens_with_the_layer_schema(client, tmp_path):
    # No coastal park lies in Shenyang (an inland city).
    for fmt in ("geojson", "gpkg"):
        _, path = download(client, f"/export/coastal_parks.{fmt}?city=沈阳", tmp_path, f"empty.{fmt}")
        assert feature_count(ogrinfo(path, "coastal_parks" if fmt == "gpkg" else "-al")) == 0
    assert json.loads(client.get("/export/coastal_parks.geojson?city=沈阳").data)["features"] == []


def test_download_name_says_what_the_filter_selected(client):
    response = client.get("/export/high_tech_zones.csv?city=大连,沈阳&level=national")
    assert response.headers["Content-Disposition"] == \
        'attachment; filename="liaoning_high_tech_zones_city-210100+210200_level-national.csv"'


def test_etag_gives_304_and_gzip_is_negotiated(client):
    url = "/export/districts.geojson"
    plain = client.get(url)
    assert "Content-Encoding" not in plain.headers and plain.headers["Vary"] == "Accept-Encoding"
    packed = client.get(url, headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert len(packed.data) < len(plain.data) / 2
    again = client.get(url, headers={"If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    other = client.get("/export/districts.geojson?city=210200", headers={"If-None-Match": plain.headers["ETag"]})
    assert other.status_code == 200  # a different selection is a different entity


def test_unknown_layer_is_404_listing_the_layers(client):
    response = client.get("/export/parks.geojson")
    assert response.status_code == 404
    body = response.get_json()
    assert "parks" in body["message"] and set(ALL_LAYERS) <= set(body["layers"])
    assert client.get("/export/high_tech_zones.shp").status_code == 404
    assert client.get("/export/all.csv").status_code == 404


def test_unknown_filter_value_is_400_listing_allowed_values(client):
    response = client.get("/export/high_tech_zones.geojson?industry=tourism")
    assert response.status_code == 400
    body = response.get_json()
    assert body["parameter"] == "industry" and "biomedicine" in body["allowed"]


def test_api_layers_lists_every_layer_with_counts_and_working_links(client, registry):
    body = client.get("/api/layers").get_json()
    by_id = {entry["id"]: entry for entry in body["layers"]}
    assert set(by_id) == set(ALL_LAYERS)
    assert by_id["enterprises_platforms"]["feature_count"] == 0   # nothing imported in the test app
    for layer in FILE_LAYERS:
        frame, _ = source_frame(registry, layer)
        entry = by_id[layer]
        assert entry["feature_count"] == len(frame)
        assert entry["title"]["zh"] and entry["title"]["en"]
        assert entry["geometry_type"] == frame.geom_type.iloc[0]
        for link in ("geojson", "gpkg", "csv", "ogc_items"):
            assert client.get(entry["links"][link].removeprefix("http://localhost")).status_code == 200

    filtered = client.get("/api/layers?industry=biomedicine").get_json()
    htz = next(e for e in filtered["layers"] if e["id"] == "high_tech_zones")
    frame = registry.layers["high_tech_zones"]
    assert htz["matching_count"] == frame["industries"].str.contains("biomedicine").sum()
    assert "industry=biomedicine" in htz["links"]["geojson"]


# --- label columns and the cities' figures ---------------------------------------------------------

def test_label_columns_sit_next_to_each_code_column(client, registry, tmp_path):
    from geoapp import vocab
    _, path = download(client, "/export/high_tech_zones.gpkg", tmp_path, "htz.gpkg")
    read = pyogrio.read_dataframe(path, layer="high_tech_zones")
    columns = list(read.columns)
    for code, prefix in [("kind", "kind"), ("level", "level"), ("city_adcode", "city"),
                         ("district_adcode", "district"), ("industries", "industries")]:
        at = columns.index(code)
        assert columns[at + 1:at + 3] == [f"{prefix}_zh", f"{prefix}_en"], columns
    frame = registry.layers["high_tech_zones"]
    cities = registry.boundaries["city"].set_index("adcode")
    districts = registry.boundaries["district"].set_index("adcode")
    for row, source in zip(read.itertuples(), frame.itertuples()):
        assert (row.level_zh, row.level_en) == vocab.LEVELS[source.level]
        assert (row.kind_zh, row.kind_en) == vocab.KINDS[source.kind]
        assert (row.city_zh, row.city_en) == tuple(cities.loc[source.city_adcode, ["name_zh", "name_en"]])
        if source.district_adcode:
            assert row.district_zh == districts.loc[source.district_adcode, "name_zh"]
        else:  # located to the city only: no district, no label
            assert row.district_zh is None or row.district_zh != row.district_zh
        if isinstance(source.industries, str) and source.industries:
            codes = source.industries.split(";")
            assert row.industries_en.split(";") == [registry.plan.industries[c][1] for c in codes]
        else:
            assert row.industries_en is None or row.industries_en != row.industries_en
    dalian = read[read["id"] == "htz_dalian"].iloc[0]
    assert (dalian["city_zh"], dalian["city_en"], dalian["level_zh"]) == ("大连市", "Dalian", "国家级")


def test_cities_layer_carries_the_per_city_figures_of_stats(client, tmp_path):
    stats = {row["city_adcode"]: row for row in client.get("/api/distribution").get_json()["cities"]}
    _, path = download(client, "/export/cities.gpkg", tmp_path, "cities.gpkg")
    read = pyogrio.read_dataframe(path, layer="cities")
    assert len(read) == 14
    figures = [c for c, v in next(iter(stats.values())).items() if isinstance(v, int)]
    assert {"htz_national", "places", "tasks", "industry_biomedicine"} <= set(figures)
    for row in read.to_dict("records"):
        assert {f: int(row[f]) for f in figures} == {f: stats[row["adcode"]][f] for f in figures}, row["adcode"]
    assert read["htz_national"].sum() == 8


# --- GeoPackage styles, FlatGeobuf, zipped Shapefile -------------------------------------------------

def _ogr_rows(path, *args) -> list[dict]:
    """ogrinfo -q feature dump as a list of {field: value} (first line of each value)."""
    result = subprocess.run(["ogrinfo", "-ro", "-q", str(path), *map(str, args)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and "ERROR" not in result.stderr, result.stderr
    rows = []
    for line in result.stdout.splitlines():
        if line.startswith("OGRFeature("):
            rows.append({})
        elif rows and " = " in line and line.startswith("  ") and not line.startswith("   "):
            name, value = line[2:].split(" = ", 1)
            rows[-1][name.split(" (")[0]] = value
    return rows


def test_geopackage_has_a_layer_style_for_every_layer(client, tmp_path):
    import xml.etree.ElementTree as ET
    from geoapp import LAYERS_DIR
    from geoapp.specs import load_specs
    specs = {spec.id: spec for spec in load_specs(LAYERS_DIR)}
    _, path = download(client, "/export/all.gpkg", tmp_path, "all.gpkg")
    styles = _ogr_rows(path, "layer_styles")
    assert sorted(row["f_table_name"] for row in styles) == sorted(ALL_LAYERS)
    assert all(row["f_geometry_column"] == "geom" and row["useAsDefault"] == "1" for row in styles)
    sld_ns = "{http://www.opengis.net/sld}"
    for layer in ALL_LAYERS:
        spec = specs[layer]
        # the query QGIS runs when it opens a layer (QgsOgrProviderMetadata::loadStyle)
        (row,) = _ogr_rows(path, "layer_styles", "-where",
                           f"f_table_schema='' AND f_table_name='{layer}' AND f_geometry_column='geom' "
                           "ORDER BY CASE WHEN useAsDefault THEN 1 ELSE 2 END,update_time DESC LIMIT 1")
        assert row["f_table_name"] == layer
        db = pyogrio.read_dataframe(path, layer="layer_styles", read_geometry=False)
        qml_text, sld_text = db.loc[db["f_table_name"] == layer, ["styleQML", "styleSLD"]].iloc[0]
        qml = ET.fromstring(qml_text.split("\n", 1)[1])
        renderer = qml.find("renderer-v2")
        if spec.geometry == "choropleth":
            assert renderer.get("type") == "graduatedSymbol" and renderer.get("attr") == "places"
        elif spec.style.get("by"):
            assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == spec.style["by"]
            assert [c.get("value") for c in renderer.iter("category")] == list(spec.style["values"])
        else:
            assert renderer.get("type") == "singleSymbol"
        sld = ET.fromstring(sld_text.encode("utf-8"))
        rules = list(sld.iter(f"{sld_ns}Rule"))
        assert len(rules) == max(1, len(spec.style.get("values", {})) if spec.geometry != "choropleth" else 1) \
            or spec.geometry == "choropleth"
        info = ogrinfo(path, layer)
        assert f"DESCRIPTION={spec.title['zh']} / {spec.title['en']}" in info


def test_high_tech_zone_style_is_the_maps(client, tmp_path):
    import xml.etree.ElementTree as ET
    _, path = download(client, "/export/high_tech_zones.gpkg", tmp_path, "htz.gpkg")
    db = pyogrio.read_dataframe(path, layer="layer_styles", read_geometry=False)
    assert list(db["f_table_name"]) == ["high_tech_zones"]
    qml = ET.fromstring(db["styleQML"].iloc[0].split("\n", 1)[1])
    national = next(s for s in qml.iter("symbol") if s.get("name") == "0")
    options = {o.get("name"): o.get("value") for o in national.iter("Option") if o.get("name")}
    # layers/60_high_tech_zones.yaml: national fill #e74c3c, outline #922b21, radius 10, fill_opacity 0.9
    assert options["color"] == "231,76,60,230" and options["outline_color"] == "146,43,33,255"
    assert options["size"] == "20" and options["size_unit"] == "Pixel"


@pytest.mark.parametrize("layer", ALL_LAYERS)
def test_flatgeobuf_reads_back_with_chinese_names(client, registry, tmp_path, layer):
    frame, id_column = source_frame(registry, layer)
    response, path = download(client, f"/export/{layer}.fgb", tmp_path, f"{layer}.fgb")
    assert response.mimetype == "application/flatgeobuf"
    assert f'filename="liaoning_{layer}.fgb"' in response.headers["Content-Disposition"]
    info = ogrinfo(path, "-al")
    assert feature_count(info) == len(frame) and 'ID["EPSG",4326]' in info
    # the packed R-tree stores features in Hilbert order: compare by id
    read = gpd.read_file(path).set_index(id_column).loc[list(frame[id_column])].reset_index()
    assert read.crs.to_epsg() == 4326
    assert list(read["name_zh"]) == list(frame["name_zh"])
    assert read.geometry.geom_equals_exact(frame.geometry.reset_index(drop=True), tolerance=1e-6).all()
    names = {row["name_zh"] for row in _ogr_rows(path, "-al")}
    assert names == set(frame["name_zh"])  # GDAL reads the UTF-8 too


@pytest.mark.parametrize("layer", ALL_LAYERS)
def test_zipped_shapefile_reads_back_with_chinese_names(client, registry, tmp_path, layer):
    import zipfile
    frame, id_column = source_frame(registry, layer)
    response, path = download(client, f"/export/{layer}.shp.zip", tmp_path, f"{layer}.shp.zip")
    assert response.mimetype == "application/zip"
    assert f'filename="liaoning_{layer}.shp.zip"' in response.headers["Content-Disposition"]
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        assert {f"liaoning_{layer}{s}" for s in (".shp", ".shx", ".dbf", ".prj", ".cpg")} <= names
        assert archive.read(f"liaoning_{layer}.cpg").decode("ascii").strip().upper() == "UTF-8"
        mapping = archive.read("fields.csv").decode("utf-8-sig").splitlines()[1:]
    fields = dict(line.split(",", 1) for line in mapping)
    info = ogrinfo(f"/vsizip/{path}", "-al")
    assert feature_count(info) == len(frame) and "Warning" not in info
    read = gpd.read_file(f"zip://{path}")
    assert read.crs.to_epsg() == 4326
    assert all(len(c) <= 10 for c in read.columns)
    assert set(read.columns) - {"geometry"} == set(fields)
    short = {column: field for field, column in fields.items()}
    assert list(read[short[id_column]]) == list(frame[id_column])
    assert list(read["name_zh"]) == list(frame["name_zh"])
    assert {row["name_zh"] for row in _ogr_rows(f"/vsizip/{path}", "-al")} == set(frame["name_zh"])
    # Shapefile rings run clockwise and single-part polygons read back as Polygon: same shapes
    assert read.geometry.geom_equals(frame.geometry.reset_index(drop=True)).all()
    # text longer than dBASE's 254 bytes continues in <field>_2, ...: nothing is cut off
    for column in ("note", "source"):
        if column not in frame or frame.empty:   # an imported layer before its first import
            continue
        parts = [f for f, c in fields.items() if c == column or c.startswith(f"{column} (part ")]
        joined = read[parts].fillna("").astype(str).agg("".join, axis=1)
        assert list(joined) == [v if isinstance(v, str) else "" for v in frame[column]]


def test_shapefile_field_names_are_documented():
    from geoapp.export.serialize import SHAPEFILE_FIELDS, shapefile_names
    from tests.plans_fixture import shipped_plan
    industries = shipped_plan().industries
    docs = (Path(__file__).resolve().parent.parent / "docs" / "ogc.md").read_text(encoding="utf-8")
    for column, field in SHAPEFILE_FIELDS.items():
        assert f"| `{column}` | `{field}` |" in docs
    every = list(dict.fromkeys([f"industry_{code}" for code in industries] + list(SHAPEFILE_FIELDS)))
    assert all(f"industry_{code}" in SHAPEFILE_FIELDS for code in industries)
    short = shapefile_names(every)
    assert len(set(short.values())) == len(every) and all(len(f) <= 10 for f in short.values())


def test_cities_figures_follow_the_filter_like_stats(client, live_server, tmp_path):
    query = "industry=biomedicine&level=national"
    stats = {row["city_adcode"]: row for row in client.get(f"/api/distribution?{query}").get_json()["cities"]}
    whole = {row["city_adcode"]: row for row in client.get("/api/distribution").get_json()["cities"]}
    assert any(stats[c]["places"] != whole[c]["places"] for c in stats)  # the filter changes figures
    _, path = download(client, f"/export/cities.gpkg?{query}", tmp_path, "cities_bio.gpkg")
    read = pyogrio.read_dataframe(path, layer="cities")
    geojson = gpd.read_file(f"{live_server}/export/cities.geojson?{query}")
    items = client.get(f"/ogc/collections/cities/items?{query}").get_json()["features"]
    for figure in ("places", "htz_national", "industry_biomedicine", "tasks"):
        expected = {code: row[figure] for code, row in stats.items()}
        assert dict(zip(read["adcode"], read[figure].astype(int))) == expected, figure
        assert dict(zip(geojson["adcode"], geojson[figure].astype(int))) == expected, figure
        assert {f["id"]: f["properties"][figure] for f in items} == expected, figure
