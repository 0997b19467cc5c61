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
    return str(int(round(x))) if abs(x - round(x)) < 1e-6 else f"{x:.1f}"


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
        return _number(float(value)) if abs(float(value)) >= 0.1 or value == 0 else repr(float(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_scalar_text(v) for v in value) + "]"
    text = str(value)
    if not text.replace("-", "").replace("_", "").isalnum():
        raise EditError(f"expected a plain name, got {text!r}")
    return text


def _set_keys(text: str, mapping: yaml.MappingNode, values: dict, where: str) -> str:
    """Each key of `values` set in `mapping`: its value replaced where it is written, or the key
    added (a line of its own in a block mapping, `, key: value` before a flow mapping's brace)."""
    edits: list[tuple[int, int, str]] = []
    added: list[str] = []
    for key, value in values.items():
        node = _value(mapping, key)
        if node is not None:
            edits.append((node.start_mark.index, node.end_mark.index, _scalar_text(value)))
        else:
            added.append(f"{key}: {_scalar_text(value)}")
    if added:
        if mapping.flow_style:
            close = mapping.end_mark.index - 1  # the closing brace
            edits.append((close, close, "".join(f", {a}" for a in added)))
        else:
            first_key, first_value = mapping.value[0]
            indent = " " * first_key.start_mark.column
            end = text.find("\n", first_value.end_mark.index)
            end = len(text) if end < 0 else end + 1
            edits.append((end, end, "".join(f"{indent}{a}\n" for a in added)))
    for start, stop, new in sorted(edits, reverse=True):  # from the end: earlier marks stay valid
        text = text[:start] + new + text[stop:]
    return text


def set_print_area(catalog_file: str | Path, sku: str, corners, *, placement: str | None = None,
                   options: dict | None = None) -> str:
    """Write `corners` as the print area of product `sku` (or of its `placement`) into the catalog
    file (for a cylinder, its band: x, y, width and height of the corners' bounding box); return
    the new text. CatalogError if the result is not a valid catalog (nothing written)."""
    from mockups.engine.cache import atomic_write

    file = Path(catalog_file)
    text = file.read_text(encoding="utf-8")
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    products = _value(root, "products")
    target = next((p for p in (products.value if isinstance(products, yaml.SequenceNode) else [])
                   if isinstance(_value(p, "sku"), yaml.ScalarNode) and _value(p, "sku").value == sku), None)  # type: ignore[union-attr]
    if target is None:
        raise EditError(f"{file.name}: no product with sku {sku!r}")
    where = sku
    if placement is not None:
        target = _value(_value(target, "placements"), placement)
        where = f"{sku}, placement {placement!r}"
        if target is None:
            raise EditError(f"{file.name}: {sku} has no placement {placement!r}")
    if not isinstance(target, yaml.MappingNode) or target.flow_style:
        raise EditError(f"{file.name}: {where} is written on one line; give it a block of its own to edit it here")
    new = print_area_text(corners)
    cylinder = _value(target, "cylinder")
    if cylinder is not None:  # the band the design wraps round: the corners' bounding box
        edited = _set_band(text, cylinder, corners, f"{file.name}: {where}")
    elif (node := _value(target, "print_area")) is not None:
        edited = text[:node.start_mark.index] + new + text[node.end_mark.index:]
    else:  # a line of its own under the mapping's first key
        first_key, first_value = target.value[0]
        indent = " " * first_key.start_mark.column
        end = text.find("\n", first_value.end_mark.index)
        end = len(text) if end < 0 else end + 1
        edited = text[:end] + f"{indent}print_area: {new}\n" + text[end:]
    if options:
        unknown = set(options) - set(OPTIONS) - (set(BAND_OPTIONS) if cylinder is not None else set())
        if unknown:
            raise EditError(f"{file.name}: {where}: cannot set {', '.join(sorted(unknown))} here")
        edited = _options(edited, sku, placement, options, f"{file.name}: {where}")
    parse_catalog(edited, file.resolve())  # CatalogError: the edit would not be a valid catalog
    atomic_write(file, edited.encode("utf-8"))
    return edited


def _set_band(text: str, cylinder: yaml.Node, corners, where: str) -> str:
    """A cylinder's x, y, width and height set to the corners' bounding box, each number replaced
    where it is written (its arc, ellipse and the rest untouched)."""
    xs, ys = [float(c[0]) for c in corners], [float(c[1]) for c in corners]
    values = {"x": min(xs), "y": min(ys), "width": max(xs) - min(xs), "height": max(ys) - min(ys)}
    found = {k: _value(cylinder, k) for k in values}
    nodes = {k: n for k, n in found.items() if isinstance(n, yaml.ScalarNode)}
    missing = [k for k in values if k not in nodes]
    if missing:
        raise EditError(f"{where}: its cylinder has no {', '.join(missing)} written as numbers to change")
    for key in sorted(values, key=lambda k: nodes[k].start_mark.index, reverse=True):  # from the end: marks stay valid
        node = nodes[key]
        text = text[:node.start_mark.index] + _number(values[key]) + text[node.end_mark.index:]
    return text


def _options(text: str, sku: str, placement: str | None, options: dict, where: str) -> str:
    """The print position's options (and its cylinder's) set in the text as edited so far."""
    target = _target(yaml.compose(text, Loader=yaml.SafeLoader), sku, placement)
    text = _set_keys(text, target, {k: v for k, v in options.items() if k in OPTIONS}, where)
    band = {k: v for k, v in options.items() if k in BAND_OPTIONS}
    if band:
        cylinder = _value(_target(yaml.compose(text, Loader=yaml.SafeLoader), sku, placement), "cylinder")
        if not isinstance(cylinder, yaml.MappingNode):
            raise EditError(f"{where}: has no cylinder mapping to set {', '.join(band)} in")
        text = _set_keys(text, cylinder, band, where)
    return text


def _target(root: yaml.Node | None, sku: str, placement: str | None) -> yaml.MappingNode:
    products = _value(root, "products")
    for p in products.value if isinstance(products, yaml.SequenceNode) else []:
        found = _value(p, "sku")
        if isinstance(found, yaml.ScalarNode) and found.value == sku:
            at = _value(_value(p, "placements"), placement) if placement else p
            if isinstance(at, yaml.MappingNode):
                return at
    raise EditError(f"no product {sku!r}" + (f" with a placement {placement!r}" if placement else ""))
