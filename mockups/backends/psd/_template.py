"""A PSD mockup template: the document split at its smart object, and each variant rendered over it.

The layer stack is cut in two at the smart object (or at what it belongs to when it cannot be
cut there: the layer it is clipped to, the outermost group that is isolated, masked or faded).
The part below is composited once per colour with psd-tools (blend modes, clipping, masks, the
adjustments it supports) and kept; per variant only the design is warped (one `cv2.remap` of the
inverse map built once) and put in the smart object's place, and the part above (shading,
highlights, texture, clipping layers) is composited by psd-tools over the kept backdrop.

The colour layer is a solid-colour fill layer or a layer with a Color Overlay effect (its colour is
set per variant), or a pixel layer (recoloured with the compositor's shading-preserving recolour,
`imaging.recolour`).

Memory: the document as psd-tools reads it (its compressed channels); per kept colour
(`COLOURS_KEPT`) its backdrop and the document without the smart object (20 bytes a pixel); the
inverse map (6 bytes a pixel of the smart object's footprint); and while a backdrop is made,
psd-tools' full-document float32 canvases and, for a pixel colour layer, its recolour preparation.
Measured peak (benchmarks/bench_psd.py): 410 MB at 1440x1200, 2.6 GB at 4320x3600 (15.6 Mpx,
about 170 bytes a pixel, two colours kept): a 4000x4000 template needs about 3 GB a worker.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from mockups import imaging
from mockups._lru import LRU
from mockups.backends.psd._calibrate import Score, calibrate, open_psd
from mockups.backends.psd._geometry import inverse_map
from mockups.backends.psd._read import PsdError, SmartObject, document_problem, psd_tools, smart_objects
from mockups.errors import did_you_mean

COLOURS_KEPT = 4  # backdrops (the part below the smart object) kept per template, one per colour
FITS = ("contain", "cover")


def find_layer(psd: Any, wanted: str, file: str, what: str, key: str = "smart_object") -> Any:
    """The layer named `wanted` (a name, or a path "Group/Layer"), or a PsdError with a 'did you mean'."""
    from mockups.backends.psd._read import layer_path

    layers = list(psd.descendants())
    found = [ly for ly in layers if (layer_path(ly) if "/" in wanted else ly.name) == wanted]
    if not found:  # some writers pad names with a space: a name as the user sees it in Photoshop
        found = [ly for ly in layers if (layer_path(ly) if "/" in wanted else ly.name).rstrip(" \x00") == wanted]
    if not found and "/" in wanted:  # a layer's own name may hold a "/" ("Your design / logo")
        found = [ly for ly in layers if ly.name.rstrip(" \x00") == wanted]
    if len(found) > 1:
        raise PsdError(f"{file}: {len(found)} layers are named '{wanted}'; give the {what} as a path "
                       f"like '{layer_path(found[-1])}'", key)
    if not found:
        names = [ly.name.rstrip(" \x00") for ly in layers] + [layer_path(ly) for ly in layers]
        listed = ", ".join(dict.fromkeys(repr(shown(ly.name)) for ly in layers))
        raise PsdError(f"{file}: no layer '{wanted}'{did_you_mean(wanted, names)}; its layers: {listed}", key)
    return found[0]


def shown(name: str) -> str:
    """A layer's name as Photoshop shows it (some writers leave a NUL or a space at its end)."""
    return name.rstrip(" \x00")


