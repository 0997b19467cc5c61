"""Soft cut-out of a product photographed on a plain backdrop.

:func:`matte_cutout` turns a photo of a product on a plain (usually light)
backdrop into a soft alpha matte and decontaminated foreground colours:

1. the backdrop colour is fitted as a smooth surface to the image border
   (or taken from ``backdrop_rgb``) at a working size;
2. the object is what the backdrop cannot reach from the border: flooding
   passes backdrop-coloured pixels and cast shadows (darker, neutral,
   texture-free versions of the backdrop), so shadows are left out;
3. enclosed backdrop regions (inside a tote's handle loops, under an arm)
   are cut when they match the backdrop, are thick, sit near the outside
   and are framed by a clear edge (a white print or a blown-out patch of
   a white garment is not);
4. a thin unknown band around that outline at full size is solved with
   the closed-form matting energy (:func:`_solver.solve_alpha`), and the
   foreground colour is estimated so that no fringe of the old backdrop
   shows on a new background (:func:`_solver.estimate_foreground`).

A confidence in [0, 1] and a reason string come with the result: a light
product on a light backdrop whose outline barely stands out gets a low
confidence and a reason telling the user to provide a mask.

No numba, scipy or model weights: numpy and OpenCV only; deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import cv2
import numpy as np

from mockups.imaging._ops import (
    as_rgb,
    border_mask,
    box_mean,
    dilate,
    erode,
    fit_backdrop,
    resize,
    scale_for,
    smoothstep,
    to_lab,
    to_uint8,
)
from mockups.imaging._solver import estimate_foreground, solve_alpha

__all__ = ["MatteDetails", "matte_cutout", "trimap_from_mask"]


class MatteDetails(TypedDict):
    """Diagnostics of :func:`matte_cutout` (plain values, JSON-serialisable)."""

    backdrop_rgb: tuple[int, int, int]  # backdrop colour at the image centre
    noise: float  # robust Lab noise of the backdrop around its fit
    thresholds: tuple[float, float]  # Lab distances: below the first = backdrop, above the second = object
    holes_cut: int  # enclosed backdrop regions made transparent
    shadow_removed: float  # cast-shadow area left out, as a fraction of the object area
    shadows_kept: bool  # shadow removal was refused because it would eat the product
    edge_contrast: float  # median Lab distance to the backdrop just inside the outline
    weak_edge: float  # fraction of the outline that barely differs from the backdrop
    light_on_light: bool  # a light, neutral product on a light backdrop
    reason: str  # empty when confident, else what went wrong and what to do


@dataclass(frozen=True)
class _Backdrop:
    model: np.ndarray  # Lab image at the working size
    chromaticity: np.ndarray  # linear-RGB chromaticity (r, g, b) / (r + g + b) of the model
    noise: float
    t_lo: float
    t_hi: float
    chroma_tol: float  # chromaticity distance below which a darker pixel can be a shadow

    @property
    def t_mid(self) -> float:
        return 0.5 * (self.t_lo + self.t_hi)


def _chromaticity(rgb: np.ndarray) -> np.ndarray:
    """Linear-RGB chromaticity: a shadow keeps the backdrop's, whatever the backdrop's colour."""
    lin = cv2.pow(np.ascontiguousarray(rgb, dtype=np.float32), 2.2)  # gamma 2.2: close enough for a ratio
    total = lin[..., 0] + lin[..., 1] + lin[..., 2]
    return lin / np.maximum(total, 1e-4)[..., None]


def _backdrop(lab: np.ndarray, rgb: np.ndarray, backdrop_rgb: tuple[int, int, int] | None) -> _Backdrop:
    """Backdrop model from the border (robust quadratic) or from a given colour."""
    h, w = lab.shape[:2]
    frame = border_mask(h, w, max(2, round(0.01 * min(h, w))))
    if backdrop_rgb is None:
        model, _, noise = fit_backdrop(lab, frame)
    else:
        given = np.asarray(backdrop_rgb, dtype=np.float32).reshape(1, 1, 3) / 255.0
        model = np.broadcast_to(to_lab(given), lab.shape).astype(np.float32)
        d = np.linalg.norm(lab[frame] - model[frame], axis=-1)
        noise = float(np.median(d[d <= np.percentile(d, 60)]))
    chroma = _chromaticity(np.clip(cv2.cvtColor(model, cv2.COLOR_Lab2RGB), 0.0, 1.0))
    spread = np.linalg.norm(_chromaticity(rgb)[frame] - chroma[frame], axis=-1)
    t_lo = max(1.0, 3.0 * noise)
    return _Backdrop(model, chroma, noise, t_lo, t_lo + max(3.0, 2.0 * noise),
                     0.01 + 3.0 * float(np.median(spread)))


def _texture(l_chan: np.ndarray) -> np.ndarray:
    """Local mean of |L - blur(L)|, then a 5x5 minimum: ~0 on smooth shadows and ramps, high on fabric.

    The minimum keeps a single crisp edge (a dark product against its own
    shadow) from making the smooth shadow pixels next to it look textured.
    """
    rough = box_mean(np.abs(l_chan - cv2.GaussianBlur(l_chan, (0, 0), 1.0)), 1)
    return cv2.erode(rough, np.ones((5, 5), np.uint8), borderType=cv2.BORDER_REPLICATE)


def _shadow_colour(lab: np.ndarray, rgb: np.ndarray, bd: _Backdrop) -> np.ndarray:
    """Darker than the backdrop with the backdrop's chromaticity (colour-wise a cast shadow)."""
    same_hue = np.linalg.norm(_chromaticity(rgb) - bd.chromaticity, axis=-1) < bd.chroma_tol
    return (lab[..., 0] - bd.model[..., 0] < -bd.t_lo) & same_hue


