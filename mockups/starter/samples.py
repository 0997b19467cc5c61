"""Procedurally generated sample product photography for the bundled example catalog.

Everything here is drawn from scratch with numpy and Pillow -- no network, no downloaded
data, no fonts -- and is deterministic: every asset has its own seeded ``numpy`` generator,
PNGs are written with fixed settings and JPEGs with a fixed quality, so the same bytes
come out on every run.

The products (tee, hoodie, mug, tote) are 1024x1024 RGBA cut-outs in a light neutral
colour (the alpha channel is the anti-aliased silhouette) with a matching ``*-dye.png``
recolour mask (mode ``L``, 255 = dyeable).  Their shading is built the way a renderer
would: each product gets a height field (the volume of its panels, seams, folds, ribbing
and a fine fabric/canvas texture) that is lit by a soft key light from the upper left,
times an ambient-occlusion term that darkens seams, side edges and recesses.  The
luminance of the garments spans roughly 150 (deep folds) to 245 (highlights), which is
what a recolouring algorithm calibrates on.

Besides the products there is a flat-colour design (``fox.png``) and two backdrops
(``studio.jpg``, ``oak-table.jpg``).

    python -m mockups.starter.samples DEST      # write every asset into DEST
"""

from __future__ import annotations

import argparse
import copy
import pathlib
import sys
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

SIZE = 1024          # products are SIZE x SIZE
SS = 4               # supersampling factor for anti-aliased silhouettes
LIGHT = np.array([-0.42, -0.62, 1.0], np.float32) / np.linalg.norm([-0.42, -0.62, 1.0])
PNG_OPTIONS: dict[str, Any] = {"format": "PNG", "compress_level": 7, "optimize": False}
JPEG_OPTIONS: dict[str, Any] = {"format": "JPEG", "quality": 90, "subsampling": "4:2:0", "optimize": True}

SAMPLES: dict = {
    "tee": {
        "image": "tee.png",
        "recolour_mask": "tee-dye.png",
        "print_area": [[392, 330], [632, 330], [632, 630], [392, 630]],
        "kind": "garment",
        "description": "Blank crew-neck t-shirt, front view, light neutral jersey, studio cut-out.",
    },
    "tee-back": {
        "image": "tee-back.png",
        "recolour_mask": "tee-back-dye.png",
        "print_area": [[402, 290], [622, 290], [622, 560], [402, 560]],
        "kind": "garment",
        "description": "The same crew-neck t-shirt from the back: a high back neckline, no label.",
    },
    "hoodie": {
        "image": "hoodie.png",
        "recolour_mask": "hoodie-dye.png",
        "print_area": [[396, 500], [628, 500], [628, 656], [396, 656]],
        "kind": "garment",
        "description": "Blank pullover hoodie, front view, with hood, kangaroo pocket and drawstrings.",
    },
    "mug": {
        "image": "mug.png",
        "recolour_mask": "mug-dye.png",
        "print_area": [[332, 420], [572, 420], [572, 690], [332, 690]],
        "kind": "mug",
        "description": "White glossy 11 oz ceramic mug, three-quarter front view, handle on the right.",
    },
    "tote": {
        "image": "tote.png",
        "recolour_mask": "tote-dye.png",
        "print_area": [[332, 520], [692, 520], [692, 880], [332, 880]],
        "kind": "bag",
        "description": "Natural cotton canvas tote bag, front view, two shoulder straps.",
    },
}

DESIGNS: dict = {"fox": {"image": "fox.png", "description": "Flat geometric fox head logo."}}
BACKDROPS: dict = {
    "studio": {"image": "studio.jpg", "description": "Light grey seamless paper studio sweep."},
    "oak-table": {"image": "oak-table.jpg", "description": "Oak plank tabletop against a soft off-white wall."},
}


# --------------------------------------------------------------------------- helpers

def _rng(name: str) -> np.random.Generator:
    """A generator seeded from the asset's name, so assets are independent of each other."""
    return np.random.default_rng(zlib.crc32(name.encode()) ^ 0x5EED)


def _box_blur(a: np.ndarray, r: int, axis: int) -> np.ndarray:
    """Running mean of width 2r+1 along one axis, edges extended."""
    n = a.shape[axis]
    pad = [(0, 0)] * a.ndim
    pad[axis] = (r + 1, r)
    c = np.cumsum(np.pad(a, pad, mode="edge").astype(np.float64), axis=axis)
    hi = np.take(c, np.arange(2 * r + 1, 2 * r + 1 + n), axis=axis)
    lo = np.take(c, np.arange(n), axis=axis)
    return ((hi - lo) / (2 * r + 1)).astype(np.float32)


