"""`mockups import`: a store's export to a catalog.yaml that validates, its photos in assets/.

Straight through: read the export (shopify, woocommerce, merchant), fetch the photos it names,
resolve each colour name to a hex, then write a new catalog or splice what changed into the
user's, and record what this import wrote (`store-import.json`: the export uses it to find each
store variant again, the next import to tell the user's edits from the store's changes).
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mockups.engine.cache import write_if_changed
from mockups.stores import merchant, shopify, woocommerce
from mockups.stores._model import Listing, Product, StoreError, StoreFileError, colour_id, unique_ids
from mockups.stores.catalog_text import NewColour, NewProduct, merge, new_catalog
from mockups.stores.colours import lookup, measure, normal, read_colours_file
from mockups.stores.download import Fetched, Limits, fetch_all, stem_for

READERS = {"shopify": shopify.read, "woocommerce": woocommerce.read, "merchant": merchant.read}
SIDECAR = "store-import.json"
CATALOG = "catalog.yaml"


@dataclass
class ImportReport:
    catalog: Path
    created: bool = False
    products: int = 0
    colours: int = 0
    downloaded: int = 0
    failed: list[str] = field(default_factory=list)  # photos that could not be fetched, with their row
    notes: list[str] = field(default_factory=list)  # what the export has that could not be mapped
    colour_sources: list[str] = field(default_factory=list)  # each colour's hex and where it came from
    unresolved: list[str] = field(default_factory=list)  # colour names no source resolves
    left_out: list[str] = field(default_factory=list)  # products the catalog could not take, and why
    changes: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    written: bool = False


def _load_sidecar(folder: Path) -> dict:
    try:
        data = json.loads((folder / SIDECAR).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _built_outputs(out: Path) -> set[str]:
    """The output paths of this project's last build (an exported image's URL ends with one)."""
    from mockups.engine import manifest

    return {str(e["output"]) for e in manifest.load(out / "build").values() if e.get("output")}


def _is_output(url: str, outputs: set[str]) -> bool:
    try:
        parts = urllib.parse.urlparse(url).path.split("/")
    except ValueError:  # a malformed address: its fetch says so
        return False
    return any("/".join(parts[-n:]) in outputs for n in range(2, min(len(parts), 6) + 1))


def _fetch(listing: Listing, base: Path, out: Path, limits: Limits) -> dict[str, Fetched]:
    """Every photo the catalog may use (each product's, each variant's own), fetched once by URL;
    a URL of one of this project's built outputs is known as ours without fetching it."""
    items: list[tuple[str, str, Path]] = []
    ours: dict[str, Fetched] = {}
    taken: set[Path] = set()
    seen: set[str] = set()
    outputs = _built_outputs(out)
    for product in listing.products:
        folder = out / "assets" / product.sku
        wanted = product.photos[:1] + [v.image for v in product.variants if v.image]
        for photo in wanted:
            if not photo or photo.url in ours or photo.url in seen:
                continue
            if _is_output(photo.url, outputs):
                ours[photo.url] = Fetched(photo.url, photo.where, ours=True)
            else:
                items.append((photo.url, photo.where, stem_for(folder, photo.url, taken)))
                seen.add(photo.url)
    return {**ours, **{f.url: f for f in fetch_all(items, base, limits)}}


def _other_options(listing: Listing) -> list[str]:
    """A note naming the options the catalog does not carry (sizes, materials)."""
    from mockups.stores.shopify import COLOUR_OPTIONS

    names = {k for p in listing.products for v in p.variants for k in v.options
             if k.strip().lower().removeprefix("pa_") not in COLOUR_OPTIONS and k != "Title"}
    if not names:
        return []
    return [f"{listing.file}: options not carried: {', '.join(sorted(names))} (each colour's image serves them all)"]


def _main_image(product: Product, got: dict[str, Fetched], out: Path, last: dict | None) -> str | None:
    for photo in product.photos[:1] + [v.image for v in product.variants if v.image]:
        f = got.get(photo.url) if photo else None
        if f is not None and f.ok and f.path is not None:
            return f.path.relative_to(out).as_posix()
    return (last or {}).get("image")  # only our own outputs (or nothing usable): keep what it had


