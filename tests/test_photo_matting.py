"""matte_cutout and the matting solver on synthetic studio photos with known alpha."""

import numpy as np
import pytest

from mockups.imaging._solver import estimate_foreground, solve_alpha
from mockups.imaging.matting import matte_cutout, trimap_from_mask

from .imaging_synth import backdrop, ellipse, jpeg, over, polygon, stripe, to_uint8

SHAPE = (280, 280)
RED, WHITE = np.float32([0.75, 0.12, 0.10]), (0.97, 0.97, 0.96)


@pytest.fixture(scope="module")
def disk():
    truth = ellipse(SHAPE, (140, 140), (80, 95), angle=20)
    img = over(backdrop(SHAPE, WHITE, noise=0.004), truth, RED)
    alpha, fg, conf, details = matte_cutout(to_uint8(img))
    return {"truth": truth, "img": img, "alpha": alpha, "fg": fg, "conf": conf, "details": details}


def test_output_types(disk):
    assert disk["alpha"].dtype == np.float32 and disk["alpha"].shape == SHAPE
    assert disk["fg"].dtype == np.float32 and disk["fg"].shape == SHAPE + (3,)
    assert 0.0 <= disk["alpha"].min() and disk["alpha"].max() <= 1.0
    assert disk["conf"] > 0.8 and disk["details"]["reason"] == ""


def test_soft_edge_follows_the_true_coverage(disk):
    edge = (disk["truth"] > 0.2) & (disk["truth"] < 0.8)
    est = disk["alpha"][edge]
    assert edge.sum() > 100
    assert np.mean((est > 0.05) & (est < 0.95)) > 0.9  # fractional, not a hard 0/1 cut
    assert np.abs(est - disk["truth"][edge]).mean() < 0.08
    assert np.abs(disk["alpha"] - disk["truth"]).max() < 0.35


def test_edge_colour_is_decontaminated(disk):
    edge = (disk["truth"] > 0.2) & (disk["truth"] < 0.8)
    raw = np.abs(disk["img"][edge] - RED).max(axis=1).mean()
    clean = np.abs(disk["fg"][edge] - RED).max(axis=1).mean()
    assert raw > 0.15  # the photo's edge pixels are mixed with the white backdrop...
    assert clean < 0.06  # ...the estimated foreground colour is the product's


def test_no_halo_on_a_new_background(disk):
    green = np.float32([0.0, 0.3, 0.05])
    a, t = disk["alpha"][..., None], disk["truth"][..., None]
    ours = disk["fg"] * a + green * (1 - a)
    truth = RED * t + green * (1 - t)
    band = (disk["truth"] > 0.02) & (disk["truth"] < 0.98)
    assert np.abs(ours - truth)[band].mean() < 0.04


def test_enclosed_backdrop_inside_a_handle_is_transparent():
    ring = np.clip(ellipse(SHAPE, (140, 110), (75, 70)) - ellipse(SHAPE, (140, 110), (50, 45)), 0, 1)
    bag = polygon(SHAPE, [(50, 150), (230, 150), (240, 270), (40, 270)])
    canvas = np.maximum(ring, bag)
    img = over(backdrop(SHAPE, WHITE, noise=0.004), canvas, (0.80, 0.76, 0.66))
    alpha, _, conf, details = matte_cutout(jpeg(img))
    inside = ellipse(SHAPE, (140, 105), (40, 30)) > 0.99
    assert details["holes_cut"] >= 1
    assert alpha[inside].max() < 0.05
    assert alpha[(ring > 0.99) & (bag < 0.01)].mean() > 0.95
    assert conf > 0.5


def test_white_print_in_the_middle_is_not_a_hole():
    shirt = polygon(SHAPE, [(40, 40), (240, 40), (240, 260), (40, 260)])
    img = over(backdrop(SHAPE, WHITE, noise=0.003), shirt, (0.15, 0.25, 0.55))
    frame = np.clip(ellipse(SHAPE, (140, 150), (45, 45)) - ellipse(SHAPE, (140, 150), (35, 35)), 0, 1)
    img = over(img, ellipse(SHAPE, (140, 150), (36, 36)), WHITE)  # backdrop-white print...
    img = over(img, frame, (0.05, 0.05, 0.05))  # ...framed by a dark ring, far from the outside
    alpha, _, _, details = matte_cutout(jpeg(img))
    assert details["holes_cut"] == 0
    assert alpha[ellipse(SHAPE, (140, 150), (25, 25)) > 0.99].min() > 0.95


def test_a_backdrop_white_printed_frame_near_the_edge_is_not_a_hole():
    """A black mug's white printed frame (a ring of the backdrop's colour around dark product,
    near the silhouette): it encloses product, so it is print, not a gap seen through."""
    mug = polygon(SHAPE, [(70, 50), (230, 50), (220, 250), (80, 250)])
    img = over(backdrop(SHAPE, WHITE, noise=0.003), mug, (0.05, 0.05, 0.06))
    frame = np.clip(polygon(SHAPE, [(84, 70), (214, 70), (208, 230), (92, 230)])
                    - polygon(SHAPE, [(100, 86), (198, 86), (194, 214), (106, 214)]), 0, 1)
    img = over(img, frame, WHITE)
    alpha, _, _, details = matte_cutout(jpeg(img))
    assert details["holes_cut"] == 0
    assert alpha[frame > 0.99].min() > 0.9


