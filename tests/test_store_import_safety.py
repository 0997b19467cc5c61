"""An import from a store keeps every product and colour, and an export writes what belongs where:
each test here is a way that once failed (a one-row product dropped, a deleted colour added back,
non-Latin or similar names stopping the import, a name YAML cannot hold raw, a colour option in
another language, a size taken for a colour, a server that drips bytes, a comma in a CDN's URL)."""

from __future__ import annotations

import yaml

from mockups.stores import Limits, import_store
from tests.store_helpers import PHOTOS, garment

FAST = Limits(timeout=0.5, retries=0, backoff=0.01)


def _doc(folder):
    return yaml.safe_load((folder / "catalog.yaml").read_text(encoding="utf-8"))


def _photos(tmp_path, *names):
    for name in names:
        (tmp_path / name).write_bytes(garment(PHOTOS.get(name, (40, 110, 160))))


def test_a_single_variant_product_without_sku_or_options_is_imported(tmp_path):
    """Shopify accepts (and stores make) a product row with no options and no SKU: its default variant."""
    _photos(tmp_path, "tee-front.jpg", "mug.jpg")
    (tmp_path / "p.csv").write_text(
        "Handle,Title,Option1 Name,Option1 Value,Variant SKU,Variant Price,Image Src,Image Position\n"
        "tee,Tee,Color,Black,T-B,10,tee-front.jpg,1\n"
        "mug,Mug,,,,12,mug.jpg,1\n")
    report = import_store("shopify", tmp_path / "p.csv", tmp_path / "p", limits=FAST)
    assert [p["sku"] for p in _doc(tmp_path / "p")["products"]] == ["tee", "mug"], report.left_out


def test_non_latin_colour_names_stay_distinct_colours(tmp_path):
    _photos(tmp_path, "tee-front.jpg")
    (tmp_path / "p.csv").write_text(
        "Handle,Title,Option1 Name,Option1 Value,Variant SKU,Image Src,Image Position\n"
        "tee,Tee,Color,Чёрный,T-B,tee-front.jpg,1\n"
        "tee,,,Белый,T-W,,\n", encoding="utf-8")
    (tmp_path / "c.yaml").write_text('Чёрный: "#111111"\nБелый: "#F5F5F5"\n', encoding="utf-8")
    import_store("shopify", tmp_path / "p.csv", tmp_path / "p", colours=tmp_path / "c.yaml", limits=FAST)
    doc = _doc(tmp_path / "p")
    assert len(doc["colours"]) == 2 and len(doc["products"][0]["colours"]) == 2


def test_colour_names_that_make_the_same_id_do_not_break_the_import(tmp_path):
    _photos(tmp_path, "tee-front.jpg", "mug.jpg")
    (tmp_path / "p.csv").write_text(
        "Handle,Title,Option1 Name,Option1 Value,Variant SKU,Image Src,Image Position\n"
        "tee,Tee,Color,Black/White,T-BW,tee-front.jpg,1\n"
        "cap,Cap,Color,Black & White,C-BW,mug.jpg,1\n")
    (tmp_path / "c.yaml").write_text('Black/White: "#777777"\nBlack & White: "#777777"\n')
    import_store("shopify", tmp_path / "p.csv", tmp_path / "p", colours=tmp_path / "c.yaml", limits=FAST)
    assert len(_doc(tmp_path / "p")["products"]) == 2


def test_a_title_with_a_control_character_does_not_break_the_catalog(tmp_path):
    _photos(tmp_path, "tee-front.jpg")
    (tmp_path / "p.csv").write_text(
        "Handle,Title,Option1 Name,Option1 Value,Variant SKU,Image Src,Image Position\n"
        "tee,Tee\x7f\u0085\u0090 Classic,Color,Black,T-B,tee-front.jpg,1\n", encoding="utf-8")
    import_store("shopify", tmp_path / "p.csv", tmp_path / "p", limits=FAST)
    assert _doc(tmp_path / "p")["products"][0]["sku"] == "tee"


def test_a_colour_the_user_deleted_is_not_added_back(tmp_path):
    _photos(tmp_path, "tee-front.jpg")
    (tmp_path / "p.csv").write_text(
        "Handle,Title,Option1 Name,Option1 Value,Variant SKU,Image Src,Image Position\n"
        "tee,Tee,Color,Black,T-B,tee-front.jpg,1\n"
        "tee,,,Navy,T-N,,\n")
    import_store("shopify", tmp_path / "p.csv", tmp_path / "p", limits=FAST)
    cat = tmp_path / "p" / "catalog.yaml"
    text = cat.read_text()
    lines = [line for line in text.splitlines(keepends=True) if "{id: navy," not in line]
    text = "".join(lines).replace("colours: [black, navy]", "colours: [black]")
    cat.write_text(text)
    import_store("shopify", tmp_path / "p.csv", tmp_path / "p", limits=FAST)
    assert "navy" not in {c["id"] for c in _doc(tmp_path / "p")["colours"]}


