"""PSD templates in a build: the catalog's problems with them, one variant's render, and `inspect`'s rows.

Templates are opened once per process and kept (`TEMPLATES_KEPT`, keyed by the file's content
hash and the product's `psd:` settings). `check_products` opens each PSD product's template when a
catalog is validated or built: what cannot be rendered is an error naming the file, the layer and
the reason; a calibration score below the gate (`_calibrate.MIN_PSNR`, `MIN_IOU`) is a warning
naming the layer. `render_job` makes one variant: the design in the smart object, the colour
layer in the variant's colour, the document framed on the channel's canvas.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mockups import imaging
from mockups._files import sha256_file
from mockups._lru import LRU
from mockups.backends.base import Rendered
from mockups.backends.psd._calibrate import MIN_IOU, MIN_PSNR, Score, calibrate, open_psd
from mockups.backends.psd._read import PsdError, document_problem, smart_objects
from mockups.backends.psd._template import Template
from mockups.errors import ImageInputError, Problem

TEMPLATES_KEPT = 2  # open templates per process (each holds its document and a few backdrops)
VERSION = "1"  # a change to the pixels a template makes bumps this (a part of the local backend's job params)
_templates: LRU[Template] = LRU(TEMPLATES_KEPT, thread_safe=True)


def template(path: Path, settings, sha: str | None = None) -> Template:
    """The template of a product's `psd:` settings, opened once per process."""
    sha = sha or sha256_file(path)
    key = (str(path), sha, settings.smart_object, settings.colour_layer, settings.fit)
    return _templates.get_or(key, lambda: Template(path, settings.smart_object, settings.colour_layer, settings.fit))


def score(found: Template) -> Score:
    """The template's calibration score, computed once per open template."""
    return found.calibration()


def safe_score(found: Template) -> tuple[Score | None, str | None]:
    """(the score, None), or (None, why it cannot be computed): content Pillow cannot draw (a PDF,
    a vector file) is no reason to refuse a template that renders, only a gate skipped."""
    try:
        return score(found), None
    except Exception as e:  # noqa: BLE001 - psd-tools and Pillow raise many kinds on content they cannot draw
        return None, (f"{found.path.name}: smart object '{found.target.path}': its current content cannot be drawn "
                      f"to check our geometry against Photoshop's ({type(e).__name__}: {e}); the calibration gate "
                      "is skipped: check the images")


def calibration_warning(found: Template, result: Score | None, why: str | None = None) -> str | None:
    if result is None:
        return why
    if result.ok:
        return None
    return (f"{found.path.name}: smart object '{found.target.path}' scores {result} against Photoshop's own render "
            f"of its content (the gate is {MIN_PSNR:.0f} dB and IoU {MIN_IOU}): designs may not land where "
            "Photoshop would put them; check the images, or see `mockups inspect`")


def profile_warning(found: Template) -> str | None:
    """A document in a colour space other than sRGB (Adobe RGB is common from photographers): its
    numbers are composited and written as they are, so its colours shift in the outputs."""
    from psd_tools.constants import Resource

    try:
        data = found.psd.image_resources.get_data(Resource.ICC_PROFILE)
    except (AttributeError, KeyError, ValueError):
        return None
    if not data:
        return None
    try:
        from PIL import ImageCms

        name = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(data))).strip()
    except (OSError, ImageCms.PyCMSError):
        name = "an embedded profile that cannot be read"
    if "srgb" in name.lower():
        return None
    return (f"{found.path.name}: the document's colour profile is {name}, not sRGB: its colours are used as sRGB "
            "numbers, so they shift in the outputs; convert it in Photoshop (Edit > Convert to Profile > sRGB)")


def unreadable(file, error: Exception) -> str:
    return (f"{Path(str(file)).name}: psd-tools cannot read this template ({type(error).__name__}: {error}); "
            "re-save it from Photoshop, or report the file")


