"""`mockups inspect`: an overlay per product of what the compositor sees in its photo.

Synthetic photos with known geometry: a cut-out with alpha, a product on a plain backdrop, a person
in a tee outdoors. The printed lines, the overlay's pixels (the print area's quad where it should
be), the warnings of a low confidence, the cache (an unchanged product is not redrawn), the build
writing the overlays and the gallery linking them (in Chromium too).
"""

from __future__ import annotations

import io
import os
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mockups import imaging
from mockups.catalog import load_catalog
from mockups.cli import main
from mockups.review import inspect as inspect_mod
from mockups.review.inspect import PRINT_AREA, inspect_products

from .conftest import tiny_logo, tiny_product
from .imaging_synth import backdrop, ellipse, jpeg, over, worn_tee
from .test_gallery import page_data
from .test_gallery_browser import browser  # noqa: F401  (the Chromium fixture)


def _jpeg_bytes(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, "JPEG", quality=92)
    return buf.getvalue()


def _studio_shot() -> bytes:
    """A red product on a plain light backdrop (300x240), no alpha: matted automatically."""
    shape = (300, 240)
    img = over(backdrop(shape, (0.95, 0.95, 0.94), noise=0.004), ellipse(shape, (120, 150), (70, 95)), (0.7, 0.2, 0.2))
    return _jpeg_bytes(jpeg(img))


WORN = worn_tee()  # 240x320: a person in a grey tee outdoors, with the chest quad
WORN_QUAD = [[round(x), round(y)] for x, y in WORN["quad"]]

CATALOG = textwrap.dedent(f"""\
    version: 1
    channels:
      - {{id: web, size: 96x96, format: png}}
    products:
      - sku: TEE
        name: Tee
        image: assets/tee.png
        print_area: {{x: 60, y: 50, width: 120, height: 100}}
        designs: [logo]
      - sku: BAG
        name: Bag
        image: assets/bag.jpg
        print_area: {{x: 90, y: 110, width: 60, height: 70}}
      - sku: TEE-WORN
        name: Worn tee
        image: assets/worn.jpg
        photo: scene
        print_area: {WORN_QUAD}
    colours:
      - {{id: navy, name: Navy, hex: "#1F2A44"}}
    backgrounds:
      - {{id: studio, name: Studio, colour: "#EDEDED"}}
    designs:
      - {{id: logo, name: Logo, image: assets/logo.png}}
""")


def _files() -> dict:
    return {"assets/tee.png": tiny_product(240), "assets/bag.jpg": _studio_shot(),
            "assets/worn.jpg": _jpeg_bytes(WORN["rgb"]), "assets/logo.png": tiny_logo()}


@pytest.fixture
def shop(project, monkeypatch) -> Path:
    """The project above, with the current folder at its root (paths print relative to it)."""
    catalog = project(CATALOG, _files())
    monkeypatch.chdir(catalog.parent)
    return catalog


def _expected(catalog: Path, sku: str) -> tuple[str, str]:
    """(kind text, found text) as analyse_photo sees the product, computed independently."""
    c = load_catalog(catalog)
    product = c.products[sku]
    photo = imaging.open_image(c.path(product.image))
    seed = [tuple(p) for p in product.print_area] if product.print_area else None
    a = imaging.analyse_photo(photo, kind=product.photo, seed=seed)
    phrase = {"alpha": "product from its alpha", "cutout": "product matted", "scene": "garment found"}[a.kind]
    if a.confidence < imaging.LOW_CONFIDENCE:
        phrase = {"cutout": "matte unsure", "scene": "garment unsure"}.get(a.kind, phrase)
    return f"{a.kind} ({a.kind_confidence:.2f})", f"{phrase} ({a.confidence:.2f})"


