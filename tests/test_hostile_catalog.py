"""Hostile catalogs: `mockups validate` accepts any YAML text or reports every problem as file:line,
never a traceback; paths cannot leave the project; templates cannot run code; secrets stay in the
environment.

The catalog arrives through pull requests from many hands, and CI runs it with an API key in the
environment. Everything here goes through the command line (`mockups.cli._main.main`), as CI would.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from mockups.cli import main
from tests.conftest import MINIMAL, REPO, record

CORPUS = Path(__file__).parent / "corpus"
BUNDLED = (REPO / "catalog.yaml").read_text()
FUZZ_EXAMPLES = int(os.environ.get("MOCKUPS_FUZZ_EXAMPLES", "150"))  # benchmarks/soak.py raises it
FUZZ_RANDOM = bool(os.environ.get("MOCKUPS_FUZZ_RANDOM"))  # the soak explores new examples each run
RECORDING = "tests.backends_for_tests:Recording"


# --- helpers --------------------------------------------------------------------------------------

@dataclass
class Result:
    code: int
    out: str
    err: list[str]  # stderr lines


PROBLEM = re.compile(r"^catalog\.yaml(:\d+:\d+)?: \S")  # file:line:col: ... or, for the whole file, file: ...
TRAILER = re.compile(r"^\d+ problems? found$")


@contextlib.contextmanager
def inside(folder: Path):
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def validate(folder: Path, catalog: str | bytes | None = None, *extra: str) -> Result:
    """`mockups validate catalog.yaml` run from the catalog's folder, in this process."""
    if catalog is not None:
        target = folder / "catalog.yaml"
        target.write_bytes(catalog.encode() if isinstance(catalog, str) else catalog)
    out, err = io.StringIO(), io.StringIO()
    with inside(folder), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["validate", "catalog.yaml", *extra])
    return Result(code, out.getvalue(), err.getvalue().splitlines())


# A template name the catalog gets wrong is reported by the renderer without the catalog's line
# (test_a_missing_template_is_reported_at_its_catalog_line pins the fix build.py needs); until
# then the fuzz tolerates exactly that one message, so that it keeps guarding everything else.
KNOWN_GAP = re.compile(r"^[^\n]*: template not found \(looked in .* and the built-in templates: .*\) while rendering ")


def assert_reported(result: Result) -> None:
    """The contract: exit 0 (with warnings as file:line) or 2 with one file:line line per problem."""
    assert result.code in (0, 2), result
    if result.code == 2 and len(result.err) == 1 and KNOWN_GAP.match(result.err[0]):
        return
    if result.code == 0:
        assert result.out.startswith("catalog.yaml: ok: "), result
        problems = result.err
    else:
        assert result.err and TRAILER.match(result.err[-1]), result
        problems = result.err[:-1]
    for line in problems:
        assert PROBLEM.match(line), f"not a file:line problem: {line!r}"


def bundled_project(root: Path) -> Path:
    """The repository's example project (assets, templates) without its catalog."""
    root.mkdir(parents=True, exist_ok=True)
    for folder in ("assets", "templates"):
        shutil.copytree(REPO / folder, root / folder, dirs_exist_ok=True)
    return root


def pos(text: str, needle: str, offset: int = 0) -> str:
    """'LINE:COL' of needle in text (plus offset columns), so pinned messages follow catalog edits."""
    before = text[:text.index(needle)]
    return f"{before.count(chr(10)) + 1}:{len(before) - before.rfind(chr(10)) + offset}"


@pytest.fixture(scope="module")
def bundled(tmp_path_factory) -> Path:
    return bundled_project(tmp_path_factory.mktemp("bundled"))


@pytest.fixture
def fresh(tmp_path) -> Path:
    return bundled_project(tmp_path / "shop")


# --- generated catalogs (Hypothesis) ---------------------------------------------------------------

