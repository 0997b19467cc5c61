"""`mockups export`: the built (or published) outputs as a store's images, at a base URL.

Reads the catalog (for the order of products, colours and backgrounds), the build's manifest or a
`mockups publish` folder's published.json, and the import's store-import.json (to find each store
variant again; without it each catalog product is a store product and each colour a variant).
Every output an AI backend made must carry its IPTC DigitalSourceType in the file: the export
refuses to hand a store an AI-made image whose provenance has been lost.
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from mockups.engine import manifest
from mockups.engine.cache import atomic_write
from mockups.imaging import DIGITAL_SOURCE_TYPES, ImagingError, digital_source_type, read_metadata
from mockups.stores import merchant, shopify
from mockups.stores._model import StoreError, StoreFileError
from mockups.stores._table import read_table, table_bytes
from mockups.stores.importer import SIDECAR

LIMITS = {"shopify": (shopify.MAX_IMAGE_BYTES, shopify.MAX_IMAGE_PIXELS),
          "merchant": (merchant.MAX_IMAGE_BYTES, merchant.MAX_IMAGE_PIXELS)}


@dataclass
class ProductImages:
    images: list[tuple[str, str]] = field(default_factory=list)  # (url, alt text) in position order
    by_colour: dict[str, list[str]] = field(default_factory=dict)

    def main(self, colour: str) -> str:
        return (self.by_colour.get(colour) or [""])[0]


@dataclass
class ExportReport:
    out: Path
    channel: str
    rows: int = 0
    images: int = 0  # outputs listed
    variants: list[str] = field(default_factory=list)  # the built variants listed, by id
    missing: list[str] = field(default_factory=list)  # store variants without a built image of their colour
    skipped: list[str] = field(default_factory=list)  # outputs over the store's limits, or too many
    written: bool = True


def _outputs(build_dir: Path, published: Path | None) -> tuple[dict[str, dict], Path]:
    entries = {vid: e for vid, e in manifest.load(build_dir).items() if e.get("status") == "ok" and e.get("output")}
    if published is None:
        return entries, build_dir
    try:
        record = json.loads((published / "published.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise StoreFileError(f"{published}: no readable published.json ({e}); run `mockups publish --to "
                             f"{published}` first") from None
    chosen = record.get("variants", {}) if isinstance(record, dict) else {}
    return {vid: _published_entry(entries.get(vid, {}), p) for vid, p in chosen.items() if isinstance(p, dict)}, \
        published


MADE_BY = ("backend", "model", "digital_source")


def _published_entry(built: dict, published: dict) -> dict:
    """A published output's entry: the manifest's, if the published file is the one built (same
    sha256); else what made it is not known from the manifest (the variant was rebuilt since), and
    the file's own embedded metadata is asked instead (`made_by_file`)."""
    if built.get("sha256") == published.get("sha256"):
        return {**built, **published}
    return {**{k: v for k, v in built.items() if k not in MADE_BY}, **published, "made_by_file": True}


def check_provenance(entry: dict, data: bytes, shown: str) -> str | None:
    """Why the output must not be exported (an AI-made image without its IPTC source type), or None."""
    if entry.get("made_by_file"):  # published before a rebuild: the file says what made it
        try:
            entry = {**entry, **{k: v for k, v in read_metadata(data).items() if k in ("backend", "model")}}
        except (ImagingError, OSError, ValueError) as e:  # OSError: a damaged file Pillow cannot decode
            return f"{shown}: {e}"
        if not entry.get("backend"):
            return (f"{shown}: neither the manifest (the variant was rebuilt since it was published) nor the file "
                    "says what made it, so whether it must carry an AI source type cannot be told: publish it again")
    wanted = entry.get("digital_source")  # what the backend declared (outputs made since it does)
    if not wanted and entry.get("backend") == "openai" and entry.get("model"):  # an edit made before that
        wanted = "trainedAlgorithmicMedia"
    try:
        found = digital_source_type(data)
    except (ImagingError, OSError, ValueError) as e:
        return f"{shown}: cannot be read ({e})"
    if wanted and found not in DIGITAL_SOURCE_TYPES.values():
        return (f"{shown}: made by {entry.get('backend')} ({entry.get('model') or 'AI'}) but the file does not carry "
                f"its IPTC DigitalSourceType ({DIGITAL_SOURCE_TYPES[wanted]}): rebuild it with `mockups build "
                "--force --only ...` so the file carries it again")
    return None


