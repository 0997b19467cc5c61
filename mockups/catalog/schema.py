"""The catalog as a typed, frozen model: each field declared once, with its meaning.

This module owns the *shape* of a catalog (what keys exist, their types and defaults) and the
JSON Schema derived from it. Cross-references and files are checked in `catalog.py`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError, core_schema

from mockups.imaging._placement import ANCHORS  # the compositor's words are the catalog's
from mockups.imaging._warp import FINISHES

HEX_RE = re.compile(r"^#([0-9A-Fa-f]{6}|[0-9A-Fa-f]{3})$")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
SIZE_RE = re.compile(r"^(\d{1,5})x(\d{1,5})$")
AS_SHOT = "as-shot"  # the background id of a scene product's variants: the photo's own setting
OLD_PRINT_SETTINGS = ("auto", "remove", "keep")  # any other `old_print:` value names a mask file


def _empty(expected: str) -> PydanticCustomError:
    """A key written with no value: `hex:` or `background: #FFFFFF` (the '#' starts a comment)."""
    return PydanticCustomError("empty_value", "expected {expected}", {"expected": expected})


@dataclass(frozen=True)
class Given:
    """Marks a key that may be left out but, once written, needs a value: `background:` with nothing
    after it (often a colour whose unquoted '#' made it a comment) is an error, never the default.
    In the JSON Schema the key is its type without `null`."""

    expected: str  # what the key needs, in the user's words: "a colour like '#FFFFFF'"

    def __get_pydantic_core_schema__(self, source, handler):
        return core_schema.no_info_before_validator_function(_needs(self.expected).func, handler(source))

    def __get_pydantic_json_schema__(self, schema, handler):
        out = handler(schema)
        options = [s for s in out.get("anyOf", []) if s != {"type": "null"}]
        if len(options) == 1:
            del out["anyOf"]
            out.update(options[0])
        return out


def _needs(expected: str) -> BeforeValidator:
    """For a required key: written empty, it says what it needs rather than 'expected a string'."""
    def check(value: object) -> object:
        if value is None:
            raise _empty(expected)
        return value

    return BeforeValidator(check)


def _hex(value: str) -> str:
    if not HEX_RE.match(value):
        raise ValueError(f"expected a colour like '#1A2B3C', got '{value}'")
    if len(value) == 4:
        value = "#" + "".join(c * 2 for c in value[1:])
    return value.upper()


#: The longest id: ids name files and folders, and an output's file name joins up to four of them
#: (colour--background--placement--design.webp), which must stay within a file system's 255 bytes.
MAX_ID = 60


def _ident(value: str) -> str:
    if not ID_RE.match(value):
        raise ValueError(f"expected an id of letters, digits, '.', '_' or '-' (it names files), got '{value}'")
    if len(value) > MAX_ID:
        raise ValueError(f"expected an id of at most {MAX_ID} characters (it names files), got one of {len(value)}: "
                         f"'{value[:24]}...'")
    return value


def _size(value: object) -> tuple[int, int]:
    """'WIDTHxHEIGHT' or [width, height]: both forms get the same bounds (a canvas is allocated from it)."""
    if value is None:
        raise _empty("a size like '2048x2048'")
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(type(v) is int for v in value):
        w, h = value
    else:
        m = SIZE_RE.match(value) if isinstance(value, str) else None
        w, h = (int(m[1]), int(m[2])) if m else (0, 0)
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        shown = f"'{value}'" if isinstance(value, str) else str(value).replace("'", "")
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise ValueError(f"expected a size like '2048x2048' (16 to 8192 pixels a side), got {shown}")
    return (w, h)


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _endpoint(value: str) -> str:
    """Where the openai backend sends requests, with the API key. A catalog comes from many hands:
    it may name OpenAI itself or a server on this machine (a test double), nothing else."""
    try:
        url = urlsplit(value)
        host = (url.hostname or "").lower()
    except ValueError:
        url, host = None, ""
    ok = url is not None and url.username is None and url.password is None and (
        (url.scheme == "https" and host == "api.openai.com") or (url.scheme in ("http", "https") and host in LOOPBACK))
    if not ok:
        raise ValueError(f"a catalog may send the API key only to https://api.openai.com or to a server on this "
                         f"machine, got '{value[:80]}'; for another endpoint (e.g. Azure) set OPENAI_BASE_URL in "
                         "the environment instead")
    return value


def _corners(value: object) -> tuple[tuple[float, float], ...]:
    """A print area: four [x, y] corners, or a rectangle {x, y, width, height}."""
    if isinstance(value, dict):
        keys = {"x", "y", "width", "height"}
        if set(value) != keys:
            raise ValueError("expected a rectangle {x, y, width, height} of numbers, "
                             f"got keys {', '.join(map(str, value)) or 'none'}")
        if not all(_number(value[k]) for k in keys):
            bad = ", ".join(f"{k}: {value[k]}"[:40] for k in ("x", "y", "width", "height") if not _number(value[k]))
            raise ValueError(f"expected a rectangle {{x, y, width, height}} of finite numbers, got {bad}")
        x, y, w, h = (float(value[k]) for k in ("x", "y", "width", "height"))
        if w <= 0 or h <= 0:
            raise ValueError(f"a print area needs a positive width and height, got {w:g} x {h:g}")
        return ((x, y), (x + w, y), (x + w, y + h), (x, y + h))
    if (isinstance(value, list) and len(value) == 4
            and all(isinstance(p, list) and len(p) == 2 and all(_number(c) for c in p) for p in value)):
        return tuple((float(p[0]), float(p[1])) for p in value)
    raise ValueError("expected four corners [[x, y], [x, y], [x, y], [x, y]] (top-left, top-right, "
                     "bottom-right, bottom-left) or a rectangle {x, y, width, height}")


def _number(v: object) -> bool:
    """A finite number (not nan, inf, or an integer too large to be a coordinate)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


