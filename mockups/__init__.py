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

import logging as _logging

from mockups._version import __version__
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
from mockups.matrix import FilterError, Selection, Shard, Variant, expand

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
