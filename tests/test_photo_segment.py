"""segment_garment on synthetic scene photos with known ground truth."""

import numpy as np
import pytest

from mockups.imaging.segment import segment_garment, segment_garment_details

from .imaging_synth import GREY, backdrop, clutter, jpeg, over, polygon, to_uint8, worn_tee


@pytest.fixture(scope="module")
def scene():
    data = worn_tee()
    data["alpha"], data["confidence"] = segment_garment(data["rgb"], data["quad"])
    return data


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def test_garment_found_from_the_print_quad(scene):
    alpha = scene["alpha"]
    assert alpha.dtype == np.float32 and alpha.shape == scene["garment"].shape
    assert 0.0 <= alpha.min() and alpha.max() <= 1.0
    assert _iou(alpha > 0.5, scene["garment"]) > 0.9
    assert scene["confidence"] > 0.5


def test_arm_crossing_the_garment_is_a_hole(scene):
    assert scene["alpha"][scene["arm"]].mean() < 0.1


def test_person_and_surroundings_are_kept_out(scene):
    alpha = scene["alpha"]
    assert alpha[scene["head"]].mean() < 0.05
    assert alpha[scene["jeans"]].mean() < 0.05
    assert alpha[scene["background"]].mean() < 0.02


def test_point_seed_on_the_garment():
    data = worn_tee(arm=False)
    alpha, conf = segment_garment(data["rgb"], (120, 200))
    assert _iou(alpha > 0.5, data["garment"]) > 0.9
    assert conf > 0.5


def test_print_inside_the_quad_stays_garment():
    data = worn_tee(arm=False)
    rgb = data["rgb"].astype(np.float32) / 255
    logo = polygon(rgb.shape[:2], [(100, 130), (140, 130), (140, 170), (100, 170)])
    rgb = to_uint8(over(rgb, logo, (0.9, 0.8, 0.1)))
    alpha, _ = segment_garment(rgb, data["quad"])
    assert alpha[logo > 0.5].mean() > 0.95


def test_garment_like_its_surroundings_has_low_confidence():
    shape = (320, 240)
    img = backdrop(shape, GREY, noise=0.05)  # a grey heather tee in front of a grey heather wall
    tee = polygon(shape, [(60, 90), (180, 90), (190, 250), (50, 250)])
    img = over(img, tee, np.clip(np.float32(GREY) + 0.02, 0, 1))
    result = segment_garment_details(jpeg(img), [(90, 120), (150, 120), (150, 200), (90, 200)])
    assert result.confidence < 0.5
    assert "mask" in result.reason


def test_segmentation_is_deterministic():
    data = worn_tee(seed=5)
    first = segment_garment(data["rgb"], data["quad"])
    second = segment_garment(data["rgb"], data["quad"])
    assert np.array_equal(first[0], second[0]) and first[1] == second[1]


@pytest.mark.parametrize("seed", [(5, 5, 5), [(0, 0), (1, 1)], (-500, -500)])
def test_bad_seeds_are_rejected(seed):
    with pytest.raises(ValueError):
        segment_garment(to_uint8(clutter((64, 64))), seed)
