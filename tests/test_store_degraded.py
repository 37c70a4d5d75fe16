"""A store that cannot be read (issue 19 item 6): reads keep answering 200 from the data in memory,
/health says "degraded" (still 200) with the error, the store is asked again after a back-off,
and /health says "ok" once it is back. SQLite is made read-only as on a read-only mount (its
folder and files immutable: chattr +i, which binds root too); PostGIS is a throwaway cluster that
is stopped and started again. The figures under load are in benchmarks/bench_store_degraded.py."""
import subprocess
import time
import uuid

import pytest

READS = ["/map/places.json?per_page=5", "/ogc/collections/high_tech_zones/items?limit=2", "/api/layers",
         "/map/layers/high_tech_zones.geojson", "/stats"]


def make_app(url: str):
    from geoapp.web import create_app
    return create_app({"TESTING": True, "ATLAS_TILES": "none", "ATLAS_DATABASE_URL": url, "ATLAS_STORE_POLL": 0})


def settle(app):
    """Let the background check that the last request started finish."""
    assert app.extensions["atlas"].wait(60)


def check_now(app):
    atlas = app.extensions["atlas"]
    atlas.refresh(force=True)
    settle(app)


def test_a_read_only_sqlite_store_keeps_reads_at_200_and_health_degraded(tmp_path):
    folder = tmp_path / "store"
    folder.mkdir()
    app = make_app(f"sqlite:///{folder / 'atlas-store.sqlite'}")
    client = app.test_client()
    assert client.get("/health").get_json() == {"status": "ok"}
    settle(app)   # no connection open: SQLite has removed its -wal/-shm files, which cannot be made now
    locked = [str(p) for p in folder.iterdir()] + [str(folder)]
    assert [p.name for p in folder.iterdir()] == ["atlas-store.sqlite"]
    subprocess.run(["chattr", "+i", *locked], check=True)
    try:
        check_now(app)
        for route in READS:
            response = client.get(route)
            assert response.status_code == 200, route
        settle(app)
        health = client.get("/health")
        body = health.get_json()
        assert health.status_code == 200 and body["status"] == "degraded" and body["store"] == "unreachable"
        assert body["store_error"] == "OperationalError (cannot be read)" and body["serving_version"] == 0
        assert "/" not in str(body)        # no path of the store's file on a public page
    finally:
        subprocess.run(["chattr", "-i", *locked], check=True)
    check_now(app)
    assert client.get("/health").get_json() == {"status": "ok"}


def test_a_failing_store_is_asked_again_only_after_a_back_off(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'atlas-store.sqlite'}")
    atlas = app.extensions["atlas"]
    calls = []

    def broken():
        calls.append(time.monotonic())
        raise OSError("unable to open database file")

    atlas.store.current_version = broken
    client = app.test_client()
    started = time.monotonic()
    for _ in range(30):          # ATLAS_STORE_POLL is 0: without the back-off, 30 checks
        assert client.get("/api/layers").status_code == 200
        settle(app)
    elapsed = time.monotonic() - started
    # 1 s, then 2 s, 4 s ... between attempts: at most 1 + log2(elapsed + 1) of them
    assert 1 <= len(calls) <= 2 + int(elapsed).bit_length(), (len(calls), elapsed)
    assert atlas.health.report()["next_try_in_s"] > 0


def test_a_stopped_postgis_keeps_reads_at_200_and_health_degraded_until_it_is_back():
    import psycopg

    from benchmarks.pgcluster import MissingPostGIS, postgis_cluster_control
    try:
        control = postgis_cluster_control()
        cluster = control.__enter__()
    except MissingPostGIS as error:
        pytest.fail(str(error))
    try:
        name = f"atlas_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(cluster.url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        app = make_app(cluster.url.rsplit("/", 1)[0] + f"/{name}")
        client = app.test_client()
        assert client.get("/health").get_json() == {"status": "ok"}
        cluster.stop()
        check_now(app)
        for route in READS:
            assert client.get(route).status_code == 200, route
        settle(app)
        body = client.get("/health").get_json()
        assert body["status"] == "degraded" and body["store_error"] == "OperationalError (cannot be read)"
        assert str(cluster.port) not in str(body)    # no host or port of the database on a public page
        cluster.start()
        check_now(app)
        assert client.get("/health").get_json() == {"status": "ok"}
    finally:
        control.__exit__(None, None, None)
