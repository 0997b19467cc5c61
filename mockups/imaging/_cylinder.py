"""Wrapping a flat design around a cylinder (mugs, bottles, tumblers) seen from the side.

A point of the design at ``(u, v)`` (0-1 across its width and height) lies on
the body at azimuth ``theta = centre + (u - 0.5) * arc`` and at the fraction
``v`` of the print band along the axis. Seen from the side (orthographic, as
product photos are near enough), it projects to::

    x = axis_x(v) + r(v) * sin(theta)        (horizontal offset from the axis)
    y = axis_y(v) + ellipse * r(v) * cos(theta)

so the design is compressed by ``cos(theta)`` toward the silhouette, and
whatever lies beyond ``|theta| = 90`` deg is behind the body. ``r(v)``
interpolates between the top and bottom radius (tapered mugs);
``ellipse`` is the rims' minor/major axis ratio (a camera slightly above
sees the front of each rim lower than its sides; 0 = exactly side-on).
:func:`cylinder_map` inverts this for every output pixel (``arcsin`` of the
offset / radius); :func:`prepare_wrap` samples the design there with
``cv2.remap`` and shades it by the photo's light (as a flat print, see ``_warp``) into a
``DesignLayer`` that ``apply_design`` prints on every colour; :func:`wrap_design` does both.
Coordinates follow OpenCV: pixel centres at integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from mockups.imaging._colour import _encode_srgb
from mockups.imaging._common import ImagingError, rgba_array
from mockups.imaging._warp import (
    FINISHES,
    DesignLayer,
    _check_finish,
    _finish_layer,
    _finish_pad,
    _unpremultiply,
    apply_design,
    luminance_field,
)

__all__ = ["Cylinder", "CylinderMap", "project", "cylinder_map", "prepare_wrap", "wrap_design", "FINISHES"]

Point = tuple[float, float]
_OUTSIDE = -10.0  # map value that cv2.remap turns into transparent


@dataclass(frozen=True)
class Cylinder:
    """The print band of a cylindrical body in a photo.

    ``top`` / ``bottom``: points on the axis at the band's top and bottom
    edges (px); ``radius``: the body's half-width (axis to silhouette) at the
    top edge, ``bottom_radius`` at the bottom edge (None: same); ``arc``:
    degrees of the circumference the design's width spans; ``centre``:
    azimuth of the design's middle (0 = facing the camera, positive = to the
    right); ``ellipse``: rim minor/major axis ratio (camera elevation).
    """

    top: Point
    bottom: Point
    radius: float
    arc: float = 180.0
    centre: float = 0.0
    bottom_radius: float | None = None
    ellipse: float = 0.0

    @classmethod
    def from_box(cls, box: tuple[float, float, float, float], *, arc: float = 180.0,
                 **kwargs: float) -> Cylinder:
        """Upright body: ``box`` = (x0, y0, x1, y1) spans its visible width and the band's height."""
        x0, y0, x1, y1 = box
        cx = 0.5 * (x0 + x1)
        return cls(top=(cx, y0), bottom=(cx, y1), radius=0.5 * (x1 - x0), arc=arc, **kwargs)

    def validate(self) -> None:
        r1 = self.radius if self.bottom_radius is None else self.bottom_radius
        length = float(np.hypot(self.bottom[0] - self.top[0], self.bottom[1] - self.top[1]))
        if not (self.radius > 0 and r1 > 0 and length > 0):
            raise ImagingError(f"cylinder needs positive radii and a non-zero axis, got {self}")
        if not 0 < self.arc <= 360 or not 0 <= self.ellipse < 1:
            raise ImagingError(f"cylinder arc must be in (0, 360] deg and ellipse in [0, 1), got {self}")

    def frame(self) -> tuple[np.ndarray, np.ndarray, float]:
        """Axis unit vector (top -> bottom), its right-hand normal (screen), and the band length."""
        axis = np.subtract(self.bottom, self.top).astype(np.float64)
        length = float(np.hypot(*axis))
        axis /= length
        return axis, np.array([axis[1], -axis[0]]), length  # normal: screen-right for a downward axis

    def radius_at(self, v: np.ndarray) -> np.ndarray:
        r1 = self.radius if self.bottom_radius is None else self.bottom_radius
        return self.radius + (r1 - self.radius) * np.clip(v, 0.0, 1.0)


