"""Colour science for the compositor: sRGB <-> CIE Lab (D65), CIEDE2000 and
shading-preserving recolouring of a product's dyeable area."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from mockups.imaging._common import ImagingError, dilate, parse_hex, rgba_array

__all__ = [
    "srgb_to_lab",
    "lab_to_srgb",
    "hex_to_lab",
    "ciede2000",
    "luminance",
    "RecolourPrep",
    "estimate_dye_mask",
    "prepare_recolour",
    "recolour",
]

# sRGB (IEC 61966-2-1) primaries, D65 white; white maps exactly to Lab (100, 0, 0).
_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ],
    dtype=np.float64,
)
_WHITE = _RGB_TO_XYZ.sum(axis=1)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
_EPS = (6.0 / 29.0) ** 3
_KAPPA = 3.0 * (6.0 / 29.0) ** 2


def _decode_srgb(c: np.ndarray) -> np.ndarray:
    """sRGB-encoded [0, 1] values to linear light."""
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _encode_srgb(c: np.ndarray) -> np.ndarray:
    """Linear light to sRGB-encoded [0, 1] values (clipped to the gamut)."""
    c = np.clip(c, 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1.0 / 2.4) - 0.055)


_LINEAR_LUT = _decode_srgb(np.arange(256, dtype=np.float64) / 255.0)
_ENCODE_LUT = np.rint(_encode_srgb((np.arange(65536, dtype=np.float64) + 0.5) / 65536.0) * 255.0).astype(np.uint8)


def linear_to_srgb8(lin: np.ndarray) -> np.ndarray:
    """Linear light (0-1, clipped) to 8-bit sRGB through a 16-bit lookup table (fast)."""
    idx = np.minimum(np.maximum(lin, 0.0) * 65536.0, 65535.0).astype(np.uint16)
    return _ENCODE_LUT[idx]


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    """uint8 (0-255) or float (0-1) sRGB values to linear light (float32 or float64)."""
    rgb = np.asarray(rgb)
    if rgb.dtype == np.uint8:
        return _LINEAR_LUT.astype(np.float32)[rgb]
    dtype = np.float64 if rgb.dtype == np.float64 else np.float32
    return _decode_srgb(rgb.astype(dtype))


def _f(t: np.ndarray) -> np.ndarray:
    return np.where(t > _EPS, np.cbrt(t), t / _KAPPA + 4.0 / 29.0)


def _finv(t: np.ndarray) -> np.ndarray:
    return np.where(t > 6.0 / 29.0, t * t * t, _KAPPA * (t - 4.0 / 29.0))


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """Convert sRGB to CIE L*a*b* (D65).

    ``rgb`` is an ``(..., 3)`` array, either uint8 0-255 or float 0-1. The
    result is float32 (float64 if the input is float64).
    """
    lin = srgb_to_linear(rgb)
    dtype = lin.dtype
    xyz = lin @ (_RGB_TO_XYZ / _WHITE[:, None]).T.astype(dtype)
    f = _f(xyz)
    lab = np.empty_like(f)
    lab[..., 0] = 116.0 * f[..., 1] - 16.0
    lab[..., 1] = 500.0 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200.0 * (f[..., 1] - f[..., 2])
    return lab


def lab_to_linear(lab: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (D65) to linear-light sRGB (unclipped)."""
    lab = np.asarray(lab)
    dtype = np.float64 if lab.dtype == np.float64 else np.float32
    lab = lab.astype(dtype, copy=False)
    fy = (lab[..., 0] + 16.0) / 116.0
    f = np.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], axis=-1)
    xyz = _finv(f) * _WHITE.astype(dtype)
    return xyz @ _XYZ_TO_RGB.T.astype(dtype)


def lab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """Convert CIE L*a*b* (D65) to sRGB floats in [0, 1] (out-of-gamut values clipped)."""
    return _encode_srgb(lab_to_linear(lab))


