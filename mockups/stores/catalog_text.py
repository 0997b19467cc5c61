"""The catalog an import writes: a new catalog.yaml, or the user's own one with what the store
changed spliced in.

Like the print-area editor (review/catalog_edit.py), a re-import never re-dumps the file: it finds
what it changes by the YAML parser's node positions and replaces or appends text there, so every
byte it does not change (comments, order, aligned tables, print areas, masks, templates) stays.
A value the user edited is kept (three-way: the catalog's value, the value the last import wrote,
the store's value now); the store's change is applied only where the catalog still has what the
last import wrote.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import yaml

from mockups.catalog._yaml import quoted

_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/()&+'-]*$")


def q(text: str) -> str:
    """`text` as a YAML scalar: plain where that reads back the same, else double-quoted."""
    if _PLAIN.match(text) and not text.endswith(" ") and " #" not in text:
        try:
            if yaml.safe_load(text) == text:
                return text
        except yaml.YAMLError:
            pass
    return quoted(text)


@dataclass
class NewProduct:
    sku: str
    name: str
    image: str
    colours: list[str]


@dataclass
class NewColour:
    id: str
    name: str
    hex: str
    how: str = field(default="", compare=False)  # where the hex came from, in words


@dataclass
class Merge:
    text: str
    changes: list[str] = field(default_factory=list)  # what changed, in the user's words
    kept: list[str] = field(default_factory=list)  # the user's edits kept over the store's changes


def product_lines(p: NewProduct, pad: str) -> list[str]:
    return [f"{pad}- sku: {q(p.sku)}", f"{pad}  name: {q(p.name)}", f"{pad}  image: {q(p.image)}",
            f"{pad}  colours: [{', '.join(q(c) for c in p.colours)}]"]


def colour_line(c: NewColour, pad: str) -> str:
    return f'{pad}- {{id: {q(c.id)}, name: {q(c.name)}, hex: "{c.hex}"}}'


def new_catalog(products: list[NewProduct], colours: list[NewColour], *, source: str, size: str) -> str:
    lines = [f"# Imported from {source} by `mockups import`. Edit freely: importing again keeps your print",
             "# areas, masks, templates and comments, and adds what the store has new.", "version: 1", "",
             "channels:", "  - id: shop", f"    size: {size}", "    format: webp", "    quality: 90",
             "    fill: 0.8", "", "products:"]
    for p in products:
        lines += product_lines(p, "  ")
    lines += ["", "colours:"] + [colour_line(c, "  ") for c in colours]
    lines += ["", "backgrounds:", '  - {id: studio, name: Studio, colour: "#F2F2F0"}', ""]
    return "\n".join(lines)


def _value(node, key: str):
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    return None


def _items(root, section: str, key: str) -> tuple[yaml.SequenceNode | None, dict[str, yaml.MappingNode]]:
    seq = _value(root, section)
    if not isinstance(seq, yaml.SequenceNode):
        return None, {}
    found = {}
    for item in seq.value:
        ident = _value(item, key)
        if isinstance(ident, yaml.ScalarNode):
            found[str(ident.value)] = item
    return seq, found


def _line_end(text: str, node) -> int:
    """Just after the line on which `node`'s content ends."""
    while not getattr(node, "flow_style", True) and node.value:
        node = node.value[-1][1] if isinstance(node, yaml.MappingNode) else node.value[-1]
    end = text.find("\n", node.end_mark.index - 1 if node.end_mark.index else 0)
    return len(text) if end < 0 else end + 1


def _pad(text: str, item) -> str:
    dash = text.rfind("-", 0, item.start_mark.index)
    return " " * (dash - (text.rfind("\n", 0, dash) + 1))


def _append(text: str, seq: yaml.SequenceNode, lines: list[str]) -> tuple[int, int, str]:
    if seq.flow_style or not seq.value:
        raise ValueError("a section written on one line")
    at = _line_end(text, seq.value[-1])
    return at, at, ("" if text[at - 1:at] == "\n" else "\n") + "".join(line + "\n" for line in lines)


def _three_way(current: str, last: str | None, new: str) -> str:
    """'update', 'keep' (the user's edit wins, say so) or 'same'."""
    if new == current or new == last:
        return "same"
    return "update" if current == last else "keep"


def _scalar_edit(node, new: str, *, quoted: bool = False) -> tuple[int, int, str]:
    return node.start_mark.index, node.end_mark.index, json.dumps(new) if quoted else q(new)


