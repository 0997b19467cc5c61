"""Import a catalog from a store's export, and export the built imagery back to the store.

Stores: Shopify (product CSV, both header generations), WooCommerce (product CSV) and Google
Merchant Center (TSV or RSS XML feed). `import_store` writes catalog.yaml, assets/ and
store-import.json; `export_store` writes a Shopify CSV or a Merchant Center feed whose images are
the built (or published) outputs at a base URL.
"""

from __future__ import annotations

from mockups.stores._model import StoreError, StoreFileError
from mockups.stores.download import Limits
from mockups.stores.exporter import ExportReport, export_store
from mockups.stores.importer import ImportReport, import_store

__all__ = ["ExportReport", "ImportReport", "Limits", "StoreError", "StoreFileError", "export_store", "import_store"]
