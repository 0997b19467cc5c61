"""WooCommerce's product CSV (the built-in exporter's columns): simple and variable products and
their variations.

`Type` is simple, variable or variation; a variation names its product in `Parent` (`id:NN` or the
parent's SKU); attributes are `Attribute N name` / `Attribute N value(s)` (a variable product lists
every value, comma-separated; a variation has its own); `Images` is a comma-separated list of URLs,
the first the main one.
"""

from __future__ import annotations

import re
from pathlib import Path

from mockups.stores._model import Listing, Photo, Product, StoreFileError, Variant
from mockups.stores._table import Table, read_table
from mockups.stores.shopify import COLOUR_OPTIONS

_PLAIN = ("simple", "variable")


def _cell(table: Table, cells: list[str], *names: str) -> str:
    i = table.column(*names)
    return cells[i].strip() if i is not None and i < len(cells) else ""


def _attributes(table: Table, cells: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for n in range(1, 10):
        name = _cell(table, cells, f"Attribute {n} name")
        if name:
            out[name] = _cell(table, cells, f"Attribute {n} value(s)")
    return out


def _photos(table: Table, line: int, cells: list[str]) -> list[Photo]:
    cell = _cell(table, cells, "Images")  # WooCommerce joins them with ", ": a URL may hold a comma itself
    urls = re.split(r",\s+", cell) if re.search(r",\s", cell) else cell.split(",")
    return [Photo(u.strip(), table.where(line)) for u in urls if u.strip()]


def _colour_of(attributes: dict[str, str]) -> tuple[str, str] | None:
    return next(((k, v) for k, v in attributes.items() if k.strip().lower().removeprefix("pa_") in COLOUR_OPTIONS),
                None)


def read(path: Path) -> Listing:
    table = read_table(path)
    if table.column("Type") is None or table.column("Parent") is None:
        raise StoreFileError(f"{path.name}:1: not a WooCommerce product CSV: it needs the 'Type' and 'Parent' "
                             f"columns of WooCommerce's exporter")
    products: dict[str, Product] = {}
    by_ref: dict[str, Product] = {}
    notes: list[str] = []
    variations = []
    for line, cells in table.rows:
        kind = _cell(table, cells, "Type").lower()
        if "variation" in kind:
            variations.append((line, cells))
        elif any(k in kind for k in _PLAIN):
            ident_ = _cell(table, cells, "SKU") or f"product-{_cell(table, cells, 'ID') or line}"
            product = Product(ident_, _cell(table, cells, "Name") or ident_, table.where(line),
                              photos=_photos(table, line, cells))
            products[ident_] = product
            for ref in (f"id:{_cell(table, cells, 'ID')}", _cell(table, cells, "SKU")):
                if ref not in ("id:", ""):
                    by_ref[ref] = product
            if "simple" in kind:
                found = _colour_of(_attributes(table, cells))
                colour = found[1].split(",")[0].strip() if found else ""
                product.variants.append(Variant(ident_, table.where(line), sku=_cell(table, cells, "SKU"),
                                                colour=colour, options=_attributes(table, cells)))
        else:
            notes.append(f"{table.where(line)}: type '{kind or '(empty)'}' is not simple, variable or variation: "
                         "left out")
    for line, cells in variations:
        _variation(table, line, cells, by_ref, notes)
    return Listing("woocommerce", path.name, list(products.values()), notes)


def _variation(table: Table, line: int, cells: list[str], by_ref: dict[str, Product], notes: list[str]) -> None:
    parent = _cell(table, cells, "Parent")
    product = by_ref.get(parent)
    if product is None:
        notes.append(f"{table.where(line)}: a variation of '{parent}', which the file does not have: left out")
        return
    attributes = _attributes(table, cells)
    found = _colour_of(attributes)
    photos = _photos(table, line, cells)
    sku = _cell(table, cells, "SKU")
    product.variants.append(Variant(sku or f"{product.key}:{line}", table.where(line), sku=sku,
                                    colour=found[1] if found else "", options=attributes,
                                    image=photos[0] if photos else None,
                                    extra={"id": _cell(table, cells, "ID")} if _cell(table, cells, "ID") else {}))
