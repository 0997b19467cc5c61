"""The `local` backend: an offline, deterministic compositor (Pillow + numpy).

For each job: the product's silhouette (its alpha, a mask file, or an automatic soft matte from a
plain backdrop), a shading-preserving recolour of the dyeable area, the design warped onto the
print area and bent along the folds, then the product composited with a contact shadow onto
the background at the channel's size. A scene photo (a person wearing the product, a room: the
matrix's `Variant.scene`) is not cut out: the garment the print area lies on is found
(`imaging.analyse_photo`, or the recolour mask), only it is dyed and printed on, and the photo
itself is framed on the channel's canvas (`scene_fit`): everything else stays exactly as shot.
Unsure automatic decisions (scene or cut-out, the garment, the matte) are returned as warnings.

The work is done by a `Compositor`, the public interface other backends build on (the `openai`
backend prepares, dyes and places products with one); `LocalBackend` is a thin Backend around it.
Work shared between variants is done once per worker and kept in small LRU caches keyed by
content hashes: a product's preparation, its recolour for a colour (with the design), and a
background plate. Variants arrive grouped by product, so each is computed once per build and
memory stays bounded by the cache sizes, not by the catalog.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np
from PIL import Image

from mockups import imaging
from mockups._lru import LRU
from mockups.backends.base import Backend, Rendered
from mockups.backends.kept import FOLDER as ANALYSES
from mockups.backends.kept import PREPARED, AnalysisStore, PreparedStore
from mockups.catalog.schema import OLD_PRINT_SETTINGS
from mockups.errors import ImageInputError, Problem
from mockups.limits import cores

__all__ = ["Compositor", "LocalBackend", "PreparedProduct", "LOW_CONFIDENCE", "NEUTRAL_SWEEP", "print_corners"]

NEUTRAL_SWEEP = "#EDEDED"
LOW_CONFIDENCE = 0.5
OLD_PRINT_FOUND = 0.6  # `old_print: auto` removes what is found with at least this confidence
NOT_FOUND = 0.2  # a scene's garment found with less confidence than this is not recoloured at all

T = TypeVar("T")


@dataclass
class PreparedProduct:
    """A product photo made ready for every colour, design and background it appears in.

    A scene photo (`kind == "scene"`) is not cut out: `rgba` is the whole photo, opaque, and
    `garment` the photo with the garment's silhouette as alpha (what the design is clipped to)."""

    rgba: Image.Image  # the photo with its silhouette as alpha (a scene: the whole photo, opaque)
    recolour: imaging.RecolourPrep | None  # the dyeable area's recolour preparation (None: nothing to dye)
    shading: np.ndarray  # luminance field of the original photo (designs follow it)
    backdrop: tuple[int, int, int] | None  # the plain backdrop it was cut from, if any
    warnings: list[str] = field(default_factory=list)
    kind: str = "alpha"  # imaging.PhotoAnalysis.kind: alpha, mask, cutout or scene
    garment: Image.Image | None = None  # a scene: the photo with the garment as alpha
    matched: imaging.MatchedPrep | None = None  # the shading split that recolour_prepared rescales per colour
    shading_model: imaging.ShadingModel = imaging.FABRIC  # how shading strength follows the colour

    @property
    def silhouette(self) -> Image.Image:
        """The photo with the silhouette a design is clipped to as alpha."""
        return self.garment if self.garment is not None else self.rgba