def fit_design(design: Image.Image, size: tuple[int, int], fit: str) -> np.ndarray:
    """The design drawn on a transparent canvas of the smart object's size (premultiplied float RGBA),
    scaled to fit inside it (contain) or to cover it (cover), centred, keeping its aspect."""
    w, h = size
    scale = (min if fit == "contain" else max)(w / design.width, h / design.height)
    dw, dh = max(1, round(design.width * scale)), max(1, round(design.height * scale))
    resized = design.convert("RGBA").resize((dw, dh), Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    canvas.alpha_composite(resized, ((w - dw) // 2, (h - dh) // 2)) if fit == "contain" else \
        canvas.paste(resized, ((w - dw) // 2, (h - dh) // 2))
    arr = np.asarray(canvas, np.float32) / 255.0
    arr[..., :3] *= arr[..., 3:4]
    return arr


def _mask_over(layer: Any, box: tuple[int, int, int, int]) -> np.ndarray:
    """The layer's pixel mask (1 where none) over `box` in document pixels, (h, w, 1) float32."""
    x0, y0, x1, y1 = box
    out = np.ones((y1 - y0, x1 - x0, 1), np.float32)
    mask = layer.mask if layer.has_mask() else None
    if mask is None or mask.disabled:
        return out
    out *= mask.background_color / 255.0
    image = mask.topil()
    if image is None:
        return out
    arr = np.asarray(image.convert("L"), np.float32)[..., None] / 255.0
    mx0, my0 = mask.left, mask.top
    ix0, iy0, ix1, iy1 = max(x0, mx0), max(y0, my0), min(x1, mx0 + arr.shape[1]), min(y1, my0 + arr.shape[0])
    if ix1 > ix0 and iy1 > iy0:
        out[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0] = arr[iy0 - my0:iy1 - my0, ix0 - mx0:ix1 - mx0]
    return out


_RGB_KEYS = (b"Rd  ", b"Grn ", b"Bl  ")
#: The colour models a fill's or an overlay's colour may be written in (Photoshop writes the one its
#: colour picker was in): RGB, HSB, Lab, CMYK and greyscale, as psd-tools reads them.
_COLOUR_CLASSES = (b"RGBC", b"HSBC", b"LbCl", b"CMYC", b"Grsc")


def _colour_overlay(layer: Any) -> Any:
    """The layer's enabled Color Overlay effect, which shows its colour, or None."""
    if layer is None or not layer.effects or not layer.effects.enabled:
        return None
    for effect in layer.effects:
        if type(effect).__name__ == "ColorOverlay" and effect.enabled and effect.color is not None \
                and effect.color.classID in _COLOUR_CLASSES:
            return effect
    return None


def _write_rgb(colour: Any, rgb: tuple[int, int, int]) -> None:
    """Set a fill's or an overlay's colour descriptor to `rgb`, in place: one written in another
    model (HSB, Lab, CMYK, greyscale) is rewritten as RGB, since psd-tools reads a colour by its
    descriptor's class (a Lab fill's `Rd  ` was a KeyError)."""
    from psd_tools.psd.descriptor import Double

    if colour.classID != b"RGBC" or not all(k in colour for k in _RGB_KEYS):
        for key in list(colour):
            del colour[key]
        colour.classID = b"RGBC"
    for key, value in zip(_RGB_KEYS, rgb, strict=True):
        colour[key] = type(colour[key])(float(value)) if key in colour else Double(float(value))


def _rgba8(color: np.ndarray, alpha: np.ndarray, under_c: np.ndarray, under_a: np.ndarray) -> np.ndarray:
    """psd-tools' result over a backdrop as RGBA uint8. psd-tools hands back the isolated colour of
    what it composited (the backdrop's share taken out) and its own alpha, made to be put over that
    backdrop again with normal blending: done here."""
    a = alpha + under_a * (1.0 - alpha)
    c = (color[..., :3] * alpha + under_c[..., :3] * under_a * (1.0 - alpha)) / np.maximum(a, 1e-6)
    return np.clip(np.rint(np.concatenate([c, a], axis=2) * 255.0), 0, 255).astype(np.uint8)


class Template:
    """An open PSD template: `render(design, colour)` is one variant's whole document, RGBA."""

    def __init__(self, path: Path, smart_object: str, colour_layer: str | None = None, fit: str = "contain"):
        self.path, self.fit = path, fit
        self.psd = open_psd(path)
        name = path.name
        problem = document_problem(self.psd)
        if problem:
            raise PsdError(f"{name}: {problem}")
        try:
            layer = find_layer(self.psd, smart_object, name, "smart object")
        except PsdError as e:  # the colour layer's name checked too: every problem reported at once
            if colour_layer is not None:
                try:
                    find_layer(self.psd, colour_layer, name, "colour layer", "colour_layer")
                except PsdError as other:
                    e.others.append(other)
            raise
        objects = {id(so.layer): so for so in smart_objects(self.psd, path.parent)}
        if id(layer) not in objects:
            raise PsdError(f"{name}: layer '{smart_object}' is a {layer.kind} layer, not a smart object; its smart "
                           f"objects: {', '.join(so.path for so in objects.values()) or 'none'}", "smart_object")
        self.target: SmartObject = objects[id(layer)]
        if not self.target.supported:
            raise PsdError(f"{name}: smart object '{self.target.path}' cannot be rendered: {self.target.problem}",
                           "smart_object")
        self.colour_layer = None if colour_layer is None else find_layer(self.psd, colour_layer, name, "colour layer",
                                                                             "colour_layer")
        self._overlay = _colour_overlay(self.colour_layer)
        if self.colour_layer is not None and self._overlay is None \
                and self.colour_layer.kind not in ("solidcolorfill", "pixel"):
            raise PsdError(f"{name}: colour layer '{colour_layer}' is a {self.colour_layer.kind} layer without a "
                           "colour overlay; a colour layer is a solid-colour fill layer, a layer with a Color Overlay "
                           "effect or a pixel layer", "colour_layer")
        if self._overlay is None and self.colour_layer is not None and self.colour_layer.kind == "solidcolorfill" \
                and getattr(self.colour_layer.data, "classID", None) not in _COLOUR_CLASSES:
            raise PsdError(f"{name}: the solid-colour fill '{colour_layer}' has no colour in a model psd-tools reads "
                           "(RGB, HSB, Lab, CMYK or greyscale)", "colour_layer")
        assert self.target.placement is not None
        self.map = inverse_map(self.target.placement, self.psd.size)
        self.stand_in: Any = self.target.layer
        self._below_ids, self._above_ids = self._split()
        self._backdrops: LRU[tuple[np.ndarray, np.ndarray, np.ndarray]] = LRU(COLOURS_KEPT)
        self._lock = threading.Lock()  # the document is changed in place while a variant is composited
        self._colour_pixels = self._pixels(self.colour_layer) if self.colour_layer is not None \
            and self._overlay is None and self.colour_layer.kind == "pixel" else None
        self._recolour_prep: Any = None
        self._dyed: str | None = None  # the colour the pixel colour layer is in now
        self._score: Score | None = None

    # --- the split -------------------------------------------------------------------------------

    def _anchor(self) -> Any:
        """Where the stack is cut: the smart object, the layer it is clipped to, or the outermost
        group around it that is composited on its own (not pass-through, masked or faded)."""
        from psd_tools.constants import BlendMode

        anchor = self.target.layer
        if anchor.clipping:
            siblings = list(anchor.parent)
            k = siblings.index(anchor)
            while k > 0 and siblings[k].clipping:
                k -= 1
            anchor = siblings[k]
        node = anchor.parent
        while node is not None and getattr(node, "kind", "psdimage") == "group":
            if node.blend_mode != BlendMode.PASS_THROUGH or node.opacity < 255 or node.has_mask():
                anchor = node
            node = node.parent
        return anchor

    def _split(self) -> tuple[set[int], set[int]]:
        anchor = self._anchor()
        leaves = [ly for ly in self.psd.descendants() if not ly.is_group()]
        first_of_anchor = next(ly for ly in (anchor.descendants() if anchor.is_group() else [anchor])
                               if not ly.is_group())
        cut = leaves.index(first_of_anchor)
        below: set[int] = set()
        above: set[int] = set()
        for k, leaf in enumerate(leaves):
            side = below if k < cut else above
            node = leaf
            while node is not None and getattr(node, "kind", "psdimage") != "psdimage":
                side.add(id(node))
                node = node.parent
        return below, above

    # --- per colour, per variant -----------------------------------------------------------------

    def _backdrop(self, hex_: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """In the colour `hex_`: the part of the stack below the cut (colour and alpha, float32) and
        the whole document without the smart object (RGBA uint8): what every variant shows outside
        the smart object's footprint."""
        def make():
            self._set_colour(hex_)
            composite = psd_tools().composite.composite
            color, _, alpha = composite(self.psd, layer_filter=lambda ly: id(ly) in self._below_ids and ly.is_visible())
            without = id(self.stand_in)
            rest_c, _, rest_a = composite(self.psd, color=color, alpha=alpha, layer_filter=lambda ly: id(
                ly) in self._above_ids and id(ly) != without and ly.is_visible())
            return color, alpha, _rgba8(rest_c, rest_a, color, alpha)
        return self._backdrops.get_or(hex_ if self.colour_layer is not None else None, make)

    def _colour_below(self) -> bool:
        return self.colour_layer is not None and id(self.colour_layer) in self._below_ids

    def render(self, design: Image.Image | None, hex_: str | None) -> Image.Image:
        """The document with `design` in the smart object (its old content when None) and the colour
        layer in `hex_` (as it is when None), as an RGBA image of the document's size. Only the smart
        object's footprint is composited: the rest is the same in every variant of a colour."""
        with self._lock:
            color, alpha, whole = self._backdrop(hex_)
            if self.map is None:  # the smart object lies wholly outside the document
                return Image.fromarray(whole, "RGBA")
            if not self._colour_below():
                self._set_colour(hex_)
            if design is not None:
                self._put_design(design)
            elif self.stand_in is not self.target.layer:
                self._restore()
            x0, y0, x1, y1 = box = self.map.box
            under_c, under_a = color[y0:y1, x0:x1], alpha[y0:y1, x0:x1]
            out_c, _, out_a = psd_tools().composite.composite(
                self.psd, color=under_c, alpha=under_a, viewport=box,
                layer_filter=lambda ly: id(ly) in self._above_ids and ly.is_visible())
        out = whole.copy()
        out[y0:y1, x0:x1] = _rgba8(out_c, out_a, under_c, under_a)
        return Image.fromarray(out, "RGBA")

    def _put_design(self, design: Image.Image) -> None:
        """The warped design in the smart object's place: a pixel layer with its blend mode, opacity,
        clipping and mask (psd-tools' public write API)."""
        from psd_tools.api.layers import PixelLayer
        from psd_tools.constants import Compression

        content = fit_design(design, self.target.size, self.fit)
        assert self.map is not None
        x0, y0, x1, y1 = self.map.box
        warped = self.map.apply(content)
        old = self.stand_in
        a = warped[..., 3:4] * _mask_over(self.target.layer, self.map.box)  # the smart object's own mask
        straight = np.where(a > 0, warped[..., :3] / np.maximum(warped[..., 3:4], 1e-6), 0.0)
        pixels = np.clip(np.rint(np.concatenate([straight, a], axis=2) * 255.0), 0, 255).astype(np.uint8)
        parent = old.parent
        new = PixelLayer.frompil(Image.fromarray(pixels, "RGBA"), parent, self.target.name, y0, x0,
                                 compression=Compression.RAW)
        parent.remove(new)
        parent.insert(list(parent).index(old), new)
        # drawn as the smart object is: hidden if it is hidden, at its opacity and its fill's
        new.blend_mode, new.opacity, new.clipping = old.blend_mode, old.opacity, old.clipping
        new.visible, new.fill_opacity = old.visible, old.fill_opacity
        parent.remove(old)
        self._above_ids.discard(id(old))
        self._above_ids.add(id(new))
        self.stand_in = new

    def _restore(self) -> None:
        """The smart object itself back in its place (a render without a design shows its content)."""
        old, parent = self.stand_in, self.stand_in.parent
        parent.insert(list(parent).index(old), self.target.layer)
        parent.remove(old)
        self._above_ids.discard(id(old))
        self._above_ids.add(id(self.target.layer))
        self.stand_in = self.target.layer

    def _set_colour(self, hex_: str | None) -> None:
        layer = self.colour_layer
        if layer is None or hex_ is None:
            return
        if self._overlay is not None or layer.kind == "solidcolorfill":  # the colour is a descriptor's
            _write_rgb(self._overlay.color if self._overlay is not None else layer.data, imaging.parse_hex(hex_))
        elif hex_ != self._dyed:
            self._recolour_pixels(hex_)
            self._dyed = hex_

    def _recolour_pixels(self, hex_: str) -> None:
        """A pixel colour layer recoloured to `hex_` (its shading kept), written back into the layer."""
        from psd_tools.api.layers import PixelLayer
        from psd_tools.constants import Compression

        layer, original = self.colour_layer, self._colour_pixels
        assert layer is not None and original is not None
        if self._recolour_prep is None:
            self._recolour_prep = imaging.prepare_recolour(original, np.asarray(original)[..., 3])
        dyed = imaging.recolour(self._recolour_prep, original, hex_)
        parent = layer.parent
        new = PixelLayer.frompil(dyed, parent, layer.name, layer.top, layer.left, compression=Compression.RAW)
        parent.remove(new)
        parent.insert(list(parent).index(layer), new)
        new.blend_mode, new.opacity, new.clipping, new.visible = layer.blend_mode, layer.opacity, layer.clipping, \
            layer.visible
        parent.remove(layer)
        for ids in (self._below_ids, self._above_ids):
            if id(layer) in ids:
                ids.discard(id(layer))
                ids.add(id(new))
        self.colour_layer = new

    @staticmethod
    def _pixels(layer: Any) -> Image.Image:
        """The colour layer's pixels with its own pixel mask applied (the recoloured layer that
        replaces it carries no mask: without this a full-canvas layer masked to the garment would
        colour the whole scene)."""
        image = layer.topil()
        if image is None:
            raise PsdError(f"colour layer '{layer.name}' has no pixels")
        rgba = np.asarray(image.convert("RGBA"), np.float32)
        box = (layer.left, layer.top, layer.left + rgba.shape[1], layer.top + rgba.shape[0])
        rgba[..., 3:4] *= _mask_over(layer, box)
        return Image.fromarray(np.clip(np.rint(rgba), 0, 255).astype(np.uint8), "RGBA")

    # --- the gate ----------------------------------------------------------------------------------

    def calibration(self) -> Score:
        """Our render of the smart object's own content against Photoshop's (see `_calibrate`),
        computed once."""
        if self._score is None:
            self._score = calibrate(self.target, self.path.parent, self.psd.size)
        return self._score
