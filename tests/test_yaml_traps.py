"""YAML traps merchandisers fall into (issue #10): an unquoted '#' starts a comment, and a key written
with nothing after it. Each is an error at the line and column where the user wrote it, never a
silent default; the messages are pinned as `mockups validate` prints them for the bundled catalog.
"""

from __future__ import annotations

import contextlib
import io
import os

import pytest

from mockups.catalog.schema import Channel, json_schema
from mockups.cli import main
from tests.conftest import REPO, copy_bundled

BUNDLED = (REPO / "catalog.yaml").read_text()


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    return copy_bundled(tmp_path_factory.mktemp("traps") / "shop")


def validate(folder, text: str) -> tuple[int, list[str]]:
    """`mockups validate catalog.yaml` on text, from the catalog's folder: (exit code, stderr lines)."""
    (folder / "catalog.yaml").write_text(text)
    err = io.StringIO()
    before = os.getcwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main(["validate", "catalog.yaml"])
    finally:
        os.chdir(before)
    return code, err.getvalue().splitlines()


def edit(old: str, new: str, text: str = BUNDLED) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def at(text: str, needle: str, offset: int = 0) -> str:
    """'LINE:COL' of needle in text (plus offset columns)."""
    before = text[:text.index(needle)]
    return f"{before.count(chr(10)) + 1}:{len(before) - before.rfind(chr(10)) + offset}"


def test_the_bundled_catalog_has_no_trap(shop):
    assert validate(shop, BUNDLED) == (0, [])


# --- an unquoted '#' in a block mapping: the value is read as empty -------------------------------------

def test_channel_background_hash_is_an_error_not_the_sweep(shop):
    """Was: read as no background (the marketplace image got the sweep), and `validate` said ok."""
    text = edit('background: "#FFFFFF" ', "background: #FFFFFF ")
    assert validate(shop, text) == (2, [
        f"catalog.yaml:{at(text, '#FFFFFF ')}: channels[1].background: expected a colour like '#FFFFFF', but it was "
        "read as empty because '#FFFFFF' starts a comment: write \"#FFFFFF\"",
        "1 problem found"])
    assert at(text, "#FFFFFF ") == "26:17"


def test_colour_hex_hash_in_block_style(shop):
    text = edit('  - {id: navy,    name: Navy,         hex: "#1F2A44"}',
                "  - id: navy\n    name: Navy\n    hex: #1F2A44")
    assert validate(shop, text) == (2, [
        "catalog.yaml:76:10: colours[2].hex: expected a colour like '#1A2B3C', but it was read as empty because "
        "'#1F2A44' starts a comment: write \"#1F2A44\"",
        "1 problem found"])


def test_sweep_hash_in_block_style(shop):
    text = edit('  - {id: sweep,     name: Warm sweep,    sweep: "#EFE9E1"}',
                "  - id: sweep\n    name: Warm sweep\n    sweep: #EFE9E1")
    assert validate(shop, text) == (2, [
        "catalog.yaml:86:12: backgrounds[2].sweep: expected a colour like '#1A2B3C', but it was read as empty because "
        "'#EFE9E1' starts a comment: write \"#EFE9E1\"",
        "1 problem found"])


def test_gradient_colour_hash_in_a_block_list(shop):
    text = edit('gradient: {type: linear, colours: ["#FCE3C4", "#F3A6A0"], angle: 180}',
                'gradient:\n      type: linear\n      colours:\n        - #FCE3C4\n        - "#F3A6A0"')
    assert validate(shop, text) == (2, [
        "catalog.yaml:90:11: backgrounds[3].gradient.colours[0]: expected a colour like '#1A2B3C', but it was read as "
        "empty because '#FCE3C4' starts a comment: write \"#FCE3C4\"",
        "1 problem found"])


def test_only_the_value_before_a_real_trailing_comment_is_named(shop):
    text = edit("name: Classic Tee", "name: #1 seller   # the best")
    assert validate(shop, text) == (2, [
        "catalog.yaml:30:11: products[0].name: expected a string, but it was read as empty because '#1 seller' "
        "starts a comment: write \"#1 seller\"",
        "1 problem found"])


# --- an unquoted '#' in flow style: the rest of the line is lost, the parser fails later ------------------

