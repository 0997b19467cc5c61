"""Contact sheets: drawn from the workers' thumbnails, redrawn only when what they show changed."""

from __future__ import annotations

from PIL import Image

from mockups import BuildOptions, build
from mockups.review.grid import CELL, HEAD_H, LABEL_W, MIN_CELL, PAD
from tests.conftest import MINIMAL


def _sheets(root) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "build" / "grids" / "web").glob("*.jpg"))}


def test_only_the_sheets_whose_cells_or_labels_changed_are_redrawn(project):
    path = project()
    build(path, BuildOptions(gallery=False, inspect=False))
    first = _sheets(path.parent)
    assert set(first) == {"TEE.jpg", "MUG.jpg"}
    # another product's name: the tee's sheet is not redrawn (before, any catalog edit redrew every sheet)
    path.write_text(MINIMAL.replace("name: Mug\n", "name: Ceramic mug\n"))
    build(path, BuildOptions(gallery=False, inspect=False))
    second = _sheets(path.parent)
    assert second["TEE.jpg"] == first["TEE.jpg"] and second["MUG.jpg"] != first["MUG.jpg"]
    # a colour both show: both redrawn (its swatch and its cells changed)
    path.write_text(MINIMAL.replace("name: Mug\n", "name: Ceramic mug\n").replace("#1F2A44", "#22304F"))
    build(path, BuildOptions(gallery=False, inspect=False))
    third = _sheets(path.parent)
    assert third["TEE.jpg"] != second["TEE.jpg"] and third["MUG.jpg"] != second["MUG.jpg"]
    with Image.open(path.parent / "build" / "grids" / "web" / "TEE.jpg") as sheet:
        assert sheet.format == "JPEG" and sheet.info["comment"].startswith(b"mockups-grid:")  # what it is compared by


def test_a_sheet_shows_its_cells_thumbnails_and_old_sheets_are_deleted(project):
    """The cells are the workers' thumbnails (each cell matches its variant's colour within a few
    levels), a product dropped from the catalog loses its sheet, and PNG sheets of before go."""
    path = project()
    build(path, BuildOptions(gallery=False, inspect=False, backend="tests.backends_for_tests:Recording"))
    grids = path.parent / "build" / "grids" / "web"
    (grids / "OLD.png").write_bytes(b"a sheet of an older version")
    with Image.open(grids / "MUG.jpg") as sheet:
        im = sheet.convert("RGB")
    cell = MIN_CELL  # the channel's images are 96 px: cells of their size, but no smaller than the labels need
    pitch = -(-(cell + PAD) // 8) * 8  # a colour's row: whole JPEG block rows, to be replaced alone
    assert im.size == (LABEL_W + 2 * (cell + PAD) + PAD, HEAD_H + 2 * pitch) and cell < CELL and pitch >= cell + PAD
    centre = (LABEL_W + cell // 2, HEAD_H + pitch + cell // 2)  # row 2 (navy), column 1 (studio)
    assert max(abs(a - b) for a, b in zip(im.getpixel(centre), (0x1F, 0x2A, 0x44), strict=True)) <= 4
    path.write_text(MINIMAL.replace("  - sku: MUG\n    name: Mug\n    image: assets/mug.png\n", ""))
    build(path, BuildOptions(gallery=False, inspect=False, backend="tests.backends_for_tests:Recording"))
    assert sorted(p.name for p in grids.iterdir()) == ["TEE.jpg"]


def test_an_edited_colour_replaces_its_rows_and_the_sheet_is_what_a_full_redraw_makes(project, monkeypatch):
    """One colour's hex changes one row of each sheet: only that row is drawn and encoded, spliced
    into the sheet at its restart markers, and the file is byte for byte the sheet drawn whole."""
    import mockups.review.grid as grid

    path = project()
    build(path, BuildOptions(gallery=False, inspect=False))
    log = path.parent / "drawn.txt"  # what each sheet drew (they are drawn in threads of the build)

    def note(what: str) -> None:
        with open(log, "a") as f:
            f.write(what + "\n")

    def drawn() -> list[str]:
        return sorted(log.read_text().split()) if log.exists() else []

    real_rows, real_sheet = grid.draw_rows, grid.draw_sheet
    monkeypatch.setattr(grid, "draw_rows", lambda c, layout, b, s, first, last: note(f"rows:{first}-{last}")
                        or real_rows(c, layout, b, s, first, last))
    monkeypatch.setattr(grid, "draw_sheet", lambda *a: note("whole") or real_sheet(*a))
    path.write_text(MINIMAL.replace("#1F2A44", "#22304F"))  # navy: the second of two colours
    build(path, BuildOptions(gallery=False, inspect=False))
    assert drawn() == ["rows:1-2", "rows:1-2"]  # one row of each of the two sheets, no whole sheet
    spliced = _sheets(path.parent)
    for sheet in (path.parent / "build" / "grids" / "web").glob("*.jpg"):
        sheet.unlink()
    log.unlink()
    build(path, BuildOptions(gallery=False, inspect=False))
    assert drawn() == ["whole", "whole"]
    assert _sheets(path.parent) == spliced
    with Image.open(path.parent / "build" / "grids" / "web" / "TEE.jpg") as sheet:
        sheet.load()  # a valid JPEG, decoded to its last row


def test_a_sheet_of_another_layout_or_version_is_drawn_whole(project, monkeypatch):
    import mockups.review.grid as grid

    path = project()
    build(path, BuildOptions(gallery=False, inspect=False))
    tee = path.parent / "build" / "grids" / "web" / "TEE.jpg"
    data = tee.read_bytes()
    tee.write_bytes(data[: len(data) // 2] + b"\xff\xd9")  # torn: its block rows do not add up
    log = path.parent / "drawn.txt"
    real_sheet = grid.draw_sheet

    def whole(*a):
        with open(log, "a") as f:
            f.write(a[1][0]["sku"] + "\n")
        return real_sheet(*a)

    monkeypatch.setattr(grid, "draw_sheet", whole)
    path.write_text(MINIMAL.replace("#1F2A44", "#22304F"))
    build(path, BuildOptions(gallery=False, inspect=False))
    assert log.read_text().split() == ["TEE"]  # the mug's sheet had its row replaced; the torn one was drawn whole
    with Image.open(tee) as sheet:
        sheet.load()
