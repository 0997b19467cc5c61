"""The `openai` backend: GPT image edits through the official SDK, one request per variant.

Per job: the product is cut out, dyed and printed locally as the variant needs (see
`openai_images.plan_edit` for each mode), placed on the variant's background at the request size,
and sent to `images.edit` with a mask (transparent = editable). The answer is fitted to the
channel's canvas and the product pixels the edit must not change are composited back (product
lock). A transparent background (`background: transparent`) is kept as alpha where the channel's
format can hold it (png, webp) and flattened onto white, with a warning, where it cannot (jpeg).
`complexity` and `input_fidelity` are sent only to a model whose table entry accepts them. With
`strategy: plates`, a background that is only a prompt is generated once with `images.generate`,
cached on disk, and the product is composited on it locally.

The client is made with `max_retries=0`: the runner retries (with its shared rate limiter), so
errors are mapped to `TransientBackendError` (429, 5xx, timeouts, connection errors, with the
server's Retry-After), `FatalBackendError` (no credit, bad key, no access, unknown model),
`ImageInputError` (an input the API refused) or `BackendError` (moderation: the build goes on).
The API key is read by the SDK from OPENAI_API_KEY and never copied anywhere else.
"""

from __future__ import annotations

import email.utils
import os
import re
import threading
import time
from dataclasses import dataclass

import numpy as np
import openai
from openai.types import ImagesResponse
from PIL import Image

from mockups import imaging
from mockups._ratelimit import RateLimiter
from mockups.backends.base import Backend, Rendered
from mockups.backends.local import Compositor, print_corners
from mockups.backends.openai import images as oi
from mockups.backends.openai import models as openai_models
from mockups.backends.openai._scrub import scrub
from mockups.backends.openai.batch import Batches
from mockups.backends.openai.batch import pending_keys as batch_pending_keys
from mockups.backends.openai.check import ALPHA_FORMATS, check_jobs
from mockups.backends.openai.images import decode
from mockups.backends.openai.models import Estimate, ModelTable, Upload, parse_size
from mockups.backends.openai.plates import PlateStore, job_cost
from mockups.catalog.schema import OpenAIOptions
from mockups.errors import BackendError, FatalBackendError, ImageInputError, TransientBackendError

__all__ = ["OpenAIBackend", "edit_by_reference", "image_ref", "map_error", "retry_after", "scrub", "strategy_costs"]

QUOTA_CODES = {"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"}
IMAGE_CODES = {"invalid_image_file", "unsupported_file_mimetype", "invalid_image_format", "image_too_large",
               "invalid_image", "image_file_too_large", "invalid_mask_size", "invalid_image_mode"}
def retry_after(headers) -> float | None:
    """Seconds the server asked us to wait: retry-after-ms, else retry-after (seconds or a date)."""
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            try:  # an HTTP date; anything else (empty, "soon") says nothing: the next header, else backoff
                parsed = email.utils.parsedate_to_datetime(value) if name == "retry-after" else None
            except (TypeError, ValueError, IndexError, OverflowError):
                parsed = None
            if parsed is None:
                continue
            seconds = parsed.timestamp() - time.time()
        if seconds != seconds:  # NaN
            continue
        return seconds if 0 <= seconds < 24 * 3600 else None
    return None


def map_error(exc: Exception, *, model: str, timeout: float, inputs: dict[str, str] | None = None) -> BackendError:
    """An SDK exception as the error the runner knows how to handle (messages never carry the key)."""
    if isinstance(exc, openai.APITimeoutError):
        return TransientBackendError(f"no answer from OpenAI within {timeout:g} s (image edits take 60-150 s; "
                                     "raise defaults.openai.timeout if this keeps happening)")
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc
        return TransientBackendError(f"could not reach the OpenAI API: {scrub(cause) or type(cause).__name__}")
    if isinstance(exc, openai.APIStatusError):
        return _status_error(exc, model, inputs or {})
    if isinstance(exc, openai.APIError):  # e.g. a response that does not match the API's schema
        return BackendError(f"OpenAI's answer could not be used: {scrub(exc)}")
    if isinstance(exc, openai.OpenAIError):
        return FatalBackendError(f"the OpenAI client could not start: {scrub(exc)}; set OPENAI_API_KEY to "
                                 "your API key (https://platform.openai.com/api-keys)")
    return BackendError(f"{type(exc).__name__}: {scrub(exc)}")


