"""Contact sheets: one per product and channel (and design), rows = colours, columns = backgrounds.

A sheet is a JPEG (`build/grids/<channel>/<sku>.jpg`) drawn from the thumbnails the workers made;
it records a stamp of what it shows (its cells' keys, its labels) in its comment and is redrawn
only when that changed. `mockups build` draws a product's sheets in a thread as soon as the
product's variants are made (`engine.pipeline.Drawing`: decoding, pasting and encoding leave the
GIL, so threads spread them over the cores); sheets of products no longer built are deleted.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from mockups.catalog import Catalog
from mockups.engine import manifest
from mockups.engine.cache import ObjectStore, atomic_write

logger = logging.getLogger(__name__)

CELL = 240  # the largest cell; a channel whose images are smaller gets cells of their size (at least MIN_CELL)
MIN_CELL = 128
LABEL_W = 170
HEAD_H = 64
PAD = 12
INK, MUTED, PAPER, EMPTY = (27, 27, 29), (110, 110, 118), (255, 255, 255), (238, 238, 240)
#: A sheet of thumbnails is viewed, not archived: JPEG at quality 90 without chroma subsampling
#: (sharp labels) encodes a 1700x2100 sheet in 0.04 s, where PNG took 0.23 s at zlib level 1 and
#: about 1 s at level 6, for a file a third the size of level 1's.
SHEET_FORMAT: dict[str, Any] = {"format": "JPEG", "quality": 90, "subsampling": 0, "restart_marker_rows": 1}
SHEET_EXT = ".jpg"
_STAMP = b"mockups-grid:"
MAX_ROW_STAMPS = 2000  # colours a sheet's comment stamps row by row (19 bytes each)


@functools.lru_cache(maxsize=None)  # a font is loaded once, not once per label of every sheet
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow built without FreeType
        logger.debug("Pillow has no FreeType: contact sheets use its bitmap font")
        return ImageFont.load_default()


def sheets(entries: dict[str, dict]) -> dict[tuple, list[dict]]:
    """Manifest entries grouped by (channel, sku, placement, design)."""
    groups: dict[tuple, list[dict]] = {}
    for e in entries.values():
        groups.setdefault((e["channel"], e["sku"], e.get("placement"), e.get("design")), []).append(e)
    return groups


def sheet_path(build_dir: Path, channel: str, sku: str, design: str | None, several: bool,
               placement: str | None = None) -> Path:
    parts = [sku] + ([placement] if placement else []) + ([design] if several and design else [])
    return build_dir / "grids" / channel / ("--".join(parts) + SHEET_EXT)


def sheet_tasks(build_dir: Path, catalog: Catalog, store: ObjectStore | None = None,
                entries: dict[str, dict] | None = None) -> tuple[list[Callable[[], Path]], set[Path]]:
    """The drawing of each sheet whose cells changed (each returns the sheet it wrote), and every
    sheet the entries show (`prune_sheets` deletes the others)."""
    entries = manifest.load(build_dir) if entries is None else entries
    designs: dict[tuple, set] = {}  # the designs of each print position: several name the sheet
    for e in entries.values():
        designs.setdefault((e["sku"], e.get("placement")), set()).add(e.get("design"))
    tasks: list[Callable[[], Path]] = []
    current = set()
    for (channel, sku, placement, design), cells in sorted(sheets(entries).items(), key=lambda kv: str(kv[0])):
        path = sheet_path(build_dir, channel, sku, design, len(designs[sku, placement]) > 1, placement)
        current.add(path)
        layout = Layout.of(catalog, cells)
        stamp = _sheet_stamp(catalog, layout)
        if _stamp(path) != stamp:
            tasks.append(functools.partial(_write, catalog, build_dir, store, path, cells, layout, stamp))
    return tasks, current


def prune_sheets(build_dir: Path, current: set[Path]) -> None:
    _prune(build_dir / "grids", current)


def _write(catalog: Catalog, build_dir: Path, store: ObjectStore | None, path: Path, cells: list[dict],
           layout: Layout, stamp: dict) -> Path:
    """Draw the sheet, or only its rows whose cells or labels changed when the sheet on disk has
    the same header and rows (see `splice_rows`); the file is the same either way."""
    old = _read_sheet(path)
    if old is not None and stamp["rows"] and old[0].get("head") == stamp["head"] \
            and len(old[0].get("rows", ())) == len(stamp["rows"]):
        changed = [i for i, (a, b) in enumerate(zip(old[0]["rows"], stamp["rows"], strict=True)) if a != b]
        data = splice_rows(old[1], layout, changed, lambda first, last: _encode(
            draw_rows(catalog, layout, build_dir, store, first, last)), _comment(stamp))
    else:
        data = None
    if data is None:
        data = _encode(draw_sheet(catalog, cells, build_dir, store, layout), _comment(stamp))
    atomic_write(path, data, durable=False)  # drawn again from the cache if lost
    return path


def _comment(stamp: dict) -> bytes:
    return _STAMP + json.dumps(stamp, sort_keys=True, separators=(",", ":")).encode()


def _encode(image: Image.Image, comment: bytes = b"") -> bytes:
    buf = io.BytesIO()
    image.save(buf, **SHEET_FORMAT, comment=comment)
    return buf.getvalue()


# --- rows spliced into the sheet on disk -----------------------------------------------------------
#
# A sheet's JPEG has a restart marker after every row of 8x8 blocks (SHEET_FORMAT), so each block
# row is coded on its own, and every colour's row of cells is a whole number of block rows
# (`Layout.pitch`). A row whose cells changed (an edited colour: one row in every product's sheet)
# is drawn and encoded alone and its block rows replace the old ones in the file; the bytes are
# those a full redraw encodes, which a test checks.

def _segments(data: bytes) -> tuple[bytes, list[bytes]] | None:
    """The JPEG's header (up to and including its scan header) and its block rows' coded data."""
    if not data.startswith(b"\xff\xd8") or not data.endswith(b"\xff\xd9"):
        return None
    i = 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker, length = data[i + 1], int.from_bytes(data[i + 2:i + 4], "big")
        if marker == 0xDA:
            end = i + 2 + length
            return data[:end], re.split(rb"\xff[\xd0-\xd7]", data[end:-2])  # 0xFF in coded data is 0xFF 0x00
        i += 2 + length
    return None


def _with_comment(header: bytes, comment: bytes) -> bytes:
    """The header with its COM segment's text replaced (the other segments as they are)."""
    out, i = [header[:2]], 2
    while i + 4 <= len(header):
        marker, length = header[i + 1], int.from_bytes(header[i + 2:i + 4], "big")
        segment = header[i:i + 2 + length]
        out.append(b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment if marker == 0xFE else segment)
        i += 2 + length
    return b"".join(out)


