"""Old prints on product photos: finding them (find_old_print) and painting them out (remove_old_print).

All images are synthetic: a garment silhouette of textured fabric (fine noise plus a
weave), folds as darker bands of the same colour, prints drawn 4x supersampled so their
edges are anti-aliased like a photo's.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from mockups.imaging import estimate_dye_mask
from mockups.imaging._colour import ciede2000, srgb_to_lab
from mockups.imaging._common import ImagingError
from mockups.imaging._oldprint import OldPrint, find_old_print, remove_old_print

SIZE = 240
AREA = [(60.0, 60.0), (180.0, 60.0), (180.0, 180.0), (60.0, 180.0)]
SS = 4


def _cover(draw) -> np.ndarray:
    """Anti-aliased coverage (0-1) of what ``draw(canvas, scale)`` fills with 255."""
    big = np.zeros((SIZE * SS, SIZE * SS), np.uint8)
    draw(big, SS)
    return cv2.resize(big.astype(np.float32) / 255.0, (SIZE, SIZE), interpolation=cv2.INTER_AREA)


def _silhouette() -> np.ndarray:
    return _cover(lambda c, s: cv2.rectangle(c, (20 * s, 15 * s), (220 * s, 228 * s), 255, -1))


def _fabric(colour, *, texture: float = 5.0, folds: bool = False, seed: int = 7) -> np.ndarray:
    """Float RGB 0-255: a flat colour with random grain and a weave, optionally diagonal folds."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    grain = rng.normal(0.0, texture * 0.6, (SIZE, SIZE)).astype(np.float32)
    weave = texture * 0.5 * np.sin(xx * 2.1) * np.sin(yy * 2.1)
    shade = np.ones((SIZE, SIZE), np.float32)
    if folds:  # creases halving the light, soft on one side, sharper on the other
        for x0, width, depth in ((70, 6.0, 0.5), (125, 9.0, 0.45), (170, 3.0, 0.65)):
            u = (xx + 0.4 * yy - x0 - 40) / width
            shade *= 1.0 - depth * np.exp(-np.where(u < 0, u * u, 3.0 * u * u))
    img = np.float32(colour) * shade[..., None] + (grain + weave)[..., None]
    return np.clip(img, 0.0, 255.0)


def _logo() -> np.ndarray:
    """A chunky two-part logo (a disc and a bar) inside AREA: coverage 0-1."""
    def draw(c, s):
        cv2.circle(c, (96 * s, 112 * s), 30 * s, 255, -1)
        cv2.rectangle(c, (134 * s, 84 * s), (166 * s, 158 * s), 255, -1)
    return _cover(draw)


def _photo(rgb: np.ndarray, alpha: np.ndarray) -> Image.Image:
    rgba = np.dstack([np.clip(np.rint(rgb), 0, 255), np.rint(alpha * 255.0)]).astype(np.uint8)
    return Image.fromarray(rgba, "RGBA")


def _print_on(colour, ink, cover: np.ndarray, **fabric) -> tuple[Image.Image, np.ndarray]:
    base = _fabric(colour, **fabric)
    rgb = base * (1.0 - cover[..., None]) + np.float32(ink) * cover[..., None]
    photo = _photo(rgb, _silhouette())
    return photo, estimate_dye_mask(photo)


@pytest.fixture(scope="module")
def canvas_logo():
    cover = _logo()
    photo, dye = _print_on((214, 204, 184), (34, 40, 58), cover)
    return photo, dye, cover, find_old_print(photo, dye, AREA)


@pytest.fixture(scope="module")
def removed(canvas_logo):
    photo, _, _, found = canvas_logo
    return remove_old_print(photo, found.mask)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.count_nonzero(a & b)) / max(1, int(np.count_nonzero(a | b)))


# --- finding -----------------------------------------------------------------


def test_logo_on_textured_canvas_is_found(canvas_logo):
    _, _, cover, found = canvas_logo
    assert isinstance(found, OldPrint)
    assert found.mask.shape == (SIZE, SIZE) and found.mask.dtype == np.float32
    assert 0.0 <= found.mask.min() and found.mask.max() <= 1.0
    assert _iou(found.mask > 0.5, cover > 0.5) > 0.8
    assert np.all(found.mask[cover > 0.02] > 0.5)  # the anti-aliased rim is taken in
    assert found.confidence > 0.9
    assert found.coverage == pytest.approx(np.count_nonzero(cover > 0.5) / (121 * 121), rel=0.1)
    assert "old print found" in found.reason


def test_the_whole_silhouette_is_searched_without_an_area(canvas_logo):
    photo, dye, cover, _ = canvas_logo
    found = find_old_print(photo, dye, None)
    assert found.confidence > 0.9
    assert _iou(found.mask > 0.5, cover > 0.5) > 0.8


def test_float_dye_mask_gives_the_same_answer(canvas_logo):
    photo, dye, _, found = canvas_logo
    again = find_old_print(photo, dye.astype(np.float32) / 255.0, AREA)
    assert np.array_equal(again.mask, found.mask) and again.confidence == found.confidence


@pytest.mark.parametrize("colour", [(236, 236, 232), (40, 90, 200), (200, 30, 40), (30, 30, 32)],
                         ids=["white", "blue", "red", "black"])
def test_plain_garment_with_folds_has_no_print(colour):
    photo = _photo(_fabric(colour, folds=True), _silhouette())
    found = find_old_print(photo, estimate_dye_mask(photo), AREA)
    assert found.confidence < 0.2
    assert np.count_nonzero(found.mask > 0.5) < 0.005 * 121 * 121
    assert found.coverage < 0.005
    assert found.reason == ""


