"""Edits of catalog.yaml that keep every byte the edit does not touch: comments, order, alignment.

A re-dump, even a round-trip library's (ruamel.yaml was tried), rewrites what it did not change:
it re-spaces the aligned flow mappings of a colour table. So the edited value's span is found with
the YAML parser's own node positions (PyYAML's composer, which the catalog loader is built on) and
replaced in the text; a key that is not there is added as one line under its mapping. The result
is checked as a whole catalog before it is written (atomically): an edit never leaves an invalid
catalog behind.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from mockups.catalog import parse_catalog
from mockups.errors import MockupsError


class EditError(MockupsError):
    """The edit cannot be made: no such product or placement, or it is not a print area."""


def _value(mapping: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(mapping, yaml.MappingNode):
        return None
    for k, v in mapping.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


def _number(x: float) -> str:
    """A number as a person writes it: 330, not 330.0; 0.85 as 0.85 (to 4 decimals)."""
    return str(int(round(x))) if abs(x - round(x)) < 1e-6 else repr(round(x, 4))


def print_area_text(corners) -> str:
    """[[x, y], ...] as the catalog writes a print area's four corners (top-left first, clockwise)."""
    if len(corners) != 4 or not all(len(c) == 2 for c in corners):
        raise EditError(f"a print area is four corners [x, y], got {corners!r}")
    return "[" + ", ".join(f"[{_number(float(x))}, {_number(float(y))}]" for x, y in corners) + "]"


OPTIONS = ("scale", "anchor", "rotation", "offset", "finish")  # of a print position, set beside its area
BAND_OPTIONS = ("arc", "ellipse", "centre")  # of a cylinder, set inside its mapping


def _scalar_text(value) -> str:
    if isinstance(value, bool) or value is None:
        raise EditError(f"expected a number, a name or [x, y], got {value!r}")
    if isinstance(value, (int, float)):
        return _number(float(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_scalar_text(v) for v in value) + "]"
    text = str(value)
    if not text.replace("-", "").replace("_", "").isalnum():
        raise EditError(f"expected a plain name, got {text!r}")
    return text


def _content_end(node: yaml.Node) -> int:
    """Where the node's own text ends. A block collection's end mark is the start of the next
    token, past the line break, the comments and the indentation after it: its last item's end."""
    if isinstance(node, (yaml.SequenceNode, yaml.MappingNode)) and not node.flow_style and node.value:
        last = node.value[-1]
        return _content_end(last[1] if isinstance(node, yaml.MappingNode) else last)
    return node.end_mark.index


def _edits(text: str, mapping: yaml.MappingNode, values: dict[str, str], newline: str = "\n"
           ) -> list[tuple[int, int, str]]:
    """(start, end, text) that set each key of `values` (already written as YAML) in `mapping`: its
    value replaced where it is written (a block list or mapping becomes the flow value on the
    key's own line), or the key added (a line of its own under a block mapping's first key,
    `, key: value` before a flow mapping's brace)."""
    edits, added = [], []
    for key, value in values.items():
        found = next(((k, v) for k, v in mapping.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)
        if found is None:
            added.append(f"{key}: {value}")
            continue
        key_node, node = found
        if isinstance(node, (yaml.SequenceNode, yaml.MappingNode)) and not node.flow_style and node.value:
            edits.append((key_node.end_mark.index, _content_end(node), f": {value}"))
        else:
            edits.append((node.start_mark.index, node.end_mark.index, value))
    if added and mapping.flow_style:
        close = mapping.end_mark.index - 1  # the closing brace
        edits.append((close, close, "".join(f", {a}" for a in added)))
    elif added:
        first_key, first_value = mapping.value[0]
        end = text.find("\n", _content_end(first_value))
        end = len(text) if end < 0 else end + 1
        edits.append((end, end, "".join(f"{' ' * first_key.start_mark.column}{a}{newline}" for a in added)))
    return edits


def _target(root: yaml.Node | None, sku: str, placement: str | None, name: str) -> tuple[yaml.MappingNode, str]:
    """The mapping of product `sku` (or of its `placement`) and how to name it in a message."""
    products = _value(root, "products")
    product = next((p for p in (products.value if isinstance(products, yaml.SequenceNode) else [])
                    if isinstance(found := _value(p, "sku"), yaml.ScalarNode) and found.value == sku), None)
    if product is None:
        raise EditError(f"{name}: no product with sku {sku!r}")
    target, where = product, sku
    if placement is not None:
        target, where = _value(_value(product, "placements"), placement), f"{sku}, placement {placement!r}"
        if target is None:
            raise EditError(f"{name}: {sku} has no placement {placement!r}")
    if not isinstance(target, yaml.MappingNode) or target.flow_style:
        raise EditError(f"{name}: {where} is written on one line; give it a block of its own to edit it here")
    shared = _shared(root)
    if id(target) in shared or any(id(v) in shared for _, v in target.value):
        raise EditError(f"{name}: {where} shares its text with another entry through a YAML anchor and alias "
                        f"(&name, *name): write it out where it is used to edit it here")
    return target, where


def _shared(root: yaml.Node | None) -> set[int]:
    """The nodes that appear more than once in the document: an alias (*name) is its anchor's node."""
    seen: set[int] = set()
    twice: set[int] = set()
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            twice.add(id(node))
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            stack += [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value
    return twice


def set_print_area(catalog_file: str | Path, sku: str, corners, *, placement: str | None = None,
                   options: dict | None = None) -> str:
    """Write `corners` as the print area of product `sku` (or of its `placement`) into the catalog
    file (for a cylinder, its band: x, y, width and height of the corners' bounding box), with the
    `options` given (OPTIONS, and for a cylinder BAND_OPTIONS); return the new text. EditError
    for what cannot be edited so, CatalogError if the result is not a valid catalog: then nothing
    is written."""
    from mockups.engine.cache import atomic_write

    file = Path(catalog_file)
    text = file.read_bytes().decode("utf-8")  # line breaks as they are: a CRLF file stays one
    newline = "\r\n" if "\r\n" in text else "\n"
    target, where = _target(yaml.compose(text, Loader=yaml.SafeLoader), sku, placement, file.name)
    options = dict(options or {})
    cylinder = _value(target, "cylinder")
    unknown = set(options) - set(OPTIONS) - (set(BAND_OPTIONS) if cylinder is not None else set())
    if unknown:
        raise EditError(f"{file.name}: {where}: cannot set {', '.join(sorted(unknown))} here")
    own = {k: _scalar_text(v) for k, v in options.items() if k in OPTIONS}
    if cylinder is None:
        edits = _edits(text, target, {"print_area": print_area_text(corners), **own}, newline)
    elif isinstance(cylinder, yaml.MappingNode):  # the band the design wraps round: the corners' bounding box
        print_area_text(corners)  # four corners, or EditError
        xs, ys = [float(c[0]) for c in corners], [float(c[1]) for c in corners]
        band = {"x": min(xs), "y": min(ys), "width": max(xs) - min(xs), "height": max(ys) - min(ys),
                **{k: v for k, v in options.items() if k in BAND_OPTIONS}}
        band_text = {k: _scalar_text(v) for k, v in band.items()}
        edits = _edits(text, target, own, newline) + _edits(text, cylinder, band_text, newline)
    else:
        raise EditError(f"{file.name}: {where}: its cylinder is not a mapping")
    for start, stop, new in sorted(edits, reverse=True):  # from the end: the earlier marks stay valid
        text = text[:start] + new + text[stop:]
    parse_catalog(text, file.resolve())  # CatalogError: the edit would not be a valid catalog
    atomic_write(file, text.encode("utf-8"))
    return text
