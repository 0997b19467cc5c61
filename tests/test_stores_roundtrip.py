"""Re-importing keeps the user's work, and import -> build -> export -> re-import changes nothing;
a 50-product, 500-variant store builds and every built variant is exported."""

from __future__ import annotations

import csv
import io
import shutil

import yaml

from mockups.catalog import load_catalog
from mockups.cli import main
from mockups.engine import manifest
from mockups.stores import Limits, import_store
from mockups.stores.exporter import export_store
from tests.conftest import png_bytes, tiny_product
from tests.store_helpers import big_shopify_csv, fixture, garment, photo_routes, serve

FAST = Limits(timeout=2, retries=1, backoff=0.01)


def _rows(path):
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def test_reimport_of_the_same_export_changes_nothing(tmp_path):
    with serve(photo_routes()) as base:
        export = fixture("shopify-current.csv", tmp_path, base)
        import_store("shopify", export, tmp_path / "p", limits=FAST)
        before = {f: (tmp_path / "p" / f).read_bytes() for f in ("catalog.yaml", "store-import.json")}
        again = import_store("shopify", export, tmp_path / "p", limits=FAST)
    assert not again.written and not again.changes and not again.kept
    assert {f: (tmp_path / "p" / f).read_bytes() for f in before} == before


EDITED_TEE = """  - sku: classic-tee   # our best seller
    name: Classic Tee
    image: assets/classic-tee/tee-front.jpg
    print_area: {x: 50, y: 40, width: 60, height: 60}
    designs: [logo]
    template: tee.j2
    colours: [black, navy, heather-grey]
"""


def test_reimport_adds_and_updates_and_keeps_the_users_edits(tmp_path):
    routes = photo_routes()
    with serve(routes) as base:
        export = fixture("shopify-legacy.csv", tmp_path, base)
        import_store("shopify", export, tmp_path / "p", limits=FAST)
        cat = tmp_path / "p" / "catalog.yaml"
        text = cat.read_text()
        start = text.index("  - sku: classic-tee")
        end = text.index("  - sku: canvas-tote")
        text = text[:start] + EDITED_TEE + text[end:]
        (tmp_path / "p" / "templates").mkdir()
        (tmp_path / "p" / "templates" / "tee.j2").write_text("A {{ product.name }}")
        (tmp_path / "p" / "assets" / "logo.png").write_bytes(png_bytes(tiny_product(32)))
        text = text.replace('- {id: navy,', '- {id: navy,   ').replace("hex: \"#1F2B45\"", "hex: \"#22304F\"")
        text = text.replace("colours:\n  - {id: black", "colours:   # tuned by hand\n  - {id: black")
        text += "designs:\n  - {id: logo, name: Logo, image: assets/logo.png}\n"
        navy_line = next(line for line in text.splitlines() if "id: navy" in line)
        text = text.replace(navy_line, '  - {id: navy,    name: Navy, hex: "#22304F"}')  # the user's own hex
        cat.write_text(text)
        load_catalog(cat)
        edited = cat.read_text()
        # the store changes: a new colour with its photo, a renamed product, a new product
        csv_text = export.read_text()
        csv_text = csv_text.replace("canvas-tote,Canvas Tote,", "canvas-tote,Canvas Tote Bag,")
        row = csv_text.splitlines()[3].replace("Navy,,S,,,TEE-NVY-S", "Cherry Red,,S,,,TEE-CHR-S").replace(
            "tee-navy.jpg", "tee-cherry.jpg")
        extra = "hoodie,Pullover Hoodie" + csv_text.splitlines()[8].split("Enamel Mug", 1)[1].replace(
            "MUG-ENAMEL", "HOOD-1").replace("mug.jpg", "hoodie.jpg")
        export.write_text(csv_text.rstrip("\n") + "\n" + row + "\n" + extra + "\n")
        routes["/tee-cherry.jpg"] = (200, "image/jpeg", garment((178, 34, 52)), 0)
        report = import_store("shopify", export, tmp_path / "p", limits=FAST)
    after = cat.read_text()
    doc = yaml.safe_load(after)
    products = {p["sku"]: p for p in doc["products"]}
    assert "# our best seller" in after and "# tuned by hand" in after  # comments kept
    tee = products["classic-tee"]
    assert tee["print_area"] == {"x": 50, "y": 40, "width": 60, "height": 60} and tee["template"] == "tee.j2"
    assert tee["colours"] == ["black", "navy", "heather-grey", "cherry-red"]
    assert products["canvas-tote"]["name"] == "Canvas Tote Bag"
    assert list(products)[-1] == "hoodie"
    colours = {c["id"]: c for c in doc["colours"]}
    assert colours["navy"]["hex"] == "#22304F"  # the user's hex, not the measured one
    assert "cherry-red" in colours
    assert "canvas-tote: name 'Canvas Tote' -> 'Canvas Tote Bag'" in report.changes
    assert "classic-tee: new colour cherry-red" in report.changes
    assert any(c.startswith("new product hoodie") for c in report.changes)
    # every line the user wrote is still there, in order; the ones changed: the tote's name, the tee's colours
    old_lines = [line for line in edited.splitlines() if "Canvas Tote" not in line
                 and line != "    colours: [black, navy, heather-grey]"]
    assert "    colours: [black, navy, heather-grey, cherry-red]" in after
    new_lines = after.splitlines()
    k = 0
    for line in new_lines:
        if k < len(old_lines) and line == old_lines[k]:
            k += 1
    assert k == len(old_lines), old_lines[k]
    assert len(new_lines) == len(edited.splitlines()) + 6  # a colour line, a product of 4 lines, its colour
    load_catalog(cat)


