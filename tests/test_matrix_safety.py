"""The matrix makes every variant the catalog asks for, once, under a name of its own: each test
here is a way it once did not (an include rule's design dropped, a PSD template put on every
background or never re-included, two variants joined into one name by '--', ids differing only in
case, a rule naming a placement its product lacks)."""

from __future__ import annotations

import pytest

from mockups import CatalogError, expand, load_catalog
from tests.conftest import MINIMAL

LOGO2 = "  - {id: logo2, name: Logo 2, image: assets/logo.png}\n"
PSD = MINIMAL.replace("  - sku: MUG\n", "  - sku: PSD\n    name: Psd\n"
                                        "    psd: {file: assets/m.psd, smart_object: Design}\n"
                                        "    designs: [logo]\n  - sku: MUG\n")
PSD_FILES = {"assets/m.psd": b"8BPS" + b"\0" * 60}


def variants(path):
    return expand(load_catalog(path))


# --- matrix rules ---------------------------------------------------------------------------------

def test_include_rule_adding_a_design_to_a_one_design_product_is_not_dropped(project):
    """`include: {product: TEE, design: logo2}` adds TEE with logo2. Its variants get TEE's one-design
    names (no design in the stem), collide with the logo variants' ids and are dropped: nothing is added."""
    path = project(MINIMAL + LOGO2 + "matrix:\n  include:\n    - {product: TEE, design: logo2}\n")
    designs = {v.design.id for v in variants(path) if v.product.sku == "TEE"}
    assert designs == {"logo", "logo2"}


def test_include_rule_does_not_put_a_psd_product_on_the_catalog_backgrounds(project):
    """A PSD product is a scene (its document is the picture): expand gives it the one background
    as-shot, but an include rule naming it adds it on every catalog background."""
    path = project(PSD + "matrix:\n  include:\n    - {product: PSD, colour: navy}\n", PSD_FILES)
    assert {v.background.id for v in variants(path) if v.product.sku == "PSD"} == {"as-shot"}


def test_include_rule_as_shot_adds_back_a_psd_product(project):
    path = project(PSD + "matrix:\n  exclude:\n    - {product: PSD}\n"
                         "  include:\n    - {product: PSD, background: as-shot}\n", PSD_FILES)
    assert [v.id for v in variants(path) if v.product.sku == "PSD"] == ["web/PSD/white--as-shot",
                                                                        "web/PSD/navy--as-shot"]


def test_include_rule_naming_a_placement_the_product_lacks_is_reported(project):
    """`{product: TEE, placement: back}`: TEE has no placements (another product has 'back'): the
    rule adds nothing and nothing says so."""
    text = MINIMAL.replace("  - sku: MUG\n", "  - sku: HOOD\n    name: Hood\n    image: assets/tee.png\n"
                           "    designs: [logo]\n    placements:\n      back: {print_area: {x: 40, y: 30, width: 48, "
                           "height: 48}}\n  - sku: MUG\n")
    path = project(text + "matrix:\n  exclude:\n    - {product: TEE}\n"
                          "  include:\n    - {product: TEE, placement: back}\n")
    warnings = [str(w) for w in load_catalog(path).warnings]
    assert any("TEE has no placement 'back', so this rule matches nothing" in w for w in warnings), warnings


# --- output paths ---------------------------------------------------------------------------------

def test_ids_containing_double_dash_do_not_give_two_variants_one_output(project):
    """colour 'a' on background 'b--c' and colour 'a--b' on background 'c' are both 'a--b--c': one
    variant is silently dropped (or, in a build, one file would overwrite the other)."""
    text = MINIMAL.replace('  - {id: white, name: White, hex: "#F4F4F2"}\n  - {id: navy, name: Navy, hex: "#1F2A44"}\n',
                           '  - {id: a, name: A, hex: "#F4F4F2"}\n  - {id: a--b, name: AB, hex: "#1F2A44"}\n')
    text = text.replace("  - {id: studio, name: Studio, colour: \"#EDEDED\"}\n  - {id: wood, name: Wood, image: "
                        "assets/wood.png}\n", "  - {id: b--c, name: BC, colour: \"#EDEDED\"}\n"
                        "  - {id: c, name: C, colour: \"#DDDDDD\"}\n")
    with pytest.raises(CatalogError, match="two variants would be one image"):
        variants(project(text))


def test_ids_differing_only_in_case_do_not_share_an_output_on_case_insensitive_disks(project):
    """Colours 'navy' and 'Navy' are distinct ids, but web/TEE/navy--studio.png and
    web/TEE/Navy--studio.png are one file on macOS and Windows: one overwrites the other."""
    text = MINIMAL.replace('  - {id: white, name: White, hex: "#F4F4F2"}\n',
                           '  - {id: Navy, name: Navy (old), hex: "#F4F4F2"}\n')
    warnings = [str(w) for w in load_catalog(project(text)).warnings]
    assert any("'navy' differs from 'Navy'" in w and "only in case" in w for w in warnings), warnings
