"""Google Merchant Center product feeds: TSV or RSS 2.0 XML with `g:` fields (detected), read
into products by `item_group_id`, and written back as a supplemental feed of image links.

One item per variant: `id`, `item_group_id`, `title`, `color` (up to three joined by '/'),
`image_link`, `additional_image_link` (up to 10; comma-separated in a TSV, repeated in XML),
`lifestyle_image_link`, `gtin`, `mpn`.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

from mockups.stores._model import Listing, Photo, Product, StoreFileError, Variant
from mockups.stores._table import Table, read_table

G = "http://base.google.com/ns/1.0"
#: Merchant Center's limits on what the export writes: at most 10 additional images, URLs of at
#: most 2,000 characters, images at most 16 MB and 64 megapixels.
MAX_ADDITIONAL = 10
MAX_URL = 2000
MAX_IMAGE_BYTES = 16 * 1024 * 1024
MAX_IMAGE_PIXELS = 64_000_000
_MULTI = ("additional_image_link", "lifestyle_image_link")


def _items_xml(path: Path, data: bytes) -> list[tuple[str, dict[str, list[str]]]]:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise StoreFileError(f"{path.name}:{e.position[0]}: not readable XML ({e})") from None
    items = root.findall("./channel/item") or root.findall(".//item") or root.findall(f".//{{{G}}}item")
    out = []
    for n, item in enumerate(items, 1):
        fields: dict[str, list[str]] = {}
        for child in item:
            name = child.tag.split("}", 1)[-1]
            fields.setdefault(name, []).append((child.text or "").strip())
        out.append((f"{path.name}: item {n}", fields))
    return out


def _items_tsv(path: Path) -> list[tuple[str, dict[str, list[str]]]]:
    table = read_table(path, delimiter="\t")
    header = [h.strip().lower().removeprefix("g:") for h in table.header]
    if "id" not in header:
        raise StoreFileError(f"{path.name}:1: not a Merchant Center feed: no 'id' column")
    out = []
    for line, cells in table.rows:
        fields = {h: ([v.strip() for v in c.split(",") if v.strip()] if h in _MULTI else [c.strip()])
                  for h, c in zip(header, cells, strict=False)}
        out.append((table.where(line), fields))
    return out


def read(path: Path) -> Listing:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise StoreFileError(f"cannot read {path}: {e.strerror or e}") from None
    xml = data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")
    items = _items_xml(path, data) if xml else _items_tsv(path)
    products: dict[str, Product] = {}
    notes: list[str] = []
    for where, f in items:
        first = {k: (v[0] if v else "") for k, v in f.items()}
        if not first.get("id"):
            notes.append(f"{where}: an item without an id: left out")
            continue
        group = first.get("item_group_id") or first["id"]
        product = products.get(group)
        if product is None:
            product = products[group] = Product(group, first.get("title") or group, where)
        colours = [c.strip() for c in first.get("color", "").split("/") if c.strip()]
        if len(colours) > 1:
            notes.append(f"{where}: colour '{first['color']}' names {len(colours)} colours: the first, "
                         f"'{colours[0]}', is used")
        image = Photo(first["image_link"], where) if first.get("image_link") else None
        if image and not product.photos:
            product.photos.append(image)
        for url in f.get("additional_image_link", []) + f.get("lifestyle_image_link", []):
            if url and all(p.url != url for p in product.photos):
                product.photos.append(Photo(url, where))
        extra = {k: first[k] for k in ("gtin", "mpn") if first.get(k)}
        product.variants.append(Variant(first["id"], where, sku=first["id"], colour=colours[0] if colours else "",
                                        options={k: first[k] for k in ("color", "size") if first.get(k)},
                                        image=image, extra=extra))
    return Listing("merchant", path.name, list(products.values()), notes, "xml" if xml else "tsv")


def feed_bytes(rows: list[dict[str, object]], *, xml: bool) -> bytes:
    """A supplemental feed: per item its `id`, `image_link` and `additional_image_link`s."""
    if xml:
        ET.register_namespace("g", G)
        rss = ET.Element("rss", {"version": "2.0"})
        channel = ET.SubElement(rss, "channel")
        ET.SubElement(channel, "title").text = "mockups images"
        for row in rows:
            item = ET.SubElement(channel, "item")
            ET.SubElement(item, f"{{{G}}}id").text = str(row["id"])
            ET.SubElement(item, f"{{{G}}}image_link").text = str(row["image_link"])
            for url in row["additional_image_link"]:  # type: ignore[attr-defined]
                ET.SubElement(item, f"{{{G}}}additional_image_link").text = url
        ET.indent(rss)
        buf = io.BytesIO()
        ET.ElementTree(rss).write(buf, encoding="utf-8", xml_declaration=True)
        return buf.getvalue() + b"\n"
    lines = ["id\timage_link\tadditional_image_link"]
    for row in rows:
        lines.append(f"{row['id']}\t{row['image_link']}\t{_joined(row['additional_image_link'])}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _joined(urls) -> str:
    """URLs as a comma-separated field: a comma inside one (an image CDN's `w_800,h_800`) written as
    %2C, which servers read as the comma, so that the field splits back into the same URLs."""
    return ",".join(str(u).replace(",", "%2C") for u in urls)


def update(table: Table, rows: list[dict[str, object]]) -> tuple[Table, int]:
    """The store's own TSV feed with only `image_link` and `additional_image_link` changed, for
    the items `rows` names (by id); returns it and how many items changed."""
    header = [h.strip().lower().removeprefix("g:") for h in table.header]
    if "id" not in header or "image_link" not in header:
        raise StoreFileError(f"{table.file.name}:1: a feed to update needs 'id' and 'image_link' columns")
    at = {h: header.index(h) for h in ("id", "image_link", "additional_image_link") if h in header}
    by_id = {str(r["id"]): r for r in rows}
    out, changed = [], 0
    for line, cells in table.rows:
        row = by_id.get(cells[at["id"]].strip())
        new = list(cells)
        if row is not None:
            new[at["image_link"]] = str(row["image_link"])
            if "additional_image_link" in at:
                new[at["additional_image_link"]] = _joined(row["additional_image_link"])
        changed += new != cells
        out.append((line, new))
    return Table(table.file, table.header, out, table.bom, table.newline, table.delimiter), changed
