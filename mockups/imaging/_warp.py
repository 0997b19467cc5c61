"""Design placement: perspective warp into a print quad, fold displacement and
shading-aware blending onto the product.

The "shade" blend multiplies the ink (linear light) by the fabric's relative light, split in
two: the folds (a low-pass of the log luminance: creases, the body's light) and the fine texture
(the high-pass: weave, heather), each with its own gain and limit, plus the photo's highlights
added on top. A finish (:data:`FINISHES`) sets those gains and how the ink covers the fabric.
Nothing of it depends on the garment's colour: a layer is prepared once per photo and design.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from mockups.imaging._colour import _encode_srgb, luminance, srgb_to_linear
from mockups.imaging._common import ImagingError, gaussian_blur, rgba_array, smoothstep

__all__ = [
    "DesignLayer", "prepare_design", "apply_design", "FINISHES",
    "rect_to_corners",
    "validate_quad",
    "perspective_coeffs",
    "luminance_field",
    "place_design",
]

Point = tuple[float, float]
_BLENDS = ("shade", "multiply", "normal")


def rect_to_corners(x: float, y: float, width: float, height: float) -> list[Point]:
    """Corners (top-left, top-right, bottom-right, bottom-left) of an axis-aligned rectangle."""
    if width <= 0 or height <= 0:
        raise ImagingError(f"print area must have a positive size, got {width}x{height}")
    return [(x, y), (x + width, y), (x + width, y + height), (x, y + height)]


def validate_quad(corners: Sequence[Sequence[float]], size: tuple[int, int], *,
                  tolerance: float = 1.0) -> np.ndarray:
    """Check that ``corners`` form a convex, non-self-intersecting quad inside the image.

    Corners are given clockwise or counter-clockwise (TL, TR, BR, BL for a
    print area). Returns them as a float64 ``(4, 2)`` array.
    """
    try:
        quad = np.asarray(corners, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ImagingError(f"print area corners are not numeric: {corners!r}") from exc
    if quad.shape != (4, 2) or not np.all(np.isfinite(quad)):
        raise ImagingError(f"print area needs 4 finite (x, y) corners, got {corners!r}")
    edges = np.roll(quad, -1, axis=0) - quad
    cross = edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1] - edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0]
    area = 0.5 * abs(float(np.sum(quad[:, 0] * np.roll(quad[:, 1], -1) - np.roll(quad[:, 0], -1) * quad[:, 1])))
    if not (np.all(cross > 0) or np.all(cross < 0)) or area < 4.0:
        raise ImagingError("print area corners must form a convex, non-self-intersecting quad "
                           f"with a positive area (got {quad.tolist()})")
    w, h = size
    lo, hi = quad.min(axis=0), quad.max(axis=0)
    if lo[0] < -tolerance or lo[1] < -tolerance or hi[0] > w + tolerance or hi[1] > h + tolerance:
        raise ImagingError(f"print area {quad.round(1).tolist()} lies outside the {w}x{h} image")
    return quad


def perspective_coeffs(src: np.ndarray, dst: np.ndarray) -> tuple[float, ...]:
    """Homography coefficients (a..h) mapping ``dst`` points to ``src`` points.

    This is the form PIL's ``Image.transform(..., PERSPECTIVE, coeffs)``
    expects: for an output pixel (x, y) it samples the input at
    ``((a x + b y + c) / (g x + h y + 1), (d x + e y + f) / (g x + h y + 1))``.
    """
    rows, rhs = [], []
    for (xs, ys), (xd, yd) in zip(np.asarray(src, float), np.asarray(dst, float), strict=True):
        rows.append([xd, yd, 1, 0, 0, 0, -xs * xd, -xs * yd])
        rows.append([0, 0, 0, xd, yd, 1, -ys * xd, -ys * yd])
        rhs += [xs, ys]
    try:
        coeffs = np.linalg.solve(np.array(rows), np.array(rhs))
    except np.linalg.LinAlgError as exc:
        raise ImagingError("degenerate print area: cannot solve the perspective transform") from exc
    return tuple(float(c) for c in coeffs)


def _apply_h(coeffs: Sequence[float], pts: np.ndarray) -> np.ndarray:
    a, b, c, d, e, f, g, h = coeffs
    x, y = pts[:, 0], pts[:, 1]
    den = g * x + h * y + 1.0
    return np.stack([(a * x + b * y + c) / den, (d * x + e * y + f) / den], axis=1)


def _fit_quad(quad: np.ndarray, design_size: tuple[int, int], valign: str) -> np.ndarray:
    """Sub-quad of ``quad`` holding the design at its own aspect ratio (contain)."""
    top, bottom = np.linalg.norm(quad[1] - quad[0]), np.linalg.norm(quad[2] - quad[3])
    left, right = np.linalg.norm(quad[3] - quad[0]), np.linalg.norm(quad[2] - quad[1])
    qw, qh = 0.5 * (top + bottom), 0.5 * (left + right)
    dw, dh = design_size
    scale = min(qw / dw, qh / dh)
    ue, ve = dw * scale / qw, dh * scale / qh
    u0 = 0.5 * (1.0 - ue)
    v0 = 0.0 if valign == "top" else 1.0 - ve if valign == "bottom" else 0.5 * (1.0 - ve)
    unit = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float64)
    to_quad = perspective_coeffs(quad, unit)  # unit square -> quad
    sub = np.array([[u0, v0], [u0 + ue, v0], [u0 + ue, v0 + ve], [u0, v0 + ve]])
    return _apply_h(to_quad, sub)


def _warp_design(design: Image.Image, sub: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Warp ``design`` onto the sub-quad; returns premultiplied float32 RGBA of the box."""
    x0, y0, x1, y1 = box
    edges = np.linalg.norm(np.roll(sub, -1, axis=0) - sub, axis=1)
    shrink = min(1.0, max(edges[0], edges[2]) / design.width, max(edges[1], edges[3]) / design.height)
    if shrink < 0.9:  # pre-filter big downscales; PERSPECTIVE alone would alias
        size = (max(2, round(design.width * shrink * 1.1)), max(2, round(design.height * shrink * 1.1)))
        design = design.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
    dw, dh = design.size
    src = np.array([[0, 0], [dw, 0], [dw, dh], [0, dh]], dtype=np.float64)
    coeffs = perspective_coeffs(src, sub - np.array([x0, y0]))
    warped = design.transform((x1 - x0, y1 - y0), Image.Transform.PERSPECTIVE, coeffs,
                              Image.Resampling.BICUBIC, fillcolor=(0, 0, 0, 0))
    arr = np.asarray(warped, dtype=np.float32) / 255.0
    arr[..., :3] *= arr[..., 3:4]
    return arr


