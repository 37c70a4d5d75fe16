"""OGC items, bbox and whole-layer exports at scale (prints figures; not a test).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_items.py [--data /tmp/atlas-scale/n100000]

Uses a synthetic data set already written by benchmarks/synthetic.py (bench_scale.py writes one
per size under /tmp/atlas-scale/n<N>; it is read here, never rewritten), loads it with
create_app() in this process, then measures through the Flask test client (no server):

  items           /ogc/collections/<layer>/items?limit=100 at 200 distinct offsets (each a cache miss)
  items+filter    the same with industry=biomedicine (the Filter narrows the rows)
  bbox            limit=100 in 200 distinct boxes around Shenyang (each a cache miss)
  bbox+filter     the same with industry=biomedicine
  items, gzip     items at 200 other offsets with Accept-Encoding: gzip (what nginx forwards), rows not written before
  export          /export/<layer>.geojson and .csv of the whole layer, cold, identity and gzip

For each: wall p50/p99 and CPU p50 (time.process_time of this process: the machine is shared, so
CPU time is the steadier figure). Bodies are read piece by piece and not kept, as a server sends
them. Exports also print the body size and how much the process's peak resident memory (VmHWM)
rose while answering (from a cold body cache).
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

LAYER = "synthetic_places"


def percentile(samples: list[float], q: float) -> float:
    samples = sorted(samples)
    return samples[min(len(samples) - 1, int(round(q * (len(samples) - 1))))]


def memory_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux: 5 > /proc/self/clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def get(client, url: str, headers=None) -> tuple[float, float, int]:
    """(wall ms, CPU ms, body bytes); the body is read piece by piece and not kept, as a server
    would send it."""
    wall, cpu = time.perf_counter(), time.process_time()
    response = client.get(url, headers=headers or {}, buffered=False)
    size = sum(len(piece) for piece in response.iter_encoded())
    response.close()
    wall, cpu = (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000
    assert response.status_code == 200, (url, response.status_code)
    return wall, cpu, size


def series(client, urls: list[str], headers=None) -> str:
    walls, cpus = [], []
    for url in urls:
        wall, cpu, _ = get(client, url, headers)
        walls.append(wall)
        cpus.append(cpu)
    return (f"wall p50 {percentile(walls, 0.5):7.1f} ms  p99 {percentile(walls, 0.99):7.1f} ms  "
            f"cpu p50 {statistics.median(cpus):7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/atlas-scale/n100000"))
    parser.add_argument("--layer", default=LAYER)
    args = parser.parse_args()
    if not (args.data / "data").is_dir():
        raise SystemExit(f"no data set at {args.data}; write one with "
                         f"benchmarks/synthetic.py {args.data} 100000")

    from geoapp.web import create_app
    start = time.perf_counter()
    app = create_app({"ATLAS_TILES": "none", "ATLAS_DATA_DIR": str(args.data / "data"),
                      "ATLAS_LAYERS_DIR": str(args.data / "layers")})
    print(f"start-up {time.perf_counter() - start:.1f} s, RSS {memory_kb('VmRSS') / 1024:.0f} MB")
    client = app.test_client()
    base = f"/ogc/collections/{args.layer}/items?limit=100"
    n = len(app.extensions["atlas"].bundle().catalog[args.layer].frame)
    flt = "&industry=biomedicine"
    get(client, base + flt)  # first use of the filter (a cold filter, measured once below)
    wall, cpu, _ = get(client, base + "&industry=marine&offset=100")
    print(f"{'first page, new filter':14} wall {wall:7.1f} ms  cpu {cpu:7.1f} ms")
    rows = [
        ("items", [f"{base}&offset={(i * 100) % n}" for i in range(200)]),
        ("items+filter", [f"{base}{flt}&offset={i * 50}" for i in range(200)]),
        ("bbox", [f"{base}&bbox={123.2 + i * 1e-4:.4f},41.6,{123.7 + i * 1e-4:.4f},42.0" for i in range(200)]),
        ("bbox+filter", [f"{base}{flt}&bbox={123.2 + i * 1e-4:.4f},41.6,{123.7 + i * 1e-4:.4f},42.0"
                         for i in range(200)]),
    ]
    for name, urls in rows:
        print(f"{name:14} {series(client, urls)}")
    gzipped = {"Accept-Encoding": "gzip"}  # as through nginx for a browser (other offsets: misses)
    print(f"{'items, gzip':14} {series(client, [f'{base}&offset={(20000 + i * 100) % n}' for i in range(200)], gzipped)}")
    for fmt in ("geojson", "csv"):
        for encoding in ("identity", "gzip"):
            app.extensions.pop("atlas.body_cache", None)  # cold: no body kept from before
            reset_peak()
            before = memory_kb("VmRSS")
            wall, cpu, size = get(client, f"/export/{args.layer}.{fmt}", {"Accept-Encoding": encoding})
            peak = memory_kb("VmHWM") - before
            print(f"export {fmt:7} {encoding:8} wall {wall:7.0f} ms  cpu {cpu:7.0f} ms  "
                  f"{size / 2**20:6.1f} MB  peak RSS +{peak / 1024:.0f} MB")
    print(f"RSS at the end {memory_kb('VmRSS') / 1024:.0f} MB")


if __name__ == "__main__":
    main()