def hex_to_lab(colour: str) -> np.ndarray:
    """Lab (float64) of a ``#RRGGBB`` colour."""
    return srgb_to_lab(np.array(parse_hex(colour), dtype=np.uint8)).astype(np.float64)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Relative luminance Y (linear light, 0-1) of uint8/float sRGB pixels."""
    lin = srgb_to_linear(rgb)
    return lin @ _RGB_TO_XYZ[1].astype(lin.dtype)


def ciede2000(lab1: np.ndarray, lab2: np.ndarray, *, kl: float = 1.0,
              kc: float = 1.0, kh: float = 1.0) -> np.ndarray:
    """CIEDE2000 colour difference (Sharma, Wu & Dalal 2005), vectorised.

    ``lab1`` and ``lab2`` are broadcastable ``(..., 3)`` arrays; returns ``(...)``.
    """
    lab1 = np.asarray(lab1, dtype=np.float64)
    lab2 = np.asarray(lab2, dtype=np.float64)
    l1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    l2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]
    c_bar = 0.5 * (np.hypot(a1, b1) + np.hypot(a2, b2))
    c7 = c_bar**7
    g = 0.5 * (1.0 - np.sqrt(c7 / (c7 + 25.0**7)))
    a1p, a2p = (1.0 + g) * a1, (1.0 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360.0
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360.0
    h1p = np.where(c1p == 0, 0.0, h1p)
    h2p = np.where(c2p == 0, 0.0, h2p)
    zero = (c1p * c2p) == 0
    dh = h2p - h1p
    dh = np.where(dh > 180.0, dh - 360.0, np.where(dh < -180.0, dh + 360.0, dh))
    dh = np.where(zero, 0.0, dh)
    d_l, d_c = l2 - l1, c2p - c1p
    d_h = 2.0 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2.0)
    l_bar, cp_bar = 0.5 * (l1 + l2), 0.5 * (c1p + c2p)
    h_sum = h1p + h2p
    h_bar = np.where(np.abs(h1p - h2p) <= 180.0, h_sum / 2.0,
                     np.where(h_sum < 360.0, (h_sum + 360.0) / 2.0, (h_sum - 360.0) / 2.0))
    h_bar = np.where(zero, h_sum, h_bar)
    t = (1.0 - 0.17 * np.cos(np.radians(h_bar - 30.0)) + 0.24 * np.cos(np.radians(2.0 * h_bar))
         + 0.32 * np.cos(np.radians(3.0 * h_bar + 6.0)) - 0.20 * np.cos(np.radians(4.0 * h_bar - 63.0)))
    d_theta = 30.0 * np.exp(-(((h_bar - 275.0) / 25.0) ** 2))
    cp7 = cp_bar**7
    r_c = 2.0 * np.sqrt(cp7 / (cp7 + 25.0**7))
    s_l = 1.0 + 0.015 * (l_bar - 50.0) ** 2 / np.sqrt(20.0 + (l_bar - 50.0) ** 2)
    s_c = 1.0 + 0.045 * cp_bar
    s_h = 1.0 + 0.015 * cp_bar * t
    r_t = -np.sin(np.radians(2.0 * d_theta)) * r_c
    tl, tc, th = d_l / (kl * s_l), d_c / (kc * s_c), d_h / (kh * s_h)
    return np.sqrt(tl * tl + tc * tc + th * th + r_t * tc * th)


# ---------------------------------------------------------------------------
# Recolouring
# ---------------------------------------------------------------------------

#: Minimum L* amplitude per unit of log-luminance shading. Physically a fold
#: that halves the light changes L* by ~(L*+16)/3 * ln 2, which makes dark dyes
#: look flat; photographed black fabric shows folds through sheen, so the
#: amplitude never drops below this floor.
_MIN_AMPLITUDE = 30.0
_L_FLOOR = 1.0
_DARK_SOURCE_L = 35.0
_L_CEIL = 99.6


@dataclass(frozen=True)
class RecolourPrep:
    """Per-product precomputation for :func:`recolour`.

    ``shading`` holds, for every dyeable pixel inside ``box``, the
    log-luminance ratio ``3 * ln((L* + 16) / (L*_median + 16))`` i.e. the
    natural log of the pixel's luminance relative to the median of the
    dyeable area (0 = mid-tone, negative = folds/shadows, positive = highlights).
    """

    size: tuple[int, int]
    box: tuple[int, int, int, int]  # y0, y1, x0, x1
    select: np.ndarray  # bool (y1-y0, x1-x0): pixels with mask > 0
    weight: np.ndarray  # float32 mask value of the selected pixels (0, 1]
    shading: np.ndarray  # float32 per selected pixel
    median_l: float
    percentiles: tuple[float, float, float, float, float]  # L* p5, p25, p50, p75, p95
    levels: np.ndarray | None = None  # float32 (LUT_SIZE,): the shading values a LUT is computed at
    index: np.ndarray | None = None  # uint16 per selected pixel: its nearest level


def _mask_array(mask: np.ndarray | Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Normalise a mask (bool, uint8 0-255, float 0-1 or PIL 'L') to float32 [0, 1]."""
    if isinstance(mask, Image.Image):
        mask = np.asarray(mask.convert("L"))
    mask = np.asarray(mask)
    if mask.shape != (size[1], size[0]):
        raise ImagingError(f"mask shape {mask.shape} does not match image size {size[0]}x{size[1]}")
    if mask.dtype == bool:
        return mask.astype(np.float32)
    if mask.dtype == np.uint8:
        return mask.astype(np.float32) / 255.0
    return np.clip(mask.astype(np.float32), 0.0, 1.0)


