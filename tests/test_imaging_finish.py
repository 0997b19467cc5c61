"""How ink sits on the fabric: folds and fine texture in the "shade" blend, the finishes
(print, screen, soft, embroidery) and the cylinder wrap's shading, on synthetic photos."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from mockups import imaging as im
from mockups.imaging import _cylinder as cy
from mockups.imaging import _warp as wp
from mockups.imaging._colour import _encode_srgb, ciede2000, srgb_to_lab, srgb_to_linear
from mockups.imaging._common import erode, gaussian_blur

SIZE = 256
AREA = im.rect_to_corners(48, 48, 160, 160)
DESIGN_BOX = (slice(56, 200), slice(56, 200))  # well inside the print area: full coverage


def weave(size: int = SIZE, seed: int = 3) -> np.ndarray:
    """A known fine fabric texture (zero mean, unit sigma): a 3 px twill plus heather flecks."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    twill = np.sin(2 * np.pi * (xx + yy) / 3.0)
    flecks = gaussian_blur(np.random.default_rng(seed).standard_normal((size, size)).astype(np.float32), 0.8)
    t = twill + 1.5 * flecks / flecks.std()
    return (t - t.mean()) / t.std()


def folds(size: int = SIZE) -> np.ndarray:
    """Relative light of the folds: a shadow band (x0.6) at rows 80-110, a lit band (x1.15) at 150-180."""
    rows = np.ones(size, np.float32)
    rows[80:110] = 0.6
    rows[150:180] = 1.15
    return np.broadcast_to(gaussian_blur(rows[:, None], 3.0)[:, :1], (size, size)).copy()


def garment(grey: int, *, texture: float = 0.0, fold: bool = False, noise: float = 0.0, jpeg: int | None = None,
            colour: tuple[int, int, int] | None = None, seed: int = 0) -> Image.Image:
    """An opaque fabric square of sRGB ``grey`` (or ``colour``): ``texture`` is the weave's
    relative light amplitude, ``fold`` adds the bands of :func:`folds`."""
    base = srgb_to_linear(np.array(colour or (grey, grey, grey), np.uint8)).astype(np.float32)
    light = np.ones((SIZE, SIZE), np.float32)
    if texture:
        light = light * (1.0 + texture * weave())
    if fold:
        light = light * folds()
    rgb = _encode_srgb(base * light[..., None]) * 255.0
    if noise:
        rgb = rgb + np.random.default_rng(seed).normal(0, noise, rgb.shape)
    rgb8 = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    img = Image.fromarray(rgb8, "RGB")
    if jpeg:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=jpeg)
        img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return img.convert("RGBA")


def flat(colour: tuple[int, int, int], size: int = 160) -> Image.Image:
    return Image.new("RGBA", (size, size), colour + (255,))


def lab(img: Image.Image) -> np.ndarray:
    return srgb_to_lab(np.asarray(img.convert("RGB")))


