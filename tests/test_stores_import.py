"""Importing a store's export: Shopify (both header generations), WooCommerce, Merchant Center
(TSV and XML), with photos served by a local HTTP server, and the colours they resolve to."""

from __future__ import annotations

import re

import numpy as np
import pytest
import yaml

from mockups.catalog import load_catalog
from mockups.cli import main
from mockups.imaging import ciede2000, hex_to_lab
from mockups.stores import Limits, StoreFileError, import_store
from tests.store_helpers import PHOTOS, Routes, bomb_png, fixture, garment, photo_routes, serve

FAST = Limits(timeout=0.4, retries=1, backoff=0.01)


def _catalog(folder):
    return yaml.safe_load((folder / "catalog.yaml").read_text())


def _delta(hex_: str, rgb) -> float:
    return float(ciede2000(hex_to_lab(hex_), hex_to_lab("#%02X%02X%02X" % tuple(rgb))))


@pytest.fixture()
def shop():
    routes = photo_routes()
    with serve(routes) as base:
        yield base, routes


@pytest.mark.parametrize("name", ["shopify-legacy.csv", "shopify-current.csv"])
def test_shopify_both_header_generations(tmp_path, shop, name):
    base, routes = shop
    export = fixture(name, tmp_path, base)
    report = import_store("shopify", export, tmp_path / "p", limits=FAST)
    doc = _catalog(tmp_path / "p")
    products = {p["sku"]: p for p in doc["products"]}
    assert list(products) == ["classic-tee", "canvas-tote", "enamel-mug"]  # grouped by handle, in order
    tee = products["classic-tee"]
    assert tee["name"] == "Classic Tee" and tee["image"] == "assets/classic-tee/tee-front.jpg"  # position 1
    assert tee["colours"] == ["black", "navy", "heather-grey"]  # sizes folded into their colour
    colours = {c["id"]: c for c in doc["colours"]}
    # the variants' own photos are measured: the garment's colour, not the name's
    assert _delta(colours["black"]["hex"], PHOTOS["tee-black.jpg"]) < 3
    assert _delta(colours["navy"]["hex"], PHOTOS["tee-navy.jpg"]) < 3
    assert colours["heather-grey"]["hex"] == "#9A9A9A"  # no photo of it: the name table
    sources = "\n".join(report.colour_sources)
    assert "Black -> " in sources and "measured in classic-tee/tee-black.jpg" in sources
    assert "Heather Gray -> #9A9A9A: built-in colour table" in sources
    # a product without a colour option gets one colour, measured from its photo, and says so
    mug = products["enamel-mug"]
    assert mug["colours"] == ["enamel-mug-as-photographed"]
    assert _delta(colours["enamel-mug-as-photographed"]["hex"], PHOTOS["mug.jpg"]) < 4
    assert any("enamel-mug: no colour option (options: Title)" in n for n in report.notes)
    # every photo once; the SKUs kept for the export
    assert sorted(routes.hits) == sorted(set(routes.hits))
    assert (tmp_path / "p" / "assets" / "classic-tee" / "tee-navy.jpg").exists()
    record = yaml.safe_load((tmp_path / "p" / "store-import.json").read_text())
    skus = [v["sku"] for v in record["products"]["classic-tee"]["variants"]]
    assert skus == ["TEE-BLK-S", "TEE-BLK-M", "TEE-NVY-S", "TEE-NVY-M", "TEE-HGR-S"]
    assert record["generation"] == ("legacy" if "legacy" in name else "current")
    load_catalog(tmp_path / "p" / "catalog.yaml")  # it validates


def test_both_generations_give_the_same_catalog(tmp_path, shop):
    base, _ = shop
    texts = []
    for name in ("shopify-legacy.csv", "shopify-current.csv"):
        import_store("shopify", fixture(name, tmp_path, base), tmp_path / f"p-{name}", limits=FAST)
        texts.append((tmp_path / f"p-{name}" / "catalog.yaml").read_text().split("\n", 1)[1])  # past the source line
    assert texts[0] == texts[1]


