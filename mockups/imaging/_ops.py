"""Small shared image operations for :mod:`segment` and :mod:`matting`.

Pure functions on numpy arrays (OpenCV for colour conversion, resizing,
box filters and connected components). Conventions: RGB images are
float32 ``(H, W, 3)`` in [0, 1] unless stated; masks are boolean ``(H, W)``;
Lab is CIE L*a*b* (D65) with L* in [0, 100].
"""

from __future__ import annotations

import cv2
import numpy as np

from mockups.imaging._common import border_mask

__all__ = [
    "as_rgb", "to_lab", "to_uint8", "scale_for", "resize", "box_mean", "guided_filter",
    "guided_upsample", "border_mask", "fit_backdrop", "disk", "smoothstep", "erode",
    "dilate", "fill_holes", "components_touching",
]


def as_rgb(rgb: np.ndarray) -> np.ndarray:
    """Validate an RGB(A) image and return it as float32 RGB in [0, 1].

    Accepts uint8, uint16 or float arrays of shape ``(H, W, 3)`` or
    ``(H, W, 4)`` (alpha is ignored); raises ``ValueError`` otherwise.
    """
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or min(arr.shape[:2]) < 8:
        raise ValueError(f"expected an (H, W, 3) RGB image of at least 8x8 px, got shape {arr.shape}")
    arr = arr[..., :3]
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0
    if np.issubdtype(arr.dtype, np.floating):
        return np.clip(arr.astype(np.float32), 0.0, 1.0)
    raise ValueError(f"unsupported image dtype {arr.dtype}")


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB float [0, 1] -> CIE Lab float32 (L* 0..100)."""
    return cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.float32), cv2.COLOR_RGB2Lab)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Float [0, 1] -> uint8 with rounding."""
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def scale_for(shape: tuple[int, ...], long_edge: int) -> float:
    """Down-scale factor (<= 1) bringing the longer side to ``long_edge``."""
    return min(1.0, float(long_edge) / max(shape[0], shape[1]))


def resize(arr: np.ndarray, size_hw: tuple[int, int], *, area: bool | None = None) -> np.ndarray:
    """Resize to ``(h, w)``: area averaging when shrinking, bilinear otherwise."""
    h, w = size_hw
    if arr.shape[:2] == (h, w):
        return arr.copy()
    shrink = h < arr.shape[0] if area is None else area
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    src = arr.astype(np.float32) if arr.dtype == bool else arr
    return cv2.resize(src, (w, h), interpolation=interp)