def splice_rows(old: bytes, layout: Layout, changed: list[int], encode_rows, comment: bytes) -> bytes | None:
    """`old` with the colour rows `changed` (indices) replaced by `encode_rows(first, last)`'s
    (the JPEG of rows first..last-1 alone), or None when `old` is not a sheet of this layout."""
    parsed = _segments(old)
    if parsed is None:
        return None
    header, blocks = parsed
    if len(blocks) != -(-layout.height // 8):
        return None
    runs: list[list[int]] = []
    for i in changed:
        if runs and runs[-1][1] == i:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1])
    for first, last in runs:
        part = _segments(encode_rows(first, last))
        y0, y1 = layout.row_top(first) // 8, layout.row_bottom(last - 1) // 8
        if part is None or len(part[1]) != y1 - y0:
            return None
        blocks[y0:y1] = part[1]
    scan = b"".join(block + bytes((0xFF, 0xD0 + k % 8)) for k, block in enumerate(blocks[:-1])) + blocks[-1]
    return _with_comment(header, comment) + scan + b"\xff\xd9"


def _read_sheet(path: Path) -> tuple[dict, bytes] | None:
    """The stamp and the bytes of the sheet on disk, None if there is none this module wrote."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    stamp = _stamp_of(data)
    return (stamp, data) if stamp is not None else None


def _prune(folder: Path, keep: set[Path]) -> None:
    """Delete the sheets of what is no longer built (and those of an older format)."""
    if not folder.is_dir():
        return
    for path in folder.glob("*/*"):
        if path.suffix in (".jpg", ".png") and path not in keep and not path.name.startswith("."):
            path.unlink(missing_ok=True)


def _sheet_stamp(catalog: Catalog, layout: Layout) -> dict:
    """What a sheet shows, as a digest of its header (the title, the backgrounds' names and order,
    the cell size) and one of each colour's row (its name, hex, and its cells' outputs: id, key,
    status). An edit elsewhere in the catalog (another product) leaves the sheet alone; one colour's
    hex changes one row."""
    head = {"title": [layout.first.get(k) for k in ("product", "sku", "placement", "channel")], "cell": layout.cell,
            "backgrounds": [(b, catalog.backgrounds[b].name if b in catalog.backgrounds else b)
                            for b in layout.backgrounds]}

    def digest(value) -> str:
        return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]

    rows = []
    for colour in layout.colours:
        col = catalog.colours.get(colour)
        row = [(c["id"], c["key"], c["status"]) if (c := layout.by_pos.get((colour, bg))) else None
               for bg in layout.backgrounds]
        rows.append(digest([colour, *((col.name, col.hex) if col else ()), row]))
    if len(rows) > MAX_ROW_STAMPS:  # a comment holds 64 KB: such a sheet is always drawn whole
        return {"v": 2, "head": digest([head, rows]), "rows": []}
    return {"v": 2, "head": digest(head), "rows": rows}


def _stamp(path: Path) -> dict | None:
    """The stamp from the sheet's comment, read from its header without decoding the pixels."""
    try:
        with open(path, "rb") as f:
            return _stamp_of(f.read(65536 + 4096))  # the header: the comment is in its first segments
    except OSError:
        return None


