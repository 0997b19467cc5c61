"""mockups: turn a merchandiser's YAML catalog into product imagery.

The public API is what this module exports; everything else is private and may change.

    import mockups

    catalog = mockups.load_catalog("catalog.yaml")
    plan = mockups.plan(catalog, only=["sku=TEE-*"])          # what a build would do, nothing done
    report = mockups.build(catalog, only=["sku=TEE-*"], on_event=print)

- Building: `prepare`, `plan`, `build` (each takes a Catalog or a path, and `BuildOptions` or its
  fields as keywords); `Selection` and `Shard` say which variants; a build returns a `BuildReport`
  (`Outcome` per job, `BuildWarning`s) and sends `BuildEvent`s (`JobStarted`, `JobRetrying`,
  `JobFinished`, `JobFailed`, `JobSkipped`) to `on_event`; a `Plan` has an `Item` per variant.
- Statuses (`ItemStatus`, `OutcomeStatus`) are `str` enums: they compare equal to "new", "ok"...
- Errors: every one is a `MockupsError`; only `BuildReport.failures` reports a failed variant.
- Logging: loggers named `mockups.<module>`; the library adds no handler (the CLI's `-v` and
  `--log-file` do).
"""

import importlib as _importlib
import logging as _logging
from typing import TYPE_CHECKING

from mockups._version import __version__

# Each public name and the module it lives in. They are imported when first used (PEP 562), so that
# `import mockups` (and the CLI, which imports through it) pays only for what it touches: a no-op
# build never loads the catalog schema, numpy or Jinja.
_EXPORTS = {
    "mockups.backends.base": ("Backend", "Rendered", "get_backend"),
    "mockups.catalog": ("Catalog", "load_catalog"),
    "mockups.catalog.schema": ("json_schema",),
    "mockups.engine.events": ("BuildEvent", "JobEnded", "JobFailed", "JobFinished", "JobRetrying", "JobSkipped",
                              "JobStarted", "Outcome", "OutcomeStatus"),
    "mockups.engine.pipeline": ("BuildOptions", "BuildReport", "BuildWarning", "Prepared", "build",
                                "output_warnings", "plan", "prepare"),
    "mockups.engine.plan": ("Item", "ItemStatus", "Plan"),
    "mockups.errors": ("BackendError", "BudgetExceeded", "BuildError", "BuildLocked", "CatalogError",
                       "FatalBackendError", "ImageInputError", "MockupsError", "Problem", "TemplateError",
                       "TransientBackendError"),
    "mockups.jobs": ("Job",),
    "mockups.matrix": ("Variant", "expand"),
    "mockups.selection": ("FilterError", "Selection", "Shard"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

if TYPE_CHECKING:
    from mockups.backends.base import Backend, Rendered, get_backend
    from mockups.catalog import Catalog, load_catalog
    from mockups.catalog.schema import json_schema
    from mockups.engine.events import (
        BuildEvent,
        JobEnded,
        JobFailed,
        JobFinished,
        JobRetrying,
        JobSkipped,
        JobStarted,
        Outcome,
        OutcomeStatus,
    )
    from mockups.engine.pipeline import (
        BuildOptions,
        BuildReport,
        BuildWarning,
        Prepared,
        build,
        output_warnings,
        plan,
        prepare,
    )
    from mockups.engine.plan import Item, ItemStatus, Plan
    from mockups.errors import (
        BackendError,
        BudgetExceeded,
        BuildError,
        BuildLocked,
        CatalogError,
        FatalBackendError,
        ImageInputError,
        MockupsError,
        Problem,
        TemplateError,
        TransientBackendError,
    )
    from mockups.jobs import Job
    from mockups.matrix import Variant, expand
    from mockups.selection import FilterError, Selection, Shard


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'mockups' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MODULE_OF))


# A library's loggers get no handler but this one, which keeps Python's last-resort handler from
# printing our warnings to stderr of a program that did not configure logging.
_logging.getLogger("mockups").addHandler(_logging.NullHandler())

__all__ = [
    "Backend", "BackendError", "BudgetExceeded", "BuildError", "BuildEvent", "BuildLocked", "BuildOptions",
    "BuildReport", "BuildWarning", "Catalog", "CatalogError", "FatalBackendError", "FilterError", "ImageInputError",
    "Item", "ItemStatus", "Job", "JobEnded", "JobFailed", "JobFinished", "JobRetrying", "JobSkipped", "JobStarted",
    "MockupsError", "Outcome", "OutcomeStatus", "Plan", "Prepared", "Problem", "Rendered", "Selection", "Shard",
    "TemplateError", "TransientBackendError", "Variant", "build", "expand", "get_backend", "json_schema",
    "load_catalog", "output_warnings", "plan", "prepare", "__version__",
]
