"""Placements: where a design sits in its print area (scale, anchor, offset, rotation), named
placements (front, back...) with their own print areas, designs and photos, in the catalog, the
matrix and the compositor's output."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mockups import BuildOptions, CatalogError, expand, imaging, load_catalog, prepare
from mockups.backends.local import LocalBackend
from mockups.imaging import ImagingError
from tests.conftest import MINIMAL, tiny_product

AREA = [(100.0, 50.0), (300.0, 50.0), (300.0, 150.0), (100.0, 150.0)]  # 200 x 100


def box(quad) -> tuple[float, float, float, float]:
    q = np.asarray(quad)
    return float(q[:, 0].min()), float(q[:, 1].min()), float(q[:, 0].max()), float(q[:, 1].max())


# --- the geometry ------------------------------------------------------------------------------

def test_default_fit_contains_the_design_centred():
    assert box(imaging.fit_print(AREA, (64, 64))) == pytest.approx((150, 50, 250, 150))
    assert box(imaging.fit_print(AREA, (400, 100))) == pytest.approx((100, 75, 300, 125))  # wide: full width


@pytest.mark.parametrize("anchor, expected", [
    ("top-left", (100, 50, 150, 100)), ("top", (175, 50, 225, 100)), ("top-right", (250, 50, 300, 100)),
    ("left", (100, 75, 150, 125)), ("center", (175, 75, 225, 125)), ("right", (250, 75, 300, 125)),
    ("bottom-left", (100, 100, 150, 150)), ("bottom", (175, 100, 225, 150)), ("bottom-right", (250, 100, 300, 150)),
])
def test_scale_and_anchor(anchor, expected):
    assert box(imaging.fit_print(AREA, (10, 10), scale=0.5, anchor=anchor)) == pytest.approx(expected)


def test_offset_is_a_fraction_of_the_area():
    assert box(imaging.fit_print(AREA, (10, 10), scale=0.5, offset=(0.1, -0.2))) == pytest.approx(
        (175 + 20, 75 - 20, 225 + 20, 125 - 20))


def test_rotation_is_clockwise_about_the_centre():
    quad = imaging.fit_print(AREA, (20, 10), scale=0.5, rotation=90)  # 100 x 50 design turned upright
    assert box(quad) == pytest.approx((175, 50, 225, 150))
    assert tuple(quad[0]) == pytest.approx((225, 50))  # the design's top-left went to the top-right
    turned = imaging.fit_print(AREA, (20, 10), scale=0.5, rotation=30)
    centre = np.asarray(turned).mean(axis=0)
    assert tuple(centre) == pytest.approx((200, 100))
    edge = turned[1] - turned[0]
    assert np.degrees(np.arctan2(edge[1], edge[0])) == pytest.approx(30)


def test_an_angled_print_area_foreshortens_the_placement():
    trapezoid = [(120.0, 50.0), (280.0, 50.0), (300.0, 150.0), (100.0, 150.0)]
    quad = imaging.fit_print(trapezoid, (10, 10), scale=0.5, anchor="top")
    bottom = imaging.fit_print(trapezoid, (10, 10), scale=0.5, anchor="bottom")
    assert np.ptp(quad[:, 0]) < np.ptp(bottom[:, 0])  # nearer the short top edge, narrower


def test_cylinder_fit_narrows_the_arc_and_band():
    cyl = imaging.Cylinder.from_box((100, 100, 300, 400), arc=180.0)  # unrolled: 100*pi = 314 x 300
    full = imaging.fit_cylinder(cyl, (100, 100))
    assert full.arc == pytest.approx(180 * 300 / (100 * np.pi))
    assert (full.top[1], full.bottom[1]) == pytest.approx((100, 400))
    half = imaging.fit_cylinder(cyl, (100, 100), scale=0.5, anchor="top-left")
    assert half.arc == pytest.approx(full.arc / 2)
    assert (half.top[1], half.bottom[1]) == pytest.approx((100, 250))
    assert half.centre == pytest.approx(-90 + half.arc / 2)  # starts at the left end of the arc
    with pytest.raises(ImagingError, match="cannot be rotated"):
        imaging.fit_cylinder(cyl, (100, 100), rotation=10)


def test_clip_layer_cuts_at_the_area():
    layer = imaging.DesignLayer((0, 0, 40, 40), np.ones((40, 40, 1), np.float32), np.ones((40, 40, 3), np.float32),
                                "shade")
    clipped = imaging.clip_layer(layer, [(10, 10), (30, 10), (30, 30), (10, 30)])
    assert clipped.alpha[20, 20, 0] == pytest.approx(1) and clipped.alpha[5, 5, 0] == 0
    assert clipped.alpha.sum() == pytest.approx(400, rel=0.02)


@pytest.mark.parametrize("kwargs, message", [
    ({"scale": 0}, "scale"), ({"scale": 1.5}, "scale"), ({"anchor": "middle"}, "unknown anchor"),
    ({"offset": (float("nan"), 0)}, "offset"), ({"rotation": float("inf")}, "rotation"),
])
def test_bad_fit_values(kwargs, message):
    with pytest.raises(ImagingError, match=message):
        imaging.fit_print(AREA, (10, 10), **kwargs)


# --- the catalog and the matrix ----------------------------------------------------------------

PLACED = MINIMAL.replace("""\
    print_area: {x: 40, y: 30, width: 48, height: 48}
    designs: [logo]
