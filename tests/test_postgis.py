"""The PostGIS read foundation (geoapp/postgis): the store's generated columns and their migration,
lazy snapshots (big imported layers stay in the database), SqlLayer's filter, pages, features,
streams and bounds against the same rows read into memory, and the bundle that serves them.

Rows are synthetic (benchmarks/synthetic.py: points inside real districts, named 合成平台):
test data, never data/."""
import numpy as np
import pandas as pd
import psycopg
import pytest

from geoapp.filters import Filter
from geoapp.ingest.rows import COLUMNS
from geoapp.ingest.store import PostGISStore, SqlRows
from geoapp.postgis import SqlLayer, layer as sql_layer
from geoapp.postgis.pool import close_all
from tests.pgrows import LAYER, fresh_database, store_frame, two_apps

@pytest.fixture(scope="module")
def loaded(postgis_url):
    url = fresh_database(postgis_url)
    store = PostGISStore(url, sql_min_rows=500)
    frame = store_frame(2000, seed=5)
    version, _ = store.commit(LAYER, frame, who="test", file_name="synthetic 2000")
    yield store, frame, version
    close_all()


def test_columns_are_the_imported_layers():
    assert sql_layer.COLUMNS == COLUMNS


def test_generated_columns_follow_props(loaded):
    store, frame, version = loaded
    with psycopg.connect(store.url) as conn:
        got = conn.execute("SELECT fid, kind, level, city_adcode, industries, ST_SRID(geom_3857) "
                           "FROM atlas_features WHERE data_version = %s ORDER BY position LIMIT 3",
                           (version,)).fetchall()
    for (fid, kind, level, city, industries, srid), (_, row) in zip(got, frame.head(3).iterrows()):
        assert fid == row["id"] and kind == row["kind"] and level == row["level"]
        assert city == row["city_adcode"] and industries == row["industries"].split(";")
        assert srid == 3857


def test_lazy_snapshot_leaves_big_layers_in_the_database(loaded):
    store, frame, version = loaded
    got_version, layers = store.snapshot(lazy=True)
    assert got_version == version
    rows = layers[LAYER]
    assert rows == SqlRows(LAYER, version, 2000, store.url, store.url, rows.digest) and len(rows.digest) == 24
    _, eager = store.snapshot()           # writers and diffs still read the rows
    assert len(eager[LAYER]) == 2000
    store.sql_min_rows = 5000             # a layer under the threshold is read as before
    try:
        assert len(store.snapshot(lazy=True)[1][LAYER]) == 2000
    finally:
        store.sql_min_rows = 500


def sql_of(store, version) -> SqlLayer:
    rows = store.snapshot(lazy=True)[1][LAYER]
    return SqlLayer(rows.layer, rows.data_version, rows.rows, rows.url, rows.primary, rows.digest)


@pytest.mark.parametrize("flt", [Filter(), Filter(level=frozenset({"national"})),
                                 Filter(city=frozenset({"210100", "210200"})),
                                 Filter(industry=frozenset({"biomedicine", "new_materials"})),
                                 Filter(industry=frozenset({"robotics"}), level=frozenset({"provincial"}),
                                        city=frozenset({"210100"}))])
def test_filter_in_sql_matches_the_filter_in_memory(loaded, flt):
    store, frame, version = loaded
    sql = sql_of(store, version)
    expected = frame["id"][flt.mask(frame)].tolist()
    assert sql.count(flt) == len(expected)
    assert sql.frame(sql.where(flt)).index.tolist() == expected


def test_pages_features_streams_and_bounds(loaded):
    store, frame, version = loaded
    sql = sql_of(store, version)
    page = sql.frame(limit=100, offset=300)
    assert page.index.tolist() == frame["id"].iloc[300:400].tolist()
    assert list(page.columns) == [*COLUMNS, "geometry"]
    assert np.allclose(page.geometry.x, frame.geometry.x.iloc[300:400])
    one = sql.feature(frame["id"].iloc[7])
    assert one.index.tolist() == [frame["id"].iloc[7]]
    assert one.iloc[0]["name_zh"] == frame["name_zh"].iloc[7]
    assert len(sql.feature("no-such-id")) == 0
    chunks = list(sql.stream(chunk=700))
    assert [len(c) for c in chunks] == [700, 700, 600]
    assert pd.concat(chunks).index.tolist() == frame["id"].tolist()
    assert np.allclose(sql.bounds(), frame.total_bounds)
    box = (122.5, 40.5, 123.8, 42.0)
    inside = frame.cx[box[0]:box[2], box[1]:box[3]]["id"].tolist()
    assert sql.frame(sql.where(boxes=[box])).index.tolist() == inside


