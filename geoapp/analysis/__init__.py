"""Pure functions over GeoDataFrames (no Flask, no Folium)."""
