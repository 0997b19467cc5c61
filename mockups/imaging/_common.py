"""Shared helpers for the Pillow/numpy compositor (internal).

Everything here is pure, deterministic and vectorised: float32 numpy arrays in,
float32 numpy arrays out. Blurs and morphology use cumulative sums, so their
cost does not depend on the radius.
"""

from __future__ import annotations

import re
from typing import overload

import numpy as np
from PIL import Image, ImageFilter

__all__ = [
    "ImagingError",
    "parse_hex",
    "rgba_array",
    "box_blur",
    "gaussian_blur",
    "dilate",
    "erode",
    "smoothstep",
    "bleed_colour",
    "border_mask",
    "median",
    "interp_increasing",
    "max_filter",
]


class ImagingError(Exception):
    """An image could not be read, validated or processed.

    The message describes what is wrong with the *image data or parameters*;
    callers prepend the file / variant name.
    """


_HEX_RE = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


def parse_hex(colour: str) -> tuple[int, int, int]:
    """Parse ``#RGB`` / ``#RRGGBB`` (``#`` optional) into an ``(r, g, b)`` tuple."""
    if not isinstance(colour, str):
        raise ImagingError(f"colour must be a hex string like '#1F2A44', got {colour!r}")
    match = _HEX_RE.match(colour.strip())
    if match is None:
        raise ImagingError(f"invalid hex colour {colour!r} (expected '#RRGGBB' or '#RGB')")
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def rgba_array(image: Image.Image) -> np.ndarray:
    """Return an ``(H, W, 4)`` uint8 copy of ``image`` (converted to RGBA if needed)."""
    if not isinstance(image, Image.Image):
        raise ImagingError(f"expected a PIL image, got {type(image).__name__}")
    if image.mode != "RGBA":
        image = image.convert("RGBA")
    return np.array(image, dtype=np.uint8)


def _window_sum(a: np.ndarray, radius: int, axis: int) -> np.ndarray:
    """Sum over a window of ``2*radius+1`` along ``axis`` (0 or 1), edges replicated."""
    if axis == 0:  # running sums along the contiguous axis are ~4x faster
        return np.ascontiguousarray(_window_sum(np.ascontiguousarray(a.swapaxes(0, 1)), radius, 1)
                                    .swapaxes(0, 1))
    n = a.shape[1]
    pad = [(0, 0)] * a.ndim
    pad[1] = (radius + 1, radius)
    csum = np.cumsum(np.pad(a, pad, mode="edge"), axis=1)
    return csum[:, 2 * radius + 1:2 * radius + 1 + n] - csum[:, :n]


def box_blur(a: np.ndarray, radius: int) -> np.ndarray:
    """Separable box blur (mean filter) of a 2-D or ``(H, W, C)`` float array.

    float32 running sums: the rounding error stays far below 0.01 of the
    value range for images up to several thousand pixels wide.
    """
    out = np.asarray(a, dtype=np.float32)
    radius = int(radius)
    if radius <= 0:
        return out
    for axis in (0, 1):
        out = _window_sum(out, radius, axis)
    return out * np.float32(1.0 / (2 * radius + 1) ** 2)


def median(values: np.ndarray) -> np.floating:
    """``np.median`` of a 1-D float array, bit for bit, about 3x faster on large arrays.

    The middle order statistics are found in a narrow bracket around the median of a strided
    sample (every 64th value): the values below the bracket are only counted, and the few inside
    it partitioned, where ``np.median`` partitions the whole array. A bracket that misses the
    middle (an unlucky sample, NaNs) falls back to ``np.median``. The two middle values (or the
    one) are then averaged by ``np.median`` itself, so even its rounding is the same.
    """
    v = np.asarray(values)
    n = v.size
    if v.ndim != 1 or n < 4096 or v.dtype.kind != "f":
        return np.median(v)
    lo_k, hi_k = (n - 1) // 2, n // 2
    sample = np.sort(v[::64])
    mid, reach = sample.size // 2, int(3 * np.sqrt(sample.size)) + 2
    a, b = sample[max(0, mid - reach)], sample[min(sample.size - 1, mid + reach)]
    below = int(np.count_nonzero(v < a))
    inside = v[(v >= a) & (v <= b)]
    if not (below <= lo_k and hi_k < below + inside.size) or np.isnan(b) or np.isnan(v).any():
        return np.median(v)
    kth = sorted({lo_k - below, hi_k - below})
    return np.median(np.partition(inside, kth)[kth])


