"""Old prints on product photos: find the print a photo already carries where the
new design goes, and paint it out with the surrounding fabric.

Detection (:func:`find_old_print`) works inside the print area (dilated a
little) or, without one, inside the whole silhouette:

1. *Candidates*: opaque pixels that are not the garment's colour. That is
   the dye mask (:func:`~mockups.imaging.estimate_dye_mask`) after
   :func:`~mockups.imaging._shading.consolidate_dye_mask` has re-admitted
   shadowed fabric, below 0.5, or fine detail that stands out from the
   fabric right around it (a local reference colour, normalised convolution
   of the fabric pixels with a small Gaussian). The second cue catches thin
   light lines on saturated glossy colours, which the dye mask half admits
   as highlights.
2. *Specks* (JPEG noise, weave knots) under a few pixels are dropped; the
   rest is grouped by a closing (letters of a word, the strokes of a logo).
3. Each group is *judged against the fabric ring around it* with a
   shading-aware distance: chromaticity ``(a*, b*) / (L* + 16)`` compared in
   the ring's chroma units plus the log-luminance ratio. A fold or shadow keeps
   the fabric's chromaticity and only loses light, so it scores low; a print
   differs in chromaticity or is far darker or lighter than any fold makes
   fabric. Groups too faint or too small, and groups hugging the
   silhouette's outline (a differently coloured lining, a handle, a trim: parts,
   not prints), are dropped.

Removal (:func:`remove_old_print`) inpaints a crop around the mask with
OpenCV and keeps only the low-pass of the result (inpainting smears texture
into streaks): Navier-Stokes near the mask's edge (it overshoots less than
Telea where the fabric's shading runs up to a thin stroke), Telea deeper
inside (it fills large holes smoothly where Navier-Stokes leaves blocky
steps). Texture comes back as
spot noise with the statistics of the fabric around: the median luminance
power spectrum of many small clean windows nearby (robust to the odd seam or
fold edge among them), seeded white noise shaped by it, scaled to the
windows' variance and spread over the channels by their regression on
luminance. Everything is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from mockups.imaging._colour import srgb_to_lab
from mockups.imaging._common import ImagingError, rgba_array
from mockups.imaging._shading import consolidate_dye_mask

__all__ = ["OldPrint", "find_old_print", "remove_old_print"]

#: Shading-aware distance (see :func:`_fabric_distance`) from which a group
#: counts as a print: below _CONTRAST_LOW it is fabric in shadow or light,
#: from _CONTRAST_HIGH certainly a print.
_CONTRAST_LOW = 8.0
_CONTRAST_HIGH = 16.0
#: Fine-detail cue: distance to the local fabric colour from which a pixel is a candidate.
_DETAIL = 12.0
_DETAIL_WINDOW = 15
#: Fraction of a group's outline within a few pixels of the background from
#: which it is a part of the product (lining, handle, trim), not a print.
_OUTLINE_PART = 0.3
_SEED = 0x5EED


@dataclass(frozen=True)
class OldPrint:
    """What :func:`find_old_print` found."""

    mask: np.ndarray  # float32 (H, W) 0-1: the old print, dilated over its anti-aliased rim
    confidence: float  # 0-1: that there is a print there
    coverage: float  # fraction of the print area (or of the product, without one) the print covers
    reason: str  # what was found (and what to mind); "" when nothing was


# ---------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------


def _unit_mask(mask: np.ndarray, shape: tuple[int, int], what: str) -> np.ndarray:
    """A mask (bool, uint8 0-255 or float 0-1) as float32 0-1, checked against ``shape`` (H, W)."""
    if isinstance(mask, Image.Image):
        raise ImagingError(f"{what} must be a numpy array, got a PIL image (use np.asarray(image.convert('L')))")
    a = np.asarray(mask)
    if a.shape != shape:
        raise ImagingError(f"{what} shape {a.shape} does not match the image's {shape} (H, W)")
    if a.dtype == np.bool_:
        return a.astype(np.float32)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / np.float32(255.0)
    if not np.issubdtype(a.dtype, np.number):
        raise ImagingError(f"{what} must be numeric, got dtype {a.dtype}")
    a = a.astype(np.float32)
    if not np.all(np.isfinite(a)):
        raise ImagingError(f"{what} has NaN or infinite values")
    if a.size and (a.min() < -1e-3 or a.max() > 1.0 + 1e-3):
        raise ImagingError(f"{what} must be uint8 0-255 or float 0-1, got values {a.min():g}..{a.max():g}")
    return np.clip(a, 0.0, 1.0)


def _area_mask(area: Sequence[Sequence[float]], size: tuple[int, int]) -> np.ndarray:
    """The print area (4 corners) rasterised as a bool (H, W) mask."""
    try:
        quad = np.asarray(area, dtype=np.float64)
    except (TypeError, ValueError):
        raise ImagingError(f"print area corners are not numeric: {area!r}") from None
    if quad.shape != (4, 2) or not np.all(np.isfinite(quad)):
        raise ImagingError(f"print area needs 4 finite (x, y) corners, got {area!r}")
    twice = float(np.sum(quad[:, 0] * np.roll(quad[:, 1], -1) - np.roll(quad[:, 0], -1) * quad[:, 1]))
    if abs(twice) < 8.0:
        raise ImagingError(f"print area has no size: {quad.tolist()}")
    canvas = Image.new("L", size, 0)
    ImageDraw.Draw(canvas).polygon([(float(x), float(y)) for x, y in quad], fill=255)
    return np.asarray(canvas) > 0


# ---------------------------------------------------------------------------
# Detection
# ---------------------------------------------------------------------------


def _fabric_distance(lab: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Shading-aware distance of ``lab`` (..., 3) from the fabric colour ``ref`` (same shape or (3,)).

    As :func:`~mockups.imaging.estimate_dye_mask` measures it: chromaticity
    compared after scaling out the lightness (a shadow scales L*+16, a* and b*
    together) plus 7x the log-luminance ratio (a fold halving the light
    counts ~5, a black print on white ~24). Dark fabric gets a floor under
    L* so that noisy blacks do not explode the ratio. A saturated dye's
    shadow (darker, within 20 degrees of its hue, >= 0.6x its chroma: cameras
    keep saturated shadows saturated, which the scaling would blow up) counts 0.
    """
    ref = np.broadcast_to(np.asarray(ref, dtype=np.float32), lab.shape)
    rl = np.maximum(ref[..., 0], 0.0)
    lightness = np.maximum(lab[..., 0], 0.0)
    scale = (rl + 16.0) / (lightness + 16.0)
    floor = 16.0 + np.maximum(0.0, 35.0 - rl)
    ratio = 21.0 * np.abs(np.log((lightness + floor) / (rl + floor)))
    da = lab[..., 1] * scale - ref[..., 1]
    db = lab[..., 2] * scale - ref[..., 2]
    dist = np.sqrt(ratio * ratio + da * da + db * db)
    ref_c = np.hypot(ref[..., 1], ref[..., 2])
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    gap = np.abs(np.angle(np.exp(1j * (np.arctan2(lab[..., 2], lab[..., 1]) - np.arctan2(ref[..., 2], ref[..., 1])))))
    shadow = (lightness < rl) & (ref_c >= 10.0) & (chroma >= 0.6 * ref_c) & (gap < np.radians(20.0))
    return np.where(shadow, 0.0, dist).astype(np.float32)