class Compositor:
    """The local compositor's work on jobs, each piece made once and kept in an LRU cache.

    `displacement` (pixels the design follows the folds by) and `shadow` (a contact shadow unless
    the channel says otherwise) are the backend's `defaults.local` options. `cache_sizes` overrides
    some of `CACHE_SIZES` (how many values each cache keeps). With `thread_safe=True` one
    compositor may be shared by worker threads: each value is made by one thread while the others
    that need it wait, and work on other keys goes on meanwhile.

    Every error of the imaging layer comes out as an `ImageInputError` naming the file and the
    variant.
    """

    version = "3"  # a change to the pixels it makes bumps this (and LocalBackend.version, a part of job keys)

    CACHE_SIZES: Mapping[str, int] = {
        "products": 4,  # PreparedProduct per (product, mask, recolour mask)
        "looks": 8,  # the recoloured product (with or without its design) per product, colour, design, placement
        "plates": 8,  # background plates per background and size
        "design_layers": 8,  # a design warped onto a product's print area
        "design_images": 8,  # design files as decoded (design_image)
        "placements": 8,  # a look placed on a canvas
        "shadows": 4,  # a placed silhouette's contact shadow
        "shaded": 16,  # a plate with a product's shadow on it
    }

    def __init__(self, *, displacement: float = 6.0, shadow: bool = True,
                 cache_sizes: Mapping[str, int] | None = None, thread_safe: bool = False,
                 analyses: AnalysisStore | None = None, prepared: PreparedStore | None = None):
        sizes = {**self.CACHE_SIZES, **(cache_sizes or {})}
        unknown = sorted(set(sizes) - set(self.CACHE_SIZES))
        if unknown:
            raise ValueError(f"unknown compositor caches {unknown}; known: {sorted(self.CACHE_SIZES)}")
        self.displacement, self.shadow, self.thread_safe = float(displacement), shadow, thread_safe
        self.analyses = analyses or AnalysisStore(None, self.version)  # kept between builds (backends.kept)
        self.prepared = prepared or PreparedStore(None, self.version)
        self._caches: dict[str, LRU[Any]] = {name: LRU(size, thread_safe=thread_safe) for name, size in sizes.items()}
        self._coverage: dict[tuple, float] = {}  # (product, print position) -> how much of its area is on the product
        self._boxes: dict[tuple, tuple[int, int, int, int] | None] = {}  # product -> its box in its photo

    # --- the pieces ----------------------------------------------------------------------------

    def product(self, job) -> PreparedProduct:
        """The job's product prepared: the photo with its silhouette as alpha (its alpha, the
        `mask:` file, or an automatic matte, warned about when unsure), or for a scene the whole
        photo with its garment found; the recolour preparation of the dyeable area, the shading the
        design follows, the backdrop it was cut from. Made once per product (and worker)."""
        key = (*product_key(job), job.input_path("product").name)  # the name is in its warnings
        return self._caches["products"].get_or(key, lambda: self.prepared.get_or(
            input_sha(job, "product"), key, lambda: self._prepare(job)))

    def look(self, job, *, design: bool = True) -> Image.Image:
        """The product as the variant shows it, in photo space (RGBA): recoloured to the variant's
        colour and, with `design` (and a design and a print area), its design printed on."""
        pkey, hex_ = product_key(job), job.variant.colour.hex
        product = self.product(job)
        if design and job.variant.design is not None and _has_area(job.variant.print):
            return self._caches["looks"].get_or((pkey, hex_, input_sha(job, "design"), print_key(job)),
                                                lambda: self._dye(job, product))
        return self._caches["looks"].get_or((pkey, hex_, "no design"), lambda: self.guard(
            job, "product", lambda: self._recolour(product, hex_)))

    def design_image(self, job) -> Image.Image:
        """The job's design file, decoded (as given: not warped or fitted)."""
        return self._caches["design_images"].get_or(input_sha(job, "design"), lambda: self.guard(
            job, "design", lambda: _visible(self._open(job, "design"))))

    def background_plate(self, job, size: tuple[int, int]) -> Image.Image:
        """The variant's background at `size` (w, h): the channel's forced colour, the image,
        gradient, sweep or colour, or a neutral sweep in place of a prompt-only background."""
        canvas = (size[0], size[1])
        return self._caches["plates"].get_or((background_key(job), canvas), lambda: self._plate(job, canvas))

    def render(self, job) -> Rendered:
        """The whole local variant at the channel's canvas: the look placed at the channel's fill on
        the background plate, with a contact shadow (not under a forced background), and the caption."""
        v = job.variant
        canvas = tuple(v.channel.size)
        pkey = product_key(job)
        look_key = (pkey, v.colour.hex, input_sha(job, "design"), print_key(job))
        product = self.product(job)
        dyed = self.look(job, design=True)
        if product.kind == "scene":  # the photo as shot, framed on the channel's canvas
            image = self.guard(job, "product", lambda: imaging.frame(
                dyed, canvas, fit=v.product.scene_fit, colour=v.channel.background))
            if v.product.caption:
                image = self.caption(image, v.product.caption)
            return Rendered(image=image, model=f"local-compositor-{self.version}", warnings=self.notes(job, product))
        fitting = (canvas, v.channel.fill)
        placed = self._caches["placements"].get_or((look_key, fitting), lambda: self.guard(
            job, "product", lambda: imaging.place(dyed, canvas, fill=v.channel.fill, backdrop=product.backdrop,
                                                  clean_edges=False)))  # done in _prepare
        plate = self.background_plate(job, canvas)
        shadow = self.shadow if v.channel.shadow is None else v.channel.shadow
        if v.channel.background is not None:
            shadow = False  # a forced background (a marketplace's pure white) stays exactly that colour
        if shadow:  # the shadowed plate depends on the silhouette, not the colour: shared across colours
            bg_key = background_key(job)
            mask = self._caches["shadows"].get_or((pkey, fitting), lambda: imaging.placement_shadow(placed))
            plate = self._caches["shaded"].get_or((bg_key, pkey, fitting),
                                                  lambda: imaging.shade(plate, canvas, mask))
        image = imaging.blend(placed, plate)
        if v.product.caption:
            image = self.caption(image, v.product.caption)
        return Rendered(image=image, model=f"local-compositor-{self.version}",
                        warnings=self.notes(job, product, placed))

    def notes(self, job, product: PreparedProduct, placed: imaging.Placement | None = None) -> list[str]:
        """The variant's warnings: its product's, and what the catalog's settings make of this variant
        that it could not tell from the photo alone: nothing dyeable (every colour the photo's own),
        a print area mostly off the product (most of the design clipped away), a product enlarged
        far past its photo's pixels to fill the channel (soft)."""
        v = job.variant
        out = list(product.warnings)
        name = job.input_path("product").name
        pkey = product_key(job)
        if placed is not None and pkey not in self._boxes:  # once per product
            self._boxes[pkey] = product.rgba.getchannel("A").getbbox()
        box = self._boxes.get(pkey) if placed is not None else None
        if placed is not None and box is not None:
            enlarged = placed.layer.width / max(1, box[2] - box[0])
            if enlarged > MAX_ENLARGEMENT:
                out.append(f"{name}: the product is enlarged {enlarged:.1f}x past its photo's pixels to fill the "
                           f"{v.channel.size[0]}x{v.channel.size[1]} channel, so it looks soft: give a photo at least "
                           f"{placed.layer.width} px across the product, or a smaller channel or fill")
        if product.matched is None and product.kind != "scene":
            given = "the recolour mask covers none of the product" if job.input_path("recolour_mask") \
                else "no area of the product's own main colour was found"
            out.append(f"{name}: nothing is dyed ({given}): every colour shows the photo's own; give the product a "
                       f"recolour_mask: that covers the fabric")
        area = print_corners(v.print)
        if v.design is not None and area is not None and product.kind != "scene":
            key = (pkey, print_key(job))
            if key not in self._coverage:
                alpha = np.asarray(product.rgba.getchannel("A"), np.float32) / 255.0
                self._coverage[key] = imaging.print_area_coverage(area, alpha)
            if self._coverage[key] < 0.6:
                out.append(f"{name}: only {self._coverage[key]:.0%} of the print area lies on the product, so most "
                           "of the design is clipped away: check print_area against the photo (`mockups inspect` "
                           "draws both)")
        return out

    @staticmethod
    def caption(image: Image.Image, caption) -> Image.Image:
        """`image` with a product's `caption:` (text or price badge) drawn on it."""
        vertical, _, horizontal = caption.position.partition("-")
        return imaging.draw_text(image, caption.text, position=(vertical, horizontal or "center"),
                                 size_px=max(8, round(caption.size * image.height)), colour_hex=caption.colour,
                                 badge=caption.badge)

    @staticmethod
    def guard(job, role: str, work: Callable[[], T]) -> T:
        """`work()`, with an imaging error turned into an ImageInputError naming the job's `role`
        input file (product, mask, design, background...) and the variant."""
        try:
            return work()
        except imaging.ImagingError as e:
            path = job.input_path(role)
            raise ImageInputError(f"{path.name if path else role}: {e}", variant=job.id) from None

    # --- how the pieces are made ---------------------------------------------------------------

    def _open(self, job, role: str) -> Image.Image:
        return self.guard(job, role, lambda: imaging.open_image(job.input_path(role)))

    def _prepare(self, job) -> PreparedProduct:
        v = job.variant
        name = job.input_path("product").name
        rgba = self._open(job, "product")
        mask = np.asarray(self._open(job, "mask").convert("L")) if job.input_path("mask") else None
        dye_file = np.asarray(self._open(job, "recolour_mask").convert("L")) if job.input_path("recolour_mask") \
            else None
        kind, kind_confidence, kind_reason = self.guard(job, "product", lambda: imaging.photo_kind(
            rgba, mask_given=mask is not None, kind=v.product.photo))
        if kind in ("cutout", "scene") and (kind == "scene") != v.scene:
            kind, kind_confidence, kind_reason = ("scene" if v.scene else "cutout"), 1.0, ""  # the matrix's word
        if kind == "scene" and dye_file is not None:  # the recolour mask is the garment: nothing to look for
            return self._prepare_scene(job, rgba, None, dye_file, photo_warnings(name, kind, kind_confidence,
                                                                                 kind_reason))
        found = self.guard(job, "product", lambda: self.analyses.analyse(
            rgba, mask=mask, kind=kind if kind in ("cutout", "scene") else "auto",
            seed=print_corners(v.print) if kind == "scene" else None,
            photo_sha=input_sha(job, "product"), mask_sha=input_sha(job, "mask")))
        warnings = photo_warnings(name, kind, kind_confidence, kind_reason, found)
        if found.kind == "scene":  # a garment not found at all is not guessed at: the photo stays as shot
            silhouette = found.silhouette if found.confidence >= NOT_FOUND else None
            return self._prepare_scene(job, rgba, silhouette, dye_file, warnings,
                                       unsure=found.confidence < LOW_CONFIDENCE)
        alpha = _alpha8(found.silhouette)
        if found.foreground is not None:  # a cut-out's matte comes with its colours cleaned of the backdrop
            rgba = Image.fromarray(np.dstack([_alpha8(found.foreground), alpha]), "RGBA")
        else:
            rgba = self.guard(job, "mask" if mask is not None else "product", lambda: imaging.apply_alpha(rgba, alpha))
        if dye_file is not None:
            dye = dye_file
        else:  # the garment's own colour, not its old print or a differently coloured lining
            dye = self.guard(job, "product", lambda: imaging.estimate_dye_mask(rgba))
        if found.confidence >= LOW_CONFIDENCE:  # an unsure silhouette (warned about) makes any "print" a guess
            rgba, dye = self._old_print(job, rgba, dye, warnings, refind=dye_file is None)
        dye = dyed_to_the_edge(dye, alpha)
        matched = self._matched(job, rgba, dye, consolidate=dye_file is None)
        return PreparedProduct(rgba, matched.prep if matched else None, imaging.luminance_field(rgba),
                               found.backdrop, warnings, found.kind, matched=matched,
                               shading_model=shading_model(v.product, v.print))

    def _prepare_scene(self, job, rgba: Image.Image, silhouette: np.ndarray | None, dye_file: np.ndarray | None,
                       warnings: list[str], *, unsure: bool = False) -> PreparedProduct:
        """A scene photo: the whole photo kept opaque, only the garment (the segmentation's soft
        `silhouette`, or the recolour mask) dyed, the design clipped to the garment."""
        photo = rgba.convert("RGB").convert("RGBA")  # opaque: nothing of the setting is cut away
        garment = dye_file if dye_file is not None else _alpha8(silhouette)
        if garment.shape != (photo.height, photo.width):  # nothing found: an empty garment
            garment = np.zeros((photo.height, photo.width), np.uint8)
        role = "recolour_mask" if dye_file is not None else "product"
        on_garment = self.guard(job, role, lambda: imaging.apply_alpha(photo, garment, backdrop=None))
        matched = None
        if garment.any():
            dye = garment if dye_file is not None else np.minimum(
                self.guard(job, "product", lambda: imaging.estimate_dye_mask(on_garment)), garment)
            if not unsure:  # a print the garment already carries, looked for on the garment only
                cleaned, dye = self._old_print(job, on_garment, dye, warnings, refind=dye_file is None)
                if cleaned is not on_garment:
                    photo = Image.fromarray(np.dstack([np.asarray(cleaned)[..., :3], np.asarray(photo)[..., 3]]),
                                            "RGBA")
                    on_garment = cleaned
                    if dye_file is None:
                        dye = np.minimum(dye, garment)
            if dye.any():
                if dye_file is None:  # creases taken back in, within the garment (not the jeans' shadows)
                    dye = np.minimum(self.guard(job, "product", lambda: imaging.consolidate_dye_mask(
                        on_garment, dye)), garment.astype(np.float32) / 255.0)
                matched = self._matched(job, photo, dye, consolidate=False)
        return PreparedProduct(photo, matched.prep if matched else None, imaging.luminance_field(on_garment), None,
                               warnings, "scene", garment=on_garment, matched=matched,
                               shading_model=shading_model(job.variant.product, job.variant.print))

    def _matched(self, job, rgba: Image.Image, dye: np.ndarray, *, consolidate: bool) -> imaging.MatchedPrep | None:
        """The dyeable area's shading split into folds and texture (what each colour rescales), or
        None when nothing is left to dye."""
        if not np.asarray(dye).any():
            return None
        return self.guard(job, "product", lambda: imaging.prepare_matched(rgba, dye, consolidate=consolidate))

    def _old_print(self, job, rgba: Image.Image, dye: np.ndarray, warnings: list[str], *,
                   refind: bool) -> tuple[Image.Image, np.ndarray]:
        """The photo with a print it already carries in the print area removed (inpainted from the
        fabric around it) and its dye mask, as `old_print:` says; what was decided is a warning."""
        v = job.variant
        setting = "file" if job.input_path("old_print") is not None else v.product.old_print
        if setting not in (*OLD_PRINT_SETTINGS, "file"):  # a mask drawn for another photo (a placement's own)
            setting = "auto"
        area = print_corners(v.print)
        if setting == "keep" or v.design is None or area is None:
            return rgba, dye
        name = job.input_path("product").name
        if setting == "file":
            mask = np.asarray(self._open(job, "old_print").convert("L"), np.float32) / 255.0
        else:
            found = self.guard(job, "product", lambda: imaging.find_old_print(rgba, dye, area))
            if found.confidence < OLD_PRINT_FOUND:
                if found.confidence >= LOW_CONFIDENCE * OLD_PRINT_FOUND:  # something there, but unsure
                    warnings.append(f"{name}: something that may be an old print lies in the print area "
                                    f"(confidence {found.confidence:.2f}); it was left as it is: set "
                                    f"`old_print: remove` to remove it, or `old_print: keep` to silence this")
                return rgba, dye
            mask = found.mask
            if setting == "auto":
                warnings.append(f"{name}: an old print covering {100 * found.coverage:.0f}% of the print area was "
                                f"found and removed (confidence {found.confidence:.2f}); see `mockups inspect`; set "
                                f"`old_print: keep` if it belongs to the product, `old_print: remove` to silence this")
        if not mask.any():
            return rgba, dye
        cleaned = self.guard(job, "product", lambda: imaging.remove_old_print(rgba, mask))
        if refind:
            dye = self.guard(job, "product", lambda: imaging.estimate_dye_mask(cleaned))
        else:  # a recolour mask file: the cleaned area is dyed as the fabric around it
            dye = np.maximum(np.asarray(dye, np.float32) / (255.0 if np.asarray(dye).dtype == np.uint8 else 1.0),
                             np.asarray(mask, np.float32))
        return cleaned, dye

    @staticmethod
    def _recolour(product: PreparedProduct, hex_: str) -> Image.Image:
        if product.matched is None:  # a scene whose garment was not found: the photo as it is
            return product.rgba.copy()
        # the shading strength a real garment of the target colour shows (imaging.ShadingModel)
        return imaging.recolour_prepared(product.matched, product.rgba, hex_, product.shading_model)

    def _dye(self, job, product: PreparedProduct) -> Image.Image:
        dyed = self.look(job, design=False)  # one recolour per product and colour, whatever its designs
        layer = self._caches["design_layers"].get_or((product_key(job), input_sha(job, "design"), print_key(job)),
                                                     lambda: self._design_layer(job, product))
        return imaging.apply_design(dyed, layer)  # the warp and the folds are the same in every colour

    def _design_layer(self, job, product: PreparedProduct):
        """The variant's design placed in its print area (or wrapped round its cylinder), bent along
        the folds and shaded by the photo's light: the same in every colour."""
        at = job.variant.print
        design = self.design_image(job)

        def make():
            if at.cylinder is not None:
                band = imaging.fit_cylinder(cylinder_of(at.cylinder), design.size, scale=at.scale,
                                            anchor=at.anchor, offset=at.offset, rotation=at.rotation)
                return imaging.prepare_wrap(product.silhouette, design, band, shading=product.shading,
                                            finish=at.finish)
            corners = imaging.fit_print(at.print_area, design.size, scale=at.scale, anchor=at.anchor,
                                        offset=at.offset, rotation=at.rotation)
            layer = imaging.prepare_design(product.silhouette, design, corners, shading=product.shading,
                                           displacement=self.displacement, finish=at.finish, clip=at.print_area)
            return layer
        return self.guard(job, "design", make)

    def _plate(self, job, canvas: tuple[int, int]) -> Image.Image:
        v = job.variant
        bg = v.background
        if v.channel.background is not None:
            return imaging.make_background("solid", canvas, colour=v.channel.background)
        if bg.kind == "image":
            photo = self._open(job, "background").convert("RGB")
            return self.guard(job, "background", lambda: imaging.make_background("image", canvas, image=photo))
        if bg.kind == "gradient":
            g = bg.gradient
            if g.type == "radial":
                return imaging.make_background("radial", canvas, inner=g.colours[0], outer=g.colours[-1])
            return imaging.make_background("linear", canvas, stops=list(g.colours), angle=g.angle)
        if bg.kind == "sweep":
            return imaging.make_background("studio", canvas, colour=bg.sweep)
        if bg.kind == "colour":
            return imaging.make_background("solid", canvas, colour=bg.colour)
        return imaging.make_background("studio", canvas, colour=NEUTRAL_SWEEP)


