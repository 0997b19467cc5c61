"""The procedurally generated sample assets: files, sizes, silhouettes, print areas, shading, determinism."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mockups.starter import samples
from mockups.starter.samples import BACKDROPS, DESIGNS, SAMPLES, sample_files, write_samples

REPO = Path(__file__).resolve().parent.parent

EXPECTED = {  # name: (size, mode, format)
    "tee.png": ((1024, 1024), "RGBA", "PNG"),
    "tee-dye.png": ((1024, 1024), "L", "PNG"),
    "tee-back.png": ((1024, 1024), "RGBA", "PNG"),
    "tee-back-dye.png": ((1024, 1024), "L", "PNG"),
    "hoodie.png": ((1024, 1024), "RGBA", "PNG"),
    "hoodie-dye.png": ((1024, 1024), "L", "PNG"),
    "mug.png": ((1024, 1024), "RGBA", "PNG"),
    "mug-dye.png": ((1024, 1024), "L", "PNG"),
    "tote.png": ((1024, 1024), "RGBA", "PNG"),
    "tote-dye.png": ((1024, 1024), "L", "PNG"),
    "fox.png": ((800, 800), "RGBA", "PNG"),
    "studio.jpg": ((1600, 1200), "RGB", "JPEG"),
    "oak-table.jpg": ((1600, 1200), "RGB", "JPEG"),
}
PRODUCTS = sorted(SAMPLES)
GARMENTS = [k for k, v in SAMPLES.items() if v["kind"] == "garment"]


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, dict]:
    dest = tmp_path_factory.mktemp("samples") / "nested" / "dir"      # created if missing
    return dest, write_samples(dest)


def array(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def alpha_of(dest: Path, product: str) -> np.ndarray:
    return array(dest / SAMPLES[product]["image"])[..., 3]


def test_every_file_is_written_with_its_size_mode_and_format(written):
    dest, _ = written
    assert sorted(p.name for p in dest.iterdir()) == sorted(EXPECTED)
    assert sorted(sample_files()) == sorted(EXPECTED)
    for name, (size, mode, fmt) in EXPECTED.items():
        with Image.open(dest / name) as im:
            assert (im.size, im.mode, im.format) == (size, mode, fmt), name
        assert (dest / name).stat().st_size < 1_600_000, f"{name} is too large for the repository"


def test_write_samples_returns_the_metadata(written):
    _, returned = written
    assert returned == SAMPLES
    for key, meta in SAMPLES.items():
        assert meta["kind"] in {"garment", "mug", "bag"}, key
        assert isinstance(meta["description"], str) and meta["description"].strip(), key
        assert len(meta["print_area"]) == 4 and all(len(p) == 2 for p in meta["print_area"]), key
    assert DESIGNS["fox"]["image"] == "fox.png"
    assert {v["image"] for v in BACKDROPS.values()} == {"studio.jpg", "oak-table.jpg"}


@pytest.mark.parametrize("name", [f"{p}.png" for p in PRODUCTS] + ["fox.png"])
def test_alpha_is_a_real_antialiased_silhouette(written, name):
    alpha = array(written[0] / name)[..., 3]
    assert (alpha == 0).mean() > 0.2, "there should be transparent background"
    assert (alpha == 255).mean() > 0.2, "there should be an opaque product"
    soft = (alpha > 0) & (alpha < 255)
    assert soft.sum() > 500, "edges should be anti-aliased"
    assert soft.mean() < 0.02, "only the edges should be partly transparent"


def test_mug_handle_has_a_transparent_hole(written):
    alpha = alpha_of(written[0], "mug")
    assert alpha[548, 700] == 0          # inside the handle loop
    assert alpha[548, 765] == 255        # the handle itself
    assert alpha[548, 600] == 255        # the mug body


def test_tote_is_transparent_between_straps_and_bag(written):
    alpha = alpha_of(written[0], "tote")
    assert alpha[300, 512] == 0
    assert alpha[130, 512] == 255        # the top of the front strap


@pytest.mark.parametrize("product", PRODUCTS)
def test_print_area_lies_inside_the_silhouette_and_the_dyeable_fabric(written, product):
    dest, _ = written
    alpha = alpha_of(dest, product)
    dye = array(dest / SAMPLES[product]["recolour_mask"])
    corners = np.array(SAMPLES[product]["print_area"])
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = corners
    assert x0 < x1 and y1 < y2 and x2 > x3 and y3 > y0, "corners go top-left, top-right, bottom-right, bottom-left"
    cx, cy = corners.mean(axis=0).round().astype(int)
    for x, y in [*corners, (cx, cy)]:
        assert alpha[y, x] == 255, f"{product}: ({x}, {y}) is outside the silhouette"
    left, top = corners.min(axis=0)
    right, bottom = corners.max(axis=0)
    assert alpha[top:bottom + 1, left:right + 1].min() == 255
    assert dye[top:bottom + 1, left:right + 1].min() == 255


@pytest.mark.parametrize("product", PRODUCTS)
def test_dye_mask_matches_its_image(written, product):
    dest, _ = written
    with (Image.open(dest / SAMPLES[product]["image"]) as im,
          Image.open(dest / SAMPLES[product]["recolour_mask"]) as mask):
        assert mask.size == im.size and mask.mode == "L"
        alpha = np.asarray(im)[..., 3].astype(int)
        dye = np.asarray(mask).astype(int)
    assert (dye <= alpha + 1).all(), "the dyeable area must lie inside the silhouette"
    assert (dye == 255).sum() > 0.5 * (alpha == 255).sum()


@pytest.mark.parametrize("product, x, y", [
    ("tee", 512, 208),       # neck label
    ("hoodie", 457, 430),    # left drawstring
    ("hoodie", 462, 392),    # left eyelet
    ("mug", 452, 318),       # inside the mug
])
def test_trims_are_not_dyeable(written, product, x, y):
    dest, _ = written
    assert alpha_of(dest, product)[y, x] == 255
    assert array(dest / SAMPLES[product]["recolour_mask"])[y, x] == 0


def fabric_luminance(dest: Path, product: str) -> np.ndarray:
    with Image.open(dest / SAMPLES[product]["image"]) as im:
        lum = np.asarray(im.convert("RGB").convert("L")).astype(float)
        alpha = np.asarray(im)[..., 3]
    dye = array(dest / SAMPLES[product]["recolour_mask"])
    return lum[(alpha == 255) & (dye == 255)]


@pytest.mark.parametrize("product", GARMENTS)
def test_garments_are_light_neutral_with_real_shading(written, product):
    lum = fabric_luminance(written[0], product)
    p5, p50, p95 = np.percentile(lum, [5, 50, 95])
    assert lum.std() > 15, "folds and seams should shade the fabric"
    assert 130 <= p5 <= 195, "deep folds around 150-190"
    assert 215 <= p50 <= 240, "a light neutral garment"
    assert 232 <= p95 <= 250, "highlights near white but not clipped"
    assert p95 - p5 >= 45
    rgb = array(written[0] / SAMPLES[product]["image"])[..., :3][alpha_of(written[0], product) == 255].mean(axis=0)
    assert np.ptp(rgb) < 12, "near-neutral so it can be recoloured"


def test_mug_is_glossy_white(written):
    lum = fabric_luminance(written[0], "mug")
    assert np.percentile(lum, 99) >= 245, "a specular highlight"
    assert np.percentile(lum, 5) <= 175, "darker grazing edges"


def test_tote_canvas_has_texture_and_shading(written):
    lum = fabric_luminance(written[0], "tote")
    assert lum.std() > 8
    assert 210 <= np.median(lum) <= 240
    patch = array(written[0] / "tote.png")[600:664, 600:664, :3].astype(float).mean(axis=2)
    assert np.abs(np.diff(patch, axis=1)).mean() > 1.0, "a fine woven texture"


def test_backdrops(written):
    dest, _ = written
    studio = array(dest / "studio.jpg").astype(float).mean(axis=2)
    assert 170 < studio.mean() < 235 and studio[1100].mean() > studio[100].mean(), "the floor is lit more than the wall"
    oak = array(dest / "oak-table.jpg").astype(float)
    wall, table = oak[:400], oak[560:]
    assert wall.mean() > 200 and table.mean() < wall.mean() - 30
    r, g, b = table.reshape(-1, 3).mean(axis=0)
    assert r > g > b, "warm wood"


def test_same_bytes_every_run_including_the_command_line(written, tmp_path):
    first, _ = written
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    run = subprocess.run([sys.executable, "-m", "mockups.starter.samples", str(tmp_path / "again")],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    for name in EXPECTED:
        assert (tmp_path / "again" / name).read_bytes() == (first / name).read_bytes(), f"{name} differs between runs"


def test_generators_are_seeded_per_asset():
    a = samples._rng("tee").standard_normal(4)
    assert np.array_equal(a, samples._rng("tee").standard_normal(4))
    assert not np.array_equal(a, samples._rng("hoodie").standard_normal(4))
