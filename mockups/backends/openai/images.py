"""Image work of the `openai` backend: the edit's input canvas and mask, and the way back.

An edit is planned in three coordinate spaces: the product photo's, the request canvas's (what is
uploaded: the product placed on the variant's background at the request size) and the channel
canvas's (what is delivered). A `Layout` maps the photo into a canvas (crop to the silhouette,
scale to the channel's `fill`, centre), so the same product pixels land in the same place in every
space. The mask is drawn in request space (transparent = editable); after the edit the returned
image is fitted into the channel canvas (never stretched) and the locked pixels (the product, or
the part of it the edit must not touch) are composited back straight from the photo, resampled once.

Nothing here talks to the network or imports `openai`.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from mockups import imaging

OPAQUE = 128  # alpha at or above which a pixel counts as product (for masks)


@dataclass(frozen=True)
class Layout:
    """Photo -> canvas: crop `box` (x0, y0, x1, y1) of the photo, scale it, put it at (left, top)."""

    box: tuple[int, int, int, int]
    scale: float
    left: float
    top: float
    canvas: tuple[int, int]

    def into(self, canvas: tuple[int, int], s: float, dx: float, dy: float) -> Layout:
        """This layout seen through a canvas -> canvas transform (uniform scale s, then offset)."""
        return Layout(self.box, self.scale * s, self.left * s + dx, self.top * s + dy, canvas)

    def point(self, x: float, y: float) -> tuple[float, float]:
        return (self.left + (x - self.box[0]) * self.scale, self.top + (y - self.box[1]) * self.scale)


def layout(alpha: Image.Image, canvas: tuple[int, int], fill: float) -> Layout:
    """Centre the silhouette's bounding box in `canvas`, filling `fill` of its limiting side."""
    bbox = alpha.point(lambda a: 255 if a >= 8 else 0).getbbox()
    if bbox is None:
        raise imaging.ImagingError("the product image is fully transparent: nothing to place")
    x0, y0, x1, y1 = bbox
    w, h = canvas
    scale = min(fill * w / (x1 - x0), fill * h / (y1 - y0))
    return Layout(bbox, scale, (w - (x1 - x0) * scale) / 2, (h - (y1 - y0) * scale) / 2, canvas)


def place(image: Image.Image, lay: Layout) -> Image.Image:
    """Resample `image` (photo space, RGBA or L) into the layout's canvas; empty elsewhere."""
    x0, y0, x1, y1 = lay.box
    left, top = round(lay.left), round(lay.top)
    size = (max(1, round((x1 - x0) * lay.scale)), max(1, round((y1 - y0) * lay.scale)))
    crop = image.crop(lay.box)
    if image.mode == "RGBA":  # premultiplied, so transparent pixels do not bleed into the edges
        scaled = crop.convert("RGBa").resize(size, Image.Resampling.LANCZOS).convert("RGBA")
        out = Image.new("RGBA", lay.canvas, (0, 0, 0, 0))
    else:
        scaled = crop.convert("L").resize(size, Image.Resampling.LANCZOS)
        out = Image.new("L", lay.canvas, 0)
    out.paste(scaled, (left, top))
    return out


def polygon_mask(size: tuple[int, int], corners) -> Image.Image:
    """An L image of `size` with the polygon `corners` filled white."""
    out = Image.new("L", size, 0)
    ImageDraw.Draw(out).polygon([(float(x), float(y)) for x, y in corners], fill=255)
    return out


def edit_mask(editable: Image.Image) -> Image.Image:
    """The API's mask: an RGBA PNG, alpha 0 where the edit may happen (editable >= 128), 255 elsewhere."""
    keep = editable.point(lambda v: 0 if v >= OPAQUE else 255)
    mask = Image.new("RGBA", editable.size, (0, 0, 0, 255))
    mask.putalpha(keep)
    return mask


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def multiply(a: Image.Image, b: Image.Image | None) -> Image.Image:
    """a * (1 - b) for two L images (b None: a)."""
    if b is None:
        return a
    x = np.asarray(a, np.float32) * (1.0 - np.asarray(b, np.float32) / 255.0)
    return Image.fromarray(np.clip(np.rint(x), 0, 255).astype(np.uint8), "L")


@dataclass
class EditPlan:
    """What one edit sends and how its answer is put back together."""

    canvas: tuple[int, int]  # request canvas size (the first image's size)
    layout: Layout  # photo -> request canvas
    first: Image.Image  # the first image (RGB)
    mask: Image.Image | None  # RGBA, transparent = editable
    source: Image.Image  # the product as it should look (photo space, RGBA)
    lock_alpha: Image.Image | None  # photo space L: where `source` is composited back
    product_alpha: Image.Image  # photo space L: the silhouette
    extra: list[tuple[str, Image.Image]] = field(default_factory=list)  # further reference images
    # (design, its corners, the print area it is cut at, finish; photo space): printed on the edit
    design_after: tuple[Image.Image, tuple, tuple, str] | None = None


def fit_box(inner: tuple[int, int], outer: tuple[int, int]) -> tuple[float, float, float]:
    """Contain `inner` in `outer`: (scale, dx, dy)."""
    s = min(outer[0] / inner[0], outer[1] / inner[1])
    return s, (outer[0] - inner[0] * s) / 2, (outer[1] - inner[1] * s) / 2