def test_the_content_digest_follows_the_rows_not_the_version(postgis_url):
    store = PostGISStore(fresh_database(postgis_url), sql_min_rows=0)
    frame = store_frame(300, seed=9)
    first, _ = store.commit(LAYER, frame, who="test", file_name="a")
    again, _ = store.commit(LAYER, frame, who="test", file_name="a again")
    moved = frame.copy()
    moved.loc[5, "name_zh"] = "合成平台 改名"
    changed, _ = store.commit(LAYER, moved, who="test", file_name="b")
    digests = [store.snapshot(v, lazy=True)[1][LAYER].digest for v in (first, again, changed)]
    assert digests[0] == digests[1] != digests[2]
    reverted = store.revert(first, who="test")     # a revert shows the import's rows: its digest
    assert store.snapshot(reverted, lazy=True)[1][LAYER].digest == digests[0]


def test_text_props_of_an_older_store_are_migrated(postgis_url):
    url = fresh_database(postgis_url)
    with psycopg.connect(url) as conn:   # the store's tables as the previous release made them
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        conn.execute("CREATE TABLE atlas_versions (id bigserial PRIMARY KEY, created_at text NOT NULL, "
                     "who text NOT NULL, file_name text NOT NULL, layer text NOT NULL, action text NOT NULL, "
                     "rows_total integer NOT NULL, added integer NOT NULL, changed integer NOT NULL, "
                     "removed integer NOT NULL, rejected integer NOT NULL, reverted_to bigint)")
        conn.execute("CREATE TABLE atlas_version_layers (version_id bigint NOT NULL, layer text NOT NULL, "
                     "data_version bigint NOT NULL, PRIMARY KEY (version_id, layer))")
        conn.execute("CREATE TABLE atlas_features (data_version bigint NOT NULL, position integer NOT NULL, "
                     "fid text NOT NULL, props text NOT NULL, geom geometry(Geometry, 4326) NOT NULL, "
                     "PRIMARY KEY (data_version, position))")
        conn.execute("INSERT INTO atlas_versions VALUES (1, 't', 'w', 'f', %s, 'import', 1, 1, 0, 0, 0, NULL)", (LAYER,))
        conn.execute("INSERT INTO atlas_version_layers VALUES (1, %s, 1)", (LAYER,))
        conn.execute("INSERT INTO atlas_features VALUES (1, 0, 'a1', %s, ST_SetSRID(ST_Point(123.4, 41.8), 4326))",
                     ('{"id": "a1", "name_zh": "合成平台 a1", "kind": "platform", "level": "national", '
                      '"city_adcode": "210100", "industries": "robotics;biomedicine"}',))
    store = PostGISStore(url, sql_min_rows=0)
    version, layers = store.snapshot(lazy=True)
    assert version == 1 and layers[LAYER].rows == 1
    sql = sql_of(store, 1)
    assert sql.count(Filter(industry=frozenset({"biomedicine"}))) == 1
    assert sql.feature("a1").iloc[0]["name_zh"] == "合成平台 a1"
    _, eager = store.snapshot()
    assert eager[LAYER]["id"].tolist() == ["a1"]


@pytest.fixture(scope="module")
def sql_app(loaded):
    store, _, _ = loaded
    return two_apps(store.url)[0]


def test_bundle_serves_big_layers_from_the_database(sql_app, loaded):
    store, frame, version = loaded
    bundle = sql_app.extensions["atlas"].bundle()
    assert set(bundle.sql) == {LAYER} and bundle.sql[LAYER].data_version == version
    assert len(bundle.registry.layers[LAYER]) == 0           # no rows in the worker
    collection = bundle.catalog[LAYER]
    assert collection.sql is bundle.sql[LAYER]
    assert np.allclose(collection.bbox(), np.round(frame.total_bounds, 6))


@pytest.mark.parametrize("path", ["/", "/?lang=en", "/stats", "/api/coverage", "/api/layers",
                                  f"/ogc/collections/{LAYER}", f"/ogc/collections/{LAYER}/items?limit=5",
                                  "/ogc/collections", "/health", "/about"])
def test_every_page_answers_with_a_database_layer(sql_app, path):
    response = sql_app.test_client().get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]


