"""The plan memo (engine.planmemo) and the manifest writer's reuse of text: a rebuild reuses the
prompts and keys of the variants whose inputs did not change, computes exactly the others, and
writes the manifest from the text of its unchanged entries, byte for byte what a full write gives."""

from __future__ import annotations

import io
import json
import os
import types
from pathlib import Path

import pytest
from PIL import Image

from mockups.catalog import load_catalog
from mockups.engine import manifest, pipeline, planmemo
from mockups.engine.cache import StatCache
from mockups.engine.pipeline import BuildOptions
from mockups.errors import MemoMismatch
from mockups.matrix import expand
from mockups.prompts import PromptRenderer
from tests.backends_for_tests import Recording
from tests.conftest import MINIMAL, copy_bundled, tiny_product

RECORDING = "tests.backends_for_tests:Recording"
NAVY = {f"web/{sku}/navy--{bg}" for sku in ("TEE", "MUG") for bg in ("studio", "wood")}
ALL = NAVY | {i.replace("navy", "white") for i in NAVY}


@pytest.fixture(autouse=True)
def unverified(monkeypatch):
    """The counters are about the memo as a build uses it (a suite run may set MOCKUPS_VERIFY_MEMO)."""
    monkeypatch.delenv(planmemo.VERIFY, raising=False)


def build(path: Path, prepared: pipeline.Prepared | None = None, **options):
    return pipeline.build(path, BuildOptions(backend=RECORDING, gallery=False, inspect=False, **options),
                          prepared=prepared)


def prepare(path: Path) -> pipeline.Prepared:
    return pipeline.prepare(path, BuildOptions(backend=RECORDING))


def in_full(path: Path) -> dict[str, tuple[str, str]]:
    """Each variant's (prompt, key), rendered and hashed with no memo."""
    catalog = load_catalog(path)
    backend = pipeline.make_backend(catalog, RECORDING, path.parent / ".mockups-cache")
    jobs = pipeline.render_jobs(catalog, expand(catalog), backend, StatCache(None))
    return {j.id: (j.prompt, j.key) for j in jobs}


def planned(p: pipeline.Prepared) -> dict[str, tuple[str, str]]:
    return {j.id: (j.prompt, j.key) for j in p.jobs}


def counts(p: pipeline.Prepared) -> tuple[int, int, int, int]:
    m = p.plan_memo
    assert m is not None
    return m.prompts_reused, m.prompts_rendered, m.keys_reused, m.keys_computed


def stale(p: pipeline.Prepared) -> set[str]:
    return {i.job.id for i in p.plan.items if i.stale}


def uncompressed_png(image: Image.Image) -> bytes:
    """An uncompressed PNG's size depends only on its dimensions: a new colour keeps the old size."""
    buf = io.BytesIO()
    image.save(buf, "PNG", compress_level=0)
    return buf.getvalue()


# --- prompts and keys ------------------------------------------------------------------------------

def test_a_colour_edit_replans_that_colours_variants_and_reuses_everything_else(project):
    path = project()
    build(path)
    path.write_text(MINIMAL.replace("#1F2A44", "#223355"))
    p = prepare(path)
    assert {i.job.id: i.status for i in p.plan.items if i.stale} == dict.fromkeys(NAVY, "changed")
    assert counts(p) == (4, 4, 4, 4)  # the white variants' prompts and keys come from the memo
    assert planned(p) == in_full(path)
    assert build(path, prepared=p).built == 4
    again = prepare(path)
    assert counts(again) == (8, 0, 8, 0) and not stale(again)


def test_the_memo_is_what_every_build_leaves_and_a_plan_only_reads(project):
    path = project()
    build(path)
    memo = path.parent / ".mockups-cache" / planmemo.NAME
    doc = json.loads(memo.read_text())
    assert sorted(doc["variants"]) == sorted(ALL)
    path.write_text(MINIMAL.replace("#1F2A44", "#223355"))
    prepare(path)  # `mockups plan`: no side effects
    assert json.loads(memo.read_text()) == doc


