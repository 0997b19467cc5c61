"""Contact sheets: one per product and channel (and design), rows = colours, columns = backgrounds.

A sheet is a JPEG (`build/grids/<channel>/<sku>.jpg`) drawn from the thumbnails the workers made;
it records a stamp of what it shows (its cells' keys, its labels) in its comment and is redrawn
only when that changed. Sheets are drawn in forked processes, one per core (`engine.forked`: drawing
is mostly Python under the GIL); sheets of products no longer built are deleted.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
from collections.abc import Callable
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
SHEET_FORMAT: dict[str, Any] = {"format": "JPEG", "quality": 90, "subsampling": 0}
SHEET_EXT = ".jpg"
_STAMP = b"mockups-grid:"


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


def write_grids(build_dir: Path, catalog: Catalog, store: ObjectStore | None = None,
                entries: dict[str, dict] | None = None) -> list[Path]:
    """Draw the contact sheets whose cells changed; `entries` defaults to the manifest on disk.
    Returns the sheets written."""
    from mockups.engine.forked import run_all

    tasks, current = sheet_tasks(build_dir, catalog, store, entries)
    written = run_all(tasks)
    prune_sheets(build_dir, current)
    return written


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
        stamp = _sheet_stamp(catalog, cells)
        if _stamp(path) != stamp:
            tasks.append(functools.partial(_write, catalog, build_dir, store, path, cells, stamp))
    return tasks, current


def prune_sheets(build_dir: Path, current: set[Path]) -> None:
    _prune(build_dir / "grids", current)


def _write(catalog: Catalog, build_dir: Path, store: ObjectStore | None, path: Path, cells: list[dict],
           stamp: str) -> Path:
    buf = io.BytesIO()
    draw_sheet(catalog, cells, build_dir, store).save(buf, **SHEET_FORMAT, comment=_STAMP + stamp.encode())
    atomic_write(path, buf.getvalue(), durable=False)  # drawn again from the cache if lost
    return path


def _prune(folder: Path, keep: set[Path]) -> None:
    """Delete the sheets of what is no longer built (and those of an older format)."""
    if not folder.is_dir():
        return
    for path in folder.glob("*/*"):
        if path.suffix in (".jpg", ".png") and path not in keep and not path.name.startswith("."):
            path.unlink(missing_ok=True)


def _sheet_stamp(catalog: Catalog, cells: list[dict]) -> str:
    """What a sheet shows: its cells' outputs (id, key, status) and the labels drawn round them
    (the product's name, the colours' and backgrounds' names, hexes and order). An edit elsewhere
    in the catalog (another product, one colour's hex) leaves the other sheets alone."""
    colours, backgrounds = _order(catalog, cells, "colour"), _order(catalog, cells, "background")
    labels = {"title": [cells[0].get(k) for k in ("product", "sku", "placement", "channel")],
              "colours": [(c, *((col.name, col.hex) if (col := catalog.colours.get(c)) else ())) for c in colours],
              "backgrounds": [(b, catalog.backgrounds[b].name if b in catalog.backgrounds else b) for b in backgrounds]}
    digest = hashlib.sha256(json.dumps(labels, sort_keys=True, default=str).encode())
    digest.update("".join(sorted(f"{c['id']}={c['key']}:{c['status']}" for c in cells)).encode())
    return digest.hexdigest()


def _stamp(path: Path) -> str | None:
    """The stamp from the sheet's comment, read from its header without decoding the pixels."""
    try:
        with Image.open(path) as im:
            comment = im.info.get("comment")
    except (OSError, ValueError):
        return None
    return comment[len(_STAMP):].decode() if isinstance(comment, bytes) and comment.startswith(_STAMP) else None


def _order(catalog: Catalog, cells: list[dict], key: str) -> list[str]:
    rank = catalog.order[key]
    return sorted({c[key] for c in cells}, key=lambda k: rank.get(k, len(rank)))


def draw_sheet(catalog: Catalog, cells: list[dict], build_dir: Path, store: ObjectStore | None) -> Image.Image:
    colours = _order(catalog, cells, "colour")
    backgrounds = _order(catalog, cells, "background")
    by_pos = {(c["colour"], c["background"]): c for c in cells}
    cell = cell_size(cells)
    w = LABEL_W + len(backgrounds) * (cell + PAD) + PAD
    h = HEAD_H + len(colours) * (cell + PAD) + PAD
    sheet = Image.new("RGB", (w, h), PAPER)
    draw = ImageDraw.Draw(sheet)
    first = cells[0]
    title = "  ·  ".join([first["product"], first["sku"]] + ([first["placement"]] if first.get("placement") else [])
                         + [first["channel"]])
    draw.text((PAD, 12), title, fill=INK, font=_font(22))
    for j, bg in enumerate(backgrounds):
        name = catalog.backgrounds[bg].name if bg in catalog.backgrounds else bg
        draw.text((LABEL_W + j * (cell + PAD), HEAD_H - 24), name[:28 if cell >= 200 else 16], fill=MUTED,
                  font=_font(15))
    for i, colour in enumerate(colours):
        y = HEAD_H + i * (cell + PAD)
        col = catalog.colours.get(colour)
        draw.rounded_rectangle((PAD, y + 8, PAD + 28, y + 36), 6, fill=col.hex if col else EMPTY,
                               outline=(200, 200, 204))
        draw.text((PAD, y + 44), (col.name if col else colour)[:20], fill=INK, font=_font(15))
        draw.text((PAD, y + 64), col.hex if col else "", fill=MUTED, font=_font(13))
        for j, bg in enumerate(backgrounds):
            x = LABEL_W + j * (cell + PAD)
            sheet.paste(_cell_image(by_pos.get((colour, bg)), build_dir, store, cell), (x, y))
    return sheet


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
    source = store.thumb_path(cell["key"]) if store else None
    formats: tuple[str, ...] | None = ("WEBP",)  # a thumbnail: Pillow need not try every format's header
    if source is None or not source.exists():
        source, formats = build_dir / cell["output"], None
    try:
        with Image.open(io.BytesIO(source.read_bytes()), formats=formats) as opened:  # one read, not many
            opened.draft("RGB", (size, size))
            im = opened.convert("RGB")
            im.thumbnail((size, size), Image.Resampling.LANCZOS)
            if im.size == (size, size):  # fills the cell: nothing of the empty tile would show
                return im
            tile = _empty(size)
            tile.paste(im, ((size - im.width) // 2, (size - im.height) // 2))
            return tile
    except (OSError, ValueError) as e:
        logger.debug("contact sheet: %s shown as missing (%s)", source, e)
        tile = _empty(size)
        ImageDraw.Draw(tile).text((12, size // 2 - 8), "missing", fill=MUTED, font=_font(16))
        return tile