def _highlight_of(lab: np.ndarray, ref: np.ndarray, ref_c: float) -> np.ndarray:
    """Weight of pixels that look like a specular highlight on the reference dye."""
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    hue_gap = np.abs(np.angle(np.exp(1j * (np.arctan2(lab[..., 2], lab[..., 1])
                                            - np.arctan2(ref[2], ref[1])))))
    hue_ok = np.clip(1.5 - np.degrees(hue_gap) / 30.0, 0.0, 1.0)
    tinted = np.clip((chroma - 6.0) / 6.0, 0.0, 1.0) * (chroma < ref_c * 1.1)
    return (hue_ok * tinted * (lab[..., 0] > ref[0])).astype(np.float32)


def estimate_dye_mask(rgba: Image.Image, *, tolerance: float = 14.0) -> np.ndarray:
    """Soft mask (uint8) of the product's dominant material, excluding prints/trims.

    Colours are compared shading-invariantly: a shadow scales L*+16, a* and
    b* together, so chromaticity ``(a*, b*) / (L* + 16)`` is compared (in
    units of the reference's chroma scale) and lightness only loosely, as a
    log-luminance ratio (a fold halving the light counts ~5, a black print on
    a white shirt ~30; on light fabric brighter-than-median pixels count up
    to 2.5x, as its highlights are mild while light prints are not). A
    pixel within ``tolerance`` of the opaque product's median belongs;
    prints, labels, differently coloured parts (a cap's brim, a hood's
    lining) and specular highlights on glossy colours are excluded. The
    result is multiplied by alpha.
    """
    arr = rgba_array(rgba)
    alpha = arr[..., 3]
    solid = alpha >= 128
    if not solid.any():
        raise ImagingError("product has no opaque pixels to recolour")
    lab = srgb_to_lab(arr[..., :3])
    ref = np.median(lab[solid], axis=0)
    lightness = np.maximum(lab[..., 0], 0.0)
    scale = (ref[0] + 16.0) / (lightness + 16.0)
    floor = 16.0 + max(0.0, _DARK_SOURCE_L - float(ref[0]))
    light_ratio = 3.0 * np.log((lightness + floor) / (ref[0] + floor))  # ln of the luminance ratio
    # Brighter than the median counts more on light/mid fabric: its highlights are
    # mild while light prints are not. Dark fabric (knit, sheen) keeps the weight.
    bright = 7.0 + 11.0 * float(np.clip((ref[0] - 30.0) / 30.0, 0.0, 1.0))
    light_ratio = np.where(light_ratio > 0, bright * light_ratio, -7.0 * light_ratio)
    dist = np.sqrt(light_ratio ** 2 + (lab[..., 1] * scale - ref[1]) ** 2
                   + (lab[..., 2] * scale - ref[2]) ** 2)
    # Saturated dyes vary more (and clip in the camera), so widen the tolerance.
    ref_c = float(np.hypot(ref[1], ref[2]))
    keep = np.clip(1.5 - dist / max(tolerance, 0.35 * ref_c), 0.0, 1.0)
    if ref_c >= 15.0:  # glossy highlights: the dye's hue, lighter and less saturated
        keep = np.maximum(keep, _highlight_of(lab, ref, ref_c))
    # Take in the 1 px anti-aliased rim of prints: recoloured through the
    # shading map it becomes a clean transition instead of an old-colour outline.
    rim = dilate(keep >= 0.5, 1) & (keep < 0.5)
    keep = np.where(rim, 1.0, keep)
    return np.clip(np.rint(keep * alpha), 0, 255).astype(np.uint8)


def prepare_recolour(rgba: Image.Image, dye_mask: np.ndarray | Image.Image) -> RecolourPrep:
    """Precompute the shading field of the dyeable area of a product photo.

    ``dye_mask`` marks the fabric/material to recolour (soft edges allowed);
    prints, labels and the background should be excluded by the caller.
    """
    arr = rgba_array(rgba)
    mask = _mask_array(dye_mask, rgba.size)
    ys, xs = np.nonzero(mask > 0)
    if ys.size == 0:
        raise ImagingError("dye mask is empty: nothing to recolour")
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    crop_mask = mask[y0:y1, x0:x1]
    select = crop_mask > 0
    lab = srgb_to_lab(arr[y0:y1, x0:x1, :3][select])
    weight = crop_mask[select]
    solid = (weight >= 0.5) & (arr[y0:y1, x0:x1, 3][select] >= 128)
    ref = lab[solid, 0] if np.count_nonzero(solid) >= 16 else lab[:, 0]
    pct = np.percentile(ref, [5, 25, 50, 75, 95]).astype(float)
    median_l = float(pct[2])
    # Near black, luminance ratios explode (JPEG noise, gloss reflections); a
    # floor makes dark sources behave additively instead of multiplicatively.
    floor = 16.0 + max(0.0, _DARK_SOURCE_L - median_l)
    shading = (3.0 * np.log((np.maximum(lab[:, 0], 0.0) + floor) / (median_l + floor))).astype(np.float32)
    levels, index = _quantise(shading)
    p5, p25, p50, p75, p95 = (float(p) for p in pct)
    return RecolourPrep(
        size=rgba.size, box=(y0, y1, x0, x1), select=select, weight=weight.astype(np.float32),
        shading=shading, median_l=median_l,
        percentiles=(p5, p25, p50, p75, p95),
        levels=levels, index=index,
    )