Hex = Annotated[str, _needs("a colour like '#1A2B3C'"), AfterValidator(_hex),
                Field(json_schema_extra={"pattern": HEX_RE.pattern})]
Ident = Annotated[str, AfterValidator(_ident),
                  Field(json_schema_extra={"pattern": ID_RE.pattern, "maxLength": MAX_ID})]
Size = Annotated[tuple[int, int], BeforeValidator(_size),
                 WithJsonSchema({"type": "string", "pattern": SIZE_RE.pattern, "examples": ["2048x2048"]})]
_POINT = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
_RECT = {"type": "object", "additionalProperties": False, "required": ["x", "y", "width", "height"],
         "properties": {k: {"type": "number"} for k in ("x", "y", "width", "height")}}
Corners = Annotated[tuple[tuple[float, float], ...], BeforeValidator(_corners), WithJsonSchema(
    {"oneOf": [{"type": "array", "items": _POINT, "minItems": 4, "maxItems": 4}, _RECT]})]
FilePath = Annotated[str, _needs("a file path"),
                     Field(min_length=1, description="a file path, relative to the catalog's folder")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, allow_inf_nan=False)


class OpenAIOptions(Strict):
    """Options of the `openai` backend (see the model table for what each model accepts)."""

    model: str = Field("gpt-image-2", description="GPT image model id")
    quality: Literal["low", "medium", "high", "xhigh", "max", "auto"] = "medium"
    mode: Literal["scene", "recolour", "design", "restyle"] = Field("scene", description="what the edit may change")
    product_lock: bool = Field(True, description="composite the original product pixels back after a scene edit")
    size: str = Field("auto", description="request size: 'auto' or WxH")
    input_fidelity: Literal["low", "high"] | None = Field(
        None, description="no current model accepts it: refused at validate time, never sent")
    complexity: Literal["low", "medium", "high"] | None = Field(
        None, description="gpt-image-2.6 planning effort (the model's default, high, when left out); lower changes "
                          "fewer unwanted parts: suits scene and background edits. Sent only to models that accept it")
    background: Literal["auto", "opaque", "transparent"] | None = None
    output_format: Literal["png", "jpeg", "webp"] = "png"
    base_url: Annotated[str, AfterValidator(_endpoint)] | None = Field(
        None, description="an OpenAI-compatible endpoint; the key comes from OPENAI_API_KEY")
    timeout: float = Field(300.0, gt=0, description="seconds to wait for one edit")
    concurrency: int = Field(4, ge=1, le=64)
    requests_per_minute: float | None = Field(None, gt=0)
    strategy: Literal["edit", "plates"] = Field(
        "edit", description="edit: one AI edit per variant; "
                            "plates: generate each prompt background once, composite locally")
    upload_purpose: Literal["vision", "user_data"] = Field(
        "vision", description="with --batch: the Files API purpose of uploaded input images (OpenAI does not say "
                              "which one edits need; vision is what public pipelines use)")


class LocalOptions(Strict):
    """Options of the offline `local` compositor."""

    shadow: bool = Field(True, description="soft contact shadow under the product")
    displacement: float = Field(6.0, ge=0, le=40, description="how far designs bend with the folds, in pixels")
    seed: int = Field(0, description="seed for any texture noise")


