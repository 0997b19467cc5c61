"""PSD files the tests build themselves: a garment mockup (scene, colour layer, warped smart object,
multiply shading above it) and a CMYK document, authored with photoshopapi (test extra only).

The garment is a rounded panel of mid-grey fabric with vertical folds; the shading layer above the
smart object darkens the same folds (multiply), as a photographer's displacement-like shading does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SIZE = (360, 300)  # w, h
PANEL = (70, 40, 290, 280)  # the garment: left, top, right, bottom
CONTENT = (200, 160)  # the smart object's canvas (Sz)
SCALE, ORIGIN = 0.7, (110.0, 80.0)  # the smart object scaled by 0.7 and moved here: 140x112 pixels at (110, 80)
BULGE = 10.0  # content pixels the lower two rows of the 4x4 warp mesh move down (a sine across the width)


def folds(h: int, w: int) -> np.ndarray:
    """A fold pattern in [0.7, 1.0]: vertical waves, as fabric shading."""
    x = np.arange(w)[None, :]
    return (0.85 + 0.15 * np.cos(x / 11.0)).repeat(h, axis=0)


def panel_mask(k: int = 1) -> np.ndarray:
    img = Image.new("L", (SIZE[0] * k, SIZE[1] * k), 0)
    ImageDraw.Draw(img).rounded_rectangle(tuple(c * k for c in PANEL), radius=30 * k, fill=255)
    return np.asarray(img)


def _planar(rgba: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.transpose(rgba, (2, 0, 1)))


def placeholder(path: Path, k: int = 1) -> Path:
    """The smart object's placeholder content: a smooth ramp (red = u, green = v), as the UV grid of
    the Photoshop fixtures (smooth: resampling filters barely differ on it)."""
    w, h = CONTENT[0] * k, CONTENT[1] * k
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.dstack([40 + 180 * xx / w, 40 + 180 * yy / h, np.full(xx.shape, 160.0)]).astype(np.uint8)
    rgb[:40, :40] = [230, 40, 40]  # a red top-left corner: the content's orientation shows
    Image.fromarray(rgb, "RGB").save(path)
    return path


def build_mockup(path: Path, *, warped: bool = True, k: int = 1, fill: bool = False, model: str = "rgb") -> Path:
    """The mockup PSD at `path`. Layers, bottom to top: Scene (pixels), Colour (the garment in a light
    grey, recoloured per variant), Design (a smart object, warped onto the garment), Shading (multiply).
    `k` scales everything (the benchmark's large templates). With `fill`, Colour is a solid-colour fill
    layer (mid-grey) masked to the garment instead of a pixel layer."""
    import photoshopapi as psapi

    w, h = SIZE[0] * k, SIZE[1] * k
    doc = psapi.LayeredFile_8bit(psapi.enum.ColorMode.rgb, w, h)
    centre = {"width": w, "height": h, "pos_x": w / 2, "pos_y": h / 2}  # photoshopapi places layers by their centre
    mask = panel_mask(k)
    # photoshopapi stacks each added layer under the ones before: added top first
    shade = (255 * folds(h, w)).astype(np.uint8)
    doc.add_layer(psapi.ImageLayer_8bit(_planar(np.dstack([shade, shade, shade, mask])), "Shading",
                                        blend_mode=psapi.enum.BlendMode.multiply, **centre))
    content = placeholder(path.with_suffix(".placeholder.png"), k)
    warp = psapi.SmartObjectWarp.generate_default(CONTENT[0] * k, CONTENT[1] * k)
    if warped:
        pts = []
        for n, p in enumerate(warp.points):
            row, col = divmod(n, 4)
            bulge = k * BULGE * np.sin(np.pi * col / 3.0) if row >= 2 else 0.0
            pts.append(psapi.geometry.Point2D(p.x, p.y + bulge))
        warp = psapi.SmartObjectWarp(pts, 4, 4)
    layer = psapi.SmartObjectLayer_8bit(doc, str(content), "Design", warp=warp)
    # scaled and moved (photoshopapi multiplies row vectors: the translation is the last row)
    layer.transform(np.array([[SCALE, 0.0, 0.0], [0.0, SCALE, 0.0], [k * ORIGIN[0], k * ORIGIN[1], 1.0]]))
    doc.add_layer(layer)
    if fill:  # pixels for now, made a fill layer below (photoshopapi writes no fill layers)
        doc.add_layer(psapi.ImageLayer_8bit(np.full((3, h, w), 128, np.uint8), "Colour", layer_mask=mask, **centre))
    else:
        grey = (200 * folds(h, w)).astype(np.uint8)
        doc.add_layer(psapi.ImageLayer_8bit(_planar(np.dstack([grey, grey, grey, mask])), "Colour", **centre))
    yy = np.linspace(0, 1, h)[:, None].repeat(w, axis=1)
    scene = np.dstack([200 + 30 * yy, 196 + 30 * yy, 188 + 30 * yy, np.full_like(yy, 255)]).astype(np.uint8)
    doc.add_layer(psapi.ImageLayer_8bit(_planar(scene), "Scene", **centre))
    for added in doc.flat_layers:
        added.fill = 1.0  # photoshopapi leaves a layer's fill opacity at 0
    doc.write(str(path))
    _finish(path, fill, model)
    return path


def grey_colour(model: str = "rgb"):
    """A mid-grey colour descriptor as Photoshop writes one from its picker in `model`: rgb, hsb or lab."""
    from psd_tools.psd.descriptor import Descriptor, Double

    classes = {"rgb": (b"RGBC", {b"Rd  ": 128.0, b"Grn ": 128.0, b"Bl  ": 128.0}),
               "hsb": (b"HSBC", {b"H   ": 0.0, b"Strt": 0.0, b"Brgh": 50.0}),
               "lab": (b"LbCl", {b"Lmnc": 53.6, b"A   ": 0.0, b"B   ": 0.0})}
    class_id, values = classes[model]
    colour = Descriptor(classID=class_id)
    for key, value in values.items():
        colour[key] = Double(value)
    return colour


def _fill_layer(layer, model: str = "rgb") -> None:
    """A pixel layer made a solid-colour fill layer as Photoshop writes one: a `SoCo` block with its
    colour, no pixels (its mask is the shape)."""
    from psd_tools.constants import Compression, Tag
    from psd_tools.psd.tagged_blocks import DescriptorBlock

    block = DescriptorBlock(version=16, classID=b"null")
    block[b"Clr "] = grey_colour(model)
    layer.tagged_blocks.set_data(Tag.SOLID_COLOR_SHEET_SETTING, block)
    for info, data in zip(layer._record.channel_info, layer._channels, strict=True):
        if info.id >= 0:
            data.compression, data.data = Compression.RAW, b""


def _finish(path: Path, fill: bool, model: str = "rgb") -> None:
    """photoshopapi writes Trnf and nonAffineTransform starting from the bottom-right corner;
    Photoshop's files start from the top-left (TL, TR, BR, BL): rewritten so, with psd-tools (and
    the fill layer made)."""
    from psd_tools import PSDImage

    psd = PSDImage.open(path)
    if fill:
        _fill_layer(next(layer for layer in psd if layer.name.startswith("Colour")), model)
    for layer in psd.descendants():
        if layer.kind == "smartobject":
            data = layer.smart_object._config.data
            for key in (b"Trnf", b"nonAffineTransform"):
                values = list(data[key])
                pts = [values[k:k + 2] for k in range(0, 8, 2)]
                first = min(range(4), key=lambda k: float(pts[k][0]) + float(pts[k][1]))
                order = [pts[(first + k) % 4] for k in range(4)]
                if float(order[1][0]) < float(order[3][0]):  # counter-clockwise: walk the other way
                    order = [order[0], order[3], order[2], order[1]]
                data[key] = type(data[key])([v for p in order for v in p])
    psd.save(path)


def build_cmyk(path: Path) -> Path:
    """A CMYK document with one smart object (refused: only RGB documents are rendered)."""
    import photoshopapi as psapi

    doc = psapi.LayeredFile_8bit(psapi.enum.ColorMode.cmyk, 64, 64)
    content = placeholder(path.with_suffix(".placeholder.png"))
    doc.add_layer(psapi.SmartObjectLayer_8bit(doc, str(content), "Design", color_mode=psapi.enum.ColorMode.cmyk))
    doc.write(str(path))
    return path


def add_effect(path: Path, effect: bytes = b"DrSh", layer: str | None = None, model: str = "rgb") -> Path:
    """A layer of the PSD at `path` (default its smart object) given a layer effect (default a drop
    shadow; b"SoFi": a grey colour overlay, its colour written in `model`), saved."""
    from psd_tools import PSDImage
    from psd_tools.constants import Tag
    from psd_tools.psd.descriptor import Bool, Descriptor
    from psd_tools.psd.tagged_blocks import DescriptorBlock

    psd = PSDImage.open(path)
    target = next(ly for ly in psd.descendants() if (ly.kind == "smartobject" if layer is None
                                                     else ly.name.rstrip("\x00") == layer))
    item = Descriptor(classID=effect)
    item[b"enab"], item[b"present"] = Bool(True), Bool(True)
    if effect == b"SoFi":
        item[b"Clr "] = grey_colour(model)
    block = DescriptorBlock(version=16, classID=b"null")
    block[b"masterFXSwitch"], block[effect] = Bool(True), item
    target.tagged_blocks.set_data(Tag.OBJECT_BASED_EFFECTS_LAYER_INFO, block)
    psd.save(path)
    return path
