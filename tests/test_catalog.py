"""Catalog loading: every error kind, with the exact message a merchandiser reads."""

from __future__ import annotations

import json
import re

import pytest
from PIL import Image

from mockups import CatalogError, load_catalog
from mockups.catalog.schema import json_schema
from tests.conftest import MINIMAL, REPO


def problems(path) -> list[str]:
    with pytest.raises(CatalogError) as e:
        load_catalog(path)
    return [str(p).split(": ", 1)[1] if str(p).startswith(str(path)) else str(p) for p in e.value.problems]


def messages(path) -> list[str]:
    """Problems as 'LINE:COL: path: message' (the file name stripped)."""
    with pytest.raises(CatalogError) as e:
        load_catalog(path)
    return [f"{p.line}:{p.column}: {p.path}: {p.message}" for p in e.value.problems]


def test_minimal_catalog_loads(project):
    catalog = load_catalog(project())
    assert [p.sku for p in catalog.model.products] == ["TEE", "MUG"]
    assert catalog.model.products[0].print_area == ((40.0, 30.0), (88.0, 30.0), (88.0, 78.0), (40.0, 78.0))
    assert catalog.colours["navy"].hex == "#1F2A44"
    assert catalog.model.channels[0].size == (96, 96)


def test_unknown_key_suggests_and_lists(project):
    path = project(MINIMAL.replace("format: png}", "fromat: png}"))
    assert messages(path) == [
        "3:28: channels[0].fromat: unknown key 'fromat' (did you mean 'format'?); "
        "expected one of: id, size, format, quality, fill, background, shadow"
    ]


def test_unknown_colour_reference_lists_known_ids(project):
    path = project(MINIMAL.replace("designs: [logo]", "designs: [logo]\n    colours: [white, nvy]"))
    assert messages(path) == [
        "10:22: products[0].colours[1]: unknown colour 'nvy' (did you mean 'navy'?); known colours: white, navy"
    ]


def test_every_problem_at_once_sorted_by_line(project):
    text = MINIMAL.replace("size: 96x96", "size: big").replace('hex: "#1F2A44"', "hex: 12")
    text = text.replace("name: Mug", "name: Mug\n    colour: [navy]")
    found = messages(project(text))
    assert found == [
        "3:21: channels[0].size: expected a size like '2048x2048' (16 to 8192 pixels a side), got 'big'",
        "12:5: products[1].colour: unknown key 'colour' (did you mean 'colours'?); expected one of: sku, name, "
        "image, psd, mask, recolour_mask, designs, placements, old_print, material, colours, backgrounds, template, "
        "mode, caption, photo, scene_fit, print_area, cylinder, scale, anchor, offset, rotation, finish",
        "16:33: colours[1].hex: expected text, got 12, which YAML reads as a number: put quotes around it (\"12\")",
    ]


def test_unquoted_hash_is_explained(project):
    path = project(MINIMAL.replace('hex: "#1F2A44"}', "hex: #1F2A44}"))
    found = messages(path)
    assert len(found) == 1 and "YAML syntax error" in found[0]
    assert "put quotes around colours" in found[0]


def test_empty_hex_value_hints_at_quotes(project):
    path = project(MINIMAL.replace('{id: navy, name: Navy, hex: "#1F2A44"}',
                                   "id: navy\n    name: Navy\n    hex: #1F2A44"))
    found = messages(path)
    assert found == ["17:10: colours[1].hex: expected a colour like '#1A2B3C', but it was read as empty because "
                     "'#1F2A44' starts a comment: write \"#1F2A44\""]


def test_duplicate_ids_and_yaml_duplicate_keys(project):
    text = MINIMAL.replace("{id: navy,", "{id: white,")
    assert messages(project(text)) == [
        "15:10: colours[1].id: duplicate id 'white' (already used by colours[0] on line 14)"
    ]
    text = MINIMAL.replace("name: Mug", "name: Mug\n    name: Mug again")
    assert messages(project(text)) == [
        "12:5: products[1].name: duplicate key 'name' (first written on line 11); each key may appear once"
    ]


def test_missing_file_and_did_you_mean(project):
    path = project(MINIMAL.replace("assets/mug.png", "assets/mugg.png"))
    assert messages(path) == [
        f"12:12: products[1].image: file not found: assets/mugg.png (did you mean 'mug.png'?) (looked in {path.parent})"
    ]


def test_paths_may_not_escape_the_catalog_folder(project, tmp_path):
    path = project(MINIMAL.replace("assets/mug.png", "../outside.png").replace("assets/wood.png", "/etc/passwd"))
    found = messages(path)
    assert found[0] == (f"12:12: products[1].image: '../outside.png' points outside the catalog's folder "
                        f"({tmp_path}); files must live inside the project")
    assert found[1] == ("18:35: backgrounds[1].image: expected a path relative to the catalog's folder, "
                        "got the absolute path '/etc/passwd'")