def _order(catalog):
    m = catalog.model
    products = {p.sku: (i, list(p.placements or {})) for i, p in enumerate(m.products)}
    colours = {c.id: i for i, c in enumerate(m.colours)}
    backgrounds = {b.id: i for i, b in enumerate(m.backgrounds)}
    far = 1 << 30

    def key(e: dict) -> tuple:
        at, places = products.get(e["sku"], (far, []))
        place = e.get("placement")
        return (at, colours.get(e["colour"], far), places.index(place) if place in places else far,
                backgrounds.get(e["background"], far), e.get("design") or "", e["id"])
    return key


def _url(base_url: str, output: str) -> str:
    return base_url.rstrip("/") + "/" + urllib.parse.quote(output)


def collect(catalog, kind: str, entries: dict[str, dict], folder: Path, base_url: str,
            channel: str, report: ExportReport) -> dict[str, ProductImages]:
    """Each product's images (its built outputs on `channel`, in catalog order) as URLs; raises
    StoreError when an AI-made output has lost its provenance."""
    max_bytes, max_pixels = LIMITS[kind]
    refused: list[str] = []
    out: dict[str, ProductImages] = {}
    names = {p.sku: p.name for p in catalog.model.products}
    for e in sorted((e for e in entries.values() if e.get("channel") == channel), key=_order(catalog)):
        path = (folder / e["output"]).resolve()
        if not path.is_relative_to(folder.resolve()):  # a record edited to name a file elsewhere
            report.skipped.append(f"{e['id']}: {e['output']}: not inside {folder}")
            continue
        try:
            data = path.read_bytes()
        except OSError as err:
            report.skipped.append(f"{e['id']}: {path}: {err.strerror or err}")
            continue
        why = check_provenance(e, data, e["output"])  # first: an AI image that lost its marks is refused outright
        if why:
            refused.append(why)
            continue
        if e.get("sha256") and hashlib.sha256(data).hexdigest() != e["sha256"]:
            report.skipped.append(f"{e['id']}: {e['output']}: its bytes are not those recorded (changed since it was "
                                  f"built or published): build or publish again")
            continue
        w, h = (e.get("size") or [0, 0])[:2]
        if len(data) > max_bytes or w * h > max_pixels:
            report.skipped.append(f"{e['output']}: {len(data):,} bytes, {w}x{h}: over the {kind} limit of "
                                  f"{max_bytes // 2**20} MB, {max_pixels / 1e6:g} megapixels")
            continue
        imgs = out.setdefault(e["sku"], ProductImages())
        url = _url(base_url, e["output"])
        parts = [names.get(e["sku"], e["sku"]), e.get("colour_name") or e["colour"]]
        parts += [x for x in (e.get("placement"), e.get("background_name")) if x]
        imgs.images.append((url, " - ".join(parts)))
        imgs.by_colour.setdefault(e["colour"], []).append(url)
        report.variants.append(e["id"])
    if refused:
        raise StoreError("refusing to export AI-made images without their provenance metadata:\n" + "\n".join(refused))
    for sku, imgs in out.items():  # the colours' main images first: a variant's image must be the product's
        mains = {urls[0]: k for k, urls in enumerate(imgs.by_colour.values())}
        imgs.images.sort(key=lambda t: mains.get(t[0], len(mains)))  # noqa: B023 (used at once)
        if kind == "shopify" and len(imgs.images) > shopify.MAX_IMAGES:
            report.skipped += [f"{sku}: {url}: over Shopify's {shopify.MAX_IMAGES} images a product"
                               for url, _ in imgs.images[shopify.MAX_IMAGES:]]
            imgs.images = imgs.images[:shopify.MAX_IMAGES]
    report.images = sum(len(i.images) for i in out.values())
    return out


