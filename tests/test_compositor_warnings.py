"""What the compositor cannot do well is said, not done silently: each test here is a way it once
was (nothing dyed by an empty automatic or given dye mask, a print area off or half off the
product, a wholly transparent design, a photo turned by its EXIF orientation refused)."""

from __future__ import annotations

import io
import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mockups import BuildOptions, build, load_catalog
from tests.conftest import MINIMAL, tiny_product

AREA = "print_area: {x: 40, y: 30, width: 48, height: 48}"


def entries(path):
    return json.loads((path.parent / "build" / "manifest.json").read_text())["variants"]


def rgb(path, vid):
    with Image.open(path.parent / "build" / f"{vid}.png") as im:
        return np.asarray(im.convert("RGB")).astype(int)


# 2 -------------------------------------------------------------------------------------------
def _exif_rotated_jpeg() -> bytes:
    """Shown portrait 120x160 (as every viewer and open_image shows it), stored landscape 160x120
    with EXIF orientation 6."""
    shown = Image.new("RGB", (120, 160), (250, 250, 250))
    ImageDraw.Draw(shown).rounded_rectangle((20, 20, 100, 150), 12, fill=(40, 60, 150))
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    shown.transpose(Image.Transpose.ROTATE_90).save(buf, "JPEG", quality=95, exif=exif.tobytes())
    return buf.getvalue()


def test_exif_rotated_photo_accepts_a_mask_and_print_area_of_the_size_it_is_shown_at(project):
    mask = Image.new("L", (120, 160), 0)
    ImageDraw.Draw(mask).rounded_rectangle((20, 20, 100, 150), 12, fill=255)
    cat = MINIMAL.replace("image: assets/tee.png", "image: assets/tee.jpg\n    mask: assets/tee-mask.png").replace(
        AREA, "print_area: {x: 30, y: 90, width: 60, height: 50}")
    path = project(cat, files={"assets/tee.jpg": _exif_rotated_jpeg(), "assets/tee-mask.png": mask})
    load_catalog(path)  # CatalogError: mask 120x160 but image 160x120; print area outside the 160x120 image


def _exif_rotated_png(after_pixels: bool) -> bytes:
    """The same photo as a PNG with EXIF orientation 6, its eXIf chunk before the pixels (where
    Pillow writes it) or after them (where some tools do, and Pillow finds it only by decoding)."""
    with Image.open(io.BytesIO(_exif_rotated_jpeg())) as im:
        stored, exif = im.convert("RGB"), im.getexif()
    buf = io.BytesIO()
    if not after_pixels:
        stored.save(buf, "PNG", exif=exif)
        return buf.getvalue()
    stored.save(buf, "PNG")
    body = b"eXIf" + exif.tobytes()[6:]  # without the "Exif\0\0" of JPEG's APP1
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    data = buf.getvalue()
    return data[:-12] + chunk + data[-12:]  # before IEND


@pytest.mark.parametrize("after_pixels", [False, True], ids=["exif-before-pixels", "exif-after-pixels"])
def test_an_exif_rotated_png_is_checked_at_the_size_it_is_shown_at(project, after_pixels):
    mask = Image.new("L", (120, 160), 0)
    ImageDraw.Draw(mask).rounded_rectangle((20, 20, 100, 150), 12, fill=255)
    data = _exif_rotated_png(after_pixels)
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (160, 120) and ("exif" in im.info) is not after_pixels
        im.load()
        assert im.getexif().get(0x0112) == 6
    cat = MINIMAL.replace("image: assets/tee.png", "image: assets/tee-turned.png\n    mask: assets/tee-mask.png")
    cat = cat.replace(AREA, "print_area: {x: 30, y: 90, width: 60, height: 50}")
    path = project(cat, files={"assets/tee-turned.png": data, "assets/tee-mask.png": mask})
    load_catalog(path)  # CatalogError: mask 120x160 but image 160x120, if the orientation were missed


def _turned_by_text(where: str) -> bytes:
    """The photo as a PNG stored 160x120, its orientation (6) written as ImageMagick writes it (a
    'Raw profile type exif' tEXt, zTXt or compressed iTXt chunk) or as Photoshop and Lightroom do
    (tiff:Orientation in the XMP): no eXIf chunk, but Pillow's getexif (and so the build) reads them."""
    from PIL import PngImagePlugin

    with Image.open(io.BytesIO(_exif_rotated_jpeg())) as im:
        stored, raw = im.convert("RGB"), im.getexif().tobytes()
    info = PngImagePlugin.PngInfo()
    if where == "xmp":
        info.add_itxt("XML:com.adobe.xmp", '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
                      '"http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:tiff='
                      '"http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>')
    elif where == "itxt":
        info.add_itxt("Raw profile type exif", f"\nexif\n{len(raw):8d}\n{raw.hex()}\n", zip=True)
    else:
        info.add_text("Raw profile type exif", f"\nexif\n{len(raw):8d}\n{raw.hex()}\n", zip=where == "ztxt")
    buf = io.BytesIO()
    stored.save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