class Defaults(Strict):
    backend: str = Field("local", description="local | openai (or a plugin's name)")
    template: str = Field("product-photo.j2", description="prompt template, looked up in templates/ then the built-ins")
    openai: OpenAIOptions = OpenAIOptions()
    local: LocalOptions = LocalOptions()


class Channel(Strict):
    """An output: every variant is made once per channel."""

    id: Ident
    size: Size = Field(description="canvas size, WIDTHxHEIGHT")
    format: Literal["png", "jpeg", "webp"] = "webp"
    quality: int = Field(90, ge=1, le=100, description="JPEG/WebP quality")
    fill: float = Field(0.8, gt=0, le=1, description="fraction of the canvas the product fills")
    background: Annotated[Hex | None, Given("a colour like '#FFFFFF'")] = Field(
        None, description="force this background colour, e.g. '#FFFFFF' for marketplaces")
    shadow: Annotated[bool | None, Given("true or false (leave the key out for the default shadow)")] = Field(
        None, description="override the default contact shadow")


class Caption(Strict):
    """Text drawn on the image: a caption or a price badge."""

    text: str = Field(min_length=1, max_length=200)
    position: Literal["top", "bottom", "top-left", "top-right", "bottom-left", "bottom-right"] = "bottom"
    size: float = Field(0.05, gt=0, le=0.3, description="text height as a fraction of the canvas height")
    colour: Hex = "#1B1B1D"
    badge: bool = Field(False, description="draw the text on a rounded badge")




class CylinderArea(Strict):
    """A print area around an upright cylinder (a mug, bottle or tumbler) seen from the side: the
    design wraps around the body, foreshortened toward the silhouette, and what lies beyond the
    visible arc is cut off as on a real mug."""

    x: float = Field(description="left edge of the body (the silhouette), pixels")
    y: float = Field(description="top of the printed band, pixels")
    width: float = Field(gt=0, description="the body's visible width at the band's top (silhouette to silhouette)")
    height: float = Field(gt=0, description="height of the printed band")
    bottom_width: float | None = Field(None, gt=0, description="visible width at the band's bottom (tapered "
                                                                "bodies); default: the same as `width`")
    arc: float = Field(180.0, gt=0, le=360, description="degrees of the circumference the design's width spans "
                                                         "(over 180: the rest goes round the back, out of sight)")
    centre: float = Field(0.0, ge=-180, le=180, description="azimuth of the design's middle: 0 = facing the "
                                                            "camera, positive = turned to the right")
    ellipse: float = Field(0.0, ge=0, lt=1, description="the rims' minor/major axis ratio (a camera slightly "
                                                        "above the mug: about 0.1-0.2)")


class PrintFit(Strict):
    """Where a design sits inside its print area, and how its ink sits on the product."""

    print_area: Annotated[Corners | None, Given("four corners or a rectangle {x, y, width, height}")] = Field(
        None, description="four corners [[x,y],...] or {x, y, width, height}")
    cylinder: Annotated[CylinderArea | None, Given("a cylinder {x, y, width, height, ...}")] = Field(
        None, description="a print area wrapped around a cylinder (mugs, bottles), instead of print_area")
    scale: float = Field(1.0, gt=0, le=1, description="the design's size as a fraction of the largest that fits "
                                                      "the print area (keeping its aspect)")
    anchor: Literal[ANCHORS] = Field(  # type: ignore[valid-type]
        "center", description="where in the print area the design sits when smaller than it")
    offset: tuple[float, float] = Field(
        (0.0, 0.0), description="[dx, dy] shift of the design, as fractions of the print area's width and height")
    rotation: float = Field(0.0, ge=-180, le=180, description="degrees, clockwise, about the design's centre")
    finish: Literal[FINISHES] = Field(  # type: ignore[valid-type]
        "print", description="how the ink sits on the product: print (direct-to-garment: takes the fabric's "
                             "texture and folds), screen (plastisol: on top, a faint sheen), soft (water-based: "
                             "soaks in), embroidery (raised threads)")


class Placement(PrintFit):
    """A named print position of a product (front, back, left chest, sleeve): its print area, the
    designs it takes and optionally a photo of that side. Each variant prints one placement."""

    designs: Annotated[list[Ident] | None, Given("a list of design ids")] = Field(
        None, description="design ids printed here; default: the product's designs")
    image: Annotated[FilePath | None, Given("a file path")] = Field(
        None, description="a photo of this side (e.g. the back); default: the product's image. It is taken to be "
                          "the same kind of photo as the product's (cut-out or scene)")
    mask: Annotated[FilePath | None, Given("a file path")] = Field(
        None, description="with `image`: its silhouette mask (the product's masks are of the product's photo)")
    recolour_mask: Annotated[FilePath | None, Given("a file path")] = Field(
        None, description="with `image`: its dyeable area")