def test_one_line_per_product_in_the_documented_format(shop, capsys):
    assert main(["inspect", "--only", "sku=TEE"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "TEE  assets/tee.png  alpha (1.00)  product from its alpha (1.00)  print area 120x100 at (60, 50)  "
        "-> build/inspect/TEE.png",
        "1 product: 1 overlay drawn, 0 up to date"]
    assert err == ""


def test_every_product_aligned_in_columns_with_what_was_found(shop, capsys):
    assert main(["inspect"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "3 products: 3 overlays drawn, 0 up to date"
    rows = [("TEE", "assets/tee.png", *_expected(shop, "TEE"), "print area 120x100 at (60, 50)"),
            ("BAG", "assets/bag.jpg", *_expected(shop, "BAG"), "print area 60x70 at (90, 110)"),
            ("TEE-WORN", "assets/worn.jpg", *_expected(shop, "TEE-WORN"),
             "print area 72x77 at (84, 115)")]
    assert rows[1][2].startswith("cutout (") and rows[2][2] == "scene (1.00)"  # the catalog said scene
    assert rows[2][3].startswith("garment found (")
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    expected = ["  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + f"  {r[4]}  -> "
                f"build/inspect/{r[0]}.png" for r in rows]
    assert lines[:3] == expected


def _pixel(path: Path, x: float, y: float) -> tuple[int, int, int]:
    with Image.open(path) as im:
        return im.convert("RGB").getpixel((round(x), round(y)))


def test_the_overlay_has_the_photos_size_and_draws_the_print_area(shop):
    catalog = load_catalog(shop)
    found = {f.sku: f for f in inspect_products(catalog)}
    for sku, size in (("TEE", (240, 240)), ("BAG", (240, 300)), ("TEE-WORN", (240, 320))):
        assert found[sku].overlay == shop.parent / "build" / "inspect" / f"{sku}.png"
        with Image.open(found[sku].overlay) as im:
            assert im.size == size and im.format == "PNG"
    tee = found["TEE"].overlay  # print area x 60..180, y 50..150
    for x, y in ((120, 50), (60, 100), (180, 100), (120, 150)):  # the middle of each edge
        assert _pixel(tee, x, y) == PRINT_AREA, (x, y)
    assert _pixel(tee, 120, 100) != PRINT_AREA  # inside it: the photo, tinted
    (x0, y0), (x1, _) = WORN["quad"][0], WORN["quad"][1]
    assert _pixel(found["TEE-WORN"].overlay, round((x0 + x1) / 2), round(y0)) == PRINT_AREA


def test_the_overlay_tints_the_dyeable_area_and_outlines_the_silhouette(shop):
    found = {f.sku: f for f in inspect_products(load_catalog(shop))}
    photo = np.asarray(Image.open(shop.parent / "assets/tee.png").convert("RGB")).astype(int)
    overlay = np.asarray(Image.open(found["TEE"].overlay).convert("RGB")).astype(int)
    # inside the garment, off the print area and the caption: shifted towards the tint (blue up, red down)
    x, y = 50, 100
    assert overlay[y, x, 2] - overlay[y, x, 0] > photo[y, x, 2] - photo[y, x, 0] + 20
    # the tiny product's rounded rectangle starts at x = 40: its edge is outlined
    row = overlay[120, 30:50]
    assert any(tuple(p) == inspect_mod.OUTLINE for p in row)
    assert found["TEE"].dyeable == found["TEE-WORN"].dyeable == "main colour"


def test_a_scene_with_a_recolour_mask_takes_it_for_the_garment(project, monkeypatch, capsys):
    catalog = CATALOG.replace("    photo: scene\n", "    photo: scene\n    recolour_mask: assets/worn-dye.png\n")
    garment = Image.fromarray((WORN["garment"] * 255).astype(np.uint8), "L")
    monkeypatch.chdir(project(catalog, {**_files(), "assets/worn-dye.png": garment}).parent)
    assert main(["inspect", "--only", "sku=TEE-WORN"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == ("TEE-WORN  assets/worn.jpg  scene (1.00)  garment from the recolour mask (1.00)  "
                                   "print area 72x77 at (84, 115)  -> build/inspect/TEE-WORN.png")
    assert err == ""
    overlay = np.asarray(Image.open("build/inspect/TEE-WORN.png").convert("RGB"))
    assert (overlay[WORN["garment"] & ~WORN["arm"]] == inspect_mod.OUTLINE).all(axis=1).mean() < 0.2


def test_a_low_confidence_prints_a_warning_with_what_to_do(project, monkeypatch, capsys):
    catalog = CATALOG.replace(f"    photo: scene\n    print_area: {WORN_QUAD}\n", "    photo: scene\n")
    assert catalog != CATALOG
    monkeypatch.chdir(project(catalog, _files()).parent)
    assert main(["inspect", "--only", "sku=TEE-WORN"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == ("TEE-WORN  assets/worn.jpg  scene (1.00)  garment unsure (0.00)  no print area  "
                                   "-> build/inspect/TEE-WORN.png")
    # as the build says it (backends.local.photo_warnings), with the product's SKU in front
    assert err.splitlines() == [f"warning: TEE-WORN: worn.jpg: scene photo; nothing was recoloured: "
                                f"{imaging.photo.NO_SEED_REASON}"]


def test_a_print_area_off_the_product_is_warned_about(project, monkeypatch, capsys):
    catalog = CATALOG.replace("print_area: {x: 60, y: 50, width: 120, height: 100}",
                              "print_area: {x: 170, y: 50, width: 65, height: 100}")  # the tee ends at x = 200
    monkeypatch.chdir(project(catalog, _files()).parent)
    assert main(["inspect", "--only", "sku=TEE"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("warning: TEE: only ")
    assert "of the print area lies on the product: check print_area" in err[0]
    with Image.open("build/inspect/TEE.png") as im:  # the caption says it too
        assert im.size == (240, 240)


def test_unchanged_inputs_are_not_redrawn(shop, capsys):
    assert main(["inspect"]) == 0
    overlays = sorted((shop.parent / "build" / "inspect").glob("*.png"))
    assert [p.name for p in overlays] == ["BAG.png", "TEE-WORN.png", "TEE.png"]
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in overlays}
    first = capsys.readouterr().out.splitlines()
    os.utime(shop.parent / "assets/tee.png")  # touched, same bytes: its content hash is the key
    assert main(["inspect"]) == 0
    again = capsys.readouterr().out.splitlines()
    assert again[:3] == first[:3]  # the same findings, read back from the overlays
    assert again[-1] == "3 products: 0 overlays drawn, 3 up to date"
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in overlays} == before
    # a changed print area redraws that product's overlay only
    shop.write_text(shop.read_text().replace("width: 120, height: 100", "width: 100, height: 100"))
    assert main(["inspect"]) == 0
    out = capsys.readouterr().out
    assert "print area 100x100 at (60, 50)" in out
    assert out.splitlines()[-1] == "3 products: 1 overlay drawn, 2 up to date"
    changed = [p.name for p in overlays if (p.stat().st_mtime_ns, p.read_bytes()) != before[p]]
    assert changed == ["TEE.png"]
    assert main(["inspect", "--force", "--only", "sku=BAG"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 product: 1 overlay drawn, 0 up to date"


def test_out_writes_elsewhere_and_an_invalid_catalog_exits_2(shop, capsys, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    assert main(["inspect", "--only", "sku=TEE", "--out", str(elsewhere)]) == 0
    assert (elsewhere / "TEE.png").is_file() and not (shop.parent / "build").exists()
    assert f"-> {elsewhere / 'TEE.png'}" in capsys.readouterr().out  # outside the current folder: absolute
    assert main(["inspect", "--only", "sku=TEE", "--out", "here"]) == 0
    assert "-> here/TEE.png" in capsys.readouterr().out
    shop.write_text(shop.read_text().replace("hex: \"#1F2A44\"", "hex: navy"))
    assert main(["inspect"]) == 2
    assert "expected a colour" in capsys.readouterr().err
    shop.write_text(CATALOG)
    assert main(["inspect", "--only", "sku=NOPE"]) == 2


def test_an_unreadable_photo_fails_that_product_only(shop, capsys):
    bag = shop.parent / "assets/bag.jpg"
    bag.write_bytes(bag.read_bytes()[:2000])  # truncated: its header reads, its pixels do not
    assert main(["inspect"]) == 1
    out, err = capsys.readouterr()
    assert "failed BAG: bag.jpg: " in err
    assert [line.split()[0] for line in out.splitlines()[:2]] == ["TEE", "TEE-WORN"]
    assert out.splitlines()[-1] == "3 products: 2 overlays drawn, 0 up to date, 1 failed"


def test_a_build_writes_the_overlays_and_the_gallery_links_them(shop, capsys):
    assert main(["build", "--only", "sku=TEE,sku=BAG"]) == 0
    build = shop.parent / "build"
    assert sorted(p.name for p in (build / "inspect").glob("*.png")) == ["BAG.png", "TEE.png"]
    links = page_data(build / "gallery" / "index.html")["inspect"]
    assert sorted(links) == ["BAG", "TEE"] and links["TEE"].startswith("../inspect/TEE.png?v=")
    mtime = (build / "inspect" / "TEE.png").stat().st_mtime_ns
    assert main(["build"]) == 0  # the other product's overlay is added, these are left alone
    assert (build / "inspect" / "TEE.png").stat().st_mtime_ns == mtime
    assert sorted(page_data(build / "gallery" / "index.html")["inspect"]) == ["BAG", "TEE", "TEE-WORN"]
    capsys.readouterr()
    assert main(["inspect"]) == 0  # what the build drew is what inspect would: nothing to redo
    assert capsys.readouterr().out.splitlines()[-1] == "3 products: 0 overlays drawn, 3 up to date"


def test_a_build_without_overlays_and_a_product_removed(shop):
    assert main(["build", "--no-inspect"]) == 0
    build = shop.parent / "build"
    assert not (build / "inspect").exists()
    assert page_data(build / "gallery" / "index.html")["inspect"] == {}
    assert main(["build"]) == 0
    (build / "inspect" / "notes.png").write_bytes(b"not ours")  # not an overlay: left alone
    text = shop.read_text()
    shop.write_text(text[:text.index("  - sku: BAG")] + text[text.index("  - sku: TEE-WORN"):])
    assert main(["build"]) == 0
    assert sorted(p.name for p in (build / "inspect").glob("*.png")) == ["TEE-WORN.png", "TEE.png", "notes.png"]


# --- in the browser ----------------------------------------------------------------------------------

@pytest.mark.browser
def test_the_gallery_links_open_the_overlay(shop, request):
    from .test_gallery_browser import PROBE, Log

    chromium = request.getfixturevalue("browser")  # or skipped (or failed) as test_gallery_browser says

    assert main(["build"]) == 0
    build = shop.parent / "build"
    context = chromium.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    log = Log(page, build)
    page.add_init_script(PROBE)
    page.goto((build / "gallery" / "index.html").as_uri())
    page.wait_for_selector("html[data-ready]")
    page.click(".card >> nth=0")
    page.wait_for_selector("#lightbox[open]")
    link = page.locator("#lb-dl a.lb-inspect")
    assert link.text_content() == "inspect"
    with context.expect_page() as opened:
        link.click()
    overlay = opened.value
    overlay.wait_for_load_state()
    assert overlay.url.split("?")[0] == (build / "inspect" / "TEE.png").as_uri()
    assert overlay.evaluate("[document.images[0].naturalWidth, document.images[0].naturalHeight]") == [240, 240]
    overlay.close()
    page.keyboard.press("Escape")
    page.click("#view-matrix")
    page.wait_for_selector("#matrix caption a.m-inspect")
    page.select_option("#matrix-group", "TEE-WORN|web|")
    href = page.get_attribute("#matrix caption a.m-inspect", "href")
    assert href.startswith("../inspect/TEE-WORN.png?v=")
    with context.expect_page() as opened:
        page.click("#matrix caption a.m-inspect")
    opened.value.wait_for_load_state()
    assert opened.value.url.split("?")[0] == (build / "inspect" / "TEE-WORN.png").as_uri()
    context.close()
    log.check()