def highpass(a: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    return a - gaussian_blur(a, sigma)


def corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def print_on(photo: Image.Image, design: Image.Image, **kw) -> Image.Image:
    return im.place_design(photo, design, AREA, displacement=0.0, **kw)


def old_shade_print(photo: Image.Image, colour: tuple[int, int, int]) -> np.ndarray:
    """The blend before: ink x clip((blur0.8(Y) + 0.03) / (median + 0.03), 0.2, 1.25) ** 0.75 (uint8 RGB)."""
    y = wp.luminance_field(photo)
    base = gaussian_blur(y, 0.8)
    ratio = np.clip((base + 0.03) / (np.median(base) + 0.03), 0.2, 1.25) ** 0.75
    ink = srgb_to_linear(np.array(colour, np.uint8))[None, None] * ratio[..., None]
    return np.clip(np.rint(_encode_srgb(ink) * 255), 0, 255).astype(np.uint8)


def lightness(out: Image.Image | np.ndarray) -> np.ndarray:
    arr = np.asarray(out.convert("RGB")) if isinstance(out, Image.Image) else out
    return srgb_to_lab(arr)[..., 0][DESIGN_BOX]


# ---------------------------------------------------------------------------
# The "print" finish: texture, folds, the ink's own colour
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("grey", [235, 120])
def test_fine_texture_comes_through_the_ink(grey):
    photo = garment(grey, texture=0.03, noise=0.5)
    fabric = highpass(np.log(wp.luminance_field(photo)))[DESIGN_BOX]
    seen = highpass(lab(photo)[..., 0])[DESIGN_BOX].std()  # the weave as visible on the fabric (L*)
    ink = (128, 128, 128)
    new = highpass(lightness(print_on(photo, flat(ink))))
    old = highpass(lightness(old_shade_print(photo, ink)))
    # the printed ink (8-bit, as seen) carries the fabric's weave ...
    assert corr(new, fabric) > 0.8, corr(new, fabric)
    # ... clearly more than before, where it was mostly lost in the rounding to 8 bits
    assert corr(new, fabric) > corr(old, fabric) + 0.05, (corr(new, fabric), corr(old, fabric))
    assert new.std() > 1.8 * old.std(), (new.std(), old.std())
    assert 0.6 * seen < new.std() < 1.5 * seen, (new.std(), seen)  # as visible as on the fabric, not grit


def test_folds_shade_the_ink_on_light_and_dark_garments():
    for grey in (230, 40):
        photo = garment(grey, fold=True, noise=0.5)
        lum = srgb_to_lab(np.asarray(print_on(photo, flat((200, 40, 40))).convert("RGB")))[..., 0]
        shadow, lit, plain = lum[88:102, 60:196], lum[158:172, 60:196], lum[120:140, 60:196]
        assert np.median(shadow) < np.median(plain) - 5, grey
        assert np.median(lit) > np.median(plain) + 1, grey


def test_ink_keeps_its_own_colour_at_the_median():
    black = garment(22, texture=0.05, fold=True, noise=1.5)
    assert np.median(lightness(print_on(black, flat((255, 255, 255))))) > 85
    white = garment(240, texture=0.03, fold=True, noise=1.0)
    red = (200, 30, 30)
    printed = lab(print_on(white, flat(red)))[DESIGN_BOX].reshape(-1, 3)
    de = ciede2000(np.median(printed, axis=0), srgb_to_lab(np.array(red, np.uint8)))
    assert de < 6, de
    # white stays white on black in every finish but the soaked-in one
    for finish in ("screen", "embroidery"):
        assert np.median(lightness(print_on(black, flat((255, 255, 255)), finish=finish))) > 85, finish


def test_dark_garment_jpeg_noise_does_not_speckle_a_white_print():
    photo = garment(22, noise=2.5, jpeg=70, seed=4)
    new = lightness(print_on(photo, flat((255, 255, 255))))
    assert np.median(new) > 97
    assert highpass(new).std() < 0.35, highpass(new).std()


# ---------------------------------------------------------------------------
# Finishes
# ---------------------------------------------------------------------------

def texture_of(finish: str, grey: int = 200) -> float:
    photo = garment(grey, texture=0.03, noise=0.5)
    return float(highpass(lightness(print_on(photo, flat((128, 128, 128)), finish=finish))).std())


def test_finishes_take_the_texture_in_their_own_measure():
    t = {f: texture_of(f) for f in ("print", "screen", "soft")}
    assert t["screen"] < 0.6 * t["print"], t  # plastisol covers the weave
    assert t["soft"] > 1.15 * t["print"], t  # water-based ink soaks into it


def test_soft_lets_the_fabric_colour_through_and_screen_sits_on_top():
    blue = garment(0, colour=(30, 60, 200), fold=True)
    red = srgb_to_lab(np.array((220, 40, 40), np.uint8))
    de = {}
    for finish in ("print", "screen", "soft"):
        layer = wp.prepare_design(blue, flat((220, 40, 40)), AREA, displacement=0.0, finish=finish)
        out = lab(wp.apply_design(blue, layer))[120:140, 60:196].reshape(-1, 3)
        de[finish] = float(ciede2000(np.median(out, axis=0), red))
        coverage = layer.alpha[80:140, 80:140].mean()
        assert (coverage < 0.95) == (finish == "soft"), (finish, coverage)
    assert de["soft"] > de["print"] + 2, de
    # screen: a faint sheen on the lit side of the folds, absent from the plain print
    lit = {f: lab(print_on(blue, flat((60, 60, 60)), finish=f))[160:170, 60:196, 0].mean() for f in ("print", "screen")}
    assert lit["screen"] > lit["print"] + 0.3, lit


def test_embroidery_is_raised_threads():
    photo = garment(160)  # no fabric texture or folds: what shows is the embroidery's own
    design = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    design.paste(flat((200, 40, 40), 100), (30, 30))  # a 100 px square in the middle of the print area
    out = lab(print_on(photo, design, finish="embroidery"))[..., 0]
    plain = lab(print_on(photo, design))[..., 0]
    interior = out[100:150, 100:150]
    # threads: a fine directional stripe, flat across the thread direction (35 deg), not along it
    hp = highpass(interior)
    assert hp.std() > 0.8
    assert highpass(plain[100:150, 100:150]).std() < 0.1
    angle = np.radians(35.0)
    gy, gx = np.gradient(hp)
    across = np.abs(gx * np.cos(angle) + gy * np.sin(angle)).mean()
    along = np.abs(-gx * np.sin(angle) + gy * np.cos(angle)).mean()
    assert across > 1.8 * along, (across, along)
    # a bevel lit from the top left: the top-left inner edge lighter than the bottom-right one
    top_left = np.median(out[80:84, 90:160])
    bottom_right = np.median(out[173:177, 90:160])
    assert top_left > bottom_right + 4, (top_left, bottom_right)
    # a drop shadow just outside the bottom-right edges, none at the top left
    fabric = np.median(lab(photo)[..., 0])
    assert np.median(out[179:181, 100:160]) < fabric - 2
    assert np.median(out[74:76, 100:160]) > fabric - 0.5
    assert np.array_equal(out[:60], lab(photo)[:60, :, 0])  # nothing beyond the shadow's reach


def test_every_finish_prints_and_stays_in_its_area():
    photo = garment(200, texture=0.03, fold=True)
    base = np.asarray(photo)
    for finish in wp.FINISHES:
        out = np.asarray(print_on(photo, flat((30, 120, 200)), finish=finish))
        changed = np.any(out != base, axis=-1)
        assert changed[DESIGN_BOX].all(), finish
        assert not changed[:36].any() and not changed[220:].any(), finish


# ---------------------------------------------------------------------------
# Colour independence, determinism, errors
# ---------------------------------------------------------------------------

def recolour(photo: Image.Image, factor: float) -> Image.Image:
    """The same garment dyed darker (its light kept): a stand-in for imaging.recolour."""
    arr = np.asarray(photo).copy()
    lin = srgb_to_linear(arr[..., :3]) * factor
    arr[..., :3] = np.clip(np.rint(_encode_srgb(lin) * 255), 0, 255).astype(np.uint8)
    return Image.fromarray(arr, "RGBA")


@pytest.mark.parametrize("finish", wp.FINISHES)
def test_layer_is_colour_independent(finish):
    white = garment(235, texture=0.03, fold=True, noise=1.0)
    black = recolour(white, 0.02)
    shading = wp.luminance_field(white)
    layer = wp.prepare_design(white, flat((220, 40, 40)), AREA, shading=shading, finish=finish)
    # prepared from the recoloured photo with the original's light: the very same layer
    again = wp.prepare_design(black, flat((220, 40, 40)), AREA, shading=shading, finish=finish)
    assert layer.box == again.box
    assert np.array_equal(layer.ink, again.ink) and np.array_equal(layer.alpha, again.alpha)
    if finish == "soft":  # its ink never covers fully: the fabric's colour shows through, as it should
        return
    # prepared once, printed on two colours: the ink is the same where it covers fully
    on_white, on_black = (np.asarray(wp.apply_design(p, layer)) for p in (white, black))
    full = np.zeros(on_white.shape[:2], bool)
    x0, y0, x1, y1 = layer.box
    full[y0:y1, x0:x1] = layer.alpha[..., 0] >= 1.0
    assert full.sum() > 10000
    assert np.array_equal(on_white[full], on_black[full])


def test_deterministic():
    photo = garment(200, texture=0.03, fold=True, noise=1.0)
    for finish in wp.FINISHES:
        a = np.asarray(print_on(photo, flat((30, 120, 200)), finish=finish))
        b = np.asarray(print_on(photo, flat((30, 120, 200)), finish=finish))
        assert np.array_equal(a, b), finish


def test_finishes_and_unknown_finish():
    assert wp.FINISHES == ("print", "screen", "soft", "embroidery")
    photo = garment(200)
    calls = [lambda: wp.prepare_design(photo, flat((1, 2, 3)), AREA, finish="glitter"),
             lambda: wp.place_design(photo, flat((1, 2, 3)), AREA, finish="glitter"),
             lambda: cy.prepare_wrap(photo, flat((1, 2, 3)), cy.Cylinder.from_box((50, 50, 200, 200)),
                                     finish="glitter"),
             lambda: cy.wrap_design(photo, flat((1, 2, 3)), cy.Cylinder.from_box((50, 50, 200, 200)),
                                    finish="glitter")]
    for call in calls:
        with pytest.raises(im.ImagingError) as err:
            call()
        assert all(f in str(err.value) for f in wp.FINISHES) and "glitter" in str(err.value)


def test_default_finish_is_print():
    photo = garment(200, texture=0.03, fold=True)
    assert np.array_equal(np.asarray(print_on(photo, flat((30, 120, 200)))),
                          np.asarray(print_on(photo, flat((30, 120, 200)), finish="print")))


# ---------------------------------------------------------------------------
# Cylinder wrap
# ---------------------------------------------------------------------------

def mug(shade: bool = True, size: tuple[int, int] = (400, 320)) -> tuple[Image.Image, cy.Cylinder]:
    """A grey body with the light of a glazed mug: darker to the left, a highlight stripe at x ~256."""
    w, h = size
    xx = np.arange(w, dtype=np.float32)
    light = np.ones(w, np.float32)
    if shade:
        light = 0.8 + 0.4 * (xx - 100) / 200  # 0.8 at the left silhouette, 1.2 at the right
        light = light + 2.0 * np.exp(-0.5 * ((xx - 256) / 4.0) ** 2)
    lin = srgb_to_linear(np.array([150], np.uint8))[0] * light
    rgb = np.clip(np.rint(_encode_srgb(np.broadcast_to(lin, (h, w))) * 255), 0, 255).astype(np.uint8)
    arr = np.zeros((h, w, 4), np.uint8)
    arr[..., :3] = rgb[..., None]
    arr[:, 100:300, 3] = 255
    return Image.fromarray(arr, "RGBA"), cy.Cylinder.from_box((100, 60, 300, 260), arc=120)


def test_prepare_wrap_then_apply_equals_wrap_design():
    photo, cyl = mug()
    design = flat((200, 40, 40), 300)
    for finish in wp.FINISHES:
        layer = cy.prepare_wrap(photo, design, cyl, finish=finish)
        assert isinstance(layer, wp.DesignLayer) and layer.blend == "shade"
        assert np.array_equal(np.asarray(wp.apply_design(photo, layer)),
                              np.asarray(cy.wrap_design(photo, design, cyl, finish=finish)))


def test_wrap_follows_the_photo_light():
    photo, cyl = mug()
    design = flat((128, 128, 128), 300)
    out = lab(cy.wrap_design(photo, design, cyl, falloff=0.0))[..., 0]
    row = out[160]
    assert row[150] < row[200] - 1.5 and row[200] < row[235] - 0.8, row[[150, 200, 235]]  # darker to the left
    assert row[256] > row[235] + 10  # the glaze's highlight on the print
    flat_out = lab(cy.wrap_design(mug(shade=False)[0], design, cyl, falloff=0.0))[..., 0][160]
    assert np.ptp(flat_out[120:280]) < 0.5  # a uniform body: no shading but the falloff's
    # colour independence: prepared once, the same ink on a darker body
    layer = cy.prepare_wrap(photo, design, cyl, shading=wp.luminance_field(photo))
    dark = recolour(photo, 0.1)
    again = cy.prepare_wrap(dark, design, cyl, shading=wp.luminance_field(photo))
    assert np.array_equal(layer.ink, again.ink) and np.array_equal(layer.alpha, again.alpha)


def test_wrap_ignores_small_marks_on_the_body():
    photo, cyl = mug(shade=False)
    arr = np.asarray(photo).copy()
    arr[150:153, 120:280, :3] = 255  # a thin white line (an old print's stroke)
    marked = Image.fromarray(arr, "RGBA")
    out = lab(cy.wrap_design(marked, flat((128, 128, 128), 300), cyl, falloff=0.0))[..., 0]
    assert np.ptp(out[140:165, 130:270]) < 1.0


def test_wrap_box_is_only_the_band():
    photo, cyl = mug()
    layer = cy.prepare_wrap(photo, flat((200, 40, 40), 300), cyl)
    x0, y0, x1, y1 = layer.box
    assert 90 <= x0 <= 100 and 300 <= x1 <= 310 and 50 <= y0 <= 60 and 260 <= y1 <= 270
    assert layer.alpha.shape[:2] == (y1 - y0, x1 - x0) == layer.ink.shape[:2]
    assert erode(layer.alpha[..., 0] > 0.99, 1).any()


def test_clip_cuts_the_coverage_at_the_print_area():
    photo = garment(200)
    inner = im.rect_to_corners(80, 80, 60, 200 - 80)
    out = np.asarray(im.place_design(photo, flat((30, 120, 200)), AREA, displacement=0.0, finish="embroidery",
                                     clip=inner))
    changed = np.any(out != np.asarray(photo), axis=-1)
    assert changed[100:180, 82:138].all()
    assert not changed[:, :79].any() and not changed[:, 141:].any() and not changed[:79].any()
