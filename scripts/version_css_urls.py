"""Version the files a stylesheet loads: every local `url(...)` in the given CSS files gets
`?v=<content hash>` (the hash geoapp.web.headers gives url_for('static'): sha256, 12 hex digits).

    python scripts/version_css_urls.py geoapp/web/static/vendor/leaflet-1.9.4/leaflet.css

A stylesheet is linked as `/static/...css?v=<its hash>` and cached for a year; the images it names
(Leaflet's layer-control icon) are fetched relative to it, without a version, and so were cached
for five minutes only. With the version in the CSS text they are cached for a year as well, and
a changed image changes the CSS text, hence the stylesheet's own version. Run by
scripts/vendor_assets.sh after vendoring; running it again changes nothing.
"""
from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

URL = re.compile(r"""url\(\s*(['"]?)([^'")\s]+)\1\s*\)""")


def version_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def local_target(css: Path, ref: str) -> Path | None:
    """The file a relative url() names, or None for data:, fragments, absolute and remote URLs."""
    if ref.startswith(("data:", "#", "/", "http:", "https:")) or "//" in ref:
        return None
    return (css.parent / ref.split("?", 1)[0].split("#", 1)[0]).resolve()


def version_urls(css: Path) -> str:
    def replace(match: re.Match) -> str:
        quote, ref = match.group(1), match.group(2)
        target = local_target(css, ref)
        if target is None:
            return match.group(0)
        if not target.is_file():
            raise SystemExit(f"{css}: url({ref}) names no file ({target})")
        return f"url({quote}{ref.split('?', 1)[0]}?v={version_of(target)}{quote})"
    return URL.sub(replace, css.read_bytes().decode("utf-8"))  # line endings kept as they are


def main(paths: list[str]) -> int:
    for name in paths:
        css = Path(name)
        text = version_urls(css)
        if text != css.read_bytes().decode("utf-8"):
            tmp = css.with_name(css.name + ".tmp")
            tmp.write_bytes(text.encode("utf-8"))
            tmp.replace(css)
            print(f"versioned the url()s of {css}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