def records(catalog) -> tuple[list[dict], dict]:
    """The store products to export (the import's records, each with its catalog sku), and the
    import's record as a whole ({} when the catalog was not imported)."""
    try:
        sidecar = json.loads((catalog.root / SIDECAR).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        sidecar = {}
    recorded = sidecar.get("products", {}) if isinstance(sidecar, dict) else {}
    out = []
    for p in catalog.model.products:
        r = recorded.get(p.sku)
        if r:
            out.append({**r, "sku": p.sku, "name": p.name})
        else:  # not imported: the product as a store product, one variant a colour
            ids = p.colours or [c.id for c in catalog.model.colours]
            names = {c.id: c.name for c in catalog.model.colours}
            out.append({"sku": p.sku, "key": p.sku, "name": p.name, "variants": [
                {"id": f"{p.sku}-{c}", "sku": f"{p.sku}-{c}", "colour": c, "options": {"Color": names.get(c, c)}}
                for c in ids]})
    return out, sidecar if isinstance(sidecar, dict) else {}


def _merchant_rows(products: list[dict], images: dict[str, ProductImages], report: ExportReport) -> list[dict]:
    rows = []
    for record in products:
        imgs = images.get(record["sku"])
        for v in record["variants"]:
            urls = [u for u in (imgs.by_colour.get(v["colour"], []) if imgs else []) if len(u) <= merchant.MAX_URL]
            if not urls:
                report.missing.append(f"{record['key']}: {v['id']}: no built image of colour '{v['colour']}'")
                continue
            if len(urls) > 1 + merchant.MAX_ADDITIONAL:
                report.skipped += [f"{v['id']}: {u}: over Merchant Center's {merchant.MAX_ADDITIONAL} additional "
                                   "images" for u in urls[1 + merchant.MAX_ADDITIONAL:]]
            rows.append({"id": v["id"], "image_link": urls[0],
                         "additional_image_link": urls[1:1 + merchant.MAX_ADDITIONAL]})
    return rows


def export_store(kind: str, catalog_file: str | Path = "catalog.yaml", *, base_url: str, out: str | Path | None = None,
                 from_file: str | Path | None = None, channel: str | None = None, published: str | Path | None = None,
                 build_dir: str | Path | None = None) -> ExportReport:
    """Write the store's file (`out`; with `from_file`, that file updated in place unless `out` is
    given). Raises StoreFileError for bad input, StoreError when there is nothing to export or an
    AI-made output lost its provenance (then nothing is written)."""
    from mockups.catalog import load_catalog

    if kind not in LIMITS:
        raise StoreFileError(f"cannot export to '{kind}'; expected one of {', '.join(LIMITS)}")
    if not urllib.parse.urlparse(base_url).scheme:
        raise StoreFileError(f"--base-url {base_url!r}: expected a URL like https://cdn.example.com/mockups/")
    catalog = load_catalog(catalog_file)
    entries, folder = _outputs(Path(build_dir) if build_dir else catalog.root / "build",
                               Path(published).resolve() if published else None)
    channels = [c.id for c in catalog.model.channels]
    if channel is not None and channel not in channels:
        raise StoreFileError(f"--channel {channel!r}: the catalog's channels are {', '.join(channels)}")
    chosen = channel or next((c for c in channels if any(e.get("channel") == c for e in entries.values())), None)
    if chosen is None:
        raise StoreError("nothing is built yet: run `mockups build` first")
    default = "shopify-products.csv" if kind == "shopify" else "merchant-feed.tsv"
    target = Path(out) if out else Path(from_file) if from_file else catalog.root / default
    report = ExportReport(target, chosen)
    images = collect(catalog, kind, entries, folder, base_url, chosen, report)
    products, _ = records(catalog)
    products = [p for p in products if p["sku"] in images]
    data = _shopify(products, images, from_file, report) if kind == "shopify" else \
        _merchant(products, images, from_file, target, report)
    atomic_write(target, data)
    return report


def _merchant(products, images, from_file, target: Path, report: ExportReport) -> bytes:
    rows = _merchant_rows(products, images, report)
    if from_file:
        try:
            head = Path(from_file).read_bytes()[:4096]
        except OSError as e:
            raise StoreFileError(f"--from {from_file}: cannot read it ({e.strerror or e})") from None
        if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
            raise StoreFileError(f"--from {from_file}: only a TSV feed can be updated in place; write an XML "
                                 "supplemental feed with --out FILE.xml instead")
        table, report.rows = merchant.update(read_table(Path(from_file), delimiter="\t"), rows)
        return table_bytes(table)
    report.rows = len(rows)
    return merchant.feed_bytes(rows, xml=target.suffix.lower() == ".xml")


def _shopify(products, images, from_file, report: ExportReport) -> bytes:
    for record in products:
        imgs = images[record["sku"]]
        report.missing += [f"{record['key']}: {v['id']}: no built image of colour '{v['colour']}'"
                           for v in record["variants"] if not imgs.main(v["colour"])]
    if from_file:
        table, changed = shopify.update(read_table(Path(from_file)), {p["key"]: (p, images[p["sku"]])
                                                                       for p in products})
        report.rows = changed
    else:
        table = shopify.write_new(products, images)  # the current header names
        report.rows = len(table.rows)
    return table_bytes(table)
