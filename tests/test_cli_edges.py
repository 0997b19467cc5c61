"""The command line's sharp edges in CI: a selection that selects nothing, a closed pipe, init's .gitignore."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys

import pytest

from mockups import BuildOptions, prepare
from mockups.cli import main
from mockups.matrix import FilterError
from tests.conftest import MINIMAL, REPO, copy_bundled

RECORDING = "tests.backends_for_tests:Recording"
COMMANDS = [["plan"], ["plan", "--json"], ["build", "--no-gallery"], ["build", "--check"]]


def errors(capsys, command, path, *selection) -> str:
    """stderr of a command that must refuse the selection: exit 2, nothing on stdout, nothing built."""
    code = main([command[0], str(path), *command[1:], "--backend", RECORDING, *selection])
    out, err = capsys.readouterr()
    assert code == 2 and out == "", (code, out, err)
    assert not (path.parent / "build").exists() and not (path.parent / ".mockups-cache").exists()
    return err


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("selection, message", [
    (["--only", "sku=NOPE"],
     "mockups: error: --only sku=NOPE selects no variant; skus: TEE, MUG\n"),
    (["--only", "colour=Navy"],  # the id is `navy`: case-insensitive first
     "mockups: error: --only colour=Navy selects no variant; colours: white, navy (did you mean 'navy'?)\n"),
    (["--only", "color=nvy"],  # then close spellings
     "mockups: error: --only color=nvy selects no variant; colours: white, navy (did you mean 'navy'?)\n"),
    (["--only", "sku=tee*"],
     "mockups: error: --only sku=tee* selects no variant; skus: TEE, MUG (did you mean 'TEE'?)\n"),
    (["--only", "sku=TEE,background=wod"],
     "mockups: error: --only sku=TEE,background=wod: background=wod selects no variant; backgrounds: studio, wood "
     "(did you mean 'wood'?)\n"),
    (["--only", "sku=TEE", "--only", "sku=MUGG", "--only", "colour=red,channel=web"],  # each one that selects nothing
     "mockups: error: --only sku=MUGG selects no variant; skus: TEE, MUG (did you mean 'MUG'?)\n"
     "mockups: error: --only colour=red,channel=web: colour=red selects no variant; colours: white, navy\n"),
    (["--only", "sku=MUG,design=logo"],  # each part matches, the combination does not
     "mockups: error: --only sku=MUG,design=logo selects no variant: each of its parts matches some variant, but no "
     "variant matches them all; no variant with sku=MUG has a design\n"),
    (["--shard", "3/5"],
     "mockups: error: --shard 3/5 selects no variant: the catalog's 8 variants are in shards 1, 2, 4, 5 of 5\n"),
    (["--only", "sku=MUG,colour=white", "--shard", "1/2"],
     "mockups: error: --shard 1/2 selects no variant: the 2 variants --only selects are in shard 2 of 2\n"),
    (["--only", "sku=MUG,colour=navy,background=wood", "--shard", "1/4"],
     "mockups: error: --shard 1/4 selects no variant: the one variant --only selects is in shard 4 of 4\n"),
])
def test_a_selection_of_nothing_is_a_usage_error(project, capsys, command, selection, message):
    assert errors(capsys, command, project(), *selection) == message


def test_a_combination_of_nothing_says_what_the_last_key_can_be(project, capsys):
    path = project(MINIMAL + "matrix:\n  exclude:\n    - {product: MUG, colour: navy}\n")
    assert errors(capsys, ["plan"], path, "--only", "sku=MUG,colour=navy") == (
        "mockups: error: --only sku=MUG,colour=navy selects no variant: each of its parts matches some variant, but "
        "no variant matches them all; with sku=MUG, colours: white\n")


def test_no_variant_has_a_design(project, capsys):
    path = project(MINIMAL.replace("    designs: [logo]\n", "").split("designs:\n")[0])
    assert errors(capsys, ["plan"], path, "--only", "design=logo") == (
        "mockups: error: --only design=logo selects no variant; no variant has a design\n")


def test_a_long_list_of_ids_is_cut_short(project, capsys):
    extra = "".join(f'  - {{id: c{i:02}, name: C{i}, hex: "#0000{i:02}"}}\n' for i in range(30))
    path = project(MINIMAL.replace('hex: "#1F2A44"}\n', 'hex: "#1F2A44"}\n' + extra))
    assert errors(capsys, ["plan"], path, "--only", "colour=nvay") == (
        "mockups: error: --only colour=nvay selects no variant; colours: white, navy, "
        + ", ".join(f"c{i:02}" for i in range(18)) + " and 12 more (did you mean 'navy'?)\n")


def test_a_selection_that_selects_something_is_fine(project, capsys):
    path = project()
    assert main(["plan", str(path), "--backend", RECORDING, "--only", "sku=T*", "--only", "sku=MUG,colour=navy",
                 "--shard", "2/2"]) == 0
    assert capsys.readouterr().err == ""


def test_prepare_raises_filter_error(project):
    with pytest.raises(FilterError) as e:
        prepare(project(), BuildOptions(backend=RECORDING, only=["sku=NOPE"]))
    assert str(e.value) == "--only sku=NOPE selects no variant; skus: TEE, MUG"


def test_bundled_catalog_messages(tmp_path):
    """The examples of issue #10, on the repository's own catalog, through the real command line."""
    root = copy_bundled(tmp_path / "shop")
    for args, message in [
        (["--only", "sku=NOPE"],
         "mockups: error: --only sku=NOPE selects no variant; skus: TEE-CLASSIC, HOODIE-PULLOVER, MUG-11OZ, "
         "TOTE-CANVAS\n"),
        (["--only", "colour=Navy"],
         "mockups: error: --only colour=Navy selects no variant; colours: white, black, navy, cherry, heather, forest, "
         "mustard, natural (did you mean 'navy'?)\n"),
        (["--shard", "8/26"],
         "mockups: error: --shard 8/26 selects no variant: the catalog's 70 variants are in shards 1-3, 5-7, 9-26 "
         "of 26\n"),
    ]:
        result = subprocess.run([sys.executable, "-m", "mockups", "plan", str(root / "catalog.yaml"), *args],
                                capture_output=True, text=True, timeout=120)
        assert (result.returncode, result.stdout, result.stderr) == (2, "", message)


