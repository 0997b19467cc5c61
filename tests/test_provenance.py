"""AI provenance: outputs an AI backend made carry the IPTC DigitalSourceType in their XMP (PNG,
WebP, JPEG); composites with AI-made parts carry compositeWithTrainedAlgorithmicMedia; local
outputs carry neither; the export refuses an AI-made output that lost it."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from mockups.cli import main
from mockups.imaging import DIGITAL_SOURCE_TYPES, digital_source_type, encode, read_metadata
from tests.fake_openai import fake_openai  # noqa: F401  (fixture)
from tests.test_openai_backend import catalog_text

AI = DIGITAL_SOURCE_TYPES["trainedAlgorithmicMedia"]
COMPOSITE = DIGITAL_SOURCE_TYPES["compositeWithTrainedAlgorithmicMedia"]
META = {"sku": "TEE", "variant": "web/TEE/white--studio", "key": "abc"}


@pytest.mark.parametrize("fmt", ["png", "webp", "jpeg"])
def test_encode_embeds_the_source_type_in_every_format(fmt):
    image = Image.new("RGB", (32, 32), (200, 40, 50))
    for source, url in (("trainedAlgorithmicMedia", AI), ("compositeWithTrainedAlgorithmicMedia", COMPOSITE)):
        data = encode(image, fmt, metadata=META, digital_source=source)
        assert digital_source_type(data) == url
        assert read_metadata(data)["sku"] == "TEE"  # our own fields read as before
    plain = encode(image, fmt, metadata=META)
    assert digital_source_type(plain) is None
    assert plain == encode(image, fmt, metadata=META, digital_source=None)  # nothing added without a source
    assert b"Iptc4xmpExt" not in plain and b"XML:com.adobe.xmp" not in plain


def test_png_carries_the_xmp_where_other_tools_look():
    data = encode(Image.new("RGB", (8, 8)), "png", metadata=META, digital_source="trainedAlgorithmicMedia")
    with Image.open(io.BytesIO(data)) as im:
        packet = im.text["XML:com.adobe.xmp"]  # the iTXt keyword XMP readers (exiftool, Pillow) use
    assert f"<Iptc4xmpExt:DigitalSourceType>{AI}</Iptc4xmpExt:DigitalSourceType>" in packet
    assert "XML:com.adobe.xmp" not in read_metadata(data)


CHANNELS = ("  - {id: web, size: 96x96, format: png}\n  - {id: w2, size: 96x96, format: webp}\n"
            "  - {id: j, size: 96x96, format: jpeg}\n")


def _project(project, fake, opts: str = ""):
    base = f"model: gpt-image-2\nquality: low\nsize: 256x256\nbase_url: '{fake.base_url}'\ntimeout: 20\n{opts}"
    text = catalog_text(base).replace("  - {id: web, size: 96x96, format: png}\n", CHANNELS)
    return project(catalog=text)


def _outputs(path):
    entries = json.loads((path.parent / "build" / "manifest.json").read_text())["variants"]
    return {vid: (e, (path.parent / "build" / e["output"]).read_bytes()) for vid, e in entries.items()}


def test_ai_outputs_carry_it_and_local_ones_do_not(project, fake_openai):  # noqa: F811
    path = _project(project, fake_openai)
    assert main(["build", str(path), "--backend", "openai", "--only", "sku=TEE,background=studio"]) == 0
    made = _outputs(path)
    assert {e["format"] for e, _ in made.values()} == {"png", "webp", "jpeg"}
    for e, data in made.values():  # scene edits with the product lock: the photo's product over an AI scene
        assert digital_source_type(data) == COMPOSITE, e["output"]
        assert e["digital_source"] == "compositeWithTrainedAlgorithmicMedia"
    assert main(["build", str(path), "--backend", "local", "--only", "sku=TEE,background=studio"]) == 0
    for e, data in _outputs(path).values():
        assert digital_source_type(data) is None and "digital_source" not in e
        assert b"Iptc4xmpExt" not in data


def test_without_the_product_lock_it_is_trained_algorithmic_media(project, fake_openai):  # noqa: F811
    path = _project(project, fake_openai, "product_lock: false\n")
    assert main(["build", str(path), "--backend", "openai", "--only", "sku=TEE,background=studio,channel=j"]) == 0
    made = _outputs(path).values()
    assert len(made) == 2  # white and navy
    for e, data in made:
        assert digital_source_type(data) == AI and e["digital_source"] == "trainedAlgorithmicMedia"


def test_export_refuses_an_ai_output_that_lost_it(project, fake_openai, tmp_path, capsys):  # noqa: F811
    path = _project(project, fake_openai)
    assert main(["build", str(path), "--backend", "openai", "--only", "sku=TEE,background=studio"]) == 0
    feed = tmp_path / "feed.tsv"
    assert main(["export", "merchant", str(path), "--base-url", "https://cdn.example.com", "--out", str(feed),
                 "--channel", "w2"]) == 0
    assert "https://cdn.example.com/w2/TEE/" in feed.read_text()
    feed.unlink()
    e, data = next(v for v in _outputs(path).values() if v[0]["channel"] == "w2")
    with Image.open(io.BytesIO(data)) as im:  # what an image editor that drops metadata does
        im.save(path.parent / "build" / e["output"], "WEBP")
    capsys.readouterr()
    assert main(["export", "merchant", str(path), "--base-url", "https://cdn.example.com", "--out", str(feed),
                 "--channel", "w2"]) == 1
    err = capsys.readouterr().err
    assert "refusing to export AI-made images without their provenance metadata" in err
    assert f"{e['output']}: made by openai (gpt-image-2) but the file does not carry its IPTC DigitalSourceType" in err
    assert not feed.exists()  # nothing written


def test_export_of_a_published_set_asks_the_file_when_the_variant_was_rebuilt_since(project, fake_openai,  # noqa: F811
                                                                                    tmp_path, capsys):
    path = _project(project, fake_openai)
    only = ["--only", "sku=TEE,background=studio,channel=w2"]
    assert main(["build", str(path), "--backend", "openai", *only]) == 0
    assert main(["approve", str(path), "--backend", "openai", *only, "--by", "tester"]) == 0
    shop = tmp_path / "shop"
    assert main(["publish", str(path), "--backend", "openai", "--to", str(shop), *only]) == 0
    assert main(["build", str(path), "--backend", "local", *only]) == 0  # the manifest now says local
    feed = tmp_path / "feed.tsv"
    export = ["export", "merchant", str(path), "--base-url", "https://cdn.example.com", "--out", str(feed),
              "--channel", "w2", "--published", str(shop)]
    assert main(export) == 0  # the published files are the AI ones, and carry their source type
    published = sorted(shop.rglob("*.webp"))
    with Image.open(published[0]) as im:  # an editor that drops metadata
        im.load()
        im.save(published[0], "WEBP")
    feed.unlink()
    capsys.readouterr()
    assert main(export) == 1
    assert "whether it must carry an AI source type cannot be told" in capsys.readouterr().err
    assert not feed.exists()
