"""OGC API – Features read by the clients GIS analysts use: GDAL's OAPIF driver (as QGIS does),
OWSLib, and plain HTTP for the standard's parameters. Expected features come from the registry
with geopandas, not from the endpoint's code."""
import json
import re
import subprocess

import pyogrio
import pytest
import shapely
from owslib.ogcapi.features import Features

COLLECTIONS = {"high_tech_zones": "id", "clusters_bases": "id", "coastal_parks": "id",
               "platforms_labs": "id", "plan_areas": "id", "shenyang_dalian_belt": "id",
               "demo_zone_core": "id", "province": "adcode", "cities": "adcode", "districts": "adcode"}
BOUNDARIES = {"province": "province", "cities": "city", "districts": "district"}
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000


def source_frame(registry, collection_id):
    if collection_id in BOUNDARIES:
        return registry.boundaries[BOUNDARIES[collection_id]]
    return registry.layers[collection_id]


def ids_of(registry, collection_id, frame=None):
    frame = source_frame(registry, collection_id) if frame is None else frame
    return list(frame[COLLECTIONS[collection_id]])


def assert_ogc_error(response, status):
    assert response.status_code == status, response.data[:300]
    body = response.get_json()
    assert set(body) == {"code", "description"} and body["description"], body
    return body


# --- GDAL's OGC API – Features driver ---------------------------------------------------------

def published_order(registry):
    return list(registry.layers) + list(BOUNDARIES)