def _status_error(exc: openai.APIStatusError, model: str, inputs: dict[str, str]) -> BackendError:
    body = exc.body if isinstance(exc.body, dict) else {}
    status, code, param = exc.status_code, exc.code or body.get("code") or "", exc.param or ""
    message = scrub(body.get("message") or exc.message)
    what = f"{status} {code}".strip()
    if code in QUOTA_CODES:
        return FatalBackendError(f"OpenAI says this account is out of credit ({what}): add credit or raise the "
                                 "usage limit at https://platform.openai.com/settings/organization/billing, then "
                                 "build again (finished variants are kept)")
    if status == 401:
        return FatalBackendError(f"OpenAI rejected the API key ({what}): set OPENAI_API_KEY to a valid key of "
                                 "this project (https://platform.openai.com/api-keys)")
    if status == 403:
        return FatalBackendError(f"OpenAI refused access to '{model}' ({what}): {message} If it asks for "
                                 "organisation verification, verify at https://platform.openai.com/settings/"
                                 "organization/general (it takes a few minutes) or choose another model")
    if status == 404:
        info = ModelTable.load().lookup(model)
        hint = f"; use '{info.replacement}'" if info and info.replacement else ""
        return FatalBackendError(f"model '{model}' was not found ({what}): it is shut down, misspelt, or not "
                                 f"available to this project; check defaults.openai.model{hint}")
    if status in (408, 409, 429) or status >= 500:
        return TransientBackendError(f"OpenAI is busy or failing ({what}): {message}",
                                     retry_after=retry_after(exc.response.headers))
    if code == "moderation_blocked":
        details = body.get("moderation_details") or {}
        cats = ", ".join(details.get("categories") or []) or "not given"
        return BackendError(f"blocked by OpenAI's moderation at the {details.get('moderation_stage', 'unknown')} "
                            f"stage (categories: {cats}); change this variant's prompt or images")
    if code in IMAGE_CODES or param.startswith(("image", "mask")):
        return ImageInputError(f"{_input_name(param, inputs)}: OpenAI refused it ({what}): {message}")
    return BackendError(f"OpenAI refused the request ({what}{', param ' + param if param else ''}): {message}")


def _input_name(param: str, inputs: dict[str, str]) -> str:
    m = re.match(r"image(?:\[(\d+)\])?", param)
    names = list(inputs.values())
    if m and names:
        return names[min(int(m[1] or 0), len(names) - 1)]
    if param.startswith("mask") and names:
        return f"the mask made from {names[0]}"
    return ", ".join(names) or "an input image"


def edit_by_reference(client: openai.OpenAI, *, images: list[str], prompt: str, mask: str | None = None,
                      timeout: float | None = None, **fields) -> ImagesResponse:
    """An edit whose inputs are https/data URLs or uploaded file ids: the JSON form of /images/edits."""
    body = {"images": [image_ref(i) for i in images], "prompt": prompt,
            **{k: v for k, v in fields.items() if v is not None}}
    if mask is not None:
        body["mask"] = image_ref(mask)
    return client.post("/images/edits", body=body, cast_to=ImagesResponse,
                       options={"timeout": timeout} if timeout is not None else {})


def image_ref(value: str) -> dict[str, str]:
    """{'image_url': ...} for an http(s) or data URL, {'file_id': ...} for a file id."""
    if value.startswith(("https://", "http://", "data:image/")):
        return {"image_url": value}
    if value.startswith("file-"):
        return {"file_id": value}
    raise ImageInputError(f"'{value[:60]}': expected an https URL, a data:image/ URL or a file id (file-...)")


# The runner's shared limiter counts job starts; a job spends a moment preparing its images before
# the request leaves, so the server (which counts arrivals) could see one request too many in a
# minute. A second limiter sits right before each HTTP call, over a window with a small margin.
SEND_WINDOW = 60.5  # seconds


@dataclass
class EditRequest:
    """One edit as it is sent: the plan it came from, its images and mask as (name, PNG bytes),
    the inputs' names for error messages, and the request's fields."""

    plan: oi.EditPlan
    uploads: list[tuple[str, bytes]]
    mask: tuple[str, bytes] | None
    inputs: dict[str, str]
    fields: dict


def options_with_defaults(options: dict) -> dict:
    return {**OpenAIOptions().model_dump(), "strategy": "edit", "cache_dir": None, **options}


