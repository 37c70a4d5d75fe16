"""Imports matched, diffed and written in the database (PostGIS, review finding 4): the same
uploads through service.check_file/commit on a SQLite store (the in-memory path: the reference)
and on a PostGIS store (the upload in a TEMP table, JOINed against the stored layer) give the same
Diff, the same problems, the same committed rows, the same preview samples and the same revert
diffs. How much memory a check + commit takes against a big layer is measured in
benchmarks/bench_sql_import.py, not here.

Rows are synthetic (benchmarks/synthetic_lists.py, named 合成测试单位): test data, never data/."""
import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely

from benchmarks.synthetic_lists import synthetic_rows, to_csv
from geoapp.ingest import service
from geoapp.ingest.store import PostGISStore, SQLiteStore
from tests.pgrows import LAYER, fresh_database


@pytest.fixture
def stores(postgis_url, tmp_path):
    """(the in-memory reference, the PostGIS store), both empty."""
    return SQLiteStore(tmp_path / "atlas-store.sqlite"), PostGISStore(fresh_database(postgis_url))


@pytest.fixture(scope="module")
def table(registry):
    """60 synthetic rows as a data office's file (WGS84); rows 50.. are only used as new rows."""
    rows = synthetic_rows(registry.boundaries, 60, seed=21, crs="wgs84")
    # two stored rows with the same name in the same district (told apart only by their 编号)
    rows.loc[7, ["名称", "所在市", "区县", "经度", "纬度"]] = rows.loc[6, ["名称", "所在市", "区县", "经度", "纬度"]]
    return rows


def both(registry, stores, table, mode, skip_invalid=False, name="list.csv"):
    """The same file checked on both stores: (sqlite check, postgis check)."""
    data = to_csv(table.reset_index(drop=True))
    return [service.check_file(data, name, LAYER, "wgs84", registry, store, "tester", mode=mode,
                               skip_invalid=skip_invalid, samples=20) for store in stores]


def same_check(a, b):
    assert (a.diff is None) == (b.diff is None)
    if a.diff is not None:
        assert a.diff == b.diff
    assert [(p.row, p.field, p.message) for p in a.problems] == [(p.row, p.field, p.message) for p in b.problems]
    assert a.base_version == b.base_version


def stored_rows(store) -> pd.DataFrame:
    frame = store.layer(LAYER)
    out = pd.DataFrame(frame.drop(columns="geometry"))
    out["wkb"] = [bytes(w) for w in shapely.to_wkb(frame.geometry.values)]
    return out.reset_index(drop=True)


def commit_both(a, b, stores, skip_invalid=False):
    results = [service.commit(check, store, "tester", skip_invalid=skip_invalid)
               for check, store in zip((a, b), stores)]
    assert results[0] == results[1]          # (version, Diff)
    pd.testing.assert_frame_equal(stored_rows(stores[0]), stored_rows(stores[1]))
    return results[0]


def reference_samples(check, n=20) -> dict:
    """What the preview page lists (as ids), from an in-memory check's whole frames."""
    old_ids, new_ids = list(check.old["id"]), list(check.frame["id"])
    old_set, new_set = set(old_ids), set(new_ids)
    old_by_id = check.old.set_index("id")
    changed = []
    for k, (_, row) in zip(new_ids, check.frame.iterrows()):
        if k in old_set:
            was = old_by_id.loc[k]
            if any(was[c] != row[c] for c in check.frame.columns if c not in ("id", "geometry")) \
                    or not row.geometry.equals_exact(was.geometry, 1e-9):
                changed.append(k)
    return {"added": [k for k in new_ids if k not in old_set][:n],
            "removed": [k for k in old_ids if k not in new_set][:n], "changed": changed[:n]}


def sql_samples(check) -> dict:
    rows = check.samples
    return {"added": [r["id"] for r in rows["added"]], "removed": [r["id"] for r in rows["removed"]],
            "changed": [new["id"] for new, old, geom, old_geom in rows["changed"]
                        if any(old.get(c) != v for c, v in new.items() if c != "id")
                        or not geom.equals_exact(old_geom, 1e-9)]}