def test_a_template_edited_in_place_changes_every_prompt_that_uses_it(project):
    """Its size and mtime as before: only its bytes (and its ctime) tell."""
    path = project(MINIMAL.replace("    name: Mug\n", "    name: Mug\n    template: mug.j2\n"),
                   files={"templates/mug.j2": "A {{ product.name }} mug in {{ colour.name }}, {{ background.name }}."})
    build(path)
    template = path.parent / "templates" / "mug.j2"
    st = template.stat()
    template.write_text("A {{ product.name }} cup in {{ colour.name }}, {{ background.name }}.")
    os.utime(template, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (template.stat().st_size, template.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    p = prepare(path)
    mugs = {j.id: j.prompt for j in p.jobs if j.variant.product.sku == "MUG"}
    assert len(mugs) == 4 and all(prompt.startswith("A Mug cup in ") for prompt in mugs.values())
    assert stale(p) == set(mugs)
    assert planned(p) == in_full(path)


def test_an_input_image_rewritten_under_its_old_size_and_mtime_changes_its_variants_keys(project):
    path = project(files={"assets/tee.png": uncompressed_png(tiny_product())})
    tee = path.parent / "assets" / "tee.png"
    build(path)
    st = tee.stat()
    tee.write_bytes(uncompressed_png(tiny_product(colour=(180, 200, 225))))
    os.utime(tee, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (tee.stat().st_size, tee.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    p = prepare(path)
    tees = {i for i in ALL if "/TEE/" in i}
    assert stale(p) == tees
    assert all(i.reasons == ["product image"] for i in p.plan.items if i.stale)
    assert counts(p) == (8, 0, 4, 4)  # the prompts do not depend on the photo's bytes
    assert planned(p) == in_full(path)


@pytest.mark.parametrize("change", ["version", "params"])
def test_another_backend_version_or_parameter_changes_every_key(project, monkeypatch, change):
    path = project()
    build(path)
    if change == "version":
        monkeypatch.setattr(Recording, "version", "2")
    else:
        monkeypatch.setenv("MOCKUPS_TEST_GAIN", "2")  # a parameter of the test backend
    p = prepare(path)
    assert stale(p) == ALL
    assert counts(p) == (8, 0, 0, 8)
    assert planned(p) == in_full(path)


def another_projects_memo(root: Path) -> bytes:
    """The memo of a project with the same variant ids and other names, colours and photos."""
    root.mkdir()
    for name in ("tee", "mug"):
        tiny_product(colour=(90, 90, 90)).save(root / f"{name}.png")
    text = (MINIMAL.replace("name: Tee", "name: Shirt").replace("name: Mug", "name: Cup")
            .replace("#F4F4F2", "#FFFFFF").replace("#1F2A44", "#000080").replace("assets/", ""))
    (root / "wood.png").write_bytes((root / "tee.png").read_bytes())
    (root / "logo.png").write_bytes((root / "tee.png").read_bytes())
    (root / "catalog.yaml").write_text(text)
    build(root / "catalog.yaml")
    return (root / ".mockups-cache" / planmemo.NAME).read_bytes()


@pytest.mark.parametrize("damage", ["not json", "a list", "another version", "bad entries", "foreign"])
def test_a_damaged_or_foreign_memo_is_ignored(project, tmp_path, damage):
    path = project()
    build(path)
    memo = path.parent / ".mockups-cache" / planmemo.NAME
    doc = json.loads(memo.read_text())
    memo.write_bytes({
        "not json": b'{"version": 1, "variants": {',
        "a list": b"[1, 2]",
        "another version": json.dumps({**doc, "version": 999}).encode(),
        "bad entries": json.dumps({**doc, "variants": {vid: [e[0], None, 7] if i % 2 else "x"
                                                       for i, (vid, e) in enumerate(doc["variants"].items())},
                                   "manifests": ["x"]}).encode(),
        "foreign": another_projects_memo(tmp_path.parent / f"{tmp_path.name}-other"),
    }[damage])
    p = prepare(path)
    assert counts(p) == (0, 8, 0, 8)
    assert planned(p) == in_full(path) and not stale(p)
    build(path, prepared=p)  # and the build writes it anew
    assert counts(prepare(path)) == (8, 0, 8, 0)


def test_the_verification_switch_catches_a_reused_prompt_that_is_not_what_rendering_gives(project, monkeypatch):
    path = project()
    build(path)
    memo = path.parent / ".mockups-cache" / planmemo.NAME
    doc = json.loads(memo.read_text())
    doc["variants"]["web/MUG/white--wood"][1] = "Not the prompt"  # its digest left as it was
    memo.write_text(json.dumps(doc))
    monkeypatch.setenv(planmemo.VERIFY, "1")
    with pytest.raises(MemoMismatch, match="web/MUG/white--wood: the prompt"):
        prepare(path)
    doc["variants"]["web/MUG/white--wood"][1:] = [in_full(path)["web/MUG/white--wood"][0], doc["variants"]
                                                  ["web/MUG/white--wood"][2], "0" * 64]
    memo.write_text(json.dumps(doc))
    with pytest.raises(MemoMismatch, match="web/MUG/white--wood: the key"):
        prepare(path)


def test_the_fast_digest_knows_every_name_of_the_template_context(tmp_path, project):
    """The digest of a prompt's inputs names the context's values one by one: a name added to
    `prompts.context` must be added there too (until then it digests value by value)."""
    seen = []
    for path in (copy_bundled(tmp_path / "bundled") / "catalog.yaml", project()):
        catalog = load_catalog(path)
        renderer = PromptRenderer(catalog)
        for v in expand(catalog):
            assert planmemo._context_shape(v, renderer.data), v.id
            seen.append(v)
    assert any(v.placement for v in seen) and any(v.design is None for v in seen)


def test_the_bundled_project_plans_the_same_keys_with_the_memo_as_without(tmp_path, monkeypatch):
    path = copy_bundled(tmp_path) / "catalog.yaml"
    some = pipeline.prepare(path, BuildOptions(only=["colour=navy"]))
    assert some.plan_memo is not None
    some.plan_memo.save({v.id for v in some.variants})  # as a build of those variants leaves it
    monkeypatch.setenv(planmemo.VERIFY, "1")  # each reused prompt and key checked in full as well
    p = pipeline.prepare(path)
    navy = sum(1 for j in p.jobs if j.variant.colour.id == "navy")
    assert counts(p) == (navy, len(p.jobs) - navy, navy, len(p.jobs) - navy)
    assert any(j.variant.placement for j in p.jobs if j.variant.colour.id == "navy")
    catalog = load_catalog(path)
    backend = pipeline.make_backend(catalog, None, path.parent / ".mockups-cache")
    fresh = pipeline.render_jobs(catalog, expand(catalog), backend, StatCache(None))
    assert planned(p) == {j.id: (j.prompt, j.key) for j in fresh}


# --- the manifest ----------------------------------------------------------------------------------

@pytest.fixture
def dumped(monkeypatch):
    """How many entries each manifest.dumps of a build took from text already made."""
    reused: list[int] = []
    real = manifest.dumps

    def spy(entries, catalog_name, texts=None):
        data = real(entries, catalog_name, texts)
        if texts is not None:  # not the full write MOCKUPS_VERIFY_MEMO compares it with
            reused.append(texts.reused)
        return data

    monkeypatch.setattr(manifest, "dumps", spy)
    return reused


def full_text(build_dir: Path) -> bytes:
    doc = json.loads((build_dir / manifest.NAME).read_text())
    return (json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def test_a_rebuild_writes_the_manifest_from_the_text_of_its_unchanged_entries(project, dumped, monkeypatch):
    path = project()
    build(path)
    path.write_text(MINIMAL.replace("#1F2A44", "#223355").replace("name: Tee", "name: Tée “quoted”"))
    dumped.clear()
    monkeypatch.setenv(planmemo.VERIFY, "1")  # the writer compares its text with a full write too
    build(path)
    assert dumped == [2]  # one save: of the 8 entries, the white mugs' text was copied
    build_dir = path.parent / "build"
    assert (build_dir / manifest.NAME).read_bytes() == full_text(build_dir)
    path.write_text(MINIMAL)
    dumped.clear()
    build(path)
    assert dumped == [2]  # the navy mugs: from the cache, the others' text copied again


@pytest.mark.parametrize("rewrite", [
    lambda doc: json.dumps(doc, indent=4, sort_keys=True),
    lambda doc: json.dumps(doc, indent=2, sort_keys=True) + "\n",  # laid out as a build's, but "\u00e9"
])
def test_a_manifest_not_left_by_a_build_is_written_in_full(project, dumped, rewrite):
    text = MINIMAL.replace("name: Mug", "name: Mug à café")
    path = project(text)
    build(path)
    build_dir = path.parent / "build"
    doc = json.loads((build_dir / manifest.NAME).read_text())
    (build_dir / manifest.NAME).write_text(rewrite(doc))  # by another program
    path.write_text(text.replace("#1F2A44", "#223355"))
    dumped.clear()
    build(path)
    assert dumped == [0]
    assert (build_dir / manifest.NAME).read_bytes() == full_text(build_dir)
    after = json.loads((build_dir / manifest.NAME).read_text())["variants"]
    assert {vid for vid in ALL if after[vid]["key"] != doc["variants"][vid]["key"]} == NAVY


def test_the_text_of_entries_is_found_only_in_a_manifest_laid_out_as_dumps_writes_it():
    entries = {"a/x": {"k": [1, {"z": None}], "s": "é\n\"", "e": {}}, "b/y": {"k": 2}, "c/z": {}}
    text = manifest.dumps(entries, "catalog.yaml").decode()
    loaded = manifest.Loaded(json.loads(text)["variants"], text)
    spans = manifest.Texts(loaded).spans()
    assert [text[a:b] for _, a, b in spans.values()] == [json.dumps(e, indent=2, sort_keys=True, ensure_ascii=False)
                                                         .replace("\n", "\n    ") for e in entries.values()]
    for other in (json.dumps(json.loads(text), indent=4), text.replace('"b/y"', '"b/w"'),
                  text.replace('"c/z": {}\n', '"c/z": {},\n    "d": 1\n')):
        assert manifest.Texts(manifest.Loaded(loaded.entries, other)).spans() == {}
    assert manifest.Texts(manifest.Loaded(dict(reversed(loaded.entries.items())), text)).spans() == {}
    # the layout, not the bytes: whether a text is one dumps wrote is its SHA-256's to tell (see the next test)
    ascii = json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    assert len(manifest.Texts(manifest.Loaded(loaded.entries, ascii)).spans()) == 3
    assert manifest.dumps({**loaded.entries, "b/y": {"k": 3}}, "catalog.yaml", manifest.Texts(loaded)) == \
        manifest.dumps({**entries, "b/y": {"k": 3}}, "catalog.yaml")


def test_a_save_that_writes_nothing_does_not_bring_the_next_one_sooner(tmp_path):
    """The first saves' cadence follows the manifest's size (5 s for 10,000 entries), and only a
    save that wrote something is timed: the one after placing nothing from the cache is not."""
    entries = {f"web/P/{i:05d}": {"id": i} for i in range(10_000)}
    build_dir = tmp_path / "build"
    build_dir.mkdir()
    manifest.save(build_dir, entries, "catalog.yaml")
    plan = pipeline.Plan(items=[], removed=[], previous=entries, loaded=manifest.read(build_dir))
    prepared = types.SimpleNamespace(plan=plan, build_dir=build_dir, plan_memo=None,
                                     catalog=types.SimpleNamespace(file=tmp_path / "catalog.yaml"))
    writer = pipeline.ManifestWriter(prepared)  # type: ignore[arg-type]
    assert writer.every == 5.0
    assert writer.place_cached() == 0
    assert writer.every == 5.0


def test_the_memo_keeps_the_entries_of_variants_a_selection_left_out(project):
    path = project()
    build(path)
    path.write_text(MINIMAL.replace("#1F2A44", "#223355"))
    build(path, only=["sku=MUG"])
    p = prepare(path)
    assert counts(p) == (6, 2, 6, 2)  # the navy tees: the only ones neither build made
    assert planned(p) == in_full(path)


def test_params_of_equal_value_and_other_type_digest_apart(project):
    """True == 1 == 1.0 and 0.0 == -0.0 in Python, not in a key's JSON."""
    catalog = load_catalog(project())
    run = planmemo.PlanMemo(None).run(PromptRenderer(catalog), StatCache(None).hash)
    cases = [{"a": True}, {"a": 1}, {"a": 1.0}, {"a": 0.0}, {"a": -0.0}, {"a": "1"}, {"a": None},
             {"a": [1]}, {"a": (1,)}, {"b": 1, "a": 2}, {"a": 2, "b": 1}]
    for params in cases * 2:
        assert run._params(params) == json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