def _product_edits(text: str, item, p: NewProduct, last: dict | None, out: Merge) -> list[tuple[int, int, str]]:
    edits = []
    for key in ("name", "image"):
        node = _value(item, key)
        new = getattr(p, key)
        if not isinstance(node, yaml.ScalarNode):
            continue
        decision = _three_way(str(node.value), (last or {}).get(key), new)
        if decision == "update":
            edits.append(_scalar_edit(node, new))
            out.changes.append(f"{p.sku}: {key} '{node.value}' -> '{new}'")
        elif decision == "keep":
            out.kept.append(f"{p.sku}: kept your {key} '{node.value}' (the store has '{new}')")
    listed = _value(item, "colours")
    if isinstance(listed, yaml.SequenceNode):  # without the key the product makes every colour
        have = {str(n.value) for n in listed.value if isinstance(n, yaml.ScalarNode)}
        gone = [c for c in (last or {}).get("colours", []) if c not in p.colours and c in have]
        if gone:
            out.kept.append(f"{p.sku}: no longer in the store, kept in the catalog: {', '.join(gone)}")
        before = set((last or {}).get("colours", []))
        removed = [c for c in p.colours if c not in have and c in before]  # the user took them out
        if removed:
            out.kept.append(f"{p.sku}: left out as you left them: {', '.join(removed)}")
        added = [c for c in p.colours if c not in have and c not in before]
        if added and listed.flow_style:
            close = listed.end_mark.index - 1
            edits.append((close, close, ("" if not listed.value else ", ") + ", ".join(q(c) for c in added)))
        elif added:
            edits.append(_append(text, listed, [f"{_pad(text, listed.value[-1])}- {q(c)}" for c in added]))
        if added:
            out.changes.append(f"{p.sku}: new colour{'s' if len(added) > 1 else ''} {', '.join(added)}")
    return edits


def _colour_edits(item, c: NewColour, last: dict | None, out: Merge) -> list[tuple[int, int, str]]:
    edits = []
    for key in ("name", "hex"):
        node = _value(item, key)
        new = getattr(c, key)
        if not isinstance(node, yaml.ScalarNode):
            continue
        current = str(node.value).upper() if key == "hex" else str(node.value)
        decision = _three_way(current, (last or {}).get(key), new)
        if decision == "update":
            edits.append(_scalar_edit(node, new, quoted=key == "hex"))
            out.changes.append(f"colour {c.id}: {key} {node.value} -> {new}")
        elif decision == "keep":
            out.kept.append(f"colour {c.id}: kept your {key} {node.value} (the store's import says {new})")
    return edits


def merge(text: str, products: list[NewProduct], colours: list[NewColour], last: dict) -> Merge:
    """The user's catalog `text` with the imported products and colours spliced in. `last`: what
    the last import wrote ({"products": {sku: {...}}, "colours": {id: {...}}})."""
    out = Merge(text)
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    pseq, have_products = _items(root, "products", "sku")
    cseq, have_colours = _items(root, "colours", "id")
    if pseq is None or cseq is None:
        raise ValueError("the catalog has no products or colours list")
    edits: list[tuple[int, int, str]] = []
    new_products = []
    for p in products:
        item = have_products.get(p.sku)
        if item is None and p.sku in last.get("products", {}):  # imported before, then removed by the user
            out.kept.append(f"{p.sku}: not added again (you removed it from the catalog)")
        elif item is None:
            new_products.append(p)
        else:
            edits += _product_edits(text, item, p, last.get("products", {}).get(p.sku), out)
    if new_products:
        pad = _pad(text, pseq.value[-1])
        edits.append(_append(text, pseq, [line for p in new_products for line in product_lines(p, pad)]))
        out.changes += [f"new product {p.sku} ({p.name}): {', '.join(p.colours)}" for p in new_products]
    new_colours = []
    for c in colours:
        item = have_colours.get(c.id)
        if item is None and c.id in last.get("colours", {}):  # imported before, then removed by the user
            out.kept.append(f"colour {c.id}: not added again (you removed it from the catalog)")
        elif item is None:
            new_colours.append(c)
        else:
            edits += _colour_edits(item, c, last.get("colours", {}).get(c.id), out)
    if new_colours:
        pad = _pad(text, cseq.value[-1])
        edits.append(_append(text, cseq, [colour_line(c, pad) for c in new_colours]))
        out.changes += [f"new colour {c.id} ({c.name}, {c.hex})" for c in new_colours]
    # from the end, so earlier offsets stay valid; of two edits at one place (a colour added to the
    # last product's list, and new products after it) the later-made goes in first, so it ends up after
    order = sorted(range(len(edits)), key=lambda n: (edits[n][0], edits[n][1], n), reverse=True)
    for start, stop, new in (edits[n] for n in order):
        text = text[:start] + new + text[stop:]
    out.text = text
    return out