def test_round_trip_import_build_export_reimport_changes_nothing(tmp_path):
    routes = photo_routes()
    with serve(routes) as base:
        export = fixture("shopify-legacy.csv", tmp_path, base)
        project = tmp_path / "p"
        import_store("shopify", export, project, limits=FAST, size="96x96")
        cat = project / "catalog.yaml"
        before = cat.read_bytes()
        assert main(["build", str(cat), "-j", "2", "--no-gallery", "--no-inspect"]) == 0
        routes.folder = project / "build"
        updated = tmp_path / "updated.csv"
        assert main(["export", "shopify", str(cat), "--base-url", base, "--from", str(export),
                     "--out", str(updated)]) == 0
        old, new = _rows(export), _rows(updated)
        image_cols = {"Image Src", "Image Position", "Image Alt Text", "Variant Image"}
        assert [{k: v for k, v in r.items() if k not in image_cols} for r in old if r["Variant SKU"]] == \
            [{k: v for k, v in r.items() if k not in image_cols} for r in new if r["Variant SKU"]]
        by_sku = {r["Variant SKU"]: r for r in new if r["Variant SKU"]}
        assert by_sku["TEE-NVY-M"]["Variant Image"] == f"{base}/shop/classic-tee/navy--studio.webp"
        mug = by_sku["MUG-ENAMEL"]["Variant Image"]
        assert mug.endswith("/shop/enamel-mug/enamel-mug-as-photographed--studio.webp")
        built = {e["output"] for e in manifest.load(project / "build").values()}
        listed = {r["Image Src"].removeprefix(base + "/") for r in new if r["Image Src"]}
        assert listed == built  # every built variant, once
        routes.hits.clear()
        report = import_store("shopify", updated, project, limits=FAST)
        assert routes.hits == []  # its images are this project's outputs: known as ours, not fetched ...
        assert cat.read_bytes() == before  # ... and the catalog is as it was
        assert not report.changes and not report.failed and not report.left_out
        # elsewhere (no build/ beside it), they are fetched and recognised as ours by their metadata
        other = tmp_path / "other"
        other.mkdir()
        for name in ("catalog.yaml", "store-import.json"):
            (other / name).write_bytes((project / name).read_bytes())
        shutil.copytree(project / "assets", other / "assets")
        report = import_store("shopify", updated, other, limits=FAST)
        assert routes.hits and all(h.startswith("/shop/") for h in routes.hits)
    assert (other / "catalog.yaml").read_bytes() == before and not report.changes


