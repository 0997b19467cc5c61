"""The build engine: invalidation, zero-call rebuilds, failures, retries, budget, check, shards, crash resume."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time

import filelock
import pytest
from PIL import Image

from mockups import BudgetExceeded, BuildLocked, BuildOptions, build, prepare
from mockups.cli import main
from mockups.imaging import read_metadata
from tests.backends_for_tests import calls
from tests.conftest import MINIMAL, REPO

RECORDING = "tests.backends_for_tests:Recording"


def run(path, **options):
    return build(path, BuildOptions(backend=options.pop("backend", RECORDING), gallery=False, **options))


ALL = sorted(["web/TEE/white--studio", "web/TEE/white--wood", "web/TEE/navy--studio", "web/TEE/navy--wood",
              "web/MUG/white--studio", "web/MUG/white--wood", "web/MUG/navy--studio", "web/MUG/navy--wood"])


def snapshot(folder) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_ino)
            for p in folder.rglob("*") if p.is_file()}


def test_unchanged_rebuild_calls_nothing_and_writes_nothing(project, log):
    path = project()
    first = run(path)
    assert log() == ALL and first.built == 8
    before = snapshot(path.parent / "build")
    second = run(path)
    assert log() == [] and second.built == 0
    assert second.prepared.plan.counts()["unchanged"] == 8
    after = snapshot(path.parent / "build")
    # outputs, grids, manifest and gallery untouched: a build that changes nothing keeps the gallery's
    # marks of the last build that changed something
    assert after == before
    run(path)
    assert log() == [] and snapshot(path.parent / "build") == after


def test_colour_hex_change_rebuilds_exactly_its_variants(project, log):
    path = project()
    run(path)
    log()
    path.write_text(MINIMAL.replace("#1F2A44", "#223355"))
    report = run(path)
    assert log() == [i for i in ALL if "/navy--" in i]
    reasons = {i.job.id: i.reasons for i in report.prepared.plan.items if i.status == "changed"}
    assert reasons["web/TEE/navy--wood"] == ["colour", "prompt"]  # the prompt names the hex


def test_template_edit_rebuilds_exactly_the_variants_rendered_from_it(project, log):
    text = MINIMAL.replace("name: Mug\n", "name: Mug\n    template: mug.j2\n")
    path = project(text, files={"templates/mug.j2": "A mug in {{ colour.name }}"})
    run(path)
    log()
    (path.parent / "templates/mug.j2").write_text("A ceramic mug in {{ colour.name }}")
    report = run(path)
    assert log() == [i for i in ALL if "/MUG/" in i]
    assert {tuple(i.reasons) for i in report.prepared.plan.items if i.status == "changed"} == {("prompt",)}


def test_asset_change_and_touch(project, log):
    path = project()
    run(path)
    log()
    wood = path.parent / "assets/wood.png"
    os.utime(wood, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))  # touched, same bytes
    assert run(path).built == 0 and log() == []
    Image.new("RGB", (160, 120), (90, 60, 40)).save(wood)
    report = run(path)
    assert log() == [i for i in ALL if i.endswith("--wood")]
    assert {tuple(i.reasons) for i in report.prepared.plan.items if i.status == "changed"} == {("background image",)}


def test_backend_option_change_rebuilds(project, log, monkeypatch):
    path = project()
    run(path)
    log()
    monkeypatch.setenv("MOCKUPS_TEST_GAIN", "2")
    assert run(path).built == 8 and log() == ALL


def test_outputs_come_back_from_the_cache_without_calls(project, log):
    path = project()
    run(path)
    log()
    import shutil

    shutil.rmtree(path.parent / "build")
    report = run(path)
    assert log() == [] and report.placed == 8
    assert (path.parent / "build/web/TEE/navy--wood.png").exists()


def test_manifest_entries_and_embedded_metadata(project, log):
    path = project()
    run(path)
    manifest = json.loads((path.parent / "build/manifest.json").read_text())
    entry = manifest["variants"]["web/TEE/navy--wood"]
    assert entry["sku"] == "TEE" and entry["colour_hex"] == "#1F2A44" and entry["status"] == "ok"
    assert entry["output"] == "web/TEE/navy--wood.png" and entry["model"] == "test-model"
    assert set(entry["inputs"]) == {"product", "design", "background"}
    assert list(manifest["variants"]) == sorted(manifest["variants"])
    meta = read_metadata((path.parent / "build" / entry["output"]).read_bytes())
    assert meta["sku"] == "TEE" and meta["colour"] == "Navy (#1F2A44)" and meta["background"] == "Wood"
    assert meta["prompt"] == entry["prompt"] and meta["backend"] == "recording"


def test_failure_is_isolated_and_retried_next_time(project, log, monkeypatch):
    path = project()
    monkeypatch.setenv("MOCKUPS_TEST_FAIL", "navy--wood")
    report = run(path)
    assert sorted(o.job.id for o in report.failures) == ["web/MUG/navy--wood", "web/TEE/navy--wood"]
    assert report.built == 6
    entry = json.loads((path.parent / "build/manifest.json").read_text())["variants"]["web/TEE/navy--wood"]
    assert entry["status"] == "failed" and "refused by the test backend" in entry["error"]
    log()
    monkeypatch.delenv("MOCKUPS_TEST_FAIL")
    report = run(path)
    assert log() == ["web/MUG/navy--wood", "web/TEE/navy--wood"]
    assert {i.status for i in report.prepared.plan.items if i.stale} == {"failed"}


def test_fail_fast_stops_launching(project, log, monkeypatch):
    path = project()
    monkeypatch.setenv("MOCKUPS_TEST_FAIL", "TEE/white--studio")
    report = run(path, jobs=1, fail_fast=True)
    assert len(log()) == 1 and report.stop_reason.startswith("--fail-fast")


def test_transient_errors_are_retried(project, log, monkeypatch):
    path = project()
    monkeypatch.setenv("MOCKUPS_TEST_FLAKES", "2")
    report = run(path, backend="tests.backends_for_tests:Flaky", retries=3)
    assert report.built == 8 and not report.failures
    assert log() == sorted(ALL * 3)  # two refusals and one success each
    path.write_text(MINIMAL.replace("#1F2A44", "#223355"))
    report = run(path, backend="tests.backends_for_tests:Flaky", retries=1)
    assert len(report.failures) == 4
    assert "gave up after 2 attempts" in report.failures[0].error


def test_budget_refuses_to_start_and_stops_when_spent(project, log, monkeypatch):
    path = project()
    monkeypatch.setenv("MOCKUPS_TEST_PRICE", "0.5")
    with pytest.raises(BudgetExceeded) as e:
        run(path, max_cost=1.0)
    assert "estimated cost $4.00 is over --max-cost $1.00" in str(e.value)
    assert log() == []


def test_spend_stops_new_jobs(project, log, monkeypatch):
    from mockups.engine.cache import ObjectStore
    from mockups.engine.runner import Runner, RunOptions
    from tests.backends_for_tests import Recording

    path = project()
    prepared = prepare(path, BuildOptions(backend=RECORDING))
    monkeypatch.setenv("MOCKUPS_TEST_PRICE", "0.5")
    runner = Runner(Recording(), ObjectStore(path.parent / "cache"), RunOptions(concurrency=1, max_cost=1.0))
    outcomes = runner.run(prepared.jobs)
    assert sum(o.ok for o in outcomes) == 2 and runner.spent == 1.0
    assert runner.stop_reason == "budget of $1.00 reached (spent $1.00)"


def test_rate_limiter_never_exceeds_its_window():
    from mockups.engine.runner import RateLimiter

    now = [0.0]
    starts = []
    limiter = RateLimiter(5, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    for _ in range(23):
        limiter.acquire()
        starts.append(now[0])
    for t in starts:  # no 60 s window holds more than 5 starts
        assert sum(1 for s in starts if t <= s < t + 60) <= 5
    assert starts[-1] >= 4 * 60  # 23 starts at 5/min need four full windows
    limiter.pause(30)
    before = now[0]
    limiter.acquire()
    assert now[0] - before >= 30  # a pause (after a 429) holds every worker


def test_check_mode_exit_codes_and_no_calls(project, log, capsys):
    path = project()
    assert main(["build", str(path), "--check", "--backend", RECORDING]) == 1  # nothing built yet
    run(path)
    log()
    assert main(["build", str(path), "--check", "--backend", RECORDING]) == 0
    path.write_text(MINIMAL.replace("#1F2A44", "#223355"))
    summary = path.parent / "summary.md"
    assert main(["build", str(path), "--check", "--backend", RECORDING, "--summary", str(summary)]) == 1
    out = capsys.readouterr().out
    assert "out of date: web/TEE/navy--wood.png (changed: colour, prompt)" in out
    assert "4 of 8 outputs are out of date" in out
    assert "web/TEE/navy--wood.png" in summary.read_text()
    assert log() == []


def test_shards_build_everything_once(project, log):
    path = project()
    for k in (1, 2, 3):
        run(path, shard=f"{k}/3")
    made = log()
    assert made == ALL  # every variant exactly once across the shards
    manifest = json.loads((path.parent / "build/manifest.json").read_text())
    assert sorted(manifest["variants"]) == ALL
    assert run(path).built == 0 and log() == []


def test_removed_variants_are_deleted(project, log):
    path = project()
    run(path)
    text = MINIMAL.replace("name: Mug\n", "name: Mug\n    colours: [white]\n")
    path.write_text(text)
    report = run(path)
    assert report.prepared.plan.removed == ["web/MUG/navy--studio", "web/MUG/navy--wood"]
    assert not (path.parent / "build/web/MUG/navy--wood.png").exists()
    assert "web/MUG/navy--wood" not in json.loads((path.parent / "build/manifest.json").read_text())["variants"]


def test_concurrent_build_is_refused(project, log):
    path = project()
    (path.parent / ".mockups-cache").mkdir()
    with filelock.FileLock(str(path.parent / ".mockups-cache" / "build.lock")):
        with pytest.raises(BuildLocked) as e:
            run(path)
    assert "another mockups build is running" in str(e.value)


def test_cli_summary_and_exit_code_on_failure(project, log, monkeypatch, capsys):
    path = project()
    monkeypatch.setenv("MOCKUPS_TEST_FAIL", "MUG/white--studio")
    summary = path.parent / "summary.md"
    code = main(["build", str(path), "--backend", RECORDING, "--summary", str(summary), "--no-gallery"])
    assert code == 1
    text = summary.read_text()
    assert "1 failed" in text and "`web/MUG/white--studio`: refused by the test backend" in text
    assert "Done: 8 variants" in capsys.readouterr().out


def test_clean_prunes_unreferenced_objects(project, log, capsys):
    path = project()
    run(path)
    path.write_text(MINIMAL.replace("#1F2A44", "#223355"))
    run(path)
    assert main(["clean", str(path)]) == 0
    assert "deleted 4 unused cache objects" in capsys.readouterr().out
    log()
    assert run(path).built == 0


def test_kill_mid_build_then_resume(project, tmp_path):
    """SIGKILL a build; the next one finishes the rest, repeats nothing, and no file is torn."""
    path = project()
    log = tmp_path / "kill-calls.log"
    env = dict(os.environ, MOCKUPS_TEST_LOG=str(log), MOCKUPS_TEST_DELAY="0.4", PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "mockups", "build", str(path), "--backend", RECORDING, "-j", "2", "--no-gallery"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while len(calls(log)) < 4 and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = calls(log)
    store = path.parent / ".mockups-cache" / "objects"
    finished = {json.loads(p.read_text())["sha256"] for p in store.glob("*/*.json")}
    assert 0 < len(finished) < 8
    log.unlink()
    env["MOCKUPS_TEST_DELAY"] = "0"
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    second = calls(log)
    assert len(second) == 8 - len(finished)  # finished work is not repeated
    assert set(first) | set(second) == set(ALL)
    manifest = json.loads((path.parent / "build/manifest.json").read_text())
    assert sorted(manifest["variants"]) == ALL
    for entry in manifest["variants"].values():
        with Image.open(path.parent / "build" / entry["output"]) as im:
            im.load()  # every output decodes whole
    assert not list((path.parent / "build").rglob("*.tmp"))


def test_the_product_left_over_is_shared_by_the_workers(project):
    """3 products on 2 workers: two go whole (each prepared by one worker), the third in looks."""
    from mockups.engine.runner import chunks

    path = project(MINIMAL.replace("  - sku: MUG\n", "  - sku: CUP\n    name: Cup\n    image: assets/cup.png\n"
                                   "  - sku: MUG\n"), files={"assets/cup.png": Image.new("RGBA", (64, 64), "white")})
    jobs = prepare(path, BuildOptions(backend=RECORDING)).jobs
    groups = [(sorted({j.variant.product.sku for j in g}), len(g)) for g in chunks(jobs, 2)]
    assert groups[:2] == [(["TEE"], 4), (["CUP"], 4)]
    assert groups[2:] == [(["MUG"], 2), (["MUG"], 2)]  # one look per colour (white, navy), 2 backgrounds each
    assert [len(g) for g in chunks(jobs, 3)] == [4, 4, 4]  # they divide evenly: whole products


def test_the_manifest_text_is_exactly_what_json_writes():
    from mockups.engine import manifest

    entries = {"b/x": {"size": [96, 96], "cost": 0.0125, "usage": None, "ok": True, "warnings": [],
                       "parts": {"é \"q\"\n": "1"}, "inputs": {}, "big": 10 ** 30, "neg": -0.0, "nan": float("nan"),
                       "nested": [[1, {"z": 2, "a": [None, False]}], []], "text": "tab\tand \u2028 and \x01"},
               "a/y": {"id": "a/y"}}
    doc = {"version": manifest.VERSION, "catalog": "catalog.yaml", "variants": dict(sorted(entries.items()))}
    assert manifest.dumps(entries, "catalog.yaml") == \
        (json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


@pytest.mark.parametrize("where", ["start", "draw"])
def test_a_build_whose_sheets_cannot_be_drawn_still_saves_what_it_made(project, log, monkeypatch, where):
    # the sheets are drawn in threads beside the runner and while the manifest and the caches are
    # saved: a drawing thread that cannot start, or a sheet that raises, must not lose the manifest,
    # the memos or the stat cache (nor stop the runner)
    from concurrent.futures import ThreadPoolExecutor

    from mockups.review import grid

    path = project()
    if where == "start":
        real_submit = ThreadPoolExecutor.submit

        def no_thread(self, *a, **k):
            if self._thread_name_prefix.startswith("mockups-draw"):
                raise RuntimeError("can't start new thread")
            return real_submit(self, *a, **k)

        monkeypatch.setattr(ThreadPoolExecutor, "submit", no_thread)
    else:
        monkeypatch.setattr(grid, "draw_sheet", lambda *a, **k: 1 / 0)
    with pytest.raises(RuntimeError if where == "start" else ZeroDivisionError):
        run(path)
    assert log() == ALL
    entries = json.loads((path.parent / "build" / "manifest.json").read_text())["variants"]
    assert sorted(entries) == ALL and all(e["status"] == "ok" for e in entries.values())
    cache = path.parent / ".mockups-cache"
    stat = json.loads((cache / "stat.json").read_text())
    assert any(k.endswith(entries[ALL[0]]["output"]) for k in stat)  # the outputs' hashes, kept
    assert not (cache / "last-build.json").exists()  # nothing vouches for the unfinished build
    monkeypatch.undo()
    again = run(path)
    assert log() == [] and again.built == 0  # nothing made twice
    assert (path.parent / "build" / "grids").is_dir() and (cache / "last-build.json").exists()


def test_the_build_hears_of_each_variant_when_it_is_made_not_when_its_chunk_ends(project, log, tmp_path, monkeypatch):
    # a chunk (here a product's four variants) reports when it ends; the variants it has finished
    # are found in the store meanwhile. The workers make their second variant only once the build
    # has heard of a first one: reported a chunk at a time, they would wait for ever (10 s, then fail).
    from mockups.engine.events import JobFinished

    gate = tmp_path / "gate"
    monkeypatch.setenv("MOCKUPS_TEST_GATE", str(gate))
    heard = []

    def on_event(event):
        if isinstance(event, JobFinished):
            heard.append(event.job.id)
            gate.touch()

    path = project()
    report = build(path, BuildOptions(backend="tests.backends_for_tests:Gated", gallery=False, jobs=2),
                   on_event=on_event)
    assert not report.failures and report.built == 8
    assert sorted(heard) == ALL and len(set(heard)) == 8  # each once
    entries = json.loads((path.parent / "build" / "manifest.json").read_text())["variants"]
    assert all(entries[v]["status"] == "ok" for v in ALL)


def test_a_failed_variant_does_not_hold_back_the_rest_of_its_chunk(project, log, tmp_path, monkeypatch):
    # each product's chunk: white--studio, white--wood (fails), navy--studio, navy--wood; navy--wood
    # is made only once the build has heard of a navy--studio, which the look past the failure finds
    from mockups.engine.events import JobFinished

    gate, second = tmp_path / "gate", tmp_path / "second"
    monkeypatch.setenv("MOCKUPS_TEST_GATE", str(gate))
    monkeypatch.setenv("MOCKUPS_TEST_GATE2", str(second))
    monkeypatch.setenv("MOCKUPS_TEST_GATE2_FOR", "navy--wood")
    monkeypatch.setenv("MOCKUPS_TEST_FAIL", "white--wood")

    def on_event(event):
        if isinstance(event, JobFinished):
            gate.touch()
            if event.job.id.endswith("navy--studio"):
                second.touch()

    report = build(project(), BuildOptions(backend="tests.backends_for_tests:Gated", gallery=False, jobs=2),
                   on_event=on_event)
    assert sorted(o.job.id for o in report.failures) == ["web/MUG/white--wood", "web/TEE/white--wood"]
    assert "refused by the test backend" in report.failures[0].error
    assert report.built == 6


def _sheet_bytes(root) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "build" / "grids" / "web").glob("*.jpg"))}


def test_a_products_sheet_is_drawn_as_soon_as_its_variants_are_made(project, log, tmp_path, monkeypatch):
    # one worker makes TEE, the other MUG; MUG's variants are made only once TEE's contact sheet
    # is on disk: drawn after the run, as before, they would wait for ever (10 s, then fail)
    path = project()
    monkeypatch.setenv("MOCKUPS_TEST_GATE", str(path))  # there already: only the second gate holds
    monkeypatch.setenv("MOCKUPS_TEST_GATE2", str(path.parent / "build" / "grids" / "web" / "TEE.jpg"))
    monkeypatch.setenv("MOCKUPS_TEST_GATE2_FOR", "web/MUG/")
    report = build(path, BuildOptions(backend="tests.backends_for_tests:Gated", gallery=False, jobs=2))
    assert not report.failures and report.built == 8
    early = _sheet_bytes(path.parent)
    assert sorted(early) == ["MUG.jpg", "TEE.jpg"]
    assert sorted(p.name for p in (path.parent / "build" / "inspect").glob("*.png")) == ["MUG.png", "TEE.png"]

    for sheet in (path.parent / "build" / "grids" / "web").glob("*.jpg"):
        sheet.unlink()
    monkeypatch.delenv("MOCKUPS_TEST_GATE2_FOR")
    again = build(path, BuildOptions(backend="tests.backends_for_tests:Gated", gallery=False, jobs=2))
    assert again.built == 0
    assert _sheet_bytes(path.parent) == early  # what the finished manifest draws, byte for byte


def test_no_drawing_thread_runs_while_the_workers_are_forked(project, log, monkeypatch):
    # MUG has nothing to make, so its sheet and overlay could be drawn at once; but a fork copies
    # the locks a drawing thread holds (an import's: a CI run hung so), so they wait for the workers
    import threading
    from concurrent.futures import ProcessPoolExecutor

    path = project()
    run(path, backend="tests.backends_for_tests:InProcesses", jobs=2)
    for sheet in (path.parent / "build" / "grids" / "web").glob("*.jpg"):
        sheet.unlink()  # every product's sheet to draw again
    path.write_text(MINIMAL.replace("{x: 40, y: 30, width: 48, height: 48}", "{x: 36, y: 30, width: 52, height: 48}"))
    alive: list[list[str]] = []
    real_submit = ProcessPoolExecutor.submit

    def submit(self, *a, **k):
        alive.append([t.name for t in threading.enumerate() if t.name.startswith("mockups-draw")])
        return real_submit(self, *a, **k)

    monkeypatch.setattr(ProcessPoolExecutor, "submit", submit)
    report = run(path, backend="tests.backends_for_tests:InProcesses", jobs=2)
    assert report.built == 4 and {i.job.variant.product.sku for i in report.prepared.plan.stale} == {"TEE"}
    assert alive and alive[0] == []  # the workers were forked before any drawing started
    assert sorted(_sheet_bytes(path.parent)) == ["MUG.jpg", "TEE.jpg"]


def test_a_sheet_drawn_during_the_run_leaves_out_the_variants_the_build_removes(project, log, monkeypatch):
    # navy leaves the catalog and white changes: TEE's sheet is drawn once its white variants are
    # made, while the manifest still holds the navy ones, which the build removes only afterwards
    from mockups.review.grid import HEAD_H, MIN_CELL, PAD

    path = project()
    run(path, backend="tests.backends_for_tests:InProcesses", jobs=2)
    text = path.read_text().replace('  - {id: navy, name: Navy, hex: "#1F2A44"}\n', "").replace("#F4F4F2", "#F0F0EE")
    assert text != path.read_text()
    path.write_text(text)
    report = run(path, backend="tests.backends_for_tests:InProcesses", jobs=2)
    assert report.built == 4 and len(report.prepared.plan.removed) == 4
    pitch = -(-(MIN_CELL + PAD) // 8) * 8
    for name, data in _sheet_bytes(path.parent).items():
        with Image.open(io.BytesIO(data)) as sheet:
            assert sheet.height == HEAD_H + pitch, name  # one colour's row
    drawn = _sheet_bytes(path.parent)
    for sheet in (path.parent / "build" / "grids" / "web").glob("*.jpg"):
        sheet.unlink()
    run(path, backend="tests.backends_for_tests:InProcesses", jobs=2)
    assert _sheet_bytes(path.parent) == drawn


def test_with_force_the_build_does_not_take_the_outputs_already_stored_for_new_ones(project, log, monkeypatch):
    # --force makes again outputs the store holds: those must not count as made before they are
    from mockups.engine import runner

    looks = []
    real = runner.Runner._found_in_store
    monkeypatch.setattr(runner.Runner, "_found_in_store", lambda self, *a: looks.append(1) or real(self, *a))
    path = project()
    options = dict(backend="tests.backends_for_tests:InProcesses", gallery=False, jobs=2)
    build(path, BuildOptions(**options))
    assert looks  # a plain build looks
    looks.clear()
    report = build(path, BuildOptions(force=True, **options))
    assert report.built == 8 and not looks


def test_the_overlays_are_drawn_in_the_build_process_never_in_a_fork(project, log, tmp_path, monkeypatch):
    # an overlay runs OpenCV; a fork copies OpenCV's thread-pool locks as they are, and with -j 1 the
    # variants were made by threads of this very process a moment before: a child could wait for ever
    from mockups.review import inspect

    drawn = tmp_path / "drawn"
    real = inspect.inspect_product

    def noted(*a, **k):
        with open(drawn, "a") as f:
            f.write(f"{os.getpid()}\n")
        return real(*a, **k)

    monkeypatch.setattr(inspect, "inspect_product", noted)
    run(project(), jobs=1)
    assert drawn.read_text().split() == [str(os.getpid())] * 2  # TEE and MUG, here