def test_woocommerce_variable_products_and_variations(tmp_path, shop):
    base, _ = shop
    report = import_store("woocommerce", fixture("woocommerce.csv", tmp_path, base), tmp_path / "p", limits=FAST)
    doc = _catalog(tmp_path / "p")
    products = {p["sku"]: p for p in doc["products"]}
    assert list(products) == ["HOODIE", "CAP-RED"]
    # variations found by `id:101` and by the parent's SKU
    assert products["HOODIE"]["colours"] == ["black", "forest-green", "mustard"]
    assert products["HOODIE"]["image"] == "assets/HOODIE/hoodie.jpg"  # the first of Images
    assert products["CAP-RED"]["colours"] == ["red"]
    colours = {c["id"]: c["hex"] for c in doc["colours"]}
    assert _delta(colours["black"], PHOTOS["hoodie-black.jpg"]) < 3  # measured in the variation's photo
    assert colours["forest-green"] == "#2E5E3A" and colours["mustard"] == "#E1AD21"  # the table
    assert _delta(colours["red"], PHOTOS["cap.jpg"]) < 4  # a one-colour product: its photo shows it
    assert any("woocommerce.csv:8: a variation of 'id:999'" in n for n in report.notes)
    load_catalog(tmp_path / "p" / "catalog.yaml")


@pytest.mark.parametrize("name", ["merchant.tsv", "merchant.xml"])
def test_merchant_feeds(tmp_path, shop, name):
    base, _ = shop
    report = import_store("merchant", fixture(name, tmp_path, base), tmp_path / "p", limits=FAST)
    doc = _catalog(tmp_path / "p")
    products = {p["sku"]: p for p in doc["products"]}
    assert list(products) == ["classic-tee", "TOTE-NAT"]  # by item_group_id; an item without one alone
    assert products["classic-tee"]["colours"] == ["black", "navy"]
    assert products["classic-tee"]["image"] == "assets/classic-tee/tee-black.jpg"
    where = "merchant.tsv:5" if name.endswith("tsv") else "merchant.xml: item 4"
    assert any(n.startswith(where) and "names 3 colours: the first, 'Navy', is used" in n for n in report.notes)
    assert (tmp_path / "p" / "assets" / "classic-tee" / "tee-navy.jpg").exists()
    load_catalog(tmp_path / "p" / "catalog.yaml")


def test_bad_photos_are_named_with_their_row_and_the_rest_imports(tmp_path):
    routes = photo_routes()
    routes["/tee-navy.jpg"] = (200, "image/jpeg", garment(PHOTOS["tee-navy.jpg"]), 1.2)  # slower than the timeout
    routes["/tee-black.jpg"] = (200, "text/html", b"<html>sign in</html>", 0)  # a login page
    routes["/tote.jpg"] = (200, "image/png", bomb_png(), 0)  # 900 megapixels claimed in 60 bytes
    del routes["/mug.jpg"]  # 404
    with serve(routes) as base:
        export = fixture("shopify-legacy.csv", tmp_path, base)
        code = main(["import", "shopify", str(export), "--out", str(tmp_path / "p")])
        report = import_store("shopify", export, tmp_path / "q", limits=FAST)
    assert code == 1  # something did not come across
    failed = "\n".join(report.failed)
    assert f"shopify-legacy.csv:2: {base}/tee-black.jpg: not an image: the server says it is text/html" in failed
    assert f"shopify-legacy.csv:8: {base}/tote.jpg: more than 40,000,000 pixels" in failed
    assert "possible decompression bomb): not decoded" in failed
    assert f"shopify-legacy.csv:4: {base}/tee-navy.jpg: timed out after 0.4 s" in failed
    assert f"shopify-legacy.csv:9: {base}/mug.jpg: HTTP 404 Not Found" in failed
    assert len(report.failed) == 4
    assert any("canvas-tote: no photo could be fetched" in x for x in report.left_out)
    doc = _catalog(tmp_path / "q")
    assert [p["sku"] for p in doc["products"]] == ["classic-tee"]
    hexes = {c["id"]: c["hex"] for c in doc["colours"]}
    assert hexes["navy"] == "#1F2A44" and hexes["black"] == "#1B1B1D"  # their photos failed: the table, said so
    assert "Navy -> #1F2A44: built-in colour table" in report.colour_sources
    load_catalog(tmp_path / "q" / "catalog.yaml")


