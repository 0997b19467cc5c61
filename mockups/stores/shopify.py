"""Shopify's product CSV: reading either header generation, writing one with the images set.

Shopify's template has two generations of header names: the older one (`Handle`, `Option1 Name`,
`Variant SKU`, `Image Src`, `Variant Image`, ...) and the current one (`URL handle`, `Option1 name`,
`SKU`, `Product image URL`, `Variant image URL`, ...). Rows are variants grouped by handle; the
first row of a product carries its title and option names; image-only rows carry more photos.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from pathlib import Path
from typing import Any

from mockups.stores._model import Listing, Photo, Product, StoreFileError, Variant
from mockups.stores._table import Table, read_table

#: role -> (older header, current header)
COLUMNS = {
    "handle": ("Handle", "URL handle"), "title": ("Title", "Title"),
    "option1 name": ("Option1 Name", "Option1 name"), "option1 value": ("Option1 Value", "Option1 value"),
    "option2 name": ("Option2 Name", "Option2 name"), "option2 value": ("Option2 Value", "Option2 value"),
    "option3 name": ("Option3 Name", "Option3 name"), "option3 value": ("Option3 Value", "Option3 value"),
    "sku": ("Variant SKU", "SKU"), "barcode": ("Variant Barcode", "Barcode"),
    "image": ("Image Src", "Product image URL"), "position": ("Image Position", "Image position"),
    "alt": ("Image Alt Text", "Image alt text"), "variant image": ("Variant Image", "Variant image URL"),
}
IMAGE_ROLES = ("image", "position", "alt", "variant image")
#: the colour option's name as stores write it, in the languages Shopify's admin is in (compared in lower case)
COLOUR_OPTIONS = {"color", "colour", "colors", "colours", "color name", "colour name", "farbe", "couleur", "kleur",
                  "colore", "cor", "färg", "farve", "farge", "väri", "kolor", "barva", "farba", "szín", "culoare",
                  "renk", "χρώμα", "цвет", "колір", "колер", "カラー", "色", "颜色", "顏色", "색상", "색깔", "สี",
                  "màu", "màu sắc", "warna", "رنگ", "لون", "צבע"}
#: Shopify's limits that apply to what the export writes: at most 250 images (media) per product,
#: each at most 20 MB and 20 megapixels (4472 x 4472; some of Shopify's pages say 5000 x 5000 =
#: 25 megapixels: the stricter is applied).
MAX_IMAGES = 250
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_IMAGE_PIXELS = 4472 * 4472


def _columns(table: Table) -> tuple[str, dict[str, int | None]]:
    generation = "current" if table.column("URL handle") is not None else "legacy"
    cols = {role: table.column(*names) for role, names in COLUMNS.items()}
    if cols["handle"] is None:
        shown = ", ".join(table.header[:8]) + (", ..." if len(table.header) > 8 else "")
        if len(table.header) == 1 and ";" in table.header[0] and any(
                part.strip().lower() in {n.lower() for n in COLUMNS["handle"]} for part in table.header[0].split(";")):
            raise StoreFileError(f"{table.file.name}:1: its columns are separated by semicolons (;), as a spreadsheet "
                                 "set to a language that writes decimal commas saves a CSV; Shopify's product CSV is "
                                 "separated by commas: export it from Shopify again, or save it as 'CSV UTF-8 "
                                 "(comma delimited)'")
        raise StoreFileError(f"{table.file.name}:1: not a Shopify product CSV: no 'Handle' or 'URL handle' "
                             f"column (the header has: {shown})")
    return generation, cols


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index].strip() if index is not None and index < len(cells) else ""


def read(path: Path) -> Listing:
    table = read_table(path)
    generation, cols = _columns(table)
    groups: dict[str, list[tuple[int, list[str]]]] = defaultdict(list)
    notes: list[str] = []
    for line, cells in table.rows:
        handle = _cell(cells, cols["handle"])
        if not handle:
            notes.append(f"{table.where(line)}: a row without a handle: left out")
            continue
        groups[handle].append((line, cells))
    products = [_product(table, cols, handle, rows, notes) for handle, rows in groups.items()]
    return Listing("shopify", path.name, products, notes, generation)


def _product(table: Table, cols, handle: str, rows, notes: list[str]) -> Product:
    title = next((_cell(c, cols["title"]) for _, c in rows if _cell(c, cols["title"])), handle)
    names = [next((_cell(c, cols[f"option{n} name"]) for _, c in rows if _cell(c, cols[f"option{n} name"])), "")
             for n in (1, 2, 3)]
    product = Product(handle, title, table.where(rows[0][0]))
    photos: list[tuple[int, int, Photo]] = []
    colour_at = next((i for i, n in enumerate(names) if n.strip().lower() in COLOUR_OPTIONS), None)
    for k, (line, cells) in enumerate(rows):
        src = _cell(cells, cols["image"])
        if src:
            pos = _cell(cells, cols["position"])
            photos.append((int(pos) if pos.isdigit() else 10_000 + k, k, Photo(src, table.where(line),
                                                                             _cell(cells, cols["alt"]))))
        values = [_cell(cells, cols[f"option{n} value"]) for n in (1, 2, 3)]
        sku = _cell(cells, cols["sku"])
        if not any(values) and not sku and (k > 0 or not _cell(cells, cols["title"])):
            continue  # an image-only row (a product's first row, with its title, is its one variant)
        options = {names[i] or f"Option{i + 1}": v for i, v in enumerate(values) if v}
        image = _cell(cells, cols["variant image"])
        variant = Variant(sku or f"{handle}:{'/'.join(values)}", table.where(line), sku=sku,
                          colour=values[colour_at] if colour_at is not None else "", options=options,
                          image=Photo(image, table.where(line)) if image else None,
                          extra={"barcode": _cell(cells, cols["barcode"])} if _cell(cells, cols["barcode"]) else {})
        product.variants.append(variant)
    if colour_at is None and product.variants:
        said = ", ".join(n for n in names if n) or "none"
        notes.append(f"{product.where}: {handle}: no colour option (options: {said}): one colour, from its photo")
    product.photos = [p for _, _, p in sorted(photos, key=lambda t: (t[0], t[1]))]
    return product


# --- writing -------------------------------------------------------------------------------------


def _names(generation: str) -> dict[str, str]:
    return {role: names[0 if generation == "legacy" else 1] for role, names in COLUMNS.items()}


EXPORT_ROLES = ("handle", "title", "option1 name", "option1 value", "option2 name", "option2 value",
                "option3 name", "option3 value", "sku", "image", "position", "alt", "variant image")


def write_new(products: list[dict], images: dict, generation: str = "current") -> Table:
    """A product CSV of the images only: per store variant its options, SKU and variant image; the
    product's images in position order on its rows, then on image-only rows. `products`: the
    import's records (key, name, variants); `images`: sku -> ProductImages."""
    names = _names(generation)
    header = [names[r] for r in EXPORT_ROLES]
    table = Table(Path("export.csv"), header, [])
    for record in products:
        imgs = images[record["sku"]]
        option_names = list(dict.fromkeys(k for v in record["variants"] for k in v["options"]))[:3]
        rows = []
        for k, v in enumerate(record["variants"]):
            row = dict.fromkeys(EXPORT_ROLES, "")
            row.update(handle=record["key"], sku=v["sku"])
            row["variant image"] = imgs.main(v["colour"])
            for n, name in enumerate(option_names, 1):
                if k == 0:
                    row[f"option{n} name"] = name
                row[f"option{n} value"] = v["options"].get(name, "")
            rows.append(row)
        rows[0]["title"] = record["name"]
        for i, (url, alt) in enumerate(imgs.images):
            if i >= len(rows):
                rows.append({**dict.fromkeys(EXPORT_ROLES, ""), "handle": record["key"]})
            rows[i].update(image=url, position=str(i + 1), alt=alt)
        table.rows += [(0, [r[role] for role in EXPORT_ROLES]) for r in rows]
    return table


