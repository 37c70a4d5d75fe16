"""Synthetic places for scale tests and benchmarks — never written under data/.

    python benchmarks/synthetic.py OUT_DIR N [--seed S]

makes OUT_DIR/data (a copy of data/ plus platforms/synthetic_places.csv with N rows) and
OUT_DIR/layers (a copy of layers/ plus 85_synthetic_places.yaml). Run the app on it with
ATLAS_DATA_DIR=OUT_DIR/data ATLAS_LAYERS_DIR=OUT_DIR/layers.

Each row is a random point inside a random real district (chosen in proportion to its area), with
that district's and city's adcodes, valid kind/level/industry codes and a plan section that
exists (专栏1, on industrial innovation platforms). Names say plainly that the rows are synthetic (合成平台 000123 / Synthetic platform 000123),
and so does every row's source: these are not places.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoapp import DATA_DIR, LAYERS_DIR, vocab

LAYER_ID = "synthetic_places"
SPEC = f"""id: {LAYER_ID}
data: {LAYER_ID}
title: {{zh: 合成测试地点, en: Synthetic test places}}
geometry: point
show: true
filterable: true
searchable: true
cluster: true
style:
  radius: 6
  weight: 1
  fill_opacity: 0.8
  color: "#34495e"
  fill_color: "#95a5a6"
  by: level
  values:
    national: {{fill_color: "#e67e22", label: {{zh: 国家级（合成）, en: National (synthetic)}}}}
    provincial: {{fill_color: "#95a5a6", label: {{zh: 省级（合成）, en: Provincial (synthetic)}}}}
popup: [name, kind, level, city, district, industries, location_precision, plan_refs, source]
"""


def synthetic_rows(n: int, seed: int = 20161) -> pd.DataFrame:
    districts = gpd.read_file(DATA_DIR / "boundaries" / "liaoning_district.geojson")
    districts["adcode"] = districts["adcode"].astype(str)
    districts["parent_adcode"] = districts["parent_adcode"].astype(str)
    rng = np.random.default_rng(seed)
    weights = districts.to_crs("+proj=aea +lat_1=25 +lat_2=47 +lon_0=105").area.to_numpy()
    picks = rng.choice(len(districts), size=n, p=weights / weights.sum())
    lon = np.empty(n)
    lat = np.empty(n)
    for d in np.unique(picks):  # rejection sampling in each district's bounding box, vectorised
        where = np.flatnonzero(picks == d)
        geom = districts.geometry.iloc[d]
        shapely.prepare(geom)
        x0, y0, x1, y1 = geom.bounds
        got = 0
        while got < len(where):
            k = (len(where) - got) * 3 + 8
            xs, ys = rng.uniform(x0, x1, k), rng.uniform(y0, y1, k)
            ok = shapely.contains_xy(geom, xs, ys)
            take = min(ok.sum(), len(where) - got)
            lon[where[got:got + take]] = xs[ok][:take]
            lat[where[got:got + take]] = ys[ok][:take]
            got += take
    industries = list(vocab.INDUSTRIES)
    numbers = [f"{i:06d}" for i in range(n)]
    first = rng.integers(0, len(industries), n)
    second = rng.integers(0, len(industries), n)
    return pd.DataFrame({
        "id": [f"synthetic_{x}" for x in numbers],
        "name_zh": [f"合成平台 {x}" for x in numbers],
        "name_en": [f"Synthetic platform {x}" for x in numbers],
        "kind": "platform",
        "level": np.where(rng.random(n) < 0.1, "national", "provincial"),
        "city_adcode": districts["parent_adcode"].to_numpy()[picks],
        "district_adcode": districts["adcode"].to_numpy()[picks],
        "industries": [industries[a] if a == b else f"{industries[a]};{industries[b]}"
                       for a, b in zip(first, second)],
        "lon": np.round(lon, 6), "lat": np.round(lat, 6),
        "location_precision": "source_coordinate",
        "plan_refs": "专栏1",  # 产业技术创新平台: the plan's column on platforms
        "plan_names": "产业技术创新平台",
        "source": f"synthetic benchmark row (benchmarks/synthetic.py, seed {seed}); not a real place",
        "note": "",
    })


def make_dataset(out: Path, n: int, seed: int = 20161) -> tuple[Path, Path]:
    """Copies of data/ and layers/ with the synthetic layer added; returns (data_dir, layers_dir)."""
    out = Path(out)
    data_dir, layers_dir = out / "data", out / "layers"
    if data_dir.exists():
        shutil.rmtree(data_dir)
    if layers_dir.exists():
        shutil.rmtree(layers_dir)
    shutil.copytree(DATA_DIR, data_dir)
    shutil.copytree(LAYERS_DIR, layers_dir)
    synthetic_rows(n, seed).to_csv(data_dir / "platforms" / f"{LAYER_ID}.csv", index=False)
    (layers_dir / f"85_{LAYER_ID}.yaml").write_text(SPEC, encoding="utf-8")
    return data_dir, layers_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("n", type=int)
    parser.add_argument("--seed", type=int, default=20161)
    args = parser.parse_args()
    if DATA_DIR.resolve() in [args.out.resolve(), *args.out.resolve().parents]:
        parser.error("the output must not be under data/")
    data_dir, layers_dir = make_dataset(args.out, args.n, args.seed)
    print(f"ATLAS_DATA_DIR={data_dir} ATLAS_LAYERS_DIR={layers_dir}")


if __name__ == "__main__":
    main()