def test_symlink_out_of_the_project_is_refused(project, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "secret.png"
    Image.new("RGB", (8, 8)).save(outside)
    path = project(MINIMAL.replace("assets/mug.png", "assets/link.png"))
    (path.parent / "assets" / "link.png").symlink_to(outside)
    assert "points outside the catalog's folder" in messages(path)[0]


def test_not_an_image_and_unreadable(project):
    path = project(files={"assets/mug.png": b"this is text, not a PNG"})
    assert messages(path) == [
        "12:12: products[1].image: assets/mug.png is not an image Pillow can read (expected PNG, JPEG, WebP or TIFF)"
    ]


def test_mask_size_must_match(project):
    text = MINIMAL.replace("image: assets/mug.png", "image: assets/mug.png\n    recolour_mask: assets/dye.png")
    path = project(text, files={"assets/dye.png": Image.new("L", (64, 64), 255)})
    assert messages(path) == [
        "13:20: products[1].recolour_mask: the mask is 64x64 but the image assets/mug.png is 128x128; "
        "a mask must match its image"
    ]


def test_print_area_outside_the_image(project):
    path = project(MINIMAL.replace("{x: 40, y: 30, width: 48, height: 48}", "[[0, 0], [200, 0], [200, 50], [0, 50]]"))
    assert messages(path) == ["8:17: products[0].print_area: the print area reaches outside the 128x128 image "
                              "assets/tee.png"]


def test_print_area_must_be_convex(project):
    path = project(MINIMAL.replace("{x: 40, y: 30, width: 48, height: 48}", "[[10, 10], [60, 60], [60, 10], [10, 60]]"))
    assert messages(path) == ["8:17: products[0].print_area: the four corners do not make a convex shape; list them "
                              "clockwise from the top-left: top-left, top-right, bottom-right, bottom-left"]


def test_bad_print_area_shape(project):
    path = project(MINIMAL.replace("{x: 40, y: 30, width: 48, height: 48}", "[[0, 0], [20, 0]]"))
    assert messages(path) == [
        "8:17: products[0].print_area: expected four corners [[x, y], [x, y], [x, y], [x, y]] (top-left, top-right, "
        "bottom-right, bottom-left) or a rectangle {x, y, width, height}"
    ]


def test_designs_need_a_print_area(project):
    path = project(MINIMAL.replace("    print_area: {x: 40, y: 30, width: 48, height: 48}\n", ""))
    assert messages(path) == ["8:14: products[0].designs: designs need a print_area or a cylinder "
                              "(where the design goes)"]


def test_background_needs_exactly_one_kind(project):
    path = project(MINIMAL.replace('colour: "#EDEDED"}', 'colour: "#EDEDED", prompt: "a beach"}'))
    assert messages(path) == [
        "17:5: backgrounds[0]: a background needs exactly one of colour, gradient, sweep, image, prompt; "
        "got both colour and prompt"
    ]


def test_literal_choice_suggests(project):
    path = project(MINIMAL.replace("format: png", "format: jpg"))
    assert messages(path) == ["3:36: channels[0].format: expected one of 'png', 'jpeg' or 'webp', got 'jpg' "
                              "(did you mean 'jpeg'?)"]


def test_yaml_syntax_error_names_line(project):
    path = project(MINIMAL + "  - [unclosed\n")
    found = messages(path)
    assert len(found) == 1 and found[0].startswith("22:") and "YAML syntax error" in found[0]


def test_top_level_must_be_a_mapping(project):
    assert messages(project("- just\n- a list\n")) == [
        "1:1: : expected a mapping of sections (version, products, colours, ...) at the top of the file, "
        "but it is a list of 2 items"
    ]
    assert "but it is empty" in messages(project(""))[0]


def test_several_documents_refused(project):
    found = messages(project(MINIMAL + "---\nversion: 1\n"))
    assert "several YAML documents" in found[0]


def test_missing_catalog_file(tmp_path):
    with pytest.raises(CatalogError) as e:
        load_catalog(tmp_path / "nope.yaml")
    assert "catalog not found" in str(e.value)


def test_error_string_has_file_line_col(project):
    path = project(MINIMAL.replace("format: png}", "fromat: png}"))
    with pytest.raises(CatalogError) as e:
        load_catalog(path)
    assert str(e.value).endswith(":3:28: channels[0].fromat: unknown key 'fromat' (did you mean 'format'?); "
                                 "expected one of: id, size, format, quality, fill, background, shadow")
    assert "catalog.yaml" in str(e.value)


def test_no_python_type_names_in_messages(project):
    text = MINIMAL.replace("- {id: web, size: 96x96, format: png}", "- 12").replace("designs: [logo]", "designs: logo")
    text = text.replace("name: Tee", "name: [1, 2]")
    found = " ".join(messages(project(text)))
    for word in (r"\bdict\b", r"\bstr\b", r"\bint\b", "NoneType", "<class", r"list\["):
        assert not re.search(word, found), found
    assert "expected a mapping (key: value lines), got the number 12" in found
    assert "expected a list, got 'logo'" in found


def test_schema_file_is_in_step_with_the_model():
    shipped = json.loads((REPO / "catalog.schema.json").read_text())
    assert shipped == json_schema()


def test_schema_validates_the_bundled_catalog():
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    data = yaml.safe_load((REPO / "catalog.yaml").read_text())
    jsonschema.validate(data, json_schema())
    data["channels"][0]["fromat"] = "png"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, json_schema())
