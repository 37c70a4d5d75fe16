"""/stats benchmark (prints figures; not a test).

    make bench-stats      # or: PYTHONPATH=. .venv/bin/python benchmarks/bench_stats.py
    ATLAS_DATA_DIR=/tmp/atlas-scale/n100000/data ATLAS_LAYERS_DIR=/tmp/atlas-scale/n100000/layers \
        PYTHONPATH=. .venv/bin/python benchmarks/bench_stats.py      # at scale (benchmarks/synthetic.py)

Cold build time of /stats: the first request for a (filter, width) in a running service, every
report and body cache emptied before each request (the data, specs and plan text stay loaded, as
they are after start-up). Median and min of REPEAT runs per view, plus the warm (cached) time.
Wall time moves with the machine's load; CPU time (this process) much less: compare CPU ms when
other work shares the cores. The map page rows are the same cold build of `/` (its choropleth
needs the per-city figures of the filter, its facets count the places).
"""
from __future__ import annotations

import statistics
import time

from geoapp.web import create_app

VIEWS = {
    "default": "/stats",
    "english": "/stats?lang=en",
    "industry=biomedicine": "/stats?industry=biomedicine",
    "city=210200 (Dalian)": "/stats?city=210200",
    "half_width_km=12.5": "/stats?half_width_km=12.5",
    "/api/coverage": "/api/coverage",
    "/stats/distribution.csv": "/stats/distribution.csv",
    "map page /": "/",
    "map page ?industry=biomedicine": "/?industry=biomedicine",
    "map page ?metric=tasks": "/?metric=tasks",
}
REPEAT = 5


def clear_caches(app) -> None:
    """Drop every per-request cache the app keeps (report, body and filter caches)."""
    for key in [k for k in app.extensions if k.startswith("atlas.") and
                any(word in k for word in ("cache", "lock", "memo", "report"))]:
        app.extensions.pop(key)


def timed(client, path: str) -> tuple[float, float]:
    """(wall ms, CPU ms) of one request."""
    start, cpu = time.perf_counter(), time.process_time()
    response = client.get(path)
    elapsed, used = (time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000
    assert response.status_code == 200, (path, response.status_code)
    return elapsed, used


def main() -> None:
    start = time.perf_counter()
    app = create_app({"ATLAS_TILES": "none"})
    startup = (time.perf_counter() - start) * 1000
    client = app.test_client()
    timed(client, "/stats")  # imports, lru caches of the plan text: paid once per process
    print(f"app start-up: {startup:.0f} ms")
    print(f"data: {app.config['ATLAS_DATA_DIR']}, {len(app.extensions['atlas'].bundle().registry.counted_places())} places")
    print(f"{'view':<32}{'cold median ms':>16}{'cold min ms':>13}{'cold CPU ms':>13}{'warm ms':>9}")
    for name, path in VIEWS.items():
        cold = []
        for _ in range(REPEAT):
            clear_caches(app)
            cold.append(timed(client, path))
        warm = statistics.median(timed(client, path)[0] for _ in range(REPEAT))
        wall = [w for w, _ in cold]
        cpu = statistics.median(c for _, c in cold)
        print(f"{name:<32}{statistics.median(wall):>16.0f}{min(wall):>13.0f}{cpu:>13.0f}{warm:>9.1f}")


if __name__ == "__main__":
    main()
