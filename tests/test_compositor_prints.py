"""The compositor with the real-photo pieces wired in: colour-matched shading strength, old prints
removed (or warned about), designs wrapped round a cylinder print area, finishes; all through
the catalog and a build, on synthetic images made here."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mockups import BuildOptions, build, imaging, prepare
from mockups.backends.local import LocalBackend, material

SIZE = 256


def _garment(colour, *, seed: int = 3, logo: bool = False) -> Image.Image:
    """A textured garment with folds on a transparent background, optionally with an old print
    (a dark disc and bar) in the middle."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    shade = 1.0 - 0.35 * np.exp(-((xx + 0.5 * yy - 190) / 9.0) ** 2) - 0.25 * np.exp(-((xx - 0.3 * yy - 60) / 6.0) ** 2)
    rgb = np.float32(colour) * shade[..., None] + rng.normal(0, 2.5, (SIZE, SIZE, 1)).astype(np.float32)
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB").convert("RGBA")
    alpha = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(alpha).rectangle((20, 16, SIZE - 20, SIZE - 16), fill=255)
    image.putalpha(alpha)
    if logo:
        draw = ImageDraw.Draw(image)
        draw.ellipse((96, 100, 140, 144), fill=(40, 40, 44, 255))
        draw.rectangle((148, 96, 162, 150), fill=(40, 40, 44, 255))
    return image


