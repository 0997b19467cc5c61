"""Shading-strength model and matched recolour, on synthetic fabric only."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mockups import imaging as im
from mockups.imaging import _shading as sh
from mockups.imaging._common import erode, gaussian_blur

SIZE = 320


def fabric(base_l: float, *, folds: float, noise: float, chroma: tuple[float, float] = (0.0, 0.0),
           seed: int = 0) -> tuple[Image.Image, np.ndarray]:
    """A garment-like RGBA: L* = base + folds (smooth random waves, std ``folds``) + pixel noise
    (std ``noise``), on a white backdrop."""
    rng = np.random.default_rng(seed)
    waves = gaussian_blur(rng.standard_normal((SIZE, SIZE)).astype(np.float32), 10.0)
    lightness = base_l + folds * waves / waves.std() + noise * rng.standard_normal((SIZE, SIZE))
    flat = np.zeros((SIZE, SIZE))
    lab = np.stack([np.clip(lightness, 0, 100), flat + chroma[0], flat + chroma[1]], -1)
    rgb = np.rint(im.lab_to_srgb(lab) * 255).astype(np.uint8)
    mask = np.zeros((SIZE, SIZE), bool)
    mask[30:-30, 40:-40] = True
    rgba = np.dstack([np.where(mask[..., None], rgb, 255), np.where(mask, 255, 0)]).astype(np.uint8)
    return Image.fromarray(rgba, "RGBA"), mask


def stats(image: Image.Image, mask: np.ndarray) -> sh.ShadingStats:
    lab = im.srgb_to_lab(np.asarray(image)[..., :3])
    return sh.shading_stats(lab[..., 0], erode(mask, 6))


def midtone_de(source: Image.Image, out: Image.Image, mask: np.ndarray, colour: str) -> float:
    src_l = im.srgb_to_lab(np.asarray(source)[..., :3])[..., 0][mask]
    lo, hi = np.percentile(src_l, [30, 70])
    lab = im.srgb_to_lab(np.asarray(out)[..., :3])[mask]
    mid = (src_l >= lo) & (src_l <= hi)
    return float(np.median(im.ciede2000(lab[mid], im.hex_to_lab(colour)[None, :])))


def test_shading_stats_of_a_ramp():
    _, xx = np.mgrid[0:100, 0:200].astype(np.float32)
    got = sh.shading_stats(0.25 * xx, np.ones_like(xx, bool))
    assert got.contrast == pytest.approx(0.25, rel=1e-3)  # a blur keeps a linear ramp's slope
    assert got.iqr == pytest.approx(0.25 * 100, rel=0.02)
    assert got.median_l == pytest.approx(0.25 * 99.5, rel=0.01)


def test_law_fit_recovers_slopes_with_garment_offsets():
    samples = []
    for garment, k in (("tee", 1.0), ("hoodie", 0.55)):
        for lightness in (25.0, 50.0, 90.0):
            iqr = 3.0 * k * (lightness + 16) ** -1.2
            contrast = 0.4 * k * np.exp(-0.015 * lightness)
            samples.append((garment, sh.ShadingStats(lightness, iqr, contrast)))
    model = sh.ShadingModel.fit(samples)
    assert model.iqr.slope == pytest.approx(-1.2, abs=1e-9)
    assert model.contrast.slope == pytest.approx(-0.015, abs=1e-9)
    r_iqr, r_con = model.ratio(25.0, 90.0)
    assert r_iqr == pytest.approx((106 / 41) ** -1.2) and r_con == pytest.approx(np.exp(-0.015 * 65))


def test_model_clips_lightness_to_its_fitted_range():
    assert sh.FABRIC.ratio(5.0, 99.0) == sh.FABRIC.ratio(sh.FABRIC.l_min, sh.FABRIC.l_max)
    r_iqr, r_con = sh.FABRIC.ratio(25.0, 95.0)
    assert r_iqr < 0.5 and r_con < 0.5  # a white garment shades far less than a black one


def test_fit_needs_two_colours_of_a_garment():
    with pytest.raises(im.ImagingError):
        sh.ShadingModel.fit([("tee", sh.ShadingStats(30, 8, 0.7)), ("hoodie", sh.ShadingStats(50, 4, 0.2))])


def test_dark_noisy_fabric_to_white_has_the_predicted_strength():
    source, mask = fabric(24.0, folds=5.0, noise=4.0)
    target = "#F2F2F2"
    out = sh.recolour_matched(source, mask.astype(np.uint8) * 255, target)
    before, after = stats(source, mask), stats(out, mask)
    want_iqr, want_con = sh.FABRIC.ratio(before.median_l, float(im.hex_to_lab(target)[0]))
    assert after.iqr / before.iqr == pytest.approx(want_iqr, rel=0.1)
    assert after.contrast / before.contrast == pytest.approx(want_con, rel=0.1)
    current = im.recolour(im.prepare_recolour(source, mask), source, target)
    assert stats(current, mask).iqr > 2.0 * after.iqr  # what issue #13 is about


def test_light_fabric_to_black_keeps_its_folds():
    source, mask = fabric(92.0, folds=2.0, noise=0.8)
    out = sh.recolour_matched(source, mask, "#202022")
    before, after = stats(source, mask), stats(out, mask)
    want_iqr, _ = sh.FABRIC.ratio(before.median_l, float(im.hex_to_lab("#202022")[0]))
    assert want_iqr > 2.0
    assert after.iqr / before.iqr == pytest.approx(want_iqr, rel=0.1)


@pytest.mark.parametrize("base", [24.0, 55.0, 92.0], ids=["dark", "mid", "light"])
@pytest.mark.parametrize("colour", ["#F2F2F2", "#1B1B1D", "#1F2A44", "#B22234", "#4A7EE4"])
def test_target_colour_is_reached(base, colour):
    source, mask = fabric(base, folds=4.0, noise=2.5)
    out = sh.recolour_matched(source, mask, colour)
    assert midtone_de(source, out, mask, colour) < 3.0


def test_self_recolour_keeps_the_strength():
    source, mask = fabric(40.0, folds=4.0, noise=2.0, chroma=(20.0, -30.0))
    lab = np.median(im.srgb_to_lab(np.asarray(source)[..., :3])[mask], axis=0)
    colour = "#{:02X}{:02X}{:02X}".format(*np.rint(im.lab_to_srgb(lab.astype(np.float64)) * 255).astype(int))
    before, after = stats(source, mask), stats(sh.recolour_matched(source, mask, colour), mask)
    assert after.iqr == pytest.approx(before.iqr, rel=0.06)
    assert after.contrast == pytest.approx(before.contrast, rel=0.06)


def test_deterministic_and_outside_untouched():
    source, mask = fabric(30.0, folds=4.0, noise=3.0)
    a = np.asarray(sh.recolour_matched(source, mask, "#F4F4F2"))
    b = np.asarray(sh.recolour_matched(source, mask, "#F4F4F2"))
    assert np.array_equal(a, b)
    assert np.array_equal(a[~mask], np.asarray(source)[~mask])


def test_prepared_once_many_colours_equals_one_shot():
    source, mask = fabric(60.0, folds=4.0, noise=2.0)
    mp = sh.prepare_matched(source, mask)
    for colour in ("#101010", "#E7342C"):
        assert np.array_equal(np.asarray(sh.recolour_prepared(mp, source, colour)),
                              np.asarray(sh.recolour_matched(source, mask, colour)))


def test_consolidate_takes_in_saturated_shadows_but_not_prints():
    source, mask = fabric(55.0, folds=3.0, noise=1.0, chroma=(15.0, -57.0))
    arr = np.asarray(source).copy()
    crease = np.zeros(mask.shape, bool)
    crease[100:108, 60:200] = True  # deeper, more saturated blue: what cameras record in folds
    arr[crease, :3] = (17, 65, 163)
    printed = np.zeros(mask.shape, bool)
    printed[200:230, 100:200] = True  # a white print
    arr[printed, :3] = 250
    dye = np.where(mask & ~crease & ~printed, 255, 0).astype(np.uint8)
    out = sh.consolidate_dye_mask(Image.fromarray(arr, "RGBA"), dye)
    assert out[crease].min() == 1.0
    assert out[printed].max() == 0.0
    assert out[~mask].max() == 0.0


def test_consolidate_keeps_prints_on_white_out_and_takes_in_unsure_folds():
    source, mask = fabric(94.0, folds=1.5, noise=0.8)
    arr = np.asarray(source).copy()
    printed = np.zeros(mask.shape, bool)
    printed[120:160, 80:240] = True
    arr[printed, :3] = 40  # L* ~ 17
    grey = np.zeros(mask.shape, bool)
    grey[200:230, 80:240] = True
    arr[grey, :3] = 110  # L* ~ 46: a grey print, as dark as a deep fold could be
    partial = np.zeros(mask.shape, bool)
    partial[60:64, 80:240] = True  # a fold the dye mask was unsure about
    arr[partial, :3] = 200
    dye = np.where(mask & ~printed & ~grey, 255, 0).astype(np.uint8)
    dye[partial] = 100
    out = sh.consolidate_dye_mask(Image.fromarray(arr, "RGBA"), dye)
    assert out[printed].max() == 0.0
    assert out[grey].max() == 0.0
    assert out[partial].min() == 1.0


def test_empty_mask_is_an_imaging_error():
    source, mask = fabric(50.0, folds=2.0, noise=1.0)
    with pytest.raises(im.ImagingError):
        sh.recolour_matched(source, np.zeros_like(mask), "#FFFFFF")


def test_a_smooth_source_does_not_turn_seams_into_bright_lines():
    source, mask = fabric(90.0, folds=2.0, noise=0.0)
    arr = np.asarray(source).copy()
    arr[150:152, 40:-40, :3] = 150  # a stitched seam: the only fine detail
    source = Image.fromarray(arr, "RGBA")
    _, (fold, texture), _ = sh.matched_shading(sh.prepare_matched(source, mask), "#1B1B1D")
    assert fold > 1.0 and texture <= 1.6 * fold + 1e-6


def test_an_over_shaded_source_is_not_extrapolated_past_the_ceiling():
    source, mask = fabric(90.0, folds=12.0, noise=1.0)  # 3x the folds of a real white tee
    mp = sh.prepare_matched(source, mask)
    want = sh.FABRIC.target_stats(mp.source, 15.0)
    ceiling = sh.FABRIC.iqr.ceiling(sh.FABRIC.l_min, sh.FABRIC.ceiling_margin)
    assert mp.source.iqr * sh.FABRIC.ratio(mp.source.median_l, 15.0)[0] > ceiling
    assert want.iqr == pytest.approx(ceiling)
    assert sh.FABRIC.target_stats(mp.source, mp.source.median_l).iqr == pytest.approx(mp.source.iqr)