def finish(result: Image.Image, plan: EditPlan, channel_size: tuple[int, int], forced: str | None, *,
           keep_alpha: bool = False) -> Image.Image:
    """Fit the returned image into the channel canvas and composite the locked product back.

    The returned image is contained (never stretched) and the rest of the canvas is padded with
    the channel's forced colour or, without one, a blurred cover of the scene itself. With
    `keep_alpha` (a transparent background was asked for) and no forced colour, the answer's
    alpha is kept, the padding is transparent and the result is RGBA; otherwise it is RGB.
    """
    alpha = keep_alpha and not forced
    result = result.convert("RGBA" if alpha else "RGB")
    lay = plan.layout.into(channel_size, *fit_box(plan.canvas, channel_size))
    rs, rdx, rdy = fit_box(result.size, channel_size)
    new_size = (max(1, round(result.width * rs)), max(1, round(result.height * rs)))
    if alpha:  # premultiplied, so transparent pixels do not bleed into the edges
        scaled = result.convert("RGBa").resize(new_size, Image.Resampling.LANCZOS).convert("RGBA")
    else:
        scaled = result.resize(new_size, Image.Resampling.LANCZOS)
    if scaled.size == tuple(channel_size):
        canvas = scaled
    elif alpha:
        canvas = Image.new("RGBA", channel_size, (0, 0, 0, 0))
    elif forced:
        canvas = Image.new("RGB", channel_size, forced)
    else:
        canvas = imaging.cover_fit(result, channel_size).filter(ImageFilter.GaussianBlur(max(channel_size) / 40))
    if canvas is not scaled:
        canvas.paste(scaled, (round(rdx), round(rdy)))
    if forced:  # on a forced plain background only the product survives
        canvas = Image.composite(canvas, Image.new("RGB", channel_size, forced), place(plan.product_alpha, lay))
    if plan.lock_alpha is not None:
        layer = plan.source.copy()
        layer.putalpha(plan.lock_alpha)
        canvas = Image.alpha_composite(canvas.convert("RGBA"), place(layer, lay))
        canvas = canvas if alpha else canvas.convert("RGB")
    if plan.design_after is not None:
        design, corners, area, finish = plan.design_after
        rgba = canvas.convert("RGBA")
        kept = rgba.getchannel("A")
        rgba.putalpha(place(plan.product_alpha, lay))
        canvas = imaging.place_design(rgba, design, [lay.point(x, y) for x, y in corners],
                                      clip=[lay.point(x, y) for x, y in area], finish=finish)
        if alpha:
            canvas.putalpha(kept)
        else:
            canvas = canvas.convert("RGB")
    return canvas


def flatten(image: Image.Image, colour: str = "#FFFFFF") -> Image.Image:
    """An RGBA image composited onto `colour` (what a format without alpha can hold), as RGB."""
    if image.mode != "RGBA":
        return image.convert("RGB")
    flat = Image.new("RGB", image.size, colour)
    flat.paste(image, mask=image.getchannel("A"))
    return flat


def locked_exactly(final: Image.Image, plan: EditPlan, channel_size: tuple[int, int]) -> np.ndarray:
    """The expected pixels of the locked product in the channel canvas (for tests and debugging)."""
    s, dx, dy = fit_box(plan.canvas, channel_size)
    lay = plan.layout.into(channel_size, s, dx, dy)
    layer = plan.source.copy()
    layer.putalpha(plan.lock_alpha if plan.lock_alpha is not None else plan.product_alpha)
    return np.asarray(place(layer, lay))


def plan_edit(mode: str, photo: Image.Image, look: Image.Image, background: Image.Image, canvas: tuple[int, int],
              fill: float, *, lock: bool, dye: Image.Image | None = None, print_area=None,
              design: Image.Image | None = None, fitted=None, finish: str = "print") -> EditPlan:
    """The request for one edit of `mode`.

    `photo` is the cut-out product photo (RGBA), `look` the product as the variant should look
    where the edit must not change it (recoloured, with its design for scene/restyle), `dye` the
    dyeable area (L, photo space), `print_area` four corners in photo space, `fitted` the
    design's own corners in it (scale, anchor, offset, rotation: `imaging.fit_print`; default the
    print area), `finish` how its ink sits, `background` the variant's background at `canvas` size.
    """
    alpha = photo.getchannel("A")
    lay = layout(alpha, canvas, fill)
    source = photo if mode == "recolour" else look
    first = Image.alpha_composite(background.convert("RGBA"), place(source, lay)).convert("RGB")
    plan = EditPlan(canvas, lay, first, None, source, None, alpha)
    if mode in ("scene", "restyle"):
        if mode == "scene":
            plan.mask = edit_mask(Image.eval(place(alpha, lay), lambda a: 255 - a))
            plan.lock_alpha = alpha if lock else None
        return plan
    if mode == "recolour":
        area = dye if dye is not None else alpha
        if design is not None and print_area is not None:
            plan.design_after = (design, tuple(fitted or print_area), tuple(print_area), finish)
    elif mode == "design":
        if design is None or print_area is None:
            raise imaging.ImagingError("mode 'design' needs a design and the product's print_area")
        area = polygon_mask(photo.size, print_area)
        plan.extra.append(("design.png", design))
    else:
        raise imaging.ImagingError(f"unknown mode '{mode}' (scene, recolour, design, restyle)")
    plan.mask = edit_mask(place(area, lay))
    plan.lock_alpha = multiply(alpha, area) if lock else None
    return plan


def decode(response) -> Image.Image:
    """The first image of an ImagesResponse (b64_json), as RGBA."""
    from mockups.errors import BackendError

    data = getattr(response, "data", None)
    if not data or not data[0].b64_json:
        raise BackendError("OpenAI answered without an image")
    try:
        return imaging.open_image(base64.b64decode(data[0].b64_json))
    except (imaging.ImagingError, ValueError) as e:
        raise BackendError(f"OpenAI's image could not be read: {e}") from None