def _design() -> Image.Image:
    image = Image.new("RGBA", (60, 60), (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((4, 4, 56, 56), fill=(30, 90, 200, 255))
    return image


def _project(project, product: str, files: dict) -> object:
    text = textwrap.dedent("""\
        version: 1
        channels:
          - {id: web, size: 256x256, format: png, fill: 1.0}
        products:
        """) + textwrap.indent(textwrap.dedent(product), "  ") + textwrap.dedent("""\
        colours:
          - {id: white, name: White, hex: "#F4F4F2"}
          - {id: black, name: Black, hex: "#1B1B1D"}
        backgrounds:
          - {id: plain, name: Plain, colour: "#DDDDDD"}
        designs:
          - {id: logo, name: Logo, image: assets/logo.png}
        """)
    return project(text, files={"assets/logo.png": _design(), **files})


def _looks(path, **options) -> dict[str, tuple]:
    prepared = prepare(path, BuildOptions())
    backend = LocalBackend({"displacement": 0.0, **options})
    out = {}
    for job in prepared.jobs:
        out[job.variant.id] = (backend.compositor.look(job, design=False), backend.compositor.product(job), job)
    return out


def _iqr(image: Image.Image, region: np.ndarray) -> float:
    lightness = imaging.srgb_to_lab(np.asarray(image)[..., :3])[..., 0][region]
    p25, p75 = np.percentile(lightness, [25, 75])
    return float(p75 - p25)


def test_dark_to_light_takes_a_light_garments_shading_strength(project):
    """A black garment dyed white: its folds are toned down as a real white garment's are (the
    shading model), not carried over at full strength; dyed black it keeps its own."""
    path = _project(project, """\
        - sku: TEE
          name: Tee
          image: assets/tee.png
        """, {"assets/tee.png": _garment((48, 48, 52))})
    looks = _looks(path)
    white, product, _ = looks["web/TEE/white--plain"]
    black = looks["web/TEE/black--plain"][0]
    region = np.asarray(product.rgba)[..., 3] == 255
    source = _iqr(product.rgba, region)
    plain_white = imaging.recolour(product.recolour, product.rgba, "#F4F4F2")  # full-strength shading
    source_l = float(np.median(imaging.srgb_to_lab(np.asarray(product.rgba)[..., :3])[..., 0][region]))
    wanted = imaging.FABRIC.ratio(source_l, 96.0)[0]  # the IQR of a white garment relative to this one
    assert _iqr(white, region) < 0.8 * _iqr(plain_white, region)
    assert _iqr(white, region) == pytest.approx(source * wanted, rel=0.35)
    assert _iqr(black, region) == pytest.approx(source, rel=0.35)


TEE_PRINTED = textwrap.dedent("""\
    - sku: TEE
      name: Tee
      image: assets/tee.png
      print_area: {x: 80, y: 80, width: 100, height: 90}
      designs: [logo]
    """)  # a light tee with a print area in its middle


def test_an_old_print_in_the_print_area_is_removed_with_a_warning(project):
    printed = {"assets/tee.png": _garment((226, 226, 222), logo=True)}
    path = _project(project, TEE_PRINTED + "  scale: 0.3\n  anchor: top-left\n", printed)
    look, product, job = _looks(path)["web/TEE/white--plain"]
    assert any("old print" in w and "removed" in w for w in product.warnings), product.warnings
    disc = np.asarray(look)[118:126, 112:124, :3].astype(int)  # the old disc's middle, not under the new design
    assert disc.min() > 180  # fabric again, not the dark print
    kept = _project(project, TEE_PRINTED + "  old_print: keep\n", printed)
    look, product, _ = _looks(kept)["web/TEE/white--plain"]
    assert not any("old print" in w for w in product.warnings)
    assert np.asarray(look)[118:126, 112:124, :3].max() < 120  # left as it is


def test_no_old_print_on_plain_fabric(project):
    path = _project(project, TEE_PRINTED, {"assets/tee.png": _garment((226, 226, 222))})
    _, product, _ = _looks(path)["web/TEE/white--plain"]
    assert not any("old print" in w for w in product.warnings), product.warnings


def _mug() -> Image.Image:
    """An upright white cylinder (x 48-208) lit from the left, on transparency."""
    xx = np.arange(SIZE, dtype=np.float32)
    u = np.clip((xx - 128) / 80, -1, 1)
    lum = 150 + 90 * np.sqrt(1 - u * u) * (0.8 - 0.2 * u)
    rgb = np.repeat(np.repeat(lum[None, :, None], SIZE, axis=0), 3, axis=2)
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB").convert("RGBA")
    alpha = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(alpha).rectangle((48, 30, 207, 225), fill=255)
    image.putalpha(alpha)
    return image


def test_a_cylinder_print_area_wraps_the_design(project):
    path = _project(project, """\
        - sku: MUG
          name: Mug
          image: assets/mug.png
          cylinder: {x: 48, y: 60, width: 160, height: 120, arc: 120}
          designs: [logo]
        """, {"assets/mug.png": _mug()})
    prepared = prepare(path, BuildOptions())
    job = prepared.jobs[0]
    assert material(job.variant.product) == "glazed"
    compositor = LocalBackend({}).compositor
    look = np.asarray(compositor.look(job, design=True)).astype(int)
    blue = (look[..., 2] - look[..., 0] > 60) & (look[..., 3] > 0)
    ys, xs = np.nonzero(blue)
    # the square design spans its arc's share of the circumference, centred on the axis, and is
    # foreshortened: its projected width is under its unrolled width
    cyl = imaging.Cylinder.from_box((48, 60, 208, 180), arc=120)
    band = imaging.fit_cylinder(cyl, (60, 60))
    half = 80 * np.sin(np.radians(band.arc / 2 * 52 / 60))  # the design is opaque over 52 of its 60 px
    assert xs.min() == pytest.approx(128 - half, abs=3) and xs.max() == pytest.approx(128 + half, abs=3)
    assert 2 * half < 80 * np.radians(band.arc) - 4
    rows = blue.sum(axis=1)[ys.min() + 5:ys.max() - 5]
    assert rows.min() > 0 and abs(rows.max() - rows.min()) <= 3  # an upright band: the same width top to bottom
    # stripes of the design near the silhouette are narrower than at the centre
    centre_col, edge_col = blue[:, 126:130].sum(), blue[:, int(128 + half) - 4:int(128 + half)].sum()
    assert edge_col > 0 and centre_col > 0


@pytest.mark.parametrize("finish", ["screen", "soft", "embroidery"])
def test_finishes_change_the_print(project, finish):
    def printed(extra: str) -> np.ndarray:
        path = _project(project, f"""\
            - sku: TEE
              name: Tee
              image: assets/tee.png
              print_area: {{x: 70, y: 70, width: 110, height: 110}}
              designs: [logo]
            {extra}""", {"assets/tee.png": _garment((200, 200, 196))})
        job = prepare(path, BuildOptions()).jobs[0]
        return np.asarray(LocalBackend({}).compositor.look(job, design=True)).astype(int)

    plain, other = printed(""), printed(f"  finish: {finish}\n")
    assert np.abs(plain - other).max() > 10


def test_a_build_with_every_piece_is_deterministic(project, tmp_path):
    path = _project(project, """\
        - sku: TEE
          name: Tee
          image: assets/tee.png
          designs: [logo]
          placements:
            front: {print_area: {x: 80, y: 80, width: 100, height: 90}, finish: soft}
            wrap: {cylinder: {x: 40, y: 40, width: 176, height: 120, arc: 200}, scale: 0.6}
        """, {"assets/tee.png": _garment((120, 60, 60), logo=True)})
    build(path, BuildOptions(gallery=False, jobs=1))
    first = {p.name: p.read_bytes() for p in (path.parent / "build" / "web" / "TEE").iterdir()}
    for p in (path.parent / "build").rglob("*.png"):
        p.unlink()
    import shutil

    shutil.rmtree(path.parent / ".mockups-cache")
    build(path, BuildOptions(gallery=False, jobs=1))
    second = {p.name: p.read_bytes() for p in (path.parent / "build" / "web" / "TEE").iterdir()}
    assert first == second and len(first) == 4


def test_a_scene_whose_garment_is_not_found_is_left_as_shot(project):
    noise = np.random.default_rng(5).integers(0, 256, (200, 160, 3), dtype=np.uint8)
    path = _project(project, """\
        - sku: WORN
          name: Worn
          image: assets/worn.png
          photo: scene
          print_area: {x: 40, y: 50, width: 60, height: 60}
        """, {"assets/worn.png": Image.fromarray(noise, "RGB")})
    look, product, _ = _looks(path)["web/WORN/white--as-shot"]
    assert any("not found" in w and "nothing was recoloured" in w for w in product.warnings), product.warnings
    assert np.array_equal(np.asarray(look)[..., :3], noise)  # not a pixel guessed at


def test_the_soft_rim_is_dyed_like_the_fabric_next_to_it(project):
    """A light garment with an anti-aliased edge dyed black: the rim's colour is the new black
    (its alpha blends it with the background), not half the old light colour, a light fringe."""
    garment = _garment((230, 230, 226))
    alpha = Image.new("L", (SIZE * 4, SIZE * 4), 0)
    ImageDraw.Draw(alpha).ellipse((80, 60, SIZE * 4 - 80, SIZE * 4 - 60), fill=255)
    garment.putalpha(alpha.resize((SIZE, SIZE), Image.Resampling.BOX))
    path = _project(project, """\
        - sku: TEE
          name: Tee
          image: assets/tee.png
        """, {"assets/tee.png": garment})
    look = np.asarray(_looks(path)["web/TEE/black--plain"][0])
    a = look[..., 3]
    rim, inner = (a > 20) & (a < 235), a == 255
    lightness = imaging.srgb_to_lab(look[..., :3])[..., 0]
    assert rim.sum() > 100
    assert np.percentile(lightness[rim], 90) < np.median(lightness[inner]) + 12
