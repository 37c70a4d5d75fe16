"""Layer styles for GIS files, generated from the map's layer specs (layers/*.yaml), so a layer
opens in QGIS (or GeoServer) looking as it does on the map.

    qml(spec, ...)          QGIS style (renderer-v2: single symbol, categorized by the spec's `by`
                            field, or graduated for the cities choropleth)
    sld(spec, ...)          OGC SLD 1.0 with the same rules
    description(spec)       bilingual layer description from the spec's title and legend
    style_rows(...)         rows of the GeoPackage `layer_styles` table QGIS reads

Text is built with ElementTree, so labels from the YAML are escaped, never markup. Pixel units:
Leaflet sizes are screen pixels; a Leaflet circle radius r is a QGIS/SLD marker of size 2r.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from geoapp.specs import LayerSpec

# Leaflet's defaults for path options the specs leave out.
LEAFLET_DEFAULTS = {"color": "#3388ff", "weight": 3, "opacity": 1.0, "fill_opacity": 0.2, "radius": 10}
QGIS_VERSION = "3.28.0"
SLD_NS = "http://www.opengis.net/sld"
OGC_NS = "http://www.opengis.net/ogc"


@dataclass(frozen=True)
class Choropleth:
    """Graduated classes for a numeric field: (lower, upper_exclusive, colour) per class."""
    field: str
    label: str
    classes: list


def _rgba(hex_color: str, alpha: float = 1.0) -> str:
    value = hex_color.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    r, g, b = (int(value[i:i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{round(max(0.0, min(1.0, alpha)) * 255)}"


def _full(style: dict) -> dict:
    merged = {**LEAFLET_DEFAULTS, **{k: v for k, v in style.items() if k != "label"}}
    merged.setdefault("fill_color", merged["color"])
    return merged


def _dashed(style: dict) -> bool:
    dash = str(style.get("dash_array", "")).split()
    return len(dash) >= 2 and float(dash[1]) > 0


def _option_map(parent, options: dict) -> None:
    mapping = ET.SubElement(parent, "Option", type="Map")
    for name, value in options.items():
        ET.SubElement(mapping, "Option", name=name, value=str(value), type="QString")


def _qml_symbol(parent, name: str, style: dict, point: bool) -> None:
    s = _full(style)
    symbol = ET.SubElement(parent, "symbol", name=name, type="marker" if point else "fill", alpha="1",
                           clip_to_extent="1", force_rhr="0")
    if point:
        layer = ET.SubElement(symbol, "layer", {"class": "SimpleMarker", "enabled": "1", "locked": "0", "pass": "0"})
        _option_map(layer, {"name": "circle", "color": _rgba(s["fill_color"], s["fill_opacity"]),
                            "outline_color": _rgba(s["color"], s["opacity"]),
                            "outline_style": "dash" if _dashed(s) else "solid",
                            "outline_width": s["weight"], "outline_width_unit": "Pixel",
                            "size": 2 * s["radius"], "size_unit": "Pixel", "scale_method": "diameter"})
    else:
        layer = ET.SubElement(symbol, "layer", {"class": "SimpleFill", "enabled": "1", "locked": "0", "pass": "0"})
        _option_map(layer, {"color": _rgba(s["fill_color"], s["fill_opacity"]),
                            "style": "solid" if s["fill_opacity"] > 0 else "no",
                            "outline_color": _rgba(s["color"], s["opacity"]),
                            "outline_style": "dash" if _dashed(s) else "solid",
                            "outline_width": s["weight"], "outline_width_unit": "Pixel",
                            "joinstyle": "round"})


def _label(label: dict | None) -> str:
    if not label:
        return ""
    return f"{label.get('zh', '')} / {label.get('en', '')}".strip(" /")


def _categories(spec: LayerSpec) -> list[tuple[str, dict, str]]:
    """(value, style, label) per styled value of the spec's `by` field."""
    out = []
    for value, extra in spec.style.get("values", {}).items():
        style = {**spec.base_style(), **extra}
        out.append((str(value), style, _label(extra.get("label"))))
    return out


def qml(spec: LayerSpec, point: bool, choropleth: Choropleth | None = None) -> str:
    root = ET.Element("qgis", version=QGIS_VERSION, styleCategories="Symbology")
    by = spec.style.get("by")
    if choropleth is not None:
        renderer = ET.SubElement(root, "renderer-v2", type="graduatedSymbol", attr=choropleth.field,
                                 graduatedMethod="GraduatedColor", forceraster="0", symbollevels="0",
                                 enableorderby="0")
        ranges = ET.SubElement(renderer, "ranges")
        symbols = ET.SubElement(renderer, "symbols")
        for i, (lower, upper, color) in enumerate(choropleth.classes):
            ET.SubElement(ranges, "range", lower=str(lower), upper=str(upper - 1), symbol=str(i),
                          label=_range_label(choropleth.label, lower, upper), render="true")
            _qml_symbol(symbols, str(i), {**spec.base_style(), "fill_color": color, "fill_opacity": 0.8}, point)
        ET.SubElement(renderer, "mode", name="manual")
    elif by:
        renderer = ET.SubElement(root, "renderer-v2", type="categorizedSymbol", attr=by, forceraster="0",
                                 symbollevels="0", enableorderby="0")
        categories = ET.SubElement(renderer, "categories")
        symbols = ET.SubElement(renderer, "symbols")
        for i, (value, style, label) in enumerate(_categories(spec)):
            ET.SubElement(categories, "category", value=value, symbol=str(i), label=label or value, render="true")
            _qml_symbol(symbols, str(i), style, point)
    else:
        renderer = ET.SubElement(root, "renderer-v2", type="singleSymbol", forceraster="0", symbollevels="0",
                                 enableorderby="0")
        symbols = ET.SubElement(renderer, "symbols")
        _qml_symbol(symbols, "0", spec.base_style(), point)
    ET.SubElement(root, "layerGeometryType").text = "0" if point else "2"
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode")


