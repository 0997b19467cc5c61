"""Mistakes a merchandiser makes in catalog.yaml and templates/ (found by a review; each test failed
before its fix): each is reported at the right line,
with the key path, what was expected and what was written, a "did you mean" where a name is
close, never a traceback, and exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mockups import CatalogError, load_catalog
from mockups.cli import main
from tests.conftest import MINIMAL


def messages(path) -> list[str]:
    """Problems as 'LINE:COL: path: message' (the file name stripped)."""
    with pytest.raises(CatalogError) as e:
        load_catalog(path)
    return [f"{p.line}:{p.column}: {p.path}: {p.message}" for p in e.value.problems]


def validate(path, capsys) -> tuple[int, str]:
    code = main(["validate", str(path)])
    return code, capsys.readouterr().err


# --- templates: never a traceback ---------------------------------------------------------------

def test_a_template_saved_in_another_encoding_is_a_message_not_a_traceback(project, capsys):
    """A template saved as Latin-1 (an accented word, an editor's default on Windows)."""
    path = project(files={"templates/product-photo.j2":
                          "Photo de {{ product.name }} en c\xe9ramique".encode("latin-1")})
    code, err = validate(path, capsys)
    assert code == 2
    assert "templates/product-photo.j2" in err and "UTF-8" in err
    assert "Traceback" not in err


def test_a_filter_given_a_bad_argument_is_a_message_not_a_traceback(project, capsys):
    path = project(files={"templates/product-photo.j2": "{{ product.name | truncate(-1) }}"})
    code, err = validate(path, capsys)
    assert code == 2
    assert err.startswith("templates/product-photo.j2:1: ")


# --- ids that cannot be file names --------------------------------------------------------------

LONG_SKU = "TEE-" + "A" * 300


def test_an_id_too_long_for_a_file_name_is_refused_by_validate(project):
    """Outputs are named by id (build/<channel>/<SKU>/...): a name over 255 bytes cannot be written."""
    path = project(MINIMAL.replace("sku: TEE\n", f"sku: {LONG_SKU}\n"))
    found = messages(path)
    assert len(found) == 1 and found[0].startswith("5:10: products[0].sku: "), found


def test_an_id_too_long_for_a_file_name_does_not_make_a_build_print_a_traceback(project):
    path = project(MINIMAL.replace("sku: TEE\n", f"sku: {LONG_SKU}\n"))
    result = subprocess.run([sys.executable, "-m", "mockups", "build", str(path), "-j", "1", "--no-gallery"],
                            capture_output=True, text=True, timeout=600)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 2


# --- positions: a merge key ('<<') ----------------------------------------------------------------

def test_a_value_that_overrides_a_merged_key_is_reported_on_its_own_line(project):
    text = MINIMAL.replace("  - {id: web, size: 96x96, format: png}\n",
                           "  - &web {id: web, size: 96x96, format: png}\n"
                           "  - <<: *web\n"
                           "    id: print\n"
                           "    format: jpg\n")
    assert messages(project(text)) == [
        "6:13: channels[1].format: expected one of 'png', 'jpeg' or 'webp', got 'jpg' (did you mean 'jpeg'?)"
    ]


# --- one mistake, one problem -------------------------------------------------------------------

@pytest.mark.parametrize("old, new, none", [
    ("colours:\n  - {id: white", "colors:\n  - {id: white", "known colours: none"),  # the American spelling
    ("channels:\n  - {id: web, size: 96x96, format: png}", "channels:\n  web: {size: 96x96, format: png}",
     "known channels: none"),  # a mapping where a list goes
])
def test_a_misspelt_or_misshapen_section_does_not_make_every_reference_unknown(project, old, new, none):
    text = MINIMAL.replace("designs: [logo]", "designs: [logo]\n    colours: [white, navy]")
    text += "matrix:\n  exclude:\n    - {channel: web, colour: navy}\n"
    found = messages(project(text.replace(old, new)))
    assert not [m for m in found if none in m], found


def test_a_duplicate_key_does_not_hide_the_other_problems(project):
    text = MINIMAL.replace("name: Mug", "name: Mug\n    name: Mug again").replace("format: png}", "fromat: png}")
    found = messages(project(text))
    assert [m.split(": ")[1] for m in found] == ["channels[0].fromat", "products[1].name"], found


# --- what was written, not what YAML made of it --------------------------------------------------

@pytest.mark.parametrize("old, new, written", [
    ("sku: MUG", "sku: 004512", "004512"),  # a numeric SKU with leading zeros (YAML 1.1: octal 2378)
    ('hex: "#1F2A44"', "hex: 012345", "012345"),  # a colour without its '#' (octal 5349)
])
def test_a_value_yaml_reads_as_a_number_is_shown_as_written_with_advice(project, old, new, written):
    found = messages(project(MINIMAL.replace(old, new)))
    assert len(found) == 1, found
    assert written in found[0] and "quote" in found[0], found


def test_a_yes_no_id_is_not_listed_as_a_python_value(project):
    text = MINIMAL.replace("{id: navy,", "{id: no,").replace("designs: [logo]",
                                                              "designs: [logo]\n    colours: [white, navy]")
    found = " ".join(messages(project(text)))
    assert "False" not in found, found


# --- did you mean ---------------------------------------------------------------------------------

@pytest.mark.parametrize("old, new, hint", [
    ("format: png}", "format: PNG}", "(did you mean 'png'?)"),
    ("designs: [logo]", "designs: [logo]\n    colours: [NAVY]", "(did you mean 'navy'?)"),
    ("version: 1", "VERSION: 1", "(did you mean 'version'?)"),
])
def test_did_you_mean_ignores_case(project, old, new, hint):
    found = messages(project(MINIMAL.replace(old, new)))
    assert len(found) == 1 and hint in found[0], found


@pytest.mark.parametrize("template, hint", [
    ("mugg.j2", "(did you mean 'mug.j2'?)"),  # the project's own template, misspelt
    ("product-photo", "(did you mean 'product-photo.j2'?)"),  # the built-in, without its extension
])
def test_a_misspelt_template_name_suggests_the_template(project, capsys, template, hint):
    text = MINIMAL.replace("name: Mug\n", f"name: Mug\n    template: {template}\n")
    path = project(text, files={"templates/mug.j2": "A {{ product.name }} mug"})
    code, err = validate(path, capsys)
    assert code == 2
    assert hint in err, err


@pytest.mark.parametrize("image, hint", [
    ("mug.png", "(did you mean 'assets/mug.png'?)"),  # the folder left out
    ("asset/mug.png", "(did you mean 'assets/mug.png'?)"),  # the folder misspelt
    ("assets\\mug.png", "assets/mug.png"),  # a Windows path: says to write '/'
])
def test_a_missing_file_suggests_the_file_in_another_folder(project, image, hint):
    found = messages(project(MINIMAL.replace("image: assets/mug.png", f"image: {image}")))
    assert len(found) == 1 and found[0].startswith("12:12: products[1].image: file not found"), found
    assert hint in found[0], found


def test_an_included_template_that_is_not_there_is_said_to_be_not_found(project, capsys):
    """It was reported as 'templates/product-photo.j2:1: part.j2', without saying what was wrong."""
    path = project(files={"templates/product-photo.j2": "Photo {% include 'prt.j2' %}",
                          "templates/part.j2": "of a {{ product.name }}"})
    code, err = validate(path, capsys)
    assert code == 2
    assert err.startswith("templates/product-photo.j2:1: template 'prt.j2' not found (did you mean 'part.j2'?)"), err