def _colour_name(product: Product, variant_colour: str) -> str:
    return variant_colour or f"{product.name} as photographed"


def _colour_photos(listing: Listing, got: dict[str, Fetched], images: dict[str, str | None],
                   out: Path) -> dict[str, tuple[str, list[Path]]]:
    """Each colour name (normalised) -> (its name as the store writes it, the photos that show it)."""
    found: dict[str, tuple[str, list[Path]]] = {}
    shows: dict[str, set[str]] = {}  # photo URL -> the colours whose variants name it
    for product in listing.products:
        for v in product.variants:
            if v.image:
                shows.setdefault(v.image.url, set()).add(normal(_colour_name(product, v.colour)))
    for product in listing.products:
        for v in product.variants:
            name = _colour_name(product, v.colour)
            entry = found.setdefault(normal(name), (name, []))
            f = got.get(v.image.url) if v.image and len(shows[v.image.url]) == 1 else None  # one colour's own
            if f is not None and f.ok and f.path is not None and f.path not in entry[1]:
                entry[1].append(f.path)
            elif (not v.colour or len({x.colour for x in product.variants}) == 1) and images.get(product.sku):
                main = out / str(images[product.sku])  # one colour: the product's photo shows it
                if main not in entry[1]:
                    entry[1].append(main)
    return found


def _far(measured: str, named: str | None, limit: float = 25.0) -> float | None:
    """The CIEDE2000 distance of a measured colour from its name's, when it is over `limit`."""
    if not named:
        return None
    from mockups.imaging import ciede2000, hex_to_lab

    d = float(ciede2000(hex_to_lab(measured), hex_to_lab(named)))
    return d if d > limit else None


def _resolve(found, user: dict[str, str], last: dict, user_file: str, report: ImportReport) -> dict[str, NewColour]:
    resolved: dict[str, NewColour] = {}
    ids = unique_ids(found, colour_id)
    for key, (name, photos) in found.items():
        cid, table = ids[key], lookup(name)
        hex_, how = None, ""
        if key in user:
            hex_, how = user[key], f"from {user_file}"
        for path in photos[:3] if hex_ is None else []:
            m = measure(path)
            if m is not None:
                hex_, how = m.hex, f"measured in {path.parent.name}/{path.name}" + (
                    f" (the name table says {table})" if table else "")
                far = _far(m.hex, table)
                if far:
                    report.notes.append(f"colour '{name}': measured {m.hex} in {path.parent.name}/{path.name} is far "
                                        f"from what the name usually is ({table}, ΔE {far:.0f}): check the photo, "
                                        "or give the colour in a --colours file")
                break
        if hex_ is None and (last.get(cid) or {}).get("hex"):  # no new evidence: what the last import found
            hex_, how = last[cid]["hex"], last[cid].get("how") or "as the last import"
        if hex_ is None and table:
            hex_, how = table, "built-in colour table" + (" (its photo could not be measured)" if photos else "")
        if hex_ is None:
            report.unresolved.append(f"'{name}': not in the built-in table and no photo of it could be measured; "
                                     "give it in a --colours file")
            continue
        resolved[key] = NewColour(cid, name, hex_, how)
        report.colour_sources.append(f"{name} -> {hex_}: {how}")
    return resolved


def _plan_products(listing: Listing, images, resolved, report: ImportReport) -> list[NewProduct]:
    out = []
    for product in listing.products:
        image = images.get(product.sku)
        ids = list(dict.fromkeys(resolved[normal(_colour_name(product, v.colour))].id for v in product.variants
                                 if normal(_colour_name(product, v.colour)) in resolved))
        if not image:
            report.left_out.append(f"{product.where}: {product.key}: no photo could be fetched: left out")
        elif not ids:
            report.left_out.append(f"{product.where}: {product.key}: none of its colours is resolved: left out")
        else:
            out.append(NewProduct(product.sku, product.name, image, ids))
    return out


