"""The OpenAI image models as data: what each accepts, its status, and what it costs.

Every rule and price lives in `resources/openai-models.json` (with the date and source it was read
from); this module only reads that table and applies it. It never imports `openai`, so `validate`
and `plan` work offline and without an API key.

A request is described as a plain dict of the fields that would be sent (model, prompt, quality,
size, input_fidelity, complexity, background, output_format, n) plus `images` / `mask` / `markup`
as `Upload`s. `ModelTable.check_request` returns `Finding`s: message, severity ("error" |
"warning") and the request field they concern, so callers can point at the catalog key that set it.

`today()` is the one clock of the openai backend: every shut-down / deprecated decision (here, in
`openai_check`, in `openai.py` and in the tests' fake server) asks it, or takes a date passed in.
Tests pin it with `monkeypatch.setattr(openai_models, "today", lambda: date(...))`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from mockups._resources import RESOURCES

TABLE_FILE = RESOURCES / "openai-models.json"
SIZE_RE = re.compile(r"^(\d{2,5})x(\d{2,5})$")
GONE = ("shutdown", "retired")


def today() -> date:
    """The date model statuses are judged at: the only clock of the openai backend (tests pin it)."""
    return date.today()


def _on(when: date | None) -> date:
    """`when`, or today() (looked up at call time, so a pinned clock is seen everywhere)."""
    return when if when is not None else today()


class Estimate(NamedTuple):
    dollars: float
    basis: str  # "per-size" (a price published for that size) | "area-scaled" (1024x1024 price x area)
    note: str  # the same in words, with the price used and where it comes from


class Finding(NamedTuple):
    message: str
    severity: str  # "error" | "warning"
    field: str  # the request field it concerns: model, quality, size, input_fidelity, ...


@dataclass(frozen=True)
class Upload:
    """One file of a request, as the checks need it."""

    name: str
    nbytes: int
    format: str  # png | webp | jpg
    size: tuple[int, int]


@dataclass(frozen=True)
class ModelInfo:
    name: str
    status: str
    shutdown: str | None = None
    replacement: str | None = None
    sizes: str | tuple[str, ...] = ()
    auto_size: bool = True
    qualities: tuple[str, ...] = ()
    input_fidelity: str | tuple[str, ...] = "omit"
    complexity: tuple[str, ...] = ()  # the values accepted; () = not accepted (never sent)
    complexity_default: str | None = None
    transparent: str = "yes"
    unverified: frozenset[str] = field(default_factory=frozenset)
    note: str | None = None
    batch: str = "unverified"  # whether OpenAI's Batch API takes its edits: yes | no | unverified
    batch_source: str | None = None

    def gone(self, today: date) -> bool:
        """Shut down or retired on `today`: from its shutdown date on (a model marked shut down was
        only deprecated before that date); without a date, as its status says."""
        if self.shutdown:
            return date.fromisoformat(self.shutdown) <= today
        return self.status in GONE

    def deprecated(self, today: date) -> bool:
        """Still served on `today`, but with a shutdown date announced (or marked deprecated)."""
        return not self.gone(today) and (bool(self.shutdown) or self.status == "deprecated")

    def sends_input_fidelity(self, value: str | None) -> bool:
        return value is not None and isinstance(self.input_fidelity, tuple) and value in self.input_fidelity

    def sends_complexity(self, value: str | None) -> bool:
        return value is not None and value in self.complexity


def parse_size(text: str) -> tuple[int, int] | None:
    m = SIZE_RE.match(text or "")
    return (int(m[1]), int(m[2])) if m else None


class ModelTable:
    """The loaded table. `ModelTable.load()` reads the bundled one (cached)."""

    def __init__(self, data: dict):
        self.data = data
        self.read_date: str = data["read"]["date"]
        self.source: str = data["read"]["source"]
        self.limits: dict = data["limits"]
        self.standard_sizes: tuple[str, ...] = tuple(data["size_rules"]["standard"])
        self.wxh: dict = data["size_rules"]["wxh"]
        self.pricing: dict = data["pricing"]
        self.models: dict[str, ModelInfo] = {}
        self.aliases: dict[str, str] = {}
        for name, m in data["models"].items():
            sizes = m.get("sizes", ())
            fidelity = m.get("input_fidelity", "omit")
            self.models[name] = ModelInfo(
                name=name, status=m["status"], shutdown=m.get("shutdown"), replacement=m.get("replacement"),
                sizes=sizes if isinstance(sizes, str) else tuple(sizes), auto_size=m.get("auto_size", True),
                qualities=tuple(m.get("qualities", ())),
                input_fidelity=fidelity if isinstance(fidelity, str) else tuple(fidelity),
                complexity=tuple(m.get("complexity", ())), complexity_default=m.get("complexity_default"),
                transparent=m.get("transparent", "yes"), unverified=frozenset(m.get("unverified", ())),
                note=m.get("note"), batch=m.get("batch", "unverified"), batch_source=m.get("batch_source"))
            for alias in m.get("aliases", ()):
                self.aliases[alias] = name

    @classmethod
    def load(cls, path: str | Path | None = None) -> ModelTable:
        return _load(str(path or TABLE_FILE))

    def lookup(self, model: str) -> ModelInfo | None:
        return self.models.get(self.aliases.get(model, model))

    def gone_models(self, today: date | None = None) -> set[str]:
        """Every name (and alias) of a model that is shut down or retired on `today`."""
        when = _on(today)
        out: set[str] = set()
        for name, info in self.models.items():
            if info.gone(when):
                out |= {name} | {a for a, n in self.aliases.items() if n == name}
        return out

    def accepting(self, option: str, today: date | None = None) -> list[str]:
        """The models (not gone on `today`) whose table entry accepts `option` (complexity, input_fidelity)."""
        when = _on(today)
        return [n for n, m in self.models.items() if not m.gone(when) and (
            m.complexity if option == "complexity" else isinstance(m.input_fidelity, tuple))]

    # --- status ----------------------------------------------------------------------------------

    def status_findings(self, model: str, today: date | None = None) -> list[Finding]:
        today = _on(today)
        info = self.lookup(model)
        if info is None:
            known = ", ".join(n for n, m in self.models.items() if not m.gone(today))
            return [Finding(f"unknown model '{model}': it is not in mockups' model table (read {self.read_date}), "
                            f"so its requests are not checked and its cost is not estimated; known current "
                            f"models: {known}", "warning", "model")]
        if info.gone(today):
            verb = "was retired" if info.status == "retired" else "was shut down"
            return [Finding(f"model '{model}' {verb} on {info.shutdown}; use '{info.replacement}' instead",
                            "error", "model")]
        if info.deprecated(today):
            days = (date.fromisoformat(info.shutdown) - today).days if info.shutdown else None
            when = f" on {info.shutdown} (in {days} day{'s' if days != 1 else ''})" if days is not None else ""
            return [Finding(f"model '{model}' is deprecated and shuts down{when}; switch to "
                            f"'{info.replacement}'", "warning", "model")]
        return []

    # --- one request ----------------------------------------------------------------------------

    def check_request(self, request: dict, today: date | None = None) -> list[Finding]:
        """Every rule of the table that `request` breaks (see the module docstring for its shape)."""
        today = _on(today)
        model = request.get("model") or ""
        out = self.status_findings(model, today)
        out += self._check_shared(request)
        info = self.lookup(model)
        if info is None:
            return out + [Finding(f"{key} is left out of requests to '{model}': the model table does not say it "
                                  "accepts it", "warning", key)
                          for key in ("input_fidelity", "complexity") if request.get(key) is not None]
        if info.gone(today):
            return out
        for check in (self._check_quality, self._check_size, self._check_fidelity,
                      lambda i, r: self._check_complexity(i, r, today), self._check_background):
            out += [self._soften(info, f) for f in check(info, request)]
        return out

    @staticmethod
    def _soften(info: ModelInfo, f: Finding) -> Finding:
        """A rule the table marks unverified for this model warns instead of failing."""
        key = {"quality": "qualities", "size": "sizes", "background": "transparent"}.get(f.field, f.field)
        if f.severity == "error" and key in info.unverified:
            return Finding(f"{f.message} (unverified for {info.name}: the request is sent anyway)",
                           "warning", f.field)
        return f

    def _check_shared(self, r: dict) -> list[Finding]:
        lim, out = self.limits, []
        prompt = r.get("prompt") or ""
        if not prompt.strip():
            out.append(Finding("the prompt is empty", "error", "prompt"))
        if len(prompt) > lim["max_prompt_chars"]:
            out.append(Finding(f"the prompt is {len(prompt):,} characters; at most {lim['max_prompt_chars']:,} "
                               "are accepted", "error", "prompt"))
        lo, hi = lim["n"]
        if not lo <= int(r.get("n", 1)) <= hi:
            out.append(Finding(f"n must be between {lo} and {hi}, got {r.get('n')}", "error", "n"))
        images = list(r.get("images") or [])
        if len(images) > lim["max_input_images"]:
            out.append(Finding(f"{len(images)} input images; at most {lim['max_input_images']} are accepted",
                               "error", "images"))
        for up in images:
            if up.format not in lim["input_formats"]:
                out.append(Finding(f"{up.name}: input images must be {'/'.join(lim['input_formats'])}, "
                                   f"not {up.format}", "error", "images"))
            if up.nbytes >= lim["max_input_bytes"]:
                out.append(Finding(f"{up.name}: {up.nbytes / 2**20:.1f} MB; input images must be under "
                                   f"{lim['max_input_bytes'] // 2**20} MB", "error", "images"))
        out += self._check_mask(r.get("mask"), images[0] if images else None)
        if r.get("mask") is not None and r.get("markup") is not None and not lim["markup_with_mask"]:
            out.append(Finding("markup cannot be combined with a mask", "error", "markup"))
        fmt = r.get("output_format") or "png"
        if fmt not in lim["output_formats"]:
            out.append(Finding(f"output_format must be one of {', '.join(lim['output_formats'])}, got '{fmt}'",
                               "error", "output_format"))
        return out

    def _check_mask(self, mask: Upload | None, first: Upload | None) -> list[Finding]:
        if mask is None:
            return []
        lim, out = self.limits, []
        if mask.format != lim["mask_format"]:
            out.append(Finding(f"{mask.name}: a mask must be a PNG, not {mask.format}", "error", "mask"))
        if mask.nbytes >= lim["max_mask_bytes"]:
            out.append(Finding(f"{mask.name}: {mask.nbytes / 2**20:.1f} MB; a mask must be under "
                               f"{lim['max_mask_bytes'] // 2**20} MB", "error", "mask"))
        if first is not None and mask.size != first.size and lim["mask_same_size_as_first_image"]:
            out.append(Finding(f"{mask.name} is {mask.size[0]}x{mask.size[1]} but the first image "
                               f"{first.name} is {first.size[0]}x{first.size[1]}; they must match", "error", "mask"))
        return out

    def _check_quality(self, info: ModelInfo, r: dict) -> list[Finding]:
        q = r.get("quality")
        if q is None or q in info.qualities:
            return []
        return [Finding(f"{info.name} does not accept quality '{q}'; use one of {', '.join(info.qualities)}",
                        "error", "quality")]

    def _check_size(self, info: ModelInfo, r: dict) -> list[Finding]:
        size = r.get("size") or "auto"
        if size == "auto":
            return [] if info.auto_size else [Finding(f"{info.name} needs an explicit size", "error", "size")]
        if isinstance(info.sizes, tuple):
            if size in info.sizes:
                return []
            return [Finding(f"{info.name} accepts size auto or {', '.join(info.sizes)}, not '{size}'",
                            "error", "size")]
        return self.wxh_findings(size) if size not in self.standard_sizes else []

    def wxh_findings(self, size: str) -> list[Finding]:
        """The WIDTHxHEIGHT rule of gpt-image-2 and later."""
        rule, wh = self.wxh, parse_size(size)
        if wh is None:
            return [Finding(f"size must be 'auto' or WIDTHxHEIGHT like '1536x864', got '{size}'", "error", "size")]
        w, h = wh
        out = []
        if w % rule["multiple_of"] or h % rule["multiple_of"]:
            out.append(Finding(f"size {size}: width and height must both be multiples of {rule['multiple_of']}",
                               "error", "size"))
        if not rule["min_aspect"] <= w / h <= rule["max_aspect"]:
            out.append(Finding(f"size {size}: the aspect ratio must be between 1:3 and 3:1", "error", "size"))
        if max(w, h) > rule["max_edge"] or w * h > rule["max_pixels"]:
            out.append(Finding(f"size {size}: the largest size is 3840x2160 ({rule['max_pixels']:,} pixels, "
                               f"edges up to {rule['max_edge']})", "error", "size"))
        elif w * h > rule["experimental_above_pixels"]:
            out.append(Finding(f"size {size}: {rule['experimental_note']}", "warning", "size"))
        if w * h < rule["min_pixels"]:
            out.append(Finding(f"size {size} has {w * h:,} pixels; fewer than {rule['min_pixels']:,} may be "
                               "refused", "warning", "size"))
        return out

    def _check_fidelity(self, info: ModelInfo, r: dict) -> list[Finding]:
        value = r.get("input_fidelity")
        if value is None or info.sends_input_fidelity(value):
            return []
        if isinstance(info.input_fidelity, tuple):
            return [Finding(f"{info.name} accepts input_fidelity {' or '.join(info.input_fidelity)} only, "
                            f"not '{value}'", "error", "input_fidelity")]
        why = (" (the API answers 400 invalid_input_fidelity_model)" if info.input_fidelity == "must-omit"
               else ": no current OpenAI image model documents it")
        return [Finding(f"{info.name} does not accept input_fidelity{why}; remove it (it is never sent)",
                        "error", "input_fidelity")]

    def _check_complexity(self, info: ModelInfo, r: dict, today: date | None = None) -> list[Finding]:
        value = r.get("complexity")
        if value is None or info.sends_complexity(value):
            return []
        if info.complexity:
            return [Finding(f"{info.name} accepts complexity {', '.join(info.complexity)}, not '{value}'",
                            "error", "complexity")]
        takers = self.accepting("complexity", today)
        only = f" (only {' and '.join(takers)} do)" if takers else ""
        return [Finding(f"{info.name} does not accept complexity{only}; remove it or choose such a model",
                        "error", "complexity")]

    def _check_background(self, info: ModelInfo, r: dict) -> list[Finding]:
        if r.get("background") != "transparent":
            return []
        out = []
        fmt = r.get("output_format") or "png"
        if fmt not in self.limits["transparent_formats"]:
            out.append(Finding(f"a transparent background needs output_format png or webp, not {fmt}",
                               "error", "output_format"))
        if info.transparent == "preview":
            out.append(Finding(f"transparent backgrounds are in preview for {info.name}", "warning", "background"))
        elif info.transparent != "yes":
            out.append(Finding(f"{info.name} does not make transparent backgrounds", "error", "background"))
        return out

    # --- sizes and prices ------------------------------------------------------------------------

    def request_size(self, model: str, requested: str, aspect: float) -> str:
        """The size to send: the user's WxH, or for 'auto' one that has the channel's aspect."""
        if requested != "auto":
            return requested
        info = self.lookup(model)
        if info is not None and isinstance(info.sizes, tuple):
            return min(self.standard_sizes, key=lambda s: abs(math.log(_aspect(s) / aspect)))
        a = min(max(aspect, self.wxh["min_aspect"]), self.wxh["max_aspect"])
        h = math.sqrt(1024 * 1024 / a)
        step = self.wxh["multiple_of"]
        h16 = max(step, round(h / step) * step)
        w16 = max(step, round(h16 * a / step) * step)
        return f"{w16}x{h16}"

    def rates(self, model: str) -> dict | None:
        info = self.lookup(model)
        return self.pricing["models"].get(info.name if info else model)

    @property
    def batch_discount(self) -> float:
        """The share of the standard price a batched request costs (0.5: half)."""
        return float(self.pricing.get("batch_discount", 1.0))

    def usage_cost(self, model: str, usage: dict | None) -> float | None:
        """Dollars for a response's `usage` block; None if the model has no prices in the table."""
        rates = self.rates(model)
        if rates is None or not usage:
            return None
        details = usage.get("input_tokens_details") or {}
        text = details.get("text_tokens", usage.get("input_tokens", 0) if not details else 0)
        image = details.get("image_tokens", 0)
        out = usage.get("output_tokens", 0)
        return (text * rates["text_in"] + image * rates["image_in"] + out * rates["image_out"]) / 1e6

    def estimate_cost(self, model: str, quality: str, size: str, input_images: int = 0,
                      prompt_chars: int = 0) -> float | None:
        """Estimated dollars for one request; None if the model has no prices in the table."""
        found = self.estimate(model, quality, size, input_images, prompt_chars)
        return found.dollars if found else None

    def estimate(self, model: str, quality: str, size: str, input_images: int = 0,
                 prompt_chars: int = 0) -> Estimate | None:
        """Estimated dollars for one request and how the output's price was found; None if the model
        has no prices in the table.

        The output is priced from the table's per-size price for that size and quality where OpenAI
        publishes one (`per_image_by_size`, and `per_image_1024` for 1024x1024); only where none
        exists is the 1024x1024 price scaled by the size's area (which overestimates: at 1536x1024
        gpt-image-2's published high price is about half of the area-scaled one).
        """
        rates = self.rates(model)
        if rates is None:
            return None
        est = self.pricing["estimate"]
        like_name = rates.get("estimate_like")
        like = self.pricing["models"].get(like_name or "", rates)
        priced_as = f" (priced like {like_name})" if like_name else ""
        q = est["auto_quality_as"] if quality == "auto" else quality
        wh = parse_size(size) or (1024, 1024)
        key = f"{wh[0]}x{wh[1]}"
        sized = (like.get("per_image_by_size") or {}).get(key) or {}
        if sized.get(q) is not None:
            out = sized[q]
            basis = "per-size"
            note = (f"{key} {q}: ${out:g} per image, OpenAI's price for that size{priced_as} "
                    f"({sized.get('source', 'no source')}, read {sized.get('read', self.pricing['read'])})")
        else:
            per_image = like.get("per_image_1024") or {}
            out = per_image.get(q)
            if out is None and q in (like.get("output_tokens_1024") or {}):
                out = like["output_tokens_1024"][q] * rates["image_out"] / 1e6
            if out is None:
                out = max(per_image.values(), default=0.0)
            if key == "1024x1024":
                basis = "per-size"
                note = f"1024x1024 {q}: ${out:g} per image{priced_as} (read {self.pricing['read']})"
            else:
                area = wh[0] * wh[1] / (1024 * 1024)
                basis = "area-scaled"
                note = (f"{key} {q}: no per-size price in the table, so the 1024x1024 price ${out:g}{priced_as} "
                        f"scaled by area (x{area:.3g}); where OpenAI publishes per-size prices they are lower")
                out *= area
        text_tokens = math.ceil(prompt_chars / est["chars_per_text_token"])
        inputs = input_images * est["input_image_tokens"] * rates["image_in"] + text_tokens * rates["text_in"]
        return Estimate(out + inputs / 1e6, basis, note)


def _aspect(size: str) -> float:
    w, h = parse_size(size) or (1, 1)
    return w / h


@lru_cache(maxsize=4)
def _load(path: str) -> ModelTable:
    return ModelTable(json.loads(Path(path).read_text(encoding="utf-8")))


def validate(request: dict, today: date | None = None, table: ModelTable | None = None) -> list[tuple[str, str]]:
    """(message, severity) for every rule `request` breaks."""
    return [(f.message, f.severity) for f in (table or ModelTable.load()).check_request(request, today)]