def test_cast_shadow_on_the_backdrop_is_not_product():
    box = polygon(SHAPE, [(70, 60), (170, 60), (170, 200), (70, 200)])
    shade = np.clip(ellipse(SHAPE, (190, 215), (70, 30)) - box, 0, 1)
    base = backdrop(SHAPE, WHITE, noise=0.003)
    blurred = np.asarray(__import__("cv2").GaussianBlur(shade, (0, 0), 9.0))
    shadowed = base * (1.0 - 0.45 * blurred[..., None])  # a darker, neutral, smooth backdrop
    img = over(shadowed, box, (0.20, 0.45, 0.25))
    alpha, _, _, details = matte_cutout(jpeg(img))
    shadow_zone = (blurred > 0.3) & (box < 0.01) & (polygon(SHAPE, [(176, 0), (280, 0), (280, 280), (176, 280)]) > 0.5)
    assert shadow_zone.sum() > 300
    assert alpha[shadow_zone].mean() < 0.01 and alpha[shadow_zone].max() < 0.15  # JPEG ringing at the corner
    assert np.mean(alpha[(blurred > 0.3) & (box < 0.01)] > 0.5) < 0.01
    inner = polygon(SHAPE, [(73, 63), (167, 63), (167, 197), (73, 197)]) > 0.99
    assert alpha[inner].min() > 0.95
    assert details["shadow_removed"] > 0.1


def test_white_product_on_white_gets_low_confidence_and_a_reason():
    shirt = polygon(SHAPE, [(60, 50), (220, 50), (230, 250), (50, 250)])
    img = over(backdrop(SHAPE, (0.985, 0.985, 0.985)), shirt, (0.94, 0.94, 0.94))
    bite = stripe(SHAPE, (210, 40), (240, 120), 14)  # a blown-out stretch of the outline
    img = over(img, bite, (0.985, 0.985, 0.985))
    _, _, conf, details = matte_cutout(to_uint8(img))
    assert conf < 0.5
    assert "mask" in details["reason"]


def test_given_backdrop_colour_is_used():
    truth = ellipse(SHAPE, (140, 140), (70, 70))
    img = over(backdrop(SHAPE, (0.2, 0.4, 0.8), noise=0.004), truth, (0.95, 0.85, 0.2))
    alpha, _, conf, details = matte_cutout(to_uint8(img), backdrop_rgb=(51, 102, 204))
    assert details["backdrop_rgb"] == (51, 102, 204)
    assert np.abs(alpha - truth).mean() < 0.01 and conf > 0.5


def test_matte_is_deterministic():
    img = jpeg(over(backdrop(SHAPE, WHITE, noise=0.01, seed=4), ellipse(SHAPE, (140, 140), (80, 60)), RED))
    a1, f1, c1, d1 = matte_cutout(img)
    a2, f2, c2, d2 = matte_cutout(img)
    assert np.array_equal(a1, a2) and np.array_equal(f1, f2) and c1 == c2 and d1 == d2


def test_solver_without_unknown_pixels_returns_the_trimap():
    tri = np.zeros((40, 40), np.float32)
    tri[10:30, 10:30] = 1.0
    assert np.array_equal(solve_alpha(np.random.default_rng(0).random((40, 40, 3)), tri), tri)


def _blend() -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(0, 1, 64, dtype=np.float32)
    truth = np.broadcast_to(np.clip((x - 0.3) / 0.4, 0, 1), (48, 64)).copy()
    img = over(np.broadcast_to(np.float32([0.9, 0.9, 0.2]), (48, 64, 3)).copy(), truth, (0.1, 0.2, 0.8))
    return img, truth


def test_solver_recovers_a_linear_blend():
    img, truth = _blend()
    tri = np.where(truth >= 1.0, 1.0, np.where(truth <= 0.0, 0.0, 0.5)).astype(np.float32)
    alpha = solve_alpha(img, tri, tol=1e-6, max_iter=500)
    assert np.abs(alpha - truth).max() < 0.05


def test_solver_honours_the_data_term():
    img, truth = _blend()
    tri = trimap_from_mask(truth > 0.5, 14, 14)
    unknown = (tri > 0) & (tri < 1)
    free = solve_alpha(img, tri, tol=1e-6, max_iter=500)
    pulled = solve_alpha(img, tri, tol=1e-6, max_iter=500, prior=np.full(truth.shape, 0.5, np.float32),
                         prior_weight=50.0)
    assert np.abs(free - truth).max() < 0.02  # the colour-line model alone recovers the blend
    assert np.abs(pulled - 0.5)[unknown].mean() < 0.05  # a strong per-pixel estimate wins


def test_foreground_equals_image_where_opaque():
    img = np.random.default_rng(1).random((32, 32, 3)).astype(np.float32)
    assert np.allclose(estimate_foreground(img, np.ones((32, 32), np.float32)), img, atol=1e-5)