def test_gdal_oapif_lists_every_collection(live_server, registry):
    result = subprocess.run(["ogrinfo", "-ro", f"OAPIF:{live_server}/ogc"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and "ERROR" not in result.stderr, result.stderr
    listed = [line.split(": ", 1)[1].split(" ")[0] for line in result.stdout.splitlines()
              if line[:1].isdigit()]
    assert listed == published_order(registry) and set(listed) == set(COLLECTIONS) | {"enterprises_platforms"}
    assert "高新技术产业开发区" in result.stdout  # Chinese titles intact


@pytest.mark.parametrize("collection_id", list(COLLECTIONS))
def test_gdal_oapif_reads_all_features_of_each_collection(live_server, registry, tmp_path, collection_id):
    # A page size of 30 makes GDAL follow our `next` links through the 100 districts.
    out = tmp_path / f"{collection_id}.gpkg"
    result = subprocess.run(["ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{live_server}/ogc", collection_id,
                             "-oo", "PAGE_SIZE=30"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "ERROR" not in result.stderr, result.stderr
    read = pyogrio.read_dataframe(out)
    frame = source_frame(registry, collection_id)
    assert read.crs.to_epsg() == 4326
    assert sorted(read[COLLECTIONS[collection_id]]) == sorted(ids_of(registry, collection_id))
    assert set(read["name_zh"]) == set(frame["name_zh"])


def test_gdal_oapif_applies_a_spatial_filter_like_geopandas(live_server, registry):
    west, south, east, north = 121.0, 38.7, 122.5, 39.6  # around Dalian
    result = subprocess.run(["ogrinfo", "-ro", "-al", "-q", "-spat", str(west), str(south), str(east),
                             str(north), f"OAPIF:{live_server}/ogc", "districts"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    got = {line.split("=")[1].strip() for line in result.stdout.splitlines()
           if line.strip().startswith("adcode (String)")}
    districts = registry.boundaries["district"]
    assert got == set(districts.cx[west:east, south:north]["adcode"])


# --- OWSLib --------------------------------------------------------------------------------------

def test_owslib_reads_collections_items_and_one_feature(live_server, registry):
    api = Features(f"{live_server}/ogc")
    assert [c["id"] for c in api.collections()["collections"]] == published_order(registry)
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in api.conformance()["conformsTo"]
    page = api.collection_items("cities", limit=5, offset=10)
    assert page["numberMatched"] == 14 and page["numberReturned"] == 4
    assert [f["id"] for f in page["features"]] == list(registry.boundaries["city"]["adcode"][10:])
    dalian = api.collection_item("high_tech_zones", "htz_dalian")
    assert dalian["properties"]["name_zh"] == "大连高新技术产业园区"
    stored = registry.layer("high_tech_zones").set_index("id").geometry["htz_dalian"]
    assert dalian["geometry"]["coordinates"] == pytest.approx([stored.x, stored.y], abs=1e-6)
    assert "/collections/{collectionId}/items" in api.api()["paths"]


# --- the items parameters -------------------------------------------------------------------------

@pytest.mark.parametrize("collection_id, bbox", [
    ("districts", (123.0, 41.5, 123.8, 42.0)),        # Shenyang's core
    ("cities", (120.0, 40.0, 121.0, 41.0)),           # west: Huludao, Jinzhou, Chaoyang edges
    ("high_tech_zones", (121.0, 38.5, 124.0, 41.0)),  # south half of the province
    ("clusters_bases", (123.0, 41.0, 125.0, 42.5)),
    ("shenyang_dalian_belt", (124.5, 42.5, 125.5, 43.0)),  # off the corridor: nothing
])
def test_bbox_selects_exactly_what_geopandas_selects(client, registry, collection_id, bbox):
    west, south, east, north = bbox
    frame = source_frame(registry, collection_id)
    expected = ids_of(registry, collection_id, frame.cx[west:east, south:north])
    also_expected = ids_of(registry, collection_id, frame[frame.intersects(shapely.box(*bbox))])
    assert expected == also_expected
    body = client.get(f"/ogc/collections/{collection_id}/items?bbox={west},{south},{east},{north}").get_json()
    assert [f["id"] for f in body["features"]] == expected
    assert body["numberMatched"] == len(expected)


def test_property_filters_use_the_shared_filter(client, registry):
    body = client.get("/ogc/collections/high_tech_zones/items?level=national&city=沈阳,dalian").get_json()
    frame = registry.layers["high_tech_zones"]
    expected = frame[(frame["level"] == "national") & frame["city_adcode"].isin(["210100", "210200"])]
    assert sorted(f["id"] for f in body["features"]) == sorted(expected["id"])
    assert body["numberMatched"] == len(expected) == 2
    # boundaries honour only the city
    districts = client.get("/ogc/collections/districts/items?city=210200").get_json()
    district_frame = registry.boundaries["district"]
    assert {f["id"] for f in districts["features"]} == \
        set(district_frame[district_frame["parent_adcode"] == "210200"]["adcode"])


def test_paging_with_limit_offset_and_next_prev_links(client, registry):
    seen, url = [], "/ogc/collections/districts/items?limit=40"
    pages = 0
    while url:
        body = client.get(url.removeprefix("http://localhost")).get_json()
        pages += 1
        assert body["numberMatched"] == 100 and body["numberReturned"] == len(body["features"])
        assert body["timeStamp"].endswith("Z")
        rels = {link["rel"]: link["href"] for link in body["links"]}
        assert ("prev" in rels) == (pages > 1)
        seen += [f["id"] for f in body["features"]]
        url = rels.get("next")
    assert pages == 3 and seen == ids_of(registry, "districts")


def test_default_limit_and_over_maximum_limit_is_clamped(client, registry):
    default = client.get("/ogc/collections/districts/items").get_json()
    assert default["numberReturned"] == min(DEFAULT_LIMIT, 100)
    for huge in ("5000", "99999999999999999999999"):
        body = client.get(f"/ogc/collections/districts/items?limit={huge}").get_json()
        assert body["numberReturned"] == 100  # clamped to 1000, all 100 fit
        assert f"limit={MAX_LIMIT}" in next(link["href"] for link in body["links"] if link["rel"] == "self")
    spec = client.get("/ogc/api").get_json()["components"]["parameters"]["limit"]["schema"]
    assert spec["default"] == DEFAULT_LIMIT and spec["maximum"] == MAX_LIMIT


@pytest.mark.parametrize("query", ["bbox=a,b,c,d", "bbox=121,38,122", "bbox=121,40,122,39",
                                   "bbox=121,38,122,nan", "bbox=200,38,210,39", "limit=-5", "limit=0",
                                   "limit=ten", "offset=-1", "f=xml", "color=red"])
def test_bad_parameters_answer_400_ogc_exception(client, query):
    body = assert_ogc_error(client.get(f"/ogc/collections/cities/items?{query}"), 400)
    assert body["code"] == "InvalidParameterValue"


def test_unknown_property_value_is_an_ogc_400_listing_allowed_values(client):
    body = assert_ogc_error(client.get("/ogc/collections/high_tech_zones/items?industry=tourism"), 400)
    assert "tourism" in body["description"] and "biomedicine" in body["description"]
    body = assert_ogc_error(client.get("/ogc/collections/cities/items?city=北京"), 400)
    assert "210100 (沈阳市, Shenyang)" in body["description"]


def test_unknown_collection_feature_or_path_is_404(client):
    assert assert_ogc_error(client.get("/ogc/collections/parks"), 404)["code"] == "NotFound"
    assert_ogc_error(client.get("/ogc/collections/parks/items"), 404)
    assert_ogc_error(client.get("/ogc/collections/cities/items/110000"), 404)
    assert_ogc_error(client.get("/ogc/nothing/here"), 404)


def test_feature_by_id_is_the_registry_row(client, registry):
    for collection_id in COLLECTIONS:
        frame = source_frame(registry, collection_id)
        row = frame.iloc[-1]
        feature_id = row[COLLECTIONS[collection_id]]
        response = client.get(f"/ogc/collections/{collection_id}/items/{feature_id}")
        assert response.mimetype == "application/geo+json"
        feature = response.get_json()
        assert feature["id"] == feature_id and feature["properties"]["name_zh"] == row["name_zh"]
        assert shapely.geometry.shape(feature["geometry"]).equals_exact(row.geometry, 1e-6)
        assert {"self", "alternate", "collection"} <= {link["rel"] for link in feature["links"]}


# --- landing, conformance, collections, OpenAPI, HTML ------------------------------------------------

def test_landing_links_resolve_and_conformance_declares_the_classes(client):
    landing = client.get("/ogc").get_json()
    rels = {link["rel"]: link for link in landing["links"]}
    assert {"self", "alternate", "service-desc", "service-doc", "conformance", "data"} <= set(rels)
    for link in landing["links"]:
        assert client.get(link["href"].removeprefix("http://localhost")).status_code == 200
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    conforms = client.get("/ogc/conformance").get_json()["conformsTo"]
    for cls in ("core", "geojson", "html", "oas30"):
        assert f"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{cls}" in conforms


def test_collection_extent_is_the_bbox_of_the_data(client, registry):
    for collection_id in COLLECTIONS:
        body = client.get(f"/ogc/collections/{collection_id}").get_json()
        assert body["id"] == collection_id and body["itemType"] == "feature"
        assert body["extent"]["spatial"]["bbox"][0] == pytest.approx(
            list(source_frame(registry, collection_id).total_bounds), abs=1e-6)


def test_openapi_document_describes_every_ogc_route(app, client):
    response = client.get("/ogc/api")
    assert response.mimetype == "application/vnd.oai.openapi+json"
    doc = json.loads(response.data)
    assert doc["openapi"].startswith("3.0.")
    routes = {rule.rule.removeprefix("/ogc").rstrip("/") or "/" for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/ogc") and "<path:" not in rule.rule}
    documented = {re.sub(r"\{(\w+)\}", r"<\1>", path.replace("{collectionId}", "<collection_id>")
                         .replace("{featureId}", "<feature_id>")) for path in doc["paths"]}
    assert routes == documented
    for path, item in doc["paths"].items():
        for parameter in item["get"]["parameters"]:
            if "$ref" in parameter:
                assert parameter["$ref"].rsplit("/", 1)[1] in doc["components"]["parameters"], path


def test_html_view_by_f_or_accept_header(client):
    by_f = client.get("/ogc/collections/high_tech_zones/items?f=html&city=大连")
    assert by_f.mimetype == "text/html" and "大连高新技术产业园区" in by_f.get_data(as_text=True)
    assert "沈阳高新技术产业开发区" not in by_f.get_data(as_text=True)
    browser = client.get("/ogc/collections", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.mimetype == "text/html" and "县级行政区" in browser.get_data(as_text=True)
    assert client.get("/ogc/collections", headers={"Accept": "*/*"}).mimetype == "application/json"
    assert client.get("/ogc/collections/cities/items/210100?f=html").mimetype == "text/html"


def test_items_are_cached_with_etag_and_gzip(client):
    url = "/ogc/collections/cities/items?limit=14"
    first = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip"
    assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304


def test_absurd_numbers_are_clamped_or_refused_not_500(client):
    nines = "9" * 5000
    response = client.get(f"/ogc/collections/cities/items?limit={nines}")
    assert response.status_code == 200 and response.get_json()["numberReturned"] == 14
    response = client.get(f"/ogc/collections/cities/items?offset={nines}")
    assert response.status_code == 200 and response.get_json()["numberReturned"] == 0
    response = client.get("/ogc/collections/cities/items?limit=\u0663")  # Arabic-Indic 3
    assert response.status_code == 400 and response.get_json()["code"] == "InvalidParameterValue"


def test_items_cache_keys_only_on_what_changes_the_answer(app, client):
    """Issue 14 item 5: spellings of one answer share one cached body (datetime is ignored, so it
    must not make a new entry per value), and the links carry the canonical selection."""
    base = "/ogc/collections/high_tech_zones/items?limit=3&bbox=120.5,38.25,125,43"
    first = client.get(base)
    assert first.status_code == 200
    cache = app.extensions["atlas"].bundle().bodies
    misses = cache.misses
    spellings = [base + "&datetime=2018-01-01T00:00:00Z", base + "&datetime=../2020-12-31T00:00:00Z",
                 "/ogc/collections/high_tech_zones/items?limit=3&bbox=120.50,38.250,125.0,43.00",
                 "/ogc/collections/high_tech_zones/items?bbox=120.5,38.25,0,125,43,10&limit=03"]
    for url in spellings:
        response = client.get(url)
        assert response.status_code == 200
        assert response.get_json()["features"] == first.get_json()["features"]
        assert response.headers["ETag"] == first.headers["ETag"]
    assert cache.misses == misses  # no new entry for any spelling
    links = {link["rel"]: link["href"] for link in first.get_json()["links"]}
    assert "datetime" not in links["next"] and "bbox=120.5,38.25,125,43&" in links["next"]
    # a different selection is a different entry
    other = client.get("/ogc/collections/high_tech_zones/items?limit=3&bbox=120.5,38.25,125,42")
    assert cache.misses == misses + 1 and other.headers["ETag"] != first.headers["ETag"]

# --- Part 3 (CQL2 filter, queryables), sortby, properties, Part 2 CRS --------------------------------

import threading  # noqa: E402
from urllib.parse import parse_qs, quote  # noqa: E402

from werkzeug.serving import make_server  # noqa: E402


@pytest.fixture
def recording_server(app):
    """The app on a free port, remembering the query string of every request it answered."""
    seen = []

    def recording(environ, start_response):
        seen.append((environ["PATH_INFO"], parse_qs(environ.get("QUERY_STRING", ""))))
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, recording, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()


def test_gdal_where_is_sent_to_the_server_as_cql2_and_returns_the_national_htzs(recording_server, registry):
    base, seen = recording_server
    result = subprocess.run(["ogrinfo", "-ro", "-al", "-q", "-where", "level='national'",
                             f"OAPIF:{base}/ogc", "high_tech_zones"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "ERROR" not in result.stderr, result.stderr
    got = {line.split("=", 1)[1].strip() for line in result.stdout.splitlines()
           if line.strip().startswith("id (String)")}
    frame = registry.layers["high_tech_zones"]
    national = set(frame.loc[frame["level"] == "national", "id"])
    assert len(national) == 8 and got == national
    item_requests = [query for path, query in seen if path == "/ogc/collections/high_tech_zones/items"]
    filtered = [query for query in item_requests if "filter" in query]
    assert filtered, item_requests  # evaluated by the server, not by GDAL after fetching everything
    assert all(query["filter"] == ["level = 'national'"] for query in filtered)


def test_gdal_sends_a_like_on_any_queryable_to_the_server(recording_server, registry):
    base, seen = recording_server
    result = subprocess.run(["ogrinfo", "-ro", "-al", "-q", "-where", "name_zh LIKE '%大连%'",
                             f"OAPIF:{base}/ogc", "high_tech_zones"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "ERROR" not in result.stderr, result.stderr
    got = {line.split("=", 1)[1].strip() for line in result.stdout.splitlines()
           if line.strip().startswith("id (String)")}
    frame = registry.layers["high_tech_zones"]
    assert got == set(frame[frame["name_zh"].str.contains("大连")]["id"]) and got
    filters = [query["filter"] for path, query in seen
               if path == "/ogc/collections/high_tech_zones/items" and "filter" in query]
    assert filters and all(f == ["name_zh LIKE '%大连%'"] for f in filters), seen


def test_owslib_reads_queryables_as_json_schema(live_server, registry):
    api = Features(f"{live_server}/ogc")
    schema = api.collection_queryables("high_tech_zones")
    assert schema["$schema"].startswith("https://json-schema.org/draft/2020-12")
    from jsonschema import Draft202012Validator  # comes with openapi-spec-validator
    Draft202012Validator.check_schema(schema)
    feature = api.collection_item("high_tech_zones", "htz_dalian")
    Draft202012Validator(schema).validate({**feature["properties"], "geometry": feature["geometry"]})
    assert schema["type"] == "object" and schema["$id"].endswith("/collections/high_tech_zones/queryables")
    frame = registry.layers["high_tech_zones"]
    for column in ("id", "name_zh", "name_en", "kind", "level", "city_adcode", "industries"):
        assert schema["properties"][column]["type"] == "string"
    assert set(schema["properties"]["level"]["enum"]) >= set(frame["level"])
    assert schema["properties"]["geometry"]["format"] == "geometry-point"
    assert schema["properties"]["city_zh"]["type"] == "string"  # label columns are queryable too
    assert schema["properties"]["id"]["x-ogc-role"] == "id"
    assert api.collection_queryables("districts")["properties"]["adcode"]["x-ogc-role"] == "id"
    belt = api.collection_queryables("shenyang_dalian_belt")
    assert belt["properties"]["area_km2"]["type"] == "number"


def _items(client, collection, **params):
    query = "&".join(f"{k}={quote(str(v))}" for k, v in params.items())
    return client.get(f"/ogc/collections/{collection}/items?{query}")


@pytest.mark.parametrize("expression, lang, expected", [
    ("level = 'national'", "cql2-text", lambda f: f["level"] == "national"),
    ("level <> 'national' AND city_adcode IN ('210100', '210200')", "cql2-text",
     lambda f: (f["level"] != "national") & f["city_adcode"].isin(["210100", "210200"])),
    ("CASEI(name_en) LIKE '%dalian%'", "cql2-text", lambda f: f["name_en"].str.lower().str.contains("dalian")),
    ("industries LIKE '%biomedicine%' OR NOT level = 'national'", "cql2-text",
     lambda f: f["industries"].str.contains("biomedicine") | (f["level"] != "national")),
    ("S_INTERSECTS(geometry, POLYGON((121 38.5, 124 38.5, 124 41, 121 41, 121 38.5)))", "cql2-text",
     lambda f: f.geometry.intersects(shapely.box(121, 38.5, 124, 41))),
    ('{"op": "and", "args": [{"op": "=", "args": [{"property": "level"}, "provincial"]},'
     ' {"op": "like", "args": [{"property": "name_zh"}, "%高新%"]}]}', "cql2-json",
     lambda f: (f["level"] == "provincial") & f["name_zh"].str.contains("高新")),
])
def test_cql2_filter_selects_what_pandas_selects(client, registry, expression, lang, expected):
    frame = registry.layers["high_tech_zones"]
    want = list(frame[expected(frame)]["id"])
    body = _items(client, "high_tech_zones", filter=expression, **{"filter-lang": lang}).get_json()
    assert [f["id"] for f in body["features"]] == want
    assert body["numberMatched"] == len(want)


def test_cql2_filter_composes_with_the_atlas_parameters_and_bbox(client, registry):
    frame = registry.layers["high_tech_zones"]
    body = _items(client, "high_tech_zones", filter="level = 'national'", city="沈阳,大连,鞍山").get_json()
    expected = frame[(frame["level"] == "national") & frame["city_adcode"].isin(["210100", "210200", "210300"])]
    assert sorted(f["id"] for f in body["features"]) == sorted(expected["id"]) and len(expected) == 3
    body = _items(client, "districts", filter="name_zh LIKE '%区'", bbox="121,38.7,122.5,39.6").get_json()
    districts = registry.boundaries["district"]
    near = districts.cx[121:122.5, 38.7:39.6]
    assert [f["id"] for f in body["features"]] == list(near[near["name_zh"].str.endswith("区")]["adcode"])
    # the filter is carried by the paging links
    page = _items(client, "districts", filter="name_zh LIKE '%县'", limit=5).get_json()
    assert "filter=" in next(link["href"] for link in page["links"] if link["rel"] == "next")


@pytest.mark.parametrize("params, named", [
    ({"filter": "colour = 'red'"}, "colour"),
    ({"filter": "level = "}, "not valid CQL2 text"),
    ({"filter": "level = 'national'", "filter-lang": "ecql"}, "ecql"),
    ({"filter": "{not json", "filter-lang": "cql2-json"}, "not valid JSON"),
    ({"filter": '{"op": "t_after", "args": [{"property": "level"}, {"timestamp": "2020-01-01T00:00:00Z"}]}',
      "filter-lang": "cql2-json"}, "temporal"),
    ({"filter": "level < 5"}, "cannot compare"),
    ({"filter": "ACCENTI(name_en) = 'x'"}, "accenti"),
    ({"filter-lang": "cql2-text"}, "need a filter"),
    ({"filter": "level = 'national'", "filter-crs": "EPSG:3857"}, "EPSG:3857"),
    ({"sortby": "-colour"}, "colour"),
    ({"properties": "name_zh,colour"}, "colour"),
    ({"crs": "EPSG:3857"}, "EPSG:3857"),
])
def test_unsupported_query_answers_400_naming_it(client, params, named):
    body = assert_ogc_error(_items(client, "high_tech_zones", **params), 400)
    assert named.lower() in body["description"].lower(), body


def test_sortby_and_properties(client, registry):
    frame = registry.layers["high_tech_zones"]
    body = _items(client, "high_tech_zones", sortby="-level,+name_en", properties="name_en,level").get_json()
    expected = frame.sort_values(["level", "name_en"], ascending=[False, True], kind="stable")
    assert [f["id"] for f in body["features"]] == list(expected["id"])
    assert all(set(f["properties"]) == {"name_en", "level"} for f in body["features"])


def test_crs_epsg_4326_is_lat_lon_and_says_so(client, registry):
    uri = "http://www.opengis.net/def/crs/EPSG/0/4326"
    response = _items(client, "high_tech_zones", crs=uri, filter="id = 'htz_dalian'")
    assert response.headers["Content-Crs"] == f"<{uri}>"
    (feature,) = response.get_json()["features"]
    stored = registry.layer("high_tech_zones").set_index("id").geometry["htz_dalian"]
    assert feature["geometry"]["coordinates"] == pytest.approx([stored.y, stored.x], abs=1e-6)
    default = _items(client, "high_tech_zones", filter="id = 'htz_dalian'")
    assert default.headers["Content-Crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    # bbox in lat, lon order with bbox-crs=EPSG:4326 selects like the lon/lat box
    lat_first = _items(client, "districts", bbox="38.7,121,39.6,122.5", **{"bbox-crs": uri}).get_json()
    lon_first = _items(client, "districts", bbox="121,38.7,122.5,39.6").get_json()
    assert [f["id"] for f in lat_first["features"]] == [f["id"] for f in lon_first["features"]]
    collection = client.get("/ogc/collections/high_tech_zones").get_json()
    assert uri in collection["crs"] and collection["storageCrs"].endswith("CRS84")


def test_conformance_declares_filtering_and_crs(client):
    conforms = client.get("/ogc/conformance").get_json()["conformsTo"]
    for uri in ("http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
                "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
                "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
                "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
                "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs"):
        assert uri in conforms


# --- OpenAPI validity, Vary, HTML ------------------------------------------------------------------

def test_openapi_document_is_valid_openapi_3(client):
    from openapi_spec_validator import validate
    doc = json.loads(client.get("/ogc/api").data)
    validate(doc)  # raises on an invalid document
    items = doc["paths"]["/collections/{collectionId}/items"]["get"]
    assert {"400", "404", "414"} <= set(items["responses"])
    names = {p["$ref"].rsplit("/", 1)[1] for p in items["parameters"] if "$ref" in p}
    assert {"filter", "filter-lang", "sortby", "properties", "crs", "bbox-crs"} <= names


def test_openapi_html_lists_operations_and_parameters(client):
    html = client.get("/ogc/api?f=html").get_data(as_text=True)
    assert "Features of a collection" in html and "Properties usable in filter" in html
    assert "<code>filter-lang</code>" in html and "<code>bbox</code>" in html


def test_json_answers_vary_on_accept(client):
    for url in ("/ogc", "/ogc/collections", "/ogc/collections/cities/items", "/ogc/collections/cities/items/210100",
                "/ogc/collections/cities/queryables", "/ogc/api"):
        response = client.get(url)
        assert response.status_code == 200
        assert "Accept" in {v.strip() for v in response.headers["Vary"].split(",")}, url


def test_too_long_uri_answers_414(client):
    body = assert_ogc_error(_items(client, "cities", filter="name_zh = '" + "长" * 3000 + "'"), 414)
    assert "8000" in body["description"]
