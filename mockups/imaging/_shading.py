"""Shading strength by garment colour, and a recolour that matches it (issue #13).

Photographed garments do not shade like a multiplicative dye: a black tee's
folds and sheen span *more* L* than a white tee's (the white one is lit
flat and near clipping; the black one shows specular sheen and sensor/JPEG
noise). Carrying a dark source's shading over at full strength onto a light
dye gives crumpled-foil creases; a light source's mild shading on a dark dye
makes the folds vanish.

Two statistics describe the shading of a dyeable area (see :func:`shading_stats`):

* ``iqr`` - interquartile range of L* (how deep the folds are), and
* ``contrast`` - median gradient magnitude of L* after a 1.5 px blur (how
  busy the texture / crease edges are).

:class:`ShadingModel` predicts both from the colour's L*, up to a per-garment
factor that cancels (only ratios between colours of one garment are used):
``FABRIC`` (fitted on real tees and hoodies photographed in several colours)
has IQR ~ (L* + 16) ** -1.10 and contrast ~ exp(-0.0139 L*).

:func:`recolour_matched` first gives shadowed fabric its full dye weight
(:func:`consolidate_dye_mask`: ``estimate_dye_mask`` leaves the deep creases
of dark and saturated garments out, so they kept their old colour), splits
the source's shading into folds (low-pass) and texture (the rest) and picks
one gain for each so that the recoloured area has the model's strength for
the target colour; the rest (mid-tone = target colour, soft roll-off,
chroma) is :func:`mockups.imaging.recolour`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from mockups.imaging._colour import (
    RecolourPrep,
    _mask_array,
    _quantise,
    hex_to_lab,
    prepare_recolour,
    recolour,
    shade_lab,
    srgb_to_lab,
)
from mockups.imaging._common import ImagingError, dilate, erode, gaussian_blur, interp_increasing, median, rgba_array

__all__ = [
    "ShadingStats",
    "ShadingModel",
    "FABRIC",
    "GLAZE",
    "StrengthLaw",
    "shading_stats",
    "consolidate_dye_mask",
    "MatchedPrep",
    "prepare_matched",
    "matched_shading",
    "recolour_prepared",
    "recolour_matched",
]

CONTRAST_SIGMA = 1.5  # px: the "small blur" before the gradient of `shading_stats`
_MAX_GAIN = 8.0
_MIN_GAIN = 0.02
#: Amplified texture (gain > 1) stays within this factor of the fold gain: a
#: smooth source (a rendered asset) has no texture to amplify, only seams and
#: edges, which would turn into bright lines. Real photos need <= 1.45 (eval_shading.py).
_TEXTURE_BOOST = 1.6


@dataclass(frozen=True)
class ShadingStats:
    """Strength of the shading of an area: L* spread and local (fold/texture) contrast."""

    median_l: float
    iqr: float  # L* p75 - p25
    contrast: float  # median |grad L*| after a CONTRAST_SIGMA blur, L* per px


def shading_stats(lightness: np.ndarray, region: np.ndarray, *,
                  sigma: float = CONTRAST_SIGMA) -> ShadingStats:
    """:class:`ShadingStats` of the L* image ``lightness`` over the bool ``region``.

    Pixels outside ``region`` are set to its median before blurring, so a
    region eroded by >= 3 px is unaffected by the background.
    """
    region = np.asarray(region, dtype=bool)
    if region.shape != lightness.shape or np.count_nonzero(region) < 16:
        raise ImagingError("shading statistics need a region of at least 16 pixels of the image's shape")
    values = lightness[region]
    p25, p50, p75 = (float(v) for v in np.percentile(values, [25, 50, 75]))
    filled = np.where(region, lightness, np.float32(p50)).astype(np.float32)
    gy, gx = np.gradient(gaussian_blur(filled, sigma))
    contrast = float(median(np.hypot(gx, gy)[region]))
    return ShadingStats(median_l=p50, iqr=p75 - p25, contrast=contrast)


_FORMS = ("power", "exp")


@dataclass(frozen=True)
class StrengthLaw:
    """How one shading statistic of a garment depends on its colour's lightness.

    ``log strength = a_garment + slope * phi(L*)`` with ``phi = ln(L* + 16)``
    (``form="power"``: strength ~ (L* + 16) ** slope) or ``phi = L* - 50``
    (``form="exp"``: strength ~ exp(slope * L*)). The per-garment ``a`` cancels in
    :meth:`ratio`; ``scale_max`` is the largest ``exp(a)`` of the fit (the most
    strongly shaded garment seen), for :meth:`ceiling`.
    """

    form: str
    slope: float
    scale_max: float | None = None

    def phi(self, lightness: float | np.ndarray) -> float | np.ndarray:
        if self.form not in _FORMS:
            raise ImagingError(f"unknown strength law {self.form!r} (use {' or '.join(_FORMS)})")
        return np.log(lightness + 16.0) if self.form == "power" else lightness - 50.0

    def ratio(self, source_l: float, target_l: float) -> float:
        """Strength at ``target_l`` relative to ``source_l`` (both L*, already clipped)."""
        return float(np.exp(self.slope * (self.phi(target_l) - self.phi(source_l))))

    def ceiling(self, lightness: float, margin: float) -> float:
        """``margin`` x the strength of the most strongly shaded fitted garment at ``lightness``."""
        if self.scale_max is None:
            return float("inf")
        return float(margin * self.scale_max * np.exp(self.slope * self.phi(lightness)))

    @classmethod
    def fit(cls, form: str, samples: list[tuple[str, float, float]]) -> StrengthLaw:
        """Least squares over (garment id, L*, strength) with one intercept per garment."""
        groups = sorted({g for g, _, _ in samples})
        x = np.zeros((len(samples), len(groups) + 1))
        for i, (g, lightness, _) in enumerate(samples):
            x[i, groups.index(g)] = 1.0
            x[i, -1] = cls(form, 0.0).phi(lightness)
        if np.linalg.matrix_rank(x) < x.shape[1]:
            raise ImagingError("the fit needs at least two colours of one garment")
        coef = np.linalg.lstsq(x, np.log([v for _, _, v in samples]), rcond=None)[0]
        return cls(form, float(coef[-1]), float(np.exp(coef[:-1].max())))


@dataclass(frozen=True)
class ShadingModel:
    """Shading strength (L* IQR and local contrast) of a garment by the L* of its colour.

    L* is clipped to ``[l_min, l_max]``, the range the laws were fitted on. A
    source shaded more strongly than any fitted garment (a rendered asset, a
    harsh studio light) is not extrapolated further: the target IQR stays
    within ``ceiling_margin`` x the most strongly shaded garment's (or the
    source's own IQR, if that is higher). Contrast has no ceiling: it depends
    on the photo's resolution.
    """

    iqr: StrengthLaw
    contrast: StrengthLaw
    l_min: float = 20.0
    l_max: float = 96.0
    ceiling_margin: float = 1.25

    def ratio(self, source_l: float, target_l: float) -> tuple[float, float]:
        """(IQR, contrast) of the garment in the target colour relative to the source colour."""
        s, t = (float(np.clip(v, self.l_min, self.l_max)) for v in (source_l, target_l))
        return self.iqr.ratio(s, t), self.contrast.ratio(s, t)

    def target_stats(self, source: ShadingStats, target_l: float) -> ShadingStats:
        """Statistics the garment of ``source`` would show if it were dyed to ``target_l``."""
        r_iqr, r_con = self.ratio(source.median_l, target_l)
        ceiling = self.iqr.ceiling(float(np.clip(target_l, self.l_min, self.l_max)), self.ceiling_margin)
        iqr = min(source.iqr * r_iqr, max(ceiling, source.iqr))
        return ShadingStats(median_l=float(target_l), iqr=iqr, contrast=source.contrast * r_con)

    @classmethod
    def fit(cls, samples: list[tuple[str, ShadingStats]], *, iqr_form: str = "power",
            contrast_form: str = "exp", l_min: float = 20.0, l_max: float = 96.0) -> ShadingModel:
        """Fit both laws to (garment id, measured stats) of >= 2 colours of at least one garment."""
        def law(form: str, attr: str) -> StrengthLaw:
            rows = [(g, float(np.clip(s.median_l, l_min, l_max)), getattr(s, attr)) for g, s in samples]
            return StrengthLaw.fit(form, rows)
        return cls(law(iqr_form, "iqr"), law(contrast_form, "contrast"), l_min, l_max)


#: Fitted on the ground-truth tees (white/black/blue) and hoodies (red/black), see
#: eval_shading.py: the L* spread of folds goes ~ (L* + 16) ** -1.10, the local
#: contrast ~ exp(-0.0139 L*) (halves every 50 L*): dark garments shade more
#: strongly than light ones. The tee is the more strongly shaded garment:
#: IQR = 657 (L* + 16) ** -1.10 (8.8 at black, 3.5 at white).
FABRIC = ShadingModel(iqr=StrengthLaw("power", -1.10, scale_max=657.0), contrast=StrengthLaw("exp", -0.0139))

#: Glazed ceramic (mugs): the shading is reflections of the studio, not light
#: scattered by the dye, so its strength does not follow the colour (the red
#: and the black mug's L* IQR agree within 10 %). One pair only: not validated.
GLAZE = ShadingModel(iqr=StrengthLaw("power", 0.0), contrast=StrengthLaw("exp", 0.0))


def _saturated_shadow(lab: np.ndarray, ref: np.ndarray, hue_tolerance: float) -> np.ndarray:
    """Pixels that look like the saturated dye ``ref`` in shadow.

    Cameras keep a saturated dye saturated in its shadows, the hue shifting a
    little: darker, within ``hue_tolerance`` degrees and >= 0.6x its chroma
    (deep shadows cannot be that saturated unless they are the dye). Nothing
    for a neutral dye (chroma < 10): its shadows look like grey or black prints.
    """
    ref_c = float(np.hypot(ref[1], ref[2]))
    if ref_c < 10.0:
        return np.zeros(lab.shape[:2], dtype=bool)
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    gap = np.angle(np.exp(1j * (np.arctan2(lab[..., 2], lab[..., 1]) - np.arctan2(ref[2], ref[1]))))
    return (lab[..., 0] < ref[0]) & (np.degrees(np.abs(gap)) < hue_tolerance) & (chroma > 0.6 * ref_c)


def consolidate_dye_mask(rgba: Image.Image, dye_mask: np.ndarray | Image.Image, *,
                         clearance: int = 3, hue_tolerance: float = 20.0) -> np.ndarray:
    """Give shadowed fabric the full dye weight (float32 mask, 0-1).

    :func:`estimate_dye_mask` leaves deep creases partly or wholly out: on dark
    fabric (noisy JPEG shadows) they get weights of ~0.3-0.6, on saturated dyes
    (a blue tee's creases are darker *and* more saturated) 0. ``recolour`` then
    keeps their old colour: black or blue creases on a white shirt. Raised to 1:

    * partial pixels darker than the median, over ``clearance`` px from any
      excluded pixel (weight < 0.1: prints, trims, background), and
    * opaque pixels that look like a saturated dye in shadow (:func:`_saturated_shadow`).

    Excluded grey/black prints on neutral fabric stay out. A print of a
    saturated dye's own hue, only darker (navy on royal blue), is taken in:
    give such products an explicit recolour mask and ``consolidate=False``.
    """
    arr = rgba_array(rgba)
    mask = _mask_array(dye_mask, rgba.size)
    solid = (mask >= 0.5) & (arr[..., 3] >= 128)
    if not solid.any():
        return mask
    lab = srgb_to_lab(arr[..., :3])
    ref = np.median(lab[solid], axis=0)
    partial = (mask > 0) & (lab[..., 0] < ref[0]) & ~dilate(mask < 0.1, clearance)
    shadow = _saturated_shadow(lab, ref, hue_tolerance) & (arr[..., 3] >= 128)
    return np.where(partial | shadow, 1.0, mask).astype(np.float32)


@dataclass(frozen=True)
class MatchedPrep:
    """Per-product precomputation for :func:`recolour_prepared` (colour-independent)."""

    prep: RecolourPrep  # of the consolidated mask; prep.shading = low + high
    low: np.ndarray  # float32 per selected pixel: low-pass (folds) part of the shading
    high: np.ndarray  # float32 per selected pixel: the rest (texture, sheen speckle, noise)
    solid: np.ndarray  # bool per selected pixel: weight >= 0.5 (the mid-tone reference)
    region: np.ndarray  # bool (y1-y0, x1-x0): where the statistics are measured
    source: ShadingStats  # of the photo itself over ``region``
    sample: _Sample | None = None  # the bands of rows the gain search measures on (None: all of them)


@dataclass(frozen=True)
class _Sample:
    """Bands of rows of the crop that :func:`matched_shading` measures its candidates on.

    The search renders each candidate's L* several times; doing so on every pixel of a large
    photo costs most of a colour's time. Every third band of ``BAND`` rows is as good a sample
    of the L* spread and of the local contrast (a per-pixel gradient after a small blur) as all
    of them: each band is measured only ``MARGIN`` rows inside its edges, so the blur never
    reaches across to the next band."""

    pick: np.ndarray  # int indices into the per-selected-pixel vectors of the pixels in the bands
    where: tuple[np.ndarray, np.ndarray]  # their (row, col) in the stacked bands
    region: np.ndarray  # bool (rows, w): where the statistics are measured in the stacked bands


_BAND, _MARGIN, _EVERY = 48, 6, 3


def _sample(prep: RecolourPrep, region: np.ndarray) -> _Sample | None:
    h = region.shape[0]
    if h < 4 * _BAND * _EVERY:
        return None  # small: measure everything
    rows = np.concatenate([np.arange(y, min(y + _BAND, h)) for y in range(0, h, _BAND * _EVERY)])
    inner = np.concatenate([(np.arange(len(r)) >= _MARGIN) & (np.arange(len(r)) < len(r) - _MARGIN)
                            for r in np.split(rows, np.flatnonzero(np.diff(rows) != 1) + 1)])
    index = np.full(prep.select.shape, -1, np.int64)
    index[prep.select] = np.arange(int(np.count_nonzero(prep.select)))
    sub = index[rows]
    r, c = np.nonzero(sub >= 0)
    sample_region = region[rows] & inner[:, None]
    if np.count_nonzero(sample_region) < 0.1 * np.count_nonzero(region) or np.count_nonzero(sample_region) < 64:
        return None
    return _Sample(pick=sub[r, c], where=(r, c), region=sample_region)


def _split(shading: np.ndarray, prep: RecolourPrep, solid: np.ndarray,
           sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Folds (normalised Gaussian low-pass) and the residual of the shading field.

    Pixels within 2 px of excluded ones (print rims, the silhouette) do not feed
    the low-pass, so a bright print edge cannot spread a glow over the fabric;
    their own deviation lands in the residual.
    """
    shape = prep.select.shape
    weight = np.zeros(shape, np.float32)
    weight[prep.select] = solid
    weight *= ~dilate(weight < 0.5, 2)
    field = np.zeros(shape, np.float32)
    field[prep.select] = shading
    low = gaussian_blur(field * weight, sigma) / np.maximum(gaussian_blur(weight, sigma), 1e-3)
    low = low[prep.select].astype(np.float32)
    return low, (shading - low).astype(np.float32)


def prepare_matched(rgba: Image.Image, dye_mask: np.ndarray | Image.Image, *,
                    split_sigma: float = 4.0, consolidate: bool = True) -> MatchedPrep:
    """Shading field of the dyeable area split into folds and texture, plus its statistics.

    ``split_sigma`` (px) separates folds (wider) from texture/noise (finer);
    ``consolidate`` applies :func:`consolidate_dye_mask` first.
    """
    mask = consolidate_dye_mask(rgba, dye_mask) if consolidate else _mask_array(dye_mask, rgba.size)
    prep = prepare_recolour(rgba, mask)
    y0, y1, x0, x1 = prep.box
    arr = rgba_array(rgba)[y0:y1, x0:x1]
    solid = (prep.weight >= 0.5) & (arr[..., 3][prep.select] >= 128)
    low, high = _split(prep.shading, prep, solid, split_sigma)
    solid_crop = np.zeros(prep.select.shape, bool)
    solid_crop[prep.select] = solid
    pad = int(np.ceil(2 * CONTRAST_SIGMA))  # erode as if the crop's surroundings were background
    region = erode(np.pad(solid_crop, pad), pad)[pad:-pad, pad:-pad]
    if np.count_nonzero(region) < 64:
        region = solid_crop
    source = shading_stats(srgb_to_lab(arr[..., :3])[..., 0], region)
    return MatchedPrep(prep=prep, low=low, high=high, solid=solid, region=region, source=source,
                       sample=_sample(prep, region))


def _combine(mp: MatchedPrep, gains: tuple[float, float]) -> np.ndarray:
    """Shading ``g_lo * low + g_hi * high``, re-centred so the mid-tone stays the target colour."""
    shading = gains[0] * mp.low + gains[1] * mp.high
    return (shading - np.float32(median(shading[mp.solid]))).astype(np.float32)


def _rendered_stats(mp: MatchedPrep, target: np.ndarray, shading: np.ndarray) -> ShadingStats:
    """Statistics of the L* that :func:`recolour` produces from ``shading`` (before 8-bit rounding)."""
    levels = np.linspace(float(shading.min()), float(shading.max()) + 1e-6, 1024, dtype=np.float32)
    curve = shade_lab(target, levels)[:, 0]
    if mp.sample is not None:  # on the sampled bands only (see _Sample)
        sm = mp.sample
        lightness = np.full(sm.region.shape, np.float32(target[0]))
        lightness[sm.where] = interp_increasing(shading[sm.pick], levels, curve)
        return shading_stats(lightness, sm.region)
    lightness = np.full(mp.prep.select.shape, np.float32(target[0]))
    lightness[mp.prep.select] = interp_increasing(shading, levels, curve)
    return shading_stats(lightness, mp.region)


def matched_shading(mp: MatchedPrep, target_hex: str, model: ShadingModel = FABRIC, *,
                    iterations: int = 8) -> tuple[np.ndarray, tuple[float, float], ShadingStats]:
    """Shading field for ``target_hex``, the (folds, texture) gains and the statistics aimed at.

    Fixed-point iteration: the fold gain scales by wanted / rendered IQR, the
    texture gain by (wanted / rendered contrast) ** 1.5 (the contrast also comes
    from the folds, so it answers the texture gain less than in proportion), the
    texture amplified at most 1.6x more than the folds, until both agree within
    1 % or the gains stop moving (a capped texture gain cannot reach its aim).
    """
    target = hex_to_lab(target_hex)
    want = model.target_stats(mp.source, float(target[0]))
    gains = (1.0, 1.0)
    shading = _combine(mp, gains)
    for _ in range(iterations):
        got = _rendered_stats(mp, target, shading)
        r_iqr = want.iqr / max(got.iqr, 1e-6)
        r_con = want.contrast / max(got.contrast, 1e-6)
        if abs(r_iqr - 1.0) < 0.01 and abs(r_con - 1.0) < 0.01:
            return shading, gains, want  # converged on these gains: their field is the one just measured
        fold = float(np.clip(gains[0] * r_iqr, _MIN_GAIN, _MAX_GAIN))
        texture = min(gains[1] * r_con ** 1.5, max(1.0, fold * _TEXTURE_BOOST))
        moved = (fold, float(np.clip(texture, _MIN_GAIN, _MAX_GAIN)))
        if abs(moved[0] / gains[0] - 1.0) < 0.005 and abs(moved[1] / gains[1] - 1.0) < 0.005:
            return _combine(mp, moved), moved, want  # the gains stopped moving
        gains = moved
        shading = _combine(mp, gains)
    return shading, gains, want


def recolour_prepared(mp: MatchedPrep, rgba: Image.Image, target_hex: str,
                      model: ShadingModel = FABRIC) -> Image.Image:
    """Dye the prepared area to ``target_hex`` with the shading strength ``model`` predicts."""
    shading, _, _ = matched_shading(mp, target_hex, model)
    levels, index = _quantise(shading)
    return recolour(replace(mp.prep, shading=shading, levels=levels, index=index), rgba, target_hex)


def recolour_matched(rgba: Image.Image, dye_mask: np.ndarray | Image.Image, target_hex: str, *,
                     model: ShadingModel = FABRIC, split_sigma: float = 4.0,
                     consolidate: bool = True) -> Image.Image:
    """Recolour the dyeable area of ``rgba`` to ``target_hex`` like a real garment of that colour.

    The mid-tone becomes the target colour (as :func:`mockups.imaging.recolour`);
    the folds and the texture of the source are rescaled separately so that
    the result's L* interquartile range and local contrast are the source's
    times ``model.ratio(source L*, target L*)``. Outside the mask the photo is
    unchanged. For many colours of one product, call :func:`prepare_matched`
    once and :func:`recolour_prepared` per colour.
    """
    mp = prepare_matched(rgba, dye_mask, split_sigma=split_sigma, consolidate=consolidate)
    return recolour_prepared(mp, rgba, target_hex, model)