class OpenAIBackend(Backend):
    name = "openai"
    version = "1"
    parallelism = "thread"

    def __init__(self, options: dict | None = None):
        super().__init__(options)
        self.opts = options_with_defaults(self.options)
        self.table = ModelTable.load()
        self._client: openai.OpenAI | None = None
        self._lock = threading.Lock()  # the client
        # the local compositor's work, shared by the worker threads (wider caches: workers interleave variants)
        self.compositor = Compositor(cache_sizes={"looks": 64, "plates": 64, "design_images": 16}, thread_safe=True)
        self.limiter = RateLimiter(self.opts.get("requests_per_minute"), window=SEND_WINDOW)
        self.plates = PlateStore(self.opts.get("cache_dir"))

    # --- the Backend interface -------------------------------------------------------------------

    def default_concurrency(self) -> int:
        return int(self.opts.get("concurrency") or 4)

    def job_params(self, catalog, variant) -> dict:
        o = self.opts
        mode = variant.product.mode or o["mode"]
        params = {k: o[k] for k in ("model", "quality", "product_lock", "size", "input_fidelity", "background",
                                    "output_format")}
        params["mode"] = mode
        if mode == "scene":  # the strategy only changes how scenes are made
            params["strategy"] = o.get("strategy") or "edit"
        if o.get("complexity") is not None:  # only when set: unset, the keys of earlier builds stay valid
            params["complexity"] = o["complexity"]
        if o.get("background") == "transparent":  # outputs were flattened before: these keys change
            params["alpha"] = "kept" if _keeps_alpha(variant.channel) else "flattened"
        return params

    def check(self, catalog, jobs) -> list:
        return check_jobs(self, catalog, jobs)

    def estimate(self, job) -> float:
        if job.variant.scene:  # made locally (see render)
            return 0.0
        cost = job_cost(self, job, self.plates.charge_once)
        return cost * self.table.batch_discount if self.opts.get("batch") and self.batchable(job) else cost

    def unpriced(self, job) -> str | None:
        model = job.params.get("model")
        if job.variant.scene or self.table.rates(model) is not None:
            return None
        return (f"the model {model} has no prices in mockups' model table (mockups/resources/openai-models.json), so "
                f"its cost is neither estimated nor counted")

    def plan_notes(self, jobs) -> list[str]:
        costs = strategy_costs(jobs, cache_dir=self.opts.get("cache_dir"), batch=bool(self.opts.get("batch")))
        return [f"openai strategies for what is stale: edit ${costs['edit']:.2f}, plates ${costs['plates']:.2f} "
                "(defaults.openai.strategy)"]

    def render(self, job) -> Rendered:
        p = job.params
        v = job.variant
        if v.scene:  # the photo's own setting is kept: only the garment changes, which the compositor does
            return self.local_render(job, [f"{v.product.sku} is a scene photo: its own setting is kept, made "
                                           f"locally (no OpenAI request)"])
        if p["mode"] == "scene" and p.get("strategy") == "plates":
            return self.plates.render(self, job)
        if p["mode"] == "scene" and p["product_lock"] and v.channel.background:
            return self.local_render(job, [f"channel '{v.channel.id}' forces the background "
                                           f"{v.channel.background}: composited locally, no OpenAI request"])
        return self._render_edit(job)

    # --- the Batch API (engine.batching) ----------------------------------------------------------

    def batchable(self, job, strategy: str | None = None) -> bool:
        """Whether `render` would send this job as an edit (not made locally, not a plate), under
        `strategy` (default: the job's own)."""
        p, v = job.params, job.variant
        return not (v.scene or (p["mode"] == "scene" and (strategy or p.get("strategy")) == "plates")
                    or (p["mode"] == "scene" and p["product_lock"] and v.channel.background))

    def batch_pending(self, cache_dir) -> set[str]:
        """The job keys in batches recorded in this cache folder (read from it: no request)."""
        return batch_pending_keys(cache_dir)

    def batches(self, cache_dir) -> Batches:
        return Batches(self.client(), cache_dir, purpose=self.opts.get("upload_purpose") or "vision")

    def batch_line(self, job, batches: Batches) -> dict:
        """The JSON body of this job's edit, its images uploaded (each distinct one once)."""
        request = self.edit_request(job)
        body = {**request.fields, "images": [{"file_id": batches.upload(data, name)}
                                             for name, data in request.uploads]}
        if request.mask is not None:
            body["mask"] = {"file_id": batches.upload(request.mask[1], request.mask[0])}
        return body

    def batch_rendered(self, job, response: ImagesResponse) -> Rendered:
        """A batched edit's answer made into the variant's image, as a direct edit's is, at the batch price."""
        return self.edit_result(job, self.plan(job), response, discount=self.table.batch_discount)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # --- shared pieces ---------------------------------------------------------------------------

    def client(self) -> openai.OpenAI:
        if self._client is not None:
            return self._client
        with self._lock:
            if self._client is None:
                timeout = float(self.opts["timeout"])
                try:
                    self._client = openai.OpenAI(base_url=self.opts.get("base_url") or None, max_retries=0,
                                                 timeout=openai.Timeout(timeout, connect=min(timeout, 15.0)))
                except openai.OpenAIError as e:
                    raise map_error(e, model=self.opts["model"], timeout=timeout) from None
            return self._client

    def call(self, fn, *, inputs: dict[str, str] | None = None, **kwargs) -> ImagesResponse:
        self.limiter.acquire()
        try:
            return fn(**kwargs)
        except openai.OpenAIError as e:
            raise map_error(e, model=self.opts["model"], timeout=float(self.opts["timeout"]),
                            inputs=inputs) from None

    def request_size(self, job) -> str:
        w, h = job.variant.channel.size
        return self.table.request_size(job.params["model"], job.params["size"], w / h)

    def cost_of(self, model: str, usage: dict | None, estimate: float,
                basis: str | None = None) -> tuple[float, list[str]]:
        cost = self.table.usage_cost(model, usage)
        if cost is None:
            how = f" ({basis})" if basis else ""
            return estimate, [f"no usage or price for '{model}': recorded the estimate ${estimate:.4f}{how}"]
        return cost, []

    def local_parts(self, job, design: bool):
        """(product prep, the product as the variant looks), made by the local compositor."""
        return self.compositor.product(job), self.compositor.look(job, design=design)

    def design(self, job) -> Image.Image:
        return self.compositor.design_image(job)

    def background(self, job, size: tuple[int, int]) -> Image.Image:
        return self.compositor.background_plate(job, size)

    def local_render(self, job, warnings: list[str]) -> Rendered:
        rendered = self.compositor.render(job)
        return Rendered(image=rendered.image, model=None, warnings=list(rendered.warnings) + warnings)

    def caption(self, image: Image.Image, job) -> Image.Image:
        cap = job.variant.product.caption
        return Compositor.caption(image, cap) if cap else image

    # --- one edit --------------------------------------------------------------------------------

    def plan(self, job) -> oi.EditPlan:
        """The images of one edit (also used by tests to know what the product lock must give)."""
        p, v = job.params, job.variant
        mode = p["mode"]
        product, look = self.local_parts(job, design=mode in ("scene", "restyle"))
        size = parse_size(self.request_size(job)) or (1024, 1024)
        dye = None
        if mode == "recolour":
            dye = _dye_mask(product)
        design = self.design(job) if v.design and job.input_path("design") else None
        at = v.print
        fitted = None
        if design is not None and at.print_area is not None:  # where the design sits in its print area
            fitted = [tuple(c) for c in Compositor.guard(job, "design", lambda: imaging.fit_print(
                at.print_area, design.size, scale=at.scale, anchor=at.anchor, offset=at.offset,
                rotation=at.rotation)).tolist()]
        return Compositor.guard(job, "product", lambda: oi.plan_edit(
            mode, product.rgba, look, self.background(job, size), size, v.channel.fill, lock=p["product_lock"],
            dye=dye, print_area=print_corners(at), design=design, fitted=fitted, finish=at.finish))

    def _render_edit(self, job) -> Rendered:
        request = self.edit_request(job)
        files = [(name, data, "image/png") for name, data in request.uploads]
        extra = {"mask": (request.mask[0], request.mask[1], "image/png")} if request.mask else {}
        response = self.call(self.client().images.edit, inputs=request.inputs, image=files, **extra,
                             **request.fields)
        return self.edit_result(job, request.plan, response)

    def edit_request(self, job) -> EditRequest:
        """What one edit sends: its images (made locally, checked against the model's limits), its
        mask, and its fields (the model's table decides which optional ones are sent)."""
        p = job.params
        plan = self.plan(job)
        uploads = [("product.png", oi.png(plan.first))] + [(n, oi.png(im)) for n, im in plan.extra]
        mask = ("mask.png", oi.png(plan.mask)) if plan.mask is not None else None
        inputs = {"product.png": _shown(job, "product")}
        inputs.update({n: _shown(job, n.split(".")[0]) for n, _ in plan.extra})
        self._check_uploads(job, uploads, mask, plan)
        info = self.table.lookup(p["model"])
        fields = {"model": p["model"], "prompt": job.prompt, "n": 1, "quality": p["quality"],
                  "size": self.request_size(job), "output_format": p["output_format"]}
        if p.get("background"):
            fields["background"] = p["background"]
        if info is not None and info.sends_input_fidelity(p.get("input_fidelity")):
            fields["input_fidelity"] = p["input_fidelity"]
        if info is not None and info.sends_complexity(p.get("complexity")):
            fields["complexity"] = p["complexity"]
        return EditRequest(plan, uploads, mask, inputs, fields)

    def edit_result(self, job, plan: oi.EditPlan, response: ImagesResponse, discount: float = 1.0) -> Rendered:
        """The variant's image from an edit's answer: fitted, product pixels locked, captioned; its
        cost from the answer's usage (times `discount`: a batched request's share of the price)."""
        p, v = job.params, job.variant
        transparent = p.get("background") == "transparent"
        image = oi.finish(decode(response), plan, tuple(v.channel.size), v.channel.background,
                          keep_alpha=transparent)
        alpha_warnings = _alpha_warnings(v.channel) if transparent else []
        if image.mode == "RGBA" and not _keeps_alpha(v.channel):
            image = oi.flatten(image)
        usage = response.usage.model_dump(exclude_none=True) if response.usage else None
        est = self.edit_estimate(job)
        cost, warnings = self.cost_of(p["model"], usage, est.dollars if est else 0.0, est.note if est else None)
        locked = plan.lock_alpha is not None  # the photo's own pixels are composited back over the edit
        return Rendered(image=self.caption(image, job), model=p["model"], usage=usage, cost=cost * discount,
                        warnings=alpha_warnings + warnings,
                        source="compositeWithTrainedAlgorithmicMedia" if locked else "trainedAlgorithmicMedia")

    def edit_estimate(self, job) -> Estimate | None:
        """The estimated cost of one edit and how it was priced (per-size price or area scaling)."""
        p = job.params
        images = 2 if p["mode"] == "design" else 1
        return self.table.estimate(p["model"], p["quality"], self.request_size(job), images, len(job.prompt))

    def estimate_edit(self, job) -> float:
        est = self.edit_estimate(job)
        return est.dollars if est else 0.0

    def _check_uploads(self, job, uploads, mask, plan: oi.EditPlan) -> None:
        first = Upload(uploads[0][0], len(uploads[0][1]), "png", plan.canvas)
        request = {"model": job.params["model"], "prompt": job.prompt,
                   "images": [first] + [Upload(n, len(d), "png", (0, 0)) for n, d in uploads[1:]],
                   "mask": Upload(mask[0], len(mask[1]), "png", plan.mask.size) if mask and plan.mask else None}
        errors = [f.message for f in self.table.check_request(request, openai_models.today())
                  if f.severity == "error" and f.field in ("images", "mask")]
        if errors:
            raise ImageInputError(f"{_shown(job, 'product')}: " + "; ".join(errors), variant=job.id)