def _range_label(label: str, lower: int, upper: int) -> str:
    return f"{label}: {lower}" + (f"–{upper - 1}" if upper - 1 > lower else "")


def _css(parent, tag: str, params: dict) -> None:
    element = ET.SubElement(parent, f"{{{SLD_NS}}}{tag}")
    for name, value in params.items():
        ET.SubElement(element, f"{{{SLD_NS}}}CssParameter", name=name).text = str(value)


def _sld_symbolizer(rule, style: dict, point: bool) -> None:
    s = _full(style)
    stroke = {"stroke": s["color"], "stroke-width": s["weight"], "stroke-opacity": s["opacity"]}
    if _dashed(s):
        stroke["stroke-dasharray"] = str(s["dash_array"])
    if point:
        symbolizer = ET.SubElement(rule, f"{{{SLD_NS}}}PointSymbolizer")
        graphic = ET.SubElement(symbolizer, f"{{{SLD_NS}}}Graphic")
        mark = ET.SubElement(graphic, f"{{{SLD_NS}}}Mark")
        ET.SubElement(mark, f"{{{SLD_NS}}}WellKnownName").text = "circle"
        _css(mark, "Fill", {"fill": s["fill_color"], "fill-opacity": s["fill_opacity"]})
        _css(mark, "Stroke", stroke)
        ET.SubElement(graphic, f"{{{SLD_NS}}}Size").text = str(2 * s["radius"])
    else:
        symbolizer = ET.SubElement(rule, f"{{{SLD_NS}}}PolygonSymbolizer")
        if s["fill_opacity"] > 0:
            _css(symbolizer, "Fill", {"fill": s["fill_color"], "fill-opacity": s["fill_opacity"]})
        _css(symbolizer, "Stroke", stroke)


def _sld_rule(parent, name: str, title: str, style: dict, point: bool, condition=None) -> None:
    rule = ET.SubElement(parent, f"{{{SLD_NS}}}Rule")
    ET.SubElement(rule, f"{{{SLD_NS}}}Name").text = name
    ET.SubElement(rule, f"{{{SLD_NS}}}Title").text = title
    if condition is not None:
        rule.append(condition)
    _sld_symbolizer(rule, style, point)


def _ogc(op: str, field: str, value) -> ET.Element:
    element = ET.Element(f"{{{OGC_NS}}}{op}")
    ET.SubElement(element, f"{{{OGC_NS}}}PropertyName").text = field
    ET.SubElement(element, f"{{{OGC_NS}}}Literal").text = str(value)
    return element


def sld(spec: LayerSpec, layer_name: str, point: bool, choropleth: Choropleth | None = None) -> str:
    ET.register_namespace("sld", SLD_NS)
    ET.register_namespace("ogc", OGC_NS)
    root = ET.Element(f"{{{SLD_NS}}}StyledLayerDescriptor", version="1.0.0")
    named = ET.SubElement(root, f"{{{SLD_NS}}}NamedLayer")
    ET.SubElement(named, f"{{{SLD_NS}}}Name").text = layer_name
    user = ET.SubElement(named, f"{{{SLD_NS}}}UserStyle")
    ET.SubElement(user, f"{{{SLD_NS}}}Title").text = _label(spec.title)
    fts = ET.SubElement(user, f"{{{SLD_NS}}}FeatureTypeStyle")
    by = spec.style.get("by")
    if choropleth is not None:
        for lower, upper, color in choropleth.classes:
            both = ET.Element(f"{{{OGC_NS}}}Filter")
            conj = ET.SubElement(both, f"{{{OGC_NS}}}And")
            conj.append(_ogc("PropertyIsGreaterThanOrEqualTo", choropleth.field, lower))
            conj.append(_ogc("PropertyIsLessThan", choropleth.field, upper))
            _sld_rule(fts, f"{choropleth.field}_{lower}", _range_label(choropleth.label, lower, upper),
                      {**spec.base_style(), "fill_color": color, "fill_opacity": 0.8}, point, both)
    elif by:
        for value, style, label in _categories(spec):
            condition = ET.Element(f"{{{OGC_NS}}}Filter")
            condition.append(_ogc("PropertyIsEqualTo", by, value))
            _sld_rule(fts, value, label or value, style, point, condition)
    else:
        _sld_rule(fts, spec.id, _label(spec.legend) or _label(spec.title), spec.base_style(), point)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def description(spec: LayerSpec, plan_title: tuple[str, str] | None = None) -> str:
    """'title zh / title en', the legend entries and the plan (its `sources` title, zh and en),
    e.g. for gpkg_contents.description."""
    entries = [label for _, _, label in _categories(spec)] if spec.style.get("by") else \
        [_label(spec.legend)] if spec.legend else []
    text = _label(spec.title)
    if entries:
        text += ". " + "; ".join(e for e in entries if e)
    if plan_title:
        text += f". {plan_title[0]} / {plan_title[1]} atlas"
    return text + "; sources per row."


def style_row(table: str, geometry_column: str, spec: LayerSpec, point: bool,
              choropleth: Choropleth | None = None) -> dict:
    """A row of the GeoPackage `layer_styles` table (the schema QGIS writes and reads)."""
    return {"f_table_catalog": "", "f_table_schema": "", "f_table_name": table,
            "f_geometry_column": geometry_column, "styleName": table,
            "styleQML": qml(spec, point, choropleth), "styleSLD": sld(spec, table, point, choropleth),
            "useAsDefault": True, "description": description(spec), "owner": "", "ui": ""}