def _shadow_like(lab: np.ndarray, rgb: np.ndarray, bd: _Backdrop, strict: bool) -> np.ndarray:
    """A cast shadow: the backdrop's colour, darker, with no texture.

    ``strict`` (for neutral products, whose colour passes the shadow test:
    a white tee's folds look just like shadows) also limits the darkening
    to 40 L* and the lightness gradient to a gentle slope (2.5 L*/px at
    the working size), so only soft shadows are dropped.
    """
    shadow = _shadow_colour(lab, rgb, bd) & (_texture(lab[..., 0]) < max(1.2, 1.5 * bd.t_lo))
    if strict:
        d_l = lab[..., 0] - bd.model[..., 0]
        gy, gx = np.gradient(cv2.GaussianBlur(lab[..., 0], (0, 0), 1.0))
        shadow &= (d_l > -40.0) & (np.hypot(gx, gy) < 2.5)
    return shadow


def _components(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """4-connected components: (count incl. label 0, labels, which labels touch the border)."""
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=4)
    edge = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    touch = np.zeros(n, dtype=bool)
    touch[np.unique(edge)] = True
    touch[0] = False
    return n, labels, touch


def _is_shadow_coloured(lab: np.ndarray, rgb: np.ndarray, bd: _Backdrop, obj: np.ndarray) -> bool:
    """Most of the object has the backdrop's chromaticity (a white/grey product on white)."""
    if not obj.any():
        return False
    same_hue = np.linalg.norm(_chromaticity(rgb[obj]) - bd.chromaticity[obj], axis=-1) < bd.chroma_tol
    return bool(same_hue.mean() > 0.5)


# ---------------------------------------------------------------------------
# Object, shadows and holes at the working size
# ---------------------------------------------------------------------------


def _outside(passable: np.ndarray) -> np.ndarray:
    """Pixels of ``passable`` connected to the image border."""
    _, labels, touch = _components(passable)
    return touch[labels]


@dataclass(frozen=True)
class _Object:
    mask: np.ndarray  # the product, holes not yet cut
    shadow: np.ndarray  # shadow-like pixels (used to extend holes)
    shadow_removed: float  # fraction of the object area dropped as cast shadow
    shadows_kept: bool
    light_neutral: bool  # the product has the backdrop's chromaticity (white/grey on white)


def _object(lab: np.ndarray, rgb: np.ndarray, dist: np.ndarray, bd: _Backdrop) -> _Object:
    """What the backdrop (and the shadows on it) cannot reach from the border.

    For a product with the backdrop's colour (white/grey on white): if
    dropping the shadows would remove more than 35 % of the object, the
    "shadow" is really the product and nothing is dropped.
    """
    core = dist > bd.t_mid
    plain = ~_outside(~core)
    light = _is_shadow_coloured(lab, rgb, bd, plain)
    shadow = _shadow_like(lab, rgb, bd, light)
    obj = ~_outside(~core | shadow)
    removed = float(np.count_nonzero(plain & ~obj)) / max(1, int(np.count_nonzero(plain)))
    if light and removed > 0.35:
        return _Object(plain, shadow & ~plain, 0.0, True, light)
    return _Object(obj, shadow, removed, False, light)


