"""Controlled vocabularies, bilingual. One code list each; data files use the codes."""
from __future__ import annotations

# The plan's industries (专栏1 of the plan lists the platform industries).
INDUSTRIES: dict[str, tuple[str, str]] = {
    "equipment": ("先进装备制造", "Advanced equipment manufacturing"),
    "electronics": ("电子信息", "Electronic information"),
    "new_materials": ("新材料", "New materials"),
    "chemicals": ("化工", "Chemicals"),
    "agriculture": ("现代农业", "Modern agriculture"),
    "biomedicine": ("生物医药", "Biomedicine"),
    "energy_environment": ("节能环保", "Energy saving & environment"),
    "marine": ("海洋", "Marine"),
    "st_services": ("综合科技服务", "Integrated S&T services"),
    "new_energy": ("新能源", "New energy"),
}

KINDS: dict[str, tuple[str, str]] = {
    "high_tech_zone": ("高新技术产业开发区", "High-tech industrial development zone"),
    "cluster": ("科技特色产业集群", "S&T industrial cluster"),
    "industrial_base": ("产业基地", "Industrial base"),
    "industrial_park": ("产业园", "Industrial park"),
    "software_cluster": ("软件产业集群", "Software industry cluster"),
    "service_cluster": ("科技服务业集聚区", "S&T service cluster"),
    "coastal_park": ("“五点一线”沿海产业园区", "Coastal economic belt park"),
    "laboratory": ("国家实验室", "National laboratory"),
    "platform": ("创新平台", "Innovation platform"),
    "innovation_area": ("创新集聚区", "Innovation cluster area"),
    "pilot_zone": ("改革创新试验区", "Reform and innovation pilot zone"),
    "health_intervention": ("区域性疾病综合干预", "Regional disease intervention"),
    "corridor": ("产业带", "Industrial belt (corridor)"),
    # Kinds of the lists the data office imports (layers with `imported:` in layers/*.yaml).
    "key_laboratory": ("重点实验室", "Key laboratory"),
    "enterprise": ("企业", "Enterprise"),
    "incubator": ("孵化器与众创空间", "Incubator or maker space"),
}

LEVELS: dict[str, tuple[str, str]] = {
    "national": ("国家级", "National"),
    "provincial": ("省级", "Provincial"),
    "municipal": ("市级", "Municipal"),
    "unspecified": ("未定级", "Unspecified"),
}

# How well a row's geometry is known. A 'city' / 'district' point is that unit's government seat
# (data/boundaries/seats.csv, placed by scripts/place_points.py); a 'subdistrict' point is the seat
# of the subdistrict/township a source names. None of these is the site itself.
LOCATION_PRECISION: dict[str, tuple[str, str]] = {
    "source_coordinate": ("坐标来自所引来源", "Coordinate from the cited source"),
    "subdistrict": ("仅知所在街道/乡镇（点为街道/乡镇驻地，不是确切位置）",
                    "Subdistrict only (point is the subdistrict/township seat, not the site)"),
    "district": ("仅知所在区县（点为区县人民政府驻地，不是确切位置）",
                 "District only (point is the district/county government seat, not the site)"),
    "city": ("仅知所在城市（点为市人民政府驻地，不是确切位置；面为全市范围）",
             "City only (point is the city government seat, not the site; an area is the whole city)"),
    "derived": ("推导的几何（见说明）", "Derived geometry (see notes)"),
}

VOCABULARIES = {
    "industries": INDUSTRIES,
    "kind": KINDS,
    "level": LEVELS,
    "location_precision": LOCATION_PRECISION,
}


def split_codes(value) -> list[str]:
    """A ';'-separated list cell (industries, plan_refs) as its codes; empty or NaN gives []."""
    if value is None or value != value:  # None or NaN
        return []
    return [part.strip() for part in str(value).split(";") if part.strip()]


def pick(pair, lang: str = "zh"):
    """The bilingual choice, made in one place: the English member of a (zh, en) pair for
    lang 'en', the Chinese one otherwise."""
    return pair[1] if lang == "en" else pair[0]


def label(vocab: dict[str, tuple[str, str]], code: str, lang: str = "zh") -> str:
    """Label of a code in 'zh' or 'en'; unknown codes are returned unchanged."""
    pair = vocab.get(code)
    if pair is None:
        return code
    return pick(pair, lang)
