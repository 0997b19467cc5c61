"""The backend interface: one method that turns a Job into an image, plus optional hooks.

A backend is built by name (`get_backend`): the built-ins `local` and `openai`, or a plugin
registered under the `mockups.backends` entry-point group.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import ClassVar

import pydantic
from PIL import Image

from mockups.errors import UnknownBackend
from mockups.plugins import BUILTIN_BACKENDS, backend_names, plugin_entry_points

BUILTIN = BUILTIN_BACKENDS  # name -> "module:Class"


@dataclass
class Rendered:
    """What a backend made for one job: the final image at the channel's size, and what it cost."""

    image: Image.Image
    model: str | None = None
    usage: dict | None = None
    cost: float = 0.0
    warnings: list[str] = field(default_factory=list)
    #: What made the pixels, as IPTC names it: None (a photo and our own compositing),
    #: "trainedAlgorithmicMedia" (an AI model's) or "compositeWithTrainedAlgorithmicMedia" (AI-made
    #: parts composited with the photo's, e.g. the product lock). Embedded in the output's XMP.
    source: str | None = None


class Backend:
    """Subclass and implement `render`. Instances are created per build (and per worker process)."""

    name = "base"
    version = "0"
    parallelism = "process"  # "process" for CPU-bound work, "thread" for network-bound work

    def __init__(self, options: dict | None = None):
        self.options = dict(options or {})

    def job_params(self, catalog, variant) -> dict:
        """The parameters that shape this variant's output (they are part of Job.key)."""
        return {}

    def check(self, catalog, jobs) -> list:
        """Problems found before any work is done (a list of errors.Problem)."""
        return []

    def estimate(self, job) -> float:
        """Estimated cost of one job in US dollars."""
        return 0.0

    def unpriced(self, job) -> str | None:
        """Why this job's cost cannot be told (a model without prices), or None: a build with
        --max-cost refuses to start such jobs, since its budget could not be kept."""
        return None

    #: A pydantic model of the backend's own `defaults.<name>` options in the catalog (plugins set
    #: it; the built-ins' options are part of the catalog schema). None: the section is passed as is.
    options_model: ClassVar[type[pydantic.BaseModel] | None] = None

    def plan_notes(self, jobs) -> list[str]:
        """Lines `mockups plan` prints after the plan, about the stale `jobs` (e.g. other strategies' costs)."""
        return []

    def default_concurrency(self) -> int:
        return 1

    def render(self, job) -> Rendered:
        raise NotImplementedError

    def close(self) -> None:
        """Release clients and caches."""


def backend_class(name: str) -> type[Backend]:
    """A built-in by name, a plugin's entry point, or an import path like `package.module:Class`."""
    target = BUILTIN.get(name) or (name if ":" in name else None)
    if target is None:
        found = plugin_entry_points().get(name)
        if found is None:
            raise UnknownBackend(f"unknown backend '{name}'; known backends: {', '.join(backend_names())}")
        return found.load()
    module, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError) as e:
        raise UnknownBackend(f"cannot load backend '{name}': {e}") from None
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise UnknownBackend(f"'{name}' is not a mockups Backend subclass")
    return cls


def get_backend(name: str, options: dict | None = None) -> Backend:
    """A backend by name (`local`, `openai`, an installed plugin's, or `module:Class`) with options."""
    return backend_class(name)(options)