@pytest.mark.parametrize("where", ["text", "ztxt", "itxt", "xmp"])
def test_a_png_turned_by_a_text_chunk_or_its_xmp_is_checked_at_the_size_it_is_shown_at(project, where):
    from mockups.imaging import open_image

    data = _turned_by_text(where)
    assert b"eXIf" not in data and open_image(io.BytesIO(data)).size == (120, 160)  # as the build uses it
    mask = Image.new("L", (120, 160), 0)
    ImageDraw.Draw(mask).rounded_rectangle((20, 20, 100, 150), 12, fill=255)
    cat = MINIMAL.replace("image: assets/tee.png", "image: assets/tee-turned.png\n    mask: assets/tee-mask.png")
    cat = cat.replace(AREA, "print_area: {x: 30, y: 90, width: 60, height: 50}")
    path = project(cat, files={"assets/tee-turned.png": data, "assets/tee-mask.png": mask})
    load_catalog(path)  # CatalogError: mask 120x160 but image 160x120, if the orientation were missed


# 3 -------------------------------------------------------------------------------------------
def test_nothing_dyed_by_the_automatic_dye_mask_is_a_warning(project):
    """A two-tone product (left half light grey, right half blue): the estimated dye mask is
    empty, so the navy and the white variants are the same image, and nobody is told."""
    im = tiny_product()
    a = np.asarray(im).copy()
    a[:, 64:, :3] = (40, 60, 160)
    path = project(files={"assets/tee.png": Image.fromarray(a, "RGBA")})
    report = build(path, BuildOptions(gallery=False, only=["sku=TEE", "background=studio"]))
    e = entries(path)
    same = np.array_equal(rgb(path, "web/TEE/navy--studio"), rgb(path, "web/TEE/white--studio"))
    assert not same or e["web/TEE/navy--studio"]["warnings"] or report.failures, "recolour silently did nothing"


def test_a_recolour_mask_that_covers_nothing_is_a_warning_or_an_error(project):
    cat = MINIMAL.replace("image: assets/tee.png", "image: assets/tee.png\n    recolour_mask: assets/dye.png")
    path = project(cat, files={"assets/dye.png": Image.new("L", (128, 128), 0)})
    report = build(path, BuildOptions(gallery=False, only=["sku=TEE", "background=studio"]))
    e = entries(path)
    assert np.array_equal(rgb(path, "web/TEE/navy--studio"), rgb(path, "web/TEE/white--studio"))
    assert e["web/TEE/navy--studio"]["warnings"] or report.failures, "navy variant is the undyed photo, silently"


# 4 -------------------------------------------------------------------------------------------
def _orange(a):
    return int(((a[..., 0] > 150) & (a[..., 2] < 100)).sum())


def test_a_print_area_off_the_product_is_an_error_with_old_print_keep_too(project):
    """With `old_print: auto` the same catalog fails "print area does not overlap the product";
    with `old_print: keep` the build succeeds and the design is simply not there."""
    cat = MINIMAL.replace(AREA, "print_area: {x: 0, y: 0, width: 15, height: 12}\n    old_print: keep")
    path = project(cat)
    report = build(path, BuildOptions(gallery=False, only=["sku=TEE", "colour=navy", "background=studio"]))
    e = entries(path)["web/TEE/navy--studio"]
    if not report.failures:
        assert _orange(rgb(path, "web/TEE/navy--studio")) > 0 or e["warnings"], "design silently missing"


def test_a_print_area_mostly_off_the_product_is_a_warning(project):
    """Print area x 90..128 on a product spanning x 21..107: most of the design is cut away, silently."""
    cat = MINIMAL.replace(AREA, "print_area: {x: 90, y: 30, width: 38, height: 48}")
    path = project(cat)
    report = build(path, BuildOptions(gallery=False, only=["sku=TEE", "colour=navy", "background=studio"]))
    assert not report.failures
    assert entries(path)["web/TEE/navy--studio"]["warnings"], "the design was cut in half without a word"


# 5 -------------------------------------------------------------------------------------------
def test_a_fully_transparent_design_is_an_error_or_a_warning(project):
    path = project(files={"assets/logo.png": Image.new("RGBA", (64, 64), (0, 0, 0, 0))})
    report = build(path, BuildOptions(gallery=False, only=["sku=TEE", "colour=navy", "background=studio"]))
    assert report.failures or entries(path)["web/TEE/navy--studio"]["warnings"], "an invisible design, silently"


# A product photo enlarged 18 times to fill a large channel looked soft, with no warning.
def test_a_product_photo_enlarged_many_times_is_a_warning(project):
    """A 128 px product photo on a 3000 px canvas (fill 0.78 by default: ~18x enlarged): blurry, no warning."""
    path = project(MINIMAL.replace("size: 96x96", "size: 3000x3000"))
    report = build(path, BuildOptions(gallery=False, only=["sku=TEE", "colour=navy", "background=studio"]))
    assert not report.failures
    assert entries(path)["web/TEE/navy--studio"]["warnings"], "18x upscaled product, no warning"