def test_layer_index_counts_database_rows(sql_app, loaded):
    _, frame, _ = loaded
    sql_app_layers = sql_app.test_client().get("/api/layers?level=national").get_json()["layers"]
    entry = next(layer for layer in sql_app_layers if layer["id"] == LAYER)
    assert entry["feature_count"] == len(frame)
    assert entry["matching_count"] == int((frame["level"] == "national").sum())


def test_a_new_version_changes_the_catalog(sql_app, loaded):
    store, frame, _ = loaded
    atlas = sql_app.extensions["atlas"]
    before = atlas.bundle().catalog.version
    first = store.current_version()
    version, _ = store.commit(LAYER, frame.iloc[:1500], who="test", file_name="synthetic 1500")
    atlas.serve_current()
    after = atlas.bundle()
    assert after.sql[LAYER].data_version == version and after.sql[LAYER].rows == 1500
    assert after.catalog.version != before
    store.revert(first, who="test")      # the module's rows again, for any test after this one


def test_database_down_answers_503_and_comes_back(tmp_path):
    """A layer served from PostGIS while the database is stopped: 503 with Retry-After and a
    message (never a 500), /health still answers, and reads work again once it is back."""
    import time

    from benchmarks.pgcluster import postgis_cluster_control
    from geoapp.postgis import layer as layer_module
    with postgis_cluster_control() as cluster:
        store = PostGISStore(cluster.url)
        store.commit(LAYER, store_frame(200, seed=3), who="test", file_name="a")
        app, _ = two_apps(cluster.url)
        client = app.test_client()
        items = f"/ogc/collections/{LAYER}/items?limit=5"
        assert client.get(items).status_code == 200
        cluster.stop()
        for offset in (5, 10):   # the first finds it down; the next is refused at once (PRIMARY_RETRY_S)
            response = client.get(f"{items}&offset={offset}")   # not an answer kept from before
            assert response.status_code == 503, response.get_data(as_text=True)[:300]
            assert response.headers["Retry-After"] == "5"
            assert "try again" in response.get_json()["message"]
        download = client.get(f"/export/{LAYER}.csv?level=national")
        assert download.status_code == 503 and download.get_json()["error"] == "service_unavailable"
        assert client.get("/health").status_code == 200
        cluster.start()
        time.sleep(layer_module.PRIMARY_RETRY_S + 0.1)
        assert client.get(f"{items}&offset=15").status_code == 200


def test_a_statement_over_the_time_limit_answers_503(postgis_url, monkeypatch):
    from geoapp.postgis import pool as pool_module
    url = fresh_database(postgis_url)
    PostGISStore(url).commit(LAYER, store_frame(200, seed=4), who="test", file_name="a")
    monkeypatch.setattr(pool_module, "OPTIONS", "-c statement_timeout=1 -c jit=off")
    app, _ = two_apps(url)
    response = app.test_client().get(f"/ogc/collections/{LAYER}/items?filter=name_zh LIKE '%25合成%25'")
    assert response.status_code == 503
    assert response.get_json()["error"] == "query_too_slow"


def test_a_process_starting_on_a_current_schema_takes_no_lock(postgis_url):
    """Workers start while a long transaction holds atlas_features (e.g. ANALYZE, an import's
    index build): with the schema already this release's, ensure_schema runs no DDL, so it does
    not wait (CREATE INDEX IF NOT EXISTS would, for a SHARE lock)."""
    import threading
    url = fresh_database(postgis_url)
    PostGISStore(url).ensure_schema()
    with psycopg.connect(url) as holder:
        holder.execute("LOCK TABLE atlas_features IN SHARE UPDATE EXCLUSIVE MODE")
        done = threading.Event()
        worker = threading.Thread(target=lambda: (PostGISStore(url).ensure_schema(), done.set()), daemon=True)
        worker.start()
        worker.join(20)
        finished = done.is_set()
        holder.rollback()
    worker.join(20)
    assert finished, "ensure_schema waited for the lock on atlas_features"


def test_an_import_leaves_the_planner_statistics_of_its_rows(postgis_url):
    url = fresh_database(postgis_url)
    store = PostGISStore(url)
    version, _ = store.commit(LAYER, store_frame(500, seed=12), who="test", file_name="a")
    with psycopg.connect(url) as conn:
        analysed = conn.execute("SELECT last_analyze IS NOT NULL, n_live_tup FROM pg_stat_user_tables "
                                "WHERE relname = 'atlas_features'").fetchone()
        rows = conn.execute("SELECT reltuples FROM pg_class WHERE relname = 'atlas_features'").fetchone()[0]
    assert analysed[0] and rows == 500