def test_fifty_products_five_hundred_variants(tmp_path):
    for n in range(50):
        (tmp_path / f"p{n}.png").write_bytes(png_bytes(tiny_product(48, colour=(200 + n % 40, 200, 200))))
    (tmp_path / "big.csv").write_text(big_shopify_csv(lambda n: f"p{n}.png"))
    report = import_store("shopify", tmp_path / "big.csv", tmp_path / "p", size="32x32")
    assert report.products == 50 and not report.unresolved and not report.failed
    cat = tmp_path / "p" / "catalog.yaml"
    assert main(["build", str(cat), "-j", "2", "--no-gallery", "--no-inspect"]) == 0
    built = {e["output"] for e in manifest.load(tmp_path / "p" / "build").values() if e["status"] == "ok"}
    assert len(built) == 250  # 50 products x 5 colours (sizes share their colour's image)
    r = export_store("shopify", cat, base_url="https://cdn.example.com/m", out=tmp_path / "out.csv")
    rows = _rows(tmp_path / "out.csv")
    variant_rows = [row for row in rows if row["SKU"]]
    assert len(variant_rows) == 500 and all(row["Variant image URL"] for row in variant_rows)
    listed = {row["Product image URL"].removeprefix("https://cdn.example.com/m/") for row in rows
              if row["Product image URL"]}
    assert listed == built and len(r.variants) == 250 and not r.missing and not r.skipped
    feed = export_store("merchant", cat, base_url="https://cdn.example.com/m", out=tmp_path / "feed.tsv")
    assert feed.rows == 500



def test_what_the_user_removed_stays_removed(tmp_path):
    with serve(photo_routes()) as base:
        export = fixture("shopify-current.csv", tmp_path, base)
        import_store("shopify", export, tmp_path / "p", limits=FAST)
        cat = tmp_path / "p" / "catalog.yaml"
        text = cat.read_text()
        start, end = text.index("  - sku: canvas-tote"), text.index("  - sku: enamel-mug")
        text = (text[:start] + text[end:]).replace("[black, navy, heather-grey]", "[black, navy]")
        cat.write_text(text)
        report = import_store("shopify", export, tmp_path / "p", limits=FAST)
    assert cat.read_text() == text and not report.written and not report.changes
    assert "canvas-tote: not added again (you removed it from the catalog)" in report.kept
    assert "classic-tee: left out as you left them: heather-grey" in report.kept


def test_a_colour_for_the_last_product_and_a_new_product_at_the_same_place():
    """Both go at the end of the last product: the colour must stay in its list, the product after it."""
    import yaml

    from mockups.stores.catalog_text import NewColour, NewProduct, merge

    text = ("version: 1\nproducts:\n  - sku: tee\n    name: Tee\n    image: assets/tee.png\n    colours:\n"
            "      - black\ncolours:\n  - {id: black, name: Black, hex: \"#1B1B1D\"}\n")
    last = {"products": {"tee": {"colours": ["black"], "name": "Tee", "image": "assets/tee.png"}},
            "colours": {"black": {"name": "Black", "hex": "#1B1B1D"}}}
    products = [NewProduct("tee", "Tee", "assets/tee.png", ["black", "navy"]),
                NewProduct("cap", "Cap", "assets/cap.png", ["navy"])]
    colours = [NewColour("black", "Black", "#1B1B1D"), NewColour("navy", "Navy", "#1F2A44")]
    doc = yaml.safe_load(merge(text, products, colours, last).text)
    assert [(p["sku"], p["colours"]) for p in doc["products"]] == [("tee", ["black", "navy"]), ("cap", ["navy"])]
