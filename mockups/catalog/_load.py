"""Load a catalog file: YAML -> checked, typed, frozen `Catalog`, or one `CatalogError` with every problem.

Problems are addressed to what the user wrote: file:line:col, the key path, what was expected,
what they wrote, and a "did you mean" where a name is close to a known one.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pydantic

from mockups.catalog import _yaml
from mockups.catalog._checks import check_catalog
from mockups.catalog.schema import (
    OLD_PRINT_SETTINGS,
    Background,
    CatalogModel,
    Colour,
    Defaults,
    Design,
    Product,
    known_keys,
)
from mockups.errors import CatalogError, Problem, did_you_mean
from mockups.plugins import plugin_entry_points


@dataclass(frozen=True)
class Catalog:
    """A valid catalog, its folder, and where each of its keys was written."""

    model: CatalogModel
    file: Path
    doc: _yaml.Document = field(repr=False, compare=False)
    warnings: tuple[Problem, ...] = ()
    plugin_options: dict[str, dict] = field(default_factory=dict, compare=False)  # defaults.<plugin>, unchecked
    digest: str = field(default="", compare=False)  # sha256 of the bytes it was parsed from

    @property
    def root(self) -> Path:
        return self.file.parent

    def path(self, relative: str) -> Path:
        found = self._paths.get(relative)
        if found is None:
            found = self._paths[relative] = (self.root / relative).resolve()
        return found

    @cached_property
    def _paths(self) -> dict[str, Path]:
        return {}

    def referenced(self) -> list[Path]:
        """Every file the catalog names (images, masks, designs, backgrounds), resolved."""
        m = self.model
        names = [x for p in m.products for x in (p.image, p.mask, p.recolour_mask,
                                                 None if p.old_print in OLD_PRINT_SETTINGS else p.old_print)]
        names += [x for p in m.products for pl in (p.placements or {}).values()
                  for x in (pl.image, pl.mask, pl.recolour_mask)]
        names += [p.psd.file for p in m.products if p.psd]
        names += [d.image for d in m.designs] + [b.image for b in m.backgrounds]
        return [self.path(n) for n in dict.fromkeys(n for n in names if n)]

    @cached_property
    def memo(self) -> dict[str, Any]:
        """Facts derived from the catalog's files by the layers above (the matrix's photo kinds),
        kept for as long as this catalog object: computed once per build."""
        return {}

    @cached_property
    def colours(self) -> dict[str, Colour]:
        return {c.id: c for c in self.model.colours}

    @cached_property
    def backgrounds(self) -> dict[str, Background]:
        return {b.id: b for b in self.model.backgrounds}

    @cached_property
    def designs(self) -> dict[str, Design]:
        return {d.id: d for d in self.model.designs}

    @cached_property
    def products(self) -> dict[str, Product]:
        return {p.sku: p for p in self.model.products}

    @cached_property
    def order(self) -> dict[str, dict[str, int]]:
        """The rank of every id as the catalog lists it, by kind (product, colour, background,
        design, channel): the one place that knows the catalog's order (matrix, sheets, gallery)."""
        m = self.model
        return {"product": {p.sku: i for i, p in enumerate(m.products)},
                "colour": {c.id: i for i, c in enumerate(m.colours)},
                "background": {b.id: i for i, b in enumerate(m.backgrounds)},
                "design": {d.id: i for i, d in enumerate(m.designs)},
                "channel": {h.id: i for i, h in enumerate(m.channels)},
                "placement": {name: i for p in m.products for i, name in enumerate(p.placements or {})}}

    def problem(self, path: tuple, message: str) -> Problem:
        return self.doc.problem(path, message)


