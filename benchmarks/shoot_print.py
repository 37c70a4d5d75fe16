"""Screenshots of the map page as printed (print media emulated, A4-sized viewport) and as a PDF
page, for the issue's before/after record:

    .venv/bin/python benchmarks/shoot_print.py OUT_PREFIX [QUERY ...]

Runs the app of the current checkout on a loopback port with ATLAS_TILES=none."""
from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geoapp.web import create_app  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]


def main(prefix: str, queries: list[str]) -> None:
    from playwright.sync_api import sync_playwright
    store = Path(tempfile.mkdtemp()) / "store.sqlite"
    app = create_app({"TESTING": True, "ATLAS_TILES": "none", "ATLAS_DATABASE_URL": f"sqlite:///{store}"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for n, query in enumerate(queries or [""]):
            for lang in ("zh", "en"):
                q = query + ("&" if query else "?") + "lang=en" if lang == "en" else query
                page = browser.new_page(viewport={"width": 794, "height": 1123})
                page.goto(base + "/" + q)
                page.wait_for_function("() => window.atlas && atlas.loaded", timeout=60000)
                page.wait_for_function("() => document.querySelector('#atlas-table').hasAttribute('data-total')")
                page.emulate_media(media="print")
                page.wait_for_timeout(500)   # a screenshot script, not a test: let the re-layout settle
                out = Path(f"{prefix}_{n}_{lang}")
                page.screenshot(path=f"{out}.png", full_page=True)
                page.pdf(path=f"{out}.pdf", format="A4", print_background=True)
                print(out)
                page.close()
        browser.close()
    server.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