def _per_label(labels: np.ndarray, n: int, where: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
    """Per-label pixel count (or sum of ``values``) over the pixels selected by ``where``."""
    w = None if values is None else values[where].astype(np.float64)
    return np.bincount(labels[where], weights=w, minlength=n).astype(np.float64)


def _frame_contrast(labels: np.ndarray, n: int, region: np.ndarray, obj: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Per label: mean backdrop distance on a 3-px ring of the object around the region."""
    grown = cv2.dilate(np.where(region, labels, 0).astype(np.float32), np.ones((7, 7), np.uint8))
    ring = (grown > 0) & ~region & obj
    owner = grown.astype(np.int64)
    count = _per_label(owner, n, ring)
    return np.where(count > 0, _per_label(owner, n, ring, dist) / np.maximum(count, 1), 0.0)


def _enclosed_holes(dist: np.ndarray, obj: _Object, bd: _Backdrop) -> tuple[np.ndarray, int]:
    """Enclosed backdrop regions to make transparent (tote handle loops, the gap under an arm).

    A candidate is an enclosed region of backdrop-coloured or shadowed
    pixels (a loop in shade may be mostly shadow). Its backdrop-coloured
    part must be >= 10 % of it, match closely and be thick (the strokes
    of a white print vanish), and the region must lie near the
    outside relative to its size (or show some shadow, which a print never
    does; "near" scales with the hole and with the product) and be framed
    by a clear edge (a handle is distinct; a blown-out
    patch of a white tee blends into the fabric around it).
    """
    h, w = dist.shape
    bgish = dist <= bd.t_mid
    cand = obj.mask & (bgish | obj.shadow)
    n, labels, touch = _components(cand)
    if n <= 1:
        return np.zeros((h, w), dtype=bool), 0
    plain = cand & bgish & ~obj.shadow
    area, plain_area = _per_label(labels, n, cand), _per_label(labels, n, plain)
    match = max(0.75 * bd.t_lo, 1.0)
    plain_mean = _per_label(labels, n, plain, dist) / np.maximum(plain_area, 1)
    inscribed = np.zeros(n)
    np.maximum.at(inscribed, labels[plain], cv2.distanceTransform(plain.astype(np.uint8), cv2.DIST_L2, 3)[plain])
    to_outside = np.full(n, np.inf)
    np.minimum.at(to_outside, labels[cand], cv2.distanceTransform(obj.mask.astype(np.uint8), cv2.DIST_L2, 3)[cand])
    extent = np.sqrt(float(np.count_nonzero(obj.mask)))  # a gap under an arm is near, relative to the product
    near = to_outside <= np.maximum(max(4.0, 0.15 * extent), 0.75 * np.sqrt(area))
    shadow_body = erode(cand & obj.shadow, 1)  # a real shadow, not the grey anti-aliased rim of a print
    shaded = _per_label(labels, n, shadow_body) >= 0.03 * area
    ok = ((area >= max(25.0, 2e-4 * h * w)) & (plain_area >= 0.1 * area) & (plain_mean <= match) & ~touch
          & (inscribed >= np.maximum(2.0, 0.05 * np.sqrt(area))) & (near | shaded))
    ok[0] = False
    if ok.any():
        ok &= _frame_contrast(labels, n, cand, obj.mask, dist) >= 3.0 * match + 4.0
    for k in np.flatnonzero(ok):  # a ring around product (a printed frame) is not a gap one sees through
        ok[k] = _enclosed_share(labels == k) < 0.25
    return ok[labels], int(np.count_nonzero(ok))


def _enclosed_share(region: np.ndarray) -> float:
    """The area a region encloses (its holes), as a fraction of its own area: about 0 for the
    backdrop seen through a handle's loop, large for the backdrop-coloured frame of a print."""
    ys, xs = np.nonzero(region)
    if not len(ys):
        return 0.0
    crop = np.ascontiguousarray(region[ys.min():ys.max() + 1, xs.min():xs.max() + 1]).astype(np.uint8)
    contours, hierarchy = cv2.findContours(crop, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return 0.0
    inner = sum(cv2.contourArea(c) for c, h in zip(contours, hierarchy[0], strict=True) if h[3] >= 0)
    return float(inner / max(len(ys), 1))


def _remove_specks(obj: np.ndarray) -> np.ndarray:
    """Drop object fragments smaller than 0.5 % of the largest one (JPEG ringing, dust)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(obj.astype(np.uint8), connectivity=8)
    if n <= 2:
        return obj
    area = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    area[0] = 0
    keep = area >= max(9.0, 0.005 * area.max())
    keep[0] = False
    return keep[labels]


# ---------------------------------------------------------------------------
# Full-size matte, confidence, entry point
# ---------------------------------------------------------------------------


def trimap_from_mask(mask: np.ndarray, inner: int, outer: int | None = None) -> np.ndarray:
    """Float32 trimap from a hard mask: 1 inside, 0 outside, 0.5 in a band ``inner``/``outer`` px wide."""
    tri = np.full(mask.shape, 0.5, dtype=np.float32)
    tri[erode(mask, inner)] = 1.0
    tri[~dilate(mask, inner if outer is None else outer)] = 0.0
    return tri


def _bleed(img: np.ndarray, where: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Local mean colour of the ``where`` pixels (normalised Gaussian) and its support weight."""
    w = where.astype(np.float32)
    support = cv2.GaussianBlur(w, (0, 0), sigma)
    colour = cv2.GaussianBlur(img * w[..., None], (0, 0), sigma) / np.maximum(support, 1e-6)[..., None]
    return colour, support


def _line_prior(img: np.ndarray, tri: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel alpha from the position of the colour between the local fg and bg colours.

    The fg colour is bled from the sure foreground, the bg colour from the
    sure background (a shadow next to the product included). The weight
    is high where the two differ clearly and the pixel lies on the line
    between them; it vanishes for a white product on white. Computed on
    the unknown pixels only (zero elsewhere).
    """
    fg, fg_w = _bleed(img, tri >= 1.0, sigma)
    bg, bg_w = _bleed(img, tri <= 0.0, sigma)
    idx = np.nonzero((tri > 0.0) & (tri < 1.0))
    span, offset = fg[idx] - bg[idx], img[idx] - bg[idx]
    norm2 = np.einsum("ij,ij->i", span, span)
    est = np.clip(np.einsum("ij,ij->i", offset, span) / np.maximum(norm2, 1e-6), 0.0, 1.0)
    off_line = offset - est[:, None] * span
    residual = np.sqrt(np.einsum("ij,ij->i", off_line, off_line))
    weight = (smoothstep(np.sqrt(norm2), 0.04, 0.15) * smoothstep(residual, 0.12, 0.03)
              * (np.minimum(fg_w[idx], bg_w[idx]) > 1e-3))
    prior, prior_w = np.zeros(tri.shape, np.float32), np.zeros(tri.shape, np.float32)
    prior[idx], prior_w[idx] = est, 0.5 * weight
    return prior, prior_w


def _full_alpha(img: np.ndarray, mask_small: np.ndarray, band: int) -> np.ndarray:
    """Upsample the working-size mask to a trimap at full size and solve the band."""
    h, w = img.shape[:2]
    soft = np.clip(resize(mask_small.astype(np.float32), (h, w), area=False), 0.0, 1.0)
    tri = trimap_from_mask(soft > 0.5, band + band // 2, band)
    prior, weight = _line_prior(img, tri, 1.5 * band)
    alpha = solve_alpha(img, tri, init=np.where(weight > 0.1, prior, soft), prior=prior, prior_weight=weight)
    return np.clip((alpha - 0.02) / 0.96, 0.0, 1.0).astype(np.float32)  # JPEG noise off the flat ends


def _bites(mask: np.ndarray) -> float:
    """Area a small closing adds, relative to the object: ragged bites where the backdrop leaked in."""
    r = max(2, round(0.006 * max(mask.shape)))
    closed = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, cv2.getStructuringElement(
        cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))).astype(bool)
    return float(np.count_nonzero(closed & ~mask)) / max(1, int(np.count_nonzero(mask)))


def _matte_confidence(dist: np.ndarray, mask: np.ndarray, bd: _Backdrop,
                      obj: _Object) -> tuple[float, str, float, float]:
    """Confidence, reason, edge contrast and weak-edge fraction of the outline.

    For a product with the backdrop's colour (white on white) a faint but
    continuous outline is fine; what gives a failure away is a ragged
    outline, where the backdrop leaked into the product through a gap.
    """
    ring = erode(mask, 1) & ~erode(mask, 3)
    if not ring.any():
        return (0.0, "no product found: the photo looks like an empty backdrop (or the product is the backdrop's "
                "colour); give the product a `mask:` file (white = product)", 0.0, 1.0)
    contrast = float(np.median(dist[ring]))
    weak = float(np.mean(dist[ring] < bd.t_hi + 2.0))
    frac = float(mask.mean())
    edge = np.concatenate([mask[0], mask[-1], mask[:, 0], mask[:, -1]]).mean()
    parts = {
        "the product's outline barely differs from the backdrop": smoothstep(contrast, bd.t_hi - 1.0, bd.t_hi + 5.0),
        f"{weak:.0%} of the outline is as light as the backdrop": smoothstep(weak, 0.6, 0.2),
        "the outline is ragged where the backdrop leaked into the product": smoothstep(_bites(mask), 0.0025, 0.0008)
        if obj.light_neutral else 1.0,
        "its cast shadow cannot be told from the product and is kept": 0.7 if obj.shadows_kept else 1.0,
        "the backdrop is not plain (noisy or textured)": smoothstep(bd.noise, 8.0, 3.0),
        "the product is implausibly small or fills the photo": smoothstep(frac, 0.003, 0.02)
        * smoothstep(frac, 0.97, 0.85),
        "the product covers much of the photo's border": smoothstep(float(edge), 0.5, 0.2),
    }
    conf = float(np.prod(np.asarray(list(parts.values()), dtype=np.float64)))
    if conf >= 0.5:
        return round(conf, 4), "", contrast, weak
    worst = min(parts, key=parts.get)  # type: ignore[arg-type]
    light = obj.light_neutral
    what = "light product on a light backdrop: " if light else ""
    return (round(conf, 4), f"{what}{worst}; give the product a `mask:` file (white = product)"
            + (" or photograph it on a darker backdrop" if light else ""), contrast, weak)


def matte_cutout(rgb: np.ndarray, backdrop_rgb: tuple[int, int, int] | None = None, *,
                 long_edge: int = 640) -> tuple[np.ndarray, np.ndarray, float, MatteDetails]:
    """Soft cut-out of a product on a plain backdrop.

    ``rgb``: ``(H, W, 3)`` uint8 or float image; ``backdrop_rgb``: the
    backdrop colour if known (else fitted to the border). Decisions (what
    is product, shadow, hole) are made at ``long_edge`` px; the matte is
    solved at full size in a thin band around the outline.

    Returns ``(alpha, foreground, confidence, details)``: float32 ``(H, W)``
    alpha in [0, 1]; float32 ``(H, W, 3)`` foreground colours in [0, 1]
    (composite as ``alpha * foreground + (1 - alpha) * new_background``);
    confidence in [0, 1] (below ~0.5 warn the user with
    ``details["reason"]``); :class:`MatteDetails`.
    """
    img = as_rgb(rgb)
    h, w = img.shape[:2]
    s = scale_for(img.shape, long_edge)
    small = resize(img, (max(8, round(h * s)), max(8, round(w * s))))
    lab = to_lab(small)
    bd = _backdrop(lab, small, backdrop_rgb)
    dist = np.linalg.norm(lab - bd.model, axis=-1)
    obj = _object(lab, small, dist, bd)
    holes, n_holes = _enclosed_holes(dist, obj, bd)
    mask = _remove_specks(obj.mask & ~holes)
    conf, reason, contrast, weak = _matte_confidence(dist, mask, bd, obj)
    if mask.any():
        alpha = _full_alpha(img, mask, max(2, int(np.ceil(1.5 / s))))
    else:
        alpha = np.ones((h, w), np.float32)
    centre = cv2.cvtColor(bd.model[lab.shape[0] // 2:lab.shape[0] // 2 + 1, lab.shape[1] // 2:lab.shape[1] // 2 + 1],
                          cv2.COLOR_Lab2RGB)[0, 0]
    details: MatteDetails = {
        "backdrop_rgb": tuple(int(v) for v in to_uint8(centre)),  # type: ignore[typeddict-item]
        "noise": round(bd.noise, 3), "thresholds": (round(bd.t_lo, 3), round(bd.t_hi, 3)),
        "holes_cut": n_holes, "shadow_removed": round(obj.shadow_removed, 4), "shadows_kept": obj.shadows_kept,
        "edge_contrast": round(contrast, 3), "weak_edge": round(weak, 4), "light_on_light": obj.light_neutral,
        "reason": reason,
    }
    return alpha, estimate_foreground(img, alpha), conf, details