def _fill_background(rgb: np.ndarray, solid: np.ndarray) -> np.ndarray:
    """``rgb`` (uint8) with every pixel off the product (``solid`` False) given the nearest product
    pixel's colour, so that filters and inpainting near the outline see no backdrop."""
    import cv2

    rgb = np.ascontiguousarray(rgb)
    if solid.all() or not solid.any():
        return rgb
    _, nearest = cv2.distanceTransformWithLabels((~solid).view(np.uint8), cv2.DIST_L2, 3,
                                                 labelType=cv2.DIST_LABEL_PIXEL)
    ys, xs = np.nonzero(solid)
    table = np.zeros((int(nearest.max()) + 1, 3), np.uint8)
    table[nearest[ys, xs]] = rgb[ys, xs]
    return table[nearest]


def _local_fabric(rgb: np.ndarray, solid: np.ndarray, size: int) -> np.ndarray:
    """Local fabric colour (Lab): the median of a ``size`` px window, robust to strokes thinner
    than half of it and sharp at fold edges."""
    import cv2

    return srgb_to_lab(cv2.medianBlur(_fill_background(rgb, solid), max(3, int(size) | 1)))


def _disk(radius: int) -> np.ndarray:
    import cv2

    r = max(1, int(radius))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def _grow(mask: np.ndarray, radius: float) -> np.ndarray:
    """``mask`` (bool) dilated by a disk of ``radius`` px (a distance transform: any radius, same cost)."""
    import cv2

    if not mask.any():
        return mask.copy()
    if radius <= 3:
        return cv2.dilate(mask.view(np.uint8), _disk(round(radius))) > 0
    return cv2.distanceTransform((~mask).view(np.uint8), cv2.DIST_L2, 5) <= radius


