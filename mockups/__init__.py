"""mockups: turn a merchandiser's YAML catalog into product imagery.

The public API is what this module exports; everything else is private and may change.
"""

__version__ = "0.1.0"

from .backends.base import Backend, Rendered, get_backend
from .build import BuildOptions, BuildReport, BuildWarning, Prepared, build, output_warnings, prepare
from .catalog import Catalog, load_catalog
from .errors import (BackendError, BudgetExceeded, BuildError, BuildLocked, CatalogError, FatalBackendError,
                     ImageInputError, MockupsError, Problem, TemplateError, TransientBackendError)
from .jobs import Job
from .matrix import Variant, expand
from .model import json_schema
from .plan import Plan

__all__ = [
    "Backend", "BackendError", "BudgetExceeded", "BuildError", "BuildLocked", "BuildOptions", "BuildReport",
    "BuildWarning",
    "Catalog", "CatalogError", "FatalBackendError", "ImageInputError", "Job", "MockupsError", "Plan", "Prepared",
    "Problem", "Rendered", "TemplateError", "TransientBackendError", "Variant", "build", "expand", "get_backend",
    "json_schema", "load_catalog", "output_warnings", "prepare", "__version__",
]