def _gauss(a: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur (three box passes per axis); large sigmas are blurred at a quarter size."""
    if sigma >= 12 and min(a.shape) >= 64:
        h, w = a.shape
        small = np.asarray(Image.fromarray(a.astype(np.float32), "F").resize((w // 4, h // 4), Image.Resampling.BOX))
        small = _gauss(small, sigma / 4)
        return np.asarray(Image.fromarray(small, "F").resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32)
    r = max(1, int(round((np.sqrt(4 * sigma * sigma + 1) - 1) / 2)))
    out = a.astype(np.float32)
    for axis in (0, 1):
        for _ in range(3):
            out = _box_blur(out, r, axis)
    return out


def _noise(rng: np.random.Generator, h: int, w: int, cell: int | tuple[int, int]) -> np.ndarray:
    """Smooth value noise (bicubic-interpolated random lattice), zero mean, unit std."""
    cy, cx = (cell, cell) if isinstance(cell, int) else cell
    gh, gw = h // cy + 4, w // cx + 4
    lattice = rng.standard_normal((gh, gw)).astype(np.float32)
    big = Image.fromarray(lattice, "F").resize((gw * cx, gh * cy), Image.Resampling.BICUBIC)
    a = np.asarray(big, dtype=np.float32)[cy: cy + h, cx: cx + w]
    return (a - a.mean()) / (a.std() + 1e-6)


def _grid(h: int = SIZE, w: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return yy, xx


def _smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _bezier(p0, p1, p2, p3, n: int = 40) -> list[tuple[float, float]]:
    """Points along a cubic Bezier curve (including both ends)."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    pts = ((1 - t) ** 3) * p0 + 3 * ((1 - t) ** 2) * t * p1 + 3 * (1 - t) * t * t * p2 + t ** 3 * p3
    return [tuple(p) for p in pts]


def _path(*segments) -> list[tuple[float, float]]:
    """Join segments into one outline: a tuple (p0, p1, p2, p3) is a cubic Bezier, a list is plain points."""
    out: list[tuple[float, float]] = []
    for seg in segments:
        if isinstance(seg, tuple):
            p0, p1, p2, p3 = (np.asarray(p, np.float64) for p in seg)
            out.extend(_bezier(p0, p1, p2, p3))
        else:
            out.extend(tuple(p) for p in seg)
    return out


def _mirror(pts, cx: float = SIZE / 2) -> list[tuple[float, float]]:
    return [(2 * cx - x, y) for x, y in pts]


class _Mask:
    """An anti-aliased mask: shapes are drawn at SS times the size and box-downsampled."""

    def __init__(self, w: int = SIZE, h: int = SIZE, ss: int = SS):
        self.ss = ss
        self.im = Image.new("L", (w * ss, h * ss), 0)
        self.draw = ImageDraw.Draw(self.im)

    def _s(self, pts):
        return [(x * self.ss, y * self.ss) for x, y in pts]

    def poly(self, pts, fill: int = 255) -> "_Mask":
        self.draw.polygon(self._s(pts), fill=fill)
        return self

    def line(self, pts, width: float, fill: int = 255) -> "_Mask":
        self.draw.line(self._s(pts), fill=fill, width=int(round(width * self.ss)), joint="curve")
        r = width * self.ss / 2
        for x, y in (self._s(pts)[0], self._s(pts)[-1]):
            self.draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
        return self

    def ellipse(self, box, fill: int = 255) -> "_Mask":
        self.draw.ellipse([v * self.ss for v in box], fill=fill)
        return self

    def rounded(self, box, radius: float, fill: int = 255) -> "_Mask":
        self.draw.rounded_rectangle([v * self.ss for v in box], radius=radius * self.ss, fill=fill)
        return self

    def array(self) -> np.ndarray:
        return np.asarray(self.im.reduce(self.ss), dtype=np.float32) / 255.0


def _fold(h: np.ndarray, p0, p1, width: float, amp: float) -> None:
    """Add a tapered Gaussian ridge (amp > 0) or valley (amp < 0) along p0-p1 to height field h."""
    (x0, y0), (x1, y1) = p0, p1
    pad = 3 * width
    ya, yb = int(max(0, min(y0, y1) - pad)), int(min(h.shape[0], max(y0, y1) + pad))
    xa, xb = int(max(0, min(x0, x1) - pad)), int(min(h.shape[1], max(x0, x1) + pad))
    yy, xx = np.mgrid[ya:yb, xa:xb].astype(np.float32)
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    t = ((xx - x0) * dx + (yy - y0) * dy) / length2
    perp = np.abs((xx - x0) * dy - (yy - y0) * dx) / np.sqrt(length2)
    taper = np.sin(np.pi * np.clip(t, 0.0, 1.0)) ** 2
    h[ya:yb, xa:xb] += amp * taper * np.exp(-0.5 * (perp / width) ** 2)


def _diffuse(height: np.ndarray) -> np.ndarray:
    """Lambert term of the key light on the surface described by a height field (in pixels)."""
    gy, gx = np.gradient(height)
    nz = 1.0 / np.sqrt(gx * gx + gy * gy + 1.0)
    return (-gx * LIGHT[0] - gy * LIGHT[1] + LIGHT[2]) * nz


def _occlusion(alpha: np.ndarray, sigma: float, strength: float) -> np.ndarray:
    """1 deep inside the silhouette, falling towards 1-strength at its edges and in concave corners."""
    inside = np.clip(2.0 * _gauss(alpha, sigma) - 1.0, 0.0, 1.0)
    return 1.0 - strength * (1.0 - np.sqrt(inside))


def _dome(mask: np.ndarray, sigma: float, depth: float) -> np.ndarray:
    """A soft padded volume: the panel bulges by `depth` px and rolls off towards its edges."""
    return depth * np.sqrt(np.clip(_gauss(mask, sigma), 0.0, 1.0))


def _softclip(x: np.ndarray, lo: float, hi: float, knee: float) -> np.ndarray:
    """Identity in [lo+knee, hi-knee], rolling off exponentially towards lo and hi outside it."""
    x = np.asarray(x, np.float32)
    y = np.where(x < lo + knee, lo + knee * np.exp(np.minimum(x - lo - knee, 0) / knee), x)
    return np.where(x > hi - knee, hi - knee * np.exp(-np.maximum(x - hi + knee, 0) / knee), y)


def _rgba(lum: np.ndarray, tint, alpha: np.ndarray) -> Image.Image:
    return _with_alpha(lum[..., None] * np.asarray(tint, np.float32), alpha)


def _with_alpha(rgb: np.ndarray, alpha: np.ndarray) -> Image.Image:
    """RGBA image; fully transparent pixels get one flat light colour (no dark fringes, compresses well)."""
    rgb = np.clip(rgb, 0, 255)
    clear = alpha <= 0
    rgb[clear] = np.median(rgb[alpha >= 1], axis=0) if (alpha >= 1).any() else 0
    a = np.clip(alpha * 255.0, 0, 255)
    return Image.fromarray(np.dstack([rgb, a]).round().astype(np.uint8), "RGBA")


def _grey(a: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(a * 255.0, 0, 255).round().astype(np.uint8), "L")


def _save(im: Image.Image, path: pathlib.Path) -> None:
    options = JPEG_OPTIONS if path.suffix.lower() in (".jpg", ".jpeg") else PNG_OPTIONS
    im.save(path, **options)


# --------------------------------------------------------------------------- fabric

def _fabric_lum(height: np.ndarray, alpha: np.ndarray, base: float, relief: float,
                edge_sigma: float = 30, edge_strength: float = 0.16) -> np.ndarray:
    """Luminance of a matte fabric: lit height field, darker towards edges and inside creases."""
    lit = base * (1.0 + relief * (_diffuse(height) - LIGHT[2]))
    crease = np.clip(height - _gauss(height, 14), -8.0, 0.0)        # valleys are shadowed
    return lit * _occlusion(alpha, edge_sigma, edge_strength) + 3.2 * crease


def _stitches(mask: _Mask, pts, width: float = 1.4) -> _Mask:
    """A dashed stitch line (drawn into a mask) along a polyline."""
    pts = np.asarray(pts, np.float64)
    seg = np.hypot(*np.diff(pts, axis=0).T)
    dist = np.concatenate([[0], np.cumsum(seg)])
    marks = np.arange(0, dist[-1], 7.0)
    xs, ys = np.interp(marks, dist, pts[:, 0]), np.interp(marks, dist, pts[:, 1])
    for x0, y0, x1, y1 in zip(xs[:-1], ys[:-1], xs[1:], ys[1:], strict=True):
        mask.line([(x0, y0), (x0 + 0.6 * (x1 - x0), y0 + 0.6 * (y1 - y0))], width)
    return mask


def _ribs(xx: np.ndarray, period: float, amp: float) -> np.ndarray:
    """Knit ribbing: rounded parallel ridges."""
    return amp * np.abs(np.sin(np.pi * xx / period)) ** 0.7


def _knit(rng: np.random.Generator, amp: float = 0.016) -> np.ndarray:
    """Fine jersey texture: tiny vertical wales plus slub (slightly uneven yarn)."""
    wales = _noise(rng, SIZE, SIZE, (3, 1)) + 0.6 * _noise(rng, SIZE, SIZE, (24, 2))
    return amp * wales * (1.0 + 0.3 * _noise(rng, SIZE, SIZE, 40))


def _offset(pts, dx: float, dy: float):
    return [(x + dx, y + dy) for x, y in pts]


# --------------------------------------------------------------------------- tee

_TEE_NECK_FRONT = _path(((592, 176), (590, 240), (556, 266), (512, 267)),
                        ((512, 267), (468, 266), (434, 240), (432, 176)))
_TEE_NECK_BACK = _path(((432, 176), (468, 192), (556, 192), (592, 176)))


def _tee_outlines() -> dict:
    half_body = _path(((302, 218), (318, 290), (322, 360), (310, 412)),
                      ((310, 412), (302, 560), (296, 760), (298, 906)),
                      ((298, 906), (380, 910), (450, 913), (512, 913)))
    body = [(432, 176)] + half_body + _mirror(half_body[::-1]) + _TEE_NECK_BACK[::-1]
    sleeve = _path(((302, 218), (248, 236), (188, 292), (150, 394)),
                   [(150, 394)], ((240, 460), (264, 446), (292, 428), (310, 412)),
                   [(340, 400), (340, 220)])
    return {"body": body, "sleeve_l": sleeve, "sleeve_r": _mirror(sleeve)}


def _tee_masks() -> dict:
    o = _tee_outlines()
    m = {k: _Mask().poly(v).array() for k, v in o.items()}
    m["sleeves"] = np.maximum(m["sleeve_l"], m["sleeve_r"]) * (1 - m["body"])
    m["alpha"] = np.maximum(m["body"], np.maximum(m["sleeve_l"], m["sleeve_r"]))
    m["hole"] = _Mask().poly(_TEE_NECK_BACK + _TEE_NECK_FRONT).array()
    m["rib"] = _Mask().line(_TEE_NECK_FRONT, 40).array() * (1 - m["hole"]) * m["body"]
    m["back_rib"] = _Mask().line(_TEE_NECK_BACK, 26).array() * m["hole"]
    m["label"] = _Mask().rounded((491, 196, 533, 220), 2).array()
    hem_l = [(150, 394), (240, 460)]
    stitch, hems = _Mask(), _Mask().poly([(0, 880), (SIZE, 880), (SIZE, SIZE), (0, SIZE)])
    for pts in (hem_l, _mirror(hem_l)):
        _stitches(stitch, _offset(pts, 15, -20))
        hems.poly(_offset(pts, -30, 40) + _offset(pts, 16, -21)[::-1])
    m["hems"] = hems.array() * m["alpha"]
    _stitches(stitch, [(300, 880), (724, 880)])
    _stitches(stitch, _path(((598, 182), (598, 262), (560, 291), (512, 292)),
                            ((512, 292), (464, 291), (426, 262), (426, 182))))
    m["stitch"] = stitch.array() * m["alpha"]
    return m


def _tee_folds(h: np.ndarray) -> None:
    for p0, p1, w, a in [
        ((300, 420), (500, 660), 16, 5), ((318, 500), (470, 720), 10, -3.5),
        ((724, 410), (560, 600), 16, 5), ((716, 480), (600, 650), 10, -3.5),
        ((420, 560), (392, 900), 18, 4.5), ((462, 660), (446, 910), 9, -3),
        ((606, 540), (630, 905), 18, 4.5), ((570, 680), (584, 910), 9, -3),
        ((520, 290), (470, 560), 24, 3), ((540, 700), (512, 910), 16, 2.5),
        ((190, 320), (272, 430), 10, 3.5), ((834, 320), (752, 430), 10, 3.5),
        ((270, 250), (214, 372), 8, -2.5), ((754, 250), (810, 372), 8, -2.5),
        ((320, 850), (704, 860), 9, -2), ((336, 320), (440, 232), 14, 2.5),
        ((688, 320), (584, 232), 14, 2.5), ((360, 720), (300, 820), 12, 2.5),
    ]:
        _fold(h, p0, p1, w, a)


def _tee_height(m: dict, rng: np.random.Generator) -> np.ndarray:
    yy, xx = _grid()
    h = _dome(m["alpha"], 45, 10) + _dome(m["body"], 5, 2.5) + _dome(m["sleeve_l"] + m["sleeve_r"], 5, 2.5)
    _tee_folds(h)
    h += 2.5 * _noise(rng, SIZE, SIZE, 110) + _knit(rng)
    theta = np.arctan2(yy - 180, xx - 512)
    h += _gauss(m["rib"], 1.5) * (2.0 + _ribs(theta * 60, np.pi, 0.5))
    h += m["back_rib"] * _ribs(theta * 60, np.pi, 0.4)
    h -= 4 * _gauss(m["hole"] * (1 - m["back_rib"]), 2.5)
    h += 0.8 * _gauss(m["hems"], 2.5) - 0.45 * m["stitch"]        # hems are double layers
    return h


def _tee_lum(m: dict, h: np.ndarray) -> np.ndarray:
    yy, xx = _grid()
    lum = _fabric_lum(h, m["alpha"], 238, 2.0, 26, 0.24)
    shade_hole = 0.70 - 0.14 * _smoothstep(190, 262, yy)              # inside the back, deeper = darker
    lum *= 1 - m["hole"] * (1 - shade_hole)
    lum *= 1 - 0.08 * m["rib"] * _smoothstep(255, 235, yy)            # collar edge casts onto the back
    lum *= 1 - 0.05 * m["sleeves"]
    label = m["label"]                                                # a woven label with two lines of "text"
    text = ((yy > 203) & (yy < 206) & (np.abs(xx - 512) < 14)) | ((yy > 209) & (yy < 211) & (np.abs(xx - 512) < 9))
    lum = lum * (1 - label) + label * (246 - 70 * text) * (1 - 0.04 * _smoothstep(196, 220, yy))
    return _softclip(lum, 110, 247, 20)


def tee(rng: np.random.Generator) -> tuple[Image.Image, Image.Image]:
    m = _tee_masks()
    lum = _tee_lum(m, _tee_height(m, rng))
    return _rgba(lum, (1.0, 0.992, 0.978), m["alpha"]), _grey(m["alpha"] * (1 - m["label"]))


def tee_back(rng: np.random.Generator) -> tuple[Image.Image, Image.Image]:
    """The tee seen from the back: the same outline, the back panel up to a narrow collar band
    along the back neckline (no neck opening, no label), the folds mirrored."""
    m = _tee_masks()
    rib = _Mask().line(_TEE_NECK_BACK, 22).array() * m["alpha"]
    yy, xx = _grid()
    h = _dome(m["alpha"], 45, 10) + _dome(m["body"], 5, 2.5) + _dome(m["sleeve_l"] + m["sleeve_r"], 5, 2.5)
    _tee_folds(h)
    h = h[:, ::-1].copy()  # seen from behind, the folds fall the other way
    h += 2.5 * _noise(rng, SIZE, SIZE, 110) + _knit(rng)
    theta = np.arctan2(yy - 150, xx - 512)
    h += _gauss(rib, 1.5) * (1.6 + _ribs(theta * 60, np.pi, 0.4))
    h += 0.8 * _gauss(m["hems"], 2.5) - 0.45 * m["stitch"] * (yy > 600)  # the hem stitches, not the front collar's
    lum = _fabric_lum(h, m["alpha"], 238, 2.0, 26, 0.24)
    lum *= 1 - 0.05 * m["sleeves"]
    lum = _softclip(lum, 110, 247, 20)
    return _rgba(lum, (1.0, 0.992, 0.978), m["alpha"]), _grey(m["alpha"])


# --------------------------------------------------------------------------- hoodie

_HOOD_OPENING = _path(((512, 118), (452, 120), (424, 220), (432, 300)),
                      ((432, 300), (440, 352), (484, 398), (512, 416)),
                      ((512, 416), (540, 398), (584, 352), (592, 300)),
                      ((592, 300), (600, 220), (572, 120), (512, 118)))
_POCKET_SIDE = _path(((626, 676), (656, 720), (676, 790), (682, 842)))
_STRINGS = [_path(((462, 392), (452, 420), (462, 446), (455, 462))),
            _path(((562, 392), (572, 418), (562, 444), (568, 458)))]


def _hoodie_outlines() -> dict:
    hood = _path(((512, 432), (540, 414), (600, 384), (652, 360)), ((652, 360), (684, 240), (632, 60), (512, 58)))
    sleeve = _path(((300, 340), (228, 372), (190, 560), (170, 826)), [(172, 832)],
                   ((252, 836), (262, 700), (286, 600), (304, 520)), [(336, 500), (340, 340)])
    half = _path(((400, 300), (340, 318), (300, 330), (294, 350)),
                 ((294, 350), (310, 420), (306, 470), (302, 510)),
                 ((302, 510), (300, 650), (300, 780), (303, 858)), [(512, 858)])
    cuff = _path(((170, 824), (196, 832), (230, 836), (256, 832)), ((256, 832), (254, 866), (252, 890), (250, 904)),
                 ((250, 904), (226, 908), (200, 908), (180, 904)), ((180, 904), (176, 880), (173, 850), (170, 824)))
    band = _path(((302, 850), (420, 854), (600, 854), (722, 850)), ((722, 850), (720, 900), (718, 920), (716, 930)),
                 ((716, 930), (600, 936), (420, 936), (308, 930)), ((308, 930), (306, 900), (304, 880), (302, 850)))
    pocket = _path(((398, 676), (512, 672), (512, 672), (626, 676))) + _POCKET_SIDE + _mirror(_POCKET_SIDE)[::-1]
    return {"hood": hood + _mirror(hood[::-1]), "sleeve_l": sleeve, "sleeve_r": _mirror(sleeve),
            "body": half + _mirror(half[::-1]), "cuff_l": cuff, "cuff_r": _mirror(cuff),
            "band": band, "pocket": pocket}


def _hoodie_masks() -> dict:
    o = _hoodie_outlines()
    m = {k: _Mask().poly(v).array() for k, v in o.items()}
    order = ["sleeve_l", "sleeve_r", "cuff_l", "cuff_r", "body", "band", "pocket", "hood"]
    covered = np.zeros((SIZE, SIZE), np.float32)
    for k in reversed(order):                        # visible part = mask minus everything above it
        m[k + "_vis"] = m[k] * (1 - covered)
        covered = np.maximum(covered, m[k])
    m["alpha"] = covered
    m["opening"] = _Mask().poly(_HOOD_OPENING).array()
    m["hem"] = _Mask().line(_HOOD_OPENING, 52).array() * (1 - m["opening"]) * m["hood"]
    strings, tips, eyelets = _Mask(), _Mask(), _Mask()
    for pts in _STRINGS:
        strings.line(pts, 8)
        (x0, y0), (x1, y1) = pts[0], pts[-1]
        tips.rounded((x1 - 5.5, y1 - 4, x1 + 5.5, y1 + 22), 4)
        eyelets.ellipse((x0 - 9, y0 - 9, x0 + 9, y0 + 9))
    m["strings"], m["tips"], m["eyelets"] = strings.array(), tips.array(), eyelets.array()
    m["trims"] = np.clip(m["strings"] + m["tips"] + m["eyelets"], 0, 1)
    m["pocket_open"] = _Mask().line(_POCKET_SIDE, 7).line(_mirror(_POCKET_SIDE), 7).array() * m["pocket"]
    stitch = _stitches(_Mask(), [(404, 690), (620, 690)])
    for side in (_offset(_POCKET_SIDE, -12, 0), _offset(_mirror(_POCKET_SIDE), 12, 0)):
        _stitches(stitch, side[3:])
    m["stitch"] = stitch.array() * m["pocket"]
    return m


def _hoodie_folds(h: np.ndarray) -> None:
    for p0, p1, w, a in [
        ((204, 600), (290, 630), 12, 4), ((200, 660), (282, 640), 10, -3), ((196, 760), (276, 784), 10, 3.5),
        ((192, 800), (274, 800), 8, -2.5), ((214, 470), (300, 430), 14, 3), ((230, 380), (280, 520), 12, -2.5),
        ((320, 520), (440, 640), 16, 4), ((704, 520), (590, 640), 16, 4), ((330, 600), (420, 660), 9, -3),
        ((560, 440), (620, 600), 18, 3), ((340, 700), (330, 840), 12, 3), ((690, 700), (700, 840), 12, 3),
        ((400, 800), (624, 806), 14, -2), ((420, 160), (470, 320), 18, -3),
        ((340, 250), (400, 120), 14, 3), ((684, 250), (624, 120), 14, 3),
    ]:
        _fold(h, p0, p1, w, a)
        if p0[0] < 300 and p1[0] < 310:                 # sleeve folds are mirrored onto the other sleeve
            _fold(h, (SIZE - p0[0], p0[1] + 12), (SIZE - p1[0], p1[1] + 12), w, a)


def _hoodie_height(m: dict, rng: np.random.Generator) -> np.ndarray:
    _, xx = _grid()
    h = _dome(m["alpha"], 45, 10)
    for part, depth in (("body", 3), ("sleeve_l", 4), ("sleeve_r", 4), ("pocket", 3), ("hood", 4),
                        ("cuff_l", 4), ("cuff_r", 4), ("band", 3)):
        h += _dome(m[part + "_vis"], 5, depth)
    ribbed = m["cuff_l_vis"] + m["cuff_r_vis"] + m["band_vis"]
    h += ribbed * _ribs(xx, 6.0, 0.7)
    _hoodie_folds(h)
    h += 2.0 * _noise(rng, SIZE, SIZE, 120) + _knit(rng, 0.02)
    h += 2.5 * _gauss(m["hem"], 3) - 5 * _gauss(m["opening"] * (1 - m["hem"]), 4)
    h -= 1.5 * _gauss(m["pocket_open"], 1.5) + 0.45 * m["stitch"]
    h += _dome(m["strings"], 1.5, 4) + _dome(m["tips"], 1.5, 5) + _dome(m["eyelets"], 1.2, 2)
    return h


def _hoodie_lum(m: dict, h: np.ndarray) -> np.ndarray:
    yy, xx = _grid()
    lum = _fabric_lum(h, m["alpha"], 236, 2.0, 26, 0.24)
    inner = m["opening"] * (1 - m["hem"])
    depth = 0.60 + 0.14 * _smoothstep(130, 330, yy) - 0.08 * np.exp(-((xx - 512) / 50) ** 2)
    depth *= 1 - 0.12 * np.exp(-((xx - 512) / 2.0) ** 2) * _smoothstep(380, 300, yy)       # centre seam
    lum *= 1 - inner * (1 - depth)
    lum *= 1 - 0.22 * m["pocket_open"] * (1 - m["trims"])
    shadow = np.roll(_gauss(m["trims"], 3), (5, 4), axis=(0, 1))
    lum *= 1 - 0.28 * shadow * (1 - m["trims"])
    lum *= 1 - 0.05 * (m["sleeve_l_vis"] + m["sleeve_r_vis"])
    return _softclip(lum, 110, 247, 20)


def _hoodie_colour(m: dict, lum: np.ndarray) -> Image.Image:
    """Fabric in the light neutral tint, cotton drawstrings a touch cooler, metal aglets and eyelets grey."""
    rgb = lum[..., None] * np.array([1.0, 0.992, 0.978], np.float32)
    strings = lum[..., None] * np.array([1.02, 1.03, 1.05], np.float32)
    metal = (0.45 * lum + 70)[..., None] * np.array([0.96, 0.97, 1.0], np.float32)
    rgb = rgb * (1 - m["trims"][..., None]) + m["strings"][..., None] * strings
    rgb = rgb * (1 - (m["tips"] + m["eyelets"])[..., None] * (1 - m["strings"][..., None])) \
        + ((m["tips"] + m["eyelets"]) * (1 - m["strings"]))[..., None] * metal
    return _with_alpha(rgb, m["alpha"])


def hoodie(rng: np.random.Generator) -> tuple[Image.Image, Image.Image]:
    m = _hoodie_masks()
    lum = _hoodie_lum(m, _hoodie_height(m, rng))
    return _hoodie_colour(m, lum), _grey(m["alpha"] * (1 - m["trims"]))


# --------------------------------------------------------------------------- mug

_MUG: dict[str, Any] = {"cx": 452.0, "r": 190.0, "top": 318.0, "bottom": 770.0, "ry": 46.0, "wall": 11.0,
        "hx": 636.0, "hy": 548.0, "outer": (150.0, 146.0), "inner": (108.0, 100.0)}


def _mug_masks() -> dict:
    g = _MUG
    cx, r, top, bot, ry, wall = g["cx"], g["r"], g["top"], g["bottom"], g["ry"], g["wall"]
    body = _Mask().rounded((cx - r, top, cx + r, bot), 0).ellipse((cx - r, bot - ry, cx + r, bot + ry))
    body.ellipse((cx - r, top - ry, cx + r, top + ry))
    iry = ry * (r - wall) / r
    interior = _Mask().ellipse((cx - r + wall, top - iry, cx + r - wall, top + iry))
    (ox, oy), (ix, iy) = g["outer"], g["inner"]
    handle = _Mask().ellipse((g["hx"] - ox, g["hy"] - oy, g["hx"] + ox, g["hy"] + oy))
    handle.ellipse((g["hx"] - ix, g["hy"] - iy, g["hx"] + ix, g["hy"] + iy), fill=0)
    handle.rounded((0, 0, cx, SIZE), 0, fill=0)
    m = {"body": body.array(), "interior": interior.array(), "handle": handle.array()}
    m["rim"] = _Mask().ellipse((cx - r, top - ry, cx + r, top + ry)).array() * (1 - m["interior"])
    m["alpha"] = np.maximum(m["body"], m["handle"])
    return m


def _gloss(u: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((u - centre) / width) ** 2)


def _mug_body(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """Glossy white cylinder: Lambert + a vertical soft-box highlight + darker grazing edges."""
    g = _MUG
    u = np.clip((xx - g["cx"]) / g["r"], -0.999, 0.999)
    nz = np.sqrt(1 - u * u)
    light = np.array([-0.55, 0.0, 0.83])
    diffuse = np.clip(u * light[0] + nz * light[2], 0, 1)
    lum = 168 + 76 * diffuse ** 0.9
    lum *= 0.80 + 0.20 * nz ** 0.35                                   # grazing angles reflect the dark room
    vertical = _smoothstep(g["top"] + 10, g["top"] + 70, yy) * _smoothstep(g["bottom"] + 30, g["bottom"] - 60, yy)
    lum += vertical * (70 * _gloss(u, -0.50, 0.045) + 26 * _gloss(u, -0.46, 0.16) + 34 * _gloss(u, 0.80, 0.03))
    front_top = g["top"] + g["ry"] * nz
    front_bot = g["bottom"] + g["ry"] * nz
    lum += 30 * np.exp(-np.clip(yy - front_top, 0, None) / 2.5) * (yy >= front_top - 1)   # lit lip edge
    lum *= 1 - 0.10 * _smoothstep(g["top"] + 80, g["bottom"], yy)                           # table bounce fades
    lum *= 1 - 0.28 * np.exp(-np.clip(front_bot - yy, 0, None) / 9.0)                      # rounded foot
    return lum


def _mug_inside(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """The far inner wall seen over the rim: lit on the right, shadowed by the left rim and towards the front."""
    g = _MUG
    u = (xx - g["cx"]) / (g["r"] - g["wall"])
    v = (yy - (g["top"] - g["ry"])) / (2 * g["ry"])
    lum = 118 + 78 * _smoothstep(-0.9, 0.8, u) - 40 * _smoothstep(0.25, 1.0, v)
    lum += 24 * _gloss(u, 0.55, 0.12) * _smoothstep(0.9, 0.3, v)
    return lum


def _mug_rim(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    u = (xx - _MUG["cx"]) / _MUG["r"]
    return 236 + 14 * _gloss(u, -0.35, 0.25) - 10 * _smoothstep(0.5, 1.0, np.abs(u))


def _mug_handle(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """A tube bent into an ellipse: shade its round cross-section with diffuse + specular."""
    g = _MUG
    a, b = (g["outer"][0] + g["inner"][0]) / 2, (g["outer"][1] + g["inner"][1]) / 2
    half = (g["outer"][0] - g["inner"][0]) / 2 / a
    dx, dy = (xx - g["hx"]) / a, (yy - g["hy"]) / b
    t = np.clip((np.sqrt(dx * dx + dy * dy) - 1) / half, -0.999, 0.999)
    norm = np.sqrt(dx * dx + dy * dy) + 1e-6
    n = np.stack([dx / norm * t, dy / norm * t, np.sqrt(1 - t * t)])
    light = np.array([-0.5, -0.45, 0.74])[:, None, None]
    diffuse = np.clip((n * light).sum(0), 0, 1)
    half_vec = light + np.array([0, 0, 1.0])[:, None, None]
    spec = np.clip((n * half_vec / np.linalg.norm(half_vec)).sum(0), 0, 1) ** 60
    lum = 150 + 92 * diffuse + 60 * spec
    return lum * (0.78 + 0.22 * _smoothstep(g["cx"] + g["r"], g["cx"] + g["r"] + 40, xx))


def mug(rng: np.random.Generator) -> tuple[Image.Image, Image.Image]:
    m = _mug_masks()
    yy, xx = _grid()
    lum = _mug_handle(yy, xx)
    lum = lum * (1 - m["body"]) + _mug_body(yy, xx) * m["body"]
    lum = lum * (1 - m["rim"]) + _mug_rim(yy, xx) * m["rim"]
    lum = lum * (1 - m["interior"]) + _mug_inside(yy, xx) * m["interior"]
    lum += 0.6 * _noise(rng, SIZE, SIZE, 3)
    lum = _softclip(lum, 60, 252, 10)
    return _rgba(lum, (0.992, 0.996, 1.0), m["alpha"]), _grey(m["alpha"] * (1 - m["interior"]))


# --------------------------------------------------------------------------- tote

_TOTE: dict[str, Any] = {"left": 232.0, "right": 792.0, "top": 400.0, "bottom": 948.0, "hem": 446.0,
         "straps": [(512.0, 404.0, 124.0, 262.0), (512.0, 410.0, 150.0, 290.0)], "strap_w": 44.0}


def _tote_outline(rng: np.random.Generator) -> list[tuple[float, float]]:
    """The bag's rectangle with slightly wavy, hand-sewn edges."""
    t = _TOTE

    def wob(n: int) -> np.ndarray:
        return 2.2 * np.convolve(rng.standard_normal(n + 40), np.hanning(41) / 10.5, "valid")[:n]

    ys = np.linspace(t["top"], t["bottom"], 60)
    xs = np.linspace(t["left"], t["right"], 60)
    left = [(t["left"] + d, y) for y, d in zip(ys, wob(60), strict=True)]
    bottom = [(x, t["bottom"] + d) for x, d in zip(xs, wob(60), strict=True)]
    right = [(t["right"] + d, y) for y, d in zip(ys[::-1], wob(60), strict=True)]
    top = [(x, t["top"] + 0.5 * d) for x, d in zip(xs[::-1], wob(60), strict=True)]
    return left + bottom + right + top


def _strap_ring(cx: float, cy: float, rx: float, ry: float, width: float) -> np.ndarray:
    """Upper half of an elliptical ring (a strap loop) as a mask."""
    half = width / 2
    ring = _Mask().ellipse((cx - rx - half, cy - ry - half, cx + rx + half, cy + ry + half))
    ring.ellipse((cx - rx + half, cy - ry + half, cx + rx - half, cy + ry - half), fill=0)
    ring.rounded((0, cy, SIZE, SIZE), 0, fill=0)
    return ring.array()


def _tote_masks(rng: np.random.Generator) -> dict:
    t = _TOTE
    m = {"bag": _Mask().poly(_tote_outline(rng)).array()}
    (bx, by, brx, bry), (fx, fy, frx, fry) = t["straps"]
    w = t["strap_w"]
    m["back_strap"] = _strap_ring(bx, by, brx, bry, w - 4)
    front = _strap_ring(fx, fy, frx, fry, w)
    tabs = _Mask()
    for x in (fx - frx, fx + frx):
        tabs.rounded((x - w / 2, fy - 2, x + w / 2, 486), 1)
    m["tabs"] = tabs.array()
    m["front_strap"] = np.maximum(front, m["tabs"])
    m["straps"] = np.maximum(m["front_strap"], m["back_strap"] * (1 - m["bag"]))
    m["alpha"] = np.maximum(m["bag"], np.maximum(m["front_strap"], m["back_strap"]))
    stitch = _stitches(_Mask(), [(t["left"] + 4, t["hem"] - 8), (t["right"] - 4, t["hem"] - 8)])
    for x in (fx - frx, fx + frx):
        a, b = x - w / 2 + 5, x + w / 2 - 5
        _stitches(stitch, [(a, 450), (b, 450), (b, 480), (a, 480), (a, 450), (b, 480)])
        _stitches(stitch, [(b, 450), (a, 480)])
    m["stitch"] = stitch.array() * m["alpha"]
    m["hem"] = _Mask().rounded((0, 0, SIZE, t["hem"]), 0).array() * m["bag"]
    return m


def _weave(rng: np.random.Generator, period: float) -> np.ndarray:
    """Plain-weave texture (zero mean): warp and weft threads alternately on top, with slubs."""
    yy, xx = _grid()
    a = np.sin(np.pi * (xx + 0.8 * _noise(rng, SIZE, SIZE, (8, 50))) / period)
    b = np.sin(np.pi * (yy + 0.8 * _noise(rng, SIZE, SIZE, (50, 8))) / period)
    a, b = np.abs(a), np.abs(b)
    warp_on_top = (np.floor(xx / period) + np.floor(yy / period)) % 2 == 0
    weave = np.where(warp_on_top, a ** 0.5 * (0.55 + 0.45 * b), b ** 0.5 * (0.55 + 0.45 * a))
    slubs = np.clip(_noise(rng, SIZE, SIZE, (2, 60)), 1.3, None) + np.clip(_noise(rng, SIZE, SIZE, (60, 2)), 1.3, None)
    weave = weave + 0.25 * slubs
    return (weave - weave.mean()) / weave.std()


def _tote_folds(h: np.ndarray) -> None:
    for p0, p1, w, a in [
        ((250, 520), (500, 700), 13, 3), ((290, 600), (480, 740), 8, -2.2), ((790, 470), (610, 630), 12, 2.6),
        ((770, 640), (580, 900), 14, 2.6), ((290, 880), (470, 944), 10, 2.2), ((420, 470), (640, 478), 9, -1.8),
        ((240, 690), (790, 680), 3, -1.2), ((512, 452), (516, 944), 3, -0.9), ((650, 720), (710, 930), 9, -2),
        ((250, 760), (380, 700), 10, 2), ((560, 520), (700, 560), 10, 1.8),
    ]:
        _fold(h, p0, p1, w, a)


def _tote_height(m: dict, rng: np.random.Generator) -> np.ndarray:
    h = _dome(m["bag"], 40, 6) + 1.6 * _gauss(m["hem"], 2.0) + 2.0 * _noise(rng, SIZE, SIZE, 100)
    _tote_folds(h)
    h += _dome(m["front_strap"], 2.5, 3)
    behind = m["back_strap"] * (1 - m["bag"]) * (1 - m["front_strap"])
    h = h * (1 - behind) + _dome(m["back_strap"], 3, 3) * behind
    return h - 0.5 * m["stitch"]


def _flecks(rng: np.random.Generator, count: int = 60) -> np.ndarray:
    """Tiny dark cotton-seed flecks, typical of unbleached canvas."""
    dots = _Mask(ss=2)
    for x, y, r in zip(rng.uniform(0, SIZE, count), rng.uniform(0, SIZE, count), rng.uniform(0.4, 1.0, count),
                       strict=True):
        dots.ellipse((x - r * 1.6, y - r, x + r * 1.6, y + r))
    return dots.array()


def _tote_lum(m: dict, h: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    lum = _fabric_lum(h, m["alpha"], 238, 1.7, 16, 0.16)
    canvas, webbing = _weave(rng, 3.0), _weave(rng, 5.0)
    straps = m["straps"]
    lum *= 1 + 0.018 * canvas * (1 - straps) + 0.032 * webbing * straps
    lum *= 1 - 0.16 * m["back_strap"] * (1 - m["bag"]) * (1 - m["front_strap"])
    shadow = np.roll(_gauss(m["tabs"], 3), (3, 3), axis=(0, 1))
    lum *= 1 - 0.15 * shadow * (1 - m["tabs"]) * m["bag"]
    lum *= 1 - 0.25 * _flecks(rng) * m["bag"]
    return _softclip(lum, 110, 248, 18)


def tote(rng: np.random.Generator) -> tuple[Image.Image, Image.Image]:
    m = _tote_masks(rng)
    lum = _tote_lum(m, _tote_height(m, rng), rng)
    return _rgba(lum, (1.0, 0.973, 0.918), m["alpha"]), _grey(m["alpha"])


# --------------------------------------------------------------------------- design

_FOX_ORANGE, _FOX_SHADE, _FOX_LIGHT = (238, 122, 46, 255), (214, 96, 36, 255), (246, 152, 74, 255)
_FOX_CREAM, _FOX_CREAM_SHADE, _FOX_DARK = (251, 244, 233, 255), (236, 224, 210, 255), (43, 34, 48, 255)


def _fox_shapes() -> list[tuple[tuple, Sequence[tuple[float, float]]]]:
    """(colour, polygon) pairs in 800x800 design coordinates, drawn in order."""
    head = [(160, 80), (330, 236), (470, 236), (640, 80), (662, 322), (732, 470), (400, 724), (68, 470), (138, 322)]
    left_ear = [(176, 124), (306, 244), (166, 312)]
    left_cheek = [(68, 470), (252, 448), (364, 566), (400, 724)]
    left_eye = [(246, 398), (300, 370), (342, 400), (296, 414)]
    return [
        (_FOX_ORANGE, head),
        (_FOX_SHADE, [(400, 236), (470, 236), (640, 80), (662, 322), (732, 470), (548, 452), (400, 430)]),
        (_FOX_SHADE, [(160, 80), (138, 322), (68, 470), (176, 124)]),
        (_FOX_LIGHT, [(400, 250), (446, 330), (400, 430), (354, 330)]),
        (_FOX_DARK, left_ear), (_FOX_DARK, _mirror(left_ear, 400)),
        (_FOX_CREAM, left_cheek), (_FOX_CREAM_SHADE, _mirror(left_cheek, 400)),
        (_FOX_CREAM, [(400, 430), (364, 566), (400, 724)]), (_FOX_CREAM_SHADE, [(400, 430), (436, 566), (400, 724)]),
        (_FOX_DARK, left_eye), (_FOX_DARK, _mirror(left_eye, 400)),
        (_FOX_DARK, [(358, 640), (442, 640), (400, 704)]),
    ]


def fox(rng: np.random.Generator | None = None) -> Image.Image:
    """A flat geometric fox head logo, drawn at 4x and downsampled for clean anti-aliased edges."""
    ss, size = 4, 800
    im = Image.new("RGBA", (size * ss, size * ss), (0, 0, 0, 0))
    draw = ImageDraw.Draw(im)
    for colour, pts in _fox_shapes():
        draw.polygon([(x * ss, y * ss) for x, y in pts], fill=colour)
    draw.ellipse([v * ss for v in (370, 628, 430, 660)], fill=_FOX_DARK)             # rounded nose top
    for cx in (300, 500):                                                           # catch-lights
        draw.ellipse([v * ss for v in (cx + 2, 386, cx + 14, 398)], fill=_FOX_CREAM)
    return im.resize((size, size), Image.Resampling.LANCZOS)


# --------------------------------------------------------------------------- backdrops

def _rgb(lum: np.ndarray, tint) -> Image.Image:
    rgb = np.clip(lum[..., None] * np.asarray(tint, np.float32), 0, 255)
    return Image.fromarray(rgb.round().astype(np.uint8), "RGB")


def studio(rng: np.random.Generator) -> Image.Image:
    """Light grey seamless paper: the wall curves into the floor, lit from the front, soft vignette."""
    w, h = 1600, 1200
    yy, xx = _grid(h, w)
    v = yy / h
    wall = 196 + 16 * v
    floor = 224 + 10 * _smoothstep(0.7, 1.0, v)
    lum = wall + (floor - wall) * _smoothstep(0.46, 0.76, v) - 5 * np.exp(-(((v - 0.57) / 0.06) ** 2))
    lum += 12 * np.exp(-(((xx - 800) / 560) ** 2 + ((yy - 760) / 420) ** 2) / 2)
    r2 = ((xx - w / 2) / (w * 0.62)) ** 2 + ((yy - h * 0.55) / (h * 0.7)) ** 2
    lum *= 1 - 0.16 * np.clip(r2, 0, 1.6) ** 1.5
    lum += 1.4 * _noise(rng, h, w, 260) + 0.25 * _noise(rng, h, w, 40) + 0.8 * rng.standard_normal((h, w))
    return _rgb(lum, (0.992, 0.996, 1.0))


_OAK_LIGHT = np.array([212, 170, 118], np.float32)
_OAK_DARK = np.array([150, 102, 58], np.float32)


def _oak_board(rng: np.random.Generator, height: int, width: int, cathedral: bool) -> np.ndarray:
    """Grain value in [0, 1] (1 = dark latewood) for one plank."""
    yy, xx = _grid(height, width)
    warp = 3.5 * _noise(rng, height, width, (70, 420)) + 1.0 * _noise(rng, height, width, (16, 120))
    g = yy + warp
    if cathedral:
        xc = rng.uniform(0.3, 0.7) * width
        g = g + 0.4 * height * (((xx - xc) / (0.5 * width)) ** 2) * rng.choice([-1, 1])
    spacing = rng.uniform(6.0, 9.0)
    rings = 0.5 + 0.5 * np.sin(2 * np.pi * g / spacing + 0.8 * _noise(rng, height, width, (30, 300)))
    strength = np.clip(0.55 + 0.35 * _noise(rng, height, width, (24, 260)), 0.1, 1)
    pores = np.clip(_noise(rng, height, width, (1, 28)), 0.5, None) - 0.5
    figure = 0.5 + 0.5 * _noise(rng, height, width, (50, 500))
    return np.clip(0.38 * rings ** 4 * strength + 0.16 * pores + 0.32 * figure, 0, 1)


def _oak_planks(rng: np.random.Generator, w: int, rows: list[int]) -> np.ndarray:
    """RGB planks stacked vertically, with seams and staggered butt joints."""
    out = []
    for i, height in enumerate(rows):
        grain = _oak_board(rng, height, w, cathedral=i % 2 == 1)
        rgb = _OAK_LIGHT + (_OAK_DARK - _OAK_LIGHT) * grain[..., None]
        rgb *= rng.uniform(0.93, 1.05) * np.array([1.0, rng.uniform(0.98, 1.02), rng.uniform(0.96, 1.04)])
        yy, xx = _grid(height, w)
        rgb *= (1 - 0.45 * np.exp(-((yy / 1.3) ** 2)) + 0.05 * np.exp(-(((yy - 3) / 1.5) ** 2)))[..., None]
        first = rng.uniform(0.08, 0.4)
        for joint in ([first, first + rng.uniform(0.42, 0.52)] if i % 2 else [rng.uniform(0.3, 0.85)]):
            rgb *= (1 - 0.4 * np.exp(-(((xx - joint * w) / 1.2) ** 2)))[..., None]
        out.append(rgb)
    return np.concatenate(out, axis=0)


def oak_table(rng: np.random.Generator) -> Image.Image:
    """An oak plank tabletop (lower 60 %) against a softly lit off-white wall."""
    w, h, line = 1600, 1200, 480
    yy, xx = _grid(h, w)
    wall = 242 - 16 * (0.6 * xx / w + 0.4 * yy / line) + 1.2 * _noise(rng, h, w, 200)
    wall *= 1 - 0.10 * np.exp(-np.clip(line - yy, 0, None) / 40)
    rgb = wall[..., None] * np.array([1.0, 0.978, 0.945], np.float32)
    table = _oak_planks(rng, w, [150, 140, 146, 138, 146])
    ty = yy[line:] - line
    light = 1.06 - 0.12 * ty / (h - line) - 0.35 * np.exp(-ty / 12.0) * (ty < 60)
    light += 0.07 * np.exp(-(((xx[line:] - 560) / 340) ** 2 + ((ty - 160) / 130) ** 2) / 2)   # window sheen
    rgb[line:] = table * light[..., None]
    r2 = ((xx - w / 2) / (0.7 * w)) ** 2 + ((yy - h / 2) / (0.7 * h)) ** 2
    rgb *= (1 - 0.12 * np.clip(r2, 0, 1.5))[..., None]
    rgb += 0.8 * rng.standard_normal((h, w, 1))
    return Image.fromarray(np.clip(rgb, 0, 255).round().astype(np.uint8), "RGB")


# --------------------------------------------------------------------------- entry points

_PRODUCTS = {"tee": tee, "tee-back": tee_back, "hoodie": hoodie, "mug": mug, "tote": tote}
_EXTRAS = {"fox": fox, "studio": studio, "oak-table": oak_table}


def sample_files() -> list[str]:
    """Every file name write_samples() produces."""
    names = [v[k] for v in SAMPLES.values() for k in ("image", "recolour_mask")]
    return names + [v["image"] for v in (*DESIGNS.values(), *BACKDROPS.values())]


def write_samples(dest: pathlib.Path) -> dict:
    """Write every sample asset into dest (created if needed); return SAMPLES."""
    dest = pathlib.Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name, make in _PRODUCTS.items():
        image, dye = make(_rng(name))
        _save(image, dest / SAMPLES[name]["image"])
        _save(dye, dest / SAMPLES[name]["recolour_mask"])
    for name, make_extra in _EXTRAS.items():
        meta = DESIGNS.get(name) or BACKDROPS[name]
        _save(make_extra(_rng(name)), dest / meta["image"])
    return copy.deepcopy(SAMPLES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mockups.starter.samples",
                                     description="Write the procedurally generated sample assets into DEST.")
    parser.add_argument("dest", metavar="DEST", type=pathlib.Path, help="folder to write into (created if needed)")
    args = parser.parse_args(argv)
    write_samples(args.dest)
    for name in sample_files():
        print(args.dest / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
