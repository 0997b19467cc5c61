"""Reading product photos robustly and encoding outputs with embedded metadata."""

from __future__ import annotations

import io
import logging
import os
import re
import xml.etree.ElementTree as ET
from typing import IO
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from mockups.imaging._common import ImagingError
from mockups.limits import MAX_PIXELS

logger = logging.getLogger(__name__)

__all__ = ["open_image", "encode", "read_metadata", "thumbnail", "XMP_NAMESPACE", "DIGITAL_SOURCE_TYPES",
           "digital_source_type"]

#: Namespace of the custom XMP properties (one element per metadata key).
XMP_NAMESPACE = "urn:mockups:xmp:1.0#"
_DC = "http://purl.org/dc/elements/1.1/"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,78}$")
# Characters XML 1.0 (and PNG tEXt) cannot carry; removed from values.
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_IPTC_EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
_PNG_XMP_KEY = "XML:com.adobe.xmp"  # the iTXt keyword XMP lives under in a PNG
#: IPTC digital source types an output may declare (XMP Iptc4xmpExt:DigitalSourceType), by short name.
DIGITAL_SOURCE_TYPES = {name: f"http://cv.iptc.org/newscodes/digitalsourcetype/{name}"
                        for name in ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia")}
_DESCRIPTION_KEYS = ("product", "sku", "colour", "background", "design", "channel")

#: zlib level 3. Measured on 1024x1024 photographic mockups (mean of 4):
#: level 1: 73 ms / 1104 KB, 3: 107 ms / 1049 KB, 6: 416 ms / 982 KB,
#: 9: 688 ms / 954 KB. Level 3 is 4x faster than zlib's default 6 for +7 %
#: size; mockup PNGs are dithered photos, so higher levels buy little.
PNG_COMPRESS_LEVEL = 3
JPEG_QUALITY = 90
WEBP_QUALITY = 90
WEBP_METHOD = 4
THUMB_WEBP_METHOD = 2  # previews with transparency: 2.4x faster than 4 for ~4% more bytes
THUMB_JPEG_QUALITY = 85  # opaque previews: a tenth of WebP's time (0.9 ms against 8.8 at 342 px)


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


#: What `open_image` reads: a path, the encoded bytes, or a binary file object.
Source = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]


def _open(source: Source) -> Image.Image:
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(bytes(source))
    try:
        return Image.open(source)
    except Image.DecompressionBombError as exc:
        raise ImagingError(f"image is too large to decode safely ({exc})") from exc
    except FileNotFoundError as exc:
        raise ImagingError(f"file not found: {source}") from exc
    except UnidentifiedImageError as exc:
        raise ImagingError("not a readable image (unknown or corrupt format)") from exc
    except OSError as exc:
        raise ImagingError(f"cannot read image: {exc}") from exc


def _scale_wide(im: Image.Image) -> Image.Image:
    """16/32-bit greyscale ('I;16', 'I', 'F') to 8-bit 'L', scaled not clipped."""
    arr = np.asarray(im)
    if im.mode == "F":
        arr = arr.astype(np.float64)
        top = 1.0 if np.nanmax(arr, initial=0.0) <= 1.0 else 255.0
        arr = np.nan_to_num(arr / top * 255.0)
    elif im.mode.startswith("I;16") or arr.max(initial=0) > 255:
        arr = arr.astype(np.float64) / 257.0
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L")


def _icc_to_srgb(im: Image.Image) -> Image.Image:
    """Convert an embedded ICC profile (e.g. CMYK, Adobe RGB) to sRGB when lcms is available."""
    icc = im.info.get("icc_profile")
    if not icc or im.mode not in ("RGB", "RGBA", "CMYK"):
        return im
    try:
        from PIL import ImageCms

        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if im.mode == "RGB" and "sRGB" in (ImageCms.getProfileDescription(src) or ""):
            return im
        out_mode = "RGBA" if im.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode=out_mode)
        return converted if converted is not None else im  # None only with inPlace=True
    except Exception as exc:  # missing lcms, broken profile: fall back to the naive conversion
        logger.warning("embedded ICC profile not applied (%s: %s); colours converted without it",
                       type(exc).__name__, exc)
        return im


_DIRECT_MODES = ("RGBA", "RGB", "RGBa", "RGBX", "L", "LA", "La", "P", "PA", "1", "CMYK")