def _smooth01(x: float) -> float:
    t = min(max(x, 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


def find_old_print(rgba: Image.Image, dye_mask: np.ndarray,
                   area: Sequence[Sequence[float]] | None = None) -> OldPrint:
    """Find the print a product photo already carries (in ``area`` or anywhere on the product).

    ``rgba``: the product (RGBA; alpha >= 0.5 is the product). ``dye_mask``:
    (H, W) uint8 0-255 or float 0-1, where the garment's own colour is (as
    :func:`~mockups.imaging.estimate_dye_mask` returns it). ``area``: the
    print area's 4 (x, y) corners; the search covers it, dilated a little,
    or the whole silhouette when ``None``. A print reaching a little past the
    area is taken whole; what runs on beyond that (a drawstring, a strap) is
    cut at the area's edge.
    """
    import cv2

    arr = rgba_array(rgba)
    h, w = arr.shape[:2]
    dye = _unit_mask(dye_mask, (h, w), "dye mask")
    solid = arr[..., 3] >= 128
    if not solid.any():
        raise ImagingError("product has no opaque pixels to look for a print on")
    if area is not None:
        inside = _area_mask(area, (w, h))
        if not (inside & solid).any():
            raise ImagingError("print area does not overlap the product")
        drawn = inside
        ys, xs = np.nonzero(inside)
        extent = max(int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)
        inside = _grow(inside, max(3, round(0.03 * extent)))
        if not (inside & solid).any():
            raise ImagingError("print area does not overlap the product")
        reach = _grow(inside, max(8, round(0.1 * extent)))
    else:
        drawn = inside = reach = np.ones((h, w), dtype=bool)
    # Crop to what is searched (plus a margin for the fabric rings) for speed.
    ys, xs = np.nonzero(reach & solid)
    extent = max(int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)
    margin = max(16, round(0.05 * extent))
    y0, y1 = max(0, int(ys.min()) - margin), min(h, int(ys.max()) + 1 + margin)
    x0, x1 = max(0, int(xs.min()) - margin), min(w, int(xs.max()) + 1 + margin)
    box = (slice(y0, y1), slice(x0, x1))

    cons = consolidate_dye_mask(Image.fromarray(np.ascontiguousarray(arr[box]), "RGBA"), dye[box])
    c_solid = solid[box]
    # Away from the silhouette's rim: a matte's edge is background-tinted, not print.
    body = cv2.erode(c_solid.view(np.uint8), _disk(2), borderType=cv2.BORDER_REPLICATE) > 0
    region = inside[box] & body
    c_reach = reach[box] & body
    region_px = max(1, int(np.count_nonzero(region)))
    lab = srgb_to_lab(arr[box][..., :3])
    fabric = c_solid & (cons >= 0.5)

    # 1. candidates: not the garment's colour, or fine detail standing out from the fabric around it
    local = _local_fabric(arr[box][..., :3], c_solid, max(9, round(_DETAIL_WINDOW * max(h, w) / 1200)))
    cand = c_reach & ((cons < 0.5) | (_fabric_distance(lab, local) >= _DETAIL))

    # 2. specks out, strokes grouped
    speck = max(8, round(6e-6 * h * w))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(cand.view(np.uint8), connectivity=8)
    big = np.zeros(n, dtype=bool)
    big[1:] = stats[1:, cv2.CC_STAT_AREA] >= speck
    cand = big[labels]
    group_r = max(2, round(0.008 * extent))
    closed = (cv2.morphologyEx(cand.view(np.uint8), cv2.MORPH_CLOSE, _disk(group_r)) > 0) & (c_reach | cand)
    n, groups, stats, _ = cv2.connectedComponentsWithStats(closed.view(np.uint8), connectivity=8)

    # 3. each group judged against the fabric ring around it
    min_group = max(24, round(1.5e-4 * region_px))
    not_solid = (~c_solid).view(np.uint8)
    edge = cv2.dilate(not_solid, _disk(3)) > 0
    band = _grow(~c_solid, max(4, round(0.012 * extent)))
    beyond = _grow(c_solid & ~reach[box], 2)  # past the searched reach
    found = np.zeros_like(cand)
    confidences: list[float] = []
    contrasts: list[float] = []
    parts = cut = 0
    ring_in, ring_out = max(3, group_r), max(8, 3 * group_r)
    pad = ring_out + 2
    small: list[int] = []
    for g in range(1, n):
        gx, gy, gw, gh, _ = (int(v) for v in stats[g])
        sy = slice(max(0, gy - pad), min(closed.shape[0], gy + gh + pad))
        sx = slice(max(0, gx - pad), min(closed.shape[1], gx + gw + pad))
        shape = groups[sy, sx] == g
        pixels = shape & cand[sy, sx]
        count = int(np.count_nonzero(pixels))
        if not (pixels & region[sy, sx]).any():
            continue
        if count < min_group:
            small.append(g)  # an i's dot, an apostrophe, an accent: kept next to a print (below)
            continue
        shape8 = shape.view(np.uint8)
        ring = _grow(shape, ring_out) & ~_grow(shape, ring_in)
        ring &= fabric[sy, sx] & ~cand[sy, sx]
        if np.count_nonzero(ring) < 16:
            continue
        outline = shape & ~(cv2.erode(shape8, _disk(1), borderType=cv2.BORDER_CONSTANT) > 0)
        outline_px = max(1, int(np.count_nonzero(outline)))
        hugging = np.count_nonzero(outline & edge[sy, sx]) > _OUTLINE_PART * outline_px
        if hugging or np.count_nonzero(pixels & band[sy, sx]) > 0.5 * count:
            parts += 1  # a lining, handle, trim or the matte's rim
            continue
        ref = np.median(lab[sy, sx][ring], axis=0)
        contrast = float(np.median(_fabric_distance(lab[sy, sx][pixels], ref)))
        if contrast < _CONTRAST_LOW:
            continue  # fabric in shadow or light
        contrasts.append(contrast)
        confidences.append(_smooth01((contrast - _CONTRAST_LOW) / (_CONTRAST_HIGH - _CONTRAST_LOW))
                           * _smooth01(count / (4.0 * min_group)))
        pixels = _fill_islands(pixels, count, speck)
        if (shape & beyond[sy, sx]).any():  # runs on past the reach: only what is in the area
            pixels &= region[sy, sx]
            cut += 1
        found[sy, sx] |= pixels

    if small and found.any():
        near = _grow(found, max(3 * group_r, round(0.03 * extent)))
        taken = _grow(found, ring_in)
        for g in small:
            gx, gy, gw, gh, _ = (int(v) for v in stats[g])
            sy, sx = slice(gy, gy + gh), slice(gx, gx + gw)
            pixels = (groups[sy, sx] == g) & cand[sy, sx]
            if not (pixels & near[sy, sx]).any():
                continue
            sy2 = slice(max(0, gy - pad), min(closed.shape[0], gy + gh + pad))
            sx2 = slice(max(0, gx - pad), min(closed.shape[1], gx + gw + pad))
            ring = _grow(groups[sy2, sx2] == g, ring_out) & fabric[sy2, sx2] & ~cand[sy2, sx2] & ~taken[sy2, sx2]
            if np.count_nonzero(ring) < 16:
                continue
            ref = np.median(lab[sy2, sx2][ring], axis=0)
            if float(np.median(_fabric_distance(lab[sy, sx][pixels], ref))) >= _CONTRAST_HIGH:
                found[sy, sx] |= pixels & region[sy, sx]

    # the anti-aliased rim and the JPEG ringing around the strokes taken in, with a 1 px feather
    rim = max(2, round(0.004 * max(h, w)))
    core = _grow(found, rim)
    soft = cv2.GaussianBlur(_grow(found, rim + 1).astype(np.float32), (0, 0), 0.7)
    mask_c = np.where(core, 1.0, np.clip(soft, 0.0, 1.0)).astype(np.float32) * c_solid

    mask = np.zeros((h, w), dtype=np.float32)
    mask[box] = mask_c
    # coverage: of the print area as drawn (on the product), by the print itself (not its rim)
    drawn_c = drawn[box] & c_solid
    coverage = float(np.count_nonzero(found & drawn_c)) / max(1, int(np.count_nonzero(drawn_c)))
    confidence = max(confidences, default=0.0)
    notes = []
    if confidences:
        notes.append(f"old print found: {len(confidences)} region(s) covering {coverage:.1%} of the "
                     f"{'print area' if area is not None else 'product'}, contrast to the fabric "
                     f"{max(contrasts):.0f}")
        if cut:
            notes.append(f"{cut} region(s) run on past the print area and were cut at its edge "
                         "(a drawstring, strap or larger artwork?)")
        if parts:
            notes.append(f"{parts} differently coloured part(s) along the outline left alone")
    if area is not None:
        hole_note = _holes(~solid, inside, region_px)
        if hole_note:
            notes.append(hole_note)
    return OldPrint(mask=mask, confidence=float(confidence), coverage=coverage, reason="; ".join(notes))


def _fill_islands(pixels: np.ndarray, count: int, speck: int) -> np.ndarray:
    """``pixels`` with the islands it encloses filled where they are part of the print: specks,
    and islands no wider than the print is thick (a motif in the garment's hue inside a solid
    badge). Fabric seen through line art (a diamond's facets, letter counters) stays fabric:
    inpainting it would only lose the fabric's real shading."""
    import cv2

    n, labels, stats, _ = cv2.connectedComponentsWithStats((~pixels).view(np.uint8), connectivity=4)
    if n <= 2:
        return pixels
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    thick = float(np.percentile(cv2.distanceTransform(pixels.view(np.uint8), cv2.DIST_L2, 3)[pixels], 90))
    width = cv2.distanceTransform((~pixels).view(np.uint8), cv2.DIST_L2, 3)
    inscribed = np.zeros(n, dtype=np.float32)
    np.maximum.at(inscribed, labels.ravel().astype(np.intp), width.ravel())
    area = stats[:, cv2.CC_STAT_AREA]
    fill = (area <= 4 * speck) | ((inscribed <= thick) & (area <= count))
    fill[0] = False
    fill[border] = False
    return pixels | fill[labels]


def _holes(transparent: np.ndarray, inside: np.ndarray, searched: int) -> str:
    """A note when see-through holes enclosed by the product lie wholly inside the print area.

    A light print on a light backdrop is often cut away with the backdrop:
    inpainting cannot bring it back, as alpha is kept. (A mug handle's hole
    reaches out of the area and does not count.)
    """
    import cv2

    n, labels, stats, _ = cv2.connectedComponentsWithStats(transparent.view(np.uint8), connectivity=4)
    if n <= 1:
        return ""
    outside = np.zeros(n, dtype=bool)
    outside[np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])] = True
    outside[labels[transparent & ~inside]] = True
    outside[0] = True
    enclosed = int(stats[~outside, cv2.CC_STAT_AREA].sum())
    if enclosed < max(32, 0.002 * searched):
        return ""
    return (f"the print area has see-through holes ({enclosed / searched:.1%} of it) enclosed by the product: "
            "a light print cut away with the backdrop? Inpainting keeps alpha; give a mask: file")


