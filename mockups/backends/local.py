"""The `local` backend: an offline, deterministic compositor (Pillow + numpy).

For each job: the product's silhouette (its alpha, a mask file, or an automatic cut-out from a
plain backdrop), a shading-preserving recolour of the dyeable area, the design warped onto the
print area and bent along the folds, then the product composited with a contact shadow onto
the background at the channel's size.

Work shared between variants is done once per worker and kept in small LRU caches keyed by
content hashes: a product's preparation, its recolour for a colour (with the design), and a
background plate. Variants arrive grouped by product, so each is computed once per build and
memory stays bounded by the cache sizes, not by the catalog.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from mockups.errors import ImageInputError, Problem
from mockups import imaging
from mockups.backends.base import Backend, Rendered

NEUTRAL_SWEEP = "#EDEDED"
LOW_CONFIDENCE = 0.5


class _LRU(OrderedDict):
    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def get_or(self, key, make):
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        while len(self) > self.size:
            self.popitem(last=False)
        return value


@dataclass
class PreparedProduct:
    rgba: Image.Image  # the photo with its silhouette as alpha
    recolour: object  # imaging.RecolourPrep
    shading: np.ndarray  # luminance field of the original photo (designs follow it)
    backdrop: tuple[int, int, int] | None  # the plain backdrop it was cut from, if any
    warnings: list[str] = field(default_factory=list)


class LocalBackend(Backend):
    name = "local"
    version = "1"
    parallelism = "process"

    def __init__(self, options: dict | None = None):
        super().__init__(options)
        self._products = _LRU(4)
        self._dyed = _LRU(8)
        self._plates = _LRU(8)
        self._designs = _LRU(8)
        self._placements = _LRU(8)
        self._shadows = _LRU(4)
        self._shaded = _LRU(16)

    def default_concurrency(self) -> int:
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)

    def job_params(self, catalog, variant) -> dict:
        o = self.options
        return {"shadow": o.get("shadow", True), "displacement": o.get("displacement", 6.0), "seed": o.get("seed", 0)}

    def check(self, catalog, jobs) -> list[Problem]:
        problems, seen = [], set()
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
        v = job.variant
        canvas = tuple(v.channel.size)
        product_key = self._product_key(job)
        look = (product_key, v.colour.hex, self._sha(job, "design"))
        product = self._products.get_or(product_key, lambda: self._prepare(job))
        dyed = self._dyed.get_or(look, lambda: self._dye(job, product))
        fitting = (canvas, v.channel.fill)
        placed = self._placements.get_or((look, fitting), lambda: self._guard(job, "product", lambda: imaging.place(
            dyed, canvas, fill=v.channel.fill, backdrop=product.backdrop, clean_edges=False)))  # done in _prepare
        plate = self._plates.get_or((self._bg_key(job), canvas), lambda: self._plate(job, canvas))
        shadow = self.options.get("shadow", True) if v.channel.shadow is None else v.channel.shadow
        if v.channel.background is not None:
            shadow = False  # a forced background (a marketplace's pure white) stays exactly that colour
        if shadow:  # the shadowed plate depends on the silhouette, not the colour: shared across colours
            mask = self._shadows.get_or((product_key, fitting), lambda: imaging.placement_shadow(placed))
            plate = self._shaded.get_or((self._bg_key(job), product_key, fitting),
                                        lambda: imaging.shade(plate, canvas, mask))
        image = imaging.blend(placed, plate)
        if v.product.caption:
            image = self._caption(image, v.product.caption)
        return Rendered(image=image, model=f"local-compositor-{self.version}", warnings=list(product.warnings))

    # --- per-product work ----------------------------------------------------------------------

    @staticmethod
    def _sha(job, role: str) -> str | None:
        found = job.inputs.get(role)
        return found[1] if found else None

    def _product_key(self, job) -> tuple:
        return (self._sha(job, "product"), self._sha(job, "mask"), self._sha(job, "recolour_mask"))

    def _guard(self, job, role: str, work):
        """Run imaging work; turn its errors into an error naming the file and the variant."""
        try:
            return work()
        except imaging.ImagingError as e:
            path = job.input_path(role)
            raise ImageInputError(f"{path.name if path else role}: {e}", variant=job.id) from None

    def _open(self, job, role: str) -> Image.Image:
        return self._guard(job, role, lambda: imaging.open_image(job.input_path(role)))

    def _prepare(self, job) -> PreparedProduct:
        rgba = self._open(job, "product")
        warnings, backdrop = [], None
        if job.input_path("mask"):
            alpha = np.asarray(self._open(job, "mask").convert("L"))
        elif imaging.has_alpha(rgba):
            alpha = np.asarray(rgba.getchannel("A"))
        else:
            alpha, confidence = self._guard(job, "product", lambda: imaging.auto_cutout(rgba))
            backdrop = imaging.estimate_backdrop(rgba)
            if confidence < LOW_CONFIDENCE:
                warnings.append(f"{job.input_path('product').name}: the automatic cut-out has low confidence "
                                f"({confidence:.2f}); give the product a `mask:` file (white = product)")
        rgba = imaging.apply_alpha(rgba, alpha, backdrop=backdrop)
        if job.input_path("recolour_mask"):
            dye = np.asarray(self._open(job, "recolour_mask").convert("L"))
        else:  # the garment's own colour, not its old print or a differently coloured lining
            dye = self._guard(job, "product", lambda: imaging.estimate_dye_mask(rgba))
        dye = np.minimum(dye, alpha)
        prep = self._guard(job, "product", lambda: imaging.prepare_recolour(rgba, dye))
        return PreparedProduct(rgba, prep, imaging.luminance_field(rgba), backdrop, warnings)

    def _dye(self, job, product: PreparedProduct) -> Image.Image:
        v = job.variant
        dyed = self._guard(job, "product", lambda: imaging.recolour(product.recolour, product.rgba, v.colour.hex))
        if v.design is None or v.product.print_area is None:
            return dyed
        layer = self._designs.get_or((self._product_key(job), self._sha(job, "design")), lambda: self._guard(
            job, "design", lambda: imaging.prepare_design(
                product.rgba, self._open(job, "design"), v.product.print_area, shading=product.shading,
                displacement=float(self.options.get("displacement", 6.0)))))
        return imaging.apply_design(dyed, layer)  # the warp and the folds are the same in every colour

    # --- backgrounds ---------------------------------------------------------------------------

    def _bg_key(self, job) -> tuple:
        v = job.variant
        if v.channel.background is not None:
            return ("forced", v.channel.background)
        bg = v.background
        return (bg.kind, bg.colour, bg.sweep, bg.gradient.model_dump_json() if bg.gradient else None,
                self._sha(job, "background"))

    def _plate(self, job, canvas: tuple[int, int]) -> Image.Image:
        v = job.variant
        bg = v.background
        if v.channel.background is not None:
            return imaging.make_background("solid", canvas, colour=v.channel.background)
        if bg.kind == "image":
            photo = self._open(job, "background").convert("RGB")
            return self._guard(job, "background", lambda: imaging.make_background("image", canvas, image=photo))
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

    @staticmethod
    def _caption(image: Image.Image, caption) -> Image.Image:
        vertical, _, horizontal = caption.position.partition("-")
        return imaging.draw_text(image, caption.text, position=(vertical, horizontal or "center"),
                                 size_px=max(8, round(caption.size * image.height)), colour_hex=caption.colour,
                                 badge=caption.badge)
