"""Safe YAML loading that remembers where every key and value was written.

PyYAML's composer gives nodes with line/column marks; we build plain Python values from them
ourselves so that we can (1) record a position for every key path, (2) refuse duplicate keys
instead of keeping the last one, and (3) bound the work an alias bomb can cause.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import yaml

from .errors import Problem

MAX_NODES = 200_000  # values built, aliases counted each time they are used
MAX_DEPTH = 64
MAX_BYTES = 10 * 1024 * 1024

Path = tuple  # a key path such as ("products", 0, "colours")

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE = "tag:yaml.org,2002:merge"
_PLAIN_COLLECTIONS = {f"tag:yaml.org,2002:{t}" for t in ("map", "seq", "set", "omap", "pairs")}


@dataclass
class Document:
    """Plain data (dicts, lists, scalars) plus the position of every key path in it."""

    data: object
    file: str
    values: dict = field(default_factory=dict)  # path -> (line, col) of the value
    keys: dict = field(default_factory=dict)  # path -> (line, col) of the key naming it

    def where(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Position of `path`, or of its nearest ancestor we know."""
        path = tuple(path)
        while True:
            table = (self.keys, self.values) if key else (self.values, self.keys)
            for t in table:
                if path in t:
                    return t[path]
            if not path:
                return (1, 1)
            path = path[:-1]

    def problem(self, path: Path, message: str, *, key: bool = False, severity: str = "error") -> Problem:
        line, col = self.where(path, key=key)
        return Problem(self.file, line, col, format_path(path), printable(message), severity)


