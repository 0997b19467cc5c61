"""Scene building: backgrounds, contact shadows, edge decontamination and the
final canvas composite."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

from mockups.imaging._colour import _encode_srgb, linear_to_srgb8, srgb_to_linear
from mockups.imaging._common import ImagingError, bleed_colour, gaussian_blur, parse_hex, rgba_array, smoothstep

__all__ = ["frame", "FRAME_FITS", "make_background", "contact_shadow", "decontaminate", "apply_alpha", "compose",
           "place", "blend", "placement_shadow", "Placement", "shade"]

_BAYER = (np.array([[0, 32, 8, 40, 2, 34, 10, 42], [48, 16, 56, 24, 50, 18, 58, 26],
                    [12, 44, 4, 36, 14, 46, 6, 38], [60, 28, 52, 20, 62, 30, 54, 22],
                    [3, 35, 11, 43, 1, 33, 9, 41], [51, 19, 59, 27, 49, 17, 57, 25],
                    [15, 47, 7, 39, 13, 45, 5, 37], [63, 31, 55, 23, 61, 29, 53, 21]],
                   dtype=np.float32) + 0.5) / 64.0 - 0.5


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    try:
        w, h = int(size[0]), int(size[1])
    except (TypeError, ValueError, IndexError) as exc:
        raise ImagingError(f"size must be (width, height), got {size!r}") from exc
    if w < 1 or h < 1 or w * h > 100_000_000:
        raise ImagingError(f"invalid canvas size {w}x{h}")
    return w, h


def _to_image(rgb: np.ndarray) -> Image.Image:
    """float sRGB in [0, 1] (H, W, 3) -> 8-bit RGB with ordered dithering (no banding)."""
    h, w = rgb.shape[:2]
    dither = np.tile(_BAYER, (h // 8 + 1, w // 8 + 1))[:h, :w, None]
    return Image.fromarray(np.clip(np.floor(rgb * 255.0 + 0.5 + dither), 0, 255).astype(np.uint8), "RGB")


def _rgb01(colour: str) -> np.ndarray:
    return np.array(parse_hex(colour), dtype=np.float32) / 255.0


def _linear(size: tuple[int, int], stops: list[str], angle: float) -> Image.Image:
    """CSS-like linear gradient: 0 deg points up, 90 right, 180 (default) down."""
    if not stops:
        raise ImagingError("linear gradient needs at least one colour stop")
    w, h = size
    colours = np.stack([_rgb01(c) for c in stops])
    theta = np.radians(angle)
    dx, dy = np.sin(theta), -np.cos(theta)
    length = abs(w * dx) + abs(h * dy)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    t = ((xs + 0.5 - w / 2) * dx + (ys + 0.5 - h / 2) * dy) / max(length, 1e-6) + 0.5
    pos = np.linspace(0.0, 1.0, len(stops)) if len(stops) > 1 else np.array([0.0])
    rgb = np.stack([np.interp(t, pos, colours[:, c]) for c in range(3)], axis=-1)
    return _to_image(rgb.astype(np.float32))


def _radial(size: tuple[int, int], inner: str, outer: str, centre: tuple[float, float]) -> Image.Image:
    w, h = size
    cx, cy = centre[0] * w, centre[1] * h
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    radius = max(np.hypot(max(cx, w - cx), max(cy, h - cy)), 1.0)
    t = smoothstep(np.hypot(xs + 0.5 - cx, ys + 0.5 - cy) / radius)[..., None]
    return _to_image(_rgb01(inner) * (1 - t) + _rgb01(outer) * t)


def _studio(size: tuple[int, int], base: str, horizon: float, vignette: float) -> Image.Image:
    """Seamless studio sweep: wall -> soft horizon -> floor, lit in the middle."""
    w, h = size
    t = (np.arange(h, dtype=np.float32) + 0.5) / h
    wall = 0.90 + 0.12 * smoothstep(t / horizon)
    floor = 1.02 - 0.10 * np.clip((t - horizon) / max(1.0 - horizon, 1e-3), 0, 1) ** 1.5
    mix = smoothstep((t - horizon + 0.06) / 0.12)
    profile = wall * (1 - mix) + floor * mix - 0.025 * np.exp(-0.5 * ((t - horizon) / 0.035) ** 2)
    xs = (np.arange(w, dtype=np.float32) + 0.5) / w - 0.5
    ys = t - 0.55
    r = np.hypot(xs[None, :] * (w / max(w, h)), ys[:, None] * (h / max(w, h))) / 0.7071
    light = profile[:, None] * (1.0 - vignette * smoothstep((r - 0.35) / 0.75))
    lin = srgb_to_linear(np.array(parse_hex(base), dtype=np.uint8))
    # The same light ratios are nearly invisible on a dark sweep: exaggerate them there.
    luma = float(lin @ np.array([0.2126, 0.7152, 0.0722], np.float32))
    light = light ** (1.0 + 2.0 * (1.0 - luma) ** 2)
    return _to_image(_encode_srgb(lin[None, None, :] * light[..., None]))


def cover_fit(image: Image.Image, size: tuple[int, int], focus: tuple[float, float] = (0.5, 0.5)) -> Image.Image:
    """Scale ``image`` to cover ``size`` (aspect kept, never stretched) and crop around ``focus``."""
    w, h = _check_size(size)
    if image.mode != "RGB":
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, (255, 255, 255))
        image.paste(rgba, mask=rgba.getchannel("A"))
    scale = max(w / image.width, h / image.height)
    sw, sh = image.width * scale, image.height * scale
    left = min(max(focus[0] * sw - w / 2, 0.0), sw - w) / scale
    top = min(max(focus[1] * sh - h / 2, 0.0), sh - h) / scale
    box = (left, top, left + w / scale, top + h / scale)
    return image.resize((w, h), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)


FRAME_FITS = ("crop", "pad")


def frame(image: Image.Image, size: tuple[int, int], *, fit: str = "crop", colour: str | None = None) -> Image.Image:
    """A whole photo (a scene: no cut-out) framed on a canvas of ``size`` (w, h), as RGB.

    ``fit="crop"``: cover the canvas, centred (:func:`cover_fit`); ``fit="pad"``: the whole
    photo, contained and centred, the rest filled with ``colour`` (hex) or, without one, a
    blurred extension of the photo's edges. The photo's pixels are only resampled: where two
    photos are equal, so are their frames (away from a resampling kernel's reach)."""
    w, h = _check_size(size)
    if fit not in FRAME_FITS:
        raise ImagingError(f"unknown fit {fit!r} (use one of {', '.join(FRAME_FITS)})")
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    if fit == "crop":
        return cover_fit(rgb, (w, h))
    scale = min(w / rgb.width, h / rgb.height)
    sw, sh = min(w, max(1, round(rgb.width * scale))), min(h, max(1, round(rgb.height * scale)))
    inner = rgb.resize((sw, sh), Image.Resampling.LANCZOS, reducing_gap=3.0) if (sw, sh) != rgb.size else rgb.copy()
    left, top = (w - sw) // 2, (h - sh) // 2
    if (sw, sh) == (w, h):
        return inner
    if colour is not None:
        canvas = Image.new("RGB", (w, h), parse_hex(colour))
    else:  # the edges stretched outwards and blurred: the padding reads as out-of-focus surroundings
        arr = np.asarray(inner, dtype=np.float32) / 255.0
        padded = np.pad(arr, ((top, h - sh - top), (left, w - sw - left), (0, 0)), mode="edge")
        canvas = _to_image(np.clip(gaussian_blur(padded, 0.03 * max(w, h)), 0.0, 1.0))
    canvas.paste(inner, (left, top))
    return canvas


def make_background(kind: str, size: tuple[int, int], **spec) -> Image.Image:
    """Render a background of exactly ``size`` as an RGB image.

    kinds and their spec keys:
      * ``solid``:  ``colour`` (hex) - exact, no dithering
      * ``linear``: ``stops`` (list of hex), ``angle`` (deg, CSS convention, default 180 = downwards)
      * ``radial``: ``inner``, ``outer`` (hex), ``centre`` (fractions, default (0.5, 0.45))
      * ``image``:  ``image`` (PIL image or path), ``focus`` (fractions) - cover-fit, never stretched
      * ``studio``: ``colour`` (hex base), ``horizon`` (0-1, default 0.68), ``vignette`` (default 0.10)
    """
    size = _check_size(size)
    colour = spec.get("colour", spec.get("color"))
    if kind == "solid":
        return Image.new("RGB", size, parse_hex(colour or "#FFFFFF"))
    if kind == "linear":
        return _linear(size, list(spec.get("stops") or []), float(spec.get("angle", 180.0)))
    if kind == "radial":
        return _radial(size, spec.get("inner", "#FFFFFF"), spec.get("outer", "#D9D9D9"),
                       tuple(spec.get("centre", (0.5, 0.45))))
    if kind == "image":
        source = spec.get("image")
        if isinstance(source, (str, os.PathLike)):
            from mockups.imaging._io import open_image

            source = open_image(source)
        if not isinstance(source, Image.Image):
            raise ImagingError("image background needs an 'image' (PIL image or path)")
        return cover_fit(source, size, tuple(spec.get("focus", (0.5, 0.5))))
    if kind == "studio":
        return _studio(size, colour or "#F2F2F0", float(spec.get("horizon", 0.68)),
                       float(spec.get("vignette", 0.10)))
    raise ImagingError(f"unknown background kind {kind!r} (solid, linear, radial, image, studio)")


# ---------------------------------------------------------------------------
# Shadow
# ---------------------------------------------------------------------------


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    rows, cols = np.any(mask, axis=1), np.any(mask, axis=0)
    if not rows.any():
        return None
    y0, y1 = np.argmax(rows), len(rows) - np.argmax(rows[::-1])
    x0, x1 = np.argmax(cols), len(cols) - np.argmax(cols[::-1])
    return int(x0), int(y0), int(x1), int(y1)


def _squashed(alpha: np.ndarray, box: tuple[int, int, int, int], squash: float, drop: int) -> np.ndarray:
    """The silhouette flattened to ``squash`` of its height, resting on its base."""
    x0, y0, x1, y1 = box
    band = max(1, round((y1 - y0) * squash))
    crop = Image.fromarray(alpha[y0:y1, x0:x1].astype(np.float32), "F")
    flat = np.asarray(crop.resize((x1 - x0, band), Image.Resampling.BILINEAR), dtype=np.float32)
    out = np.zeros_like(alpha, dtype=np.float32)
    top = y1 - band + drop
    t0, t1 = max(top, 0), min(top + band, alpha.shape[0])
    if t1 > t0:
        out[t0:t1, x0:x1] = flat[t0 - top:t1 - top]
    return out


def contact_shadow(alpha: np.ndarray, *, strength: float = 0.35, blur: float | None = None,
                   offset: float | None = None, ambient: float = 0.3) -> np.ndarray:
    """Soft shadow mask (float32, 0..``strength``) for a product placed on a canvas.

    ``alpha`` is the canvas-sized product alpha (uint8 or float 0-1). The
    contact shadow is the silhouette squashed towards the product's base and
    blurred (``blur`` px, default 3.5 % of the product width), dropped by
    ``offset`` px, plus a faint wide ambient occlusion. Apply it by
    multiplying the background by ``1 - mask`` (in linear light).
    """
    a = np.asarray(alpha, dtype=np.float32)
    a = a / 255.0 if a.max(initial=0.0) > 1.0 else a
    box = _bbox(a > 0.05)
    if box is None:
        return np.zeros(a.shape, np.float32)
    width, height = box[2] - box[0], box[3] - box[1]
    sigma = blur if blur is not None else max(1.5, 0.035 * width)
    drop = int(round(offset if offset is not None else 0.01 * height))
    contact = gaussian_blur(_squashed(a, box, 0.10, drop), sigma)
    touch = gaussian_blur(_squashed(a, box, 0.025, drop), max(1.0, 0.3 * sigma))
    wide = gaussian_blur(_squashed(a, box, 0.35, drop), max(3.0, 0.12 * max(width, height)))
    total = contact + 0.8 * touch + ambient * wide
    return (strength * np.clip(total, 0.0, 1.0)).astype(np.float32)


# ---------------------------------------------------------------------------
# Edges and composite
# ---------------------------------------------------------------------------


def decontaminate(rgba: Image.Image | np.ndarray, backdrop: tuple[int, int, int] | str | None = None, *,
                  radius: float = 2.0) -> np.ndarray:
    """Remove the old backdrop's colour from semi-transparent edge pixels.

    With a known ``backdrop`` the edge colour is unmixed
    (``F = (C - (1 - a) B) / a``); where alpha is too small for that, or no
    backdrop is known, the colour is bled in from the nearby opaque interior
    (normalised convolution). Opaque and fully transparent pixels are untouched.
    Returns an ``(H, W, 4)`` uint8 array.
    """
    arr = rgba.copy() if isinstance(rgba, np.ndarray) else rgba_array(rgba)
    edge = (arr[..., 3] > 0) & (arr[..., 3] < 250)
    if not edge.any():
        return arr
    idx = np.nonzero(edge)
    estimate, weight = bleed_colour(arr[..., :3], arr[..., 3] >= 250, radius, at=idx)
    colour = arr[..., :3][idx].astype(np.float32)
    alpha = arr[..., 3][idx].astype(np.float32)[:, None] / 255.0
    near = (weight > 0.02)[:, None]
    if backdrop is not None:
        b = np.array(parse_hex(backdrop) if isinstance(backdrop, str) else backdrop, np.float32)
        unmixed = np.minimum(np.maximum((colour - (1.0 - alpha) * b) / alpha, 0.0), 255.0)
        trust = smoothstep((alpha - 0.15) / 0.5)
        fixed = np.where(near, unmixed * trust + estimate * (1 - trust), unmixed)
    else:
        fixed = np.where(near, estimate, colour)
    arr[idx[0], idx[1], :3] = np.rint(fixed).astype(np.uint8)
    return arr


def apply_alpha(rgba: Image.Image, alpha: np.ndarray, *,
                backdrop: tuple[int, int, int] | str | None = None) -> Image.Image:
    """Set ``alpha`` (e.g. from :func:`auto_cutout`) on ``rgba`` and decontaminate its edges."""
    arr = rgba_array(rgba)
    a = np.asarray(alpha)
    if a.shape != arr.shape[:2]:
        raise ImagingError(f"alpha shape {a.shape} does not match image size {rgba.size}")
    arr[..., 3] = a if a.dtype == np.uint8 else np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)
    return Image.fromarray(decontaminate(arr, backdrop), "RGBA")


