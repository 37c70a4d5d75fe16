#!/usr/bin/env bash
# Vendor the browser assets the map needs from the npm registry (run once; results are committed).
# The atlas serves them itself under /static/vendor/<package>-<version>/ so it works offline.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=geoapp/web/static/vendor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
vendor() {  # package version files...
  local pkg=$1 ver=$2; shift 2
  (cd "$tmp" && npm pack --silent "$pkg@$ver" >/dev/null && mkdir -p "$pkg" && tar -xzf "$pkg-$ver.tgz" -C "$pkg")
  local out="$dest/$pkg-$ver"
  rm -rf "$out"; mkdir -p "$out"
  for f in "$@"; do cp -r "$tmp/$pkg/package/$f" "$out/"; done
  find "$tmp/$pkg/package" -maxdepth 1 -iname "*licen[cs]e*" -exec cp {} "$out/" \;
  echo "$out"
}
vendor leaflet 1.9.4 dist/leaflet.js dist/leaflet.css dist/images
# the images leaflet.css loads get ?v=<content hash> like every static URL (cached for a year)
python3 scripts/version_css_urls.py "$dest"/leaflet-1.9.4/leaflet.css
vendor leaflet.markercluster 1.5.3 dist/leaflet.markercluster.js dist/MarkerCluster.css dist/MarkerCluster.Default.css
# save-as-image on the map page (MIT): renders the map and legend DOM to a canvas, no CDN
vendor html-to-image 1.11.13 dist/html-to-image.js