def load_catalog(path: str | os.PathLike, *, check_files: bool = True) -> Catalog:
    """Read, parse and check a catalog. Raises CatalogError listing every problem found."""
    given = Path(path).absolute()
    file = given.resolve()
    shown = os.path.relpath(file) if not str(os.path.relpath(file)).startswith("..") else str(file)
    folder = given.parent.resolve()
    if not file.is_relative_to(folder):  # a link out of the project: its folder would become the root
        raise CatalogError([Problem(str(path), 0, 0, "", f"the catalog is a link to {file}, outside its folder "
                                                         f"({folder}); a catalog must live inside the project")])
    try:
        if file.exists() and not file.is_file():  # a folder, a device or a pipe (which would block)
            raise CatalogError([Problem(shown, 0, 0, "", "expected a catalog file, but it is a folder or a device")])
        with open(file, "rb") as f:
            raw = f.read(_yaml.MAX_BYTES + 1)  # the YAML loader reports a file over the limit
    except FileNotFoundError:
        raise CatalogError([Problem(shown, 0, 0, "", f"catalog not found (looked for {file})")]) from None
    except OSError as e:
        raise CatalogError([Problem(shown, 0, 0, "", f"cannot read the catalog: {e.strerror}")]) from None
    return parse_catalog(raw, file, shown=shown, check_files=check_files)


def parse_catalog(text: str | bytes, file: Path, *, shown: str | None = None, check_files: bool = True) -> Catalog:
    shown = shown or file.name
    try:
        doc = _yaml.load(text, shown)
    except _yaml.YamlProblem as e:
        raise CatalogError([e.problem]) from None
    if not isinstance(doc.data, dict):
        what = "empty" if doc.data is None else f"{describe(doc.data)}"
        raise CatalogError([doc.problem((), f"expected a mapping of sections (version, products, colours, ...) "
                                            f"at the top of the file, but it is {what}")])
    problems = list(doc.problems)
    model = None
    data, plugin_options = _plugin_sections(doc.data)
    try:
        model = CatalogModel.model_validate(data)
    except pydantic.ValidationError as e:
        problems += [translate(doc, err) for err in e.errors()]
    # the semantic checks work on the raw data, so they always run
    problems += check_catalog(doc, file.parent, check_files=check_files)
    errors = [p for p in problems if p.severity == "error"]
    if errors or model is None:
        raise CatalogError(_dedupe(problems))
    return Catalog(model=model, file=file, doc=doc, warnings=tuple(sorted(problems)), plugin_options=plugin_options,
                   digest=hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest())


def _plugin_sections(data: dict) -> tuple[dict, dict[str, dict]]:
    """`defaults.<plugin>` sections of installed backend plugins, taken out of the data the schema
    checks: each plugin validates its own options (`Backend.options_model`) when it is built."""
    defaults = data.get("defaults")
    if not isinstance(defaults, dict):
        return data, {}
    builtin = set(Defaults.model_fields)
    plugins = {name: value for name, value in defaults.items()
               if name not in builtin and name in plugin_entry_points() and isinstance(value, dict)}
    if not plugins:
        return data, {}
    rest = {k: v for k, v in defaults.items() if k not in plugins}
    return {**data, "defaults": rest}, plugins


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        if (p.line, p.column, p.path, p.message) not in seen:
            seen.add((p.line, p.column, p.path, p.message))
            out.append(p)
    return out


# --- pydantic errors in the user's words ---------------------------------------------------------

_EXPECTED = {
    "string_type": "a string", "int_type": "a whole number", "int_parsing": "a whole number",
    "int_from_float": "a whole number", "float_type": "a number", "float_parsing": "a number",
    "finite_number": "a finite number", "bool_type": "true or false", "bool_parsing": "true or false",
    "list_type": "a list",
    "tuple_type": "a list", "dict_type": "a mapping (key: value lines)",
    "model_type": "a mapping (key: value lines)", "model_attributes_type": "a mapping (key: value lines)",
}


def describe(value: object) -> str:
    """A user's value in plain words, never a Python type name."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a yes/no value)"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        short = value if len(value) <= 60 else value[:57] + "..."
        return f"'{short}'"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return "a mapping"
    return "a value of another kind"


def user_path(data: object, loc: tuple) -> tuple:
    """Pydantic's error location as a key path in the user's data, without pydantic's own steps
    ('function-after[...]', 'tuple[int, int]'); a key the user wrote is kept whatever its spelling."""
    out, node = [], data
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif isinstance(part, str) and ("[" in part or part.startswith("function-")):
            continue
        else:
            node = None  # a missing key, reported where its parent is
        out.append(part)
    return tuple(out)


def problems_from(doc: _yaml.Document, error: pydantic.ValidationError, prefix: tuple = (),
                  model: type[pydantic.BaseModel] | None = None) -> list[Problem]:
    """A validation error of the data at `prefix` (e.g. a plugin's options, checked by the plugin's
    `model`), in the user's words."""
    out = []
    for err in error.errors():
        loc = (*prefix, *err["loc"])
        if err["type"] == "extra_forbidden" and model is not None and len(err["loc"]) == 1:
            allowed = list(model.model_fields)
            out.append(doc.problem(loc, f"unknown key '{loc[-1]}'{did_you_mean(loc[-1], allowed)}; "
                                        f"expected one of: {', '.join(allowed)}", key=True))
        else:
            out.append(translate(doc, {**err, "loc": loc}))
    return out


