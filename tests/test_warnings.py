"""Warnings that come with outputs reach the person: the CLI, the summary, the manifest, the library.

A real one: the local backend's automatic cut-out of a JPEG with no plain backdrop (random noise,
`photo: cutout`) has low confidence and says so. A test backend returns others, with and without a file name.
"""

from __future__ import annotations

import io
import json
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from mockups import BuildOptions, build, prepare
from mockups.backends.base import Rendered
from mockups.cli import main
from mockups.engine.pipeline import BuildWarning, output_warnings
from tests.backends_for_tests import Recording
from tests.conftest import MINIMAL

CUT_OUT = re.compile(r"^the automatic cut-out has low confidence \(\d\.\d\d\): .+; give the product a `mask:` file "
                     r"\(white = product\)$")
TEE = ["web/TEE/white--studio", "web/TEE/white--wood", "web/TEE/navy--studio", "web/TEE/navy--wood"]


def noise_jpeg() -> bytes:
    """A product photo with no plain backdrop to cut it from."""
    pixels = np.random.default_rng(7).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture
def noisy(project):
    """The minimal project with the tee photographed on noise, said to be a cut-out (else it would be taken
    for a scene): its 4 variants warn, the mug's 4 do not."""
    return project(MINIMAL.replace("image: assets/tee.png", "image: assets/tee.jpg\n    photo: cutout"),
                   files={"assets/tee.jpg": noise_jpeg()})


def cli(capsys, *argv) -> tuple[int, str, list[str]]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, [line for line in err.splitlines() if line.startswith("warning: ")]


def expected_line(message: str, n: int) -> str:
    return f"warning: assets/tee.jpg: {message} ({n} variants)"


def test_a_low_confidence_cut_out_is_printed_once_with_its_file_and_count(noisy, capsys):
    summary = noisy.parent / "summary.md"
    code, out, warned = cli(capsys, "build", str(noisy), "--summary", str(summary), "--no-gallery")
    assert code == 0 and "8 made" in out
    assert len(warned) == 1, warned
    message = warned[0].removeprefix("warning: assets/tee.jpg: ").removesuffix(" (4 variants)")
    assert CUT_OUT.match(message) and warned[0] == expected_line(message, 4)

    text = summary.read_text()
    assert "\n### Warnings\n\n| warning | variants |\n|---|---:|\n" in text
    assert f"| `assets/tee.jpg`: {message} | 4 |" in text.splitlines()

    entries = json.loads((noisy.parent / "build" / "manifest.json").read_text())["variants"]
    assert {vid for vid, e in entries.items() if e["warnings"]} == set(TEE)
    assert all(e["warnings"] == [f"tee.jpg: {message}"] for vid, e in entries.items() if vid in TEE)


def test_outstanding_warnings_are_shown_by_a_no_op_rebuild_and_from_the_cache(noisy, capsys):
    _, _, first = cli(capsys, "build", str(noisy), "--no-gallery")
    code, out, again = cli(capsys, "build", str(noisy), "--no-gallery")
    assert code == 0 and "(8 unchanged, 0 from cache, 0 made" in out
    assert again == first and len(first) == 1
    shutil.rmtree(noisy.parent / "build")  # every output comes back from the cache, with its warnings
    summary = noisy.parent / "summary.md"
    code, out, cached = cli(capsys, "build", str(noisy), "--no-gallery", "--summary", str(summary))
    assert code == 0 and "8 from cache, 0 made" in out
    assert cached == first
    assert "| 4 |" in summary.read_text().split("### Warnings", 1)[1]


def test_the_count_is_of_the_selected_variants(noisy, capsys):
    cli(capsys, "build", str(noisy), "--no-gallery")
    code, _, warned = cli(capsys, "build", str(noisy), "--no-gallery", "--only", "colour=navy")
    assert code == 0 and len(warned) == 1 and warned[0].endswith(" (2 variants)")
    code, _, warned = cli(capsys, "build", str(noisy), "--no-gallery", "--only", "sku=MUG")
    assert code == 0 and warned == []


