"""The request checks and answers of the fake OpenAI Images API (see tests/fake_openai.py).

Field names and Literal values come from the installed `openai` package's request types, so the
fake refuses what the real API refuses as far as the SDK describes it; model rules follow the
fact sheet (shared/openai-images.md). Which models are gone (404 `model_not_found`) is read from
mockups' model table (`ModelTable.gone_models`) on the date of `openai_models.today()` (or the
date a test gives the fake), so there is one list of shut-down models, not two.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import io
import math
import re
import time
import typing
from datetime import date

from openai.types import image_edit_params, image_generate_params, image_model
from PIL import Image

from mockups.backends.openai import models as openai_models

EDIT_TYPES = typing.get_type_hints(image_edit_params.ImageEditParamsNonStreaming)
GENERATE_TYPES = typing.get_type_hints(image_generate_params.ImageGenerateParamsNonStreaming)
JSON_EDIT_FIELDS = {"images", "mask", "prompt", "model", "n", "quality", "input_fidelity", "size", "output_format",
                    "output_compression", "moderation", "background", "stream", "partial_images", "user"}
FILE_FIELDS = {"image", "mask", "markup"}
SDK_MODELS = set(typing.get_args(image_model.ImageModel))  # the names the installed SDK knows
OUTPUT_TOKENS = {"low": 196, "medium": 439, "high": 1756, "xhigh": 3122, "max": 7024, "auto": 439}
SIZE_RE = re.compile(r"^(\d+)x(\d+)$")
COMPLEXITY_PREFIX = "gpt-image-2.6"  # the fact sheet: complexity is a gpt-image-2.6 setting


def models(today: date | None = None) -> set[str]:
    """The models the fake serves on `today`: the SDK's names less those the model table says are gone."""
    return SDK_MODELS - openai_models.ModelTable.load().gone_models(today)

if typing.TYPE_CHECKING:
    from tests.fake_openai import Recorded


