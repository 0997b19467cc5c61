"""Text overlays (captions, price badges) with a real TrueType/FreeType font."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

from mockups.imaging._common import ImagingError, parse_hex

__all__ = ["load_font", "draw_text"]

_SUPERSAMPLE = 4
_V = {"top": 0.0, "middle": 0.5, "center": 0.5, "centre": 0.5, "bottom": 1.0}
_H = {"left": 0.0, "center": 0.5, "centre": 0.5, "middle": 0.5, "right": 1.0}


def load_font(size_px: int, font_path: str | None = None) -> ImageFont.FreeTypeFont:
    """A scalable font: ``font_path`` if given, else Pillow's bundled FreeType default."""
    if size_px < 1:
        raise ImagingError(f"font size must be >= 1 px, got {size_px}")
    try:
        if font_path:
            return ImageFont.truetype(font_path, size=int(size_px))
        font = ImageFont.load_default(size=int(size_px))
    except OSError as exc:
        raise ImagingError(f"cannot load font {font_path or 'default'}: {exc}") from exc
    if not isinstance(font, ImageFont.FreeTypeFont):
        raise ImagingError("Pillow was built without FreeType: pass font_path to a .ttf/.otf file")
    return font


def _contrasting(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    r, g, b = colour
    return (17, 17, 17) if 0.2126 * r + 0.7152 * g + 0.0722 * b > 150 else (255, 255, 255)


def _origin(position: Sequence, canvas: tuple[int, int], box: tuple[int, int], margin: int) -> tuple[int, int]:
    """Top-left of a ``box`` placed at a named (vertical, horizontal) position or at (x, y)."""
    if len(position) != 2:
        raise ImagingError(f"position must be (vertical, horizontal) or (x, y), got {position!r}")
    if all(isinstance(p, (int, float)) for p in position):
        return int(position[0]), int(position[1])
    vert, horiz = (str(p).lower() for p in position)
    if vert in _H and horiz in _V and not (vert in _V and horiz in _H):
        vert, horiz = horiz, vert
    if vert not in _V or horiz not in _H:
        raise ImagingError(f"unknown text position {position!r}")
    w, h = canvas
    x = margin + _H[horiz] * (w - 2 * margin - box[0])
    y = margin + _V[vert] * (h - 2 * margin - box[1])
    return int(round(x)), int(round(y))


def _rounded_mask(size: tuple[int, int], radius: float) -> Image.Image:
    """Anti-aliased rounded-rectangle mask (drawn supersampled, then reduced)."""
    w, h = size
    big = Image.new("L", (w * _SUPERSAMPLE, h * _SUPERSAMPLE), 0)
    ImageDraw.Draw(big).rounded_rectangle((0, 0, big.width - 1, big.height - 1),
                                          radius=radius * _SUPERSAMPLE, fill=255)
    return big.resize((w, h), Image.Resampling.BOX)


def draw_text(image: Image.Image, text: str, *, position: Sequence = ("bottom", "center"),
              size_px: int | None = None, colour_hex: str = "#FFFFFF", badge: bool = False,
              badge_hex: str | None = None, font_path: str | None = None,
              margin: int | None = None) -> Image.Image:
    """Draw ``text`` (multi-line allowed) on a copy of ``image``.

    ``position`` is (vertical, horizontal) - e.g. ("bottom", "center"),
    ("top", "right") - or pixel (x, y) of the block's top-left. With
    ``badge`` the text sits on an anti-aliased pill/rounded rectangle of
    ``badge_hex`` (default: black or white, whichever contrasts the text).
    """
    if not text:
        return image.copy()
    w, h = image.size
    size_px = int(size_px or max(12, round(0.05 * min(w, h))))
    font = load_font(size_px, font_path)
    colour = parse_hex(colour_hex)
    margin = int(round(0.04 * min(w, h))) if margin is None else int(margin)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    # whole pixels: centred lines of several widths give fractional edges (a float badge size raised TypeError)
    edges = probe.multiline_textbbox((0, 0), text, font=font, align="center")
    left, top, right, bottom = math.floor(edges[0]), math.floor(edges[1]), math.ceil(edges[2]), math.ceil(edges[3])
    pad = int(round(0.45 * size_px)) if badge else 0
    box = (right - left + 2 * pad, bottom - top + 2 * pad)
    x, y = _origin(position, (w, h), box, margin)
    out = image.convert("RGBA")
    layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
    if badge:
        fill = parse_hex(badge_hex) if badge_hex else _contrasting(colour)
        radius = min(box[1] / 2.0, 0.5 * size_px + pad)
        patch = Image.new("RGBA", box, fill + (255,))
        patch.putalpha(_rounded_mask(box, radius))
        layer.alpha_composite(patch, dest=(max(x, 0), max(y, 0)), source=(max(-x, 0), max(-y, 0)))
    ImageDraw.Draw(layer).multiline_text((x + pad - left, y + pad - top), text, font=font,
                                         fill=colour + (255,), align="center")
    out.alpha_composite(layer)
    return out if image.mode == "RGBA" else out.convert(image.mode)
