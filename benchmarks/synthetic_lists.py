"""Synthetic import files for tests and benchmarks ONLY (never written under data/).

Rows are named 合成测试单位NNNNN ("synthetic test unit"): they are not real places. Each point is
drawn uniformly inside a real Liaoning district (50 m in from its boundary, so rounding cannot
move it across) and written as a Chinese map app would give it (GCJ-02 by default), with the
Chinese headers a data office uses. Some rows give only the district or the city (no coordinates)
to exercise placement at the seat.
"""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import shapely

from geoapp import vocab
from geoapp.ingest.coords import from_wgs84

HEADERS = ["编号", "名称", "经度", "纬度", "所在市", "区县", "产业", "级别", "类型", "地址", "备注"]


def synthetic_rows(boundaries, n: int, seed: int = 7, crs: str = "gcj02") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    districts = boundaries["district"].reset_index(drop=True)
    cities = boundaries["city"].set_index("adcode")
    inner = districts.geometry.to_crs(3857).buffer(-50).to_crs(4326)
    industries = list(vocab.INDUSTRIES.items())
    levels = ["国家级", "省级", "市级", "未定级"]
    kinds = ["创新平台", "重点实验室", "企业", "孵化器与众创空间"]
    picks = rng.integers(0, len(districts), n)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    for d in np.unique(picks):
        idx = np.flatnonzero(picks == d)
        poly = inner.iloc[d]
        minx, miny, maxx, maxy = poly.bounds
        got = []
        while len(got) < len(idx):
            xs = rng.uniform(minx, maxx, 4 * len(idx))
            ys = rng.uniform(miny, maxy, 4 * len(idx))
            inside = shapely.contains_xy(poly, xs, ys)
            got += list(zip(xs[inside], ys[inside]))
        lon[idx], lat[idx] = np.array(got[:len(idx)]).T
    x, y = from_wgs84(lon, lat, crs)
    rows = []
    for i in range(n):
        d = districts.iloc[picks[i]]
        city = cities.loc[d["parent_adcode"]]
        mode = i % 20
        has_xy = mode not in (0, 1)
        ind = [industries[(i + k) % len(industries)][1][0] for k in range(1 + i % 2)]
        rows.append({
            "编号": f"syn{i + 1:05d}",
            "名称": f"合成测试单位{i + 1:05d}",
            "经度": f"{x[i]:.6f}" if has_xy else "",
            "纬度": f"{y[i]:.6f}" if has_xy else "",
            "所在市": city["name_zh"] if mode != 2 else d["parent_adcode"],
            "区县": (d["name_zh"] if mode != 3 else d["adcode"]) if mode != 1 else "",
            "产业": "、".join(ind),
            "级别": levels[i % len(levels)],
            "类型": kinds[i % len(kinds)],
            "地址": f"{city['name_zh']}{d['name_zh']}（合成地址 {i + 1}）",
            "备注": "合成测试数据，非真实单位 / synthetic test row, not a real place",
        })
    table = pd.DataFrame(rows, columns=HEADERS)
    # The WGS84 truth each row was made from (NaN where the row gives no coordinates).
    has = np.array([i % 20 not in (0, 1) for i in range(n)])
    table.attrs["wgs84"] = (np.where(has, lon, np.nan), np.where(has, lat, np.nan))
    return table


def to_xlsx(table: pd.DataFrame) -> bytes:
    import openpyxl
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("清单")
    sheet.append(list(table.columns))
    for values in table.itertuples(index=False, name=None):
        sheet.append(list(values))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_csv(table: pd.DataFrame, encoding: str = "utf-8-sig") -> bytes:
    return table.to_csv(index=False).encode(encoding)