def test_keys_that_make_the_same_sku(tmp_path):
    _photos(tmp_path, "tee-front.jpg", "mug.jpg")
    (tmp_path / "w.csv").write_text(
        "ID,Type,SKU,Name,Images,Parent,Attribute 1 name,Attribute 1 value(s)\n"
        "1,simple,TEE 1,Tee,tee-front.jpg,,Color,Black\n"
        "2,simple,TEE-1,Mug,mug.jpg,,Color,Navy\n")
    import_store("woocommerce", tmp_path / "w.csv", tmp_path / "p", limits=FAST)
    assert len(_doc(tmp_path / "p")["products"]) == 2


def test_the_colour_option_in_other_store_languages(tmp_path):
    """Shopify names the option in the admin's language: Cor (pt), Färg (sv), Kolor (pl), Цвет (ru)..."""
    _photos(tmp_path, "tee-black.jpg", "tee-front.jpg")
    (tmp_path / "c.yaml").write_text('Preto: "#111111"\nBranco: "#F5F5F5"\n')
    for name in ("Cor", "Färg", "Kolor", "Цвет"):
        (tmp_path / "p.csv").write_text(
            "Handle,Title,Option1 Name,Option1 Value,Variant SKU,Image Src,Image Position,Variant Image\n"
            f"tee,Tee,{name},Preto,T-B,tee-front.jpg,1,tee-black.jpg\n"
            "tee,,,Branco,T-W,,,tee-front.jpg\n", encoding="utf-8")
        out = tmp_path / ("p-" + str(len(name)) + name.encode().hex())
        import_store("shopify", tmp_path / "p.csv", out, colours=tmp_path / "c.yaml", limits=FAST)
        assert _doc(out)["products"][0]["colours"] == ["preto", "branco"], name


def test_a_server_that_drips_bytes_does_not_hang_the_import(tmp_path):
    """Limits.timeout is per read: a server sending a byte every 0.1 s holds the import for days."""
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from mockups.stores.download import fetch_all

    stop = threading.Event()

    class Drip(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            try:
                while not stop.is_set():
                    self.wfile.write(b"\xff")
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                pass

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Drip)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/tee.jpg"
    done: list = []
    worker = threading.Thread(target=lambda: done.append(
        fetch_all([(url, "p.csv:2", tmp_path / "tee")], tmp_path, Limits(timeout=0.5, retries=0))), daemon=True)
    worker.start()
    worker.join(8)  # 16 x the timeout
    hung = worker.is_alive()
    stop.set()
    worker.join(5)
    server.shutdown()
    server.server_close()
    assert not hung, "the fetch was still reading after 8 s with Limits(timeout=0.5)"


def test_a_variant_added_in_the_store_since_the_import_gets_its_own_colours_image(tmp_path):
    """Size first; the store added Navy/XL after the import (XL was Black's only): it got Black's image."""
    from mockups.stores import shopify
    from mockups.stores._table import read_table
    from mockups.stores.exporter import ProductImages

    (tmp_path / "s.csv").write_text(
        "Handle,Title,Option1 Name,Option1 Value,Option2 Name,Option2 Value,Variant SKU,Image Src,Image Position,"
        "Image Alt Text,Variant Image\n"
        "tee,Tee,Size,S,Color,Black,T-B-S,,,,\n"
        "tee,,,XL,,Black,T-B-XL,,,,\n"
        "tee,,,S,,Navy,T-N-S,,,,\n"
        "tee,,,XL,,Navy,T-N-XL,,,,\n")  # new in the store
    imgs = ProductImages([("https://x/b.webp", "Tee - Black"), ("https://x/n.webp", "Tee - Navy")],
                         {"black": ["https://x/b.webp"], "navy": ["https://x/n.webp"]})
    record = {"variants": [{"sku": "T-B-S", "colour": "black", "options": {"Size": "S", "Color": "Black"}},
                           {"sku": "T-B-XL", "colour": "black", "options": {"Size": "XL", "Color": "Black"}},
                           {"sku": "T-N-S", "colour": "navy", "options": {"Size": "S", "Color": "Navy"}}]}
    table, _ = shopify.update(read_table(tmp_path / "s.csv"), {"tee": (record, imgs)})
    assert [cells[-1] for _, cells in table.rows][3] in ("https://x/n.webp", "")


def test_a_base_url_with_a_comma_keeps_the_feeds_additional_images_apart(tmp_path):
    """Merchant Center separates additional_image_link by commas in a TSV: a comma in a URL must be %2C
    (a Cloudinary-style base URL, .../upload/w_800,h_800/, is common)."""
    from mockups.stores import merchant
    from mockups.stores.exporter import _url

    base = "https://res.cloudinary.com/acme/image/upload/w_800,h_800/mockups"
    urls = [_url(base, f"shop/tee/{c}--studio.webp") for c in ("black", "navy", "white")]
    (tmp_path / "feed.tsv").write_bytes(merchant.feed_bytes(
        [{"id": "TEE-1", "image_link": urls[0], "additional_image_link": urls[1:]}], xml=False))
    [item] = merchant._items_tsv(tmp_path / "feed.tsv")
    assert len(item[1]["additional_image_link"]) == 2, item[1]["additional_image_link"]
