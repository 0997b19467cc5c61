"""Jobs: everything a backend needs to make one variant, and the key that names its output.

`Job.key` is a content hash over the backend's name and version, the parameters that shape the
output, the rendered prompt, the variant's fields and the bytes of every input image. Equal keys
mean equal outputs, so a rebuild with an unchanged key costs nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable

from mockups._files import sha256_file
from mockups.catalog import Catalog
from mockups.catalog.schema import OLD_PRINT_SETTINGS
from mockups.matrix import Variant

KEY_SCHEMA = 1  # bump only on purpose: it invalidates every user's cache


@dataclass(frozen=True)
class Job:
    """Everything a backend needs to make one variant: the variant, the backend and its version, its
    parameters, the rendered prompt and template, the input files (role -> (path, sha256)); `id` is
    the variant's id and `key` the content hash that names the output in the cache."""

    variant: Variant
    backend: str
    backend_version: str
    params: dict = field(hash=False)
    prompt: str
    template: str
    inputs: dict = field(hash=False)  # role -> (absolute path, sha256)

    @property
    def id(self) -> str:
        return self.variant.id

    def input_path(self, role: str) -> Path | None:
        found = self.inputs.get(role)
        return Path(found[0]) if found else None

    @cached_property
    def key(self) -> str:
        return job_key(self)


def variant_fields(variant: Variant) -> dict:
    """The variant as data, without file paths (their bytes are hashed instead) or selection lists."""
    if variant.fields is None:  # only `Variant.make` fills them in; a key without them would not tell variants apart
        raise ValueError(f"variant {variant.id} has no fields: variants are made with Variant.make")
    return variant.fields


def job_key(job: Job) -> str:
    payload = {
        "schema": KEY_SCHEMA,
        "backend": [job.backend, job.backend_version],
        "params": job.params,
        "prompt": job.prompt,
        "variant": variant_fields(job.variant),
        "inputs": {role: sha for role, (_, sha) in sorted(job.inputs.items())},
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def variant_inputs(catalog: Catalog, variant: Variant) -> dict[str, Path]:
    """The input files of a variant, by role."""
    p = variant.product
    own = variant.image != p.image  # a placement's photo of its side: its own masks, not the product's
    masks = variant.print if own else p
    found = {"product": variant.image, "mask": masks.mask, "recolour_mask": masks.recolour_mask,
             "old_print": None if own or p.old_print in OLD_PRINT_SETTINGS else p.old_print,
             "design": variant.design.image if variant.design else None,
             "background": variant.background.image}
    return {role: catalog.path(rel) for role, rel in found.items() if rel}


def make_job(catalog: Catalog, variant: Variant, *, backend, prompt: str, template: str,
             hash_file: Callable[[Path], str] = sha256_file) -> Job:
    inputs = {role: (str(path), hash_file(path)) for role, path in variant_inputs(catalog, variant).items()}
    return Job(variant=variant, backend=backend.name, backend_version=backend.version,
               params=backend.job_params(catalog, variant), prompt=prompt, template=template, inputs=inputs)