# -- a closed pipe: `mockups plan --json | head -1` under `set -o pipefail` ---------------------------------------

@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A catalog whose plan is over 64 KiB (a pipe's buffer) as JSON and as a table: 2,408 variants."""
    from PIL import Image

    from tests.conftest import tiny_logo, tiny_product, write_tree

    extra = "".join(f'  - {{id: c{i:03}, name: C{i}, hex: "#{i:06X}"}}\n' for i in range(600))
    root = write_tree(tmp_path_factory.mktemp("big"), {
        "assets/tee.png": tiny_product(), "assets/mug.png": tiny_product(),
        "assets/wood.png": Image.new("RGB", (160, 120), (150, 110, 70)), "assets/logo.png": tiny_logo(),
        "catalog.yaml": MINIMAL.replace('hex: "#1F2A44"}\n', 'hex: "#1F2A44"}\n' + extra)})
    for args in (["plan", "--json"], ["plan"]):
        with contextlib.redirect_stdout(io.StringIO()) as out:
            assert main([args[0], str(root / "catalog.yaml"), *args[1:]]) == 0
        assert len(out.getvalue()) > 2 ** 17 if "--json" in args else len(out.getvalue()) > 2 ** 16
    return root / "catalog.yaml"


def pipeline(script: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f"set -o pipefail; {script}"], capture_output=True, text=True, timeout=300,
                          cwd=REPO)


@pytest.mark.parametrize("args, first", [("plan --json", "{"), ("plan", "new ")], ids=["json", "table"])
def test_plan_into_head_is_not_an_error(big, args, first):
    result = pipeline(f"{sys.executable} -m mockups {args} {big} | head -1")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(first) and result.stdout.count("\n") == 1


def test_schema_into_a_closed_pipe_is_not_an_error():
    # the schema is smaller than a pipe's buffer: the reader is gone before the first write
    result = pipeline(f"{{ sleep 0.5; {sys.executable} -m mockups schema; }} | true")
    assert (result.returncode, result.stderr) == (0, "")
    result = pipeline(f"{sys.executable} -m mockups schema | head -1")
    assert (result.returncode, result.stdout, result.stderr) == (0, "{\n", "")


def test_check_cut_short_by_a_closed_pipe_still_fails(big):
    """`build --check | head -1`: quiet, but the check did not pass, so the exit code says so."""
    result = pipeline(f"{sys.executable} -m mockups build --check {big} | head -1")
    assert (result.returncode, result.stderr) == (1, "")
    assert result.stdout.startswith("out of date: web/TEE/white--studio.png")


# -- mockups init: a .gitignore for the outputs and the cache ------------------------------------------------------

GITIGNORE = "# mockups: generated images and the cache (`mockups build` makes them again)\nbuild/\n.mockups-cache/\n"


def test_init_writes_a_gitignore(tmp_path, capsys):
    assert main(["init", str(tmp_path / "shop")]) == 0
    assert (tmp_path / "shop/.gitignore").read_text() == GITIGNORE
    assert "wrote 17 files into" in capsys.readouterr().out


@pytest.fixture
def quick_samples(monkeypatch):
    """init without drawing the sample assets (seconds each; test_init_writes_a_gitignore draws them)."""
    def write_samples(folder):
        folder.mkdir()
        (folder / "tee.png").write_bytes(b"")

    monkeypatch.setattr("mockups.starter._init.write_samples", write_samples)


def test_init_adds_to_an_existing_gitignore_what_it_lacks(tmp_path, quick_samples):
    from mockups.starter import write_starter

    (tmp_path / ".gitignore").write_text("*.log\n/build")  # no newline at the end; /build is build/ already
    assert tmp_path / ".gitignore" in write_starter(tmp_path)
    assert (tmp_path / ".gitignore").read_text() == (
        "*.log\n/build\n# mockups: generated images and the cache (`mockups build` makes them again)\n"
        ".mockups-cache/\n")


def test_init_leaves_a_complete_gitignore_alone(tmp_path, quick_samples):
    from mockups.starter import write_starter

    (tmp_path / ".gitignore").write_text(".mockups-cache/\nbuild/\n")
    assert tmp_path / ".gitignore" not in write_starter(tmp_path)
    assert (tmp_path / ".gitignore").read_text() == ".mockups-cache/\nbuild/\n"
