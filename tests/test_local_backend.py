"""The local backend on the bundled sample assets: colour accuracy, shading, design placement,
fringes, canvas sizes, determinism, and bad input that fails one variant, not the build."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest
from PIL import Image

from mockups import BuildOptions, build, expand, imaging, load_catalog, prepare
from mockups.backends.local import LocalBackend
from tests.conftest import REPO, copy_bundled

# Shading must survive the recolour: the luminance of the dyed fabric follows the source's.
# Light and mid colours keep nearly all of it (r > 0.9); near black and near white the soft
# compression bends the curve (still monotonic), so they keep less of a linear correlation.
MIN_CORRELATION = {"white": 0.8, "black": 0.8}
DEFAULT_CORRELATION = 0.9


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return copy_bundled(tmp_path_factory.mktemp("sample"))


def dyed_tee(colour_hex: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(source RGB, recoloured RGB, dye mask) of the bundled tee, at its own resolution."""
    tee = imaging.open_image(REPO / "assets/tee.png")
    dye = np.asarray(imaging.open_image(REPO / "assets/tee-dye.png").convert("L"))
    prep = imaging.prepare_recolour(tee, dye)
    out = imaging.recolour(prep, tee, colour_hex)
    return np.asarray(tee)[..., :3], np.asarray(out)[..., :3], dye


