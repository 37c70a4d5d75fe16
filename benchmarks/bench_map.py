"""Map page benchmark (prints figures; not a test).

    make bench            # or: PYTHONPATH=. .venv/bin/python benchmarks/bench_map.py

For the default view and a filtered view: server build time cold (first request for that filter
key, empty cache) and warm (cached page; p50/p95 of 300 requests through the WSGI app), HTML size
raw and gzipped, and the time until the map is drawn in headless Chromium (navigation start to
every layer fetched from /map/layers/* and drawn; median of 5 loads). The page is a frame since
issue 9: its size no longer depends on the data. Targets (issue 3): warm p50 < 20 ms,
cold < 500 ms, <= 300 KB gzipped, drawn < 1.5 s.
"""
from __future__ import annotations

import gzip
import statistics
import threading
import time

from werkzeug.serving import make_server

from geoapp.web import create_app

VIEWS = {"default": "/", "filtered (industry=biomedicine)": "/?industry=biomedicine",
         "filtered (city=210200, en)": "/?city=210200&lang=en"}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


def server_times(app, path: str) -> dict:
    client = app.test_client()
    app.extensions.pop("atlas.body_cache", None)  # cold: empty page cache
    start = time.perf_counter()
    response = client.get(path)
    cold = (time.perf_counter() - start) * 1000
    warm = []
    for _ in range(300):
        start = time.perf_counter()
        client.get(path, headers={"Accept-Encoding": "gzip"})
        warm.append((time.perf_counter() - start) * 1000)
    warm.sort()
    return {"cold_ms": cold, "warm_p50_ms": warm[150], "warm_p95_ms": warm[284],
            "raw_kb": len(response.data) / 1024, "gzip_kb": len(gzip.compress(response.data)) / 1024}


def drawn_times(base: str, paths: list[str]) -> dict:
    from playwright.sync_api import sync_playwright
    result = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for path in paths:
            samples = []
            for _ in range(5):
                page = browser.new_page(viewport={"width": 1280, "height": 860})
                page.goto(base + path, wait_until="commit")
                page.wait_for_function("() => window.atlas && atlas.loaded")
                samples.append(page.evaluate("performance.now()"))
                page.close()
            result[path] = statistics.median(samples)
        browser.close()
    return result


def main() -> None:
    app = create_app({"ATLAS_TILES": "none"})
    rows = {name: server_times(app, path) for name, path in VIEWS.items()}
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    drawn = drawn_times(f"http://127.0.0.1:{server.server_port}", list(VIEWS.values()))
    server.shutdown()
    print(f"{'view':<34}{'cold ms':>9}{'warm p50':>10}{'warm p95':>10}{'raw KB':>9}{'gzip KB':>9}{'drawn ms':>10}")
    for name, path in VIEWS.items():
        r = rows[name]
        print(f"{name:<34}{r['cold_ms']:>9.0f}{r['warm_p50_ms']:>10.2f}{r['warm_p95_ms']:>10.2f}"
              f"{r['raw_kb']:>9.0f}{r['gzip_kb']:>9.0f}{drawn[path]:>10.0f}")
    print("targets: cold < 500 ms, warm p50 < 20 ms, gzip <= 300 KB, drawn < 1500 ms")


if __name__ == "__main__":
    main()
