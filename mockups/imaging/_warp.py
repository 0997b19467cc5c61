"""Design placement: perspective warp into a print quad, fold displacement and
shading-aware blending onto the product."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from mockups.imaging._colour import _encode_srgb, luminance, srgb_to_linear
from mockups.imaging._common import ImagingError, gaussian_blur, rgba_array

__all__ = [
    "DesignLayer", "prepare_design", "apply_design",
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


def _shade_factor(y_patch: np.ndarray, inside: np.ndarray, strength: float) -> np.ndarray:
    """Relative light on the fabric, ~1 at the print area's median.

    A dark-level floor keeps the JPEG noise of black fabric from dominating,
    and the exponent < 1 softens it: on a black shirt a white print stays
    white, folds still show through.
    """
    base = gaussian_blur(y_patch, 0.8)
    med = float(np.median(base[inside])) if inside.any() else float(np.median(base))
    floor = 0.03
    ratio = (base + floor) / (med + floor)
    return np.clip(ratio, 0.2, 1.25) ** (0.75 * strength)


def _blend_ink(design: np.ndarray, product: np.ndarray, y_patch: np.ndarray, inside: np.ndarray,
               blend: str, strength: float) -> np.ndarray:
    """Ink colour (linear light) of a premultiplied design over the fabric."""
    alpha = design[..., 3:4]
    ink = np.where(alpha > 1e-6, design[..., :3] / np.maximum(alpha, 1e-6), 0.0)
    ink = srgb_to_linear(np.clip(ink, 0.0, 1.0).astype(np.float32))
    if blend == "multiply":
        return ink * srgb_to_linear(product[..., :3])
    if blend == "shade":
        return np.clip(ink * _shade_factor(y_patch, inside, strength)[..., None], 0.0, 1.0)
    return ink


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
                   valign: str = "center") -> DesignLayer:
    """Everything of `place_design` that does not depend on the garment's colour."""
    if blend not in _BLENDS:
        raise ImagingError(f"unknown blend {blend!r} (use one of {', '.join(_BLENDS)})")
    if valign not in ("center", "top", "bottom"):
        raise ImagingError(f"unknown valign {valign!r} (center, top or bottom)")
    arr = rgba_array(rgba)
    h, w = arr.shape[:2]
    quad = validate_quad(corners, (w, h))
    if design_rgba.width < 1 or design_rgba.height < 1:
        raise ImagingError("design image is empty")
    sub = _fit_quad(quad, design_rgba.size, valign)
    pad = int(np.ceil(max(displacement, 0.0))) + 3
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
    warped = _displace(warped, y_patch, inside, displacement, max(3.0, 0.008 * max(w, h)))
    ink = _blend_ink(warped, patch, y_patch, inside, "normal" if blend == "multiply" else blend, strength)
    a = warped[..., 3:4] * (patch[..., 3:4].astype(np.float32) / 255.0) * float(np.clip(opacity, 0, 1))
    return DesignLayer((x0, y0, x1, y1), a.astype(np.float32),
                       ink if blend == "multiply" else _encode_srgb(ink).astype(np.float32), blend)


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
                 valign: str = "center") -> Image.Image:
    """Print ``design_rgba`` into the quad ``corners`` of the product photo ``rgba``.

    The design keeps its aspect ratio (contained and centred, or ``valign``
    top/bottom), is perspective-warped, displaced by up to ``displacement``
    px along the folds, shaded by the fabric's relative light (``blend``:
    ``"shade"`` default - works on dark fabric too; ``"multiply"`` - dye on
    light fabric; ``"normal"``) and clipped to the product's alpha.
    ``shading`` is an optional luminance field (see :func:`luminance_field`);
    pass the *original* photo's when the product was recoloured.
    """
    layer = prepare_design(rgba, design_rgba, corners, shading=shading, displacement=displacement, blend=blend,
                           strength=strength, opacity=opacity, valign=valign)
    return apply_design(rgba, layer)