def test_thin_light_line_art_on_a_saturated_colour_is_found():
    # white outlines on red: the dye mask half admits them as highlights; the local cue finds them
    ring = _cover(lambda c, s: cv2.circle(c, (120 * s, 120 * s), 40 * s, 255, round(2.5 * s)))
    photo, dye = _print_on((200, 30, 40), (250, 246, 244), ring, texture=2.0)
    found = find_old_print(photo, dye, AREA)
    assert found.confidence > 0.9
    assert np.all(found.mask[ring > 0.5] > 0.5)
    assert np.count_nonzero(found.mask > 0.5) < 6 * np.count_nonzero(ring > 0.5)


# --- removing ----------------------------------------------------------------


def _ring_and_inside(mask: np.ndarray):
    hole = (mask > 0).astype(np.uint8)
    ring = (cv2.dilate(hole, np.ones((21, 21), np.uint8)) > 0) & ~(cv2.dilate(hole, np.ones((7, 7), np.uint8)) > 0)
    inside = cv2.erode(hole, np.ones((3, 3), np.uint8)) > 0
    return ring, inside


def test_removed_print_matches_the_fabric_around(canvas_logo, removed):
    _, _, _, found = canvas_logo
    ring, inside = _ring_and_inside(found.mask)
    lab = srgb_to_lab(np.asarray(removed)[..., :3]).astype(np.float64)
    fabric = np.median(lab[ring], axis=0)
    assert float(np.median(ciede2000(lab[inside], fabric))) < 3.0
    # texture restored: not a smooth blur, not noisier than the fabric
    high = lab[..., 0] - cv2.GaussianBlur(lab[..., 0], (0, 0), 2.0)
    ratio = float(high[inside].std() / high[ring].std())
    assert 0.5 < ratio < 2.0


def test_removal_changes_only_the_mask_and_keeps_alpha(canvas_logo, removed):
    photo, _, _, found = canvas_logo
    before, after = np.asarray(photo), np.asarray(removed)
    assert removed.mode == "RGBA" and removed.size == photo.size
    assert np.array_equal(before[found.mask == 0], after[found.mask == 0])
    assert np.array_equal(before[..., 3], after[..., 3])
    assert not np.array_equal(before[found.mask == 1.0], after[found.mask == 1.0])


def test_deterministic(canvas_logo, removed):
    photo, dye, _, found = canvas_logo
    again = find_old_print(photo, dye, AREA)
    assert np.array_equal(again.mask, found.mask) and again.confidence == found.confidence
    assert remove_old_print(photo, again.mask).tobytes() == removed.tobytes()


def test_empty_mask_returns_the_photo_unchanged(canvas_logo):
    photo = canvas_logo[0]
    out = remove_old_print(photo, np.zeros((SIZE, SIZE), np.uint8))
    assert out.tobytes() == photo.tobytes() and out is not photo


def test_explicit_radius_and_mask_types(canvas_logo):
    photo, _, cover, _ = canvas_logo
    hard = cv2.dilate((cover > 0.02).astype(np.uint8), np.ones((5, 5), np.uint8))
    as_bool = remove_old_print(photo, hard.astype(bool), radius=5)
    as_u8 = remove_old_print(photo, hard * 255, radius=5)
    assert as_bool.tobytes() == as_u8.tobytes()


# --- bad input -----------------------------------------------------------------


@pytest.mark.parametrize("dye, match", [
    (np.zeros((SIZE, SIZE + 1), np.uint8), "shape"),
    (np.zeros((SIZE, SIZE, 3), np.uint8), "shape"),
    (np.full((SIZE, SIZE), np.nan, np.float32), "NaN"),
    (np.full((SIZE, SIZE), 2.5, np.float32), "0-1"),
    (np.full((SIZE, SIZE), "x"), "numeric"),
])
def test_bad_dye_mask(canvas_logo, dye, match):
    with pytest.raises(ImagingError, match=match):
        find_old_print(canvas_logo[0], dye, AREA)


@pytest.mark.parametrize("area, match", [
    ([(0, 0), (10, 0), (10, 10)], "4 finite"),
    ([(0, 0), (10, 0), (10, float("nan")), (0, 10)], "4 finite"),
    ([("a", 0), (10, 0), (10, 10), (0, 10)], "numeric"),
    ([(5, 5), (5, 5), (5, 5), (5, 5)], "no size"),
    ([(500, 500), (600, 500), (600, 600), (500, 600)], "does not overlap"),
])
def test_bad_area(canvas_logo, area, match):
    photo, dye = canvas_logo[:2]
    with pytest.raises(ImagingError, match=match):
        find_old_print(photo, dye, area)


def test_bad_images_and_masks(canvas_logo):
    photo, dye = canvas_logo[:2]
    with pytest.raises(ImagingError, match="PIL image"):
        find_old_print(np.asarray(photo), dye, AREA)
    with pytest.raises(ImagingError, match="no opaque"):
        find_old_print(Image.new("RGBA", (SIZE, SIZE)), dye, AREA)
    with pytest.raises(ImagingError, match="numpy array"):
        find_old_print(photo, Image.fromarray(dye), AREA)
    with pytest.raises(ImagingError, match="shape"):
        remove_old_print(photo, np.zeros((10, 10), np.float32))
    with pytest.raises(ImagingError, match="radius"):
        remove_old_print(photo, np.zeros((SIZE, SIZE), np.float32), radius=0)
    with pytest.raises(ImagingError, match="radius"):
        remove_old_print(photo, np.zeros((SIZE, SIZE), np.float32), radius="big")