def luminance_field(rgba: Image.Image | np.ndarray) -> np.ndarray:
    """Linear luminance Y (float32, 0-1) of every pixel of an RGBA image."""
    arr = rgba if isinstance(rgba, np.ndarray) else rgba_array(rgba)
    return luminance(arr[..., :3]).astype(np.float32)


def _bilinear(img: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Sample ``img`` (h, w, c) at float coordinates (edge-clamped)."""
    h, w, c = img.shape
    xs = np.clip(xs, 0.0, w - 1.0).astype(np.float32)
    ys = np.clip(ys, 0.0, h - 1.0).astype(np.float32)
    x0 = np.minimum(xs.astype(np.int32), max(w - 2, 0))
    y0 = np.minimum(ys.astype(np.int32), max(h - 2, 0))
    fx, fy = (xs - x0)[..., None], (ys - y0)[..., None]
    flat = img.reshape(-1, c)
    base = y0 * w + x0
    dx, dy = (1 if w > 1 else 0), (w if h > 1 else 0)
    top = flat[base] * (1 - fx) + flat[base + dx] * fx
    bottom = flat[base + dy] * (1 - fx) + flat[base + dy + dx] * fx
    return top * (1 - fy) + bottom * fy


def _fill_outside(y: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Replace luminance outside the product by the inside median (no edge gradients)."""
    if not inside.any():
        return y
    return np.where(inside, y, np.float32(np.median(y[inside])))


def _displace(warped: np.ndarray, y_patch: np.ndarray, inside: np.ndarray,
              displacement: float, sigma: float) -> np.ndarray:
    """Shift design samples along the gradient of the blurred garment lightness.

    The shift is ``displacement * tanh(|g| / g95)`` along the gradient ``g``
    (``g95`` its 95th percentile in the print area): folds move the print by
    a few px, sharp edges (seams, old prints) saturate instead of tearing it,
    and it never exceeds ``displacement``.
    """
    if displacement <= 0:
        return warped
    lightness = np.cbrt(np.maximum(_fill_outside(y_patch, inside), 0.0))
    gy, gx = np.gradient(gaussian_blur(lightness, sigma))
    mag = np.hypot(gx, gy)
    ref = float(np.percentile(mag[inside], 95)) if inside.any() else 0.0
    if ref <= 1e-6:
        return warped
    scale = displacement * np.tanh(mag / ref) / np.maximum(mag, 1e-12)
    # Smooth the field itself so a sharp edge bends the print instead of tearing it.
    shift = gaussian_blur(np.stack([gx * scale, gy * scale], axis=-1), max(sigma, 1.5 * displacement))
    yy, xx = np.mgrid[0:warped.shape[0], 0:warped.shape[1]].astype(np.float32)
    return _bilinear(warped, xx + shift[..., 0], yy + shift[..., 1])


@dataclass(frozen=True)
class _Finish:
    """How one kind of ink sits on the product (see :data:`FINISHES`)."""

    folds: float  # gain on the folds' log light (1: the fabric's own relative light)
    texture: float  # gain on the fabric's fine texture, before its amplitude is limited ...
    texture_cap: float  # ... to about this (log light, robust sigma)
    gloss: float  # how much of the photo's highlights (light above _KNEE x the median) the ink reflects
    sheen: float  # extra light on the lit side of the folds (linear, plastisol's faint sheen)
    opacity: float  # ink coverage: below 1 the fabric's colour shows through
    soak: float  # the fabric's bright texture thinning the ink (fibre tips showing through)
    edge: float  # shadow the ink's raised edge casts on the fabric
    relief: float  # embroidery: thread stripes, bevel and stronger edges


_FINISH = {
    # direct print: the ink takes the fabric's texture and folds
    "print": _Finish(folds=1.0, texture=3.0, texture_cap=0.08, gloss=0.5, sheen=0.0, opacity=1.0, soak=0.0,
                     edge=0.0, relief=0.0),
    # plastisol: a layer on top, hiding most of the weave, with a faint sheen and a hairline edge
    "screen": _Finish(folds=0.9, texture=1.2, texture_cap=0.03, gloss=1.0, sheen=0.03, opacity=1.0, soak=0.0,
                      edge=0.15, relief=0.0),
    # water-based / discharge: soaks into the fibres, more texture, some fabric colour through it
    "soft": _Finish(folds=1.0, texture=4.0, texture_cap=0.1, gloss=0.3, sheen=0.0, opacity=0.9, soak=0.08,
                    edge=0.0, relief=0.0),
    # raised threads: their own stripes instead of the weave, a bevel lit from the top left, a drop shadow
    "embroidery": _Finish(folds=0.75, texture=0.0, texture_cap=0.0, gloss=0.6, sheen=0.0, opacity=1.0, soak=0.0,
                          edge=0.4, relief=1.0),
}
FINISHES = tuple(_FINISH)

_FLOOR = 0.02  # dark level added to the luminance: black fabric's JPEG noise stays small in log light
_FOLD_FLOOR = 0.01  # the same for the folds, low-passed, where the noise has averaged out
_FOLD_SPREAD = 0.15  # folds' robust spread (log) beyond which they are compressed (deep creases, sheen)
_SHADOW_LOG, _LIGHT_LOG = 0.8, 0.22  # soft limits of the folds' log light: factors ~0.45 .. 1.25
_KNEE = 1.25  # relative light above which the photo's light is a highlight, added to the ink
_TEXTURE_VISIBILITY = 0.7  # x the finish's texture gain: the ink's texture in L* per the fabric's
_LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


def _check_finish(finish: str) -> _Finish:
    try:
        return _FINISH[finish]
    except (KeyError, TypeError):
        raise ImagingError(f"unknown finish {finish!r} (use one of {', '.join(FINISHES)})") from None


def _robust_sigma(values: np.ndarray) -> float:
    if values.size == 0:
        return 0.0
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))


