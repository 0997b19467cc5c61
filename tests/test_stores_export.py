"""Exporting the built or published outputs: a Merchant Center feed (new, or the store's own TSV
with only its image columns changed), a Shopify CSV from the published set, and bad input."""

from __future__ import annotations

import pytest

from mockups.cli import main
from mockups.stores import Limits, import_store
from tests.store_helpers import fixture, photo_routes, serve

FAST = Limits(timeout=2, retries=1, backoff=0.01)


@pytest.fixture()
def built(tmp_path):
    """A project imported from the Merchant Center TSV and built small; yields (catalog, feed)."""
    with serve(photo_routes()) as base:
        feed = fixture("merchant.tsv", tmp_path, base)
        import_store("merchant", feed, tmp_path / "p", limits=FAST, size="64x64")
    cat = tmp_path / "p" / "catalog.yaml"
    assert main(["build", str(cat), "-j", "2", "--no-gallery", "--no-inspect"]) == 0
    return cat, feed


def test_merchant_feed_from_the_stores_own_tsv_changes_only_image_columns(built, tmp_path):
    cat, feed = built
    out = tmp_path / "updated.tsv"
    assert main(["export", "merchant", str(cat), "--base-url", "https://cdn.example.com/m/", "--from", str(feed),
                 "--out", str(out)]) == 0
    old = [line.split("\t") for line in feed.read_text().splitlines()]
    new = [line.split("\t") for line in out.read_text().splitlines()]
    header = old[0]
    assert new[0] == header and len(new) == len(old)
    images = {header.index("image_link"), header.index("additional_image_link")}
    for a, b in zip(old[1:], new[1:], strict=True):
        assert [c for k, c in enumerate(a) if k not in images] == [c for k, c in enumerate(b) if k not in images]
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in new[1:]}
    assert rows["TEE-NVY-S"]["image_link"] == "https://cdn.example.com/m/shop/classic-tee/navy--studio.webp"
    assert rows["TEE-BLK-M"]["image_link"] == "https://cdn.example.com/m/shop/classic-tee/black--studio.webp"
    assert rows["TOTE-NAT"]["image_link"].endswith("/shop/TOTE-NAT/natural--studio.webp")
    assert rows["TEE-BLK-S"]["lifestyle_image_link"].endswith("/tee-life.jpg")  # not an image column we own