def translate(doc: _yaml.Document, err: Mapping[str, Any]) -> Problem:
    loc = user_path(doc.data, tuple(err["loc"]))
    kind, value = err["type"], err.get("input")
    if value is None and (kind in _EXPECTED or kind in ("empty_value", "literal_error")):
        return _empty(doc, loc, kind, err)
    if kind == "extra_forbidden":
        allowed = known_keys(loc[:-1])
        msg = f"unknown key '{loc[-1]}'{did_you_mean(loc[-1], allowed)}"
        if allowed:
            msg += f"; expected one of: {', '.join(allowed)}"
        return doc.problem(loc, msg, key=True)
    if kind == "missing":
        return doc.problem(loc[:-1], f"missing required key '{loc[-1]}'", key=True)
    if kind == "string_type" and isinstance(value, (bool, int, float)) and loc in doc.written:
        text = doc.written[loc]
        read = describe(value) if str(value) != text else ("a yes/no value" if isinstance(value, bool) else "a number")
        return doc.problem(loc, f"expected text, got {text}, which YAML reads as {read}: put quotes around it "
                                f"(\"{text}\")")
    if kind in _EXPECTED:
        return doc.problem(loc, f"expected {_EXPECTED[kind]}, got {describe(value)}")
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        options = [o.strip(" '") for o in expected.replace(" or ", ",").split(",") if o.strip()]
        msg = f"expected one of {expected}, got {describe(value)}"
        return doc.problem(loc, msg + (did_you_mean(value, options) if isinstance(value, str) else ""))
    if kind == "value_error":
        return doc.problem(loc, str(err.get("ctx", {}).get("error", err["msg"])))
    if kind in ("too_short", "too_long"):
        ctx = err.get("ctx", {})
        limit = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        unit = "characters" if isinstance(value, str) else "items"
        word = "at least" if kind == "too_short" else "at most"
        return doc.problem(loc, f"expected {word} {limit} {unit}, got {describe(value)}")
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        ctx = err.get("ctx", {})
        bound = next(iter(ctx.values()), "")
        words = {"greater_than": "greater than", "greater_than_equal": "at least",
                 "less_than": "less than", "less_than_equal": "at most"}[kind]
        return doc.problem(loc, f"expected a number {words} {bound}, got {describe(value)}")
    return doc.problem(loc, f"{err['msg'][0].lower()}{err['msg'][1:]}, got {describe(value)}")


def _empty(doc: _yaml.Document, loc: tuple, kind: str, err: Mapping[str, Any]) -> Problem:
    """A key written with nothing after it. Where the nothing is a comment that reads like the value
    (`background: #FFFFFF`: an unquoted '#' starts a comment), the problem is put at the '#'."""
    ctx = err.get("ctx", {})
    expected = (ctx.get("expected", "") if kind == "empty_value" else f"one of {ctx.get('expected', '')}"
                if kind == "literal_error" else _EXPECTED[kind])
    comment = doc.commented_out(loc)
    if comment is not None:
        return doc.problem(loc, f"expected {expected}, but it was read as empty because '{comment.value}' starts a "
                                f"comment: write {comment.quote()}", at=(comment.line, comment.column))
    msg = f"expected {expected}, got {describe(None)}"
    if _colour_key(loc):
        msg += " (in YAML, put quotes around values that start with '#')"
    return doc.problem(loc, msg)


def _colour_key(loc: tuple) -> bool:
    """A key whose value is a colour (matrix rules name colours and backgrounds by id)."""
    return bool(loc) and loc[0] != "matrix" and (loc[-1] in ("hex", "colour", "background", "sweep")
                                                 or loc[-2:-1] == ("colours",) and "gradient" in loc)