def test_a_lying_content_type_and_a_size_limit(tmp_path):
    from mockups.stores.download import fetch_all

    routes = Routes({"/a.jpg": (200, "image/jpeg", b"<html>lies</html>", 0),
                     "/big.jpg": (200, "image/jpeg", garment((10, 10, 10), size=400), 0)})
    with serve(routes) as base:
        got = fetch_all([(f"{base}/a.jpg", "row 2", tmp_path / "a"), (f"{base}/big.jpg", "row 3", tmp_path / "b"),
                         ("ftp://x/y.jpg", "row 4", tmp_path / "c")], tmp_path, Limits(max_bytes=2000, retries=0))
    assert got[0].error == "not an image (its first bytes are no image format's)"
    assert got[1].error.endswith("bytes, more than the limit of 2,000")
    assert got[2].error == "cannot fetch 'ftp:' addresses (http, https, file or a path)"
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_a_bomb_within_pillows_guard_is_refused_by_ours(tmp_path):
    from mockups.stores.download import fetch_all

    routes = Routes({"/b.png": (200, "image/png", bomb_png(9000, 9000), 0)})  # 81 MP: under Pillow's 179 MP error
    with serve(routes) as base:
        got = fetch_all([(f"{base}/b.png", "row 2", tmp_path / "b")], tmp_path, Limits(retries=0))
    assert got[0].error == ("9000x9000 = 81,000,000 pixels, more than the limit of 40,000,000 (possible "
                            "decompression bomb): not decoded")


def test_a_flaky_server_is_retried(tmp_path):
    from mockups.stores.download import fetch_all

    class Flaky(Routes):
        def get(self, path, default=None):
            return (503, "text/plain", b"busy", 0) if len(self.hits) <= 2 else (200, "image/png", garment(
                (200, 40, 50), fmt="PNG"), 0)
    routes = Flaky()
    with serve(routes) as base:
        got = fetch_all([(f"{base}/x.png", "row 2", tmp_path / "x")], tmp_path, Limits(retries=2, backoff=0.01))
    assert got[0].ok and got[0].path == tmp_path / "x.png" and len(routes.hits) == 3


def test_local_paths_file_urls_and_a_colours_file(tmp_path):
    for name in ("tee-front.jpg", "tee-black.jpg"):
        (tmp_path / name).write_bytes(garment(PHOTOS[name]))
    (tmp_path / "p.csv").write_text(
        "Handle,Title,Option1 Name,Option1 Value,Variant SKU,Image Src,Image Position,Variant Image\n"
        f"tee,Tee,Color,Black,T-B,tee-front.jpg,1,{(tmp_path / 'tee-black.jpg').as_uri()}\n"
        "tee,,,Ultraviolet,T-U,,,\n"
        "tee,,,Heather Navy,T-H,,,\n")
    (tmp_path / "colours.yaml").write_text('Heather Navy: "#2c3446"\nBlack: "#000000"\n')
    report = import_store("shopify", tmp_path / "p.csv", tmp_path / "p", colours=tmp_path / "colours.yaml")
    doc = _catalog(tmp_path / "p")
    assert {c["id"]: c["hex"] for c in doc["colours"]} == {"black": "#000000", "heather-navy": "#2C3446"}
    assert "Black -> #000000: from colours.yaml" in report.colour_sources  # the user's file wins over the photo
    assert report.unresolved == ["'Ultraviolet': not in the built-in table and no photo of it could be measured; "
                                 "give it in a --colours file"]
    assert doc["products"][0]["colours"] == ["black", "heather-navy"]


def test_bad_input_is_usage_error(tmp_path, capsys):
    (tmp_path / "x.csv").write_text("Name,Price\nTee,3\n")
    assert main(["import", "shopify", str(tmp_path / "x.csv"), "--out", str(tmp_path / "p")]) == 2
    assert "x.csv:1: not a Shopify product CSV: no 'Handle' or 'URL handle' column" in capsys.readouterr().err
    (tmp_path / "semi.csv").write_text("Handle;Title;Option1 Name;Option1 Value\ntee;Tee;Color;Navy\n")  # Excel, de-DE
    assert main(["import", "shopify", str(tmp_path / "semi.csv"), "--out", str(tmp_path / "p")]) == 2
    assert "semi.csv:1: its columns are separated by semicolons (;)" in capsys.readouterr().err
    (tmp_path / "c.yaml").write_text("Navy: blue\n")
    (tmp_path / "ok.csv").write_text("Handle,Title\ntee,Tee\n")
    with pytest.raises(StoreFileError, match=re.escape("c.yaml:1: 'Navy': expected a colour like '#2C3446', got "
                                                      "'blue' (leave it out for the built-in #1F2A44)")):
        import_store("shopify", tmp_path / "ok.csv", tmp_path / "p", colours=tmp_path / "c.yaml")
    assert not (tmp_path / "p" / "catalog.yaml").exists()