def test_merchant_xml_supplemental_feed(built, tmp_path):
    cat, _ = built
    out = tmp_path / "feed.xml"
    assert main(["export", "merchant", str(cat), "--base-url", "https://cdn.example.com", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.count("<item>") == 5 and 'xmlns:g="http://base.google.com/ns/1.0"' in text
    assert "<g:id>TEE-STR-S</g:id>" in text  # the three-colour item: its first colour's image


def test_export_of_the_published_set_only(built, tmp_path, capsys):
    cat, _ = built
    assert main(["approve", str(cat), "--only", "sku=TOTE-NAT", "--by", "Tester <t@example.com>"]) == 0
    assert main(["publish", str(cat), "--to", str(tmp_path / "site")]) == 0
    out = tmp_path / "shop.csv"
    assert main(["export", "shopify", str(cat), "--base-url", "https://cdn.example.com", "--published",
                 str(tmp_path / "site"), "--out", str(out)]) == 0
    text = out.read_text()
    assert "URL handle,Title," in text  # the current header names
    assert "https://cdn.example.com/shop/TOTE-NAT/natural--studio.webp" in text
    assert "classic-tee/" not in text.replace("classic-tee,", "")  # not approved: not published, not exported
    assert "1 images of 1 built variants" in capsys.readouterr().out


def test_bad_export_input(built, tmp_path, capsys):
    cat, _ = built
    assert main(["export", "shopify", str(cat), "--base-url", "cdn.example.com"]) == 2
    assert "expected a URL like https://" in capsys.readouterr().err
    assert main(["export", "shopify", str(cat), "--base-url", "https://x", "--channel", "shp"]) == 2
    assert "--channel 'shp': the catalog's channels are shop" in capsys.readouterr().err
    assert main(["export", "shopify", str(cat), "--base-url", "https://x", "--published", str(tmp_path)]) == 2
    assert "no readable published.json" in capsys.readouterr().err


def test_the_stores_limits_on_images(tmp_path, capsys):
    """Shopify: at most 250 images a product; Merchant Center: at most 10 additional images an item."""
    from tests.conftest import png_bytes, tiny_product

    (tmp_path / "tee.png").write_bytes(png_bytes(tiny_product(32)))
    (tmp_path / "p.csv").write_text("Handle,Title,Option1 Name,Option1 Value,Variant SKU,Image Src\n"
                                    "tee,Tee,Color,Black,T-B,tee.png\n")
    import_store("shopify", tmp_path / "p.csv", tmp_path / "p", size="16x16")
    cat = tmp_path / "p" / "catalog.yaml"
    text = cat.read_text()
    colours = "".join(f'  - {{id: c{n}, name: C{n}, hex: "#{n * 12:02X}3040"}}\n' for n in range(19))
    backgrounds = "".join(f'  - {{id: b{n}, name: B{n}, colour: "#E0E0{n * 10:02X}"}}\n' for n in range(13))
    text = text.replace("    colours: [black]\n", "").replace("colours:\n", "colours:\n" + colours, 1)
    text = text.replace("backgrounds:\n", "backgrounds:\n" + backgrounds, 1)
    cat.write_text(text)  # the user's catalog: 20 colours x 14 backgrounds = 280 images of one product
    assert main(["build", str(cat), "-j", "2", "--no-gallery", "--no-inspect"]) == 0
    capsys.readouterr()
    assert main(["export", "shopify", str(cat), "--base-url", "https://x", "--out", str(tmp_path / "s.csv")]) == 1
    err = capsys.readouterr().err
    assert "outputs left out (30):" in err and "over Shopify's 250 images a product" in err
    rows = [line for line in (tmp_path / "s.csv").read_text().splitlines()[1:] if ",https://x/" in line]
    assert len(rows) == 250
    assert main(["export", "merchant", str(cat), "--base-url", "https://x", "--out", str(tmp_path / "m.tsv")]) == 1
    assert "outputs left out (3):" in capsys.readouterr().err  # black: 14 images, 1 + 10 listed
    [item] = (tmp_path / "m.tsv").read_text().splitlines()[1:]  # the store's one variant (black)
    assert len(item.split("\t")[2].split(",")) == 10


def test_a_handles_rows_further_down_get_variant_images_only(tmp_path):
    from mockups.stores import shopify
    from mockups.stores._table import read_table
    from mockups.stores.exporter import ProductImages

    (tmp_path / "s.csv").write_text(
        "Handle,Title,Option1 Name,Option1 Value,Variant SKU,Image Src,Image Position,Image Alt Text,Variant Image\n"
        "tee,Tee,Color,Black,T-B,old.jpg,1,,old.jpg\n"
        "mug,Mug,Color,White,M-W,mug.jpg,1,,\n"
        "tee,,,Navy,T-N,,,,\n")
    imgs = ProductImages([("https://x/b.webp", "Tee - Black"), ("https://x/n.webp", "Tee - Navy")],
                         {"black": ["https://x/b.webp"], "navy": ["https://x/n.webp"]})
    record = {"variants": [{"sku": "T-B", "colour": "black", "options": {"Color": "Black"}},
                           {"sku": "T-N", "colour": "navy", "options": {"Color": "Navy"}}]}
    table, changed = shopify.update(read_table(tmp_path / "s.csv"), {"tee": (record, imgs)})
    rows = [cells for _, cells in table.rows]
    assert rows[0][5:] == ["https://x/b.webp", "1", "Tee - Black", "https://x/b.webp"]
    assert rows[1] == ["tee", "", "", "", "", "https://x/n.webp", "2", "Tee - Navy", ""]  # an image-only row
    assert rows[2][0] == "mug" and rows[2][5] == "mug.jpg"  # another product: untouched
    assert rows[3][5:] == ["", "", "", "https://x/n.webp"]  # the tee again: its variant's image, no listing
    assert changed == 3


def test_variants_without_skus_get_their_own_colours_image_whatever_the_option_order(tmp_path):
    """Size first, colour second, no SKUs (common in exports): each row is matched by its values."""
    from mockups.stores import shopify
    from mockups.stores._table import read_table
    from mockups.stores.exporter import ProductImages

    (tmp_path / "s.csv").write_text(
        "Handle,Title,Option1 Name,Option1 Value,Option2 Name,Option2 Value,Variant SKU,Image Src,Image Position,"
        "Image Alt Text,Variant Image\n"
        "tee,Tee,Size,M,Color,Black,,,,,\n"
        "tee,,,M,,White,,,,,\n"
        "tee,,,L,,Black,,,,,\n")
    imgs = ProductImages([("https://x/b.webp", "Tee - Black"), ("https://x/w.webp", "Tee - White")],
                         {"black": ["https://x/b.webp"], "white": ["https://x/w.webp"]})
    record = {"variants": [{"sku": "", "colour": "black", "options": {"Size": "M", "Color": "Black"}},
                           {"sku": "", "colour": "white", "options": {"Size": "M", "Color": "White"}},
                           {"sku": "", "colour": "black", "options": {"Size": "L", "Color": "Black"}}]}
    table, _ = shopify.update(read_table(tmp_path / "s.csv"), {"tee": (record, imgs)})
    assert [cells[-1] for _, cells in table.rows] == ["https://x/b.webp", "https://x/w.webp", "https://x/b.webp"]