def _keeps_alpha(channel) -> bool:
    """Whether a channel's output can keep a transparent background (png/webp, no forced colour)."""
    return not channel.background and channel.format in ALPHA_FORMATS


def _alpha_warnings(channel) -> list[str]:
    if channel.background:
        return [f"channel '{channel.id}' forces the background {channel.background}: the transparent background "
                "OpenAI made was replaced by it"]
    if channel.format not in ALPHA_FORMATS:
        return [f"channel '{channel.id}' is {channel.format}, which cannot hold transparency: the transparent "
                "background OpenAI made was flattened onto white"]
    return []


def _dye_mask(product) -> Image.Image:
    """The dyeable area (L, photo space) from the local compositor's recolour preparation."""
    prep = product.recolour
    w, h = prep.size
    y0, y1, x0, x1 = prep.box
    arr = np.zeros((h, w), np.uint8)
    arr[y0:y1, x0:x1][prep.select] = np.clip(np.rint(prep.weight * 255), 0, 255).astype(np.uint8)
    return Image.fromarray(arr, "L")


def _shown(job, role: str) -> str:
    path = job.input_path(role)
    return path.name if path else role


def strategy_costs(jobs, cache_dir: str | os.PathLike | None = None, batch: bool = False) -> dict[str, float]:
    """{"edit": $, "plates": $}: the estimated cost of `jobs` under each strategy (for `mockups plan`),
    with `batch` the edits sent to the Batch API at its price, as `estimate` counts them."""
    backend = OpenAIBackend({"cache_dir": cache_dir})
    discount = backend.table.batch_discount if batch else 1.0
    costs = {}
    for strategy in ("edit", "plates"):
        once = _charged_once(backend)  # each plate charged once under each strategy
        costs[strategy] = sum(job_cost(backend, job, once, strategy)
                              * (discount if backend.batchable(job, strategy) else 1.0) for job in jobs)
    return costs


def _charged_once(backend: OpenAIBackend):
    """A fresh "is this plate charged for the first time?" test: each plate once per strategy."""
    charged: set[str] = set()

    def once(key: str) -> bool:
        fresh = key not in charged and not backend.plates.exists(key)
        charged.add(key)
        return fresh

    return once