def _soft_limit(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """``x`` near 0, smoothly limited to (-low, high)."""
    return np.where(x < 0, low * np.tanh(x / low), high * np.tanh(x / high)).astype(np.float32)


@dataclass(frozen=True)
class _Light:
    """The fabric's light in a patch, split by scale (log relative light, 0 at the print area's median)."""

    folds: np.ndarray  # low-pass: folds, creases, the body's shading
    texture: np.ndarray  # high-pass: weave, heather, slubs (cored against the photo's noise)
    highlight: np.ndarray  # linear light above _KNEE x the median (gloss, sheen)
    median: float  # the print area's median luminance


def _light(y_patch: np.ndarray, inside: np.ndarray, sep: float) -> _Light:
    """Split the luminance ``y_patch`` at the scale ``sep`` (px) into folds and fine texture.

    Log light with a dark floor: a ratio to the median, so the same fold darkens a white and a
    black shirt's print alike. The texture is cored against ~1 code value of 8-bit noise at the
    median (after a 0.7 px pre-blur), so a dark garment's JPEG noise does not speckle a white print.
    """
    some = inside if inside.any() else np.ones_like(inside)
    y = _fill_outside(np.maximum(y_patch, 0.0), inside)
    med = float(np.median(y[some]))
    smooth = gaussian_blur(y, 0.7)
    low = gaussian_blur(np.log(smooth + np.float32(_FOLD_FLOOR)), sep)  # noise averages out at this scale
    folds = low - np.float32(np.median(low[some]))
    lg = np.log(smooth + np.float32(_FLOOR))
    texture = lg - gaussian_blur(lg, sep)
    # d(linear)/d(code) at the median's sRGB code; 0.4: what the pre-blur leaves of pixel noise
    v = float(_encode_srgb(np.array(med, np.float64)))
    slope = (12.92 if v <= 0.04045 else 2.4 / 1.055 * ((v + 0.055) / 1.055) ** 1.4) / 255.0
    noise = 0.4 * slope / (med + _FLOOR)
    texture = texture * (texture * texture / (texture * texture + np.float32(noise * noise)))
    rel = np.exp(folds)
    highlight = np.maximum(rel - _KNEE, 0.0) * np.float32(med + _FOLD_FLOOR)
    return _Light(folds.astype(np.float32), texture.astype(np.float32), highlight.astype(np.float32), med)


def _lightness(y: np.ndarray | float) -> np.ndarray:
    """CIE L* of a linear luminance."""
    y = np.asarray(y, np.float32)
    return np.where(y > 0.008856, 116.0 * np.cbrt(y) - 16.0, 903.3 * y).astype(np.float32)


def _fabric_terms(light: _Light, inside: np.ndarray, fin: _Finish, strength: float,
                  ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log light factor of the ink, normalised texture) from the fabric's light, 0 at the median.

    Folds: their gain is reduced when they spread beyond _FOLD_SPREAD (a black shirt's sheen and
    deep creases), then softly limited. Texture: amplified by the finish's gain but kept near its
    ``texture_cap``, so a smooth shirt shows its weave and a coarse heather does not turn into grit;
    and never more visible in the ink (L*) than _TEXTURE_VISIBILITY x in the fabric: on a
    near-black shirt, where texture and JPEG noise are invisible, a white print stays clean.
    """
    some = inside if inside.any() else np.ones_like(inside)
    spread = _robust_sigma(light.folds[some])
    gain = fin.folds * strength
    if spread > _FOLD_SPREAD:  # only the excess is compressed: a mug's or a white shirt's light is kept
        gain *= (_FOLD_SPREAD + 0.35 * (spread - _FOLD_SPREAD)) / spread
    log_f = _soft_limit(light.folds * np.float32(gain), _SHADOW_LOG, _LIGHT_LOG)
    amp = _robust_sigma(light.texture[some])
    tex = np.zeros_like(log_f)
    if fin.texture > 0 and amp > 1e-6 and strength > 0:
        target = fin.texture_cap * np.tanh(fin.texture * strength * amp / fin.texture_cap)
        # d L* / d log Y = (L* + 16) / 3: the same log texture is less visible on darker fabric
        visible = _TEXTURE_VISIBILITY * (_lightness(light.median) + 16.0) / (
            _lightness(ink @ _LUMA) + 16.0)
        tex_gain = np.minimum(np.float32(target / amp), visible * np.float32(fin.texture * strength))
        tex = _soft_limit(light.texture * tex_gain, 3 * fin.texture_cap, 3 * fin.texture_cap)
        log_f = log_f + tex
    log_f -= np.float32(np.median(log_f[some]))  # the ink's own colour at the print area's median
    norm = tex / np.float32(max(fin.texture_cap, 1e-6))
    return log_f, norm


def _shift(a: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """``a`` moved by (dx, dy) >= 0 px (right, down), zeros shifted in."""
    out = np.zeros_like(a)
    h, w = a.shape
    out[dy:, dx:] = a[:h - dy, :w - dx]
    return out


def _edge_shadow(a: np.ndarray, offset: float, blur: float) -> np.ndarray:
    """Coverage of a shadow cast down-right by ``a`` (0-1), outside it."""
    d = max(1, int(round(offset)))
    return gaussian_blur(_shift(a, d, d), blur) * (1.0 - a)


def _relief(a: np.ndarray, ink: np.ndarray, pitch: float) -> np.ndarray:
    """Embroidery's log light: satin threads (a fine directional stripe with stitch breaks), a
    bevel lit from the top left, darker thread ends at the edges and a groove where one thread
    colour meets another (``ink``: linear). Deterministic."""
    h, w = a.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(20240613)
    wobble = gaussian_blur(rng.standard_normal((h, w)).astype(np.float32), 4.0 * pitch)
    wobble /= np.float32(max(float(np.abs(wobble).max()), 1e-6))
    angle = np.radians(35.0)
    across = (xx * np.cos(angle) + yy * np.sin(angle)) / pitch + 0.6 * wobble  # one thread per unit
    along = (-xx * np.sin(angle) + yy * np.cos(angle)) / (4.0 * pitch)  # stitches ~4 threads long
    row = np.floor(across)
    stagger = np.sin(row * 2.39996) * 0.5 + 0.5  # each thread's stitch breaks at its own place
    thread = np.cos(2 * np.pi * (across - row - 0.5)) * 0.5 + 0.5  # 1 on a thread's crown, 0 between
    stitch = np.cos(2 * np.pi * (along + stagger)) * 0.5 + 0.5
    stripes = 0.16 * (thread - 0.5) + 0.05 * (stitch - 0.5)
    sb = 0.9 * pitch
    height = gaussian_blur(a, sb)
    gy, gx = np.gradient(height)
    bevel = (gx + gy) * np.float32(np.sqrt(np.pi) * sb)  # ~ -1..1 across an edge; + faces the top left
    rim = np.clip(a - gaussian_blur(a, 0.6 * pitch), 0.0, 1.0) * 2.0
    lum = np.log(ink @ _LUMA + np.float32(0.05))
    gy, gx = np.gradient(gaussian_blur(lum * a, 0.5))
    seam = np.clip(gaussian_blur(np.hypot(gx, gy), 0.5 * pitch) * np.float32(pitch), 0.0, 1.0) * a
    return (stripes * a + 0.45 * bevel - 0.25 * rim - 0.3 * seam).astype(np.float32)


def _finish_layer(ink: np.ndarray, alpha: np.ndarray, y_patch: np.ndarray | None, inside: np.ndarray,
                  fin: _Finish, strength: float, scale: float, *, sep: float, texture: float = 1.0,
                  extra: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Linear ink and coverage (2-D) of a finish; ``y_patch`` None: no fabric shading (normal, multiply).

    ``scale``: the photo's size (px, longest side), for the threads' pitch and the edge shadows;
    ``sep``: the texture / folds separation (px); ``texture``: a gain on the fabric's texture
    (a glazed mug has none worth taking); ``extra``: a log light factor to add (the wrap's falloff).
    """
    log_f: np.ndarray = np.zeros(alpha.shape, np.float32) if extra is None else extra.astype(np.float32)
    add: np.ndarray = np.zeros(alpha.shape, np.float32)
    norm = None
    if y_patch is not None:
        light = _light(y_patch, inside, sep)
        tfin = fin if texture == 1.0 else replace(fin, texture=fin.texture * texture)
        terms, norm = _fabric_terms(light, inside, tfin, strength, ink)
        log_f = log_f + terms
        add = light.highlight * np.float32(fin.gloss * strength)
        if fin.sheen:
            lit = np.clip(light.folds / np.float32(2 * _LIGHT_LOG), 0.0, 1.0)
            add = add + np.float32(fin.sheen * strength) * lit * lit
    a: np.ndarray = alpha
    pitch = max(2.5, 0.0025 * scale)
    if fin.relief:
        a = smoothstep((a - 0.2) / 0.6)  # threads are there or not: no half-transparent ink
        log_f = log_f + np.float32(fin.relief) * _relief(a, ink, pitch)
    if fin.soak and norm is not None:
        a = a * np.exp(-fin.soak * np.maximum(norm, 0.0)).astype(np.float32)
    if fin.opacity != 1.0:
        a = gaussian_blur(a, 0.5) * np.float32(fin.opacity)  # soaked in: slightly bled edges
    out = np.clip(ink * np.exp(log_f)[..., None] + add[..., None] * (a > 0)[..., None], 0.0, 1.0)
    if fin.edge:  # raised ink: a small shadow down-right of its edges, composited under the ink
        reach = 0.5 * pitch if fin.relief else 0.3 * pitch
        shadow = np.float32(fin.edge) * _edge_shadow(a, reach + 0.5, max(0.6, reach))
        total = a + shadow * (1.0 - a)
        out = out * (a / np.maximum(total, 1e-6))[..., None]  # shadow ink is black
        a = total
    return out.astype(np.float32), a.astype(np.float32)


def _finish_pad(fin: _Finish, scale: float) -> int:
    """Extra patch margin (px) a finish's edge shadow needs."""
    if not fin.edge:
        return 0
    pitch = max(2.5, 0.0025 * scale)
    reach = 0.5 * pitch if fin.relief else 0.3 * pitch
    return int(np.ceil(reach + 1.0 + 3.0 * max(0.6, reach)))


def _unpremultiply(design: np.ndarray) -> np.ndarray:
    """Linear ink of a premultiplied sRGB design."""
    alpha = design[..., 3:4]
    ink = np.where(alpha > 1e-6, design[..., :3] / np.maximum(alpha, 1e-6), 0.0)
    return srgb_to_linear(np.clip(ink, 0.0, 1.0).astype(np.float32))


@dataclass(frozen=True)
class DesignLayer:
    """A design warped, displaced and shaded for one product photo, ready to print on any colour.

    With the "shade" and "normal" blends nothing here depends on the garment's colour, so a
    product's design is prepared once and printed on each of its colours."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the patch in the photo
    alpha: np.ndarray  # (h, w, 1) float32 coverage, clipped to the product's alpha
    ink: np.ndarray  # (h, w, 3) float32: sRGB-encoded ink, or linear ink to multiply ("multiply")
    blend: str


def prepare_design(rgba: Image.Image, design_rgba: Image.Image, corners: Sequence[Sequence[float]], *,
                   shading: np.ndarray | None = None, displacement: float = 8.0,
                   blend: str = "shade", strength: float = 1.0, opacity: float = 1.0,
                   valign: str = "center", finish: str = "print",
                   clip: Sequence[Sequence[float]] | None = None) -> DesignLayer:
    """Everything of `place_design` that does not depend on the garment's colour.

    ``clip``: a print area (four corners) the coverage is cut at, anti-aliased: a design (or an
    embroidery's shadow) leaving it stops at its edge."""
    if blend not in _BLENDS:
        raise ImagingError(f"unknown blend {blend!r} (use one of {', '.join(_BLENDS)})")
    if valign not in ("center", "top", "bottom"):
        raise ImagingError(f"unknown valign {valign!r} (center, top or bottom)")
    fin = _check_finish(finish)
    arr = rgba_array(rgba)
    h, w = arr.shape[:2]
    area = None if clip is None else validate_quad(clip, (w, h))
    # a design placed in a print area may reach past it (offset, rotated): it is cut there
    quad = validate_quad(corners, (w, h), tolerance=1.0 if area is None else float("inf"))
    if design_rgba.width < 1 or design_rgba.height < 1:
        raise ImagingError("design image is empty")
    sub = _fit_quad(quad, design_rgba.size, valign)
    if area is not None:  # only the part of the design inside the print area is worked on
        quad = np.clip(quad, area.min(axis=0), area.max(axis=0))
    scale = float(max(w, h))
    pad = int(np.ceil(max(displacement, 0.0))) + 3 + _finish_pad(fin, scale)
    x0, y0 = (max(0, int(np.floor(v)) - pad) for v in quad.min(axis=0))
    x1, y1 = int(min(w, np.ceil(quad[:, 0].max()) + pad)), int(min(h, np.ceil(quad[:, 1].max()) + pad))
    design = design_rgba if design_rgba.mode == "RGBA" else design_rgba.convert("RGBA")
    warped = _warp_design(design, sub, (x0, y0, x1, y1))
    field = luminance_field(arr) if shading is None else np.asarray(shading, np.float32)
    if field.shape != (h, w):
        raise ImagingError(f"shading field shape {field.shape} does not match the image {w}x{h}")
    patch = arr[y0:y1, x0:x1]
    y_patch = field[y0:y1, x0:x1]
    inside = patch[..., 3] >= 128
    warped = _displace(warped, y_patch, inside, displacement, max(3.0, 0.008 * scale))
    a = warped[..., 3] * float(np.clip(opacity, 0, 1))
    ink, a = _finish_layer(_unpremultiply(warped), a, y_patch if blend == "shade" else None, inside, fin,
                           strength, scale, sep=max(2.0, 0.0025 * scale))
    a = (a * (patch[..., 3].astype(np.float32) / 255.0))[..., None]
    layer = DesignLayer((x0, y0, x1, y1), a.astype(np.float32),
                        ink if blend == "multiply" else _encode_srgb(ink).astype(np.float32), blend)
    return layer if area is None else clip_layer(layer, area)


def clip_layer(layer: DesignLayer, area: Sequence[Sequence[float]] | np.ndarray) -> DesignLayer:
    """`layer` with its coverage cut at the (convex) print area's edges: each pixel keeps the
    fraction of it inside the area (4 x 4 samples a pixel; pixel i spans [i, i + 1))."""
    cover = _polygon_coverage(np.asarray(area, dtype=np.float64), layer.box)
    return replace(layer, alpha=(layer.alpha * cover[..., None]).astype(np.float32))


def _polygon_coverage(quad: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Coverage of the convex polygon ``quad`` over the pixels of ``box``: the fraction of each
    pixel (pixel i spans [i, i + 1)) inside it, from 4 x 4 samples a pixel."""
    x0, y0, x1, y1 = box
    w, h = max(x1 - x0, 0), max(y1 - y0, 0)
    if not w or not h:
        return np.zeros((h, w), np.float32)
    k = 4
    q = np.asarray(quad, dtype=np.float64) - [x0, y0]
    xs = (np.arange(w * k) + 0.5) / k
    ys = (np.arange(h * k) + 0.5) / k
    (ax, ay), (bx, by) = q[1] - q[0], q[2] - q[1]
    winding = 1.0 if ax * by - ay * bx >= 0 else -1.0
    inside = np.ones((h * k, w * k), bool)
    for a, b in zip(q, np.roll(q, -1, axis=0), strict=True):
        inside &= ((b[0] - a[0]) * (ys[:, None] - a[1]) - (b[1] - a[1]) * (xs[None, :] - a[0])) * winding >= 0
    return inside.reshape(h, k, w, k).mean(axis=(1, 3), dtype=np.float32)


def apply_design(rgba: Image.Image, layer: DesignLayer) -> Image.Image:
    """Print a prepared design onto a (recoloured) photo of the same product."""
    arr = rgba_array(rgba)
    x0, y0, x1, y1 = layer.box
    patch = arr[y0:y1, x0:x1]
    ink = layer.ink
    if layer.blend == "multiply":
        ink = _encode_srgb(ink * srgb_to_linear(patch[..., :3]))
    a = layer.alpha
    base = patch[..., :3].astype(np.float32) / 255.0
    out = base * (1.0 - a) + ink * a
    changed = a[..., 0] > 0
    arr[y0:y1, x0:x1, :3][changed] = np.clip(np.rint(out[changed] * 255.0), 0, 255).astype(np.uint8)
    return Image.fromarray(arr, "RGBA")


def place_design(rgba: Image.Image, design_rgba: Image.Image, corners: Sequence[Sequence[float]], *,
                 shading: np.ndarray | None = None, displacement: float = 8.0,
                 blend: str = "shade", strength: float = 1.0, opacity: float = 1.0,
                 valign: str = "center", finish: str = "print",
                 clip: Sequence[Sequence[float]] | None = None) -> Image.Image:
    """Print ``design_rgba`` into the quad ``corners`` of the product photo ``rgba``.

    The design keeps its aspect ratio (contained and centred, or ``valign``
    top/bottom), is perspective-warped, displaced by up to ``displacement``
    px along the folds, shaded by the fabric's relative light (``blend``:
    ``"shade"`` default - works on dark fabric too; ``"multiply"`` - dye on
    light fabric; ``"normal"``) and clipped to the product's alpha.
    With "shade" the ink takes the folds (low-pass of the light) and the fine
    texture (high-pass) each at its own strength, ``strength`` scaling both;
    the ink keeps its own colour at the print area's median light.
    ``finish`` (:data:`FINISHES`): "print" (direct print), "screen" (plastisol:
    on top, less texture, a faint sheen), "soft" (water-based: more texture,
    a little of the fabric through it) or "embroidery" (threads, raised).
    ``shading`` is an optional luminance field (see :func:`luminance_field`);
    pass the *original* photo's when the product was recoloured.
    """
    layer = prepare_design(rgba, design_rgba, corners, shading=shading, displacement=displacement, blend=blend,
                           strength=strength, opacity=opacity, valign=valign, finish=finish, clip=clip)
    return apply_design(rgba, layer)
