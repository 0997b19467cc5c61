"""Cylinder wrap geometry, on synthetic products and designs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from mockups import imaging as im
from mockups.imaging import _cylinder as cy

SQUARE, COLS, ROWS, MARGIN = 60, 10, 5, 60  # checkerboard with a white quiet zone


def checkerboard() -> Image.Image:
    w, h = COLS * SQUARE + 2 * MARGIN, ROWS * SQUARE + 2 * MARGIN
    img = Image.new("RGBA", (w, h), (255, 255, 255, 255))
    draw = ImageDraw.Draw(img)
    for i in range(COLS):
        for j in range(ROWS):
            if (i + j) % 2 == 0:
                x, y = MARGIN + i * SQUARE, MARGIN + j * SQUARE
                draw.rectangle((x, y, x + SQUARE - 1, y + SQUARE - 1), fill=(0, 0, 0, 255))
    return img


def product(size: tuple[int, int] = (1000, 900)) -> Image.Image:
    return Image.new("RGBA", size, (120, 120, 125, 255))


def inner_corners_uv() -> tuple[np.ndarray, np.ndarray]:
    """(u, v) of the board's inner corners, row by row (findChessboardCorners' order up to flips)."""
    w, h = COLS * SQUARE + 2 * MARGIN, ROWS * SQUARE + 2 * MARGIN
    i, j = np.meshgrid(np.arange(1, COLS), np.arange(1, ROWS))
    return (MARGIN + i * SQUARE) / w, (MARGIN + j * SQUARE) / h


def detected_corners(image: Image.Image) -> np.ndarray:
    grey = cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2GRAY)
    found, corners = cv2.findChessboardCorners(grey, (COLS - 1, ROWS - 1))
    assert found, "checkerboard not found in the render"
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 0.01)
    return cv2.cornerSubPix(grey, corners, (5, 5), (-1, -1), criteria).reshape(-1, 2)


def nearest_error(found: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Distance from each expected point to the nearest detected one (order-free matching)."""
    d = np.hypot(found[None, :, 0] - expected[:, None, 0], found[None, :, 1] - expected[:, None, 1])
    assert len(set(d.argmin(axis=1))) == len(expected)  # one-to-one
    return d.min(axis=1)


@pytest.mark.parametrize("arc", [100.0, 150.0])
def test_checkerboard_corners_follow_the_analytic_projection(arc):
    cyl = cy.Cylinder.from_box((250, 150, 750, 750), arc=arc)
    out = cy.wrap_design(product(), checkerboard(), cyl, falloff=0.0)
    u, v = inner_corners_uv()
    theta = np.radians((u - 0.5) * arc)
    expected = np.stack([500 + 250 * np.sin(theta), 150 + v * 600], -1).reshape(-1, 2)
    err = nearest_error(detected_corners(out), expected)
    assert err.max() < 2.0, err.max()


def test_tilted_tapered_elliptic_corners_match_project():
    cyl = cy.Cylinder(top=(480, 160), bottom=(530, 760), radius=260, bottom_radius=200, arc=120,
                      centre=10, ellipse=0.15)
    out = cy.wrap_design(product(), checkerboard(), cyl, falloff=0.2)
    u, v = inner_corners_uv()
    x, y = cy.project(cyl, u, v)
    err = nearest_error(detected_corners(out), np.stack([x, y], -1).reshape(-1, 2))
    assert err.max() < 2.0, err.max()


def test_map_inverts_project():
    cyl = cy.Cylinder(top=(300, 100), bottom=(320, 500), radius=150, bottom_radius=120, arc=200,
                      centre=-20, ellipse=0.2)
    design = (400, 300)
    cmap = cy.cylinder_map(design, cyl, (640, 640), falloff=0.0)
    u, v = np.meshgrid(np.linspace(0.1, 0.9, 9), np.linspace(0.1, 0.9, 7))
    x, y = cy.project(cyl, u, v)
    ok = np.isfinite(x)
    xi, yi = np.rint(x[ok]).astype(int), np.rint(y[ok]).astype(int)
    # at the nearest pixel centre the map is within ~1 design px of the projected point's (u, v)
    slope = design[0] / np.radians(cyl.arc) / (cyl.radius * np.cos(np.radians(cyl.centre + (u[ok] - 0.5) * 200)))
    assert np.all(np.abs(cmap.map_x[yi, xi] - (u[ok] * design[0] - 0.5)) < 0.75 * slope + 0.5)
    assert np.all(np.abs(cmap.map_y[yi, xi] - (v[ok] * design[1] - 0.5)) < 1.5)


