"""Start-up CPU time and worker memory by component, for one data dir (issue 9).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_startup.py /tmp/atlas-scale/n100000 [--search]

(the dir is what `benchmarks/bench_scale.py --sizes 100000 --out /tmp/atlas-scale` writes). Runs
create_app's steps one by one in this process and prints the resident memory (RSS) and CPU time
after each, then the requests of bench_scale (map page, 200 OGC pages, 200 bbox pages, /stats, the
whole synthetic layer as GeoJSON) with each body read and the response closed, as a WSGI server
does. CPU time is the figure to compare on a loaded machine; RSS includes memory glibc keeps
after a free until geoapp/web/memory.py hands it back.
"""
from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

from benchmarks.synthetic import LAYER_ID


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Steps:
    def __init__(self):
        self.rss, self.cpu = 0.0, time.process_time()

    def __call__(self, name: str) -> None:
        gc.collect()
        rss, cpu = rss_mb(), time.process_time()
        print(f"{name:<34} RSS {rss:6.0f} MB ({rss - self.rss:+5.0f})   CPU {cpu - self.cpu:6.2f} s", flush=True)
        self.rss, self.cpu = rss, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path, help="a dir with data/ and layers/ (bench_scale's n<N>)")
    parser.add_argument("--search", action="store_true", help="also search (builds the search index)")
    args = parser.parse_args()
    step = Steps()
    from flask import Flask

    import geoapp.web as web
    from geoapp.web import about, admin, api, export, headers, map_page, ogc, stats  # noqa: F401
    step("imports")
    app = Flask("geoapp.web")
    web.init_config(app, {"ATLAS_TILES": "none", "ATLAS_DATA_DIR": str(args.dir / "data"),
                          "ATLAS_LAYERS_DIR": str(args.dir / "layers")})
    web.init_state(app)
    step("state: registry + imported layers, the default plan's bundle (catalog, display positions)")
    web.init_blueprints(app)
    step("blueprints (map set-up)")
    app.extensions["atlas"].bundle().registry.counted_places()
    step("counted places")
    web.init_errors(app)
    web.init_memory(app)
    step("freed memory handed back")
    client = app.test_client()

    def get(name: str, urls: list[str]) -> None:
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            response.get_data()
            response.close()
        step(name)

    layer = LAYER_ID if LAYER_ID in app.extensions["atlas"].bundle().registry.layers else "high_tech_zones"
    get("GET /", ["/"])
    if args.search:
        get("GET /map/search x3 (index built)", ["/map/search?q=shenyang", "/map/search?q=合成", "/map/search?q=sygxq"])
    get("GET 200 OGC item pages", [f"/ogc/collections/{layer}/items?limit=100&offset={i * 100}" for i in range(200)])
    get("GET 200 bbox pages", [f"/ogc/collections/{layer}/items?limit=100&bbox="
                               f"{123.2 + i * 1e-4:.4f},41.6,{123.7 + i * 1e-4:.4f},42.0" for i in range(200)])
    get("GET /stats", ["/stats"])
    get("GET the whole layer as GeoJSON", [f"/export/{layer}.geojson"])


if __name__ == "__main__":
    main()