# --- cache keys: content hashes of the inputs, and the fields that shape each piece ----------------

def input_sha(job, role: str) -> str | None:
    """The content hash of the job's `role` input file, None if it has none."""
    found = job.inputs.get(role)
    return found[1] if found else None


MAX_ENLARGEMENT = 3.0  # a product shown at more than this many times its photo's pixels is warned about (soft)


def _visible(design: Image.Image) -> Image.Image:
    """A design file that shows something: one whose every pixel is transparent is refused."""
    if design.mode in ("RGBA", "LA", "PA") and design.getchannel("A").getextrema()[1] == 0:
        raise imaging.ImagingError("the design is wholly transparent: nothing of it would be printed")
    return design


def product_key(job) -> tuple:
    """What a product's preparation depends on: its photo, mask and recolour mask, what the catalog
    says the photo is, for a scene the print area (where its garment is looked for), how its
    shading follows the colour, and where an old print is looked for and what is done with it."""
    v = job.variant
    p = v.product
    area = tuple(print_corners(v.print) or ())
    removing = p.old_print != "keep" and v.design is not None
    return (input_sha(job, "product"), input_sha(job, "mask"), input_sha(job, "recolour_mask"), p.photo, v.scene,
            area if v.scene or removing else None, material(p, v.print),
            (p.old_print, input_sha(job, "old_print")) if removing else None)


