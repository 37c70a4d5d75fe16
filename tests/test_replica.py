"""Reads from a streaming replica (issue 23): two app instances, each with its own poller, read
snapshots from a hot standby of the PostGIS primary and write to the primary. An import on the
primary is served by both within 2 s; a lagging replica is never served behind the primary's
version; a stopped replica makes reads fall back to the primary with no 5xx.

Two throwaway clusters (benchmarks/pgcluster.py: Debian's PostgreSQL 15 + PostGIS, the replica a
`pg_basebackup -R` copy). Imported rows are synthetic (benchmarks/synthetic_lists.py, named
合成测试单位): test data only, never data/."""
import json
import time

import psycopg
import pytest

from benchmarks.synthetic_lists import synthetic_rows, to_csv
from geoapp.ingest import service

pytestmark = pytest.mark.replica

LAYER = "enterprises_platforms"
EXPORT = f"/export/{LAYER}.geojson"


@pytest.fixture(scope="module")
def clusters():
    from benchmarks.pgcluster import MissingPostGIS, primary_and_replica
    try:
        pair = primary_and_replica()
        primary, replica = pair.__enter__()
    except MissingPostGIS as error:
        pytest.fail(str(error))
    try:
        yield primary, replica
    finally:
        pair.__exit__(None, None, None)


@pytest.fixture(scope="module")
def apps(clusters):
    from geoapp.web import create_app
    primary, replica = clusters
    return [create_app({"TESTING": True, "ATLAS_TILES": "none", "ATLAS_DATABASE_URL": primary.url,
                        "ATLAS_DATABASE_REPLICA_URL": replica.url, "ATLAS_STORE_POLL": 0.2})
            for _ in range(2)]


def import_rows(app, n: int, seed: int) -> int:
    """Write n synthetic rows as a new version through the app's store (its writes go to the
    primary); returns the version."""
    atlas = app.extensions["atlas"]
    base = atlas.base(atlas.default_plan)
    data = to_csv(synthetic_rows(base.boundaries, n, seed=seed, crs="wgs84"))
    check = service.check_file(data, "合成.csv", LAYER, "wgs84", base, atlas.store, "tester", mode="replace")
    version, _ = service.commit(check, atlas.store, "tester")
    return version


def served_ids(client) -> tuple[int, set]:
    response = client.get(EXPORT)
    return response.status_code, {f["properties"]["id"] for f in json.loads(response.data)["features"]}


def wait_served(apps, expected: set, seconds: float) -> tuple[float, list[int]]:
    """Poll both apps (each request runs its poller) until both serve exactly `expected`; returns
    (seconds it took, every status code seen)."""
    clients = [app.test_client() for app in apps]
    start, statuses = time.monotonic(), []
    while True:
        seen = [served_ids(client) for client in clients]
        statuses += [status for status, _ in seen]
        if all(ids == expected for _, ids in seen):
            return time.monotonic() - start, statuses
        if time.monotonic() - start > seconds:
            pytest.fail(f"not served within {seconds} s: {[len(ids) for _, ids in seen]} rows, "
                        f"expected {len(expected)}")
        time.sleep(0.05)


def ids_of(app, version: int) -> set:
    """The ids the primary holds for the layer at `version` (read on the primary itself)."""
    from geoapp.ingest.store import PostGISStore
    store = app.extensions["atlas"].store
    _, layers = PostGISStore(store.url).snapshot(version)
    return set(layers[LAYER]["id"])


def test_import_on_the_primary_is_served_from_the_replica_by_both_apps_within_2s(apps, clusters):
    primary, replica = clusters
    version = import_rows(apps[0], 300, seed=31)
    expected = ids_of(apps[0], version)
    assert len(expected) == 300
    took, statuses = wait_served(apps, expected, seconds=2.0)
    assert set(statuses) == {200}
    for app in apps:
        atlas = app.extensions["atlas"]
        assert atlas.version == version
        assert atlas.store.last_read == replica.url  # the snapshot came from the standby


def test_lagging_replica_is_not_served_behind_the_primary(apps, clusters):
    primary, replica = clusters
    with psycopg.connect(replica.url, autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
    try:
        version = import_rows(apps[0], 120, seed=32)
        expected = ids_of(apps[0], version)
        with psycopg.connect(replica.url) as conn:  # the standby really is behind
            assert conn.execute("SELECT max(id) FROM atlas_versions").fetchone()[0] < version
        _, statuses = wait_served(apps, expected, seconds=10.0)
        assert set(statuses) == {200}
        for app in apps:
            assert app.extensions["atlas"].version == version
            assert app.extensions["atlas"].store.last_read == "primary"
    finally:
        with psycopg.connect(replica.url, autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_resume()")


def test_stopped_replica_falls_back_to_the_primary_with_no_5xx(apps, clusters):
    primary, replica = clusters
    replica.stop()
    version = import_rows(apps[1], 200, seed=33)
    expected = ids_of(apps[1], version)
    _, statuses = wait_served(apps, expected, seconds=2.0)
    assert set(statuses) == {200}
    for app in apps:
        assert app.extensions["atlas"].version == version
        assert app.extensions["atlas"].store.last_read == "primary"
        assert app.test_client().get("/ogc/collections?f=json").status_code == 200


def test_replica_setting_is_checked():
    from geoapp.ingest.store import StoreError, open_store, replica_urls
    assert replica_urls(" postgresql://a@h1/db , postgresql://a@h2/db,") == ["postgresql://a@h1/db",
                                                                         "postgresql://a@h2/db"]
    assert replica_urls("") == []
    with pytest.raises(StoreError, match="comma-separated list of postgresql://") as error:
        replica_urls("postgresql://a@h1/db,mysql://b:secret@h2/db")
    assert "secret" not in str(error.value) and "b:***@h2" in str(error.value)
    with pytest.raises(StoreError, match="needs a PostGIS primary"):
        open_store("sqlite:////tmp/x.sqlite", replicas="postgresql://a@h1/db")
    store = open_store("postgresql://a@h0/db", replicas="postgresql://a@h1/db")
    assert store.replicas == ["postgresql://a@h1/db"]