def test_measured_colour_is_close_to_the_garment(tmp_path):
    from mockups.stores.colours import measure

    for rgb in [(200, 40, 50), (30, 90, 60), (200, 190, 150)]:
        path = tmp_path / "g.png"
        path.write_bytes(garment(rgb, fmt="PNG"))
        found = measure(path)
        assert found is not None and _delta(found.hex, rgb) < 3, (rgb, found)
    flat = tmp_path / "flat.png"
    flat.write_bytes(garment((250, 250, 250), fmt="PNG"))  # nothing to tell from the backdrop
    assert measure(flat) is None or np.isfinite(_delta(measure(flat).hex, (250, 250, 250)))  # type: ignore[union-attr]


def test_a_photo_every_colour_shares_is_not_measured_and_a_far_one_is_flagged(tmp_path):
    (tmp_path / "tee.jpg").write_bytes(garment((236, 236, 232)))
    (tmp_path / "red.jpg").write_bytes(garment((30, 120, 60)))  # a green garment in the "Red" variant's photo
    (tmp_path / "p.csv").write_text(
        "Handle,Title,Option1 Name,Option1 Value,Variant SKU,Image Src,Variant Image\n"
        "tee,Tee,Color,Black,T-B,tee.jpg,tee.jpg\n"  # the store set the main photo as every variant's image
        "tee,,,Navy,T-N,,tee.jpg\n"
        "cap,Cap,Color,Red,C-R,red.jpg,red.jpg\n")
    report = import_store("shopify", tmp_path / "p.csv", tmp_path / "p")
    assert "Black -> #1B1B1D: built-in colour table" in report.colour_sources  # not the white tee measured
    assert "Navy -> #1F2A44: built-in colour table" in report.colour_sources
    assert any(n.startswith("colour 'Red': measured #") and "is far from what the name usually is (#C0282D" in n
               for n in report.notes)


@pytest.mark.parametrize(("store", "name"), [("woocommerce", "woocommerce.csv"), ("merchant", "merchant.xml")])
def test_the_import_command(tmp_path, shop, capsys, store, name):
    base, _ = shop
    export = fixture(name, tmp_path, base)
    assert main(["import", store, str(export), "--out", str(tmp_path / "p")]) == 0
    out = capsys.readouterr()
    assert "catalog.yaml written;" in out.out and "colours:\n" in out.out
    assert "not mapped (" in out.err  # the orphan variation, or the three-colour item
    assert main(["validate", str(tmp_path / "p" / "catalog.yaml")]) == 0
    assert main(["import", store, str(export), "--out", str(tmp_path / "p")]) == 0
    assert "catalog.yaml unchanged;" in capsys.readouterr().out


def test_numeric_handles_and_colour_names_and_a_malformed_address(tmp_path):
    """WooCommerce parents and feed groups are often numbers, colour options too ("100"); a cell
    with a broken address is that photo's failure, not the import's."""
    (tmp_path / "front.jpg").write_bytes(garment(PHOTOS["tee-front.jpg"]))
    (tmp_path / "p.csv").write_text(
        "Handle,Title,Option1 Name,Option1 Value,Variant SKU,Image Src,Image Position,Variant Image\n"
        "12345,Tee,Color,Black,001,front.jpg,1,\n"
        "12345,,,100,002,,,\n"
        "777,Cap,Color,Black,003,http://[::1/cap.png,1,\n")
    report = import_store("shopify", tmp_path / "p.csv", tmp_path / "p", colours=None)
    doc = _catalog(tmp_path / "p")  # it validates: the numbers are quoted strings
    assert [p["sku"] for p in doc["products"]] == ["12345"]
    assert any("http://[::1/cap.png" in line and "not a valid address" in line for line in report.failed), report


def test_woocommerce_images_split_at_comma_space_so_a_url_may_hold_a_comma(tmp_path):
    from mockups.stores._table import read_table
    from mockups.stores.woocommerce import _photos

    (tmp_path / "w.csv").write_text('ID,Type,SKU,Images\n1,simple,A,"https://cdn.x/w_400,h_400/a.jpg, '
                                    'https://cdn.x/b.jpg"\n2,simple,B,"https://x/c.jpg,https://x/d.jpg"\n')
    table = read_table(tmp_path / "w.csv")
    (l1, c1), (l2, c2) = table.rows
    assert [p.url for p in _photos(table, l1, c1)] == ["https://cdn.x/w_400,h_400/a.jpg", "https://cdn.x/b.jpg"]
    assert [p.url for p in _photos(table, l2, c2)] == ["https://x/c.jpg", "https://x/d.jpg"]
