"""Measurable tests of the compositor's image operations (mockups.imaging)."""

from __future__ import annotations

import io
import struct
import zlib
from collections import deque

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from mockups import imaging as im
from mockups.imaging._colour import _encode_srgb, srgb_to_linear
from mockups.imaging._common import dilate, erode, gaussian_blur, interp_increasing, max_filter, median

# ---------------------------------------------------------------------------
# Helpers: synthetic products
# ---------------------------------------------------------------------------

COLOURS = {
    "white": "#F4F4F2", "cream": "#F3E9D2", "yellow": "#F2C94C", "black": "#1B1B1D",
    "navy": "#1F2A44", "cherry": "#B22234", "forest": "#2E5E3A", "royal": "#2D5DA8",
    "heather": "#9A9A9A",
}


def _fold_field(h: int, w: int) -> np.ndarray:
    """Relative light (linear) of a garment: sinusoidal folds plus a deep crease."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    folds = 1.0 + 0.22 * np.sin(xx / 9.0 + 2.0 * np.sin(yy / 23.0)) * np.cos(yy / 31.0)
    crease = 0.25 * np.exp(-(((xx - w * 0.62) / 6.0) ** 2)) * (yy > h * 0.4)
    return folds - crease


def garment(base: int = 230, size: int = 256, seed: int = 0) -> tuple[Image.Image, np.ndarray]:
    """A T-shirt-like silhouette of grey ``base`` with folds and sensor noise (alpha = silhouette)."""
    rng = np.random.default_rng(seed)
    h = w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    body = (np.abs(xx - w / 2) < w * 0.28) & (yy > h * 0.2) & (yy < h * 0.92)
    sleeves = (np.abs(yy - h * 0.3) < h * 0.1) & (np.abs(xx - w / 2) < w * 0.42)
    mask = body | sleeves
    lin = srgb_to_linear(np.array([base], np.uint8))[0] * _fold_field(h, w)
    rgb = np.clip(np.rint(_encode_srgb(lin) * 255 + rng.normal(0, 2.0, (h, w))), 0, 255).astype(np.uint8)
    arr = np.zeros((h, w, 4), np.uint8)
    arr[..., :3] = np.where(mask[..., None], rgb[..., None], 255)
    arr[..., 3] = np.where(mask, 255, 0)
    return Image.fromarray(arr, "RGBA"), mask


def lab_of(image: Image.Image) -> np.ndarray:
    return im.srgb_to_lab(np.asarray(image.convert("RGB")))


def on_white(draw_fn, size=(240, 200), noise=1.5, seed=1) -> Image.Image:
    """Draw a product with ``draw_fn(ImageDraw)`` on white at 4x, downsample (anti-aliasing), add noise."""
    big = Image.new("RGB", (size[0] * 4, size[1] * 4), (255, 255, 255))
    draw_fn(ImageDraw.Draw(big), 4)
    small = np.asarray(big.resize(size, Image.Resampling.BOX), np.float32)
    small = small + np.random.default_rng(seed).normal(0, noise, small.shape)
    return Image.fromarray(np.clip(np.rint(small), 0, 255).astype(np.uint8), "RGB").convert("RGBA")


# ---------------------------------------------------------------------------
# CIEDE2000 and conversions
# ---------------------------------------------------------------------------

# Sharma, Wu & Dalal (2005), "The CIEDE2000 color-difference formula: implementation
# notes, supplementary test data, and mathematical observations", Table 1 (all 34 pairs).
SHARMA = [
    ((50.0000, 2.6772, -79.7751), (50.0000, 0.0000, -82.7485), 2.0425),
    ((50.0000, 3.1571, -77.2803), (50.0000, 0.0000, -82.7485), 2.8615),
    ((50.0000, 2.8361, -74.0200), (50.0000, 0.0000, -82.7485), 3.4412),
    ((50.0000, -1.3802, -84.2814), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, -1.1848, -84.8006), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, -0.9009, -85.5211), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, 0.0000, 0.0000), (50.0000, -1.0000, 2.0000), 2.3669),
    ((50.0000, -1.0000, 2.0000), (50.0000, 0.0000, 0.0000), 2.3669),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0009), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0010), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0011), 7.2195),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0012), 7.2195),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0009, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0010, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0011, -2.4900), 4.7461),
    ((50.0000, 2.5000, 0.0000), (50.0000, 0.0000, -2.5000), 4.3065),
    ((50.0000, 2.5000, 0.0000), (73.0000, 25.0000, -18.0000), 27.1492),
    ((50.0000, 2.5000, 0.0000), (61.0000, -5.0000, 29.0000), 22.8977),
    ((50.0000, 2.5000, 0.0000), (56.0000, -27.0000, -3.0000), 31.9030),
    ((50.0000, 2.5000, 0.0000), (58.0000, 24.0000, 15.0000), 19.4535),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.1736, 0.5854), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2972, 0.0000), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 1.8634, 0.5757), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2592, 0.3350), 1.0000),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((63.0109, -31.0961, -5.8663), (62.8187, -29.7946, -4.0864), 1.2630),
    ((61.2901, 3.7196, -5.3901), (61.4292, 2.2480, -4.9620), 1.8731),
    ((35.0831, -44.1164, 3.7933), (35.0232, -40.0716, 1.5901), 1.8645),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ((36.4612, 47.8580, 18.3852), (36.2715, 50.5065, 21.2231), 1.4146),
    ((90.8027, -2.0831, 1.4410), (91.1528, -1.6435, 0.0447), 1.4441),
    ((90.9257, -0.5406, -0.9208), (88.6381, -0.8985, -0.7239), 1.5381),
    ((6.7747, -0.2908, -2.4247), (5.8714, -0.0985, -2.2286), 0.6377),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


def test_ciede2000_matches_all_sharma_pairs_to_4_decimals():
    lab1 = np.array([p[0] for p in SHARMA])
    lab2 = np.array([p[1] for p in SHARMA])
    expected = np.array([p[2] for p in SHARMA])
    got = im.ciede2000(lab1, lab2)
    assert got.shape == (34,)
    np.testing.assert_allclose(np.round(got, 4), expected, atol=1e-9)
    np.testing.assert_allclose(im.ciede2000(lab2, lab1), got, atol=1e-12)  # symmetric
    assert np.all(im.ciede2000(lab1, lab1) == 0)


def test_srgb_lab_anchors_and_round_trip():
    lab = im.srgb_to_lab(np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0], [128, 128, 128]], np.uint8))
    np.testing.assert_allclose(lab[0], [100, 0, 0], atol=1e-3)
    np.testing.assert_allclose(lab[1], [0, 0, 0], atol=1e-3)
    np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.01)
    np.testing.assert_allclose(lab[3], [53.59, 0, 0], atol=0.01)
    rgb = np.random.default_rng(0).integers(0, 256, (4096, 3)).astype(np.uint8)
    back = im.lab_to_srgb(im.srgb_to_lab(rgb)) * 255
    assert np.abs(back - rgb).max() < 0.01


def test_parse_hex():
    assert im.parse_hex("#1f2A44") == (0x1F, 0x2A, 0x44)
    assert im.parse_hex("fff") == (255, 255, 255)
    for bad in ("#12345", "#GGGGGG", "", "red", None):
        with pytest.raises(im.ImagingError):
            im.parse_hex(bad)


# ---------------------------------------------------------------------------
# Recolour
# ---------------------------------------------------------------------------

def _recolour_stats(base: int, colour: str) -> tuple[float, float, float, float]:
    """(median mid-tone dE00, p90 mid-tone dE00, Pearson r of L*, std of L*) over the dyeable area."""
    image, mask = garment(base)
    prep = im.prepare_recolour(image, mask)
    out = im.recolour(prep, image, colour)
    src_l = lab_of(image)[..., 0][mask]
    lab = lab_of(out)[mask]
    # Mid-tones: pixels whose source shading lies in the middle 40 % of its distribution.
    lo, hi = np.percentile(prep.shading, [30, 70])
    mid = (prep.shading >= lo) & (prep.shading <= hi)
    de = im.ciede2000(lab[mid], im.hex_to_lab(colour))
    r = float(np.corrcoef(src_l, lab[:, 0])[0, 1])
    return float(np.median(de)), float(np.percentile(de, 90)), r, float(lab[:, 0].std())


@pytest.mark.parametrize("base", [230, 128], ids=["light-source", "grey-source"])
@pytest.mark.parametrize("name", list(COLOURS))
def test_recolour_midtones_match_target_and_shading_is_kept(base, name):
    median_de, p90_de, r, l_std = _recolour_stats(base, COLOURS[name])
    assert median_de < 3.0, f"{name}: median mid-tone dE00 {median_de:.2f}"
    assert p90_de < 6.0, f"{name}: p90 mid-tone dE00 {p90_de:.2f}"
    # The synthetic folds change luminance by about +-25 %: the rendered L* must follow
    # them almost linearly. Near the ends of the L* scale the soft limit bends the
    # mapping, so white and black get a lower (still high) bar.
    assert r > (0.8 if name in ("white", "black") else 0.9), f"{name}: correlation {r:.3f}"
    assert l_std > 1.5, f"{name}: flat result (L* std {l_std:.2f})"


def test_recolour_leaves_pixels_outside_the_mask_untouched():
    image, mask = garment(200)
    dye = mask.copy()
    dye[:, : image.width // 2] = False
    out = im.recolour(im.prepare_recolour(image, dye), image, "#1F2A44")
    before, after = np.asarray(image), np.asarray(out)
    assert np.array_equal(before[~dye], after[~dye])
    assert not np.array_equal(before[dye], after[dye])


def test_recolour_white_is_white_and_black_is_not_flat():
    image, mask = garment(200)
    prep = im.prepare_recolour(image, mask)
    white = lab_of(im.recolour(prep, image, "#F4F4F2"))[..., 0][mask]
    black = lab_of(im.recolour(prep, image, "#1B1B1D"))[..., 0][mask]
    assert abs(np.median(white) - im.hex_to_lab("#F4F4F2")[0]) < 1.5
    assert np.percentile(black, 95) - np.percentile(black, 5) > 5.0


def test_recolour_is_deterministic_and_validates():
    image, mask = garment(200, size=96)
    prep = im.prepare_recolour(image, mask)
    assert im.recolour(prep, image, "#B22234").tobytes() == im.recolour(prep, image, "#B22234").tobytes()
    with pytest.raises(im.ImagingError):
        im.prepare_recolour(image, np.zeros_like(mask))
    with pytest.raises(im.ImagingError):
        im.recolour(prep, image.resize((50, 50)), "#B22234")
    with pytest.raises(im.ImagingError):
        im.recolour(prep, image, "navy")


def test_estimate_dye_mask_excludes_a_print():
    image, mask = garment(200)
    arr = np.asarray(image).copy()
    arr[100:140, 100:150, :3] = (20, 20, 20)  # a black print on the chest
    dye = im.estimate_dye_mask(Image.fromarray(arr, "RGBA"))
    assert dye[110:130, 110:140].max() == 0
    assert (dye[mask] > 200).mean() > 0.8
    assert dye[~mask].max() == 0


# ---------------------------------------------------------------------------
# Cut-out
# ---------------------------------------------------------------------------

def test_has_alpha():
    opaque = Image.new("RGBA", (50, 50), (10, 20, 30, 255))
    assert not im.has_alpha(opaque)
    assert not im.has_alpha(opaque.convert("RGB"))
    cut = opaque.copy()
    cut.paste((0, 0, 0, 0), (0, 0, 20, 50))
    assert im.has_alpha(cut)
    nearly = opaque.copy()
    nearly.putpixel((0, 0), (0, 0, 0, 0))  # a single transparent pixel is not "usable alpha"
    assert not im.has_alpha(nearly)


def _brute_labels(mask: np.ndarray) -> int:
    seen = np.zeros_like(mask)
    count = 0
    for y, x in zip(*np.nonzero(mask), strict=True):
        if seen[y, x]:
            continue
        count += 1
        queue = deque([(y, x)])
        seen[y, x] = True
        while queue:
            cy, cx = queue.popleft()
            for ny, nx in ((cy + 1, cx), (cy - 1, cx), (cy, cx + 1), (cy, cx - 1)):
                if 0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1] and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    queue.append((ny, nx))
    return count


def test_label_matches_a_flood_fill():
    rng = np.random.default_rng(3)
    for density in (0.3, 0.5, 0.6):
        mask = rng.random((60, 70)) < density
        labels, n = im.label(mask)
        assert n == _brute_labels(mask)
        assert np.array_equal(labels > 0, mask)
        # each label is one 4-connected piece
        for k in rng.choice(np.arange(1, n + 1), size=min(n, 5), replace=False):
            assert _brute_labels(labels == k) == 1
    spiral = np.zeros((41, 41), bool)
    spiral[::4, 1:-1] = True
    spiral[1::4, -2] = True
    spiral[3::4, 1] = True
    spiral[2::4, -2] = True
    spiral[2::4, 1] = True
    assert im.label(spiral)[1] == _brute_labels(spiral)


def _mug(draw: ImageDraw.ImageDraw, s: int) -> None:
    colour = (150, 30, 40)
    draw.rectangle((100 * s, 40 * s, 190 * s, 170 * s), fill=colour)
    draw.ellipse((40 * s, 70 * s, 120 * s, 140 * s), fill=colour)  # handle ring...
    draw.ellipse((58 * s, 86 * s, 102 * s, 124 * s), fill=(255, 255, 255))  # ...with its hole
    draw.rectangle((100 * s, 40 * s, 190 * s, 170 * s), fill=colour)


def test_auto_cutout_cuts_the_hole_inside_a_handle():
    photo = on_white(_mug)
    alpha, confidence = im.auto_cutout(photo)
    assert alpha.dtype == np.uint8 and alpha.shape == (200, 240)
    assert alpha[105, 80] == 0  # inside the handle's hole
    assert alpha[105, 50] == 255  # the handle itself
    assert alpha[100, 150] == 255  # the body
    assert alpha[5, 5] == 0 and alpha[190, 230] == 0  # backdrop
    assert confidence > 0.8
    # anti-aliased edge: a soft ramp, not a hard step
    edge = alpha[100, 185:196]
    assert ((edge > 0) & (edge < 255)).any()


def test_auto_cutout_keeps_backdrop_coloured_areas_enclosed_by_the_product():
    def framed_print(draw, s):
        draw.rectangle((40 * s, 30 * s, 200 * s, 170 * s), fill=(30, 30, 35))
        draw.rectangle((90 * s, 60 * s, 150 * s, 140 * s), outline=(255, 255, 255), width=6 * s)  # white print
    alpha, _ = im.auto_cutout(on_white(framed_print))
    assert alpha[61:139, 91:96].min() == 255  # the thin white print stroke stays product
    assert alpha[100, 120] == 255


def test_auto_cutout_white_on_white_gives_low_confidence():
    def white_tee(draw, s):
        draw.rectangle((60 * s, 40 * s, 180 * s, 180 * s), fill=(246, 246, 245))
        draw.rectangle((30 * s, 40 * s, 210 * s, 80 * s), fill=(246, 246, 245))
    alpha, confidence = im.auto_cutout(on_white(white_tee, noise=1.0))
    assert confidence < 0.5
    assert alpha[120, 120] == 255  # the garment's (backdrop-coloured) interior stays product


def test_auto_cutout_drops_a_cast_shadow():
    def mug_with_shadow(draw, s):
        for i in range(12):  # a soft neutral shadow to the right of the base
            g = 200 + i * 4
            draw.ellipse(((110 - i * 2) * s, (150 - i) * s, (230 + i * 2) * s, (180 + i) * s), fill=(g, g, g))
        draw.rectangle((60 * s, 40 * s, 150 * s, 170 * s), fill=(40, 60, 160))
    photo = on_white(mug_with_shadow)
    alpha, _ = im.auto_cutout(photo)
    assert alpha[165, 200] == 0  # the shadow is not product
    assert alpha[100, 100] == 255


def test_auto_cutout_keeps_textured_grey_parts_of_a_colourful_product():
    rng = np.random.default_rng(5)
    arr = np.full((200, 240, 3), 255.0)
    arr[110:170, 40:200] = (30, 60, 170)  # a blue brim...
    arr[60:110, 90:150] = 85 + rng.normal(0, 14, (50, 60, 1))  # ...under a grey twill crown
    arr += rng.normal(0, 1.5, arr.shape)
    photo = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "RGB").convert("RGBA")
    alpha, _ = im.auto_cutout(photo)
    # neutral and darker than the backdrop like a shadow, but textured and sharp-edged: product
    assert (alpha[64:106, 94:146] == 255).mean() > 0.99
    assert alpha[5, 5] == 0


def test_no_light_fringe_when_a_cutout_is_composed_on_black():
    def dark_disc(draw, s):
        draw.ellipse((50 * s, 30 * s, 190 * s, 170 * s), fill=(45, 45, 50))
    photo = on_white(dark_disc)
    alpha, confidence = im.auto_cutout(photo)
    cut = im.apply_alpha(photo, alpha, backdrop=im.estimate_backdrop(photo))
    black = im.make_background("solid", (300, 300), colour="#000000")
    for product in (cut, Image.fromarray(np.dstack([np.asarray(photo)[..., :3], alpha]), "RGBA")):
        canvas = np.asarray(im.compose(product, black, (300, 300), fill=0.8, shadow=False), np.float32)
        lum = canvas.mean(axis=-1)
        obj = lum > 0
        ring = dilate(obj, 2) & ~erode(obj, 2)  # the edge, on both sides
        assert lum[ring].max() <= 50 + 12, f"light halo: {lum[ring].max():.0f}"
    assert confidence > 0.8


# ---------------------------------------------------------------------------
# Design placement
# ---------------------------------------------------------------------------

def _logo(size=(120, 80), colour=(255, 255, 255, 255)) -> Image.Image:
    logo = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(logo).rounded_rectangle((4, 4, size[0] - 5, size[1] - 5), radius=12, fill=colour)
    return logo


def test_rect_to_corners_and_quad_validation():
    assert im.rect_to_corners(10, 20, 30, 40) == [(10, 20), (40, 20), (40, 60), (10, 60)]
    with pytest.raises(im.ImagingError):
        im.rect_to_corners(0, 0, 0, 10)
    with pytest.raises(im.ImagingError):  # self-intersecting bow-tie
        im.validate_quad([(10, 10), (50, 50), (50, 10), (10, 50)], (100, 100))
    with pytest.raises(im.ImagingError):  # concave
        im.validate_quad([(10, 10), (50, 10), (20, 20), (10, 50)], (100, 100))
    with pytest.raises(im.ImagingError):  # outside the image
        im.validate_quad(im.rect_to_corners(60, 60, 50, 20), (100, 100))
    with pytest.raises(im.ImagingError):
        im.validate_quad([(0, 0), (1, 1), (2, 2)], (100, 100))
    quad = im.validate_quad([(10, 50), (10, 10), (50, 10), (50, 50)], (100, 100))  # either winding
    assert quad.shape == (4, 2)


def _quad_mask(corners, size, grow: float) -> np.ndarray:
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).polygon([tuple(c) for c in corners], fill=255)
    return dilate(np.asarray(mask) > 0, int(np.ceil(grow)))


def test_design_stays_inside_its_quad_and_displacement_is_bounded():
    shirt, mask = garment(225, size=256)
    corners = [(80, 70), (176, 76), (172, 170), (84, 166)]
    logo = _logo()
    flat = np.asarray(im.place_design(shirt, logo, corners, displacement=0.0))
    bent = np.asarray(im.place_design(shirt, logo, corners, displacement=8.0))
    base = np.asarray(shirt)
    for out, grow in ((flat, 2), (bent, 8 + 2)):
        changed = np.any(out != base, axis=-1)
        assert changed.any()
        assert not (changed & ~_quad_mask(corners, shirt.size, grow)).any()
    # displacement is measurable where the folds bend the fabric...
    assert np.abs(flat.astype(int) - bent.astype(int)).sum() > 1000
    # ...and moves the print by at most `displacement` px
    a, b = np.any(flat != base, axis=-1), np.any(bent != base, axis=-1)
    assert not (b & ~dilate(a, 9)).any() and not (a & ~dilate(b, 9)).any()
    # aspect ratio kept: a 3:2 logo in a ~1:1 quad is contained, not stretched
    ys, xs = np.nonzero(a)
    assert 1.3 < (xs.max() - xs.min()) / (ys.max() - ys.min()) < 1.7


def test_white_logo_on_black_garment_stays_bright():
    shirt, mask = garment(28, size=256)
    corners = im.rect_to_corners(78, 80, 100, 80)
    out = im.place_design(shirt, _logo((100, 80)), corners)
    lab = lab_of(out)
    logo_px = np.zeros(mask.shape, bool)
    logo_px[92:148, 92:164] = True
    assert lab[..., 0][logo_px & mask].mean() > 80
    # folds still show through a little: not a flat sticker
    assert lab[..., 0][logo_px & mask].std() > 0.5


def test_design_multiply_on_light_fabric_shows_folds_and_respects_product_alpha():
    shirt, mask = garment(235, size=256)
    corners = im.rect_to_corners(20, 20, 216, 216)  # larger than the shirt: clipped to its alpha
    logo = Image.new("RGBA", (100, 100), (200, 30, 30, 255))
    out = np.asarray(im.place_design(shirt, logo, corners, blend="multiply"))
    assert np.array_equal(out[~mask], np.asarray(shirt)[~mask])
    lum = lab_of(Image.fromarray(out))[..., 0][mask]
    src = lab_of(shirt)[..., 0][mask]
    assert np.corrcoef(lum, src)[0, 1] > 0.8
    with pytest.raises(im.ImagingError):
        im.place_design(shirt, logo, corners, blend="screen-ish")


# ---------------------------------------------------------------------------
# Backgrounds, shadow, compose, text
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind,spec", [
    ("solid", {"colour": "#123456"}),
    ("linear", {"stops": ["#000000", "#FFFFFF"], "angle": 90}),
    ("radial", {"inner": "#FFFFFF", "outer": "#000000"}),
    ("studio", {"colour": "#E0E0E0"}),
    ("image", {"image": Image.new("RGB", (40, 30), (9, 99, 199))}),
])
def test_background_kinds_have_exact_sizes(kind, spec):
    bg = im.make_background(kind, (321, 123), **spec)
    assert bg.size == (321, 123) and bg.mode == "RGB"


def test_background_colours():
    solid = np.asarray(im.make_background("solid", (40, 30), colour="#FFFFFF"))
    assert (solid == 255).all()
    lin = np.asarray(im.make_background("linear", (200, 20), stops=["#000000", "#FFFFFF"], angle=90), float)
    assert lin[:, 0].mean() < 5 and lin[:, -1].mean() > 250 and np.all(np.diff(lin[10, ::20, 0]) > 0)
    rad = np.asarray(im.make_background("radial", (100, 100), inner="#FFFFFF", outer="#000000",
                                        centre=(0.5, 0.5)), float)
    assert rad[50, 50].mean() > 245 and rad[0, 0].mean() < 10
    studio = np.asarray(im.make_background("studio", (300, 400), colour="#B0B0B0"), float).mean(axis=-1)
    assert studio[200, 150] > studio[5, 5]  # vignette: corners darker than the centre
    assert abs(studio[:, 150].mean() - 176) < 25  # around the base colour


def test_image_background_is_cover_fitted_not_stretched():
    src = Image.new("RGB", (400, 200), (255, 255, 255))
    ImageDraw.Draw(src).ellipse((150, 50, 250, 150), fill=(0, 0, 0))  # a circle in the middle
    for size in ((300, 300), (500, 120), (120, 500)):
        bg = np.asarray(im.make_background("image", size, image=src)).mean(axis=-1)
        ys, xs = np.nonzero(bg < 128)
        if ys.size and ys.min() > 0 and ys.max() < size[1] - 1 and xs.min() > 0 and xs.max() < size[0] - 1:
            assert abs((xs.max() - xs.min()) / (ys.max() - ys.min()) - 1.0) < 0.06
        scale = max(size[0] / 400, size[1] / 200)
        assert abs(np.count_nonzero(bg < 128) - np.pi * (50 * scale) ** 2) / (np.pi * (50 * scale) ** 2) < 0.2 \
            or xs.min() == 0 or ys.min() == 0


def test_contact_shadow_sits_under_the_product():
    alpha = np.zeros((200, 200), np.uint8)
    alpha[40:140, 70:130] = 255
    shadow = im.contact_shadow(alpha, strength=0.4)
    assert shadow.dtype == np.float32 and shadow.shape == alpha.shape
    assert 0 < shadow.max() <= 0.4 + 1e-6
    ys = np.nonzero(shadow > 0.05)[0]
    assert ys.mean() > 120  # concentrated at the base
    assert shadow[150, 100] > shadow[150, 10]  # falls off sideways
    assert im.contact_shadow(np.zeros((20, 20))).max() == 0


def test_compose_scales_centres_and_keeps_forced_white_exact():
    product = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    ImageDraw.Draw(product).rectangle((100, 100, 299, 199), fill=(200, 20, 20, 255))  # 200x100 box
    white = im.make_background("solid", (500, 400), colour="#FFFFFF")
    out = np.asarray(im.compose(product, white, (500, 400), fill=0.8, shadow=False))
    red = (out[..., 0] > 150) & (out[..., 1] < 100)
    ys, xs = np.nonzero(red)
    assert abs((xs.max() - xs.min() + 1) - 400) <= 2  # longer side fills 80 % of the width
    assert abs((xs.min() + xs.max()) / 2 - 249.5) <= 1 and abs((ys.min() + ys.max()) / 2 - 199.5) <= 1
    background = ~dilate(red, 2)
    assert (out[background] == 255).all()  # marketplace white is exactly white
    shaded = np.asarray(im.compose(product, white, (500, 400), fill=0.8, shadow=True))
    assert shaded[ys.max() + 4, 250].mean() < 250  # the shadow grounds the product
    tall = np.asarray(im.compose(product, white, (300, 600), fill=0.5, shadow=False))
    assert tall.shape == (600, 300, 3)


def test_compose_rejects_empty_products_and_bad_fill():
    bg = im.make_background("solid", (50, 50), colour="#FFFFFF")
    with pytest.raises(im.ImagingError):
        im.compose(Image.new("RGBA", (20, 20), (0, 0, 0, 0)), bg, (50, 50))
    with pytest.raises(im.ImagingError):
        im.compose(Image.new("RGBA", (20, 20), (0, 0, 0, 255)), bg, (50, 50), fill=1.5)


def test_draw_text_and_badge():
    base = Image.new("RGB", (400, 300), (240, 240, 240))
    out = np.asarray(im.draw_text(base, "Hello", size_px=40, colour_hex="#101010"), int)
    changed = np.any(out != 240, axis=-1)
    ys, xs = np.nonzero(changed)
    assert ys.min() > 150 and abs((xs.min() + xs.max()) / 2 - 200) < 6  # bottom, centred
    badge = np.asarray(im.draw_text(base, "$24", position=("top", "right"), size_px=32, badge=True,
                                    colour_hex="#FFFFFF", badge_hex="#D02030"), int)
    red = (badge[..., 0] > 180) & (badge[..., 1] < 80)
    ys, xs = np.nonzero(red)
    assert ys.max() < 120 and xs.min() > 200
    assert np.any(badge[red.nonzero()[0].min():ys.max(), xs.min():xs.max()].min(axis=-1) > 200)  # white text
    assert im.draw_text(base, "", size_px=20).tobytes() == base.tobytes()
    with pytest.raises(im.ImagingError):
        im.draw_text(base, "x", position=("sideways", "up"))


# ---------------------------------------------------------------------------
# Reading images
# ---------------------------------------------------------------------------

def _save(image: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


def test_open_image_palette_with_transparency():
    p = Image.new("P", (10, 10), 0)
    p.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    p.paste(1, (0, 0, 5, 10))
    data = _save(p, "PNG", transparency=1)
    out = im.open_image(data)
    assert out.mode == "RGBA"
    assert out.getpixel((8, 5)) == (255, 0, 0, 255) and out.getpixel((2, 5))[3] == 0


def test_open_image_la_l_cmyk_and_16_bit():
    assert im.open_image(_save(Image.new("LA", (4, 4), (100, 50)), "PNG")).getpixel((0, 0)) == (100, 100, 100, 50)
    assert im.open_image(_save(Image.new("L", (4, 4), 77), "PNG")).getpixel((0, 0)) == (77, 77, 77, 255)
    cmyk = im.open_image(_save(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", quality=95))
    r, g, b, a = cmyk.getpixel((8, 8))
    assert r > 200 and g < 60 and b < 60 and a == 255
    wide = Image.fromarray(np.array([[0, 32768], [65535, 65535]], np.uint16))
    assert wide.mode.startswith("I;16")
    out = im.open_image(_save(wide, "PNG"))
    assert out.getpixel((0, 0))[:3] == (0, 0, 0)
    assert abs(out.getpixel((1, 0))[0] - 128) <= 1 and out.getpixel((0, 1))[0] == 255


def test_open_image_exif_orientation_and_animation():
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    img.paste((0, 0, 255), (20, 0, 40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW when displayed
    out = im.open_image(_save(img, "JPEG", exif=exif.tobytes(), quality=95))
    assert out.size == (20, 40)
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100)
    first = im.open_image(buf.getvalue())
    assert first.getpixel((4, 4))[0] > 200 and first.getpixel((4, 4))[2] < 50


def test_open_image_rejects_truncated_unreadable_and_bombs(tmp_path):
    data = _save(Image.effect_noise((256, 256), 60).convert("RGB"), "PNG")
    with pytest.raises(im.ImagingError, match="truncated|corrupt"):
        im.open_image(data[: len(data) // 2])
    with pytest.raises(im.ImagingError):
        im.open_image(b"definitely not an image")
    with pytest.raises(im.ImagingError, match="not found"):
        im.open_image(tmp_path / "missing.png")
    with pytest.raises(im.ImagingError, match="limit"):
        im.open_image(data, max_pixels=1000)
    # A PNG whose header claims 100000 x 100000 pixels: rejected before decoding.
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) \
        + chunk(b"IEND", b"")
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb)
    with pytest.raises(im.ImagingError):
        im.open_image(path)


# ---------------------------------------------------------------------------
# Encoding and metadata
# ---------------------------------------------------------------------------

METADATA = {
    "sku": "TEE-001", "product": "Tee <Classic> & \"Friends\"", "colour": "Crème brûlée (#F3E9D2)",
    "background": "studio 'soft' > sweep", "design": "", "prompt": "Ünïcödé ✓ 日本語 </x:xmpmeta> ]]>",
    "backend": "local", "model": "compositor-1",
}


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_encode_round_trips_metadata_and_is_deterministic(fmt):
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 96, 3)).astype(np.uint8))
    data = im.encode(image, fmt, quality=90, metadata=METADATA)
    assert im.encode(image, fmt, quality=90, metadata=METADATA) == data
    assert im.read_metadata(data) == METADATA
    decoded = Image.open(io.BytesIO(data))
    assert decoded.format == {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[fmt]
    assert decoded.size == (96, 64)


def test_encode_settings():
    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3)).astype(np.uint8))
    low = Image.open(io.BytesIO(im.encode(image, "jpg", quality=80)))
    high = Image.open(io.BytesIO(im.encode(image, "jpeg", quality=95)))
    from PIL import JpegImagePlugin
    assert JpegImagePlugin.get_sampling(low) == 2  # 4:2:0
    assert JpegImagePlugin.get_sampling(high) == 0  # 4:4:4
    assert "progressive" not in low.info
    jpeg = Image.open(io.BytesIO(im.encode(image, "jpeg", metadata={"sku": "X1", "colour": "Navy"})))
    assert "sku: X1" in jpeg.getexif()[0x010E]
    rgba = image.convert("RGBA")
    rgba.putalpha(128)
    assert Image.open(io.BytesIO(im.encode(rgba, "png"))).mode == "RGBA"
    assert Image.open(io.BytesIO(im.encode(rgba, "jpeg"))).mode == "RGB"
    assert Image.open(io.BytesIO(im.encode(rgba, "webp"))).mode == "RGBA"
    with pytest.raises(im.ImagingError):
        im.encode(image, "gif")
    with pytest.raises(im.ImagingError):
        im.encode(image, "png", metadata={"bad key": "x"})


def test_thumbnail():
    image = Image.new("RGB", (1000, 500), (10, 200, 30))
    thumb = Image.open(io.BytesIO(im.thumbnail(image)))
    assert thumb.format == "JPEG" and thumb.size == (334, 167)  # an exact 3x box reduction (within 80 % of 360)
    assert max(abs(a - b) for a, b in zip(thumb.convert("RGB").getpixel((160, 80)), (10, 200, 30), strict=True)) <= 6
    odd = Image.open(io.BytesIO(im.thumbnail(Image.new("RGB", (800, 400)))))
    assert odd.size == (360, 180)  # 3x would give 267: reduced 2x, then resampled to fit
    small = Image.open(io.BytesIO(im.thumbnail(Image.new("RGB", (100, 50)), max_side=360)))
    assert small.size == (100, 50)  # never upscaled
    opaque = Image.open(io.BytesIO(im.thumbnail(Image.new("RGBA", (720, 720), (10, 200, 30, 255)))))
    assert opaque.format == "JPEG" and opaque.mode == "RGB"  # an alpha with nothing transparent: a JPEG


def test_a_thumbnail_keeps_what_is_transparent():
    """An output with transparency (a `background: transparent` channel) gets a WebP preview with its
    alpha, so the gallery shows the cut-out, not a black box."""
    image = Image.new("RGBA", (720, 720), (0, 0, 0, 0))
    image.paste((200, 30, 30, 255), (180, 180, 540, 540))
    thumb = Image.open(io.BytesIO(im.thumbnail(image)))
    assert thumb.format == "WEBP" and thumb.mode == "RGBA" and thumb.size == (360, 360)
    assert thumb.getpixel((10, 10))[3] == 0 and thumb.getpixel((180, 180))[3] == 255
    assert max(abs(a - b) for a, b in zip(thumb.getpixel((180, 180))[:3], (200, 30, 30), strict=True)) <= 8


# ---------------------------------------------------------------------------
# Internals worth pinning down
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("sigma", [0.8, 2.0, 4.0, 12.0])
def test_gaussian_blur_preserves_mass_and_width(sigma):
    impulse = np.zeros((161, 161), np.float32)
    impulse[80, 80] = 1.0
    out = gaussian_blur(impulse, sigma)
    assert abs(out.sum() - 1.0) < 1e-3
    x = np.arange(161) - 80
    profile = out.sum(axis=0)
    centre = (profile * x).sum()
    var = (profile * (x - centre) ** 2).sum()
    assert abs(np.sqrt(var) - sigma) / sigma < 0.1


# --- exact fast equivalents: the same bits as numpy's and Pillow's own, on data like the compositor's

def _bits(a) -> np.ndarray:
    a = np.asarray(a)
    return a.view(np.int64 if a.dtype == np.float64 else np.int32)


@pytest.mark.parametrize("seed", range(40))
def test_median_is_numpys_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4096, 300_000)) + seed % 2  # odd and even lengths
    v = (rng.normal(size=n) * rng.choice([1e-4, 1.0, 80.0]) + rng.normal() * 50).astype(np.float32)
    if seed % 4 == 0:
        v = np.round(v, 1).astype(np.float32)  # ties
    if seed % 5 == 0:
        v[: n // 2 + 1] = v[0]  # the median among a run of equal values
    if seed % 7 == 0:
        v = np.sort(v)  # the sample sees sorted data
    expected, got = np.median(v), median(v)
    assert got.dtype == expected.dtype
    assert _bits(got) == _bits(expected)


def test_median_leaves_what_it_cannot_bracket_to_numpy():
    v = np.linspace(0, 1, 10_000, dtype=np.float32)
    v[17] = np.nan
    assert np.isnan(median(v))
    assert median(np.arange(10, dtype=np.float32)) == np.median(np.arange(10, dtype=np.float32))
    ints = np.arange(50_001)
    assert median(ints) == np.median(ints)


@pytest.mark.parametrize("seed", range(40))
def test_interp_increasing_is_numpys_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    lo = float(rng.normal() * 10)
    hi = lo + abs(float(rng.normal())) * float(rng.choice([1e-6, 1e-3, 1.0, 100.0]))
    xp = np.linspace(lo, hi + 1e-6, int(rng.choice([5, 1024])), dtype=np.float32)  # tiny spans repeat values
    fp = (np.cumsum(rng.random(xp.size)) * rng.choice([1, -1])).astype(np.float32)
    x = (rng.random(40_000) * (hi - lo) * 1.2 + lo - 0.1 * (hi - lo)).astype(np.float32)  # beyond both ends
    x[:64] = xp[rng.integers(0, xp.size, 64)]  # exactly on the knots
    assert np.array_equal(_bits(interp_increasing(x, xp, fp)), _bits(np.interp(x, xp, fp)))


def test_interp_increasing_leaves_odd_inputs_to_numpy():
    xp = np.array([0.0, 1.0, 0.5, 2.0] * 300)  # not increasing
    x = np.random.default_rng(0).random(5000) * 2
    assert np.array_equal(interp_increasing(x, xp, xp), np.interp(x, xp, xp), equal_nan=True)
    x[3] = np.nan
    ramp = np.linspace(0, 2, 1024)
    assert np.array_equal(interp_increasing(x, ramp, ramp), np.interp(x, ramp, ramp), equal_nan=True)


@pytest.mark.parametrize("shape", [(1024, 768), (5, 7), (1, 9), (300, 2)])
def test_max_filter_is_pillows_max_filter(shape):
    rng = np.random.default_rng(sum(shape))
    a = (rng.random(shape) * 255).astype(np.uint8)
    a[rng.random(shape) < 0.5] = 0
    expected = np.asarray(Image.fromarray(a, "L").filter(ImageFilter.MaxFilter(5)))
    assert np.array_equal(max_filter(a, 2), expected)