def _to_rgba(im: Image.Image) -> Image.Image:
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        im = _scale_wide(im)
    im = _icc_to_srgb(im)
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("PA")
    try:
        if im.mode not in _DIRECT_MODES:  # YCbCr, LAB, HSV, ...
            im = im.convert("RGB")
        return im.convert("RGBA")
    except (ValueError, OSError) as exc:
        raise ImagingError(f"unsupported image mode {im.mode!r}: {exc}") from exc


def open_image(source: Source, *,
               max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open a product/design image as a fully loaded RGBA image.

    Handles EXIF orientation, palette + tRNS, L/LA, CMYK (ICC-aware), 16-bit
    greyscale and animated files (first frame). Raises :class:`ImagingError`
    for unreadable or truncated files and for images with more than
    ``max_pixels`` pixels (checked from the header, before decoding).
    """
    im = _open(source)
    try:
        width, height = im.size
        if width <= 0 or height <= 0:
            raise ImagingError(f"image has invalid dimensions {width}x{height}")
        if width * height > max_pixels:
            raise ImagingError(f"image is {width}x{height} = {width * height:,} pixels, more than the "
                               f"limit of {max_pixels:,} (possible decompression bomb)")
        if getattr(im, "n_frames", 1) > 1:
            im.seek(0)
        try:
            im.load()
        except Image.DecompressionBombError as exc:
            raise ImagingError(f"image is too large to decode safely ({exc})") from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImagingError(f"image data is truncated or corrupt ({exc})") from exc
        try:
            oriented = ImageOps.exif_transpose(im)
        except Exception as exc:  # malformed EXIF must not make a good image unusable
            logger.warning("EXIF orientation not applied (%s: %s); the image is used as stored",
                           type(exc).__name__, exc)
            oriented = im
        return _to_rgba(oriented if oriented is not None else im).copy()
    finally:
        im.close()


# ---------------------------------------------------------------------------
# Metadata
# ---------------------------------------------------------------------------


def _clean_metadata(metadata: dict[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (metadata or {}).items():
        if not isinstance(key, str) or not _KEY_RE.match(key):
            raise ImagingError(f"metadata key {key!r} must match {_KEY_RE.pattern}")
        out[key] = _BAD_CHARS.sub("", "" if value is None else str(value))
    return out


def _description(metadata: dict[str, str]) -> str:
    if metadata.get("description"):
        return metadata["description"]
    parts = [f"{k}: {metadata[k]}" for k in _DESCRIPTION_KEYS if metadata.get(k)]
    return "; ".join(parts)


def _source_url(source: str | None) -> str | None:
    if source is None:
        return None
    if source not in DIGITAL_SOURCE_TYPES:
        raise ImagingError(f"unknown digital source type {source!r}; expected one of {', '.join(DIGITAL_SOURCE_TYPES)}")
    return DIGITAL_SOURCE_TYPES[source]


def build_xmp(metadata: dict[str, str], digital_source: str | None = None) -> bytes:
    """A small XMP packet: dc:description plus one ``mockups:<key>`` per entry, and the IPTC
    ``Iptc4xmpExt:DigitalSourceType`` when ``digital_source`` (a DIGITAL_SOURCE_TYPES name) is given."""
    meta = _clean_metadata(metadata)
    fields = "".join(f"\n   <mockups:{k}>{escape(v)}</mockups:{k}>" for k, v in meta.items())
    url = _source_url(digital_source)
    if url:
        fields += f"\n   <Iptc4xmpExt:DigitalSourceType>{escape(url)}</Iptc4xmpExt:DigitalSourceType>"
    iptc = f' xmlns:Iptc4xmpExt="{_IPTC_EXT}"' if url else ""
    desc = escape(_description(meta))
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        f' <rdf:RDF xmlns:rdf="{_RDF}">\n'
        f'  <rdf:Description rdf:about="" xmlns:dc="{_DC}" xmlns:mockups="{XMP_NAMESPACE}"{iptc}>\n'
        f'   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{desc}</rdf:li></rdf:Alt>'
        f'</dc:description>{fields}\n'
        "  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )
    return packet.encode("utf-8")


def parse_xmp(xmp: bytes | str) -> dict[str, str]:
    """Read back the ``mockups:`` properties (or dc:description) of an XMP packet."""
    text = xmp.decode("utf-8", "replace") if isinstance(xmp, (bytes, bytearray)) else xmp
    start, end = text.find("<x:xmpmeta"), text.rfind("</x:xmpmeta>")
    if start < 0 or end < 0:
        return {}
    try:
        root = ET.fromstring(text[start:end + len("</x:xmpmeta>")])
    except ET.ParseError:
        return {}
    out: dict[str, str] = {}
    prefix = "{" + XMP_NAMESPACE + "}"
    for desc in root.iter(f"{{{_RDF}}}Description"):
        for child in desc:
            if child.tag.startswith(prefix):
                out[child.tag[len(prefix):]] = child.text or ""
    if not out:
        for li in root.iter(f"{{{_DC}}}description"):
            texts = [el.text or "" for el in li.iter(f"{{{_RDF}}}li")]
            if texts:
                out["description"] = texts[0]
    return out


def _ascii_safe(text: str) -> str:
    """EXIF ASCII fields cannot hold UTF-8: escape non-ASCII as \\uXXXX."""
    return text.encode("ascii", "backslashreplace").decode("ascii")


# ---------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------


def _prepare_mode(image: Image.Image, fmt: str) -> Image.Image:
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    if image.mode == "RGBA":
        alpha = np.asarray(image.getchannel("A"))
        if fmt == "jpeg" or alpha.min() == 255:
            flat = Image.new("RGB", image.size, (255, 255, 255))
            flat.paste(image, mask=image.getchannel("A"))
            image = flat
    return image


def _normalise_format(fmt: str) -> str:
    key = str(fmt).lower().lstrip(".")
    key = {"jpg": "jpeg", "jpe": "jpeg"}.get(key, key)
    if key not in ("png", "jpeg", "webp"):
        raise ImagingError(f"unsupported output format {fmt!r} (use png, jpeg or webp)")
    return key


def encode(image: Image.Image, fmt: str, *, quality: int | None = None,
           metadata: dict[str, str] | None = None, png_compress_level: int = PNG_COMPRESS_LEVEL,
           method: int = WEBP_METHOD, digital_source: str | None = None) -> bytes:
    """Encode ``image`` as png/jpeg/webp bytes with ``metadata`` embedded.

    Deterministic: the same pixels and metadata give the same bytes. PNG
    stores each entry as a tEXt chunk (iTXt when non-ASCII) and ignores
    ``quality``; JPEG and WebP carry an XMP packet (dc:description plus a
    ``mockups:`` property per key) and JPEG also EXIF ImageDescription.
    JPEG: quality 90, 4:2:0 (4:4:4 from quality 95), baseline, no optimize.
    WebP: quality 90, ``method`` 4 (speed/size balance), lossless at 100.
    ``digital_source`` (an AI backend's output): the IPTC DigitalSourceType in the XMP packet of
    all three formats (a PNG then also carries the packet, as an iTXt chunk); None adds nothing.
    """
    key = _normalise_format(fmt)
    meta = _clean_metadata(metadata)
    image = _prepare_mode(image, key)
    buf = io.BytesIO()
    if key == "png":
        info = PngImagePlugin.PngInfo()
        for k, v in meta.items():
            if v.isascii():
                info.add_text(k, v)
            else:
                info.add_itxt(k, v)
        if digital_source is not None:
            info.add_itxt(_PNG_XMP_KEY, build_xmp(meta, digital_source).decode("utf-8"))
        image.save(buf, "PNG", pnginfo=info, compress_level=int(png_compress_level), optimize=False)
    elif key == "jpeg":
        q = JPEG_QUALITY if quality is None else int(quality)
        exif = Image.Exif()
        exif[0x010E] = _ascii_safe(_description(meta))
        image.save(buf, "JPEG", quality=q, subsampling="4:4:4" if q >= 95 else "4:2:0",
                   optimize=False, progressive=False, xmp=build_xmp(meta, digital_source), exif=exif.tobytes())
    else:
        q = WEBP_QUALITY if quality is None else int(quality)
        image.save(buf, "WEBP", quality=q, method=int(method), lossless=q >= 100,
                   alpha_quality=100, exact=False, xmp=build_xmp(meta, digital_source).decode("utf-8"))
    return buf.getvalue()


def read_metadata(data: bytes) -> dict[str, str]:
    """Metadata embedded by :func:`encode` (PNG text chunks, or XMP / EXIF)."""
    try:
        im = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError) as exc:
        raise ImagingError(f"cannot read metadata: {exc}") from exc
    with im:
        if isinstance(im, PngImagePlugin.PngImageFile):
            return {str(k): str(v) for k, v in im.text.items() if k != _PNG_XMP_KEY}
        xmp = im.info.get("xmp")
        found = parse_xmp(xmp) if xmp else {}
        if not found:
            desc = im.getexif().get(0x010E)
            if desc:
                found = {"description": str(desc)}
        return found


def digital_source_type(data: bytes) -> str | None:
    """The IPTC DigitalSourceType URL in an encoded image's XMP (PNG, JPEG, WebP), or None."""
    try:
        im = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError) as exc:
        raise ImagingError(f"cannot read metadata: {exc}") from exc
    with im:
        xmp = im.info.get("xmp") or (im.text.get(_PNG_XMP_KEY) if isinstance(im, PngImagePlugin.PngImageFile) else None)
    if not xmp:
        return None
    text = xmp.decode("utf-8", "replace") if isinstance(xmp, (bytes, bytearray)) else str(xmp)
    found = re.search(r"<Iptc4xmpExt:DigitalSourceType>([^<]*)</Iptc4xmpExt:DigitalSourceType>", text)
    if found:
        return found.group(1).strip()
    attr = re.search(r'Iptc4xmpExt:DigitalSourceType="([^"]*)"', text)  # the attribute form other tools write
    return attr.group(1).strip() if attr else None


_PNG_ORIENTATION_KEYS = {"exif", "Raw profile type exif", "XML:com.adobe.xmp", "xmp"}
_PNG_ORIENTATION_CHUNKS = (b"eXIf", b"Raw profile type exif", b"XML:com.adobe.xmp")


def shown_size(im: Image.Image, path: str | os.PathLike) -> tuple[int, int]:
    """The size of the image opened from `path` as it is shown and used (`open_image` turns it):
    width and height swapped when its EXIF orientation turns it a quarter (a phone's photo); as
    stored when that cannot be read (the build reports the file itself).

    A PNG's orientation found before its pixels is in its header; one after them Pillow finds
    only by decoding the whole image (14 ms at 1024 px), so that is done only where the file
    holds the name of a chunk Pillow takes an orientation from (an eXIf chunk, ImageMagick's raw
    EXIF profile, Adobe's XMP: their names are stored uncompressed)."""
    if im.format == "PNG" and not _PNG_ORIENTATION_KEYS & set(im.info):
        with open(path, "rb") as f:
            data = f.read()
        if not any(name in data for name in _PNG_ORIENTATION_CHUNKS):
            return im.size
    try:
        turned = im.getexif().get(0x0112) in (5, 6, 7, 8)
    except Exception:  # noqa: BLE001 - a damaged EXIF block: the image is what its header says
        turned = False
    return (im.size[1], im.size[0]) if turned else im.size


def thumbnail(image: Image.Image, max_side: int = 360, *, quality: int | None = None) -> bytes:
    """A preview no larger than ``max_side`` on its longer side (never upscaled): a JPEG (quality
    ``THUMB_JPEG_QUALITY``), or a WebP (quality 80) where the image has transparency to show.

    Where an integer box reduction lands within 80 % of ``max_side`` (1024 px -> 342, 1200 -> 300)
    that is all it does: an area average, which a preview cannot tell from Lanczos, at a fifth of
    the cost (1.7 ms where reducing then resampling took 8.6 ms at 1024 px); otherwise a box
    reduction then Lanczos over the last 1-2x. JPEG because a preview is made for every variant:
    WebP took 8.8 ms of a 342 px one, JPEG 0.9 ms, for about twice the bytes (23 KB against 12).
    """
    if max_side < 1:
        raise ImagingError("thumbnail max_side must be >= 1")
    im = image if image.mode in ("RGB", "RGBA") else image.convert("RGBA")
    longest = max(im.size)
    box = -(-longest // max_side)  # the smallest integer factor that fits
    if box >= 2 and -(-longest // box) >= 0.8 * max_side:
        im = im.reduce(box)
    elif longest > max_side:
        scale = max_side / longest
        size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
        factor = int(min(im.width / size[0], im.height / size[1]))
        if factor >= 2:  # an integer box reduction first (fast), then Lanczos over the last 1-2x
            im = im.reduce(factor)
        im = im.resize(size, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    if im.mode == "RGBA" and im.getchannel("A").getextrema() != (255, 255):  # transparency to show
        im.save(buf, "WEBP", quality=80 if quality is None else quality, method=THUMB_WEBP_METHOD)
    else:
        rgb = im if im.mode == "RGB" else im.convert("RGB")
        rgb.save(buf, "JPEG", quality=THUMB_JPEG_QUALITY if quality is None else quality)
    return buf.getvalue()
