"""Contact sheets: drawn from the workers' thumbnails, redrawn only when what they show changed."""

from __future__ import annotations

from PIL import Image

from mockups import BuildOptions, build
from tests.conftest import MINIMAL


def _sheets(root) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "build" / "grids" / "web").glob("*.png"))}


def test_only_the_sheets_whose_cells_or_labels_changed_are_redrawn(project):
    path = project()
    build(path, BuildOptions(gallery=False, inspect=False))
    first = _sheets(path.parent)
    assert set(first) == {"TEE.png", "MUG.png"}
    # another product's name: the tee's sheet is not redrawn (before, any catalog edit redrew every sheet)
    path.write_text(MINIMAL.replace("name: Mug\n", "name: Ceramic mug\n"))
    build(path, BuildOptions(gallery=False, inspect=False))
    second = _sheets(path.parent)
    assert second["TEE.png"] == first["TEE.png"] and second["MUG.png"] != first["MUG.png"]
    # a colour both show: both redrawn (its swatch and its cells changed)
    path.write_text(MINIMAL.replace("name: Mug\n", "name: Ceramic mug\n").replace("#1F2A44", "#22304F"))
    build(path, BuildOptions(gallery=False, inspect=False))
    third = _sheets(path.parent)
    assert third["TEE.png"] != second["TEE.png"] and third["MUG.png"] != second["MUG.png"]
    with Image.open(path.parent / "build" / "grids" / "web" / "TEE.png") as sheet:
        assert sheet.info.get("mockups-grid")  # the stamp it is compared by
