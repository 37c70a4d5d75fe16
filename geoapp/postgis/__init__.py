"""Reads of imported layers that live in PostGIS (ATLAS_DATABASE_URL=postgresql://…), so that a
worker's memory does not grow with the rows people import.

An imported layer of ATLAS_SQL_LAYER_ROWS rows or more is not read into the workers: the store's
lazy snapshot (geoapp.ingest.store.SqlRows) says which rows (data_version) hold it, and every read
of it — OGC items and features, tiles, figures, search, downloads — is a query here, against the
primary or a replica that has reached that version. A data switch then only changes that number.

    pool.py     one connection pool per database URL and process (psycopg_pool)
    layer.py    SqlLayer: one layer at one data version; the filter as SQL; pages as frames

The columns it reads are written by the store (geoapp/ingest/store.py GENERATED: kind, level,
city_adcode, district_adcode, location_precision, industries text[], name_zh, geom_3857).
"""
from geoapp.postgis.layer import DatabaseUnavailable, SqlLayer, filter_sql

__all__ = ["DatabaseUnavailable", "SqlLayer", "filter_sql"]