def print_key(job) -> str:
    """What a design layer depends on besides the product and the design: where and how it is printed."""
    at = job.variant.print
    return at.model_dump_json(include={"print_area", "cylinder", "scale", "anchor", "offset", "rotation", "finish"})


def _has_area(at) -> bool:
    return at.print_area is not None or at.cylinder is not None


def cylinder_of(c) -> imaging.Cylinder:
    """The catalog's `cylinder:` print area as the imaging layer's Cylinder (an upright body)."""
    return imaging.Cylinder.from_box((c.x, c.y, c.x + c.width, c.y + c.height), arc=c.arc, centre=c.centre,
                                     ellipse=c.ellipse,
                                     bottom_radius=None if c.bottom_width is None else 0.5 * c.bottom_width)


def material(product, at=None) -> str:
    """"glazed" (ceramic) or "fabric": `material:`, or for "auto" glazed when the print area `at`
    (a placement, or the product's own) is a cylinder. Both are a part of the variant's key."""
    if product.material != "auto":
        return product.material
    return "glazed" if (at if at is not None else product).cylinder is not None else "fabric"


def shading_model(product, at=None) -> imaging.ShadingModel:
    """How the product's shading strength follows its colour (imaging.GLAZE or imaging.FABRIC)."""
    return imaging.GLAZE if material(product, at) == "glazed" else imaging.FABRIC