def project(cyl: Cylinder, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Image position of the design point (u, v) (front side; NaN where it is behind the body)."""
    cyl.validate()
    u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
    axis, normal, length = cyl.frame()
    theta = np.radians(cyl.centre + (u - 0.5) * cyl.arc)
    r = cyl.radius_at(v)
    along = v * length + cyl.ellipse * r * np.cos(theta)
    side = r * np.sin(theta)
    hidden = np.cos(theta) < 0
    x = cyl.top[0] + along * axis[0] + side * normal[0]
    y = cyl.top[1] + along * axis[1] + side * normal[1]
    return np.where(hidden, np.nan, x), np.where(hidden, np.nan, y)


@dataclass(frozen=True)
class CylinderMap:
    """Per output pixel: where to sample the design, how much of it shows, how lit it is."""

    map_x: np.ndarray  # float32 (h, w): design column (pixel centres at integers); outside: < -1
    map_y: np.ndarray  # float32 (h, w): design row
    coverage: np.ndarray  # float32 (h, w) 0-1: on the body's front (anti-aliased silhouette) and band
    shade: np.ndarray  # float32 (h, w): 1 - falloff * (1 - cos theta), 1 where the body faces the camera


def _invert(cyl: Cylinder, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, ...]:
    """(theta, v, silhouette distance in px) of image points; two fixed-point steps for taper/ellipse."""
    axis, normal, length = cyl.frame()
    dx, dy = xs - cyl.top[0], ys - cyl.top[1]
    along = dx * axis[0] + dy * axis[1]
    side = dx * normal[0] + dy * normal[1]
    v = along / length
    for _ in range(3):
        r = cyl.radius_at(v)
        theta = np.arcsin(np.clip(side / r, -1.0, 1.0))
        v = (along - cyl.ellipse * r * np.cos(theta)) / length
    return theta, v, cyl.radius_at(v) - np.abs(side)


def cylinder_map(design_size: tuple[int, int], cyl: Cylinder, out_size: tuple[int, int], *,
                 falloff: float = 0.35) -> CylinderMap:
    """Inverse map from the photo (``out_size`` = (w, h)) to a ``design_size`` = (w, h) design.

    ``u = (arcsin(offset / r) - centre) / arc + 0.5`` across, ``v`` = position
    along the axis in the band. Pixels off the body, above/below the band or
    beyond the design's arc get map values < -1 (transparent in ``cv2.remap``);
    the visible arc ends at the silhouette. ``falloff`` (0 = off) darkens
    toward the silhouette with the cosine of the surface's angle to the camera.
    """
    return _map_box(design_size, cyl, (0, 0, int(out_size[0]), int(out_size[1])), falloff=falloff)


def _map_box(design_size: tuple[int, int], cyl: Cylinder, box: tuple[int, int, int, int], *,
             falloff: float) -> CylinderMap:
    """:func:`cylinder_map` of the photo's pixels in ``box`` = (x0, y0, x1, y1) only (same values)."""
    cyl.validate()
    dw, dh = design_size
    x0, y0, x1, y1 = box
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    theta, v, edge = _invert(cyl, xs, ys)
    u = (np.degrees(theta) - cyl.centre) / cyl.arc + 0.5
    on_body = edge > -0.5
    map_x = np.where(on_body, u * dw - 0.5, _OUTSIDE).astype(np.float32)
    map_y = np.where(on_body, v * dh - 0.5, _OUTSIDE).astype(np.float32)
    # Coverage: the silhouette anti-aliased over 1 px; the band's and design's own edges
    # are anti-aliased by the bilinear sampling of the (transparent-bordered) design.
    coverage = np.clip(edge + 0.5, 0.0, 1.0).astype(np.float32)
    shade = (1.0 - float(falloff) * (1.0 - np.cos(theta))).astype(np.float32)
    return CylinderMap(map_x, map_y, coverage, shade)


def _band_box(cyl: Cylinder, size: tuple[int, int], margin: int) -> tuple[int, int, int, int]:
    """Pixel box (x0, y0, x1, y1) holding the band's front (its outline +- the rims' ellipse), clipped to the image."""
    axis, normal, _ = cyl.frame()
    r1 = cyl.radius if cyl.bottom_radius is None else cyl.bottom_radius
    pts = np.array([np.asarray(centre) + side * r * normal + along * cyl.ellipse * r * axis
                    for centre, r in ((cyl.top, cyl.radius), (cyl.bottom, r1))
                    for side in (-1.0, 1.0) for along in (-1.0, 1.0)])
    w, h = size
    x0, y0 = (int(np.floor(c)) - margin for c in pts.min(axis=0))
    x1, y1 = (int(np.ceil(c)) + margin + 1 for c in pts.max(axis=0))
    return max(0, x0), max(0, y0), min(w, max(x1, 0)), min(h, max(y1, 0))


def _prefiltered(design: Image.Image, cyl: Cylinder) -> Image.Image:
    """Downscale a design much larger than its footprint (at the front) so remap does not alias."""
    _, _, length = cyl.frame()
    across = max(cyl.radius, cyl.bottom_radius or 0.0) * np.radians(cyl.arc)
    scale = max(across / design.width, length / design.height)
    if scale >= 0.8:
        return design
    size = (max(2, round(design.width * scale * 1.25)), max(2, round(design.height * scale * 1.25)))
    return design.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)