def literals(tp) -> set | None:
    """The Literal values a field accepts, or None if it accepts any string."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) is typing.Literal:
        return set(args)
    if tp is str or not args:
        return None
    found: set = set()
    for a in args:
        if a is type(None):
            continue
        sub = literals(a)
        if sub is None:
            return None
        found |= sub
    return found


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, param: str | None = None,
                 type_: str = "invalid_request_error", **extra):
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": type_, "param": param, "code": code, **extra}}


def parse_multipart(content_type: str, body: bytes, file_fields=FILE_FIELDS) -> tuple[dict, list[dict]]:
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    if not msg.is_multipart():
        raise ApiError(400, "invalid_request", "expected a multipart/form-data body")
    fields, files = {}, []
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        base = re.sub(r"\[.*$", "", name or "")
        if base in file_fields:
            files.append({"field": name, "filename": part.get_filename(), "content_type": part.get("Content-Type"),
                          "bytes": len(payload), "data": payload, "sha256": hashlib.sha256(payload).hexdigest()})
        else:
            fields[name] = payload.decode()
    return fields, files


def check_fields(fields: dict, allowed: dict, extra_allowed=()) -> None:
    for name, value in fields.items():
        base = re.sub(r"\[.*$", "", name)
        if base not in allowed and base not in extra_allowed:
            raise ApiError(400, "unknown_parameter", f"Unknown parameter: '{name}'.", name)
        choices = literals(allowed[base]) if base in allowed else None
        if choices and value is not None and value not in choices and str(value).lower() not in {
                str(c).lower() for c in choices}:
            raise ApiError(400, "invalid_value", f"Invalid value: '{value}'. Supported values are: "
                           f"{', '.join(sorted(map(str, choices)))}.", name)


def check_model_rules(f: dict, edit: bool, today: date | None = None) -> None:
    model = f.get("model") or ""
    if model not in models(today):
        raise ApiError(404, "model_not_found", f"The model `{model}` does not exist or you do not have access to it.",
                       "model")
    if len(f.get("prompt") or "") > 32000 or not f.get("prompt"):
        raise ApiError(400, "string_above_max_length" if f.get("prompt") else "missing_required_parameter",
                       "prompt must be 1 to 32000 characters", "prompt")
    if not 1 <= int(f.get("n") or 1) <= 10:
        raise ApiError(400, "integer_above_max_value", "n must be between 1 and 10", "n")
    fidelity = f.get("input_fidelity")
    if fidelity is not None and edit:
        if model.startswith("gpt-image-1-mini") and fidelity != "low":
            raise ApiError(400, "invalid_value", "gpt-image-1-mini supports input_fidelity low only", "input_fidelity")
        if not model.startswith(("gpt-image-1.5", "gpt-image-1-mini")):
            raise ApiError(400, "invalid_input_fidelity_model", f"input_fidelity is not supported for {model}",
                           "input_fidelity")
    if f.get("complexity") is not None and not model.startswith(COMPLEXITY_PREFIX):
        raise ApiError(400, "unsupported_parameter", f"complexity is not supported for {model}", "complexity")
    if f.get("quality") in ("xhigh", "max") and not model.startswith("gpt-image-2.5"):
        raise ApiError(400, "invalid_value", f"quality {f['quality']} is not supported for {model}", "quality")
    if f.get("quality") == "standard" or f.get("quality") == "hd":
        raise ApiError(400, "invalid_value", "quality standard/hd were for retired models", "quality")
    fmt = f.get("output_format") or "png"
    if fmt not in ("png", "jpeg", "webp"):
        raise ApiError(400, "invalid_value", f"output_format {fmt} needs project access", "output_format")
    if f.get("background") == "transparent" and fmt == "jpeg":
        raise ApiError(400, "invalid_value", "transparent backgrounds need png or webp", "background")
    if f.get("output_compression") is not None and fmt == "png":
        raise ApiError(400, "invalid_value", "output_compression needs jpeg or webp", "output_compression")
    check_size(model, f.get("size") or "auto")


def check_size(model: str, size: str) -> None:
    if size in ("auto", "1024x1024", "1536x1024", "1024x1536"):
        return
    m = SIZE_RE.match(size)
    wxh = model.startswith(("gpt-image-2", "gpt-image-2.5", "gpt-image-2.6"))
    if not m or not wxh:
        raise ApiError(400, "invalid_value", f"Invalid size '{size}' for {model}.", "size")
    w, h = int(m[1]), int(m[2])
    if w % 16 or h % 16 or not 1 / 3 <= w / h <= 3 or max(w, h) > 3840 or w * h > 8294400:
        raise ApiError(400, "invalid_value", f"Invalid size '{size}': sides divisible by 16, aspect 1:3 to 3:1, "
                                             "at most 3840x2160.", "size")


def decode_images(record: Recorded, files: list[dict]) -> None:
    images = [f for f in files if f["field"].startswith("image")]
    if not 1 <= len(images) <= 16:
        raise ApiError(400, "invalid_value", "between 1 and 16 images are required", "image")
    for i, f in enumerate(files):
        param = f"image[{i}]" if f["field"] == "image[]" else f["field"]
        if not f["filename"] or not (f["content_type"] or "").startswith("image/"):
            raise ApiError(400, "unsupported_file_mimetype", f"Invalid file '{param}': unsupported mimetype "
                           f"('{f['content_type']}'). Supported file formats are 'image/jpeg', 'image/png', and "
                           "'image/webp'.", param)
        limit = 4 * 2**20 if f["field"] == "mask" else 50 * 2**20
        if f["bytes"] >= limit:
            raise ApiError(400, "image_too_large", f"{param} is too large", param)
        try:
            im = Image.open(io.BytesIO(f["data"]))
            im.load()
        except Exception:
            raise ApiError(400, "invalid_image_file", f"Invalid image file or mode for image {i + 1}", param) from None
        f["size"] = im.size
        if f["field"] == "mask":
            if im.format != "PNG" or "A" not in im.getbands():
                raise ApiError(400, "invalid_value", "The mask must be a PNG with an alpha channel", "mask")
            record.mask = im
        elif f["field"] != "markup":
            record.images.append(im)
    if record.mask is not None and record.mask.size != record.images[0].size:
        raise ApiError(400, "invalid_value", f"Mask size {record.mask.size} does not match image size "
                                             f"{record.images[0].size}", "mask")
    if record.mask is not None and any(f["field"] == "markup" for f in files):
        raise ApiError(400, "invalid_value", "markup cannot be combined with mask", "markup")


# --- the answer ----------------------------------------------------------------------------------

def prompt_colour(prompt: str) -> tuple[int, int, int]:
    d = hashlib.sha256(prompt.encode()).digest()
    return d[0], d[1], d[2]


def out_size(size: str, fallback: tuple[int, int]) -> tuple[int, int]:
    m = SIZE_RE.match(size or "")
    return (int(m[1]), int(m[2])) if m else fallback


def render_edit(record: Recorded, size: tuple[int, int]) -> Image.Image:
    colour = Image.new("RGB", size, prompt_colour(record.fields.get("prompt", "")))
    base = record.images[0].convert("RGB").resize(size, Image.Resampling.BILINEAR)
    if record.mask is None:
        out = Image.blend(base, colour, 0.5)
        editable = Image.new("L", size, 255)  # without a mask: a frame counts as the background
        editable.paste(0, (size[0] // 8, size[1] // 8, size[0] - size[0] // 8, size[1] - size[1] // 8))
        return _transparent(out, editable) if record.fields.get("background") == "transparent" else out
    editable = record.mask.getchannel("A").resize(size, Image.Resampling.NEAREST).point(lambda a: 255 if a == 0 else 0)
    redrawn = base.point(lambda v: min(255, v + 12))
    out = Image.composite(colour, redrawn, editable)
    box = editable.getbbox()
    if len(record.images) > 1 and box:
        ref = record.images[1].convert("RGBA")
        ref.thumbnail((max(1, (box[2] - box[0]) // 2), max(1, (box[3] - box[1]) // 2)))
        out.paste(ref, (box[0], box[1]), ref)
    return _transparent(out, editable) if record.fields.get("background") == "transparent" else out


def _transparent(image: Image.Image, background: Image.Image) -> Image.Image:
    """A transparent background, as a model makes it: the background (L, 255) becomes alpha 0."""
    out = image.convert("RGBA")
    out.putalpha(background.point(lambda v: 0 if v >= 128 else 255))
    return out


def image_tokens(size: tuple[int, int]) -> int:
    w, h = size
    s = min(1.0, 2048 / max(w, h))
    w, h = w * s, h * s
    s = min(1.0, 768 / min(w, h))
    return 85 + 170 * math.ceil(w * s / 512) * math.ceil(h * s / 512)


def answer(record: Recorded) -> dict:
    f = record.fields
    edit = record.path.endswith("/edits")
    size = out_size(f.get("size"), record.images[0].size if edit and record.images else (1024, 1024))
    if edit:
        image = render_edit(record, size)
    else:
        image = Image.linear_gradient("L").resize(size).convert("RGB")
        image = Image.blend(image, Image.new("RGB", size, prompt_colour(f.get("prompt", ""))), 0.6)
    fmt = f.get("output_format") or "png"
    buf = io.BytesIO()
    image.save(buf, {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[fmt])
    text = math.ceil(len(f.get("prompt", "")) / 4)
    img_in = sum(image_tokens(im.size) for im in record.images)
    quality = f.get("quality") or "auto"
    out = round(OUTPUT_TOKENS.get(quality, 439) * size[0] * size[1] / 1024 ** 2)
    return {"created": int(time.time()), "data": [{"b64_json": base64.b64encode(buf.getvalue()).decode()}],
            "background": "transparent" if f.get("background") == "transparent" else "opaque",
            "output_format": fmt, "quality": "medium" if quality == "auto" else quality,
            "size": f"{size[0]}x{size[1]}",
            "usage": {"input_tokens": text + img_in, "input_tokens_details": {"text_tokens": text,
                                                                             "image_tokens": img_in},
                      "output_tokens": out, "total_tokens": text + img_in + out,
                      "output_tokens_details": {"image_tokens": out, "text_tokens": 0}}}


def check_json_edit(record: Recorded) -> None:
    """The JSON form of /images/edits: `images` (and `mask`) as {image_url} or {file_id}."""
    f = record.fields
    check_fields({k: v for k, v in f.items() if k not in ("images", "mask")}, {
        **{k: v for k, v in EDIT_TYPES.items() if k in JSON_EDIT_FIELDS}, "moderation":
        GENERATE_TYPES["moderation"]})
    refs = f.get("images") or []
    for ref in refs + ([f["mask"]] if "mask" in f else []):
        if not isinstance(ref, dict) or len(ref) != 1 or next(iter(ref)) not in ("image_url", "file_id"):
            raise ApiError(400, "invalid_value", "each image needs exactly one of image_url or file_id", "images")
    if not 1 <= len(refs) <= 16:
        raise ApiError(400, "invalid_value", "between 1 and 16 images are required", "images")
    for ref in refs:  # a data URL is decoded so the answer can show it; others get a grey stand-in
        url = ref.get("image_url", "")
        if url.startswith("data:image/"):
            record.images.append(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
        else:
            record.images.append(Image.new("RGB", (256, 256), (128, 128, 128)))