def test_arc_beyond_the_silhouette_is_cut():
    # 240 deg design: only its middle 180 deg (u in 0.125-0.875) can face the camera
    design = Image.new("RGBA", (480, 100), (0, 200, 0, 255))
    ImageDraw.Draw(design).rectangle((0, 0, 47, 99), fill=(255, 0, 0, 255))  # u < 0.1: behind
    ImageDraw.Draw(design).rectangle((432, 0, 479, 99), fill=(0, 0, 255, 255))  # u > 0.9: behind
    cyl = cy.Cylinder.from_box((200, 100, 600, 400), arc=240.0)
    out = np.asarray(cy.wrap_design(product((800, 500)), design, cyl, falloff=0.0)).astype(int)
    green = (out[..., 1] > 150) & (out[..., 0] < 80)
    assert not ((out[..., 0] > 150) & (out[..., 1] < 80)).any()  # no red
    assert not ((out[..., 2] > 150) & (out[..., 1] < 80)).any()  # no blue
    xs = np.nonzero(green.any(axis=0))[0]
    assert xs.min() >= 199 and xs.max() <= 600  # clipped at the silhouette ...
    assert xs.min() <= 201 and xs.max() >= 598  # ... and reaching it
    rows = np.nonzero(green.any(axis=1))[0]
    assert rows.min() >= 99 and rows.max() <= 400


def test_pixels_off_the_print_band_are_untouched():
    base = product((600, 600))
    arr = np.asarray(base).copy()
    arr[..., 3] = 0
    arr[50:550, 100:500, 3] = 255  # the product's alpha: the design is clipped to it
    base = Image.fromarray(arr, "RGBA")
    cyl = cy.Cylinder.from_box((80, 100, 520, 500), arc=160)
    out = np.asarray(cy.wrap_design(base, Image.new("RGBA", (300, 200), (250, 10, 10, 255)), cyl))
    cmap = cy.cylinder_map((300, 200), cyl, (600, 600))
    off = (cmap.coverage == 0) | (arr[..., 3] == 0) | (cmap.map_y < -1) | (cmap.map_y > 200)
    assert np.array_equal(out[off], arr[off])
    assert (out[300, 300, :3] == (250, 10, 10)).all()


def test_cosine_falloff():
    cyl = cy.Cylinder.from_box((100, 0, 300, 100), arc=180)
    cmap = cy.cylinder_map((100, 100), cyl, (400, 100), falloff=0.4)
    assert cmap.shade[50, 200] == pytest.approx(1.0, abs=1e-3)
    theta = np.arcsin(90.0 / 100.0)
    assert cmap.shade[50, 290] == pytest.approx(1 - 0.4 * (1 - np.cos(theta)), abs=2e-3)
    assert np.all(cy.cylinder_map((100, 100), cyl, (400, 100), falloff=0.0).shade == 1.0)


def test_deterministic_and_large_designs_are_prefiltered():
    cyl = cy.Cylinder.from_box((100, 100, 400, 300), arc=120)
    big = checkerboard().resize((3200, 1600), Image.Resampling.NEAREST)
    a = np.asarray(cy.wrap_design(product((500, 400)), big, cyl))
    b = np.asarray(cy.wrap_design(product((500, 400)), big, cyl))
    assert np.array_equal(a, b)


@pytest.mark.parametrize("bad", [dict(radius=0), dict(arc=0), dict(arc=400), dict(ellipse=1.0),
                                 dict(bottom=(10, 10))])
def test_invalid_cylinders_are_imaging_errors(bad):
    params = dict(top=(10, 10), bottom=(10, 100), radius=50, arc=180) | bad
    with pytest.raises(im.ImagingError):
        cy.cylinder_map((10, 10), cy.Cylinder(**params), (200, 200))