def _body_light(y: np.ndarray, radius: float) -> np.ndarray:
    """The body's light without marks narrower than ~6% of its radius (an old print's lines, text,
    dust): a morphological opening then closing, which keeps broad highlights and shading."""
    k = 2 * max(1, int(round(0.03 * radius))) + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    y = np.ascontiguousarray(y, dtype=np.float32)
    opened = cv2.morphologyEx(y, cv2.MORPH_OPEN, kernel, borderType=cv2.BORDER_REPLICATE)
    return cv2.morphologyEx(opened, cv2.MORPH_CLOSE, kernel, borderType=cv2.BORDER_REPLICATE)


def prepare_wrap(product_rgba: Image.Image, design_rgba: Image.Image, cyl: Cylinder, *,
                 shading: np.ndarray | None = None, falloff: float = 0.35, opacity: float = 1.0,
                 finish: str = "print") -> DesignLayer:
    """Everything of :func:`wrap_design` that does not depend on the product's colour.

    Returns a :class:`DesignLayer` (blend "shade") that :func:`apply_design` prints on the
    photo or any recolour of it. Besides the cosine ``falloff``, the ink follows the body's
    light in ``shading`` (a luminance field of the photo, :func:`luminance_field`; None: the
    product photo's own): its shading, darkening the ink, and its highlights, added on top. The
    shading is taken at the body's scale (a fraction of its radius), so a glaze's reflections
    and the body's light come through and small marks on it (an old print) do not.
    ``finish`` is one of :data:`FINISHES` (see :func:`prepare_design`).
    """
    fin = _check_finish(finish)
    if design_rgba.width < 1 or design_rgba.height < 1:
        raise ImagingError("design image is empty")
    cyl.validate()
    design = _prefiltered(design_rgba.convert("RGBA"), cyl)
    base = rgba_array(product_rgba)
    h, w = base.shape[:2]
    scale = float(max(w, h))
    field = luminance_field(base) if shading is None else np.asarray(shading, np.float32)
    if field.shape != (h, w):
        raise ImagingError(f"shading field shape {field.shape} does not match the image {w}x{h}")
    box = _band_box(cyl, (w, h), 3 + _finish_pad(fin, scale))
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:  # the band lies outside the photo
        return DesignLayer((0, 0, 0, 0), np.zeros((0, 0, 1), np.float32), np.zeros((0, 0, 3), np.float32), "shade")
    cmap = _map_box(design.size, cyl, box, falloff=falloff)
    src = np.asarray(design, dtype=np.float32) / 255.0
    src[..., :3] *= src[..., 3:4]  # premultiplied: no dark fringes where alpha is interpolated
    warped = cv2.remap(src, cmap.map_x, cmap.map_y, cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    patch_alpha = base[y0:y1, x0:x1, 3].astype(np.float32) / 255.0
    alpha = warped[..., 3] * cmap.coverage * float(np.clip(opacity, 0, 1))
    inside = (patch_alpha >= 0.5) & (cmap.coverage >= 0.5)
    r = max(cyl.radius, cyl.bottom_radius or 0.0)
    ink, alpha = _finish_layer(_unpremultiply(warped), alpha, _body_light(field[y0:y1, x0:x1], r), inside, fin,
                               1.0, scale, sep=max(3.0, 0.04 * r), texture=0.25,
                               extra=np.log(np.maximum(cmap.shade, 1e-3)))
    alpha = alpha * patch_alpha
    return DesignLayer(box, alpha[..., None].astype(np.float32), _encode_srgb(ink).astype(np.float32), "shade")


def wrap_design(product_rgba: Image.Image, design_rgba: Image.Image, cyl: Cylinder, *,
                shading: np.ndarray | None = None, falloff: float = 0.35, opacity: float = 1.0,
                finish: str = "print") -> Image.Image:
    """Print ``design_rgba`` around the cylinder ``cyl`` of the product photo.

    The design spans ``cyl.arc`` degrees and the band's height (stretched to
    it: give the arc / band that match the design's aspect), is shaded by the
    cosine falloff and the photo's own light (``shading``, see
    :func:`prepare_wrap`), clipped to the silhouette and to the product's
    alpha, and composited over the photo (sRGB, like ``apply_design``).
    """
    layer = prepare_wrap(product_rgba, design_rgba, cyl, shading=shading, falloff=falloff, opacity=opacity,
                         finish=finish)
    return apply_design(product_rgba, layer)