LUT_SIZE = 4096


def _quantise(shading: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Levels spanning the shading range and each pixel's nearest level.

    A colour's result depends on a pixel's shading alone, so `recolour` computes it for the
    levels (a few thousand) instead of every pixel (a million): steps of < 0.002 in
    log-luminance, far below what 8-bit output can show."""
    lo, hi = float(shading.min()), float(shading.max())
    span = max(hi - lo, 1e-6)
    levels = (lo + np.arange(LUT_SIZE, dtype=np.float64) * (span / (LUT_SIZE - 1))).astype(np.float32)
    index = np.rint((shading - lo) * ((LUT_SIZE - 1) / span)).astype(np.uint16)
    return levels, index


def _soft_limit(target_l: float, offset: np.ndarray) -> np.ndarray:
    """Add ``offset`` to ``target_l`` compressing smoothly into [_L_FLOOR, _L_CEIL].

    Slope 1 at the mid-tone, so small shading/texture is reproduced exactly;
    deep shadows and highlights approach the limits asymptotically (tanh)
    instead of clipping flat.
    """
    down = max(target_l - _L_FLOOR, 0.5)
    up = max(_L_CEIL - target_l, 0.5)
    return np.where(offset < 0, target_l - down * np.tanh(-offset / down),
                    target_l + up * np.tanh(offset / up)).astype(np.float32)


def shade_lab(target: np.ndarray, shading: np.ndarray, *, gain: float = 1.0) -> np.ndarray:
    """Lab of a dye ``target`` (L, a, b) lit by a log-luminance ``shading`` field."""
    lt, at, bt = (float(v) for v in target)
    amplitude = max((lt + 16.0) / 3.0, _MIN_AMPLITUDE) * gain
    l_out = _soft_limit(lt, amplitude * shading)
    # Chroma follows the light like a physical multiply in shadows ((L+16) scales
    # with a*, b*); in highlights sheen desaturates towards white.
    ratio = (l_out + 16.0) / (lt + 16.0)
    chroma = np.where(ratio < 1.0, ratio,
                      np.clip((100.0 - l_out) / max(100.0 - lt, 1e-3), 0.0, 1.0))
    out = np.empty((shading.shape[0], 3), dtype=np.float32)
    out[:, 0] = l_out
    out[:, 1] = at * chroma
    out[:, 2] = bt * chroma
    return out


def recolour(prep: RecolourPrep, rgba: Image.Image, target_hex: str, *,
             gain: float = 1.0) -> Image.Image:
    """Dye the prepared area of ``rgba`` to ``target_hex`` keeping folds and texture.

    The median (mid-tone) of the dyeable area renders as the target colour;
    shading is re-applied in L* with a soft-limited amplitude. Pixels outside
    the mask are returned bit-identical; the mask's soft edge blends.
    """
    if rgba.size != prep.size:
        raise ImagingError(f"image size {rgba.size} does not match the prepared size {prep.size}")
    target = hex_to_lab(target_hex)
    arr = rgba_array(rgba)
    y0, y1, x0, x1 = prep.box
    if prep.levels is not None:
        rgb = linear_to_srgb8(lab_to_linear(shade_lab(target, prep.levels, gain=gain)))[prep.index]
    else:
        rgb = linear_to_srgb8(lab_to_linear(shade_lab(target, prep.shading, gain=gain)))
    crop = arr[y0:y1, x0:x1, :3]
    soft = prep.weight < 1.0
    if soft.any():  # blend the mask's soft edge with the original (where the weight is 1 that is the dye itself)
        src = crop[prep.select][soft].astype(np.float32)
        w = prep.weight[soft][:, None]
        rgb[soft] = np.clip(np.rint(src + (rgb[soft] - src) * w), 0, 255).astype(np.uint8)
    crop[prep.select] = rgb
    return Image.fromarray(arr, "RGBA")