def _record(listing: Listing, products: list[NewProduct], colours: list[NewColour], before: dict) -> dict:
    by_sku = {p.sku: p for p in listing.products}
    recorded = dict(before.get("products", {}))
    for p in products:
        store = by_sku[p.sku]
        recorded[p.sku] = {"key": store.key, "name": p.name, "image": p.image, "colours": p.colours,
                           "variants": [{"id": v.id, "sku": v.sku,
                                         "colour": colour_id(normal(_colour_name(store, v.colour))),
                                         "options": v.options, **({"extra": v.extra} if v.extra else {})}
                                        for v in store.variants]}
    known = dict(before.get("colours", {}))
    known.update({c.id: {"name": c.name, "hex": c.hex, "how": c.how} for c in colours})
    return {"version": 1, "store": listing.kind, "generation": listing.generation,
            "products": recorded, "colours": known}


def import_store(kind: str, file: str | Path, out: str | Path | None = None, *, colours: str | Path | None = None,
                 limits: Limits | None = None, size: str = "2048x2048") -> ImportReport:
    """Import a store's export into `out` (default: the current folder): catalog.yaml, assets/ and
    store-import.json. Raises StoreFileError for an unreadable export or --colours file, StoreError
    when nothing could be imported, CatalogError when the catalog it would write does not validate
    (then neither catalog.yaml nor store-import.json is written; the photos already fetched stay in
    assets/, where the next import finds them)."""
    from mockups.catalog import parse_catalog

    if kind not in READERS:
        raise StoreFileError(f"unknown store '{kind}'; expected one of {', '.join(READERS)}")
    file, folder = Path(file), Path(out or ".").resolve()
    listing = READERS[kind](file)
    skus = unique_ids(p.key for p in listing.products)
    for product in listing.products:
        if skus[product.key] != product.sku:
            product.sku_as = skus[product.key]
    user = read_colours_file(Path(colours)) if colours else {}
    folder.mkdir(parents=True, exist_ok=True)
    before = _load_sidecar(folder)
    report = ImportReport(folder / CATALOG, notes=list(listing.notes) + _other_options(listing))
    got = _fetch(listing, file.resolve().parent, folder, limits or Limits())
    report.failed = [f"{f.where}: {f.url}: {f.error}" for f in got.values() if f.error]
    report.downloaded = sum(1 for f in got.values() if f.ok)
    last_products = before.get("products", {})
    images = {p.sku: _main_image(p, got, folder, last_products.get(p.sku)) for p in listing.products}
    resolved = _resolve(_colour_photos(listing, got, images, folder), user, before.get("colours", {}),
                        Path(colours).name if colours else "", report)
    products = _plan_products(listing, images, resolved, report)
    if not products:
        raise StoreError(f"{file.name}: no product could be imported: " + "; ".join(report.left_out[:3]))
    used = {c for p in products for c in p.colours}
    new_colours = [c for c in resolved.values() if c.id in used]
    text = _catalog_text(report, products, new_colours, before, f"{listing.kind} export {file.name}", size)
    parse_catalog(text, report.catalog)  # CatalogError: the catalog and the record are not written
    report.written = write_if_changed(report.catalog, text.encode("utf-8"))
    sidecar = json.dumps(_record(listing, products, new_colours, before), indent=2, sort_keys=True,
                         ensure_ascii=False) + "\n"
    write_if_changed(folder / SIDECAR, sidecar.encode("utf-8"))
    report.products, report.colours = len(products), len(new_colours)
    return report


def _catalog_text(report: ImportReport, products, colours, before: dict, source: str, size: str) -> str:
    if not report.catalog.exists():
        report.created = True
        return new_catalog(products, colours, source=source, size=size)
    text = report.catalog.read_text(encoding="utf-8")
    try:
        merged = merge(text, products, colours, before)
    except (ValueError, yaml.YAMLError) as e:  # a section written on one line, unreadable YAML
        raise StoreError(f"{report.catalog}: cannot add the import to this catalog: {e}") from None
    report.changes, report.kept = merged.changes, merged.kept
    return merged.text
