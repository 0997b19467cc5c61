"""`OpenAIBackend.check`: every request of a build checked against the model table before any is sent.

Problems point at the catalog key that set the offending value (`defaults.openai.model`, a
product's `mode`, a channel's `background`, ...) and are reported once each, however many
variants share them.
"""

from __future__ import annotations

import os

from mockups.backends.local import print_corners
from mockups.backends.openai import models as openai_models
from mockups.errors import Problem

OPTION_FIELDS = {"model", "quality", "size", "input_fidelity", "complexity", "background", "output_format",
                 "strategy", "base_url", "timeout"}
STRATEGIES = ("edit", "plates")
ALPHA_FORMATS = ("png", "webp")  # channel formats that can hold a transparent background


class _Problems:
    def __init__(self, catalog):
        self.catalog = catalog
        self.found: dict[tuple, Problem] = {}

    def add(self, path: tuple, message: str, severity: str = "error") -> None:
        if (path, message) not in self.found:
            self.found[(path, message)] = self.catalog.doc.problem(path, message, severity=severity)


def _option(name: str) -> tuple:
    return ("defaults", "openai", name)


def check_options(backend, problems: _Problems) -> None:
    opts = backend.opts
    if (opts.get("strategy") or "edit") not in STRATEGIES:
        problems.add(_option("strategy"), f"unknown strategy '{opts.get('strategy')}'; expected one of "
                                          f"{', '.join(STRATEGIES)}")
    base_url = opts.get("base_url")
    if base_url and not str(base_url).startswith(("https://", "http://")):
        problems.add(_option("base_url"), f"expected an http(s) URL like 'https://api.openai.com/v1', got '{base_url}'")
    if not os.environ.get("OPENAI_API_KEY"):
        problems.add(("defaults", "openai"), "OPENAI_API_KEY is not set: a build with the openai backend will stop "
                                             "at its first request (the key is read only from the environment)",
                     "warning")
    model = opts["model"]
    if backend.table.lookup(model) is not None and backend.table.rates(model) is None:
        problems.add(_option("model"), f"the model table has no prices for '{model}': costs are not estimated "
                                       "and --max-cost only counts what responses report", "warning")


def check_jobs(backend, catalog, jobs) -> list[Problem]:
    problems = _Problems(catalog)
    check_options(backend, problems)
    products = list(catalog.products)
    channels = [c.id for c in catalog.model.channels]
    when = openai_models.today()  # the one clock (tests pin it there)
    for job in jobs:
        v, p = job.variant, job.params
        pi = products.index(v.product.sku)
        if v.product.psd is not None:  # a Photoshop template is the local backend's to render
            problems.add(("products", pi, "psd"), f"product '{v.product.sku}' is a PSD template: the openai backend "
                         "edits photos, not templates; build it with --backend local (or give it an image)")
            continue
        request = {"model": p["model"], "prompt": job.prompt, "quality": p["quality"], "n": 1,
                   "size": p["size"] if p["size"] != "auto" else backend.request_size(job),
                   "input_fidelity": p.get("input_fidelity"), "complexity": p.get("complexity"),
                   "background": p.get("background"), "output_format": p.get("output_format")}
        for f in backend.table.check_request(request, when):
            problems.add(_where(f.field, v.product, pi), f.message, f.severity)
        _check_mode(problems, job, pi)
        if p.get("background") == "transparent":
            _check_alpha(problems, v.channel, channels.index(v.channel.id))
        if p["mode"] == "scene" and p.get("strategy") != "plates" and p["product_lock"] and v.channel.background:
            problems.add(("channels", channels.index(v.channel.id), "background"),
                         f"channel '{v.channel.id}' forces a plain background, so scene edits (with product_lock) "
                         "are composited locally for it and not sent to OpenAI", "warning")
    if backend.opts.get("batch"):
        _check_batch(backend, problems, {job.params["model"] for job in jobs if backend.batchable(job)})
    return sorted(problems.found.values())


def _check_batch(backend, problems: _Problems, models: set[str]) -> None:
    """--batch: whether the model table says OpenAI's Batch API takes each model's edits."""
    for model in sorted(models):
        info = backend.table.lookup(model)
        says = info.batch if info else "unverified"
        source = f" ({info.batch_source})" if info and info.batch_source else ""
        if says == "no":
            problems.add(_option("model"), f"--batch: OpenAI's Batch API does not take {model}'s edits{source}; "
                                           "build without --batch", "error")
        elif says != "yes":
            problems.add(_option("model"), f"--batch: whether OpenAI's Batch API takes {model}'s edits is "
                                           f"unverified{source}; the batches are sent anyway, and a batch that "
                                           "fails says why (`mockups batch status`)", "warning")


def _check_alpha(problems: _Problems, channel, ci: int) -> None:
    """A transparent background is paid for: say where a channel cannot keep it."""
    if channel.background:
        problems.add(("channels", ci, "background"), f"channel '{channel.id}' forces the background "
                     f"{channel.background}, so the transparent background OpenAI makes is replaced by it", "warning")
    elif channel.format not in ALPHA_FORMATS:
        problems.add(("channels", ci, "format"), f"channel '{channel.id}' is {channel.format}, which cannot hold "
                     "transparency: the transparent background OpenAI makes is flattened onto white; use format "
                     "png or webp to keep it", "warning")


def _where(field: str, product, pi: int) -> tuple:
    if field in OPTION_FIELDS or field == "model":
        return _option(field)
    if field == "prompt":
        return ("products", pi, "template") if product.template else ("defaults", "template")
    return ("products", pi, "image")


def _check_mode(problems: _Problems, job, pi: int) -> None:
    v, mode = job.variant, job.params["mode"]
    where = ("products", pi, "mode") if v.product.mode else _option("mode")
    if mode == "design":
        missing = [what for what, have in (("designs", v.design), ("print_area", print_corners(v.print))) if not have]
        if missing:
            problems.add(where, f"mode 'design' sends the design into the print area, but product "
                                f"'{v.product.sku}' has no {' and no '.join(missing)}")