def box_mean(x: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window (reflected borders); float64 stays float64, else float32."""
    src: np.ndarray[tuple[int, ...], np.dtype[np.floating]] = np.ascontiguousarray(
        x, dtype=np.float64 if x.dtype == np.float64 else np.float32)
    if src.ndim == 3 and src.shape[2] > 4:  # OpenCV filters at most 4 channels at once
        return np.concatenate([box_mean(src[..., i:i + 4], r) for i in range(0, src.shape[2], 4)], axis=-1)
    return cv2.blur(src, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


def _inv3_sym(c: list[np.ndarray]) -> list[np.ndarray]:
    """Inverse of per-pixel symmetric positive-definite 3x3 matrices given as [xx, xy, xz, yy, yz, zz]."""
    xx, xy, xz, yy, yz, zz = c
    i_xx, i_xy, i_xz = yy * zz - yz * yz, xz * yz - xy * zz, xy * yz - xz * yy
    i_yy, i_yz, i_zz = xx * zz - xz * xz, xy * xz - xx * yz, xx * yy - xy * xy
    det = xx * i_xx + xy * i_xy + xz * i_xz
    tiny = np.finfo(np.asarray(det).dtype).tiny  # callers regularise (+eps on the diagonal): det > 0
    inv_det = 1.0 / np.maximum(det, tiny)
    return [v * inv_det for v in (i_xx, i_xy, i_xz, i_yy, i_yz, i_zz)]


def _guided_coeffs(guide: np.ndarray, src: np.ndarray, r: int, eps: float) -> np.ndarray:
    """Per-pixel linear coefficients (a_r, a_g, a_b, b) of the colour guided filter."""
    mean_i = box_mean(guide, r)
    mean_p = box_mean(src, r)
    cov_ip = box_mean(guide * src[..., None], r) - mean_i * mean_p[..., None]
    pairs = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
    prods = np.stack([guide[..., i] * guide[..., j] for i, j in pairs], axis=-1)
    var = box_mean(prods, r)
    cov = [var[..., k] - mean_i[..., i] * mean_i[..., j] + (eps if i == j else 0.0)
           for k, (i, j) in enumerate(pairs)]
    xx, xy, xz, yy, yz, zz = _inv3_sym(cov)
    cx, cy, cz = cov_ip[..., 0], cov_ip[..., 1], cov_ip[..., 2]
    a = np.stack([xx * cx + xy * cy + xz * cz, xy * cx + yy * cy + yz * cz,
                  xz * cx + yz * cy + zz * cz], axis=-1)
    b = mean_p - np.sum(a * mean_i, axis=-1)
    return box_mean(np.concatenate([a, b[..., None]], axis=-1), r)


def guided_filter(guide: np.ndarray, src: np.ndarray, r: int, eps: float) -> np.ndarray:
    """Colour guided filter (He et al.): edge-aware smoothing of ``src`` along ``guide``."""
    coef = _guided_coeffs(guide.astype(np.float32), src.astype(np.float32), r, eps)
    return np.sum(coef[..., :3] * guide, axis=-1) + coef[..., 3]


def guided_upsample(guide_full: np.ndarray, src_small: np.ndarray, r_small: int, eps: float) -> np.ndarray:
    """Fast guided filter: coefficients at the small size, applied to the full-size guide."""
    h, w = src_small.shape
    guide_small = resize(guide_full, (h, w))
    coef = _guided_coeffs(guide_small, src_small.astype(np.float32), r_small, eps)
    coef = resize(coef, guide_full.shape[:2], area=False)
    return np.sum(coef[..., :3] * guide_full, axis=-1) + coef[..., 3]


def _basis(ys: np.ndarray, xs: np.ndarray, h: int, w: int) -> np.ndarray:
    y = ys.astype(np.float64) / max(h - 1, 1) - 0.5
    x = xs.astype(np.float64) / max(w - 1, 1) - 0.5
    return np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=-1)


def fit_backdrop(lab: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Robust quadratic surface fit of the Lab colour seen under ``mask``.

    Returns ``(model, residual, noise)``: the fitted Lab image, the Lab
    distance of every masked pixel to it (in ``np.nonzero(mask)`` order)
    and a robust noise level (median + 1.48 MAD of the inlier residuals).
    """
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    samples = lab[ys, xs].astype(np.float64)
    basis = _basis(ys, xs, h, w)
    coef = np.zeros((6, 3))
    coef[0] = np.median(samples, axis=0)
    dist = np.linalg.norm(samples - coef[0], axis=1)
    keep = dist <= max(4.0, 3.0 * 1.4826 * float(np.median(np.abs(dist - np.median(dist)))))
    for _ in range(3):
        if np.count_nonzero(keep) < 24:
            break
        coef, *_ = np.linalg.lstsq(basis[keep], samples[keep], rcond=None)
        dist = np.linalg.norm(samples - basis @ coef, axis=1)
        keep = dist <= max(2.0, 3.0 * 1.4826 * float(np.median(dist[keep])))
    gy, gx = np.mgrid[0:h, 0:w]
    model = (_basis(gy.ravel(), gx.ravel(), h, w) @ coef).reshape(h, w, 3).astype(np.float32)
    inl = dist[keep] if np.any(keep) else dist
    noise = float(np.median(inl) + 1.4826 * np.median(np.abs(inl - np.median(inl))))
    return model, dist.astype(np.float32), noise


def disk(r: int) -> np.ndarray:
    """Elliptical structuring element of radius ``r``."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def erode(mask: np.ndarray, r: int) -> np.ndarray:
    """Binary erosion by a disk (outside the image counts as set)."""
    if r <= 0:
        return mask.copy()
    out = cv2.erode(mask.astype(np.uint8), disk(r), borderType=cv2.BORDER_REPLICATE)
    return out.astype(bool)


def dilate(mask: np.ndarray, r: int) -> np.ndarray:
    """Binary dilation by a disk."""
    if r <= 0:
        return mask.copy()
    return cv2.dilate(mask.astype(np.uint8), disk(r), borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)


def smoothstep(x: np.ndarray | float, lo: float, hi: float) -> np.ndarray | float:
    """0 below ``lo``, 1 above ``hi`` (``lo > hi`` flips it), smooth in between."""
    t = np.clip((np.asarray(x, dtype=np.float64) - lo) / (hi - lo), 0.0, 1.0)
    out = t * t * (3.0 - 2.0 * t)
    return float(out) if np.ndim(out) == 0 else out


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` plus every region of ~mask not 4-connected to the image border."""
    n, labels = cv2.connectedComponents((~mask).astype(np.uint8), connectivity=4)
    edge = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    outside = np.zeros(n, dtype=bool)
    outside[np.unique(edge)] = True
    outside[0] = False  # label 0 is ``mask`` itself
    return ~outside[labels]


def components_touching(mask: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The 8-connected components of ``mask`` that contain at least one ``seeds`` pixel."""
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    hit = np.zeros(n, dtype=bool)
    hit[np.unique(labels[seeds & mask])] = True
    hit[0] = False
    return hit[labels]
