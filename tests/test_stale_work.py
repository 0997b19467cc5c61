"""A build never keeps or reuses stale work: each test here is a way it once did (a template
reached through a linked folder, a template edited during the build, an output that moved or
failed, an analysis of another version, a photo shared by two products, an overlay of the wrong
photo, a gallery theme's included file, an output edited in place through its hard link)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mockups.cli import commands, main
from mockups.engine import pipeline, planmemo, record
from mockups.engine.pipeline import BuildOptions
from tests.conftest import MINIMAL, tiny_product

RECORDING = "tests.backends_for_tests:Recording"


@pytest.fixture(autouse=True)
def _unverified(monkeypatch):
    monkeypatch.delenv(planmemo.VERIFY, raising=False)


@pytest.fixture
def full(monkeypatch):
    """Counts the builds that took the full path."""
    taken = []
    real = commands.cmd_build
    monkeypatch.setattr(commands, "cmd_build", lambda args: taken.append(args) or real(args))
    return taken


def cli(path, *extra) -> int:
    return main(["build", str(path), "--backend", RECORDING, "--no-gallery", *extra])


def build(path: Path, **options):
    return pipeline.build(path, BuildOptions(backend=RECORDING, gallery=False, inspect=False, **options))


# 1. The no-op record does not watch templates in a symlinked folder of templates/ (the plan memo does).
def test_noop_sees_an_edit_to_a_template_in_a_symlinked_templates_subfolder(project, log, full):
    path = project(catalog=MINIMAL.replace("version: 1\n", "version: 1\ndefaults: {template: mine.j2}\n"),
                   files={"templates/mine.j2": 'A {{ product.name }} {% include "parts/tail.j2" %}',
                          "shared/tail.j2": "in {{ colour.name }}."})
    os.symlink(path.parent / "shared", path.parent / "templates" / "parts")
    assert cli(path) == 0 and len(log()) == 8
    assert cli(path) == 0 and log() == [] and len(full) == 1  # a no-op
    (path.parent / "shared" / "tail.j2").write_text("on {{ background.name }} in {{ colour.name }}.")
    # every prompt changed: the full path (plan memo) sees it...
    p = pipeline.prepare(path, BuildOptions(backend=RECORDING))
    assert len(p.plan.stale) == 8
    # ...but `mockups build` answers from the record: nothing remade, stale images kept
    assert cli(path) == 0
    assert len(full) == 2, "the no-op path vouched for outputs whose prompts changed"
    assert len(log()) == 8


# 2. A variant whose output path changes (channel format png -> jpeg, same id) leaves its old image in build/.
def test_a_changed_output_path_does_not_leave_the_old_image_in_the_build_folder(project, log):
    path = project()
    build(path)
    old = path.parent / "build" / "web" / "TEE" / "navy--wood.png"
    assert old.exists()
    path.write_text(MINIMAL.replace("format: png", "format: jpeg"))
    report = build(path)
    assert report.built == 8
    new = path.parent / "build" / "web" / "TEE" / "navy--wood.jpg"
    assert new.exists()
    entries = json.loads((path.parent / "build" / "manifest.json").read_text())["variants"]
    outputs = {e["output"] for e in entries.values()}
    strays = sorted(p.relative_to(path.parent / "build").as_posix()
                    for p in (path.parent / "build" / "web").rglob("*.*")
                    if p.relative_to(path.parent / "build").as_posix() not in outputs)
    assert strays == [], f"old outputs no variant makes any more are left in build/: {strays}"


# 3. A variant that fails after its inputs changed keeps the previous (stale) image at its output path.
def test_a_failed_variant_does_not_keep_its_previous_image(project, log, monkeypatch):
    path = project()
    build(path)
    out = path.parent / "build" / "web" / "TEE" / "navy--wood.png"
    assert Image.open(out).convert("RGB").getpixel((0, 0)) == (0x1F, 0x2A, 0x44)
    path.write_text(MINIMAL.replace("#1F2A44", "#B22234"))  # navy is now red...
    monkeypatch.setenv("MOCKUPS_TEST_FAIL", "TEE/navy--wood")  # ...and this variant fails
    report = build(path)
    assert [o.job.id for o in report.failures] == ["web/TEE/navy--wood"]
    entry = json.loads((path.parent / "build" / "manifest.json").read_text())["variants"]["web/TEE/navy--wood"]
    assert entry["status"] == "failed" and entry["output"] == "web/TEE/navy--wood.png"
    assert not out.exists(), "build/ still holds the old navy image for a variant that is now red and failed"


# 4. Kept photo analyses and preparations are keyed by Compositor.version only, not by
#    imaging.photo.VERSION, which is what a change to analyse_photo bumps ("it is in job keys").
def test_a_new_photo_analysis_version_is_not_served_the_kept_analyses(tmp_path, monkeypatch):
    from mockups import imaging
    from mockups.backends import kept
    from mockups.backends.local import Compositor
    from tests.test_kept import catalog

    monkeypatch.setattr(kept.AnalysisStore, "min_seconds", 0.0)
    monkeypatch.setattr(kept.PreparedStore, "min_seconds", 0.0)
    project = catalog(tmp_path / "p", ["#1F2A44", "#B22234"])
    first = pipeline.build(project, BuildOptions(jobs=1, gallery=False, inspect=False))
    assert first.built == 4
    keys = {j.id: j.key for j in first.prepared.jobs}

    # analyse_photo changes, and photo.VERSION is bumped as its comment says
    monkeypatch.setattr(imaging.photo, "VERSION", imaging.photo.VERSION + 1)
    analysed, prepared = [], []
    real, real_prepare = kept.imaging.analyse_photo, Compositor._prepare
    monkeypatch.setattr(kept.imaging, "analyse_photo", lambda *a, **k: analysed.append(1) or real(*a, **k))
    monkeypatch.setattr(Compositor, "_prepare", lambda self, job: prepared.append(1) or real_prepare(self, job))
    second = pipeline.build(project, BuildOptions(jobs=1, gallery=False, inspect=False))
    assert second.built == 4 and all(keys[j.id] != j.key for j in second.prepared.jobs)  # new keys: remade...
    assert analysed and prepared, "...from the analyses and preparations the old analysis version made"


# 5. The compositor's in-memory "products" LRU is keyed by product_key (content hashes), not the
#    photo's file name, so a second product with the same bytes under another name gets the first's
#    preparation with warnings naming the first file (the kept store adds the name; the LRU does not).
def test_warnings_of_a_product_name_its_own_photo_when_another_has_the_same_bytes(project):
    noise = np.random.default_rng(7).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise, "RGB").save(buf, "JPEG", quality=90)
    catalog = MINIMAL.replace("image: assets/tee.png", "image: assets/tee.jpg\n    photo: cutout").replace(
        "  - sku: MUG\n    name: Mug\n    image: assets/mug.png\n",
        "  - sku: MUG\n    name: Mug\n    image: assets/other.jpg\n    photo: cutout\n"
        "    print_area: {x: 40, y: 30, width: 48, height: 48}\n    designs: [logo]\n")
    path = project(catalog, files={"assets/tee.jpg": buf.getvalue(), "assets/other.jpg": buf.getvalue()})
    report = pipeline.build(path, BuildOptions(jobs=1, gallery=False, inspect=False))
    entries = json.loads((path.parent / "build" / "manifest.json").read_text())["variants"]
    tee = {w for e in entries.values() if e["sku"] == "TEE" for w in e["warnings"]}
    mug = {w for e in entries.values() if e["sku"] == "MUG" for w in e["warnings"]}
    assert tee and all(w.startswith("tee.jpg: ") for w in tee)
    assert mug and all(w.startswith("other.jpg: ") for w in mug), mug
    files = {w.file for w in report.warnings}
    assert "assets/other.jpg" in files, files


# 6. A template edited while the build runs: save_record hashes the template as it is at the end
#    and records that as what the build was made from (only the catalog and the inputs are
#    compared with what was planned), so the next `mockups build` is a no-op on stale prompts.
def test_a_template_edited_during_the_build_does_not_make_the_next_build_a_no_op(project, log, full):
    path = project(catalog=MINIMAL.replace("version: 1\n", "version: 1\ndefaults: {template: mine.j2}\n"),
                   files={"templates/mine.j2": "A {{ product.name }} in {{ colour.name }}."})
    template = path.parent / "templates" / "mine.j2"
    edited = []

    def on_event(event):
        if not edited and type(event).__name__ == "JobFinished":
            template.write_text("A {{ product.name }}, now in {{ colour.name }}.")  # the user saves an edit
            edited.append(1)

    report = pipeline.build(path, BuildOptions(backend=RECORDING, gallery=False), on_event=on_event)
    assert edited and report.built == 8 and not report.failures
    assert all(", now in" not in j.prompt for j in report.prepared.jobs)  # made from the old template
    log()
    assert cli(path) == 0
    assert len(full) == 1, "the next build answered from a record of a template the outputs were not made from"
    assert len(log()) == 8


# 7. The build's product overlays (pipeline.start_outputs -> inspect.overlay_tasks) are keyed by
#    the input hashes of the product's FIRST job; when that is a placement with its own photo, the
#    overlay of the product's photo is keyed (and its kept analysis looked up) by the other photo's
#    hash: an edit to the product's own photo leaves its overlay stale.
BACK_FIRST = MINIMAL.replace("""\
    print_area: {x: 40, y: 30, width: 48, height: 48}
    designs: [logo]