def print_corners(at) -> list[tuple[float, float]] | None:
    """The print area's corners (a cylinder's band as a rectangle): where the garment is, and the design."""
    if at.cylinder is not None:
        c = at.cylinder
        return [(c.x, c.y), (c.x + c.width, c.y), (c.x + c.width, c.y + c.height), (c.x, c.y + c.height)]
    return [(float(x), float(y)) for x, y in at.print_area] if at.print_area else None


def dyed_to_the_edge(dye: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The dye mask (uint8) limited to the product, with its anti-aliased rim dyed as the fabric
    next to it. The rim's partial alpha already blends it with the background: a rim dyed by
    its alpha too would keep half the old colour, a light fringe on dark colours (and a red one
    round a red mug dyed white)."""
    dye = np.asarray(dye)
    dye = np.clip(np.rint(dye * 255.0), 0, 255).astype(np.uint8) if dye.dtype != np.uint8 else dye
    rim = (alpha > 0) & (alpha < 255)
    if rim.any():
        dye = np.where(rim, np.maximum(dye, imaging.max_filter(dye, 2)), dye)
    return np.where(alpha > 0, dye, 0).astype(np.uint8)


def _alpha8(a: np.ndarray | None) -> np.ndarray:
    """A float [0, 1] array as uint8 (an all-zero mask for None)."""
    if a is None:
        return np.zeros((1, 1), np.uint8)
    return np.clip(np.rint(np.asarray(a, np.float32) * 255.0), 0, 255).astype(np.uint8)


def photo_warnings(name: str, kind: str, kind_confidence: float, kind_reason: str,
                   found: imaging.PhotoAnalysis | None = None) -> list[str]:
    """The automatic decisions about a product photo `name` that are unsure (whether it is a
    scene, the garment found in it, the cut-out's matte), each naming the file, the decision,
    its confidence and what to do."""
    out = []
    if kind in ("cutout", "scene") and kind_confidence < LOW_CONFIDENCE:
        other = "cutout" if kind == "scene" else "scene"
        out.append(f"{name}: taken for a {'scene photo' if kind == 'scene' else 'cut-out'} with low confidence "
                   f"({kind_confidence:.2f}): {kind_reason}; set `photo: {kind}` or `photo: {other}` on the product")
    if found is not None and found.confidence < LOW_CONFIDENCE:
        if found.kind == "scene":
            if found.reason == imaging.photo.NO_SEED_REASON:
                what = "nothing was recoloured"
            elif found.confidence < NOT_FOUND:
                what = f"the garment was not found (confidence {found.confidence:.2f}), so nothing was recoloured"
            else:
                what = f"the garment was found with low confidence ({found.confidence:.2f})"
            out.append(f"{name}: scene photo; {what}: {found.reason}")
        elif found.kind == "cutout":
            out.append(f"{name}: the automatic cut-out has low confidence ({found.confidence:.2f}): {found.reason}")
    return out


def background_key(job) -> tuple:
    """What a background plate depends on (besides its size)."""
    v = job.variant
    if v.channel.background is not None:
        return ("forced", v.channel.background)
    bg = v.background
    return (bg.kind, bg.colour, bg.sweep, bg.gradient.model_dump_json() if bg.gradient else None,
            input_sha(job, "background"))


class LocalBackend(Backend):
    """The `local` backend: a `Compositor` (one per worker process) renders every job."""

    name = "local"
    version = Compositor.version
    parallelism = "process"

    def __init__(self, options: dict | None = None):
        super().__init__(options)
        cache_dir = self.options.get("cache_dir")
        self.compositor = Compositor(displacement=float(self.options.get("displacement", 6.0)),
                                     shadow=self.options.get("shadow", True),
                                     analyses=AnalysisStore(Path(cache_dir) / ANALYSES if cache_dir else None,
                                                            Compositor.version),
                                     prepared=PreparedStore(Path(cache_dir) / PREPARED if cache_dir else None,
                                                            Compositor.version))

    def default_concurrency(self) -> int:
        return max(1, cores())

    def job_params(self, catalog, variant) -> dict:
        o = self.options
        params = {"shadow": o.get("shadow", True), "displacement": o.get("displacement", 6.0), "seed": o.get("seed", 0)}
        if variant.product.psd is not None:  # rendered by the PSD templates, whose version is theirs
            from mockups.backends.psd import VERSION

            params["psd"] = VERSION
        return params

    def check(self, catalog, jobs) -> list[Problem]:
        problems, seen = [], set()
        if any(p.psd is not None for p in catalog.model.products):  # psd-tools is imported only then
            from mockups.backends.psd import check_products

            problems += check_products(catalog)
        for job in jobs:
            bg = job.variant.background
            if bg.kind == "prompt" and bg.id not in seen and job.variant.channel.background is None:
                seen.add(bg.id)
                index = list(catalog.backgrounds).index(bg.id)
                problems.append(catalog.doc.problem(
                    ("backgrounds", index, "prompt"), f"background '{bg.id}' is only a prompt: the local backend "
                    f"shows a neutral studio sweep in its place (use the openai backend to generate it)",
                    severity="warning"))
        return problems

    def render(self, job) -> Rendered:
        if job.variant.product.psd is not None:
            from mockups.backends.psd import render_job

            rendered = render_job(job)
            if job.variant.product.caption:
                rendered.image = self.compositor.caption(rendered.image, job.variant.product.caption)
            return rendered
        return self.compositor.render(job)
