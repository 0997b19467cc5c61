"""One product photo analysed: what kind of photo it is and where the product (or garment) is.

:func:`analyse_photo` is the single entry point the compositor (and ``mockups inspect``) use
for a photo's silhouette:

* ``"alpha"``: the photo has a usable alpha channel; it is the silhouette;
* ``"mask"``: a mask file was given; it is the silhouette;
* ``"cutout"``: a product on a plain backdrop (:func:`segment.classify_photo`, or the catalog
  said so): :func:`matting.matte_cutout` gives a soft alpha and decontaminated colours;
* ``"scene"``: a person, a room, outdoors: the garment the print area lies on is found with
  :func:`segment.segment_garment_details`; the photo itself stays as shot.

Every result carries the confidence of the automatic decisions and, when it is low, a reason
that says what to do. Pure and deterministic: the same input gives identical arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from mockups.imaging._common import ImagingError, rgba_array
from mockups.imaging._cutout import has_alpha

__all__ = ["PhotoAnalysis", "analyse_photo", "photo_kind", "PHOTO_KINDS", "LOW_CONFIDENCE", "NO_SEED_REASON"]

PHOTO_KINDS = ("auto", "cutout", "scene")
LOW_CONFIDENCE = 0.5  # below this an automatic decision is warned about
VERSION = 2  # a change to what analyse_photo or photo_kind return for a photo bumps this (it is in job keys)
NO_SEED_REASON = "give the product a print_area on the garment or a recolour_mask:"


@dataclass(frozen=True)
class PhotoAnalysis:
    """What :func:`analyse_photo` found in a product photo."""

    kind: str  # "alpha" (the photo has one), "mask" (a mask file given), "cutout", "scene"
    kind_confidence: float  # 1.0 for alpha/mask or when the catalog said so
    silhouette: np.ndarray  # float32 (H, W) in [0, 1]: the product (cut-out) or the garment (scene)
    foreground: np.ndarray | None  # decontaminated float32 RGB for cut-outs, else None
    confidence: float  # of the silhouette (1.0 for alpha/mask)
    reason: str  # why the confidence is low, with what to do; "" when confident
    backdrop: tuple[int, int, int] | None
    kind_reason: str = ""  # why the photo was classified so (automatic classification only)
    details: dict[str, Any] = field(default_factory=dict)  # measurements of the classifier/matte/segmentation


def _unit(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    a = np.asarray(mask)
    if a.ndim == 3:
        a = a[..., 0]
    if a.shape != (size[1], size[0]):
        raise ImagingError(f"mask size {a.shape[1]}x{a.shape[0]} does not match the photo's {size[0]}x{size[1]}")
    if a.dtype == np.uint8:
        return (a.astype(np.float32) / 255.0).astype(np.float32)
    if a.dtype == np.bool_:
        return a.astype(np.float32)
    return np.clip(a.astype(np.float32), 0.0, 1.0)


def _scene_reason(reason: str) -> str:
    # In a scene the silhouette is the garment's dyeable area: a recolour mask is what fixes it
    # (a `mask:` would turn the photo into a cut-out).
    return reason.replace("a `mask:` file (white = garment)", "a recolour_mask: file (white = garment)")


def photo_kind(rgba: Image.Image, *, mask_given: bool = False, kind: str = "auto") -> tuple[str, float, str]:
    """The cheap half of :func:`analyse_photo`: ``(kind, kind_confidence, kind_reason)``, the
    kind being "mask", "alpha", "cutout" or "scene" (a mask file wins, then the photo's alpha,
    then the catalog's ``kind``, then :func:`segment.classify_photo`; about 0.05 s a photo)."""
    if kind not in PHOTO_KINDS:
        raise ImagingError(f"unknown photo kind {kind!r}; expected one of {', '.join(PHOTO_KINDS)}")
    if mask_given:
        return "mask", 1.0, ""
    if has_alpha(rgba):
        return "alpha", 1.0, ""
    if kind != "auto":
        return kind, 1.0, ""
    from mockups.imaging.segment import classify_photo  # OpenCV is imported only when a photo needs it

    try:
        found, confidence, details = classify_photo(np.ascontiguousarray(rgba_array(rgba)[..., :3]))
    except ValueError as e:
        raise ImagingError(str(e)) from None
    return found, float(confidence), details["reason"]


def analyse_photo(rgba: Image.Image, *, mask: np.ndarray | None = None, kind: str = "auto",
                  seed: list[tuple[float, float]] | None = None) -> PhotoAnalysis:
    """Analyse a product photo (RGBA, as :func:`open_image` returns it).

    ``mask``: a mask file's pixels (white = product), which wins over everything else; then the
    photo's own alpha. Otherwise ``kind`` ("auto" | "cutout" | "scene") picks the analysis,
    "auto" classifying the photo. ``seed``: the print area's four corners (or one point ``[(x, y)]``) in photo
    pixels, on the garment; a scene needs it (without it the silhouette is empty, with
    confidence 0 and a reason saying what to give).
    """
    if kind not in PHOTO_KINDS:
        raise ImagingError(f"unknown photo kind {kind!r}; expected one of {', '.join(PHOTO_KINDS)}")
    if mask is not None:
        return PhotoAnalysis("mask", 1.0, _unit(mask, rgba.size), None, 1.0, "", None)
    if has_alpha(rgba):
        alpha = rgba_array(rgba)[..., 3].astype(np.float32) / 255.0
        return PhotoAnalysis("alpha", 1.0, alpha, None, 1.0, "", None)
    rgb = np.ascontiguousarray(rgba_array(rgba)[..., :3])
    try:
        return _analyse(rgb, kind, seed)
    except ValueError as e:
        raise ImagingError(str(e)) from None


def _analyse(rgb: np.ndarray, kind: str, seed: list[tuple[float, float]] | None) -> PhotoAnalysis:
    from mockups.imaging.matting import matte_cutout  # OpenCV is imported only when a photo needs it
    from mockups.imaging.segment import classify_photo, segment_garment_details

    details: dict[str, Any] = {}
    kind_reason = ""
    if kind == "auto":
        found, kind_confidence, classify = classify_photo(rgb)
        details["classify"] = dict(classify)
        kind, kind_reason = found, classify["reason"]
    else:
        kind_confidence = 1.0
    if kind == "cutout":
        alpha, foreground, confidence, matte = matte_cutout(rgb)
        details["matte"] = dict(matte)
        reason = matte["reason"] if confidence < LOW_CONFIDENCE else ""
        return PhotoAnalysis("cutout", float(kind_confidence), alpha.astype(np.float32),
                             foreground.astype(np.float32), float(confidence), reason,
                             tuple(matte["backdrop_rgb"]), kind_reason, details)  # type: ignore[arg-type]
    h, w = rgb.shape[:2]
    if not seed:
        return PhotoAnalysis("scene", float(kind_confidence), np.zeros((h, w), np.float32), None, 0.0,
                             NO_SEED_REASON, None, kind_reason, details)
    points = np.asarray(seed, dtype=np.float64)
    seg = segment_garment_details(rgb, points[0] if points.shape == (1, 2) else points)
    details["segment"] = {"seed_lab": seg.seed_lab, **seg.measures}
    reason = _scene_reason(seg.reason) if seg.confidence < LOW_CONFIDENCE else ""
    if seg.confidence < LOW_CONFIDENCE and not reason:
        reason = "give the product a recolour_mask: file (white = garment)"
    return PhotoAnalysis("scene", float(kind_confidence), seg.alpha.astype(np.float32), None,
                         float(seg.confidence), reason, None, kind_reason, details)