class PsdTemplate(Strict):
    """A mockup made in Photoshop: the design goes into one of its smart objects, warped as Photoshop
    would, under the layers above it (shading, highlights); the document is the variant's picture."""

    file: FilePath = Field(description="the PSD or PSB file, relative to the catalog's folder")
    smart_object: Annotated[str, _needs("a layer name")] = Field(
        min_length=1, description="the smart-object layer that receives the design: its name, or its path "
                                  "'Group/Layer' when names repeat")
    colour_layer: Annotated[str | None, Given("a layer name")] = Field(
        None, description="the layer that carries the garment colour: a solid-colour fill layer or a layer with a "
                          "Color Overlay (its colour is set) or a pixel layer (recoloured, its shading kept); default: "
                          "no colour change")
    fit: Literal["contain", "cover"] = Field(
        "contain", description="how a design fills the smart object's canvas, keeping its aspect: contain = all "
                               "of it inside, cover = the whole canvas covered (the overflow cut off)")


class _ProductKeys(Strict):
    sku: Ident
    name: str = Field(min_length=1)
    image: Annotated[FilePath | None, Given("a file path")] = Field(
        None, description="product photo; its alpha (or `mask`) is the silhouette (a product has an image or a psd)")
    psd: Annotated[PsdTemplate | None, Given("a PSD template {file, smart_object, ...}")] = Field(
        None, description="a Photoshop mockup template instead of a photo: the design goes into its smart object")
    mask: Annotated[FilePath | None, Given("a file path")] = Field(
        None, description="silhouette mask (white = product) for photos without alpha")
    recolour_mask: Annotated[FilePath | None, Given("a file path")] = Field(
        None, description="dyeable area (white = dye); default: the silhouette")
    designs: Annotated[list[Ident] | None, Given("a list of design ids")] = Field(
        None, description="design ids placed on the print area")
    placements: Annotated[dict[Ident, Placement] | None, Given("a mapping of placement names to print areas")] = Field(
        None, description="named print positions (front, back, sleeve...), each with its print area and designs; "
                          "instead of the product's own print_area")
    old_print: Annotated[str, _needs("auto, remove, keep or a mask file")] = Field(
        "auto", min_length=1, description="a print the photo already carries in the print area: auto = looked for; "
                                          "one found is removed (inpainted from the fabric around it) with a warning; "
                                          "remove = removed without a warning; keep = left as it is (it belongs to "
                                          "the product); or a mask file (white = the old print) to remove exactly that")
    material: Literal["auto", "fabric", "glazed"] = Field(
        "auto", description="how the recolour shades: fabric (dark garments shade more strongly than light ones) "
                            "or glazed (ceramic: the shading is reflections, the same in every colour); auto = "
                            "glazed when a print area is a cylinder, else fabric")
    colours: Annotated[list[Ident] | None,
                       Given("a list of colour ids (leave the key out for every colour)")] = Field(
        None, description="colour ids; default: every colour")
    backgrounds: Annotated[list[Ident] | None,
                           Given("a list of background ids (leave the key out for every background)")] = Field(
        None, description="background ids; default: every background")
    template: Annotated[str | None, Given("a template file name")] = Field(
        None, description="prompt template for this product")
    mode: Annotated[Literal["scene", "recolour", "design", "restyle"] | None,
                    Given("one of 'scene', 'recolour', 'design' or 'restyle'")] = Field(
        None, description="openai edit mode")
    caption: Annotated[Caption | None, Given("a caption (a mapping with text: ...)")] = None
    photo: Literal["auto", "cutout", "scene"] = Field(
        "auto", description="what the photo shows when it has no alpha and no `mask`: cutout = the product on a "
                            "plain backdrop (cut out and placed on each background), scene = the product worn or in "
                            "a setting (the photo is kept as shot, only the garment is recoloured and printed on; "
                            "the catalog's backgrounds are not used: its variants have the background id "
                            "'as-shot'), auto = decided from the photo")
    scene_fit: Literal["crop", "pad"] = Field(
        "crop", description="how a scene photo fills a channel of another aspect: crop = cover the canvas, centred; "
                            "pad = show the whole photo, padded with the channel's background colour or a blurred "
                            "extension of its edges")