NASTY_STRINGS = [
    "", " ", "#1F2A44", "#GGG", "nvy", "../../../../etc/passwd", "/etc/passwd", "~/.ssh/id_rsa", "assets",
    "assets/", "assets/tee.png", "assets/missing.png", "assets/../catalog.yaml", "C:\\Windows\\win.ini",
    "file:///etc/passwd", "http://169.254.169.254/latest/meta-data/", "1e999", "NaN", "0x1F", "yes", "null",
    "2001-13-45", "x" * 10_000, "{{ product.__class__.__mro__ }}", "\u202eevil", "line\nbreak", "\x1b[31mred",
    "nul\x00byte", "\u2028", "\U0001F600" * 50, "local", "openai", ":", "os:system", "99999x99999", "16x16",
    "0x0", "-5x5", "product-photo.j2", "mug.j2",
]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**60), max_value=10**60),
    st.just(10**4000), st.floats(), st.text(st.characters(blacklist_categories=("Cs",)), max_size=30),
    st.sampled_from(NASTY_STRINGS),
)
VALUES = st.recursive(SCALARS, lambda kids: st.lists(kids, max_size=4)
                      | st.dictionaries(st.text(max_size=8), kids, max_size=4), max_leaves=12)


def nested(depth: int, mapping: bool):
    value: object = "deep"
    for i in range(depth):
        value = {f"k{i}": value} if mapping else [value]
    return value


DEEP = st.builds(nested, st.integers(min_value=10, max_value=200), st.booleans())
TEXT_SNIPPETS = [
    "\t", "#", ": ", "- ", "&a ", "*a", "*nope", "---\n", "...\n", "\r\n", "\r", "\ufeff", "\x00", "\x07", "'",
    '"', "{", "}", "[", "]", "<<: *a\n", "!!python/object/apply:os.system ['id'] ", "!!binary ", "%YAML 1.1\n",
    "? ", "|\n", ">-\n", "\\", "\u2028", "\x85", "@", "`", "%", "\n  ", "version: 1\n", "!!int ", "!!timestamp ",
]


def key_paths(tree, prefix: tuple = ()) -> list[tuple]:
    """Every key path in plain data: ("products", 0, "image"), ..."""
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else []
    out = []
    for k, v in items:
        out.append(prefix + (k,))
        out += key_paths(v, prefix + (k,))
    return out


def at(tree, path: tuple):
    for part in path:
        tree = tree[part]
    return tree


def mutate_data(data, tree) -> None:
    """One structural change: delete a key, swap a value's type, rename a key, add a key, repeat an item."""
    paths = key_paths(tree)
    if not paths:
        return
    op = data.draw(st.sampled_from(["delete", "replace", "replace", "deep", "rename", "insert", "duplicate"]))
    path = data.draw(st.sampled_from(paths))
    parent, key = at(tree, path[:-1]), path[-1]
    if op == "delete":
        del parent[key]
    elif op == "replace":
        parent[key] = data.draw(VALUES)
    elif op == "deep":
        parent[key] = data.draw(DEEP)
    elif op == "rename" and isinstance(parent, dict):
        parent[data.draw(st.text(min_size=1, max_size=12) | st.just(str(key)[:-1] or "x"))] = parent.pop(key)
    elif op == "insert":
        target = parent if isinstance(parent, dict) else tree
        target[data.draw(st.text(max_size=12))] = data.draw(VALUES)
    elif op == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))


def mutate_text(data, text: str) -> bytes:
    """One textual change: insert a snippet or random text, delete a span, duplicate or swap lines, bad bytes."""
    op = data.draw(st.sampled_from(["none", "insert", "insert", "delete", "duplicate-line", "swap-lines", "bytes"]))
    at_ = data.draw(st.integers(min_value=0, max_value=len(text)))
    if op == "insert":
        text = text[:at_] + data.draw(st.sampled_from(TEXT_SNIPPETS) | st.text(max_size=8)) + text[at_:]
    elif op == "delete":
        text = text[:at_] + text[at_ + data.draw(st.integers(min_value=1, max_value=40)):]
    elif op in ("duplicate-line", "swap-lines"):
        lines = text.splitlines(keepends=True)
        if len(lines) > 1:
            i, j = (data.draw(st.integers(min_value=0, max_value=len(lines) - 1)) for _ in range(2))
            if op == "duplicate-line":
                lines.insert(i, lines[i])  # often a duplicate key
            else:
                lines[i], lines[j] = lines[j], lines[i]
            text = "".join(lines)
    raw = text.encode("utf-8", "surrogatepass")
    if op == "bytes":
        cut = len(text[:at_].encode("utf-8", "surrogatepass"))
        raw = raw[:cut] + data.draw(st.binary(min_size=1, max_size=4)) + raw[cut:]
    return raw


FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=not FUZZ_RANDOM, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(st.data())
def test_mutated_bundled_catalog_is_accepted_or_reported_by_line(bundled, data):
    tree = yaml.safe_load(BUNDLED)
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        mutate_data(data, tree)
    text = yaml.safe_dump(tree, allow_unicode=data.draw(st.booleans()), sort_keys=False,
                          default_flow_style=data.draw(st.sampled_from([False, None, True])))
    assert_reported(validate(bundled, mutate_text(data, text)))
    record("generated catalogs")


@FUZZ
@given(st.data())
def test_edited_bundled_catalog_text_is_accepted_or_reported_by_line(bundled, data):
    raw = BUNDLED
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        raw = mutate_text(data, raw).decode("utf-8", "surrogateescape")
    assert_reported(validate(bundled, raw.encode("utf-8", "surrogateescape")))
    record("generated catalogs")


YAML_TOKENS = ["version", "products", "colours", "channels", "sku", "id", "image", ":", ": ", "- ", "\n", "  ",
               "[", "]", "{", "}", ",", "&x ", "*x", "<<", "!!str ", "!!map ", "'", '"', "#", "|", ">", "? ", "---",
               "~", "1", "1.5", "true", "assets/tee.png", "\t", "\\", "\x00", "é"]


@FUZZ
@given(st.lists(st.sampled_from(YAML_TOKENS) | st.text(max_size=4), max_size=60).map("".join))
def test_arbitrary_yaml_tokens_are_accepted_or_reported_by_line(bundled, text):
    assert_reported(validate(bundled, text.encode("utf-8", "surrogatepass")))
    record("generated catalogs")