def test_modes_problems_rows_samples_and_reverts_agree(registry, stores, table):
    first = table.iloc[:50]
    a, b = both(registry, stores, first, "replace")
    same_check(a, b)
    assert a.diff.added == 50 and sql_samples(b) == reference_samples(a)
    v1, _ = commit_both(a, b, stores)

    # append: two rows already there (one by id, one by name + district without id) are problems
    extra = table.iloc[[50, 51, 52, 3, 4]].copy()
    extra.loc[4, "编号"] = ""
    a, b = both(registry, stores, extra, "append")
    same_check(a, b)
    assert a.diff is None and len(a.problems) == 2
    assert all("already in the layer" in p.message for p in b.problems)
    assert any("'syn00005'" in p.message for p in b.problems)         # the stored id of the name match
    a, b = both(registry, stores, extra, "append", skip_invalid=True)
    same_check(a, b)
    assert (b.diff.added, b.diff.changed, b.diff.rows) == (3, 0, 53)
    assert sql_samples(b) == reference_samples(a)
    commit_both(a, b, stores, skip_invalid=True)

    # update: by id (a new note, a moved point), by name + district (keeps the stored id), a new
    # row, and an ambiguous name + district (two stored rows) that is a problem
    edit = table.iloc[[0, 1, 2, 7, 53]].copy()
    edit.loc[0, "备注"] = "改过"
    edit.loc[1, "经度"] = f"{float(edit.loc[1, '经度']) + 0.001:.6f}" if edit.loc[1, "经度"] else edit.loc[1, "经度"]
    edit.loc[1, "备注"] = "移动"
    edit.loc[2, "编号"] = ""
    edit.loc[2, "备注"] = "按名称"
    edit.loc[7, "编号"] = ""
    a, b = both(registry, stores, edit, "update")
    same_check(a, b)
    assert a.diff is None and any("several rows" in p.message for p in b.problems)
    a, b = both(registry, stores, edit, "update", skip_invalid=True)
    same_check(a, b)
    assert (b.diff.added, b.diff.changed, b.diff.removed, b.diff.rows) == (1, 3, 0, 54)
    assert sql_samples(b) == reference_samples(a) and len(sql_samples(b)["changed"]) == 3
    v3, _ = commit_both(a, b, stores, skip_invalid=True)
    assert stored_rows(stores[1]).set_index("id").loc["syn00003", "note_zh"] == "按名称"

    # the same file again: nothing changes
    a, b = both(registry, stores, edit, "update", skip_invalid=True)
    same_check(a, b)
    assert (b.diff.added, b.diff.changed) == (0, 0)

    # replace with fewer rows: removals, changes and additions
    again = table.iloc[20:58].copy()
    again.loc[20, "备注"] = "替换时改"
    a, b = both(registry, stores, again, "replace")
    same_check(a, b)
    # (the common rows change: their source names their new row in the file)
    assert (b.diff.removed, b.diff.changed, b.diff.added) == (20, 34, 4)
    assert sql_samples(b) == reference_samples(a)
    commit_both(a, b, stores)

    # reverts: the confirmation's diffs and the reverts agree, and restore the same rows
    for target in (v3, v1, 0):
        previews = [store.revert_preview(target) for store in stores]
        assert previews[0] == previews[1]
        versions = [store.revert(target, "tester", expect_version=previews[0][0]) for store in stores]
        assert versions[0] == versions[1]
        pd.testing.assert_frame_equal(stored_rows(stores[0]), stored_rows(stores[1]))
        assert [stores[0].history()[0][k] for k in ("added", "changed", "removed", "rows")] == \
            [stores[1].history()[0][k] for k in ("added", "changed", "removed", "rows")]
    assert len(stores[1].layer(LAYER)) == 0


def test_rows_written_in_sql_keep_the_content_digest(registry, stores, table):
    """An update that changes nothing writes, with INSERT … SELECT, the same rows the replace
    wrote with COPY: the digest (what ETags follow) is the same; a changed row changes it."""
    store = stores[1]
    a = service.check_file(to_csv(table.iloc[:30].reset_index(drop=True)), "a.csv", LAYER, "wgs84",
                           registry, store, "t", mode="replace")
    v1, _ = service.commit(a, store, "t")
    same = service.check_file(to_csv(table.iloc[:5].reset_index(drop=True)), "a.csv", LAYER, "wgs84",
                              registry, store, "t", mode="update")
    assert same.diff.changed == 0 and same.frame is None and same.new is not None
    v2, _ = service.commit(same, store, "t")
    edited = table.iloc[:1].copy()
    edited["备注"] = "改过"
    changed = service.check_file(to_csv(edited.reset_index(drop=True)), "a.csv", LAYER, "wgs84",
                                 registry, store, "t", mode="update")
    v3, _ = service.commit(changed, store, "t")
    with psycopg.connect(store.url) as conn:
        digests = dict(conn.execute("SELECT data_version, digest FROM atlas_layer_digests").fetchall())
    assert digests[v1] == digests[v2] != digests[v3] and len(digests[v1]) == 24


def test_commit_refuses_a_moved_version_and_writes_nothing(registry, stores, table):
    store = stores[1]
    service.commit(service.check_file(to_csv(table.iloc[:10].reset_index(drop=True)), "a.csv", LAYER,
                                      "wgs84", registry, store, "t", mode="replace"), store, "t")
    stale = service.check_file(to_csv(table.iloc[10:12].reset_index(drop=True)), "b.csv", LAYER, "wgs84",
                               registry, store, "t", mode="append")
    service.commit(service.check_file(to_csv(table.iloc[12:13].reset_index(drop=True)), "c.csv", LAYER,
                                      "wgs84", registry, store, "t", mode="append"), store, "t")
    before = store.current_version()
    from geoapp.ingest.store import StoreConflict
    with pytest.raises(StoreConflict):
        service.commit(stale, store, "t")
    assert store.current_version() == before and len(store.layer(LAYER)) == 11
    ids = np.array(store.layer(LAYER)["id"])
    assert len(set(ids)) == len(ids)