def check_products(catalog) -> list[Problem]:
    """Every PSD product's template opened and scored: errors for what cannot be rendered, warnings
    for a low calibration score."""
    problems = []
    for i, product in enumerate(catalog.model.products):
        if product.psd is None:
            continue
        where = ("products", i, "psd")
        try:
            found = template(catalog.path(product.psd.file), product.psd)
        except PsdError as e:
            problems += [catalog.doc.problem((*where, err.key), str(err)) for err in (e, *e.others)]
            continue
        except Exception as e:  # noqa: BLE001 - what psd-tools raises on a layer it cannot read
            problems.append(catalog.doc.problem((*where, "file"), unreadable(product.psd.file, e)))
            continue
        profile = profile_warning(found)
        if profile:
            problems.append(catalog.doc.problem((*where, "file"), profile, severity="warning"))
        warning = calibration_warning(found, *safe_score(found))
        if warning:
            problems.append(catalog.doc.problem((*where, "smart_object"), warning, severity="warning"))
        colours = len(product.colours if product.colours is not None else catalog.model.colours)
        if product.psd.colour_layer is None and colours > 1:
            problems.append(catalog.doc.problem(where, f"{product.sku} has no colour_layer, so its {colours} colours "
                                                "make the same image: name the layer that carries the garment's "
                                                "colour, or list one colour", severity="warning"))
    return problems


def render_job(job) -> Rendered:
    """One variant of a PSD product, at the channel's canvas (its caption is the local backend's)."""
    v = job.variant
    path = job.input_path("product")
    assert path is not None and v.product.psd is not None
    try:
        found = template(path, v.product.psd, job.inputs["product"][1])
        design = imaging.open_image(job.input_path("design")) if job.input_path("design") else None
        colour = v.colour.hex if v.product.psd.colour_layer else None
        document = found.render(design, colour)
        image = imaging.frame(document, tuple(v.channel.size), fit=v.product.scene_fit, colour=v.channel.background)
    except (PsdError, imaging.ImagingError) as e:
        raise ImageInputError(f"{path.name}: {e}" if not str(e).startswith(path.name) else str(e),
                              variant=job.id) from None
    except (AttributeError, KeyError, TypeError, ValueError) as e:  # psd-tools on a layer it cannot read
        raise ImageInputError(unreadable(path.name, e), variant=job.id) from None
    warning = calibration_warning(found, *safe_score(found))
    return Rendered(image=image, model=f"psd-template-{VERSION}", warnings=[warning] if warning else [])


@dataclass(frozen=True)
class Row:
    """One smart object as `mockups inspect` lists it."""

    file: str
    layer: str
    kind: str
    size: tuple[int, int]
    transform: str
    warp: str
    support: str  # "ok" or the reason it cannot be rendered
    score: Score | None

    def __str__(self) -> str:
        scored = "-" if self.score is None else f"{self.score}{'' if self.score.ok else ' (below the gate)'}"
        return (f"{self.file}: {self.layer}: {self.kind}, {self.size[0]}x{self.size[1]}, {self.transform}, "
                f"warp {self.warp}, {self.support}, calibration {scored}")


def inspect_psd(path: Path) -> list[Row]:
    """Every smart object of the document at `path`, with its support and calibration score."""
    psd = open_psd(path)
    whole = document_problem(psd)
    rows = []
    for so in smart_objects(psd, path.parent):
        problem = whole or so.problem
        result = None
        if problem is None:
            try:
                result = calibrate(so, path.parent, psd.size)
            except PsdError as e:
                problem = str(e)
        rows.append(Row(path.name, so.path, so.kind, so.size, so.transform, so.warp,
                        "ok" if problem is None else f"not supported: {problem}", result))
    return rows


def stack_score(path: Path) -> float | None:
    """PSNR of psd-tools' composite of the whole document against the merged image Photoshop saved
    in it (the rest of the layer stack, as the variants inherit it); None without a merged image."""
    from mockups.backends.psd._read import psd_tools

    psd = open_psd(path)
    if document_problem(psd) is not None:
        return None
    merged = psd.topil()
    if merged is None:
        return None
    color, _, alpha = psd_tools().composite.composite(psd, layer_filter=lambda layer: layer.is_visible())
    ours = np.concatenate([color[..., :3] * alpha, alpha], axis=2)
    theirs = np.asarray(merged.convert("RGBA"), np.float32) / 255.0
    theirs[..., :3] *= theirs[..., 3:4]
    mse = float(np.mean((ours - theirs) ** 2))
    return float("inf") if mse == 0 else 10.0 * float(np.log10(1.0 / mse))