def _place(product: np.ndarray, canvas: tuple[int, int], fill: float, anchor: str) -> tuple[np.ndarray, int, int]:
    """Crop to the alpha box and scale to ``fill`` of the canvas; returns straight RGBA + offset."""
    box = _bbox(product[..., 3] >= 8)
    if box is None:
        raise ImagingError("product image is fully transparent: nothing to compose")
    x0, y0, x1, y1 = box
    crop = Image.fromarray(np.ascontiguousarray(product[y0:y1, x0:x1]), "RGBA")
    w, h = canvas
    scale = min(fill * w / (x1 - x0), fill * h / (y1 - y0))
    size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
    scaled = np.array(crop.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0))  # premultiplied inside
    scaled[..., 3][scaled[..., 3] <= 1] = 0
    left = (w - size[0]) // 2
    margin = round((h - size[1]) / 2)
    top = {"bottom": h - size[1] - round((1 - fill) * h / 2), "top": round((1 - fill) * h / 2)}.get(anchor, margin)
    return scaled, left, max(0, min(top, h - size[1]))


def _apply_shadow(base: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Darken ``base`` (uint8 RGB) by ``1 - mask`` in linear light, only where the mask is set."""
    box = _bbox(mask > 1e-4)
    out = base.copy()
    if box is None:
        return out
    x0, y0, x1, y1 = box
    lin = srgb_to_linear(base[y0:y1, x0:x1]) * (1.0 - mask[y0:y1, x0:x1, None])
    out[y0:y1, x0:x1] = linear_to_srgb8(lin)
    return out


@dataclass(frozen=True)
class Placement:
    """A product scaled and positioned on a canvas, ready to blend onto any background of that size.

    Made once per (product look, canvas, fill): every background of a variant group reuses it.
    """

    canvas: tuple[int, int]
    layer: Image.Image  # RGBA, straight alpha, edges decontaminated, at its final size
    left: int
    top: int

    def canvas_alpha(self) -> np.ndarray:
        w, h = self.canvas
        out = np.zeros((h, w), np.float32)
        a = np.asarray(self.layer.getchannel("A"), np.float32) * np.float32(1.0 / 255.0)
        out[self.top:self.top + a.shape[0], self.left:self.left + a.shape[1]] = a
        return out


def place(product_rgba: Image.Image, canvas_size: tuple[int, int], *, fill: float = 0.8, anchor: str = "center",
          backdrop: tuple[int, int, int] | str | None = None, clean_edges: bool = True) -> Placement:
    """Crop the product to its alpha box, scale it to ``fill`` of the canvas and decontaminate its edges.

    Pass ``clean_edges=False`` for a product whose edges `apply_alpha` already cleaned: the
    (premultiplied) resize keeps them clean."""
    w, h = _check_size(canvas_size)
    if not 0.05 <= fill <= 1.0:
        raise ImagingError(f"fill must be between 0.05 and 1, got {fill}")
    if anchor not in ("center", "centre", "bottom", "top"):
        raise ImagingError(f"unknown anchor {anchor!r} (center, bottom or top)")
    scaled, left, top = _place(rgba_array(product_rgba), (w, h), fill, anchor)
    layer = Image.fromarray(np.ascontiguousarray(decontaminate(scaled, backdrop) if clean_edges else scaled), "RGBA")
    return Placement((w, h), layer, left, top)


SHADOW_WORKING_SIDE = 320  # shadows are soft: computed at about this size, then scaled up


def placement_shadow(placement: Placement, *, strength: float = 0.35) -> np.ndarray:
    """The contact shadow of a placed product (it depends on the silhouette only: share it across colours).

    Computed on the alpha reduced to about SHADOW_WORKING_SIDE px (its blurs are tens of pixels
    wide at full size, so nothing is lost) and scaled back up: 10-40x less work."""
    alpha = placement.canvas_alpha()
    w, h = placement.canvas
    factor = max(1, min(w, h) // SHADOW_WORKING_SIDE)
    if factor == 1:
        return contact_shadow(alpha, strength=strength)
    small = Image.fromarray(alpha, "F").reduce(factor)
    mask = contact_shadow(np.asarray(small, np.float32), strength=strength)
    return np.asarray(Image.fromarray(mask, "F").resize((w, h), Image.Resampling.BILINEAR), np.float32)


def shade(background_rgb: Image.Image, canvas_size: tuple[int, int], shadow: np.ndarray | None) -> Image.Image:
    """The background cover-fitted to the canvas and darkened by a shadow mask (in linear light)."""
    w, h = _check_size(canvas_size)
    bg = background_rgb.convert("RGB") if background_rgb.mode != "RGB" else background_rgb
    if bg.size != (w, h):
        bg = cover_fit(bg, (w, h))
    if shadow is None:
        return bg
    return Image.fromarray(_apply_shadow(np.asarray(bg, dtype=np.uint8), shadow), "RGB")


def blend(placement: Placement, background_rgb: Image.Image, shadow: np.ndarray | None = None) -> Image.Image:
    """Composite a placed product over a background (cover-fitted, darkened by ``shadow``).

    Where the product is fully transparent the background is returned untouched."""
    out = shade(background_rgb, placement.canvas, shadow).copy()
    out.paste(placement.layer, (placement.left, placement.top), placement.layer)  # straight-alpha "over", in C
    return out


def compose(product_rgba: Image.Image, background_rgb: Image.Image, canvas_size: tuple[int, int], *,
            fill: float = 0.8, shadow: bool = True, anchor: str = "center",
            backdrop: tuple[int, int, int] | str | None = None, shadow_strength: float = 0.35) -> Image.Image:
    """Place the product on the background and return the final RGB canvas.

    The product is cropped to its alpha box and scaled so it fills ``fill``
    of the canvas in its limiting dimension (centred, or ``anchor``
    "bottom"/"top"), edge colours are decontaminated (against ``backdrop``
    if the photo was auto-cut from one), composited with premultiplied alpha
    and grounded by a contact shadow. A background of another size is
    cover-fitted. Where the product is fully transparent the background
    pixels are returned untouched (a solid #FFFFFF stays exactly 255 when
    ``shadow`` is False). `place` + `blend` do the same in two steps, for reuse.
    """
    placed = place(product_rgba, canvas_size, fill=fill, anchor=anchor, backdrop=backdrop)
    mask = placement_shadow(placed, strength=shadow_strength) if shadow else None
    return blend(placed, background_rgb, mask)
