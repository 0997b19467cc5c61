"""What kind of photo is this, and where is the garment in a scene photo?

* :func:`classify_photo` tells a product shot on a plain backdrop
  ("cutout": the border is one smooth, texture-free colour, light or not)
  from a scene ("scene": a person, a room, outdoors, a product filling the
  frame), so the caller picks :func:`matting.matte_cutout` or
  :func:`segment_garment`.
* :func:`segment_garment` finds the garment in a scene photo from a seed
  that lies on it (the print-area quad or a point): GrabCut at a reduced
  working size, initialised deterministically from the seed colour, then
  an edge-aware (guided filter) upsampling to a soft alpha.

Everything is a pure function of its inputs (no global state; OpenCV's
random generator is not used: GrabCut's colour models are initialised
here with a deterministic k-means), so the same input gives identical
arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypedDict

import cv2
import numpy as np

from mockups.imaging._ops import (
    as_rgb,
    border_mask,
    box_mean,
    components_touching,
    dilate,
    erode,
    fill_holes,
    fit_backdrop,
    guided_upsample,
    resize,
    scale_for,
    smoothstep,
    to_lab,
    to_uint8,
)

__all__ = ["PhotoKind", "ClassifyDetails", "classify_photo", "GarmentSegmentation", "segment_garment",
           "segment_garment_details"]

PhotoKind = Literal["cutout", "scene"]


class ClassifyDetails(TypedDict):
    """Measurements behind :func:`classify_photo` (all plain floats/tuples)."""

    backdrop_rgb: tuple[int, int, int]  # fitted backdrop colour at the image centre (sRGB 0-255)
    border_match: float  # fraction of border pixels that match the fitted backdrop
    worst_side_match: float  # the same for the worst of the four sides
    border_texture: float  # median local L* std-dev of the matching border pixels
    backdrop_noise: float  # robust Lab residual of the border around the fit
    score: float  # "plain backdrop"-ness in [0, 1]; >= 0.5 means cutout
    reason: str


# ---------------------------------------------------------------------------
# Photo classification
# ---------------------------------------------------------------------------

_CLASSIFY_EDGE = 256  # working long edge: JPEG noise averages out, decisions stay fast


def _side_fractions(ok: np.ndarray, width: int) -> list[float]:
    return [float(ok[:width].mean()), float(ok[-width:].mean()),
            float(ok[:, :width].mean()), float(ok[:, -width:].mean())]


def _local_std(l_chan: np.ndarray, r: int = 2) -> np.ndarray:
    mean = box_mean(l_chan, r)
    return np.sqrt(np.maximum(box_mean(l_chan * l_chan, r) - mean * mean, 0.0))


def classify_photo(rgb: np.ndarray) -> tuple[PhotoKind, float, ClassifyDetails]:
    """Classify a photo as ``"cutout"`` (plain backdrop) or ``"scene"``.

    A cut-out photo's border is nearly all one colour (any colour, with a
    smooth gradient allowed: a quadratic surface is fitted to it), on every
    side, without texture. Returns ``(kind, confidence, details)`` where
    confidence in [0, 1] is 0 on the decision boundary and 1 when every
    measurement is clear of it.
    """
    img = as_rgb(rgb)
    s = scale_for(img.shape, _CLASSIFY_EDGE)
    small = resize(img, (max(8, round(img.shape[0] * s)), max(8, round(img.shape[1] * s))))
    lab = to_lab(small)
    h, w = lab.shape[:2]
    width = max(3, round(0.03 * min(h, w)))
    frame = border_mask(h, w, width)
    model, residual, noise = fit_backdrop(lab, frame)
    tol = float(np.clip(3.0 * noise + 2.0, 4.0, 10.0))
    ok = np.zeros((h, w), dtype=bool)
    ok[frame] = residual <= tol
    texture = _local_std(lab[..., 0])
    tex = float(np.median(texture[ok])) if ok.any() else 99.0
    match, worst = float(ok[frame].mean()), min(_side_fractions(ok, width))
    score = float(smoothstep(match, 0.55, 0.85) * smoothstep(worst, 0.2, 0.5) * smoothstep(tex, 4.0, 1.5)
                  * smoothstep(noise, 8.0, 4.0))
    kind: PhotoKind = "cutout" if score >= 0.5 else "scene"
    centre = cv2.cvtColor(model[h // 2:h // 2 + 1, w // 2:w // 2 + 1], cv2.COLOR_Lab2RGB)[0, 0]
    details: ClassifyDetails = {
        "backdrop_rgb": tuple(int(v) for v in to_uint8(centre)),  # type: ignore[typeddict-item]
        "border_match": round(match, 4), "worst_side_match": round(worst, 4),
        "border_texture": round(tex, 3), "backdrop_noise": round(noise, 3), "score": round(score, 4),
        "reason": _classify_reason(kind, match, worst, tex, noise),
    }
    return kind, round(abs(2.0 * score - 1.0), 4), details


def _classify_reason(kind: PhotoKind, match: float, worst: float, tex: float, noise: float) -> str:
    if kind == "cutout":
        return f"plain backdrop: {match:.0%} of the border matches one smooth colour (texture {tex:.1f})"
    if match < 0.7:
        return f"only {match:.0%} of the border is one colour: the photo shows more than a product on a backdrop"
    if worst < 0.35:
        return f"the subject covers most of one side of the frame ({worst:.0%} backdrop there)"
    return f"the border is textured or noisy (texture {tex:.1f}, noise {noise:.1f}): not a plain backdrop"


# ---------------------------------------------------------------------------
# Garment segmentation (scene photos)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GarmentSegmentation:
    """Result of :func:`segment_garment_details`."""

    alpha: np.ndarray  # float32 (H, W) in [0, 1] at the input size
    confidence: float
    reason: str  # why the confidence is what it is (empty when high)
    seed_lab: tuple[float, float, float]  # dominant colour of the seed region
    measures: dict[str, float] = field(default_factory=dict)


_GC_COMPONENTS = 5


def _seed_mask(seed: np.ndarray, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Rasterise a quad (4x2) or a point (2,) given in full-size pixels at the working scale."""
    pts = np.asarray(seed, dtype=np.float64)
    mask = np.zeros(shape, dtype=np.uint8)
    if pts.shape == (2,):
        r = max(4, round(0.03 * max(shape)))
        cv2.circle(mask, (int(round(pts[0] * scale)), int(round(pts[1] * scale))), r, 1, -1)
    elif pts.shape == (4, 2):
        cv2.fillPoly(mask, [np.rint(pts * scale).astype(np.int32)], 1)
    else:
        raise ValueError(f"seed must be a point (x, y) or a quad of 4 (x, y) corners, got shape {pts.shape}")
    if not mask.any():
        raise ValueError("the seed lies outside the image")
    return mask.astype(bool)


