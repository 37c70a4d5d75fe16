"""Exports for GIS tools: the published collections and their serializations (no Flask here).

    catalog.py     which collections are published (place layers + boundaries), their ids,
                   titles, feature ids, and how the shared Filter and a bbox select from them
    serialize.py   RFC 7946 GeoJSON, GeoPackage and CSV bytes from a GeoDataFrame
"""
