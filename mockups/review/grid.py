"""Contact sheets: one per product and channel (and design), rows = colours, columns = backgrounds.

A sheet records the keys of its cells in a PNG text chunk and is redrawn only when one changed.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, PngImagePlugin

from mockups.catalog import Catalog
from mockups.engine import manifest
from mockups.engine.cache import ObjectStore, atomic_write

logger = logging.getLogger(__name__)

CELL = 240
LABEL_W = 170
HEAD_H = 64
PAD = 12
INK, MUTED, PAPER, EMPTY = (27, 27, 29), (110, 110, 118), (255, 255, 255), (238, 238, 240)
#: zlib level of the sheets' PNGs. A sheet of thumbnails is viewed, not archived: level 1 encodes
#: several times faster than 6 (benchmarks/bench_build.py measures it) for a somewhat larger file,
#: the pixels being the same.
SHEET_PNG_LEVEL = 1


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
    return build_dir / "grids" / channel / ("--".join(parts) + ".png")


def write_grids(build_dir: Path, catalog: Catalog, store: ObjectStore | None = None,
                entries: dict[str, dict] | None = None) -> list[Path]:
    """Draw the contact sheets whose cells changed; `entries` defaults to the manifest on disk."""
    entries = manifest.load(build_dir) if entries is None else entries
    written = []
    designs: dict[tuple, set] = {}  # the designs of each print position: several name the sheet
    for e in entries.values():
        designs.setdefault((e["sku"], e.get("placement")), set()).add(e.get("design"))
    for (channel, sku, placement, design), cells in sorted(sheets(entries).items(), key=lambda kv: str(kv[0])):
        path = sheet_path(build_dir, channel, sku, design, len(designs[sku, placement]) > 1, placement)
        stamp = _sheet_stamp(catalog, cells)
        if _stamp(path) == stamp:
            continue
        image = draw_sheet(catalog, cells, build_dir, store)
        info = PngImagePlugin.PngInfo()
        info.add_text("mockups-grid", stamp)
        buf = io.BytesIO()
        image.save(buf, "PNG", pnginfo=info, compress_level=SHEET_PNG_LEVEL)
        atomic_write(path, buf.getvalue())
        written.append(path)
    return written


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
    """The stamp from the PNG's text chunk, read from the header without decoding the pixels."""
    try:
        with Image.open(path) as im:
            return im.info.get("mockups-grid")
    except (OSError, ValueError):
        return None


def _order(catalog: Catalog, cells: list[dict], key: str) -> list[str]:
    rank = catalog.order[key]
    return sorted({c[key] for c in cells}, key=lambda k: rank.get(k, len(rank)))


def draw_sheet(catalog: Catalog, cells: list[dict], build_dir: Path, store: ObjectStore | None) -> Image.Image:
    colours = _order(catalog, cells, "colour")
    backgrounds = _order(catalog, cells, "background")
    by_pos = {(c["colour"], c["background"]): c for c in cells}
    w = LABEL_W + len(backgrounds) * (CELL + PAD) + PAD
    h = HEAD_H + len(colours) * (CELL + PAD) + PAD
    sheet = Image.new("RGB", (w, h), PAPER)
    draw = ImageDraw.Draw(sheet)
    first = cells[0]
    title = "  ·  ".join([first["product"], first["sku"]] + ([first["placement"]] if first.get("placement") else [])
                         + [first["channel"]])
    draw.text((PAD, 12), title, fill=INK, font=_font(22))
    for j, bg in enumerate(backgrounds):
        name = catalog.backgrounds[bg].name if bg in catalog.backgrounds else bg
        draw.text((LABEL_W + j * (CELL + PAD), HEAD_H - 24), name[:28], fill=MUTED, font=_font(15))
    for i, colour in enumerate(colours):
        y = HEAD_H + i * (CELL + PAD)
        col = catalog.colours.get(colour)
        draw.rounded_rectangle((PAD, y + 8, PAD + 28, y + 36), 6, fill=col.hex if col else EMPTY,
                               outline=(200, 200, 204))
        draw.text((PAD, y + 44), (col.name if col else colour)[:20], fill=INK, font=_font(15))
        draw.text((PAD, y + 64), col.hex if col else "", fill=MUTED, font=_font(13))
        for j, bg in enumerate(backgrounds):
            x = LABEL_W + j * (CELL + PAD)
            cell = by_pos.get((colour, bg))
            sheet.paste(_cell_image(cell, build_dir, store), (x, y))
    return sheet


def _cell_image(cell: dict | None, build_dir: Path, store: ObjectStore | None) -> Image.Image:
    tile = Image.new("RGB", (CELL, CELL), EMPTY)
    if cell is None:
        return tile
    if cell.get("status") != "ok":
        ImageDraw.Draw(tile).text((12, CELL // 2 - 8), "failed", fill=(178, 34, 52), font=_font(16))
        return tile
    source = store.thumb_path(cell["key"]) if store else None
    if source is None or not source.exists():
        source = build_dir / cell["output"]
    try:
        with Image.open(source) as opened:
            opened.draft("RGB", (CELL, CELL))
            im = opened.convert("RGB")
            im.thumbnail((CELL, CELL), Image.Resampling.LANCZOS)
            tile.paste(im, ((CELL - im.width) // 2, (CELL - im.height) // 2))
    except (OSError, ValueError) as e:
        logger.debug("contact sheet: %s shown as missing (%s)", source, e)
        ImageDraw.Draw(tile).text((12, CELL // 2 - 8), "missing", fill=MUTED, font=_font(16))
    return tile
