"""classify_photo: plain-backdrop product shots vs scenes, on synthetic photos."""

import numpy as np
import pytest

from mockups.imaging.segment import classify_photo

from .imaging_synth import backdrop, clutter, ellipse, jpeg, over, polygon, to_uint8, worn_tee

SHAPE = (300, 240)


def _product(img: np.ndarray, colour=(0.7, 0.2, 0.2)) -> np.ndarray:
    return over(img, ellipse(SHAPE, (120, 150), (70, 95)), colour)


@pytest.mark.parametrize("colour, gradient, noise", [
    ((0.96, 0.96, 0.95), 0.0, 0.0),  # pure studio white
    ((0.93, 0.92, 0.90), 0.12, 0.01),  # photographed sweep: light fall-off and noise
    ((0.15, 0.35, 0.75), 0.05, 0.008),  # any uniform colour counts too
    ((0.2, 0.2, 0.2), 0.0, 0.01),  # dark backdrop
])
def test_plain_backdrops_are_cutouts(colour, gradient, noise):
    photo = jpeg(_product(backdrop(SHAPE, colour, gradient=gradient, noise=noise)))
    kind, conf, details = classify_photo(photo)
    assert kind == "cutout", details
    assert conf > 0.5
    assert details["border_match"] > 0.9


def test_product_cropped_at_one_side_is_still_a_cutout():
    img = backdrop(SHAPE, (0.95, 0.95, 0.95), noise=0.005)
    img = over(img, polygon(SHAPE, [(60, 120), (180, 120), (190, 300), (50, 300)]), (0.3, 0.4, 0.6))
    kind, _, details = classify_photo(jpeg(img))
    assert kind == "cutout", details


def test_person_outdoors_is_a_scene():
    kind, conf, details = classify_photo(worn_tee()["rgb"])
    assert kind == "scene", details
    assert conf > 0.5
    assert details["reason"]


def test_busy_background_is_a_scene():
    kind, _, _ = classify_photo(to_uint8(_product(clutter(SHAPE))))
    assert kind == "scene"


def test_person_on_a_plain_wall_filling_the_bottom_is_a_scene():
    img = backdrop(SHAPE, (0.9, 0.88, 0.85), noise=0.005)
    img = over(img, polygon(SHAPE, [(30, 110), (210, 110), (240, 300), (0, 300)]), (0.2, 0.25, 0.5))
    img = over(img, ellipse(SHAPE, (120, 70), (35, 45)), (0.85, 0.62, 0.5))
    kind, _, details = classify_photo(jpeg(img))
    assert kind == "scene", details
    assert details["worst_side_match"] < 0.35


def test_product_filling_half_the_frame_is_a_scene():
    img = backdrop(SHAPE, (0.85, 0.7, 0.1), noise=0.01)  # like a phone lying on yellow paper
    img = over(img, polygon(SHAPE, [(80, 0), (240, 0), (240, 300), (0, 300), (0, 220)]), (0.15, 0.15, 0.16))
    kind, _, _ = classify_photo(jpeg(img))
    assert kind == "scene"


def test_classify_is_deterministic_and_accepts_float_input():
    photo = jpeg(_product(backdrop(SHAPE, (0.95, 0.95, 0.95))))
    assert classify_photo(photo) == classify_photo(photo)
    assert classify_photo(photo.astype(np.float32) / 255)[0] == "cutout"


def test_rejects_non_images():
    with pytest.raises(ValueError):
        classify_photo(np.zeros((10, 10)))