""", """\
    designs: [logo]
    placements:
      front:
        print_area: {x: 40, y: 30, width: 48, height: 48}
      back:
        image: assets/tee-back.png
        print_area: {x: 30, y: 40, width: 60, height: 40}
        designs: [logo, mark]
        anchor: top
""") + "  - {id: mark, name: Mark, image: assets/logo.png}\n"


@pytest.fixture
def placed(project):
    return lambda text=PLACED: project(text, files={"assets/tee-back.png": tiny_product(colour=(200, 200, 200))})


def test_each_placement_is_a_variant_named_by_it(placed):
    catalog = load_catalog(placed())
    tee = [v for v in expand(catalog) if v.product.sku == "TEE"]
    assert [v.id for v in tee[:3]] == ["web/TEE/white--studio--front", "web/TEE/white--wood--front",
                                       "web/TEE/navy--studio--front"]
    backs = [v.id for v in tee if v.placement == "back"]
    assert backs[:2] == ["web/TEE/white--studio--back--logo", "web/TEE/white--studio--back--mark"]
    assert len(tee) == 4 + 8  # front: one design; back: two
    back = next(v for v in tee if v.placement == "back")
    assert back.image == "assets/tee-back.png" and back.print.anchor == "top"
    assert back.ids()["placement"] == "back"


def test_rules_and_selections_name_placements(placed):
    text = PLACED + "matrix:\n  exclude:\n    - {placement: back, design: mark}\n"
    variants = expand(load_catalog(placed(text)))
    assert not any(v.placement == "back" and v.design.id == "mark" for v in variants)
    assert any(v.placement == "back" for v in variants)
    from mockups.matrix import Selection, select

    chosen = select(variants, Selection.parse(["placement=front"]))
    assert chosen and all(v.placement == "front" for v in chosen)


def test_a_placement_change_leaves_other_placements_keys_alone(placed):
    from mockups.jobs import variant_fields

    before = {v.id: variant_fields(v) for v in expand(load_catalog(placed()))}
    after = {v.id: variant_fields(v) for v in expand(load_catalog(placed(PLACED.replace("anchor: top",
                                                                                           "anchor: bottom"))))}
    changed = {i for i in before if before[i] != after[i]}
    assert changed and all("--back" in i for i in changed)


@pytest.mark.parametrize("change, message", [
    (lambda t: t.replace("      front:\n", "      front:\n        designs: [logoo]\n"),
     "unknown design 'logoo' (did you mean 'logo'?)"),
    (lambda t: t.replace("        print_area: {x: 40, y: 30, width: 48, height: 48}\n", "        scale: 0.5\n"),
     "a placement needs a print_area or a cylinder"),
    (lambda t: t.replace("    designs: [logo]\n    placements:",
                         "    designs: [logo]\n    print_area: {x: 1, y: 1, width: 9, height: 9}\n"
                         "    placements:"),
     "move print_area into a placement"),
    (lambda t: t.replace("{x: 30, y: 40, width: 60, height: 40}", "{x: 100, y: 40, width: 60, height: 40}"),
     "the print area reaches outside the 128x128 image assets/tee-back.png"),
    (lambda t: t.replace("anchor: top", "anchor: middle"), "'bottom-right', got 'middle'"),
    (lambda t: t + "matrix:\n  exclude:\n    - {placement: bak}\n", "unknown placement 'bak' (did you mean 'back'?)"),
    (lambda t: t.replace("designs: [logo, mark]", "designs: []"), "placement 'back' lists no designs"),
    (lambda t: t.replace("        anchor: top\n", "        anchor: top\n        cylinder: {x: 1, y: 1, "
                                                   "width: 9, height: 9}\n"), "not both"),
])
def test_placement_mistakes_are_explained(placed, change, message):
    with pytest.raises(CatalogError) as e:
        load_catalog(placed(change(PLACED)))
    assert any(message in p.message for p in e.value.problems), [p.message for p in e.value.problems]


# --- the compositor ---------------------------------------------------------------------------

def _garment(size=(240, 200)) -> Image.Image:
    """A plain light garment filling most of the photo (so a print anywhere lands on it)."""
    w, h = size
    alpha = Image.new("L", size, 0)
    ImageDraw.Draw(alpha).rectangle((10, 10, w - 10, h - 10), fill=255)
    image = Image.new("RGBA", size, (226, 226, 222, 255))
    image.putalpha(alpha)
    return image


def _logo() -> Image.Image:
    image = Image.new("RGBA", (40, 40), (200, 30, 40, 255))
    return image


def _printed_box(project, fit: str) -> tuple[int, int, int, int]:
    text = f"""\
    version: 1
    channels:
      - {{id: web, size: 240x200, format: png, fill: 1.0}}
    products:
      - sku: TEE
        name: Tee
        image: assets/tee.png
        designs: [logo]
        placements:
          front:
            print_area: {{x: 40, y: 40, width: 160, height: 120}}
{fit}
    colours:
      - {{id: white, name: White, hex: "#F4F4F2"}}
    backgrounds:
      - {{id: studio, name: Studio, colour: "#EDEDED"}}
    designs:
      - {{id: logo, name: Logo, image: assets/logo.png}}
    """
    import textwrap

    path = project(textwrap.dedent(text), files={"assets/tee.png": _garment(), "assets/logo.png": _logo()})
    prepared = prepare(path, BuildOptions())
    job = prepared.jobs[0]
    backend = LocalBackend({"displacement": 0.0})
    look = np.asarray(backend.compositor.look(job, design=True)).astype(int)
    red = (look[..., 0] - look[..., 1] > 60) & (look[..., 3] > 0)
    ys, xs = np.nonzero(red)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@pytest.mark.parametrize("fit, expected", [
    ("", (60, 40, 180, 160)),                                                 # contain, centred: 120 x 120
    ("            scale: 0.5\n", (90, 70, 150, 130)),
    ("            scale: 0.5\n            anchor: top-left\n", (40, 40, 100, 100)),
    ("            scale: 0.5\n            anchor: bottom-right\n", (140, 100, 200, 160)),
    ("            scale: 0.5\n            offset: [0.25, 0]\n", (130, 70, 190, 130)),
])
def test_the_compositor_prints_where_the_placement_says(project, fit, expected):
    got = _printed_box(project, fit)
    assert got == pytest.approx(expected, abs=2)


def test_a_rotated_design_is_cut_at_the_print_area(project):
    # a 120 px square turned 45 deg spans 170 px: its corners are cut at the 160 x 120 area's edges
    assert _printed_box(project, "            rotation: 45\n") == pytest.approx((40, 40, 200, 160), abs=2)


def test_print_settings_of_a_product_with_placements_belong_in_them(placed):
    with pytest.raises(CatalogError) as e:
        load_catalog(placed(PLACED.replace("    placements:\n", "    finish: embroidery\n    placements:\n")))
    assert any("move finish into a placement" in p.message for p in e.value.problems)


def test_an_include_rule_naming_a_placement_adds_only_that_placement(placed):
    text = PLACED + "matrix:\n  include:\n    - {colour: navy, background: studio, placement: back, design: logo}\n"
    added = [v.id for v in expand(load_catalog(placed(text)))]
    assert "web/TEE/navy--studio--back--logo" in added
    assert added.count("web/MUG/navy--studio") == 1  # the mug has no placements: the rule adds nothing to it


def test_the_prompt_names_the_placement(placed):
    prepared = prepare(placed(), BuildOptions())
    prompts = {job.variant.id: job.prompt for job in prepared.jobs}
    assert "printed on the back" in prompts["web/TEE/white--studio--back--logo"]
    assert "printed on the front" in prompts["web/TEE/white--studio--front"]


def test_a_placement_photo_has_its_own_masks_and_material(placed):
    text = PLACED.replace("        image: assets/tee-back.png\n",
                          "        image: assets/tee-back.png\n        recolour_mask: assets/back-dye.png\n")
    text = text.replace("      front:\n", "      wrap:\n        cylinder: {x: 20, y: 20, width: 80, height: 60}\n"
                                         "      front:\n")
    dye = Image.new("L", (128, 128), 255)
    from tests.conftest import write_tree

    path = placed(text)
    write_tree(path.parent, {"assets/back-dye.png": dye})
    prepared = prepare(path, BuildOptions())
    jobs = {job.variant.id: job for job in prepared.jobs}
    back = jobs["web/TEE/white--studio--back--logo"]
    assert back.input_path("recolour_mask").name == "back-dye.png"
    from mockups.backends.local import material

    assert material(back.variant.product, back.variant.print) == "fabric"
    wrap = jobs["web/TEE/white--studio--wrap"]
    assert material(wrap.variant.product, wrap.variant.print) == "glazed"
    with pytest.raises(CatalogError) as e:
        load_catalog(placed(PLACED.replace("      front:\n", "      front:\n        recolour_mask: assets/logo.png\n")))
    assert any("goes with its own image" in p.message for p in e.value.problems)
