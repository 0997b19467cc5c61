"""Safe YAML loading that remembers where every key and value was written.

PyYAML's composer gives nodes with line/column marks; we build plain Python values from them
ourselves so that we can (1) record a position for every key path, (2) refuse duplicate keys
instead of keeping the last one, and (3) bound the work an alias bomb can cause.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property

import yaml

from mockups.errors import Problem

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
    text: str = field(default="", repr=False)
    flows: list = field(default_factory=list, repr=False)  # (start, end, path) of [...] and {...} over several lines
    problems: list = field(default_factory=list)  # found while reading: colours a '#' hid from a list
    written: dict = field(default_factory=dict)  # path -> the text of a plain scalar YAML read as a number or yes/no

    @cached_property
    def comments(self) -> list[Comment]:
        return comments(self.text)

    @cached_property
    def _value_comments(self) -> dict:
        """Comments written where a value goes, by where that value is marked and by the key before it."""
        index: dict = {}
        for c in self.comments:
            if c.after and c.same_line and c.body[1:2].strip():
                index.setdefault(("at", c.at), c)
                if c.key is not None:
                    index.setdefault(("key", c.key), c)
        return index

    def commented_out(self, path: Path) -> Comment | None:
        """For a value that is empty (null): the comment written where the value should be, as in
        `background: #FFFFFF` (read as `background:` and a comment)."""
        path = tuple(path)
        value, key = self.values.get(path), self.keys.get(path)
        if value is None or "#" not in self.text:
            return None
        return self._value_comments.get(("at", value)) or self._value_comments.get(("key", key))

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

    def problem(self, path: Path, message: str, *, key: bool = False, severity: str = "error",
                at: tuple[int, int] | None = None) -> Problem:
        line, col = at or self.where(path, key=key)
        return Problem(self.file, line, col, format_path(path), printable(message), severity)


# --- comments where a value was meant: `hex: #1F2A44` --------------------------------------------
# An unquoted '#' starts a comment in YAML, so `background: #FFFFFF` is `background:` (empty) and a
# comment, and `{id: royal, hex: #2B4DAA}` loses its closing brace. The comments are found with the
# YAML scanner (they are what lies between its tokens), so a '#' inside quotes or a text block is
# never taken for one.

_HEX_WORD = re.compile(r"#(?:[0-9A-Fa-f]{6}|[0-9A-Fa-f]{3})(?![\w-])")
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
MAX_TOKENS = 1_000_000  # comments are looked for to explain a problem: past this, not at all
MAX_HIDDEN = 20  # colours hidden in lists reported at most


@dataclass(frozen=True)
class Comment:
    line: int  # of the '#', from 1
    column: int
    index: int  # of the '#' in the text
    body: str  # from the '#' to the end of the line
    after: str  # what comes before it: 'value' (`key:`), 'item' (`-`), 'flow' (`[`, `{` or `,`), or ''
    same_line: bool  # on the line of that indicator (else on a line of its own after it)
    at: tuple  # (line, col) where that indicator ends: where an empty value is marked
    key: tuple | None  # (line, col) of the key before `key:`
    flow: bool  # inside [...] or {...}

    @property
    def value(self) -> str:
        """What the user probably meant as the value: '#FFFFFF' of `#FFFFFF  # white`."""
        hex_word = _HEX_WORD.match(self.body)
        if hex_word:
            return hex_word[0]
        if self.flow:
            flow_word = re.match(r"#[^\s,\[\]{}]*", self.body)  # matches: the body starts with its '#'
            return flow_word[0] if flow_word else self.body
        return re.split(r"\s#", self.body, maxsplit=1)[0].rstrip()

    @property
    def colour(self) -> bool:
        return bool(_HEX_WORD.match(self.body))

    @property
    def suspect(self) -> bool:
        """Written where a value goes, and looks like one (`: #FFFFFF`, `[#FFF, ...`, `- #abc`)."""
        if not self.after or not self.body[1:2].strip():
            return False  # a comment after a value, or one such as `# white`
        if self.same_line:
            return True
        return self.after == "flow" and self.colour and self.alone  # on a line of its own inside [...]

    @property
    def alone(self) -> bool:
        """Nothing but ',' or the end of a list after the value: `#FCE3C4,`, not `#FCE3C4 is peach`."""
        return self.body[len(self.value):].strip()[:1] in ("", ",", "]", "}")

    def quote(self) -> str:
        return json.dumps(self.value, ensure_ascii=False)

    def advice(self) -> str:
        what = "colours" if self.colour else "values that start with '#'"
        return f"put quotes around {what}: write {self.quote()}"

    def repaired(self, text: str) -> str:
        end = self.index + len(self.value)
        return text[:self.index] + self.quote() + text[end:]


def comments(text: str, *, until_line: int | None = None) -> list[Comment]:
    """The comments in text, with what precedes each (best effort: stops at a scanner error)."""
    if "#" not in text:
        return []
    found: list[Comment] = []
    loader = _Loader(text)
    prev = before_prev = None
    level = 0
    try:
        for _ in range(MAX_TOKENS):
            try:
                token = loader.get_token()
            except (yaml.YAMLError, UnicodeError, ValueError, RecursionError):
                token = None  # the rest of the text up to the error: often where the '#' is
            end = token.start_mark.index if token is not None else len(text)
            if prev is not None:
                _gap_comments(text, prev, before_prev, end, level, found)
            if token is None or isinstance(token, yaml.StreamEndToken):
                break
            if until_line is not None and token.start_mark.line + 1 > until_line:
                break
            if isinstance(token, (yaml.FlowSequenceStartToken, yaml.FlowMappingStartToken)):
                level += 1
            elif isinstance(token, (yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken)):
                level = max(0, level - 1)
            before_prev, prev = prev, token
    finally:
        loader.dispose()
    return found


_AFTER = {yaml.ValueToken: "value", yaml.BlockEntryToken: "item", yaml.FlowSequenceStartToken: "flow",
          yaml.FlowMappingStartToken: "flow", yaml.FlowEntryToken: "flow"}


def _gap_comments(text: str, prev, before_prev, end: int, level: int, found: list) -> None:
    """Comments between the end of token `prev` and `end`: between tokens there is only space and comments."""
    start = prev.end_mark.index
    i = text.find("#", start, end)
    if i < 0:
        return
    after = _AFTER.get(type(prev), "")
    key = None
    if after == "value" and isinstance(before_prev, yaml.ScalarToken):
        key = (before_prev.start_mark.line + 1, before_prev.start_mark.column + 1)
    at = (prev.end_mark.line + 1, prev.end_mark.column + 1)
    while 0 <= i < end:
        breaks = list(_LINE_BREAK.finditer(text, start, i))
        line = prev.end_mark.line + 1 + len(breaks)
        col = i - breaks[-1].end() + 1 if breaks else prev.end_mark.column + 1 + (i - start)
        eol = _LINE_BREAK.search(text, i, end)
        stop = eol.start() if eol else end
        found.append(Comment(line, col, i, text[i:stop].rstrip(), after, not breaks, at, key, level > 0))
        if not eol:
            break
        i = text.find("#", eol.end(), end)


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
        raw = text
        if len(raw) > MAX_BYTES:
            raise YamlProblem(Problem(file, 0, 0, "",
                                      f"the file is over {MAX_BYTES:,} bytes, the most a catalog may be"))
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            raise YamlProblem(Problem(file, line, 1, "",
                                      "the file is not valid UTF-8 text (save it as UTF-8)")) from None
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
        else:
            found = _hidden_by_comment(text, file, line, col)
            if found is not None:
                raise YamlProblem(found) from None
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
    doc = Document(data=None, file=file, text=text)
    if node is None:
        return doc
    builder = _Builder(doc, loader)
    doc.data = builder.build(node, ())
    doc.problems += _hidden_in_lists(doc)
    return doc


def _hidden_by_comment(text: str, file: str, line: int, col: int) -> Problem | None:
    """The '#' that caused a syntax error at line:col, reported where it was written: the parser
    notices only later that `{id: royal, hex: #2B4DAA}` lost its '}' to the comment."""
    suspects = [c for c in comments(text, until_line=line) if c.suspect and (c.line, c.column) <= (line, col)]
    for c in reversed(suspects[-3:]):  # the nearest first; a quoted one must get the parser further
        repaired = c.repaired(text)
        stopped = _stops_at(repaired)
        if stopped is not None and stopped <= (line, col):
            continue
        path = _path_at(repaired if stopped is None else _repair_all(text, suspects), (c.line, c.column), file)
        return Problem(file, c.line, c.column, path, printable(
            f"YAML syntax error: a '#' starts a comment in YAML, so everything from '{c.value}' to the end of "
            f"the line was ignored; {c.advice()}"))
    return None


def _stops_at(text: str) -> tuple[int, int] | None:
    """Where parsing text fails, or None if it parses."""
    loader = _Loader(text)
    try:
        loader.get_single_node()
        return None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        return (mark.line + 1, mark.column + 1) if mark else (0, 0)
    except (yaml.YAMLError, UnicodeError, ValueError, RecursionError):
        return (0, 0)
    finally:
        loader.dispose()


def _repair_all(text: str, suspects: list[Comment]) -> str:
    for c in sorted(suspects, key=lambda c: -c.index):
        text = c.repaired(text)
    return text


def _path_at(text: str, position: tuple[int, int], file: str) -> str:
    """The key path of the value written at position in text ('' if text does not load)."""
    doc = Document(data=None, file=file, text=text)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _Builder(doc, loader).build(node, ())
    except (YamlProblem, yaml.YAMLError, UnicodeError, ValueError, RecursionError):
        return ""
    finally:
        loader.dispose()
    found = [p for p, at in doc.values.items() if at == position]
    return format_path(max(found, key=len)) if found else ""  # the scalar, not a list starting there


def _hidden_in_lists(doc: Document) -> list[Problem]:
    """Colours a '#' turned into comments inside a [...] or {...} written over several lines:
    `colours: [#FCE3C4,` then `"#F3A6A0"]` on the next line is read as a list of one."""
    if not any("#" in doc.text[start:end] for start, end, _ in doc.flows):
        return []
    problems = []
    for c in doc.comments:
        if c.after != "flow" or not c.colour or not c.alone:
            continue
        inner = [(start, path) for start, end, path in doc.flows if start < c.index < end]
        if not inner:
            continue
        path = max(inner, key=lambda f: f[0])[1]
        what = "list" if isinstance(_get(doc.data, path), list) else "mapping"
        problems.append(Problem(doc.file, c.line, c.column, format_path(path), printable(
            f"'{c.value}' was read as a comment and left out of this {what} (a '#' starts a comment in YAML); "
            f"{c.advice()}")))
        if len(problems) >= MAX_HIDDEN:
            break
    return problems


def _get(data, path: Path):
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _char_at(lines: list[str], line: int, col: int) -> str:
    if 0 < line <= len(lines) and 0 < col <= len(lines[line - 1]):
        return lines[line - 1][col - 1]
    return ""


class _Builder:
    def __init__(self, doc: Document, loader):
        self.doc = doc
        self.loader = loader
        self.count = 0
        self.flows: set[int] = set()

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
        over_lines = getattr(node, "flow_style", False) and node.end_mark.line > node.start_mark.line
        if over_lines and id(node) not in self.flows:  # [...] over several lines, once however often aliased
            self.flows.add(id(node))
            self.doc.flows.append((node.start_mark.index, node.end_mark.index, path))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, path + (i,)) for i, child in enumerate(node.value)]
        try:
            value = self.loader.construct_object(node, deep=True)
            if isinstance(value, (bool, int, float)) and not node.style:  # plain (None, or "" from libyaml): 004512, no
                self.doc.written.setdefault(path, str(node.value))
            return value
        except yaml.YAMLError as e:
            raise YamlProblem(self._at(node, format_path(path),
                                       f"cannot read this value: {getattr(e, 'problem', e)}")) from None
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
            # PyYAML's constructors raise plain Python errors for values that match a tag but do not
            # convert: '2001-13-45', '!!int abc', an integer of more than 4,300 digits.
            raise YamlProblem(self._at(node, format_path(path), _unreadable(node))) from None

    def _mapping(self, node, path: Path, merging: tuple = ()) -> dict:
        out: dict = {}
        merges = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merges.append(value_node)
                continue
            key = self.build_key(key_node, path)
            if key in out:  # reported with the other problems, the first one kept
                first = self.doc.keys[path + (key,)]
                self.doc.problems.append(self._at(key_node, format_path(path + (key,)),
                                                  f"duplicate key '{key}' (first written on line {first[0]}); "
                                                  "each key may appear once"))
                continue
            self.doc.keys[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.build(value_node, path + (key,))
        # what '<<' merges is built after the mapping's own keys, so a key it overrides is placed
        # where it is written here, not at the anchor it was merged from
        merged: dict = {}
        for value_node in merges:
            merged.update(self._merge_sources(value_node, path, merging + (node,)))
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


# what a YAML double-quoted scalar cannot hold raw: DEL and the C1 controls (the YAML reader refuses
# them), NEL and the Unicode line and paragraph separators (read as line breaks), lone surrogates
# and the non-characters U+FFFE/U+FFFF (not encodable). JSON escapes the C0 controls itself, and its
# \\uXXXX escapes read back the same in YAML.
_RAW_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")


def quoted(value: str) -> str:
    """`value` as a double-quoted YAML scalar that reads back exactly: JSON's quoting, with readable
    non-ASCII kept as it is and what YAML cannot hold raw escaped."""
    return _RAW_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, ensure_ascii=False))
