"""layers/*.yaml: adding a layer is adding a file; a malformed spec fails with its file name."""
import pytest

from geoapp import LAYERS_DIR, vocab
from geoapp.specs import LayerSpecError, load_specs


def test_bundled_specs_load_and_point_at_existing_data(registry):
    specs = load_specs(LAYERS_DIR)
    for spec in specs:
        if spec.data.startswith("boundaries:"):
            assert spec.data.split(":")[1] in registry.boundaries
        elif spec.imported is not None:     # filled by `python -m geoapp.data import`, not data/
            assert spec.data == spec.id and len(registry.layers[spec.data]) == 0   # empty placeholder
        else:
            assert spec.data in registry.layers, spec.id
        assert spec.title["zh"] and spec.title["en"]
    assert [s.id for s in specs][:2] == ["province", "cities"]


def test_every_styled_value_is_a_real_code_with_bilingual_label(registry):
    for spec in load_specs(LAYERS_DIR):
        by = spec.style.get("by")
        if not by:
            continue
        if spec.imported is not None:       # no rows shipped: every styled value is a real code
            assert set(spec.style["values"]) <= set(vocab.VOCABULARIES[by]), spec.id
            assert all(set(v["label"]) == {"zh", "en"} for v in spec.style["values"].values())
            continue
        frame = registry.layers[spec.data]
        for code, style in spec.style["values"].items():
            assert code in set(frame[by]), (spec.id, code)
            assert set(style["label"]) == {"zh", "en"}
        # every value present in the data has a style (nothing falls back silently)
        assert set(frame[by]) <= set(spec.style["values"]), spec.id


def test_a_new_spec_file_adds_a_layer(tmp_path):
    for spec in LAYERS_DIR.glob("*.yaml"):
        (tmp_path / spec.name).write_text(spec.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "90_coastal_copy.yaml").write_text(
        "id: coastal_again\ndata: coastal_parks\ntitle: {zh: 沿海, en: Coast}\ngeometry: point\n",
        encoding="utf-8")
    assert load_specs(tmp_path)[-1].id == "coastal_again"


@pytest.mark.parametrize("text, message", [
    ("id: x\ndata: high_tech_zones\ntitle: {zh: 甲, en: A, B}\ngeometry: point\n", "quote values"),
    ("id: x\ndata: high_tech_zones\ntitle: {zh: 甲, en: A}\ngeometry: hexagon\n", "geometry 'hexagon'"),
    ("id: x\ntitle: {zh: 甲, en: A}\ngeometry: point\n", "'data' is required"),
    ("id: x\ndata: d\ntitle: {zh: 甲, en: A}\ngeometry: point\ncolour: red\n", "unknown key"),
])
def test_malformed_spec_names_the_file(tmp_path, text, message):
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(LayerSpecError) as info:
        load_specs(tmp_path)
    assert "bad.yaml" in str(info.value) and message in str(info.value)
