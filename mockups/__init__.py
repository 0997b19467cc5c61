"""mockups: turn a merchandiser's YAML catalog into product imagery.

The public API is what this module exports; everything else is private and may change.
"""

from mockups._version import __version__

from mockups.backends.base import Backend, Rendered, get_backend
from mockups.engine.pipeline import BuildOptions, BuildReport, BuildWarning, Prepared, build, output_warnings, prepare
from mockups.catalog import Catalog, load_catalog
from mockups.errors import BackendError, BudgetExceeded, BuildError, BuildLocked, CatalogError, FatalBackendError, ImageInputError, MockupsError, Problem, TemplateError, TransientBackendError
from mockups.jobs import Job
from mockups.matrix import Variant, expand
from mockups.catalog.schema import json_schema
from mockups.engine.plan import Plan

__all__ = [
    "Backend", "BackendError", "BudgetExceeded", "BuildError", "BuildLocked", "BuildOptions", "BuildReport",
    "BuildWarning",
    "Catalog", "CatalogError", "FatalBackendError", "ImageInputError", "Job", "MockupsError", "Plan", "Prepared",
    "Problem", "Rendered", "TemplateError", "TransientBackendError", "Variant", "build", "expand", "get_backend",
    "json_schema", "load_catalog", "output_warnings", "prepare", "__version__",
]