def test_colour_hex_hash_in_flow_style(shop):
    """Was: "did not find expected ','" two lines later, with no hint."""
    text = edit('  - {id: natural, name: Natural,      hex: "#E9E1CF"}\n',
                '  - {id: natural, name: Natural,      hex: "#E9E1CF"}\n  - {id: royal, name: Royal, hex: #2B4DAA}\n')
    assert validate(shop, text) == (2, [
        "catalog.yaml:80:35: colours[8].hex: YAML syntax error: a '#' starts a comment in YAML, so everything from "
        "'#2B4DAA' to the end of the line was ignored; put quotes around colours: write \"#2B4DAA\"",
        "1 problem found"])


def test_gradient_colours_hash_in_flow_style(shop):
    text = edit('colours: ["#FCE3C4", "#F3A6A0"]', 'colours: [#FCE3C4, "#F3A6A0"]')
    assert validate(shop, text) == (2, [
        f"catalog.yaml:{at(text, '#FCE3C4')}: backgrounds[3].gradient.colours[0]: YAML syntax error: a '#' starts a "
        "comment in YAML, so everything from '#FCE3C4' to the end of the line was ignored; put quotes around "
        "colours: write \"#FCE3C4\"",
        "1 problem found"])
    assert at(text, "#FCE3C4") == "87:40"


def test_sweep_hash_in_flow_style(shop):
    text = edit('sweep: "#EFE9E1"', "sweep: #EFE9E1")
    assert validate(shop, text) == (2, [
        "catalog.yaml:84:49: backgrounds[2].sweep: YAML syntax error: a '#' starts a comment in YAML, so everything "
        "from '#EFE9E1' to the end of the line was ignored; put quotes around colours: write \"#EFE9E1\"",
        "1 problem found"])


def test_a_colour_hidden_in_a_list_written_over_several_lines(shop):
    """The list still closes on a later line, so it parses: one colour short, without any error of YAML's."""
    text = edit('colours: ["#FCE3C4", "#F3A6A0"], angle: 180}',
                'colours: [#FCE3C4,\n      "#F3A6A0", "#FFFFFF"], angle: 180}')
    assert validate(shop, text) == (2, [
        "catalog.yaml:87:40: backgrounds[3].gradient.colours: '#FCE3C4' was read as a comment and left out of this "
        "list (a '#' starts a comment in YAML); put quotes around colours: write \"#FCE3C4\"",
        "1 problem found"])
    text = edit('colours: ["#FCE3C4", "#F3A6A0"], angle: 180}',
                'colours: [\n      "#FCE3C4",   #FCE3C4 is peach\n      #F3A6A0,\n      "#FFFFFF"], angle: 180}')
    assert validate(shop, text) == (2, [
        "catalog.yaml:89:7: backgrounds[3].gradient.colours: '#F3A6A0' was read as a comment and left out of this "
        "list (a '#' starts a comment in YAML); put quotes around colours: write \"#F3A6A0\"",
        "1 problem found"])


def test_comments_that_are_comments_are_left_alone(shop):
    text = edit('colours: ["#FCE3C4", "#F3A6A0"], angle: 180}',
                'colours: [\n      "#FCE3C4",   #FCE3C4 is peach\n      # "#000000", not this one\n'
                '      "#F3A6A0"], angle: 180}')
    text = edit("name: Classic Tee", 'name: "Tee #1"  #1 in sales', text)
    text = edit("fill: 0.78", "fill: 0.78   #0.8 was too big", text)
    assert validate(shop, text) == (0, [])


def test_an_unrelated_syntax_error_is_not_blamed_on_a_hash(shop):
    """A '#' comment earlier in the file is named only when quoting it gets the parser past the error."""
    text = edit("quality: 90", "quality: [90", edit("fill: 0.78", "fill: 0.78\n    background: #FFFFFF"))
    assert validate(shop, text) == (2, ["catalog.yaml:26:9: YAML syntax error: did not find expected ',' or ']'",
                                        "1 problem found"])


# --- a key written with nothing after it: an error, never the default -----------------------------------

