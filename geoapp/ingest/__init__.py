"""Living data: import the province's own lists into a versioned store (SQLite or PostGIS).

    read    CSV / XLSX / GeoJSON / GeoPackage -> text cells with spreadsheet row numbers
    rows    header mapping, vocabularies, coordinates (GCJ-02/BD-09 -> WGS84), every problem
    store   versions written in one transaction; history; revert
    live    the web app serves the store's current version; workers switch without restart
    cli     `python -m geoapp.data import|history|revert`
"""
