"""Editing catalog.yaml in place: the print area's value changes and every other byte stays."""

from __future__ import annotations

import difflib

import pytest

from mockups import CatalogError, load_catalog
from mockups.review.catalog_edit import EditError, set_print_area
from tests.conftest import MINIMAL, copy_bundled


def changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_a_placement_s_print_area_changes_and_nothing_else(tmp_path):
    root = copy_bundled(tmp_path)
    path = root / "catalog.yaml"
    before = path.read_text()
    after = set_print_area(path, "TEE-CLASSIC", [[400, 330], [640, 330.0], [640, 640], [400, 640.5]],
                           placement="front")
    assert path.read_text() == after
    assert changed_lines(before, after) == [
        "-        print_area: [[392, 330], [632, 330], [632, 630], [392, 630]]",
        "+        print_area: [[400, 330], [640, 330], [640, 640], [400, 640.5]]"]
    at = load_catalog(path).model.products[0].placements["front"]
    assert [list(c) for c in at.print_area] == [[400, 330], [640, 330], [640, 640], [400, 640.5]]


def test_a_print_area_not_written_yet_is_added_under_the_product(project):
    path = project()
    before = path.read_text()
    after = set_print_area(path, "MUG", [[10, 10], [50, 10], [50, 40], [10, 40]])
    assert changed_lines(before, after) == ["+    print_area: [[10, 10], [50, 10], [50, 40], [10, 40]]"]
    assert after.index("print_area: [[10, 10]") > after.index("sku: MUG")
    assert load_catalog(path).model.products[1].print_area is not None


def test_what_cannot_be_edited_says_why_and_writes_nothing(tmp_path, project):
    root = copy_bundled(tmp_path / "b")
    path = root / "catalog.yaml"
    before = path.read_text()
    with pytest.raises(EditError, match="no product with sku 'NOPE'"):
        set_print_area(path, "NOPE", [[0, 0], [1, 0], [1, 1], [0, 1]])
    with pytest.raises(EditError, match="has no placement 'sleeve'"):
        set_print_area(path, "TEE-CLASSIC", [[0, 0], [1, 0], [1, 1], [0, 1]], placement="sleeve")
    with pytest.raises(EditError, match="four corners"):
        set_print_area(path, "TOTE-CANVAS", [[0, 0], [1, 0]])
    assert path.read_text() == before
    small = project(catalog=MINIMAL)
    with pytest.raises(CatalogError):  # outside the 128 px photo: the catalog's own check refuses it
        set_print_area(small, "TEE", [[-500, 0], [100, 0], [100, 100], [-500, 100]])
    assert small.read_text() == MINIMAL


def test_a_cylinder_s_band_is_the_corners_bounding_box_and_its_other_keys_stay(tmp_path):
    root = copy_bundled(tmp_path)
    path = root / "catalog.yaml"
    before = path.read_text()
    after = set_print_area(path, "MUG-11OZ", [[270, 390], [640, 385], [650, 660], [265, 662]])
    old = "    cylinder: {x: 262, y: 380, width: 380, height: 290, arc: 150, ellipse: 0.24}"
    assert changed_lines(before, after) == [
        "-" + old + "   # the design wraps round the body",
        "+" + old.replace("x: 262, y: 380, width: 380, height: 290", "x: 265, y: 385, width: 385, height: 277")
        + "   # the design wraps round the body"]
    c = load_catalog(path).model.products[2].cylinder
    assert (c.x, c.y, c.width, c.height, c.arc) == (265, 385, 385, 277, 150)


def test_options_are_set_where_written_or_added_and_checked(tmp_path):
    root = copy_bundled(tmp_path)
    path = root / "catalog.yaml"
    before = path.read_text()
    area = [[402, 290], [622, 290], [622, 560], [402, 560]]
    after = set_print_area(path, "TEE-CLASSIC", area, placement="back", options={"scale": 0.7, "rotation": -5})
    assert sorted(changed_lines(before, after)) == sorted([
        "+        rotation: -5",
        "-        print_area: {x: 402, y: 290, width: 220, height: 270}",
        "-        scale: 0.85",
        "+        print_area: [[402, 290], [622, 290], [622, 560], [402, 560]]",
        "+        scale: 0.7"])
    assert after.count("\n") == before.count("\n") + 1  # one line added (rotation), the rest edited in place
    mug = set_print_area(path, "MUG-11OZ", [[262, 380], [642, 380], [642, 670], [262, 670]],
                         options={"arc": 120, "centre": 10})
    assert "cylinder: {x: 262, y: 380, width: 380, height: 290, arc: 120, ellipse: 0.24, centre: 10}" in mug
    text = path.read_text()
    with pytest.raises(CatalogError):  # the catalog's own check: an anchor it does not know
        set_print_area(path, "TOTE-CANVAS", [[332, 520], [692, 520], [692, 880], [332, 880]],
                       options={"anchor": "middle"})
    with pytest.raises(EditError, match="cannot set arc here"):
        set_print_area(path, "TOTE-CANVAS", [[332, 520], [692, 520], [692, 880], [332, 880]], options={"arc": 90})
    assert path.read_text() == text


def test_numbers_are_written_as_given_not_rounded(tmp_path):
    root = copy_bundled(tmp_path)
    path = root / "catalog.yaml"
    text = set_print_area(path, "MUG-11OZ", [[262, 380], [642.25, 380], [642.25, 670], [262, 670]],
                          options={"ellipse": 0.26, "scale": 0.85})
    assert "cylinder: {x: 262, y: 380, width: 380.25, height: 290, arc: 150, ellipse: 0.26}" in text
    assert "\n    scale: 0.85\n" in text