EMPTY = {
    "channel background": ('background: "#FFFFFF" ', "background: ", "background: ", 11,
                           "channels[1].background: expected a colour like '#FFFFFF', got nothing (an empty value) "
                           "(in YAML, put quotes around values that start with '#')"),
    "fill": ("fill: 0.85", "fill:", "fill:\n", 5, "channels[1].fill: expected a number, got nothing (an empty value)"),
    "shadow": ("fill: 0.85", "fill: 0.85\n    shadow:", "shadow:", 7,
               "channels[1].shadow: expected true or false (leave the key out for the default shadow), got nothing "
               "(an empty value)"),
    "hex": ('hex: "#1F2A44"}', "hex: }", "hex: }", 5,
            "colours[2].hex: expected a colour like '#1A2B3C', got nothing (an empty value) (in YAML, put quotes "
            "around values that start with '#')"),
    "image": ("image: assets/hoodie.png", "image:", "image:\n    recolour_mask: assets/hoodie", 6,
              "products[1].image: expected a file path, got nothing (an empty value)"),
    "product colours": ("colours: [black, navy, forest, heather]", "colours:",
                        "colours:\n    backgrounds: [studio, sweep]", 8,
                        "products[1].colours: expected a list of colour ids (leave the key out for every colour), "
                        "got nothing (an empty value)"),
    "print_area": ("print_area: [[392, 330], [632, 330], [632, 630], [392, 630]]", "print_area:", "print_area:", 11,
                   "products[0].placements.front.print_area: expected four corners or a rectangle "
                   "{x, y, width, height}, got nothing (an empty value)"),
    "sweep": ('sweep: "#EFE9E1"', "sweep: ", "sweep: ", 7,
              "backgrounds[2].sweep: expected a colour like '#1A2B3C', got nothing (an empty value) (in YAML, put "
              "quotes around values that start with '#')"),
    "design name": ("name: Fox logo,", "name: null,", "name: null,", 6,
                    "designs[0].name: expected a name (or leave the key out), got nothing (an empty value)"),
    "matrix rule": ("{channel: marketplace, background: studio}", "{channel: marketplace, background: }",
                    "background: }", 12, "matrix.exclude[0].background: expected a background id (leave the key out "
                                         "to match any), got nothing (an empty value)"),
}


@pytest.mark.parametrize("case", sorted(EMPTY))
def test_an_empty_key_is_an_error_at_its_line(shop, case):
    old, new, needle, offset, message = EMPTY[case]
    text = edit(old, new)
    assert validate(shop, text) == (2, [f"catalog.yaml:{at(text, needle, offset)}: {message}", "1 problem found"])


def test_a_real_comment_after_an_empty_key_is_not_named(shop):
    text = edit('background: "#FFFFFF" ', "background:")  # the line goes on: "  # marketplaces want a pure white"
    assert validate(shop, text) == (2, [
        "catalog.yaml:26:16: channels[1].background: expected a colour like '#FFFFFF', got nothing (an empty value) "
        "(in YAML, put quotes around values that start with '#')",
        "1 problem found"])


def test_an_empty_background_kind_is_reported_once(shop):
    """`sweep:` empty: the empty key, not also 'a background needs exactly one of ...'."""
    text = edit('  - {id: sweep,     name: Warm sweep,    sweep: "#EFE9E1"}',
                "  - id: sweep\n    name: Warm sweep\n    sweep:")
    assert validate(shop, text) == (2, [
        "catalog.yaml:86:11: backgrounds[2].sweep: expected a colour like '#1A2B3C', got nothing (an empty value) "
        "(in YAML, put quotes around values that start with '#')",
        "1 problem found"])


def test_left_out_is_the_default_written_empty_is_not():
    assert Channel.model_validate({"id": "web", "size": "64x64"}).background is None
    with pytest.raises(ValueError, match="expected a colour like '#FFFFFF'"):
        Channel.model_validate({"id": "web", "size": "64x64", "background": None})


def test_the_schema_does_not_allow_an_empty_optional_key():
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    data = yaml.safe_load(BUNDLED)
    jsonschema.validate(data, json_schema())
    data["channels"][1]["background"] = None
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, json_schema())
    channel = json_schema()["$defs"]["Channel"]["properties"]["background"]
    assert channel["type"] == "string" and "default" not in channel