def _seed_colour(lab: np.ndarray, seed: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Dominant seed colour, per-pixel distance to it and the seed's colour tolerance.

    The dominant colour is the median of the seed pixels, refined on the
    half closest to it so an arm or an old print covering part of the
    seed does not pull it away from the fabric.
    """
    px = lab[seed]
    centre = np.median(px, axis=0)
    d = np.linalg.norm(px - centre, axis=1)
    centre = np.median(px[d <= np.median(d)], axis=0)
    dist = np.linalg.norm(lab - centre, axis=-1)
    tol = float(np.clip(2.5 * np.median(dist[seed]), 5.0, 18.0))
    return centre, dist, tol


def _features(small: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What GrabCut sees: (lightness, main chroma axis, texture) scaled to uint8, also as float.

    Texture (local std-dev of L*) tells a heather or knit body from a
    solid panel of the same shade (raglan sleeves, ribbing) that colour
    alone cannot. Chroma is reduced to its principal axis over the photo,
    which keeps the hue contrast that matters there (skin vs fabric, a
    yellow shirt vs a blue wall). Also returns the median-filtered Lab.
    """
    lab = to_lab(cv2.medianBlur(to_uint8(small), 5).astype(np.float32) / 255.0)
    raw_l = to_lab(small)[..., 0]
    texture = cv2.medianBlur(np.clip(_local_std(raw_l) * 4.0, 0, 255).astype(np.uint8), 5).astype(np.float32) / 4.0
    ab = lab[..., 1:].reshape(-1, 2).astype(np.float64)
    ab_c = ab - ab.mean(axis=0)
    _, vecs = np.linalg.eigh(ab_c[:: max(1, len(ab_c) // 20000)].T @ ab_c[:: max(1, len(ab_c) // 20000)])
    axis = vecs[:, -1] * (1.0 if vecs[np.argmax(np.abs(vecs[:, -1])), -1] > 0 else -1.0)
    chroma = (ab_c @ axis).reshape(lab.shape[:2]).astype(np.float32)
    img8 = np.rint(np.clip(np.stack([2.55 * lab[..., 0], 128.0 + 2.0 * chroma, 12.0 * texture], -1), 0, 255))
    return img8.astype(np.uint8), img8.astype(np.float32), lab


def _kmeans(x: np.ndarray, k: int, iters: int = 8) -> np.ndarray:
    """Deterministic Lloyd k-means (init: quantiles along the first principal axis); returns labels."""
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    proj = (x - mean) @ vt[0]
    order = np.argsort(proj, kind="stable")
    labels = np.empty(len(x), dtype=np.int64)
    labels[order] = np.minimum(np.arange(len(x)) * k // max(len(x), 1), k - 1)
    for _ in range(iters):
        centres = np.stack([x[labels == j].mean(axis=0) if np.any(labels == j) else mean for j in range(k)])
        labels = np.argmin(((x[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    return labels


def _gmm_model(pixels: np.ndarray) -> np.ndarray:
    """OpenCV GrabCut GMM parameters (1x65 float64: weights, means, covariances)."""
    x = pixels.astype(np.float64)
    step = max(1, len(x) // 8000)
    x = x[::step]
    labels = _kmeans(x, _GC_COMPONENTS)
    weights, means, covs = [], [], []
    for j in range(_GC_COMPONENTS):
        part = x[labels == j]
        if len(part) < 2:
            part = x
        weights.append(len(part) / len(x))
        means.append(part.mean(axis=0))
        covs.append(np.cov(part, rowvar=False) + 0.01 * np.eye(3))
    w = np.asarray(weights) / np.sum(weights)
    return np.concatenate([w, np.ravel(means), np.ravel(covs)])[None, :].astype(np.float64)


def _init_mask(dist: np.ndarray, seed_core: np.ndarray, tol: float) -> np.ndarray:
    """GrabCut mask from the seed: sure fg core, seed-coloured region as probable fg.

    The image border is probable background, or sure background where its
    colour is far from the seed's.
    """
    h, w = dist.shape
    mask = np.full((h, w), cv2.GC_PR_BGD, dtype=np.uint8)
    similar = components_touching(dist <= 2.0 * tol, seed_core)
    mask[similar] = cv2.GC_PR_FGD
    frame = border_mask(h, w, max(2, round(0.01 * max(h, w))))
    mask[frame] = np.where(dist[frame] > 3.0 * tol, cv2.GC_BGD, cv2.GC_PR_BGD)
    mask[seed_core] = cv2.GC_FGD
    return mask


def _grabcut(img8: np.ndarray, mask: np.ndarray, iterations: int) -> np.ndarray:
    """Run GrabCut from ``mask`` with deterministic initial colour models; returns the fg mask."""
    fg = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    if fg.all() or not fg.any():
        return fg
    fgd_model, bgd_model = _gmm_model(img8[fg]), _gmm_model(img8[~fg])
    work = mask.copy()
    # Frozen models: the fg model stays the seed's fabric, so GrabCut cannot drift into
    # neighbouring dark regions (sleeves of another colour, jeans) that the fabric's
    # darkest folds happen to resemble.
    cv2.grabCut(img8, work, None, bgd_model, fgd_model, iterations,  # type: ignore[call-overload]  # rect may be None with a mask mode; the stubs say otherwise
                cv2.GC_EVAL_FREEZE_MODEL)
    return (work == cv2.GC_FGD) | (work == cv2.GC_PR_FGD)


def _clean(fg: np.ndarray, seed_core: np.ndarray, seed: np.ndarray, seed_like: np.ndarray) -> np.ndarray:
    """Keep the seeded region (and nearby pieces of it); fill pinholes and enclosed gaps in the seed.

    An arm or a strap crossing the garment reaches its outline and is not
    enclosed, so it stays out; a print or a crease inside the print area is
    enclosed by fabric and is filled.
    """
    fg = cv2.morphologyEx(fg.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(bool)
    fg = components_touching(fg, seed_core) | _nearby_pieces(fg, components_touching(fg, seed_core), seed_like)
    holes = fill_holes(fg) & ~fg
    n, labels, stats, _ = cv2.connectedComponentsWithStats(holes.astype(np.uint8), connectivity=4)
    if n <= 1:
        return fg
    in_seed = np.bincount(labels[seed], minlength=n)
    area = stats[:, cv2.CC_STAT_AREA]
    fill = (area < max(16.0, 0.002 * np.count_nonzero(fg))) | (in_seed >= 0.5 * area)
    fill[0] = False
    return fg | fill[labels]


def _nearby_pieces(fg: np.ndarray, main: np.ndarray, seed_like: np.ndarray) -> np.ndarray:
    """Other fg components of the garment cut off by an arm: large, seed-coloured, close to ``main``."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats((fg & ~main).astype(np.uint8), connectivity=8)
    if n <= 1 or not main.any():
        return np.zeros_like(fg)
    gap = cv2.distanceTransform((~main).astype(np.uint8), cv2.DIST_L2, 3)
    near = np.full(n, np.inf)
    np.minimum.at(near, labels.ravel(), gap.ravel())
    like = np.bincount(labels.ravel(), weights=seed_like.ravel().astype(np.float64), minlength=n)
    area = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    keep = (area >= 0.01 * np.count_nonzero(main)) & (near <= 0.1 * max(fg.shape)) & (like >= 0.5 * area)
    keep[0] = False
    return keep[labels]


def _boundary_contrast(lab: np.ndarray, fg: np.ndarray, r: int = 4) -> float:
    """Median Lab distance between the local fg and bg mean colours along the outline."""
    edge = dilate(fg, 1) & ~erode(fg, 1)
    if not edge.any():
        return 0.0
    f, b = fg.astype(np.float32), (~fg).astype(np.float32)
    mf, mb = box_mean(f, r), box_mean(b, r)
    col_f = box_mean(lab * f[..., None], r) / np.maximum(mf, 1e-6)[..., None]
    col_b = box_mean(lab * b[..., None], r) / np.maximum(mb, 1e-6)[..., None]
    both = edge & (mf > 0.05) & (mb > 0.05)
    if not both.any():
        return 0.0
    return float(np.median(np.linalg.norm(col_f[both] - col_b[both], axis=-1)))


def _histogram_overlap(lab: np.ndarray, fg: np.ndarray, bins: int = 10) -> float:
    """Histogram intersection of the fg and bg Lab distributions (0 = disjoint, 1 = same)."""
    q = np.stack([np.clip(lab[..., 0] / 100.0, 0, 0.999), np.clip((lab[..., 1] + 80) / 160, 0, 0.999),
                  np.clip((lab[..., 2] + 80) / 160, 0, 0.999)], axis=-1)
    idx = np.ravel_multi_index(tuple((q * bins).astype(np.int64).transpose(2, 0, 1)), (bins,) * 3)
    hf = np.bincount(idx[fg], minlength=bins ** 3).astype(np.float64)
    hb = np.bincount(idx[~fg], minlength=bins ** 3).astype(np.float64)
    if hf.sum() == 0 or hb.sum() == 0:
        return 1.0
    return float(np.minimum(hf / hf.sum(), hb / hb.sum()).sum())


def _solidity(fg: np.ndarray) -> float:
    pts = cv2.findNonZero(fg.astype(np.uint8))
    if pts is None:
        return 0.0
    hull = cv2.convexHull(pts)
    return float(np.count_nonzero(fg) / max(cv2.contourArea(hull), 1.0))


def _garment_confidence(lab: np.ndarray, fg: np.ndarray, seed: np.ndarray) -> tuple[float, str, dict[str, float]]:
    """Confidence from outline contrast, fg/bg colour overlap, seed cover, area, solidity and border contact."""
    m = {"contrast": _boundary_contrast(lab, fg), "overlap": _histogram_overlap(lab, fg),
         "seed_cover": float(fg[seed].mean()), "area": float(fg.mean()), "solidity": _solidity(fg),
         "border": float(np.concatenate([fg[0], fg[-1], fg[:, 0], fg[:, -1]]).mean())}
    parts = {
        "the garment's outline barely differs from its surroundings": smoothstep(m["contrast"], 4.0, 15.0),
        "garment and background share the same colours": smoothstep(m["overlap"], 0.6, 0.25),
        "most of the seed region was not kept as garment": smoothstep(m["seed_cover"], 0.35, 0.75),
        "the garment region is implausibly small or large": smoothstep(m["area"], 0.004, 0.03)
        * smoothstep(m["area"], 0.92, 0.7),
        "the region is ragged (probably leaked into the background)": smoothstep(m["solidity"], 0.3, 0.55),
        "the region runs along much of the photo's border (probably the background)":
        smoothstep(m["border"], 0.3, 0.12),
    }
    conf = float(np.prod(np.asarray(list(parts.values()), dtype=np.float64)))
    worst = min(parts, key=parts.get)  # type: ignore[arg-type]
    reason = "" if conf >= 0.5 else f"{worst}; give the product a `mask:` file (white = garment)"
    return round(conf, 4), reason, {k: round(v, 4) for k, v in m.items()}


def _soft_upsample(img: np.ndarray, fg: np.ndarray, radius: int) -> np.ndarray:
    """Full-size soft alpha: guided-filter upsampling of the working-size mask, limited to a band."""
    h, w = img.shape[:2]
    soft = cv2.GaussianBlur(fg.astype(np.float32), (0, 0), 0.7)
    alpha = guided_upsample(img, soft, radius, 2e-3)
    hard = resize(fg.astype(np.float32), (h, w), area=False) > 0.5
    band = max(2, round(1.5 * radius * h / fg.shape[0]))
    alpha = np.where(erode(hard, band), 1.0, np.where(dilate(hard, band), alpha, 0.0))
    return np.clip(alpha, 0.0, 1.0).astype(np.float32)


def segment_garment_details(rgb: np.ndarray, seed: np.ndarray | list | tuple, *, long_edge: int = 512,
                            iterations: int = 2) -> GarmentSegmentation:
    """Like :func:`segment_garment`, with the reason for the confidence and the measurements."""
    img = as_rgb(rgb)
    s = scale_for(img.shape, long_edge)
    size = (max(8, round(img.shape[0] * s)), max(8, round(img.shape[1] * s)))
    img8, feat, lab = _features(resize(img, size))
    seed_m = _seed_mask(np.asarray(seed), size, size[0] / img.shape[0])
    centre, dist, tol = _seed_colour(feat, seed_m)
    seed_core = erode(seed_m, 1) & (dist <= tol)
    if np.count_nonzero(seed_core) < 4:
        seed_core = seed_m & (dist <= np.percentile(dist[seed_m], 50))
    fg = _grabcut(img8, _init_mask(dist, seed_core, tol), iterations)
    fg = _clean(fg, seed_core, seed_m, dist <= tol)
    conf, reason, measures = _garment_confidence(lab, fg, seed_m)
    alpha = _soft_upsample(img, fg, 2)
    seed_lab = tuple(float(v) for v in np.median(lab[seed_core], axis=0))
    return GarmentSegmentation(alpha, conf, reason, seed_lab, measures)  # type: ignore[arg-type]


def segment_garment(rgb: np.ndarray, seed: np.ndarray | list | tuple, *, long_edge: int = 512,
                    iterations: int = 2) -> tuple[np.ndarray, float]:
    """Segment the garment that ``seed`` lies on in a scene photo (a person, a room, outdoors).

    ``seed`` is the print-area quad (4 ``(x, y)`` corners in pixels of
    ``rgb``) or one ``(x, y)`` point on the garment. The seed's dominant
    colour becomes sure foreground, pixels of a similar colour connected to
    it probable foreground, the image border (probable) background; GrabCut
    runs at ``long_edge`` px and the mask is upsampled with a guided filter
    so the edge follows the photo. Regions of another colour crossing the
    garment (an arm, a strap, hair) become holes; panels of another colour
    (raglan sleeves, ribbing) are not part of the result.

    Returns ``(alpha, confidence)``: float32 ``(H, W)`` alpha in [0, 1] and a
    confidence in [0, 1] (below ~0.5: ask the user for a mask).
    """
    result = segment_garment_details(rgb, seed, long_edge=long_edge, iterations=iterations)
    return result.alpha, result.confidence