# ---------------------------------------------------------------------------
# Removal
# ---------------------------------------------------------------------------


def _fabric_texture(high: np.ndarray, ok: np.ndarray, centre: tuple[float, float], seed: int,
                    size: int = 32, windows: int = 64) -> np.ndarray:
    """Texture (H, W, 3) with the statistics of the clean fabric (``ok``) near ``centre``.

    ``high`` is the image's high-pass. The luminance power spectrum is the
    element-wise median over the ``windows`` nearest clean ``size``-px windows
    (half-overlapping; the median shrugs off the few that cross a seam, fold
    edge or stray mark); seeded white noise convolved with its root (spot
    noise: no tiles, no repeats) is scaled to the windows' median variance and
    given to each channel by its regression on luminance. Zeros when no clean
    window fits.
    """
    import cv2

    hh, ww = ok.shape
    size = min(size, hh, ww)
    ii = np.pad(np.cumsum(np.cumsum((~ok).astype(np.int32), axis=0), axis=1), ((1, 0), (1, 0)))
    while size >= 8:
        bad = ii[size:, size:] - ii[:-size, size:] - ii[size:, :-size] + ii[:-size, :-size]
        step = size // 2
        grid = bad[::step, ::step] == 0
        ys, xs = np.nonzero(grid)
        if ys.size >= 4:
            break
        size //= 2
    else:
        return np.zeros(high.shape, np.float32)
    ys, xs = ys * step, xs * step
    d = (ys + size / 2.0 - centre[0]) ** 2 + (xs + size / 2.0 - centre[1]) ** 2
    order = np.argsort(d, kind="stable")[:windows]
    lum = high.mean(axis=2)
    hann = np.outer(np.hanning(size), np.hanning(size))
    spectra, variances = [], []
    samples = []
    for i in order:
        y, x = int(ys[i]), int(xs[i])
        win = lum[y:y + size, x:x + size].astype(np.float64)
        win = win - win.mean()
        variances.append(float(win.var()))
        spectra.append(np.abs(np.fft.fft2(win * hann)) ** 2)
        samples.append(high[y:y + size, x:x + size].reshape(-1, 3))
    power = np.median(np.stack(spectra), axis=0)
    power[0, 0] = 0.0
    kernel = np.fft.fftshift(np.real(np.fft.ifft2(np.sqrt(power)))).astype(np.float32)
    noise = np.random.default_rng(seed).standard_normal((hh, ww)).astype(np.float32)
    field = np.asarray(cv2.filter2D(noise, -1, kernel, borderType=cv2.BORDER_REFLECT), dtype=np.float32)
    field = field * np.float32(np.sqrt(np.median(variances)) / max(float(field.std()), 1e-6))
    px = np.concatenate(samples).astype(np.float64)
    py = px.mean(axis=1)
    gains = (px * py[:, None]).sum(axis=0) / max(float((py * py).sum()), 1e-9)
    return field[..., None] * gains.astype(np.float32)


