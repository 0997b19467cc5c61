"""The command line end to end: the bundled catalog, init, validate, plan, schema, help, exit codes."""

from __future__ import annotations

import filecmp
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import mockups
from mockups.catalog.schema import json_schema
from mockups.cli import main, parser
from mockups.starter import STARTER
from tests.conftest import MINIMAL, REPO, copy_bundled

COMMANDS = ["validate", "plan", "build", "gallery", "clean", "schema", "init"]


def run_cli(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mockups", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    """The repository's own catalog, built once from another working directory."""
    root = copy_bundled(tmp_path_factory.mktemp("bundled"))
    result = run_cli("build", str(root / "catalog.yaml"), cwd=tmp_path_factory.mktemp("elsewhere"))
    return root, result


def test_bundled_catalog_builds(bundled):
    root, result = bundled
    assert result.returncode == 0, result.stderr
    manifest = json.loads((root / "build/manifest.json").read_text())["variants"]
    assert len(manifest) == 70
    assert "Done: 70 variants (0 unchanged, 0 from cache, 70 made, 0 failed" in result.stdout
    for entry in manifest.values():
        with Image.open(root / "build" / entry["output"]) as im:
            assert im.size == tuple(entry["size"])
            assert im.format.lower() == {"jpeg": "jpeg"}.get(entry["format"], entry["format"])
    assert (root / "build/gallery/index.html").exists() and (root / "build/index.html").exists()
    assert sorted(p.name for p in (root / "build/grids/shop").iterdir()) == [
        "HOODIE-PULLOVER.jpg", "MUG-11OZ.jpg", "TEE-CLASSIC--back.jpg", "TEE-CLASSIC--front.jpg", "TOTE-CANVAS.jpg"]


def test_bundled_catalog_rebuild_is_a_no_op(bundled):
    root, _ = bundled
    again = run_cli("build", cwd=root)
    assert again.returncode == 0, again.stderr
    assert "70 unchanged, 0 from cache, 0 made" in again.stdout
    check = run_cli("build", "--check", cwd=root)
    assert check.returncode == 0 and "all 70 outputs are up to date" in check.stdout


def test_marketplace_background_is_pure_white(bundled):
    root, _ = bundled
    with Image.open(root / "build/marketplace/TEE-CLASSIC/navy--sweep--front.jpg") as im:
        rgb = im.convert("RGB")
        corners = [rgb.getpixel(p) for p in ((2, 2), (rgb.width - 3, 2), (2, rgb.height - 3))]
    assert all(min(c) >= 252 for c in corners)  # JPEG rounding aside, #FFFFFF


def test_repository_example_is_the_starter_project():
    """`mockups init` writes exactly the repository's catalog, templates, schema and assets."""
    assert (REPO / "catalog.yaml").read_bytes() == (STARTER / "catalog.yaml").read_bytes()
    cmp = filecmp.dircmp(REPO / "templates", STARTER / "templates")
    assert not (cmp.left_only or cmp.right_only or cmp.diff_files)
    assert json.loads((REPO / "catalog.schema.json").read_text()) == json_schema()


def _pixel_difference(a: Path, b: Path) -> tuple[float, int]:
    """(share of channel values that differ by more than 1, largest difference) of two images."""
    with Image.open(a) as x, Image.open(b) as y:
        assert (x.mode, x.size) == (y.mode, y.size), (a.name, x.mode, x.size, y.mode, y.size)
        d = np.abs(np.asarray(x, np.int16) - np.asarray(y, np.int16))
    return float((d > 1).mean()), int(d.max())


def test_sample_assets_are_what_the_generator_makes(tmp_path):
    """The shipped assets are the generator's output, within what library versions change.

    The generator is deterministic for one set of libraries (checked byte for byte below, in the
    same run); across Pillow and numpy releases, float rounding in resampling moves a handful of
    values by one step (Pillow 13 / numpy 2.4: 4 pixels of tee.png by 1). So the shipped files
    must match the fresh output to within 1 step on all but 0.1% of channel values, and never
    by more than 8 (a JPEG block's rounding). A real change to a drawing moves thousands of
    values by far more than that, and fails.
    """
    from mockups.starter.samples import write_samples

    write_samples(tmp_path / "a")
    write_samples(tmp_path / "b")
    names = sorted(p.name for p in (REPO / "assets").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "a").iterdir())
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
        share, worst = _pixel_difference(REPO / "assets" / name, tmp_path / "a" / name)
        assert share < 0.001 and worst <= 8, (name, share, worst)