def _stamp_of(data: bytes) -> dict | None:
    try:
        with Image.open(io.BytesIO(data)) as im:
            comment = im.info.get("comment")
    except (OSError, ValueError, SyntaxError):
        return None
    if not (isinstance(comment, bytes) and comment.startswith(_STAMP)):
        return None
    try:
        found = json.loads(comment[len(_STAMP):])
    except ValueError:  # a sheet of an older version: drawn again
        return None
    return found if isinstance(found, dict) else None


def _order(catalog: Catalog, cells: list[dict], key: str) -> list[str]:
    rank = catalog.order[key]
    return sorted({c[key] for c in cells}, key=lambda k: rank.get(k, len(rank)))


@dataclass(frozen=True)
class Layout:
    """Where a sheet's parts go: colours down, backgrounds across; each colour's row is `pitch`
    pixels high, a whole number of JPEG block rows, so that it can be replaced alone."""

    colours: list[str]
    backgrounds: list[str]
    by_pos: dict
    cell: int
    first: dict

    @classmethod
    def of(cls, catalog: Catalog, cells: list[dict]) -> Layout:
        return cls(_order(catalog, cells, "colour"), _order(catalog, cells, "background"),
                   {(c["colour"], c["background"]): c for c in cells}, cell_size(cells), cells[0])

    @property
    def pitch(self) -> int:
        return -(-(self.cell + PAD) // 8) * 8

    @property
    def width(self) -> int:
        return LABEL_W + len(self.backgrounds) * (self.cell + PAD) + PAD

    @property
    def height(self) -> int:
        return HEAD_H + len(self.colours) * self.pitch

    def row_top(self, i: int) -> int:
        return HEAD_H + i * self.pitch

    def row_bottom(self, i: int) -> int:
        return HEAD_H + (i + 1) * self.pitch


def draw_sheet(catalog: Catalog, cells: list[dict], build_dir: Path, store: ObjectStore | None,
               layout: Layout | None = None) -> Image.Image:
    """The whole sheet of `cells` (`layout`: theirs, when the caller has made it already)."""
    layout = layout or Layout.of(catalog, cells)
    sheet = Image.new("RGB", (layout.width, layout.height), PAPER)
    draw = ImageDraw.Draw(sheet)
    first = layout.first
    title = "  ·  ".join([first["product"], first["sku"]] + ([first["placement"]] if first.get("placement") else [])
                         + [first["channel"]])
    draw.text((PAD, 12), title, fill=INK, font=_font(22))
    cell = layout.cell
    for j, bg in enumerate(layout.backgrounds):
        name = catalog.backgrounds[bg].name if bg in catalog.backgrounds else bg
        draw.text((LABEL_W + j * (cell + PAD), HEAD_H - 24), name[:28 if cell >= 200 else 16], fill=MUTED,
                  font=_font(15))
    for i in range(len(layout.colours)):
        _draw_row(catalog, layout, sheet, draw, i, layout.row_top(i), build_dir, store)
    return sheet


def draw_rows(catalog: Catalog, layout: Layout, build_dir: Path, store: ObjectStore | None,
              first: int, last: int) -> Image.Image:
    """Colour rows first..last-1 alone, exactly as `draw_sheet` draws them in the whole sheet."""
    top = layout.row_top(first)
    band = Image.new("RGB", (layout.width, layout.row_bottom(last - 1) - top), PAPER)
    draw = ImageDraw.Draw(band)
    for i in range(first, last):
        _draw_row(catalog, layout, band, draw, i, layout.row_top(i) - top, build_dir, store)
    return band


def _draw_row(catalog: Catalog, layout: Layout, sheet: Image.Image, draw: ImageDraw.ImageDraw, i: int, y: int,
              build_dir: Path, store: ObjectStore | None) -> None:
    colour, cell = layout.colours[i], layout.cell
    col = catalog.colours.get(colour)
    draw.rounded_rectangle((PAD, y + 8, PAD + 28, y + 36), 6, fill=col.hex if col else EMPTY, outline=(200, 200, 204))
    draw.text((PAD, y + 44), (col.name if col else colour)[:20], fill=INK, font=_font(15))
    draw.text((PAD, y + 64), col.hex if col else "", fill=MUTED, font=_font(13))
    for j, bg in enumerate(layout.backgrounds):
        x = LABEL_W + j * (cell + PAD)
        sheet.paste(_cell_image(layout.by_pos.get((colour, bg)), build_dir, store, cell), (x, y))


_EMPTY_TILES: dict[int, Image.Image] = {}


def _empty(size: int) -> Image.Image:
    """An empty cell (a copy: failed and missing cells are written on)."""
    if size not in _EMPTY_TILES:
        _EMPTY_TILES[size] = Image.new("RGB", (size, size), EMPTY)
    return _EMPTY_TILES[size].copy()


def cell_size(cells: list[dict]) -> int:
    """The sheet's cell: CELL, or the images' own size when smaller (a 128 px channel's sheet is
    not 3.5 times the pixels it shows), but at least MIN_CELL (room for the colour's labels)."""
    largest = max((max(c["size"]) for c in cells if isinstance(c.get("size"), list) and c["size"]), default=CELL)
    return max(MIN_CELL, min(CELL, int(largest)))


def _cell_image(cell: dict | None, build_dir: Path, store: ObjectStore | None, size: int = CELL) -> Image.Image:
    if cell is None:
        return _empty(size)
    if cell.get("status") != "ok":
        tile = _empty(size)
        ImageDraw.Draw(tile).text((12, size // 2 - 8), "failed", fill=(178, 34, 52), font=_font(16))
        return tile
    data = store.read_thumb(cell["key"]) if store else None
    source: Path | str = f"the thumbnail of {cell['key']}"
    formats: tuple[str, ...] | None = ("JPEG", "WEBP")  # a thumbnail: Pillow need not try every format's header
    if data is None:
        source, formats = build_dir / cell["output"], None
    try:
        with Image.open(io.BytesIO(data if data is not None else (build_dir / cell["output"]).read_bytes()),
                        formats=formats) as opened:
            opened.draft("RGB", (size, size))
            cutout = opened.has_transparency_data
            im = opened.convert("RGBA" if cutout else "RGB")
            im.thumbnail((size, size), Image.Resampling.LANCZOS)
            if im.size == (size, size) and not cutout:  # fills the cell: nothing of the empty tile would show
                return im
            tile = _empty(size)  # a cut-out on the tile, as the gallery shows it (not on black)
            tile.paste(im, ((size - im.width) // 2, (size - im.height) // 2), im if cutout else None)
            return tile
    except (OSError, ValueError) as e:
        logger.debug("contact sheet: %s shown as missing (%s)", source, e)
        tile = _empty(size)
        ImageDraw.Draw(tile).text((12, size // 2 - 8), "missing", fill=MUTED, font=_font(16))
        return tile