def remove_old_print(rgba: Image.Image, mask: np.ndarray, *, radius: float | None = None) -> Image.Image:
    """Paint out the old print ``mask`` (H, W; float 0-1, uint8 or bool) with the surrounding fabric.

    The masked pixels are inpainted (OpenCV Navier-Stokes and Telea with a
    neighbourhood of ``radius`` px, by default 1/300 of the image's longer
    side, at least 3) and given texture synthesised from the clean fabric
    nearby; the mask's soft edge blends the two. Pixels where the mask is 0,
    and alpha everywhere, are unchanged. Returns a new RGBA image; the same
    input gives the same bytes.
    """
    import cv2

    arr = rgba_array(rgba)
    h, w = arr.shape[:2]
    m = _unit_mask(mask, (h, w), "print mask")
    if radius is None:
        radius = max(3.0, round(max(h, w) / 300.0))
    try:
        radius = float(radius)
    except (TypeError, ValueError):
        raise ImagingError(f"inpaint radius must be a number, got {radius!r}") from None
    if not np.isfinite(radius) or not 1.0 <= radius <= 100.0:
        raise ImagingError(f"inpaint radius must be between 1 and 100 px, got {radius:g}")
    hole = m > 0
    if not hole.any():
        return Image.fromarray(arr, "RGBA")
    sigma = 1.5  # split between the inpainted low-pass and the synthesised texture
    ys, xs = np.nonzero(hole)
    margin = int(max(48, 4 * radius, 6 * sigma))
    y0, y1 = max(0, int(ys.min()) - margin), min(h, int(ys.max()) + 1 + margin)
    x0, x1 = max(0, int(xs.min()) - margin), min(w, int(xs.max()) + 1 + margin)
    crop = arr[y0:y1, x0:x1]
    rgb = np.ascontiguousarray(crop[..., :3])
    hole_c = hole[y0:y1, x0:x1]
    weight = m[y0:y1, x0:x1]
    opaque = crop[..., 3] >= 250

    # Low-pass: inpainting from a median-cleaned copy (a JPEG ringing pixel at the boundary
    # would otherwise be drawn into the hole as a streak) with the backdrop replaced by the
    # nearest product colour, then blurred. Navier-Stokes within ``band`` px of the mask's edge
    # (less overshoot where the fabric's shading runs up to a thin stroke), Telea deeper
    # inside (smooth over large holes, where Navier-Stokes leaves blocky steps).
    clean = cv2.medianBlur(_fill_background(rgb, crop[..., 3] >= 128), 5)
    hole8 = hole_c.view(np.uint8)
    band = max(4.0, 2.0 * radius)
    edge_fill = cv2.inpaint(clean, hole8, radius, cv2.INPAINT_NS).astype(np.float32)
    deep_fill = cv2.inpaint(clean, hole8, radius, cv2.INPAINT_TELEA).astype(np.float32)
    t = np.clip(cv2.distanceTransform(hole8, cv2.DIST_L2, 3) / band, 0.0, 1.0)[..., None]
    low = cv2.GaussianBlur(edge_fill * (1.0 - t) + deep_fill * t, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)

    # texture: the statistics of the clean fabric nearby, synthesised afresh
    rgb_f = rgb.astype(np.float32)
    high = rgb_f - cv2.GaussianBlur(rgb_f, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    ok = opaque & ~_grow(hole_c, int(3 * sigma) + 2)
    centre = (float(ys.mean()) - y0, float(xs.mean()) - x0)
    texture = _fabric_texture(high, ok, centre, _SEED)
    # texture scales with the light falling on the fabric (relative to the fabric around)
    ring = ok & _grow(hole_c, margin // 2)
    base = np.maximum(np.median(low[ring], axis=0) if ring.any() else low.mean(axis=(0, 1)), 1.0)
    texture = texture * np.clip(low / base, 0.5, 1.5)
    new = np.clip(np.rint(low + texture), 0, 255)
    wgt = weight[..., None]
    out_rgb = np.where(hole_c[..., None], np.rint(wgt * new + (1.0 - wgt) * rgb), rgb).astype(np.uint8)
    out = arr.copy()
    out[y0:y1, x0:x1, :3] = out_rgb
    return Image.fromarray(out, "RGBA")