def update(table: Table, by_handle: dict[str, tuple[dict, Any]]) -> tuple[Table, int]:
    """The store's own CSV with only its image columns changed for the handles in `by_handle`
    (handle -> (import record, ProductImages)); returns it and how many rows changed."""
    _, cols = _columns(table)
    for role in IMAGE_ROLES:
        if cols[role] is None:
            raise StoreFileError(f"{table.file.name}:1: no '{COLUMNS[role][0]}' / '{COLUMNS[role][1]}' column "
                                 "to put the images in")
    width = len(table.header)
    out: list[tuple[int, list[str]]] = []
    changed = 0
    rows = table.rows
    seen: set[str] = set()
    i = 0
    while i < len(rows):
        handle = _cell(rows[i][1], cols["handle"])
        j = i
        while j < len(rows) and _cell(rows[j][1], cols["handle"]) == handle:
            j += 1
        group = [(line, list(cells)) for line, cells in rows[i:j]]
        if handle in by_handle:
            record, imgs = by_handle[handle]
            if handle in seen:  # the handle's rows again, further down: its images are listed already
                imgs = dataclasses.replace(imgs, images=[])
            seen.add(handle)
            group, n = _update_group(group, cols, width, record, imgs)
            changed += n
        out += group
        i = j
    return Table(table.file, table.header, out, table.bom, table.newline, table.delimiter), changed


def _values_key(values) -> frozenset:
    """A variant's option values, whatever their order and case (its identity without a SKU)."""
    return frozenset(str(v).strip().lower() for v in values if str(v).strip())


def _update_group(group, cols, width: int, record: dict, imgs) -> tuple[list, int]:
    colour_of = {v["sku"]: v["colour"] for v in record["variants"] if v["sku"]}
    by_values = {_values_key(v["options"].values()): v["colour"] for v in record["variants"]}  # "m", "black"
    colours_of_value: dict[str, set] = {}
    for v in record["variants"]:  # the colour option's values only: a size that only one colour had is no colour
        for name, o in v["options"].items():
            if str(name).strip().lower() in COLOUR_OPTIONS:
                colours_of_value.setdefault(str(o).lower(), set()).add(v["colour"])
    colour_by_value = {o: next(iter(cs)) for o, cs in colours_of_value.items() if len(cs) == 1}
    before = [list(c) for _, c in group]
    for _, cells in group:
        for role in ("image", "position", "alt"):
            cells[cols[role]] = ""
        values = [_cell(cells, cols[f"option{n} value"]) for n in (1, 2, 3)]
        sku = _cell(cells, cols["sku"])
        if any(values) or sku:
            colour = colour_of.get(sku) or by_values.get(_values_key(values)) or next(
                (colour_by_value[x.lower()] for x in values if x.lower() in colour_by_value), "")
            cells[cols["variant image"]] = imgs.main(colour) or cells[cols["variant image"]]
    for k, (url, alt) in enumerate(imgs.images):
        if k >= len(group):
            cells = [""] * width
            cells[cols["handle"]] = group[0][1][cols["handle"]]
            group.append((0, cells))
        group[k][1][cols["image"]], group[k][1][cols["position"]], group[k][1][cols["alt"]] = url, str(k + 1), alt
    kept = [(line, cells) for line, cells in group
            if any(c.strip() for n, c in enumerate(cells) if n != cols["handle"])]
    changed = sum(1 for k, (_, c) in enumerate(kept) if k >= len(before) or c != before[k])
    return kept, changed + max(0, len(before) - len(kept))