@settings(max_examples=max(50, FUZZ_EXAMPLES // 3), deadline=None, derandomize=not FUZZ_RANDOM, database=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_are_accepted_or_reported_by_line(bundled, raw):
    assert_reported(validate(bundled, raw))
    record("generated catalogs")


# --- the fixed corpus -----------------------------------------------------------------------------

CORPUS_PROBLEMS = {
    "billion-laughs.yaml": "2:64: the catalog expands to more than 200,000 values (check for aliases that repeat "
                           "each other)",
    "merge-bomb.yaml": "2:84: the catalog expands to more than 200,000 values (check for aliases that repeat "
                       "each other)",
    "self-merge.yaml": "2:11: defaults: '<<' merges a mapping into itself",
    "deep-nesting.yaml": "2:1010: YAML syntax error: exceeded maximum nesting depth",
    "several-documents.yaml": "3:1: YAML syntax error: the file holds several YAML documents (separated by '---'); "
                              "a catalog is one document",
    "tab-indent.yaml": "3:1: YAML syntax error: a tab character is not allowed for indentation in YAML; indent "
                       "with spaces",
    "not-utf8.yaml": "3:1: the file is not valid UTF-8 text (save it as UTF-8)",
    "control-character.yaml": "3:24: the file contains the non-printable character U+0007, which YAML does not "
                              "allow; remove it",
    "python-tag.yaml": "1:10: version: cannot read this value: the tag "
                       "'tag:yaml.org,2002:python/object/apply:os.system' is not allowed in a catalog",
    "bad-date.yaml": "3:22: colours[0].name: cannot read '2024-13-45' as a date (put quotes around it if it is "
                     "meant as text)",
    "empty.yaml": "1:1: expected a mapping of sections (version, products, colours, ...) at the top of the file, "
                  "but it is empty",
}


@pytest.mark.parametrize("name", sorted(CORPUS_PROBLEMS))
def test_corpus_file_is_reported_in_one_line(bundled, name):
    result = validate(bundled, (CORPUS / name).read_bytes())
    assert result.code == 2
    assert result.err == [f"catalog.yaml:{CORPUS_PROBLEMS[name]}", "1 problem found"]


def test_every_corpus_file_has_a_pinned_message():
    on_disk = {p.name for p in CORPUS.glob("*.yaml")}
    assert on_disk == set(CORPUS_PROBLEMS) | {"terminal-escape.yaml", "duplicate-keys.yaml"}


def test_a_duplicate_key_is_reported_with_every_other_problem(bundled):
    """A duplicate key no longer stops the reading: it is one of the file's problems (here the
    sections the file leaves out are the others)."""
    result = validate(bundled, (CORPUS / "duplicate-keys.yaml").read_bytes())
    assert result.code == 2
    assert result.err == ["catalog.yaml:1:1: missing required key 'backgrounds'",
                          "catalog.yaml:1:1: missing required key 'products'",
                          "catalog.yaml:6:5: colours[0].hex: duplicate key 'hex' (first written on line 5); each key "
                          "may appear once", "3 problems found"]


def test_terminal_escapes_in_a_value_are_shown_escaped(bundled):
    result = validate(bundled, (CORPUS / "terminal-escape.yaml").read_bytes())
    assert "catalog.yaml:3:11: products[0].sku: expected an id of letters, digits, '.', '_' or '-' (it names files), " \
           "got 'TEE\\x1b[2J\\x1b]0;pwned\\x07'" in result.err
    assert not any("\x1b" in line or "\x07" in line for line in result.err)
    assert_reported(result)


def test_line_breaks_in_a_value_do_not_split_the_problem_line(bundled):
    text = BUNDLED.replace("colours: [white, black, navy, cherry, heather]", 'colours: [white, "nav\\ny\\u2028"]')
    result = validate(bundled, text)
    assert result.err[0] == ("catalog.yaml:43:22: products[0].colours[1]: expected an id of letters, digits, '.', "
                             "'_' or '-' (it names files), got 'nav\\ny\\u2028'")
    assert_reported(result)


def test_a_key_that_is_not_a_word_is_shown_quoted(bundled):
    result = validate(bundled, BUNDLED.replace("version: 1", 'version: 1\n" ": 1'))
    line = BUNDLED.splitlines().index("version: 1") + 2
    assert result.err[0] == (f'catalog.yaml:{line}:1: [" "]: unknown key \' \'; expected one of: version, defaults, '
                             "channels, products, colours, backgrounds, designs, matrix")


def test_a_50_mb_scalar_is_refused_without_parsing(fresh):
    with open(fresh / "catalog.yaml", "wb") as f:
        f.write(b"version: 1\nname: '")
        f.write(b"x" * (50 * 1024 * 1024))
        f.write(b"'\n")
    result = validate(fresh)
    assert result.err == ["catalog.yaml: the file is over 10,485,760 bytes, the most a catalog may be",
                          "1 problem found"]


def test_a_catalog_linked_to_dev_zero_is_refused(fresh):
    (fresh / "catalog.yaml").symlink_to("/dev/zero")
    result = validate(fresh)
    assert result.code == 2
    assert result.err[0] == ("catalog.yaml: the catalog is a link to /dev/zero, outside its folder "
                             f"({fresh}); a catalog must live inside the project")


def test_a_catalog_linked_to_a_secret_is_not_echoed(fresh, tmp_path):
    secret = tmp_path / "id_rsa"
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n")
    (fresh / "catalog.yaml").symlink_to(secret)
    result = validate(fresh)
    assert result.code == 2 and "outside its folder" in result.err[0]
    assert "b3BlbnNzaC1rZXkt" not in "\n".join(result.err)


def test_a_bom_is_accepted_and_does_not_shift_positions(bundled):
    assert validate(bundled, "\ufeff" + BUNDLED).code == 0
    broken = BUNDLED.replace("fill: 0.78", "fill: 7.8")
    assert validate(bundled, "\ufeff" + broken).err == validate(bundled, broken).err
    assert validate(bundled, broken).err[0].startswith(f"catalog.yaml:{pos(broken, 'fill: 7.8', 6)}: "
                                                       "channels[0].fill: ")


def test_crlf_line_ends_are_accepted_and_positions_are_the_same(bundled):
    assert validate(bundled, BUNDLED.replace("\n", "\r\n")).code == 0
    broken = BUNDLED.replace("fill: 0.78", "fill: 7.8")
    assert validate(bundled, broken.replace("\n", "\r\n")).err == validate(bundled, broken).err


def test_duplicate_top_level_section_is_an_error_not_last_one_wins(bundled):
    text = BUNDLED + "\ncolours:\n  - {id: plum, name: Plum, hex: \"#8E4585\"}\n"
    result = validate(bundled, text)
    assert result.err[0] == (f"catalog.yaml:{BUNDLED.count(chr(10)) + 2}:1: colours: duplicate key 'colours' (first "
                             f"written on line {BUNDLED.splitlines().index('colours:') + 1}); each key may appear once")


def test_a_long_merge_chain_is_bounded(bundled):
    chain = "".join(f"k{i}: &a{i} {{<<: *a{i - 1}, v{i}: 1}}\n" if i else "k0: &a0 {v: 1}\n" for i in range(3000))
    result = validate(bundled, chain)
    assert result.err[0] == "catalog.yaml:1:5: k65: merges ('<<') are nested more than 64 levels deep"


def test_a_5000_digit_number_is_reported(bundled):
    result = validate(bundled, BUNDLED.replace("quality: 88", "quality: 1" + "0" * 4999))
    assert result.err[0] == (f"catalog.yaml:{pos(BUNDLED, 'quality: 88', 9)}: channels[0].quality: cannot read this "
                             "value: a whole number of 5,000 digits is far too large")


@pytest.mark.parametrize("value, message", [
    ("!!int abc", "cannot read 'abc' as a whole number (put quotes around it if it is meant as text)"),
    ("!!float abc", "cannot read 'abc' as a number (put quotes around it if it is meant as text)"),
    ("!!bool maybe", "cannot read 'maybe' as true or false (put quotes around it if it is meant as text)"),
    ("!!timestamp soon", "cannot read 'soon' as a date (put quotes around it if it is meant as text)"),
])
def test_tagged_values_that_do_not_convert_are_reported(bundled, value, message):
    result = validate(bundled, BUNDLED.replace("quality: 88", f"quality: {value}"))
    assert result.err[0] == f"catalog.yaml:{pos(BUNDLED, 'quality: 88', 9)}: channels[0].quality: {message}"


@pytest.mark.parametrize("size, shown", [
    ("[100000, 100000]", "[100000, 100000]"),  # once allowed: a 10-gigapixel canvas
    ("[-5, 0]", "[-5, 0]"),
    ("[a, b]", "[a, b]"),
    ("'99999x99999'", "'99999x99999'"),
])
def test_channel_size_bounds_hold_for_both_forms(bundled, size, shown):
    result = validate(bundled, BUNDLED.replace("size: 1200x1200", f"size: {size}"))
    assert result.err[0] == (f"catalog.yaml:{pos(BUNDLED, 'size: 1200x1200', 6)}: channels[0].size: expected a size "
                             f"like '2048x2048' (16 to 8192 pixels a side), got {shown}")


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_non_finite_numbers_are_refused(bundled, value):
    result = validate(bundled, BUNDLED.replace("fill: 0.78", f"fill: {value}"))
    assert result.err[0] == (f"catalog.yaml:{pos(BUNDLED, 'fill: 0.78', 6)}: channels[0].fill: expected a finite "
                             f"number, got the number {float(value.replace('.', ''))}")
    area = "print_area: [[392, 330], [632, 330], [632, 630], [392, 630]]"
    result = validate(bundled, BUNDLED.replace(area, f"print_area: {{x: {value}, y: 1, width: 10, height: 10}}"))
    assert result.err[0] == (f"catalog.yaml:{pos(BUNDLED, area, 12)}: products[0].placements.front.print_area: "
                             "expected a rectangle {x, y, width, height} of finite numbers, "
                             f"got x: {float(value.replace('.', ''))}")


def test_unknown_backend_is_reported_at_its_line(bundled):
    result = validate(bundled, BUNDLED.replace("backend: local ", "backend: lcoal "))
    assert result.err == [f"catalog.yaml:{pos(BUNDLED, 'backend: local', 9)}: defaults.backend: unknown backend "
                          "'lcoal' (did you mean 'local'?); "
                          "known backends: local, openai",
                          "1 problem found"]


@pytest.mark.parametrize("value", ["':'", "os:system", "tests.backends_for_tests:Recording"])
def test_a_catalog_cannot_name_code_to_import(bundled, value):
    """An import path would let whoever edits the catalog pick code to run; only --backend takes one."""
    result = validate(bundled, BUNDLED.replace("backend: local ", f"backend: {value} "))
    assert result.err[0] == (f"catalog.yaml:{pos(BUNDLED, 'backend: local', 9)}: defaults.backend: "
                             f"'{value.strip(chr(39))}' is an import path; a catalog may name only a built-in backend "
                             "or an installed plugin (give an import path with --backend)")


def test_a_missing_template_is_reported_at_its_catalog_line(bundled):
    """Needs the fix in build.py (render_jobs): today the renderer's message names no catalog line."""
    result = validate(bundled, BUNDLED.replace("template: mug.j2", "template: mgu.j2"))
    assert result.code == 2
    assert result.err[0].startswith(f"catalog.yaml:{pos(BUNDLED, 'template: mug.j2', 10)}: products[2].template: "
                                    "template 'mgu.j2' not found")


def test_malformed_backend_on_the_command_line_is_a_usage_error(bundled, capsys):
    """Needs the fix in backends/base.py (ValueError from importlib is not caught)."""
    validate(bundled, BUNDLED)
    with inside(bundled):
        assert main(["validate", "catalog.yaml", "--backend", ":"]) == 2
    assert capsys.readouterr().err == "mockups: error: cannot load backend ':': Empty module name\n"


# --- paths may not leave the project --------------------------------------------------------------

def outside_file(tmp_path: Path) -> Path:
    secret = tmp_path / "home" / ".ssh" / "id_rsa.png"
    secret.parent.mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(secret)
    return secret


ESCAPES = {
    "parent": ("../home/.ssh/id_rsa.png", "'../home/.ssh/id_rsa.png' points outside the catalog's folder ({root}); "
                                          "files must live inside the project"),
    "parent-inside": ("assets/../../home/.ssh/id_rsa.png",
                      "'assets/../../home/.ssh/id_rsa.png' points outside the catalog's folder ({root}); files must "
                      "live inside the project"),
    "absolute": ("/etc/passwd",
                 "expected a path relative to the catalog's folder, got the absolute path '/etc/passwd'"),
    "home": ("~/.ssh/id_rsa",
             "expected a path relative to the catalog's folder, got the absolute path '~/.ssh/id_rsa'"),
    "link": ("assets/innocent.png", "'assets/innocent.png' points outside the catalog's folder ({root}); files must "
                                    "live inside the project"),
    "linked-folder": ("photos/id_rsa.png", "'photos/id_rsa.png' points outside the catalog's folder ({root}); files "
                                           "must live inside the project"),
    "link-loop": ("assets/loop.png", "'assets/loop.png' is a link that leads back to itself"),
    "nul": ("assets/tee.png\\0.txt", "a file path may not contain a NUL character"),
    "too-long": ("a" * 5000 + ".png", "cannot read " + "a" * 77 + "...: File name too long"),
}


@pytest.mark.parametrize("backend", ["local", "openai"])
@pytest.mark.parametrize("case", sorted(ESCAPES))
def test_asset_paths_that_leave_the_project_are_refused(fresh, tmp_path, case, backend):
    secret = outside_file(tmp_path)
    (fresh / "assets" / "innocent.png").symlink_to(secret)
    (fresh / "photos").symlink_to(secret.parent)
    (fresh / "assets" / "loop.png").symlink_to(fresh / "assets" / "loop.png")
    value, message = ESCAPES[case]
    result = validate(fresh, BUNDLED.replace("image: assets/mug.png", f'image: "{value}"'), "--backend", backend)
    assert result.code == 2
    line = f"catalog.yaml:{pos(BUNDLED, 'image: assets/mug.png', 7)}: products[2].image: {message.format(root=fresh)}"
    assert result.err == [line, "1 problem found"]


def test_a_template_linked_out_of_the_project_is_refused(fresh, tmp_path):
    (fresh / "templates" / "env.j2").symlink_to("/proc/self/environ")
    result = validate(fresh, BUNDLED)
    assert result.code == 2
    assert result.err[0] == (f"catalog.yaml: templates/env.j2 is a link to {Path('/proc/self/environ').resolve()}, "
                             f"outside the catalog's folder ({fresh}); templates must live inside the project")


def test_a_templates_folder_linked_out_of_the_project_is_refused(fresh, tmp_path):
    shutil.rmtree(fresh / "templates")
    (fresh / "templates").symlink_to(tmp_path)
    result = validate(fresh, BUNDLED.replace("    template: mug.j2\n", ""))
    assert result.err[0] == (f"catalog.yaml: templates is a link to {tmp_path}, outside the catalog's folder "
                             f"({fresh}); templates must live inside the project")


def test_a_link_inside_the_project_is_fine(fresh):
    (fresh / "assets" / "alias.png").symlink_to(fresh / "assets" / "mug.png")
    (fresh / "templates" / "again.j2").symlink_to(fresh / "templates" / "mug.j2")
    (fresh / "templates" / "loop.j2").symlink_to(fresh / "templates" / "loop.j2")
    assert validate(fresh, BUNDLED.replace("image: assets/mug.png", "image: assets/alias.png")).code == 0


# --- templates run in the sandbox -------------------------------------------------------------------

ESCAPE_PROBES = {
    "{{ product.__class__.__mro__ }}": "access to attribute '__class__' of 'product' object is unsafe.",
    "{{ cycler.__init__.__globals__.os.system('id') }}": "access to attribute '__init__' of 'type' object is unsafe.",
    "{{ lipsum.__globals__['os'].popen('id').read() }}": "access to attribute '__globals__' of 'function' object "
                                                         "is unsafe.",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}": "access to attribute '__class__' of 'str' object is unsafe.",
    "{{ self.__init__.__globals__ }}": "access to attribute '__init__' of 'TemplateReference' object is unsafe.",
    "{{ product|attr('__class__') }}": "access to attribute '__class__' of 'product' object is unsafe.",
    "{{ '{0.__class__}'.format(product) }}": "access to attribute '__class__' of 'product' object is unsafe.",
}


@pytest.mark.parametrize("probe", sorted(ESCAPE_PROBES))
def test_template_escape_attempts_fail_with_a_clear_error(fresh, probe):
    (fresh / "templates" / "product-photo.j2").write_text(f"A photo. {probe}\n")
    result = validate(fresh, BUNDLED)
    assert result.code == 2
    assert result.err == [f"templates/product-photo.j2:1: not allowed in a template: {ESCAPE_PROBES[probe]} "
                          "(while rendering shop/TEE-CLASSIC/white--studio--front)"]


def test_templates_cannot_change_the_catalog(fresh):
    (fresh / "templates" / "product-photo.j2").write_text("{% set _ = product.colours.append('x') %}A photo.\n")
    result = validate(fresh, BUNDLED)
    assert result.code == 2 and result.err[0].startswith("templates/product-photo.j2:1: ")


def test_a_template_cannot_exhaust_memory(fresh):
    """Needs the fix in prompts.py: bound `*` and `**` in the sandbox (today: MemoryError, a traceback)."""
    (fresh / "templates" / "product-photo.j2").write_text("{{ 'a' * 10**12 }}\n")
    result = validate(fresh, BUNDLED)
    assert result.code == 2
    assert result.err[0].startswith("templates/product-photo.j2:1: not allowed in a template: ")


# --- secrets never reach disk, HTML or logs ----------------------------------------------------------

def every_file(*folders: Path) -> list[Path]:
    return [p for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file()]


def leaks(secret_values: list[str], files: list[Path], *texts: str) -> list[str]:
    found = []
    for value in secret_values:
        needle = value.encode()
        found += [f"{p}: {value}" for p in files if needle in p.read_bytes()]
        found += [f"output: {value}" for t in texts if value in t]
    return found


def with_base_url(url: str) -> str:
    lock = "    product_lock: true"
    return BUNDLED.replace(lock, lock.split("product_lock")[0] + f"base_url: '{url}'\n{lock}", 1)


@pytest.mark.parametrize("url", [
    "https://evil.example/v1", "https://api.openai.com.evil.example/v1", "https://api.openai.com@evil.example/v1",
    "http://api.openai.com/v1", "https://user:pass@api.openai.com/v1", "file:///etc/passwd",
])
def test_a_catalog_cannot_send_the_api_key_elsewhere(bundled, url):
    """The openai backend sends OPENAI_API_KEY to base_url: a catalog may not choose where that goes."""
    result = validate(bundled, with_base_url(url))
    assert result.err == [f"catalog.yaml:{pos(with_base_url(url), 'base_url: ', 10)}: defaults.openai.base_url: a "
                          f"catalog may send the API key only to https://api.openai.com or to a server on this "
                          f"machine, got '{url}'; for another endpoint (e.g. Azure) set OPENAI_BASE_URL in the "
                          "environment instead", "1 problem found"]


@pytest.mark.parametrize("url", ["https://api.openai.com/v1", "http://127.0.0.1:8080/v1", "http://localhost:9/v1"])
def test_openai_itself_and_a_local_test_server_are_allowed(bundled, url):
    assert validate(bundled, with_base_url(url)).code == 0


@pytest.mark.parametrize("backend", ["local", RECORDING])
def test_secrets_in_the_environment_never_reach_any_file_or_log(tmp_path, backend):
    root = tmp_path / "shop"
    root.mkdir()
    (root / "catalog.yaml").write_text(MINIMAL)
    from tests.conftest import tiny_logo, tiny_product, write_tree

    write_tree(root, {"assets/tee.png": tiny_product(), "assets/mug.png": tiny_product(colour=(240, 240, 240)),
                      "assets/wood.png": Image.new("RGB", (160, 120), (150, 110, 70)), "assets/logo.png": tiny_logo()})
    values = [f"sk-proj-{secrets.token_hex(24)}", secrets.token_urlsafe(24)]
    env = dict(os.environ, OPENAI_API_KEY=values[0], MOCKUPS_DEPLOY_TOKEN=values[1], PYTHONPATH=str(REPO),
               MOCKUPS_TEST_LOG=str(tmp_path / "calls.log"))
    summary = tmp_path / "summary.md"
    run = subprocess.run([sys.executable, "-m", "mockups", "build", "catalog.yaml", "--backend", backend,
                          "--summary", str(summary), "-j", "2"], cwd=root, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    files = every_file(root / "build", root / ".mockups-cache") + [summary]
    assert (root / "build" / "gallery" / "index.html") in files and len(files) > 20
    assert leaks(values, files, run.stdout, run.stderr) == []


# --- soak: accepted catalogs also build without crashing ----------------------------------------------

PYTHON_ERROR = re.compile(r"^[A-Z]\w*(Error|Exception|Interrupt): ")  # how the runner records an unexpected error


@pytest.fixture(scope="module")
def small_project(tmp_path_factory) -> Path:
    from tests.conftest import tiny_logo, tiny_product, write_tree

    return write_tree(tmp_path_factory.mktemp("small"), {
        "assets/tee.png": tiny_product(), "assets/mug.png": tiny_product(colour=(240, 240, 240)),
        "assets/wood.png": Image.new("RGB", (160, 120), (150, 110, 70)), "assets/logo.png": tiny_logo()})


def tweak_data(data, tree) -> None:
    """A change that often keeps the catalog valid: a value becomes another of its kind (so the build
    runs with unusual colours, sizes, print areas, captions), or a list item is repeated."""
    leaves = [p for p in key_paths(tree) if not isinstance(at(tree, p), (dict, list))
              and not (isinstance(at(tree, p), str) and p[-1] not in ("name", "text", "hex", "size", "colour"))]
    path = data.draw(st.sampled_from(leaves))
    parent, key = at(tree, path[:-1]), path[-1]
    old = parent[key]
    if isinstance(old, bool):
        parent[key] = data.draw(st.booleans())
    elif isinstance(old, (int, float)):
        parent[key] = data.draw(st.integers(min_value=-10, max_value=300) | st.floats(min_value=-1, max_value=300))
    elif isinstance(old, str) and old.startswith("#"):
        parent[key] = data.draw(st.from_regex(r"#[0-9A-Fa-f]{6}|#[0-9A-Fa-f]{3}", fullmatch=True))
    elif isinstance(old, str) and re.fullmatch(r"\d+x\d+", old):
        parent[key] = "{}x{}".format(*(data.draw(st.integers(min_value=16, max_value=200)) for _ in range(2)))
    else:  # a name or a caption: any text
        parent[key] = data.draw(st.text(min_size=1, max_size=40) | st.sampled_from(NASTY_STRINGS))


@pytest.mark.soak
@settings(max_examples=max(20, FUZZ_EXAMPLES // 4), deadline=None, derandomize=not FUZZ_RANDOM, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_soak_accepted_mutated_catalogs_build_without_crashing(small_project, data):
    import concurrent.futures.process  # noqa: F401  (see test_faults.thread_runner)

    tree = yaml.safe_load(MINIMAL.replace("    designs: [logo]\n", "    designs: [logo]\n    caption: {text: $24}\n"))
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        tweak_data(data, tree)
    if data.draw(st.booleans()):
        mutate_data(data, tree)
    result = validate(small_project, yaml.safe_dump(tree, allow_unicode=True, sort_keys=False))
    assert_reported(result)
    record("generated catalogs")
    if result.code != 0:
        return
    for folder in ("build", ".mockups-cache"):
        shutil.rmtree(small_project / folder, ignore_errors=True)
    out, err = io.StringIO(), io.StringIO()
    with inside(small_project), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["build", "catalog.yaml", "-j", "1", "--backend", "local"])
    assert code in (0, 1), err.getvalue()
    assert "Traceback" not in err.getvalue()
    variants = json.loads((small_project / "build" / "manifest.json").read_text())["variants"]
    bugs = [e["error"] for e in variants.values() if e["status"] == "failed" and PYTHON_ERROR.match(e["error"])]
    assert bugs == []
    record("generated catalogs built")