class Product(PrintFit, _ProductKeys):
    """A product: its photo and what is made of it. Its own keys come first (error messages list
    them in this order), then where its design goes (`PrintFit`)."""


class Colour(Strict):
    id: Ident
    name: str = Field(min_length=1)
    hex: Hex


class Gradient(Strict):
    type: Literal["linear", "radial"] = "linear"
    colours: list[Hex] = Field(min_length=2, max_length=8)
    angle: float = Field(180.0, description="linear gradients: degrees as in CSS, 180 = top to bottom")


class Background(Strict):
    """Exactly one of colour, gradient, sweep, image or prompt."""

    id: Ident
    name: str = Field(min_length=1)
    colour: Annotated[Hex | None, Given("a colour like '#1A2B3C'")] = None
    gradient: Annotated[Gradient | None, Given("a gradient (a mapping with colours: [...])")] = None
    sweep: Annotated[Hex | None, Given("a colour like '#1A2B3C'")] = Field(
        None, description="a studio sweep in this base colour")
    image: Annotated[FilePath | None, Given("a file path")] = None
    prompt: Annotated[str | None, Given("a scene description")] = Field(
        None, min_length=1, description="a scene for AI backends to generate")

    @property
    def kind(self) -> str:
        for k in ("image", "gradient", "sweep", "colour"):
            if getattr(self, k) is not None:
                return k
        return AS_SHOT if self.id == AS_SHOT and self.prompt is None else "prompt"


class Design(Strict):
    id: Ident
    name: Annotated[str | None, Given("a name (or leave the key out)")] = None
    image: FilePath


class Rule(Strict):
    """A matrix rule: a combination of ids. Missing keys match anything."""

    product: Annotated[str | None, Given("a product sku (leave the key out to match any)")] = None
    colour: Annotated[str | None, Given("a colour id (leave the key out to match any)")] = None
    background: Annotated[str | None, Given("a background id (leave the key out to match any)")] = None
    design: Annotated[str | None, Given("a design id (leave the key out to match any)")] = None
    channel: Annotated[str | None, Given("a channel id (leave the key out to match any)")] = None
    placement: Annotated[str | None, Given("a placement name (leave the key out to match any)")] = None


class Matrix(Strict):
    exclude: list[Rule] = Field(default_factory=list)
    include: list[Rule] = Field(default_factory=list)


DEFAULT_CHANNEL = {"id": "default", "size": "1024x1024", "format": "png"}


class CatalogModel(Strict):
    """A mockups catalog."""

    version: Literal[1] = 1
    defaults: Defaults = Defaults()
    channels: list[Channel] = Field(default_factory=lambda: [Channel(**DEFAULT_CHANNEL)], min_length=1)
    products: list[Product] = Field(min_length=1)
    colours: list[Colour] = Field(min_length=1)
    backgrounds: list[Background] = Field(min_length=1)
    designs: list[Design] = Field(default_factory=list)
    matrix: Matrix = Matrix()


SECTION_KEYS: dict[tuple, type[BaseModel]] = {
    (): CatalogModel, ("defaults",): Defaults, ("defaults", "openai"): OpenAIOptions,
    ("defaults", "local"): LocalOptions, ("channels", 0): Channel, ("products", 0): Product,
    ("colours", 0): Colour, ("backgrounds", 0): Background, ("designs", 0): Design,
    ("matrix",): Matrix, ("matrix", "exclude", 0): Rule, ("matrix", "include", 0): Rule,
    ("products", 0, "caption"): Caption, ("products", 0, "psd"): PsdTemplate, ("backgrounds", 0, "gradient"): Gradient,
    ("products", 0, "cylinder"): CylinderArea, ("products", 0, "placements", "*"): Placement,
    ("products", 0, "placements", "*", "cylinder"): CylinderArea,
}


def known_keys(path: tuple) -> list[str]:
    """The keys allowed at a key path (list indexes normalised), for 'did you mean'."""
    norm = tuple(0 if isinstance(p, int) else "*" if k > 0 and path[k - 1] == "placements" else p
                 for k, p in enumerate(path))
    model = SECTION_KEYS.get(norm)
    return list(model.model_fields) if model else []


def json_schema() -> dict:
    """The catalog's JSON Schema (what `mockups schema` prints and `catalog.schema.json` holds)."""
    schema = CatalogModel.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mockups catalog"
    for model in schema.get("$defs", {}).values():  # a key that may not be null has no `default: null`
        for prop in model.get("properties", {}).values():
            if "default" in prop and prop["default"] is None and "anyOf" not in prop:
                del prop["default"]
    return schema
