"""CPU time of the /api/coverage body (report already built, body cache bypassed): the document
as built now (belt places as rows from their columns) against the old construction (every table
through to_json → json.loads), alternately in the same minute, then app.json.dumps of each.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_coverage_json.py /tmp/atlas-scale/n100000

The argument is a bench_scale.py output dir (data/ and layers/ in it); none: today's data.
"""
import json
import statistics
import sys
import time
from pathlib import Path


def main() -> None:
    from geoapp.web import create_app, stats
    from geoapp.web.context import current_filter
    config = {"ATLAS_TILES": "none"}
    if len(sys.argv) > 1:
        base = Path(sys.argv[1])
        config |= {"ATLAS_DATA_DIR": str(base / "data"), "ATLAS_LAYERS_DIR": str(base / "layers")}
    app = create_app(config)

    def old(flt, width):
        document = stats.coverage_document(flt, width)
        places = stats.report(flt, width).belt.places
        document["belt"]["places"] = json.loads(places.to_json(orient="records", force_ascii=False))
        return document

    with app.test_request_context("/api/coverage"):
        flt, width = current_filter(), stats.half_width()
        stats.report(flt, width)  # built once, outside the timing
        print(f"belt places: {len(stats.report(flt, width).belt.places)}")
        times = {"old": [], "new": []}
        for _ in range(5):
            for name, build in (("old", old), ("new", stats.coverage_document)):
                start = time.process_time()
                body = (app.json.dumps(build(flt, width)) + "\n").encode("utf-8")
                times[name].append(time.process_time() - start)
                size = len(body)
        for name, samples in times.items():
            print(f"{name}: median {statistics.median(samples) * 1000:.0f} ms CPU "
                  f"(min {min(samples) * 1000:.0f}), body {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
