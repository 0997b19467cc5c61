"""The catalog layer: YAML with positions -> the schema model -> semantic checks -> errors in the user's words.

Owns `catalog.yaml`: what keys exist (`schema`), how a file is read with line and column marks
(`_yaml`), the checks on ids, references and files (`_checks`) and loading (`_load`).
May import: `mockups.errors` only. Knows nothing of matrices, backends or builds.
"""

from mockups.catalog._load import Catalog, load_catalog, parse_catalog, problems_from
from mockups.catalog.schema import json_schema

__all__ = ["Catalog", "json_schema", "load_catalog", "parse_catalog", "problems_from"]
