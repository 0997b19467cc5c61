"""Where a design sits inside its print area: scale, anchor, offset and rotation.

A print area is a quad in the photo (a flat print, possibly seen at an angle) or a band around a
cylinder (a mug). The design is placed in the print area's own frame, as a merchandiser thinks
of it (a rectangle as wide and tall as the area's mean sides), then mapped into the photo:

* ``scale`` (0-1]: the design's size as a fraction of the largest that fits (keeping its aspect);
* ``anchor``: where a smaller design sits (``center``, ``top``, ``bottom-left``...);
* ``offset`` ``(dx, dy)``: a shift in fractions of the area's width and height (+x right, +y down);
* ``rotation``: degrees, clockwise, about the design's centre.

On a quad the placed rectangle is mapped through the area's homography, so an angled print area
foreshortens the design as the photo does; what leaves the area is cut at its edge
(:func:`clip_layer`), as a print stops at the printable area. On a cylinder the placement is made
on the unrolled band (its width is the arc's length) and gives a narrower cylinder band;
rotation is refused there (a tilted wrap is not a band).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from mockups.imaging._common import ImagingError
from mockups.imaging._warp import _apply_h, clip_layer, perspective_coeffs

if TYPE_CHECKING:  # _cylinder imports OpenCV, which a flat print does not need
    from mockups.imaging._cylinder import Cylinder

__all__ = ["ANCHORS", "fit_print", "fit_cylinder", "clip_layer"]

ANCHORS = ("center", "top", "bottom", "left", "right", "top-left", "top-right", "bottom-left", "bottom-right")
_UNIT = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float64)


def _check(design_size: tuple[int, int], scale: float, anchor: str, offset: Sequence[float]) -> None:
    if design_size[0] < 1 or design_size[1] < 1:
        raise ImagingError("design image is empty")
    if not (0 < scale <= 1) or not math.isfinite(scale):
        raise ImagingError(f"scale must be in (0, 1], got {scale}")
    if anchor not in ANCHORS:
        raise ImagingError(f"unknown anchor {anchor!r}; expected one of {', '.join(ANCHORS)}")
    if len(offset) != 2 or not all(math.isfinite(float(o)) for o in offset):
        raise ImagingError(f"offset must be two finite numbers [dx, dy], got {offset!r}")


def _box(frame: tuple[float, float], design_size: tuple[int, int], scale: float, anchor: str,
         offset: Sequence[float]) -> tuple[float, float, float, float]:
    """Centre (cx, cy) and size (bw, bh) of the placed design in a frame of `frame` = (w, h)."""
    fw, fh = frame
    dw, dh = design_size
    s = min(fw / dw, fh / dh) * scale
    bw, bh = dw * s, dh * s
    vertical, _, horizontal = anchor.partition("-") if "-" in anchor else (
        (anchor, "", "center") if anchor in ("top", "bottom") else ("center", "", anchor))
    cx = {"left": bw / 2, "center": fw / 2, "right": fw - bw / 2}[horizontal]
    cy = {"top": bh / 2, "center": fh / 2, "bottom": fh - bh / 2}[vertical]
    return cx + float(offset[0]) * fw, cy + float(offset[1]) * fh, bw, bh


def fit_print(area: Sequence[Sequence[float]], design_size: tuple[int, int], *, scale: float = 1.0,
              anchor: str = "center", offset: Sequence[float] = (0.0, 0.0), rotation: float = 0.0) -> np.ndarray:
    """The four corners (TL, TR, BR, BL of the design, float64 (4, 2), photo pixels) of a
    `design_size` design placed in the print area `area` (four corners, TL, TR, BR, BL)."""
    _check(design_size, scale, anchor, offset)
    quad = np.asarray(area, dtype=np.float64)
    if quad.shape != (4, 2) or not np.all(np.isfinite(quad)):
        raise ImagingError(f"print area needs 4 finite (x, y) corners, got {area!r}")
    if not math.isfinite(rotation):
        raise ImagingError(f"rotation must be a finite number of degrees, got {rotation}")
    qw = float(0.5 * (np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3])))
    qh = float(0.5 * (np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])))
    if qw < 1 or qh < 1:
        raise ImagingError(f"print area is too small ({qw:.1f} x {qh:.1f} px)")
    cx, cy, bw, bh = _box((qw, qh), design_size, scale, anchor, offset)
    t = math.radians(rotation)
    c, s = math.cos(t), math.sin(t)
    corners = np.array([[-bw / 2, -bh / 2], [bw / 2, -bh / 2], [bw / 2, bh / 2], [-bw / 2, bh / 2]])
    turned = np.stack([corners[:, 0] * c - corners[:, 1] * s, corners[:, 0] * s + corners[:, 1] * c], axis=1)
    unit = (turned + [cx, cy]) / [qw, qh]
    return _apply_h(perspective_coeffs(quad, _UNIT), unit)  # unit square -> the print area


def fit_cylinder(cyl: Cylinder, design_size: tuple[int, int], *, scale: float = 1.0, anchor: str = "center",
                 offset: Sequence[float] = (0.0, 0.0), rotation: float = 0.0) -> Cylinder:
    """The band of `cyl` a `design_size` design placed in it covers (at the design's aspect on
    the unrolled surface), as a Cylinder to wrap the design onto."""
    _check(design_size, scale, anchor, offset)
    if rotation:
        raise ImagingError("a design on a cylinder cannot be rotated (rotation must be 0)")
    cyl.validate()
    axis, _, length = cyl.frame()
    r_mid = 0.5 * (cyl.radius + (cyl.bottom_radius or cyl.radius))
    around = r_mid * math.radians(cyl.arc)  # the unrolled band's width, pixels
    cx, cy, bw, bh = _box((around, length), design_size, scale, anchor, offset)
    v0, v1 = (cy - bh / 2) / length, (cy + bh / 2) / length
    top = np.asarray(cyl.top, dtype=np.float64) + axis * v0 * length
    bottom = np.asarray(cyl.top, dtype=np.float64) + axis * v1 * length
    return replace(cyl, top=(float(top[0]), float(top[1])), bottom=(float(bottom[0]), float(bottom[1])),
                   radius=float(cyl.radius_at(np.asarray(v0))), bottom_radius=float(cyl.radius_at(np.asarray(v1))),
                   arc=float(cyl.arc * bw / around),
                   centre=float(cyl.centre + (cx / around - 0.5) * cyl.arc))


def print_area_coverage(quad, silhouette: np.ndarray) -> float:
    """The fraction of the print area's quad that lies on the silhouette (>= 0.5; outside the photo
    counts as off it): how much of a design printed there can be seen."""
    from PIL import Image, ImageDraw

    h, w = silhouette.shape
    xs, ys = [p[0] for p in quad], [p[1] for p in quad]
    x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
    ox, oy = math.floor(x0), math.floor(y0)
    bw, bh = max(1, math.ceil(x1) - ox + 1), max(1, math.ceil(y1) - oy + 1)
    if bw * bh > 64_000_000:
        return 0.0
    canvas = Image.new("L", (bw, bh), 0)
    ImageDraw.Draw(canvas).polygon([(x - ox, y - oy) for x, y in quad], fill=255)
    inside = np.asarray(canvas) > 0
    total = int(np.count_nonzero(inside))
    if not total:
        return 0.0
    sx0, sy0, sx1, sy1 = max(ox, 0), max(oy, 0), min(ox + bw, w), min(oy + bh, h)
    if sx0 >= sx1 or sy0 >= sy1:
        return 0.0
    part = inside[sy0 - oy:sy1 - oy, sx0 - ox:sx1 - ox]
    return float(np.count_nonzero(part & (silhouette[sy0:sy1, sx0:sx1] >= 0.5)) / total)
