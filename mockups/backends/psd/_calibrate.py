"""The calibration gate: our geometry against Photoshop's own render of a smart object's content.

Every smart object carries the raster Photoshop drew of its current content (`layer.topil()`). We
decode that content (the embedded or linked file), warp it with `_geometry`, and compare the two in
document space: PSNR of the premultiplied RGBA over the pixels either covers, and the IoU of their
coverage (alpha > 0.5). A template whose score is below `MIN_PSNR` or `MIN_IOU` renders designs
where Photoshop would not put them: it is a warning naming the layer.

Thresholds, from measurements on the fixtures with Photoshop's renders (smart_objects_transformed.psd:
scale, rotation, perspective, custom and quilt warps, each with and without a change of bounding
box): every case scores 31.8 dB (the rotation, resampled at every pixel) to 43.2 dB, IoU 0.997 or
more; the same layers with their warp ignored score 6.9-20.7 dB, IoU 0.63-0.98, and the quilt warps
with their outer slices taken as stored (-0.6 and 512.6, not the bounds) 28.1-29.1 dB. 30 dB and
0.98 sit between the two.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from mockups.backends.psd._geometry import inverse_map
from mockups.backends.psd._read import PsdError, SmartObject, psd_tools

MIN_PSNR = 30.0
MIN_IOU = 0.98


@dataclass(frozen=True)
class Score:
    psnr: float
    iou: float

    @property
    def ok(self) -> bool:
        return self.psnr >= MIN_PSNR and self.iou >= MIN_IOU

    def __str__(self) -> str:
        return f"{self.psnr:.1f} dB, IoU {self.iou:.3f}"


def premultiplied(image: Image.Image) -> np.ndarray:
    """RGBA float32 [0, 1], colour premultiplied by alpha."""
    a = np.asarray(image.convert("RGBA"), np.float32) / 255.0
    a[..., :3] *= a[..., 3:4]
    return a


def content_image(so: SmartObject, folder: Path) -> Image.Image:
    """The smart object's content as an RGBA image at its canvas size `Sz`."""
    layer = so.layer
    data = layer.smart_object.data if so.kind == "embedded" else (folder / Path(
        str(layer.smart_object.filename).rstrip("\x00")).name).read_bytes()
    try:
        if data[:4] == b"8BPS":
            image = psd_tools().PSDImage.open(io.BytesIO(data)).composite()
        else:
            with Image.open(io.BytesIO(data)) as im:
                image = im.convert("RGBA")
    except Exception as e:  # noqa: BLE001  (a third party's decoder: any failure is "cannot be decoded")
        raise PsdError(f"the content of '{so.path}' ({so.filetype or 'unknown format'}) cannot be decoded: {e}") \
            from None
    image = image.convert("RGBA")
    if image.size != so.size:
        image = image.resize(so.size, Image.Resampling.LANCZOS)
    return image


def warp_content(so: SmartObject, content: np.ndarray, doc_size: tuple[int, int]) -> np.ndarray:
    """`content` (premultiplied RGBA at Sz) placed in a transparent document of `doc_size`."""
    assert so.placement is not None
    out = np.zeros((doc_size[1], doc_size[0], 4), np.float32)
    found = inverse_map(so.placement, doc_size)
    if found is not None:
        x0, y0, x1, y1 = found.box
        out[y0:y1, x0:x1] = found.apply(content)
    return out


def cached_raster(so: SmartObject, doc_size: tuple[int, int]) -> np.ndarray:
    """Photoshop's render of the smart object (its stored pixels), premultiplied, in document space."""
    out = np.zeros((doc_size[1], doc_size[0], 4), np.float32)
    layer = so.layer
    image = layer.topil()
    if image is None:
        return out
    x0, y0 = layer.left, layer.top
    arr = premultiplied(image)
    sx0, sy0 = max(0, -x0), max(0, -y0)
    dx0, dy0 = max(0, x0), max(0, y0)
    w = min(arr.shape[1] - sx0, doc_size[0] - dx0)
    h = min(arr.shape[0] - sy0, doc_size[1] - dy0)
    if w > 0 and h > 0:
        out[dy0:dy0 + h, dx0:dx0 + w] = arr[sy0:sy0 + h, sx0:sx0 + w]
    return out


def compare(ours: np.ndarray, theirs: np.ndarray) -> Score:
    """PSNR (premultiplied RGBA, over the pixels either covers) and the IoU of their coverage."""
    a, b = ours[..., 3] > 0.5, theirs[..., 3] > 0.5
    union = a | b
    if not union.any():
        return Score(float("inf"), 1.0)
    seen = (ours[..., 3] > 0) | (theirs[..., 3] > 0)
    mse = float(np.mean((ours[seen] - theirs[seen]) ** 2))
    psnr = float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)
    return Score(psnr, float((a & b).sum() / union.sum()))


def calibrate(so: SmartObject, folder: Path, doc_size: tuple[int, int]) -> Score:
    """Our render of the layer's own content against Photoshop's (see the module's docstring)."""
    content = premultiplied(content_image(so, folder))
    return compare(warp_content(so, content, doc_size), cached_raster(so, doc_size))


def open_psd(path: Path) -> Any:
    """The document at `path`, opened with psd-tools (a PsdError naming the file if it cannot be)."""
    try:
        return psd_tools().PSDImage.open(path)
    except PsdError:
        raise
    except Exception as e:  # noqa: BLE001  (a third party's parser: any failure means "not a PSD we can read")
        raise PsdError(f"{path.name} cannot be read as a PSD/PSB file: {e}") from None