def format_path(path: Path) -> str:
    """products[1].colours[0]; a key that is not a plain word is quoted: matrix["ex clude"]."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _WORD.match(str(part)):
            out += "[" + json.dumps(str(part), ensure_ascii=False) + "]"
        else:
            out += f".{part}" if out else str(part)
    return printable(out)


_WORD = re.compile(r"^[^\W\d][\w-]*$")


# Line breaks, terminal escapes and bidirectional overrides a catalog may hold in quoted strings
# ("\e[2J", "\u202e"): shown escaped, so that every problem stays on one honest line of output.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    return _UNPRINTABLE.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), text)


class YamlProblem(Exception):
    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


def load(text: str | bytes, file: str) -> Document:
    """Parse one YAML document. Raises YamlProblem with the file and line on any failure."""
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise YamlProblem(Problem(file, 0, 0, "", f"the file is over {MAX_BYTES:,} bytes, the most a catalog may be"))
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            line = text[: e.start].count(b"\n") + 1
            raise YamlProblem(Problem(file, line, 1, "", "the file is not valid UTF-8 text (save it as UTF-8)")) from None
    text = text.lstrip("\ufeff")
    loader = None
    try:
        loader = _Loader(text)  # the pure-Python reader already checks the characters here
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        msg = e.problem or str(e)
        lines = text.splitlines()
        if "expected a single document" in str(e):
            msg = "the file holds several YAML documents (separated by '---'); a catalog is one document"
        elif "'\\t'" in str(e) or _char_at(lines, line, col) == "\t":
            msg = "a tab character is not allowed for indentation in YAML; indent with spaces"
        source = " ".join(lines[max(0, line - 2):line])  # the error is often reported a line late
        if ": #" in source or "[#" in source or ", #" in source:
            msg += " (a '#' starts a comment in YAML: put quotes around colours, e.g. \"#1A2B3C\")"
        raise YamlProblem(Problem(file, line, col, "", f"YAML syntax error: {msg}")) from None
    except yaml.reader.ReaderError as e:
        # No mark, only an offset (in bytes for libyaml): find the character itself instead.
        at = text.find(chr(e.character)) if isinstance(e.character, int) else -1
        line, col = (text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)) if at >= 0 else (0, 0)
        raise YamlProblem(Problem(file, line, col, "", f"the file contains the non-printable character "
                                                       f"U+{e.character:04X}, which YAML does not allow; "
                                                       "remove it")) from None
    except UnicodeError:  # lone surrogates in text handed over as str
        raise YamlProblem(Problem(file, 0, 0, "", "the file is not valid UTF-8 text (save it as UTF-8)")) from None
    except yaml.YAMLError as e:
        raise YamlProblem(Problem(file, 0, 0, "", f"YAML syntax error: {e}")) from None
    except RecursionError:  # only the pure-Python parser recurses; libyaml stops at 1000 levels itself
        raise YamlProblem(Problem(file, 0, 0, "", f"the catalog is nested more than {MAX_DEPTH} levels deep")) from None
    finally:
        if loader is not None:
            loader.dispose()
    doc = Document(data=None, file=file)
    if node is None:
        return doc
    builder = _Builder(doc, loader)
    doc.data = builder.build(node, ())
    return doc


def _char_at(lines: list[str], line: int, col: int) -> str:
    if 0 < line <= len(lines) and 0 < col <= len(lines[line - 1]):
        return lines[line - 1][col - 1]
    return ""


class _Builder:
    def __init__(self, doc: Document, loader):
        self.doc = doc
        self.loader = loader
        self.count = 0

    def _tick(self, node, depth: int) -> None:
        self.count += 1
        if self.count > MAX_NODES:
            raise YamlProblem(self._at(node, "", f"the catalog expands to more than {MAX_NODES:,} values "
                                                "(check for aliases that repeat each other)"))
        if depth > MAX_DEPTH:
            raise YamlProblem(self._at(node, "", f"the catalog is nested more than {MAX_DEPTH} levels deep"))

    def _at(self, node, path: str, message: str) -> Problem:
        m = node.start_mark
        return Problem(self.doc.file, m.line + 1, m.column + 1, path, printable(message))

    def build(self, node, path: Path):
        self._tick(node, len(path))
        self.doc.values.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN_COLLECTIONS:
            raise YamlProblem(self._at(node, format_path(path), f"cannot read this value: the tag '{node.tag}' "
                                                                "is not allowed in a catalog"))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, path + (i,)) for i, child in enumerate(node.value)]
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as e:
            raise YamlProblem(self._at(node, format_path(path), f"cannot read this value: {getattr(e, 'problem', e)}")) from None
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
            # PyYAML's constructors raise plain Python errors for values that match a tag but do not
            # convert: '2001-13-45', '!!int abc', an integer of more than 4,300 digits.
            raise YamlProblem(self._at(node, format_path(path), _unreadable(node))) from None

    def _mapping(self, node, path: Path, merging: tuple = ()) -> dict:
        out: dict = {}
        merged: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.update(self._merge_sources(value_node, path, merging + (node,)))
                continue
            key = self.build_key(key_node, path)
            if key in out:
                first = self.doc.keys[path + (key,)]
                raise YamlProblem(self._at(key_node, format_path(path + (key,)),
                                           f"duplicate key '{key}' (first written on line {first[0]}); "
                                           "each key may appear once"))
            self.doc.keys[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.build(value_node, path + (key,))
        for k, v in merged.items():
            out.setdefault(k, v)
        return out

    def _merge_sources(self, node, path: Path, merging: tuple) -> dict:
        """The mappings a '<<' key merges; `merging` are the mappings whose merges are being resolved."""
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        merged: dict = {}
        for src in sources:
            if not isinstance(src, yaml.MappingNode):
                raise YamlProblem(self._at(src, format_path(path), "'<<' merges only mappings"))
            if any(src is m for m in merging):
                raise YamlProblem(self._at(src, format_path(path), "'<<' merges a mapping into itself"))
            if len(merging) > MAX_DEPTH:
                raise YamlProblem(self._at(src, format_path(path), f"merges ('<<') are nested more than "
                                                                   f"{MAX_DEPTH} levels deep"))
            self._tick(src, len(path))
            for k, v in self._mapping(src, path, merging).items():
                merged.setdefault(k, v)
        return merged

    def build_key(self, node, path: Path):
        if not isinstance(node, yaml.ScalarNode):
            raise YamlProblem(self._at(node, format_path(path), "a key must be a plain word, not a list or mapping"))
        return str(node.value)  # keys as written: `on:` stays "on", not True


_TAG_WORDS = {"int": "a whole number", "float": "a number", "bool": "true or false", "timestamp": "a date",
              "binary": "base64 data"}


def _unreadable(node) -> str:
    value = str(node.value)
    shown = value if len(value) <= 40 else value[:37] + "..."
    kind = _TAG_WORDS.get(str(node.tag).rsplit(":", 1)[-1], "a value")
    if kind == "a whole number" and len(value) > 4000:
        return f"cannot read this value: a whole number of {len(value):,} digits is far too large"
    return f"cannot read '{shown}' as {kind} (put quotes around it if it is meant as text)"
