"""Automatic cut-out of product photos shot on a plain light backdrop.

No scipy: connected components are labelled with a run-length union-find
written in vectorised numpy (:func:`label`), blurs/morphology come from
:mod:`._common`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from mockups.imaging._colour import lab_to_srgb, srgb_to_lab
from mockups.imaging._common import (
    ImagingError,
    bleed_colour,
    border_mask,
    box_blur,
    dilate,
    erode,
    gaussian_blur,
    rgba_array,
    smoothstep,
)

__all__ = ["has_alpha", "label", "estimate_backdrop", "auto_cutout", "CutoutDetails"]


def has_alpha(rgba: Image.Image, *, min_fraction: float = 0.005) -> bool:
    """True if the image carries a usable alpha channel.

    Usable means at least ``min_fraction`` of the pixels have alpha < 250; an
    RGBA file that is opaque everywhere (or nearly) does not count.
    """
    if rgba.mode not in ("RGBA", "LA", "PA", "RGBa", "La") and "transparency" not in rgba.info:
        return False
    alpha = rgba_array(rgba)[..., 3]
    return bool(np.count_nonzero(alpha < 250) >= max(1.0, min_fraction * alpha.size))


# ---------------------------------------------------------------------------
# Connected components
# ---------------------------------------------------------------------------


def _compress(parent: np.ndarray) -> np.ndarray:
    """Pointer jumping until every node points at its root."""
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return parent
        parent = grand


def _union(n_nodes: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Vectorised union-find: root (smallest member) of each node given edges a-b."""
    parent = np.arange(n_nodes, dtype=np.int64)
    while a.size:
        parent = _compress(parent)
        ra, rb = parent[a], parent[b]
        differ = ra != rb
        a, b, ra, rb = a[differ], b[differ], ra[differ], rb[differ]
        # Hook the larger root under the smaller one; conflicting writes just
        # leave work for the next round (parents always point downwards).
        parent[np.maximum(ra, rb)] = np.minimum(ra, rb)
    return _compress(parent)