def test_init_then_validate_and_plan(tmp_path, capsys):
    assert main(["init", str(tmp_path / "shop")]) == 0
    assert main(["validate", str(tmp_path / "shop" / "catalog.yaml")]) == 0
    assert "ok: 4 products, 8 colours, 4 backgrounds, 2 channels -> 70 variants" in capsys.readouterr().out
    assert main(["plan", str(tmp_path / "shop" / "catalog.yaml"), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["counts"]["new"] == 70 and plan["estimated_cost"] == 0
    assert main(["init", str(tmp_path / "shop")]) == 1  # refuses to overwrite
    assert "already has catalog.yaml" in capsys.readouterr().err


def test_invalid_catalog_exit_code_and_stderr(project, capsys):
    path = project(MINIMAL.replace("format: png}", "fromat: png}"))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "catalog.yaml:3:28: channels[0].fromat: unknown key 'fromat' (did you mean 'format'?)" in err
    assert err.rstrip().endswith("1 problem found")


def test_plan_table_says_what_changed(project, capsys):
    path = project()
    assert main(["build", str(path), "--backend", "tests.backends_for_tests:Recording", "--no-gallery"]) == 0
    path.write_text(MINIMAL.replace("#1F2A44", "#223355"))
    capsys.readouterr()
    assert main(["plan", str(path), "--backend", "tests.backends_for_tests:Recording"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^changed +web/TEE/navy--wood +pending \(new\) +\(colour, prompt\)$", out, re.M)
    assert "8 variants: 4 unchanged, 4 changed" in out
    assert "review: 8 pending (new)" in out  # nothing is in approvals.yaml yet


def test_usage_errors_exit_2(project, capsys):
    path = project()
    assert main(["plan", str(path), "--only", "size=big"]) == 2
    assert main(["plan", str(path), "--shard", "3/2"]) == 2
    assert main(["plan", str(path), "--backend", "nope"]) == 2
    assert "unknown backend 'nope'; known backends: local, openai" in capsys.readouterr().err


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as e:
        parser().parse_args([command, "--help"])
    assert e.value.code == 0
    assert "usage: mockups " + command in capsys.readouterr().out


def test_schema_command(tmp_path):
    out = tmp_path / "schema.json"
    assert main(["schema", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["title"] == "mockups catalog"


def test_public_api_is_pinned():
    assert sorted(mockups.__all__) == sorted([
        "Backend", "BackendError", "BudgetExceeded", "BuildError", "BuildEvent", "BuildLocked", "BuildOptions",
        "BuildReport", "BuildWarning", "Catalog", "CatalogError", "FatalBackendError", "FilterError",
        "ImageInputError", "Item", "ItemStatus", "Job", "JobEnded", "JobFailed", "JobFinished", "JobRetrying",
        "JobSkipped", "JobStarted", "MockupsError", "Outcome", "OutcomeStatus", "Plan", "Prepared", "Problem",
        "Rendered", "Selection", "Shard", "TemplateError", "TransientBackendError", "Variant", "build", "expand",
        "get_backend", "json_schema", "load_catalog", "output_warnings", "plan", "prepare", "__version__",
    ])
    for name in mockups.__all__:
        assert hasattr(mockups, name)


@pytest.mark.parametrize("name", [n for n in mockups.__all__ if n != "__version__"])
def test_every_export_is_documented(name):
    """Its own docstring: not inherited, and not the signature a dataclass writes when there is none."""
    doc = getattr(mockups, name).__doc__
    assert doc and doc.strip() and not doc.startswith(f"{name}("), name


WORKFLOWS = ["github-actions.yml", "github-actions-scale.yml"]


@pytest.mark.parametrize("name", WORKFLOWS)
def test_ci_recipe_commands_parse(name):
    """Every `mockups ...` line of the example workflows is accepted by the CLI as written (a
    GitHub expression stands for a shard number, or for the option it may add)."""
    import re
    import shlex

    import yaml

    workflow = yaml.safe_load((REPO / "examples" / name).read_text())
    commands = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            for line in step.get("run", "").splitlines():  # a folded (>) command is one line
                text = " ".join(line.split())
                if text.startswith("mockups "):
                    commands.append(text)
    assert len(commands) >= 4
    for text in commands:
        text = re.sub(r"\$\{\{([^}]*)\}\}", lambda m: "1" if "matrix.shard" in m[1] else
                      " ".join(re.findall(r"'(--[a-z-]+)'", m[1])), text)
        argv = shlex.split(text.replace("$GITHUB_STEP_SUMMARY", "summary.md"))
        parser().parse_args(argv[1:])


@pytest.mark.parametrize("name", WORKFLOWS)
def test_ci_recipe_installs_mockups_from_its_repository(name):
    """mockups is not on PyPI: every job installs it from Git (or the checkout), never `pip install mockups`."""
    import shlex

    import yaml
    from packaging.requirements import Requirement

    workflow = yaml.safe_load((REPO / "examples" / name).read_text())
    installs = 0
    for name, job in workflow["jobs"].items():
        env = {**workflow.get("env", {}), **job.get("env", {})}
        runs = [step for step in job["steps"] if "run" in step]
        assert any("pip install" in step["run"] for step in runs), f"job {name} does not install mockups"
        for step in runs:
            for line in step["run"].splitlines():
                words = shlex.split(line, comments=True)
                if words[:2] != ["pip", "install"]:
                    continue
                for word in words[2:]:
                    for var, value in {**env, **step.get("env", {})}.items():
                        word = word.replace(f"${{{var}}}", value).replace(f"${var}", value)
                    if word.startswith("-"):
                        continue
                    if word == ".":  # the checked-out mockups repository itself
                        installs += 1
                        continue
                    req = Requirement(word)  # a bare `mockups` (or mockups==0.1.0) would come from PyPI
                    if req.name == "mockups":
                        installs += 1
                        assert req.url, f"job {name}: `pip install {word}` installs mockups from PyPI"
                        assert req.url.startswith("git+https://github.com/") and "@v" in req.url.rsplit("/", 1)[-1]
    assert installs == len(workflow["jobs"])  # one install of mockups per job
