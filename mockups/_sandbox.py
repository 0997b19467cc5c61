"""The one Jinja sandbox, for prompt templates and the gallery theme alike.

Jinja's immutable sandbox (templates cannot reach code or change the data they are given), strict
about undefined names, with bounds on the two operators that allocate without limit: `*` may not
build a string or list of more than MAX_ITEMS items and `**` takes an exponent of at most
MAX_EXPONENT (`'a' * 10**12` would exhaust memory long before Jinja's own checks).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from mockups._files import walk_once

MAX_ITEMS = 100_000  # the longest string or list a template may build with `*` (as Jinja's MAX_RANGE)
MAX_EXPONENT = 100


class Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's sandbox, with bounds on the two operators that allocate without limit ('a' * 10**12)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"an exponent of {right} is too large (at most {MAX_EXPONENT})")
        if operator == "*":
            sized, times = (left, right) if isinstance(left, (str, list, tuple)) else (right, left)
            if isinstance(sized, (str, list, tuple)) and isinstance(times, int) and len(sized) * times > MAX_ITEMS:
                raise SecurityError(f"the result would have more than {MAX_ITEMS:,} items")
        return super().call_binop(context, operator, left, right)


def sandbox(folders: Sequence[Path | None], *, autoescape: bool = False) -> jinja2.Environment:
    """A sandboxed environment that looks templates up in `folders`, in order (None entries skipped)."""
    loaders = [jinja2.FileSystemLoader(str(folder)) for folder in folders if folder is not None]
    return Sandbox(loader=jinja2.ChoiceLoader(loaders), undefined=jinja2.StrictUndefined, autoescape=autoescape)


__all__ = ["MAX_EXPONENT", "MAX_ITEMS", "Sandbox", "SecurityError", "sandbox"]


def template_files(folder: Path | str) -> Iterator[tuple[str, str]]:
    """Every entry a template folder holds, as (path relative to it, path), sorted folder by folder:
    what a template may include, extend or import (linked folders followed, as Jinja loads through
    them: `_files.walk_once`); an entry that is not a file (a dangling link) is listed too, for the
    caller to tell apart."""
    for here, _, names in walk_once(folder):
        for name in sorted(names):
            path = os.path.join(here, name)
            yield os.path.relpath(path, folder), path