def max_filter(a: np.ndarray, radius: int) -> np.ndarray:
    """The largest value in each (2 radius + 1)-square window, edges replicated: Pillow's
    `MaxFilter(2 radius + 1)`, value for value, as two one-dimensional passes (a maximum is exact
    whatever the order), 20-30x faster than Pillow's rank filter at 1024 px (uint8 or any ordered dtype)."""
    out = np.asarray(a)
    for axis in (0, 1):
        n = out.shape[axis]
        padded = np.pad(out, [(radius, radius) if ax == axis else (0, 0) for ax in range(out.ndim)], mode="edge")
        window = [padded[k:k + n] if axis == 0 else padded[:, k:k + n] for k in range(2 * radius + 1)]
        out = np.maximum.reduce(window)
    return out


def interp_increasing(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """``np.interp(x, xp, fp)`` bit for bit (float64), for ``xp`` spaced about evenly (a linspace).

    ``np.interp`` binary-searches ``xp`` for every ``x``; here each ``x``'s interval is computed
    from the spacing and corrected by a step where rounding put it in a neighbour, then the value
    is numpy's own formula (``slope[j] * (x - xp[j]) + fp[j]``, slopes precomputed as it does for
    long inputs), with ``fp[0]`` below ``xp[0]`` and ``fp[-1]`` from ``xp[-1]`` on. 2-3x faster
    on 10^5 values; anything unusual (NaN, short or unsorted ``xp``) is left to ``np.interp``.
    """
    xp = np.asarray(xp, dtype=np.float64)
    fp = np.asarray(fp, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    n = xp.shape[0]
    span = float(xp[-1] - xp[0]) if n else 0.0
    if x.ndim != 1 or n < 3 or fp.shape != xp.shape or not span > 0 or x.size < n or np.isnan(x).any() \
            or bool((xp[1:] < xp[:-1]).any()):
        return np.interp(x, xp, fp)
    with np.errstate(divide="ignore", invalid="ignore"):  # repeated xp: their slopes are never used
        slopes = (fp[1:] - fp[:-1]) / (xp[1:] - xp[:-1])
    guess = x - xp[0]
    guess *= (n - 1) / span
    np.clip(guess, 0, n - 2, out=guess)
    j = guess.astype(np.intp)
    for _ in range(4):  # xp[j] <= x < xp[j + 1], or j at an end
        at = xp[j]
        low, high = at > x, xp[j + 1] <= x
        if not (low_any := bool(low.any())) and not bool(high.any()):
            break
        if low_any:
            j -= low & (j > 0)
        j += high & (j < n - 2)
    else:
        return np.interp(x, xp, fp)  # xp far from evenly spaced (or not increasing)
    out = x - at
    out *= slopes[j]
    out += fp[j]
    below = x < xp[0]
    if below.any():
        out[below] = fp[0]
    above = x >= xp[-1]
    if above.any():
        out[above] = fp[-1]
    return out


def _small_gaussian(a: np.ndarray, sigma: float) -> np.ndarray:
    """Exact separable Gaussian for small sigma (kernel radius <= 3*sigma)."""
    radius = max(1, int(np.ceil(3.0 * sigma)))
    x = np.arange(-radius, radius + 1, dtype=np.float32)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    kernel /= kernel.sum()
    out = np.asarray(a, dtype=np.float32)
    for axis in (0, 1):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="edge")
        n = out.shape[axis]
        acc = np.zeros_like(out)
        for k, w in enumerate(kernel):
            acc += w * (padded[k:k + n] if axis == 0 else padded[:, k:k + n])
        out = acc
    return out


def _downsampled_gaussian(a: np.ndarray, sigma: float) -> np.ndarray:
    """Large-sigma blur: box-reduce by ``f``, exact blur, bilinear upsample."""
    f = max(2, int(sigma / 1.5))
    h, w = a.shape[:2]
    sh, sw = -(-h // f), -(-w // f)
    channels = a[..., None] if a.ndim == 2 else a
    padded = np.pad(channels, ((0, sh * f - h), (0, sw * f - w), (0, 0)), mode="edge")
    small = padded.reshape(sh, f, sw, f, -1).mean(axis=(1, 3), dtype=np.float32)
    small = _small_gaussian(small, np.sqrt(max(sigma * sigma - f * f / 12.0, 0.25)) / f)
    out = np.empty(channels.shape, dtype=np.float32)
    for c in range(channels.shape[2]):
        img = Image.fromarray(np.ascontiguousarray(small[..., c]), "F")
        big = img.resize((sw * f, sh * f), Image.Resampling.BILINEAR)
        out[..., c] = np.asarray(big, dtype=np.float32)[:h, :w]
    return out[..., 0] if a.ndim == 2 else out


def gaussian_blur(a: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a float array (2-D or ``(H, W, C)``), edges replicated.

    sigma < 3 uses an exact separable kernel; larger sigmas blur a
    box-reduced copy and upsample it (the result is smooth by construction,
    so the bilinear upsampling error is negligible), making the cost
    independent of sigma.
    """
    a = np.asarray(a, dtype=np.float32)
    if sigma <= 0.05:
        return a.copy()
    if sigma < 3.0:
        return _small_gaussian(a, sigma)
    return _downsampled_gaussian(a, sigma)


def _run_any(mask: np.ndarray, length: int, axis: int) -> np.ndarray:
    """``out[i] = any(mask[i : i + length])`` along ``axis`` (log-time doubling of shifts)."""
    out = mask.copy()
    width = 1
    while width < length:
        step = min(width, length - width)
        if axis == 0:
            out[:-step] |= out[step:]
        else:
            out[:, :-step] |= out[:, step:]
        width += step
    return out


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation of a boolean mask with a square of side ``2*radius+1``."""
    mask = np.asarray(mask, dtype=bool)
    radius = int(radius)
    if radius <= 0:
        return mask.copy()
    h, w = mask.shape
    padded = np.zeros((h + 2 * radius, w + 2 * radius), dtype=bool)
    padded[radius:radius + h, radius:radius + w] = mask
    rows = _run_any(padded, 2 * radius + 1, 0)[:h]
    return _run_any(rows, 2 * radius + 1, 1)[:, :w]


def erode(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary erosion of a boolean mask with a square of side ``2*radius+1``.

    Pixels beyond the image border count as set, so objects touching the
    border are not eroded from that side.
    """
    return ~dilate(~np.asarray(mask, dtype=bool), radius)


@overload
def smoothstep(x: float) -> float: ...
@overload
def smoothstep(x: np.ndarray) -> np.ndarray: ...


def smoothstep(x: np.ndarray | float) -> np.ndarray | float:
    """Cubic Hermite ramp of ``x`` clipped to [0, 1] (an array, or one number)."""
    t = np.clip(x, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def bleed_colour(rgb: np.ndarray, inside: np.ndarray, sigma: float,
                 at: tuple[np.ndarray, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Local mean colour of the ``inside`` pixels (normalised convolution).

    Returns ``(colour, weight)``: colour float32 ``(..., 3)`` in 0-255 and the
    blurred coverage weight in [0, 1] (colour is meaningless where it is ~0),
    for every pixel or only at the ``at`` indices (as from ``np.nonzero``).
    Uses Pillow's 8-bit Gaussian blur (plenty for colour estimates); sigmas
    from 2.5 px are blurred at half resolution.
    """
    rgb8 = rgb if rgb.dtype == np.uint8 else np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    flag = np.asarray(inside, dtype=bool).view(np.uint8)
    packed = np.empty(rgb8.shape[:2] + (4,), np.uint8)
    packed[..., :3] = rgb8 * flag[..., None]
    packed[..., 3] = flag * np.uint8(255)
    image = Image.fromarray(packed, "RGBA")
    if sigma >= 2.5 and min(image.size) >= 8:
        small = image.reduce(2).filter(ImageFilter.GaussianBlur(sigma / 2.0))
        image = small.resize(image.size, Image.Resampling.BILINEAR)
    else:
        image = image.filter(ImageFilter.GaussianBlur(sigma))
    blurred = np.asarray(image)
    if at is not None:
        blurred = blurred[at]
    blurred = blurred.astype(np.float32)
    weight = blurred[..., 3] * np.float32(1.0 / 255.0)
    colour = blurred[..., :3] * (np.float32(255.0) / np.maximum(blurred[..., 3], 1.0))[..., None]
    return np.minimum(colour, 255.0), weight


def border_mask(h: int, w: int, width: int) -> np.ndarray:
    """True on a frame of ``width`` px along the four image sides."""
    m = np.zeros((h, w), dtype=bool)
    m[:width], m[-width:], m[:, :width], m[:, -width:] = True, True, True, True
    return m