""", """\
    designs: [logo]
    placements:
      back:
        image: assets/tee-back.png
        print_area: {x: 30, y: 40, width: 60, height: 40}
      front:
        print_area: {x: 40, y: 30, width: 48, height: 48}
""")


def test_the_overlay_of_a_product_follows_its_own_photo_when_a_placement_has_another(project):
    from mockups.catalog import load_catalog
    from mockups.review.inspect import inspect_products

    path = project(BACK_FIRST, files={"assets/tee-back.png": tiny_product(colour=(200, 200, 200))})
    options = BuildOptions(jobs=1, gallery=False, inspect=True)
    pipeline.build(path, options)
    overlay = path.parent / "build" / "inspect" / "TEE.png"
    before = overlay.read_bytes()
    small = Image.new("RGBA", (128, 128), (0, 0, 0, 0))  # the front photo replaced: another silhouette
    small.paste(tiny_product(64, colour=(90, 160, 90)), (32, 32))
    small.save(path.parent / "assets" / "tee.png")
    report = pipeline.build(path, options)
    assert report.built == 4  # the front variants were remade from the new photo...
    # ...but the overlay of that photo was not redrawn
    fresh = path.parent / "fresh"
    (found,) = inspect_products(load_catalog(path), [p for p in load_catalog(path).model.products
                                                      if p.sku == "TEE"], folder=fresh, force=True)
    assert overlay.read_bytes() != before, "build/inspect/TEE.png still shows the old photo"
    assert np.array_equal(np.asarray(Image.open(overlay)), np.asarray(Image.open(found.overlay)))


# 8. The gallery's stamp digests only gallery.html.j2 and gallery-base.html.j2: a project theme
#    whose page includes another template of templates/ keeps a stale page when that one is edited.
def test_the_gallery_is_rewritten_when_a_template_its_page_includes_changes(project):
    page = '{% extends "gallery-base.html.j2" %}{% block title %}{% include "brand.html.j2" %}{% endblock %}'
    path = project(files={"templates/gallery.html.j2": page, "templates/brand.html.j2": "ACME-ONE"})
    options = BuildOptions(backend=RECORDING, gallery=True, inspect=False)
    pipeline.build(path, options)
    index = path.parent / "build" / "gallery" / "index.html"
    assert "ACME-ONE" in index.read_text()
    (path.parent / "templates" / "brand.html.j2").write_text("ACME-TWO")
    pipeline.build(path, options)
    assert "ACME-TWO" in index.read_text(), "the gallery page still shows the old included template"


# 9. Outputs are hard links to the cache's objects (engine.cache.place), so an output edited in
#    place under its old size edits the cache object too; ObjectStore.get checks only the size, so
#    the plan calls the variant `cached` and places the edited bytes back, every build, never remade.
def test_an_output_edited_in_place_under_its_old_size_is_remade_not_placed_back(project, log):
    path = project()
    build(path)
    log()
    out = path.parent / "build" / "web" / "TEE" / "navy--wood.png"
    good = out.read_bytes()
    with open(out, "r+b") as f:  # an in-place edit (a tool that rewrites the file's bytes), same size
        f.seek(len(good) // 2)
        f.write(bytes([good[len(good) // 2] ^ 0xFF]))
    report = build(path)
    item = next(i for i in report.prepared.plan.items if i.job.id == "web/TEE/navy--wood")
    assert item.status == "missing" and report.built == 1  # made again, not placed back
    assert out.read_bytes() == good


# 10. The no-op record watched mockups' own code but not Jinja's or MarkupSafe's, which the plan
#     memo digests (an upgrade may render a prompt otherwise): the full path saw it, a no-op did not.
def test_a_renderer_upgrade_is_no_no_op(project, log, full, tmp_path, monkeypatch):
    package = tmp_path / "site" / "fakerender"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("VERSION = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr(record, "RENDERERS", ("fakerender",))
    path = project()
    assert cli(path) == 0 and len(log()) == 8
    assert cli(path) == 0 and len(full) == 1  # a no-op
    (package / "__init__.py").write_text("VERSION = 2\n")  # upgraded
    assert cli(path) == 0
    assert len(full) == 2  # planned in full