def midtones(source_rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Pixels whose source lightness lies in the middle 40% of the dyed area's distribution."""
    lum = imaging.srgb_to_lab(source_rgb[mask])[:, 0]
    lo, hi = np.percentile(lum, [30, 70])
    sel = np.zeros(source_rgb.shape[:2], bool)
    sel[mask] = (lum >= lo) & (lum <= hi)
    return sel


def catalog_colours() -> dict[str, str]:
    catalog = load_catalog(REPO / "catalog.yaml")
    return {c.id: c.hex for c in catalog.model.colours}


@pytest.mark.parametrize("colour", sorted(catalog_colours()))
def test_every_bundled_colour_is_accurate_and_keeps_the_shading(colour):
    target = catalog_colours()[colour]
    src, out, dye = dyed_tee(target)
    solid = dye == 255
    sel = midtones(src, solid)
    de = imaging.ciede2000(imaging.srgb_to_lab(out[sel]), imaging.hex_to_lab(target)[None, :])
    assert float(np.median(de)) < 3.0, f"{colour}: median dE {np.median(de):.2f}"
    assert float(np.percentile(de, 90)) < 6.0
    src_l = imaging.srgb_to_lab(src[solid])[:, 0]
    out_l = imaging.srgb_to_lab(out[solid])[:, 0]
    r = float(np.corrcoef(src_l, out_l)[0, 1])
    assert r > MIN_CORRELATION.get(colour, DEFAULT_CORRELATION), f"{colour}: r={r:.3f}"
    outside = dye == 0
    assert np.array_equal(src[outside], out[outside])  # nothing outside the dyeable area moves


def render(sample, sku: str, colour: str, background: str, channel: str = "shop", **options):
    catalog = load_catalog(sample / "catalog.yaml")
    only = f"sku={sku},colour={colour},background={background},channel={channel}"
    prepared = prepare(sample / "catalog.yaml", BuildOptions(only=[only]))
    job = prepared.jobs[0]
    backend = LocalBackend({**prepared.backend.options, **options})
    return backend.render(job).image, job, catalog


def test_design_lands_inside_its_print_area_and_follows_the_folds(sample):
    with_design = LocalBackend({"displacement": 6.0})
    flat = LocalBackend({"displacement": 0.0})
    prepared = prepare(sample / "catalog.yaml",
                       BuildOptions(only=["sku=TEE-CLASSIC,colour=navy,background=sweep,channel=shop,placement=front"]))
    job = prepared.jobs[0]
    dyed = with_design.compositor.look(job, design=True)
    bent = flat.compositor.look(job, design=True)
    plain = with_design.compositor.look(job, design=False)
    changed = np.any(np.asarray(dyed)[..., :3] != np.asarray(plain)[..., :3], axis=-1)
    ys, xs = np.nonzero(changed)
    corners = np.array(job.variant.print.print_area)
    margin = 6 + 2  # displacement plus the resampling filter
    assert xs.min() >= corners[:, 0].min() - margin and xs.max() <= corners[:, 0].max() + margin
    assert ys.min() >= corners[:, 1].min() - margin and ys.max() <= corners[:, 1].max() + margin
    assert changed.sum() > 0.2 * np.ptp(corners[:, 0]) * np.ptp(corners[:, 1])  # the design is really there
    # the folds moved the print: with displacement 6 px it differs from the undisplaced print,
    # and by at most a few px (compare the design's coverage footprint)
    moved = np.any(np.asarray(dyed)[..., :3] != np.asarray(bent)[..., :3], axis=-1)
    assert moved.sum() > 500


def test_canvas_sizes_and_forced_white(sample):
    image, job, _ = render(sample, "TEE-CLASSIC", "black", "sweep", channel="marketplace")
    assert image.size == (1000, 1000)
    rgb = np.asarray(image)
    alpha_free = np.ones(rgb.shape[:2], bool)
    alpha_free[100:900, 100:900] = False  # the product fills the middle 85%
    border = rgb[:40]
    assert (border == 255).all()  # exactly #FFFFFF, no shadow or vignette there
    image, _, _ = render(sample, "MUG-11OZ", "mustard", "oak-table")
    assert image.size == (1200, 1200) and image.mode == "RGB"


def test_no_light_fringe_on_a_dark_background(sample, tmp_path):
    """A white tee composed on a near-black background: the ring just outside it is not lighter."""
    tee = imaging.open_image(REPO / "assets/tee.png")
    placed = imaging.place(tee, (800, 800), fill=0.8)
    dark = Image.new("RGB", (800, 800), (12, 12, 14))
    out = np.asarray(imaging.blend(placed, dark)).astype(int)
    alpha = placed.canvas_alpha()
    from mockups.imaging._common import dilate

    ring = dilate(alpha > 0, 2) & (alpha == 0)
    assert ring.any()
    assert out[ring].max() <= 14  # untouched background: no halo of the old backdrop


def test_same_job_same_bytes(sample, tmp_path):
    """Determinism: two builds in two folders give byte-identical outputs."""
    digests = []
    for name in ("a", "b"):
        root = tmp_path / name
        shutil.copytree(sample, root, ignore=shutil.ignore_patterns("build", ".mockups-cache"))
        build(root / "catalog.yaml", BuildOptions(only=["sku=MUG-11OZ"], gallery=False, jobs=1))
        digests.append({p.relative_to(root / "build").as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                        for p in sorted((root / "build").rglob("*")) if p.suffix in (".webp", ".jpg")})
    assert digests[0] == digests[1] and len(digests[0]) == 11  # 9 outputs and the 2 channels' contact sheets


def test_bad_images_fail_their_variants_only(sample, tmp_path):
    root = tmp_path / "bad"
    shutil.copytree(sample, root, ignore=shutil.ignore_patterns("build", ".mockups-cache"))
    data = (root / "assets/mug.png").read_bytes()
    (root / "assets/mug.png").write_bytes(data[: len(data) // 3])  # truncated: the header still reads
    report = build(root / "catalog.yaml", BuildOptions(only=["sku=MUG-11OZ", "sku=TOTE-CANVAS,colour=navy"],
                                                       gallery=False))
    failed = {o.job.id for o in report.failures}
    assert failed == {v.id for v in expand(load_catalog(root / "catalog.yaml")) if v.product.sku == "MUG-11OZ"}
    assert all(o.error.startswith("mug.png: ") for o in report.failures)
    assert "truncated or corrupt" in report.failures[0].error
    assert report.built == 4  # the tote's navy variants (3 shop, 1 marketplace) were made
