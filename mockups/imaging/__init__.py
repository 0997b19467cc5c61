"""Image operations of the offline compositor (numpy + Pillow only).

Pure, typed, deterministic functions; nothing here reads configuration or
touches global state. Every failure is an :class:`ImagingError` whose
message describes the image/parameter problem (callers add file and
variant names).

Pipeline used by ``local.py``::

    photo = open_image(path)                                  # RGBA, oriented, 8-bit
    found = analyse_photo(photo, seed=print_area)             # alpha | mask | cutout (matte) | scene (garment)
    # warn when found.kind_confidence or found.confidence < LOW_CONFIDENCE (found.reason says what to do)
    photo = apply_alpha(photo, found.silhouette)              # a cut-out: found.foreground (decontaminated)
    dye_mask = estimate_dye_mask(photo)                       # or a recolour mask file
    prep = prepare_recolour(photo, dye_mask)                  # once per product
    dyed = recolour(prep, photo, "#1F2A44")                   # per colour
    printed = place_design(dyed, logo, corners, shading=luminance_field(photo))
    bg = make_background("studio", (1024, 1024), colour="#F2F2F0")
    canvas = compose(printed, bg, (1024, 1024), fill=0.8)
    # a scene keeps its setting: the dyed photo itself, opaque, framed instead of composed:
    # canvas = frame(dyed, (1024, 1024), fit="crop")         # or "pad" (a colour or blurred edges)
    canvas = draw_text(canvas, "$24", badge=True, position=("top", "right"), size_px=40)
    data = encode(canvas, "webp", metadata={...}); preview = thumbnail(canvas)

``photo`` (:func:`analyse_photo`: what a photo is and where its product or
garment is) builds on ``segment`` (classify_photo, segment_garment) and
``matting`` (matte_cutout). Implementation modules: ``_colour`` (Lab, CIEDE2000, recolour), ``_cutout``
(auto cut-out, labelling), ``_warp`` (design placement), ``_scene``
(backgrounds, shadow, compose), ``_text`` and ``_io`` (reading/encoding).
"""

from __future__ import annotations

from mockups.imaging._colour import (
    RecolourPrep,
    ciede2000,
    estimate_dye_mask,
    hex_to_lab,
    lab_to_srgb,
    luminance,
    prepare_recolour,
    recolour,
    srgb_to_lab,
)
from mockups.imaging._common import ImagingError, interp_increasing, max_filter, median, parse_hex
from mockups.imaging._cutout import CutoutDetails, auto_cutout, auto_cutout_details, estimate_backdrop, has_alpha, label
from mockups.imaging._io import (
    DIGITAL_SOURCE_TYPES,
    XMP_NAMESPACE,
    digital_source_type,
    encode,
    open_image,
    read_metadata,
    shown_size,
    thumbnail,
)
from mockups.imaging._placement import ANCHORS, clip_layer, fit_cylinder, fit_print, print_area_coverage
from mockups.imaging._scene import (
    Placement,
    apply_alpha,
    blend,
    compose,
    contact_shadow,
    cover_fit,
    decontaminate,
    frame,
    make_background,
    place,
    placement_shadow,
    shade,
)
from mockups.imaging._shading import (
    FABRIC,
    GLAZE,
    MatchedPrep,
    ShadingModel,
    consolidate_dye_mask,
    prepare_matched,
    recolour_matched,
    recolour_prepared,
    shading_stats,
)
from mockups.imaging._text import draw_text, load_font
from mockups.imaging._warp import (
    FINISHES,
    DesignLayer,
    apply_design,
    luminance_field,
    perspective_coeffs,
    place_design,
    prepare_design,
    rect_to_corners,
    validate_quad,
)
from mockups.imaging.photo import LOW_CONFIDENCE, PhotoAnalysis, analyse_photo, photo_kind

# Imported when first used: they need OpenCV, whose import a build of flat prints need not pay for.
_LAZY = {"Cylinder": "_cylinder", "wrap_design": "_cylinder", "prepare_wrap": "_cylinder",
         "OldPrint": "_oldprint", "find_old_print": "_oldprint", "remove_old_print": "_oldprint"}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value

__all__ = [
    "ImagingError",
    "parse_hex",
    "median",
    "interp_increasing",
    "max_filter",
    # reading / writing
    "open_image",
    "encode",
    "read_metadata",
    "shown_size",
    "thumbnail",
    "XMP_NAMESPACE",
    "DIGITAL_SOURCE_TYPES",
    "digital_source_type",
    # colour
    "srgb_to_lab",
    "lab_to_srgb",
    "hex_to_lab",
    "ciede2000",
    "luminance",
    "RecolourPrep",
    "estimate_dye_mask",
    "prepare_recolour",
    "recolour",
    # cut-out
    "has_alpha",
    "auto_cutout",
    "auto_cutout_details",
    "CutoutDetails",
    "estimate_backdrop",
    "apply_alpha",
    "decontaminate",
    "label",
    # photo analysis
    "PhotoAnalysis",
    "analyse_photo",
    "photo_kind",
    "LOW_CONFIDENCE",
    # design
    "rect_to_corners",
    "validate_quad",
    "perspective_coeffs",
    "luminance_field",
    "place_design",
    "prepare_design",
    "apply_design",
    "DesignLayer",
    # scene
    "make_background",
    "cover_fit",
    "frame",
    "contact_shadow",
    "compose",
    "place",
    "blend",
    "placement_shadow",
    "Placement",
    # where a design sits in its print area; curved print areas
    "ANCHORS",
    "fit_print",
    "print_area_coverage",
    "fit_cylinder",
    "clip_layer",
    "FINISHES",
    "Cylinder",
    "wrap_design",
    "prepare_wrap",
    # shading strength by colour
    "FABRIC",
    "GLAZE",
    "MatchedPrep",
    "ShadingModel",
    "consolidate_dye_mask",
    "prepare_matched",
    "recolour_matched",
    "recolour_prepared",
    "shading_stats",
    # prints a photo already carries
    "OldPrint",
    "find_old_print",
    "remove_old_print",
    "shade",
    "draw_text",
    "load_font",
]