def test_the_report_carries_the_aggregated_warnings(noisy):
    report = build(noisy, BuildOptions(gallery=False))
    [w] = report.warnings
    assert isinstance(w, BuildWarning) and w.file == "assets/tee.jpg" and CUT_OUT.match(w.message)
    assert sorted(w.variants) == sorted(TEE) and w.count == 4
    assert str(w) == f"assets/tee.jpg: {w.message} (4 variants)"


def test_plan_and_validate_show_the_warnings_of_outputs_already_made(noisy, capsys):
    assert cli(capsys, "plan", str(noisy))[2] == []  # nothing made yet: known once built
    assert output_warnings(prepare(noisy)) == []
    _, _, built = cli(capsys, "build", str(noisy), "--no-gallery")
    assert cli(capsys, "plan", str(noisy))[2] == built
    assert cli(capsys, "validate", str(noisy))[2] == built
    code, out, _ = cli(capsys, "plan", str(noisy), "--json")
    [w] = json.loads(out)["warnings"]
    assert w["file"] == "assets/tee.jpg" and CUT_OUT.match(w["message"]) and sorted(w["variants"]) == sorted(TEE)
    shutil.rmtree(noisy.parent / "build")  # cached, not yet placed: the cache's record says so too
    assert cli(capsys, "plan", str(noisy))[2] == built


def test_a_build_without_warnings_prints_none_and_has_no_section(project, capsys):
    path = project()
    summary = path.parent / "summary.md"
    code, _, warned = cli(capsys, "build", str(path), "--no-gallery", "--summary", str(summary))
    assert code == 0 and warned == [] and "Warnings" not in summary.read_text()


class Warns(Recording):
    """The recording backend, with warnings: one about the tee's photo, one about nothing, a duplicate."""

    name = "warns"

    def render(self, job) -> Rendered:
        rendered = super().render(job)
        if job.variant.product.sku == "TEE":
            rendered.warnings += ["tee.png: too small for this channel", "tee.png: too small for this channel"]
        if job.variant.colour.id == "navy":
            rendered.warnings.append("the model | returned | another size")
        return rendered


def test_distinct_warnings_each_once_with_or_without_a_file(project, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MOCKUPS_TEST_LOG", str(tmp_path / "calls.log"))
    path = project()
    summary = path.parent / "summary.md"
    code, _, warned = cli(capsys, "build", str(path), "--backend", "tests.test_warnings:Warns", "--no-gallery",
                          "--summary", str(summary))
    assert code == 0
    assert warned == ["warning: the model | returned | another size (4 variants)",
                      "warning: assets/tee.png: too small for this channel (4 variants)"]
    text = summary.read_text()
    assert "| the model \\| returned \\| another size | 4 |" in text
    assert "| `assets/tee.png`: too small for this channel | 4 |" in text
    entries = json.loads((path.parent / "build" / "manifest.json").read_text())["variants"]
    assert entries["web/TEE/navy--wood"]["warnings"] == ["tee.png: too small for this channel",
                                                         "tee.png: too small for this channel",
                                                         "the model | returned | another size"]


def test_catalog_warnings_are_in_the_summary_too(project, capsys):
    path = project(MINIMAL.replace('{id: studio, name: Studio, colour: "#EDEDED"}',
                                   '{id: studio, name: Studio, prompt: "a bright studio"}'))
    summary = path.parent / "summary.md"
    code = main(["build", str(path), "--no-gallery", "--summary", str(summary)])
    err = capsys.readouterr().err
    assert code == 0 and "warning: background 'studio' is only a prompt" in err
    rows = summary.read_text().split("### Warnings", 1)[1].splitlines()
    assert any("background 'studio' is only a prompt" in r and r.endswith("| — |") for r in rows)
