"""Layer specs (layers/*.yaml) -> the map: frame (folium), layer GeoJSON, tiles, popups, search,
display positions."""
