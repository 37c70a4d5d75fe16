"""Shared by the PostGIS read-path tests: a fresh database in the session's throwaway cluster,
synthetic imported rows (benchmarks/synthetic.py: points inside real districts, named 合成平台 —
test data, never data/), and two apps on the SAME rows: one serving the layer from SQL
(ATLAS_SQL_LAYER_ROWS=0), one reading it into memory as before. Comparing their answers is how the
SQL path is tested: the in-memory path is the reference."""
from __future__ import annotations

import uuid

import geopandas as gpd
import psycopg

from benchmarks.synthetic import synthetic_rows
from geoapp.ingest.rows import COLUMNS

LAYER = "enterprises_platforms"
IN_MEMORY = 10 ** 9   # ATLAS_SQL_LAYER_ROWS that keeps every layer in memory


def fresh_database(server: str) -> str:
    name = f"atlas_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server.rsplit("/", 1)[0] + f"/{name}"


def store_frame(n: int, seed: int) -> gpd.GeoDataFrame:
    """n imported rows as the store holds them (the layer's COLUMNS + point geometry)."""
    rows = synthetic_rows(n, seed=seed)
    rows["address"] = ""
    rows["note_zh"] = rows["note_en"] = ""
    return gpd.GeoDataFrame(rows[COLUMNS], geometry=gpd.points_from_xy(rows["lon"], rows["lat"]), crs=4326)


def two_apps(url: str, **config):
    """(app serving the imported layers from SQL, app holding them in memory) on store `url`."""
    from geoapp.web import create_app
    base = {"TESTING": True, "ATLAS_TILES": "none", "ATLAS_DATABASE_URL": url, "ATLAS_STORE_POLL": 0,
            **config}
    return (create_app({**base, "ATLAS_SQL_LAYER_ROWS": 0}),
            create_app({**base, "ATLAS_SQL_LAYER_ROWS": IN_MEMORY}))