def label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected component labelling of a boolean mask.

    Returns ``(labels, n)`` with ``labels`` int32 (0 where ``mask`` is False,
    1..n for the components, numbered in raster order of first appearance).
    """
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 2:
        raise ImagingError("label() expects a 2-D mask")
    start = m.copy()
    start[:, 1:] &= ~m[:, :-1]
    run_id = np.cumsum(start.ravel(), dtype=np.int64).reshape(m.shape)
    run_id[~m] = 0
    n_runs = int(run_id.max(initial=0))
    if n_runs == 0:
        return np.zeros(m.shape, np.int32), 0
    # Two vertically adjacent runs overlap iff, at the column where one of them
    # starts, both rows are set; checking run starts only keeps this small.
    cand = m[:-1] & m[1:] & (start[:-1] | start[1:])
    roots = _union(n_runs + 1, run_id[:-1][cand], run_id[1:][cand])
    uniq, compact = np.unique(roots, return_inverse=True)
    compact = compact.astype(np.int32)  # root 0 (background) -> 0, others 1..n
    return compact[run_id], int(uniq.size - 1)


# ---------------------------------------------------------------------------
# Backdrop model
# ---------------------------------------------------------------------------


def _design(ys: np.ndarray, xs: np.ndarray, h: int, w: int) -> np.ndarray:
    """Quadratic surface basis in normalised coordinates."""
    y = ys.astype(np.float32) / max(h - 1, 1) - 0.5
    x = xs.astype(np.float32) / max(w - 1, 1) - 0.5
    return np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=-1)


def _fit_backdrop(lab: np.ndarray, border: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Robust quadratic fit of the backdrop Lab over the image from its border.

    Returns (model Lab image, inlier distances used for the noise estimate).
    """
    h, w = border.shape
    ys, xs = np.nonzero(border)
    step = max(1, ys.size // 20000)
    ys, xs = ys[::step], xs[::step]
    samples = lab[ys, xs].astype(np.float64)
    basis = _design(ys, xs, h, w).astype(np.float64)
    centre = np.median(samples, axis=0)
    dist = np.linalg.norm(samples - centre, axis=1)
    keep = dist <= max(4.0, 3.0 * 1.4826 * np.median(np.abs(dist - np.median(dist))))
    coef = np.zeros((6, 3))
    coef[0] = centre
    for _ in range(2):
        if np.count_nonzero(keep) < 24:
            break
        coef, *_ = np.linalg.lstsq(basis[keep], samples[keep], rcond=None)
        dist = np.linalg.norm(samples - basis @ coef, axis=1)
        keep = dist <= max(3.0, 3.0 * 1.4826 * np.median(np.abs(dist[keep])))
    c = coef.astype(np.float32)
    y = (np.arange(h, dtype=np.float32) / max(h - 1, 1) - 0.5)[:, None, None]
    x = (np.arange(w, dtype=np.float32) / max(w - 1, 1) - 0.5)[None, :, None]
    model = c[0] + c[1] * x + c[2] * y + c[3] * x * x + c[4] * x * y + c[5] * y * y
    return model.astype(np.float32), dist[keep] if np.any(keep) else dist


def estimate_backdrop(rgba: Image.Image) -> tuple[int, int, int]:
    """Robust median sRGB colour of the image border (the studio backdrop)."""
    arr = rgba_array(rgba)[..., :3]
    h, w = arr.shape[:2]
    width = max(2, round(0.01 * min(h, w)))
    pixels = arr[border_mask(h, w, width)].astype(np.float32)
    centre = np.median(pixels, axis=0)
    dist = np.abs(pixels - centre).max(axis=1)
    inliers = pixels[dist <= max(12.0, np.percentile(dist, 60))]
    r, g, b = (int(v) for v in np.rint(np.median(inliers, axis=0)))
    return r, g, b


# ---------------------------------------------------------------------------
# Cut-out
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CutoutDetails:
    """Diagnostics of :func:`auto_cutout_details`."""

    alpha: np.ndarray
    confidence: float
    backdrop_rgb: tuple[int, int, int]
    edge_contrast: float  # median Lab distance just inside the object edge
    holes_cut: int
    thresholds: tuple[float, float]


def _component_stats(labels: np.ndarray, n: int, values: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-label (area, mean, std) of ``values`` for labels 0..n."""
    flat = labels.ravel()
    area = np.bincount(flat, minlength=n + 1).astype(np.float64)
    total = np.bincount(flat, weights=values.ravel(), minlength=n + 1)
    sq = np.bincount(flat, weights=values.ravel().astype(np.float64) ** 2, minlength=n + 1)
    mean = total / np.maximum(area, 1)
    std = np.sqrt(np.maximum(sq / np.maximum(area, 1) - mean * mean, 0.0))
    return area, mean, std


def _touching_border(labels: np.ndarray) -> np.ndarray:
    edge = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    return np.unique(edge[edge > 0])


def _reach_radius(outside: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """Per label: smallest tested radius at which the dilated ``outside`` touches it."""
    reach = np.full(n + 1, np.inf)
    for radius in (2, 4, 8, 16, 32, 64, 128):
        hit = np.unique(labels[dilate(outside, radius) & (labels > 0)])
        fresh = hit[np.isinf(reach[hit])]
        reach[fresh] = radius
        if np.isfinite(reach[1:]).all():
            break
    return reach


def _hole_candidates(labels: np.ndarray, n: int, core: np.ndarray, dist: np.ndarray,
                     limits: tuple[float, float, float]) -> np.ndarray:
    """Per-label verdict from colour statistics of the backdrop-coloured pixels."""
    match, spread, min_area = limits
    plain = np.where(core, 0, labels)  # shadowed parts do not count for the match
    area, mean, std = _component_stats(plain, n, dist)
    ok = (area >= min_area) & (mean <= match) & (std <= spread)
    ok[0] = False
    ok[_touching_border(labels)] = False
    if ok.any():
        ok &= _thick(plain, n, area)
    return ok


def _thick(labels: np.ndarray, n: int, area: np.ndarray) -> np.ndarray:
    """Per label: does >= 25 % survive an erosion by ~10 % of its extent?

    The extent is the geometric mean of the bounding box sides, so blobs (a
    handle's hole) survive while strokes of a print, hollow frames and thin
    slivers do not.
    """
    ys, xs = np.nonzero(labels)
    owner = labels[ys, xs]
    lo_y, hi_y = np.full(n + 1, labels.shape[0]), np.zeros(n + 1, np.int64)
    lo_x, hi_x = np.full(n + 1, labels.shape[1]), np.zeros(n + 1, np.int64)
    np.minimum.at(lo_y, owner, ys)
    np.maximum.at(hi_y, owner, ys)
    np.minimum.at(lo_x, owner, xs)
    np.maximum.at(hi_x, owner, xs)
    extent = np.sqrt(np.maximum(hi_y - lo_y + 1, 1) * np.maximum(hi_x - lo_x + 1, 1))
    target = np.maximum(2.0, 0.1 * extent)
    kept = np.zeros(n + 1)
    for radius in (2, 4, 8, 16, 32):
        counts = np.bincount(labels[erode(labels > 0, radius)], minlength=n + 1)
        use = radius <= target
        kept = np.where(use, counts, kept)
    return kept >= 0.25 * area


def _backdrop_holes(obj: np.ndarray, core: np.ndarray, soft: np.ndarray, dist: np.ndarray,
                    limits: tuple[float, float, float]) -> tuple[np.ndarray, int]:
    """Enclosed backdrop regions (e.g. inside a mug handle) to cut from ``obj``.

    Candidates are enclosed backdrop-coloured regions, extended by adjoining
    cast shadow (``soft``). The backdrop-coloured part must match closely
    (mean distance <= ``match``), be uniform (std <= ``spread``), large
    (>= ``min_area`` px) and thick (thin strokes of a white print vanish
    under erosion). The region must also sit close to the outside relative
    to its size (or show some cast shadow, which prints never do) and be
    framed by a clear edge: a handle is a thin, distinct ring around its
    hole, whereas a white print or a blown-out patch of a white garment
    lies deep inside or blends into the fabric around it.
    """
    labels, n = label(obj & (~core | soft))
    if n == 0:
        return np.zeros_like(obj), 0
    ok = _hole_candidates(labels, n, core, dist, limits)
    if ok.any():
        area = np.bincount(labels.ravel(), minlength=n + 1).astype(np.float64)
        chosen = np.where(ok[labels], labels, 0)
        shaded = area - np.bincount(np.where(core, 0, labels).ravel(), minlength=n + 1)
        near_outside = _reach_radius(~obj, chosen, n) <= np.maximum(4.0, 0.75 * np.sqrt(area))
        ok &= near_outside | (shaded >= 0.05 * area)  # prints cast no shadow; holes show some
        ring = dilate(chosen > 0, 3) & ~(chosen > 0) & obj
        frame = np.zeros(n + 1)
        owner = np.where(ring, _nearest_label(chosen, 3), 0)
        sums = np.bincount(owner.ravel(), weights=(dist * ring).ravel(), minlength=n + 1)
        counts = np.bincount(owner.ravel(), minlength=n + 1)
        frame[counts > 0] = sums[counts > 0] / counts[counts > 0]
        ok &= frame >= 3.0 * limits[0] + 4.0
    return ok[labels], int(np.count_nonzero(ok))


def _nearest_label(labels: np.ndarray, radius: int) -> np.ndarray:
    """Spread positive labels outwards by ``radius`` px (max label wins on overlaps)."""
    out = labels.copy()
    for _ in range(radius):
        grown = out.copy()
        grown[1:] = np.maximum(grown[1:], out[:-1])
        grown[:-1] = np.maximum(grown[:-1], out[1:])
        grown[:, 1:] = np.maximum(grown[:, 1:], out[:, :-1])
        grown[:, :-1] = np.maximum(grown[:, :-1], out[:, 1:])
        out = np.where(out > 0, out, grown)
    return out


def _shadow_like(lab: np.ndarray, model: np.ndarray, t_lo: float, max_gradient: float | None) -> np.ndarray:
    """Neutral, texture-free darkening of the backdrop: a cast shadow.

    Texture is the local mean of ``|L* - blur(L*)|``: below ~1 on a soft
    shadow, 5-10 on fabric. With ``max_gradient`` (for white/grey products,
    which look just like shadows) the luminance gradient must also stay
    below ``max_gradient`` L*/px and the darkening is limited to 45 L*.
    """
    delta = lab - model
    d_l = delta[..., 0]
    chroma = np.hypot(delta[..., 1], delta[..., 2])
    strict = max_gradient is not None
    shadow = (d_l < 0) & (d_l > (-45.0 if strict else -75.0)) & (chroma < np.maximum(2.5, 0.15 * -d_l))
    smooth_l = gaussian_blur(lab[..., 0], 1.0)
    texture = box_blur(np.abs(lab[..., 0] - smooth_l), 2)
    shadow &= texture < max(2.0, 1.5 * t_lo)
    if not strict:
        return shadow
    gy, gx = np.gradient(smooth_l)
    return shadow & (np.hypot(gx, gy) < max_gradient)


def _is_colourful(lab: np.ndarray, obj: np.ndarray) -> bool:
    """True if most of the product is chromatic or dark (so unlike a shadow)."""
    if not obj.any():
        return False
    px = lab[obj]
    distinct = (np.hypot(px[:, 1], px[:, 2]) > 12.0) | (px[:, 0] < 40.0)
    return bool(distinct.mean() > 0.5)


def _drop_shadows(obj: np.ndarray, core: np.ndarray, shadow: np.ndarray) -> np.ndarray:
    """Remove cast shadows reachable from the backdrop, unless that eats the product.

    If more than 35 % of the object would go, the "shadow" is really a
    white/grey product (white tee on white) and nothing is removed.
    """
    passable = ~core | (shadow & obj)
    labels, _ = label(passable)
    outside = np.isin(labels, _touching_border(labels))
    removed = obj & outside
    if np.count_nonzero(removed) > 0.35 * np.count_nonzero(obj):
        return obj
    return obj & ~outside


def _remove_specks(obj: np.ndarray, min_area: float) -> np.ndarray:
    labels, n = label(obj)
    if n <= 1:
        return obj
    area = np.bincount(labels.ravel(), minlength=n + 1)
    area[0] = 0
    keep = area >= max(min_area, 0.01 * area.max())
    keep[0] = False
    return keep[labels]


def _soft_alpha(obj: np.ndarray, rgb: np.ndarray, backdrop: np.ndarray, feather: float,
                shadow: np.ndarray | None = None) -> np.ndarray:
    """Anti-aliased alpha for the object mask.

    In a band around the edge alpha is estimated by projecting each pixel
    onto the line between the backdrop colour and the local foreground
    colour (bled in from the sure interior): JPEG ringing and backdrop-
    coloured specks get ~0, true anti-aliasing gets its fractional value.
    Where the product barely differs from the backdrop (white on white) the
    blurred binary mask is used instead.
    """
    inner = erode(obj, 3)
    band = dilate(obj, 2) & ~inner
    hard = gaussian_blur(obj.astype(np.float32), 0.5 * feather)
    idx = np.nonzero(band)
    fg, weight = bleed_colour(rgb, inner, 3.0, at=idx)
    fg_wide, weight_wide = bleed_colour(rgb, inner, 9.0, at=idx)
    fg_px = np.where((weight > 0.05)[:, None], fg, fg_wide)
    bd_px = backdrop[idx]
    span = fg_px - bd_px
    norm2 = np.sum(span * span, axis=-1)
    offset = rgb[idx].astype(np.float32) - bd_px
    est = np.sum(offset * span, axis=-1) / np.maximum(norm2, 1e-3)
    if shadow is not None:  # shadow pixels lie far off the backdrop-product line: not product
        residual = np.linalg.norm(offset - est[:, None] * span, axis=-1)
        est = np.where(shadow[idx] & (residual > 0.25 * np.sqrt(norm2)), 0.0, est)
    usable = (np.maximum(weight, weight_wide) > 0.004) & (norm2 > 30.0**2)
    est = np.where(usable, np.minimum(np.clip(est, 0.0, 1.0), dilate(obj, 1)[idx]), hard[idx])
    soft = np.zeros(obj.shape, np.float32)
    soft[idx] = est
    alpha = np.where(inner, 1.0, np.where(band, gaussian_blur(soft, 0.35 * feather), 0.0))
    return np.clip(np.rint(alpha * 255.0), 0, 255).astype(np.uint8)


def _confidence(obj: np.ndarray, dist: np.ndarray, thresholds: tuple[float, float]) -> tuple[float, float]:
    """Confidence in [0, 1] and the edge contrast it is based on.

    High when the product's edge stands out from the backdrop (median
    colour distance just inside the edge), lowered when the backdrop itself
    is not plain (a noisy/textured border is not a studio sweep), when the
    object is implausibly small/large or covers most of the border.
    """
    t_lo, t_hi = thresholds
    ring = erode(obj, 1) & ~erode(obj, 4)
    if not ring.any():
        return 0.0, 0.0
    contrast = float(np.median(dist[ring]))
    conf = float(smoothstep((contrast - t_hi) / 18.0)) * float(smoothstep((12.0 - t_lo) / 8.0))
    frac = obj.mean()
    if frac < 0.005 or frac > 0.97:
        conf *= 0.25
    edge = np.concatenate([obj[0], obj[-1], obj[:, 0], obj[:, -1]])
    if edge.mean() > 0.5:
        conf *= 0.5
    return conf, contrast


def auto_cutout_details(rgba: Image.Image, *, feather: float = 1.5) -> CutoutDetails:
    """Like :func:`auto_cutout` but returns diagnostics (backdrop colour, holes...)."""
    arr = rgba_array(rgba)
    h, w = arr.shape[:2]
    if h < 8 or w < 8:
        raise ImagingError(f"image too small for an automatic cut-out ({w}x{h})")
    lab = srgb_to_lab(arr[..., :3])
    border = border_mask(h, w, max(2, round(0.01 * min(h, w))))
    model, inlier = _fit_backdrop(lab, border)
    dist = np.linalg.norm(lab - model, axis=-1)
    noise = 1.4826 * float(np.median(np.abs(inlier - np.median(inlier)))) + float(np.median(inlier))
    t_lo = max(1.2, 3.0 * noise)
    t_hi = t_lo + max(3.0, 2.0 * noise)
    core = dist > 0.5 * (t_lo + t_hi)
    bg_labels, _ = label(~core)
    obj = ~np.isin(bg_labels, _touching_border(bg_labels))
    colourful = _is_colourful(lab, obj)
    shadow = _shadow_like(lab, model, t_lo, None if colourful else 3.0)
    obj = _remove_specks(_drop_shadows(obj, core, shadow), max(16.0, 2e-4 * h * w))
    holes, n_holes = _backdrop_holes(obj, core, _shadow_like(lab, model, t_lo, 6.0), dist,
                                     (max(t_lo * 0.75, 1.5), max(1.5 * noise, 1.0), max(25.0, 2e-4 * h * w)))
    obj &= ~holes
    conf, contrast = _confidence(obj, dist, (t_lo, t_hi))
    if not obj.any():
        return CutoutDetails(np.full((h, w), 255, np.uint8), 0.0, estimate_backdrop(rgba),
                             0.0, 0, (t_lo, t_hi))
    backdrop = lab_to_srgb(model) * 255.0
    alpha = _soft_alpha(obj, arr[..., :3], backdrop, feather, shadow if colourful else None)
    return CutoutDetails(alpha, conf,
                         estimate_backdrop(rgba), contrast, n_holes, (t_lo, t_hi))


def auto_cutout(rgba: Image.Image, *, feather: float = 1.5) -> tuple[np.ndarray, float]:
    """Cut a product out of a plain white/light backdrop.

    Returns ``(alpha, confidence)``: alpha is ``(H, W)`` uint8 with ~``feather``
    px anti-aliased edges; confidence in [0, 1] is low when the product's
    edge barely differs from the backdrop (white garment on white) and the
    caller should warn. Backdrop-coloured areas enclosed by the product stay
    opaque unless they are large, uniform and match the backdrop closely
    (e.g. the hole inside a mug handle).
    """
    details = auto_cutout_details(rgba, feather=feather)
    return details.alpha, details.confidence
