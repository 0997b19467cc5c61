"""Faults during a build: killed at any moment, a full disk, two builds at once, a crashing backend.

A build runs for an hour against a rate-limited API and can be killed at any moment. These tests
kill real `mockups build` processes (the local compositor, small channels) at seeded points and
check that the next build finishes with byte-identical outputs, repeats no finished render, and
that nothing anyone can read (an output, the manifest, a cache object) is ever torn.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from PIL import Image

import mockups.engine.cache
from mockups.backends.local import LocalBackend
from mockups.cli import main
from tests.backends_for_tests import Recording, calls, log_call
from tests.conftest import MINIMAL, REPO, record, tiny_logo, tiny_product, write_tree

KILL_POINTS = int(os.environ.get("MOCKUPS_KILL_POINTS", "5"))  # benchmarks/soak.py raises it
COUNTING = "tests.test_faults:CountingLocal"
RECORDING = "tests.backends_for_tests:Recording"
IMAGE_SUFFIXES = {".png", ".jpg", ".webp"}
# Files that legitimately differ between two builds of the same catalog: build times, and the
# gallery's page, its stamp and its before/after history (they depend on what each build found changed).
NOT_COMPARED = ("manifest.json", "gallery/index.html", "gallery/changes.json", "gallery/previous/", "gallery/.stamp")


def compared(name: str) -> bool:
    return not name.startswith(NOT_COMPARED)


# --- backends loaded by import path in the build subprocesses ---------------------------------------

class CountingLocal(LocalBackend):
    """The real compositor; every render is logged to $MOCKUPS_TEST_LOG so repeats can be counted."""

    name = COUNTING

    def render(self, job):
        log_call(job.id)
        return super().render(job)


class Buggy(Recording):
    """A backend with a bug: MUG variants raise a plain Python error (not a BackendError)."""

    name = "tests.test_faults:Buggy"

    def render(self, job):
        if "/MUG/" in job.id:
            log_call(job.id)
            raise RuntimeError("bug in the backend")
        return super().render(job)


# --- helpers ---------------------------------------------------------------------------------------

KILL_CATALOG = MINIMAL.replace("96x96, format: png}", "160x160, format: png}").replace(
    '  - {id: navy, name: Navy, hex: "#1F2A44"}\n',
    '  - {id: navy, name: Navy, hex: "#1F2A44"}\n  - {id: red, name: Red, hex: "#B22234"}\n'
    '  - {id: olive, name: Olive, hex: "#6B7A3A"}\n')  # 2 products x 4 colours x 2 backgrounds = 16 variants


def make_project(root: Path, catalog: str = KILL_CATALOG) -> Path:
    write_tree(root, {"assets/tee.png": tiny_product(), "assets/mug.png": tiny_product(colour=(240, 240, 240)),
                      "assets/wood.png": Image.new("RGB", (160, 120), (150, 110, 70)), "assets/logo.png": tiny_logo(),
                      "catalog.yaml": catalog})
    return root


def build_env(log: Path, **extra: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO), MOCKUPS_TEST_LOG=str(log), **extra)
    for var in ("MOCKUPS_TEST_FAIL", "MOCKUPS_TEST_DELAY", "MOCKUPS_TEST_PRICE", "MOCKUPS_TEST_GAIN"):
        env.pop(var, None)
    env.update(extra)
    return env


def build_cmd(backend: str = COUNTING, *extra: str) -> list[str]:
    return [sys.executable, "-m", "mockups", "build", "catalog.yaml", "--backend", backend, "-j", "2", *extra]


def run_build(root: Path, log: Path, backend: str = COUNTING) -> subprocess.CompletedProcess:
    return subprocess.run(build_cmd(backend), cwd=root, env=build_env(log), capture_output=True, text=True,
                          timeout=300)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def is_temporary(path: Path) -> bool:
    return path.name.startswith(".") and path.suffix in (".tmp", ".link")


def outputs(root: Path) -> dict[str, str]:
    """sha256 of every file a build wrote under build/ (images, grids, thumbnails, theme files)."""
    build = root / "build"
    return {str(p.relative_to(build)): sha256(p) for p in sorted(build.rglob("*"))
            if p.is_file() and not is_temporary(p) and compared(str(p.relative_to(build)))}


def manifest_entries(root: Path) -> dict:
    variants = json.loads((root / "build" / "manifest.json").read_text())["variants"]
    return {vid: {k: v for k, v in entry.items() if k != "built_at"} for vid, entry in variants.items()}


def finished_keys(root: Path) -> set[str]:
    """Cache objects whose record (written last) is there: work that must never be done again."""
    return {p.name[:-5] for p in (root / ".mockups-cache" / "objects").glob("*/*.json")}


def assert_nothing_torn(root: Path) -> list[Path]:
    """Every file anyone reads is whole: images decode, JSON parses, cache objects match their record.

    Returns the hidden temporary files a killed writer left behind (never read by anything).
    """
    leftovers = []
    for folder in (root / "build", root / ".mockups-cache"):
        for p in folder.rglob("*") if folder.exists() else []:
            if not p.is_file():
                continue
            if is_temporary(p):
                leftovers.append(p)
            elif p.suffix in IMAGE_SUFFIXES:
                with Image.open(p) as im:
                    im.load()
            elif p.suffix == ".json":
                json.loads(p.read_text())
    for meta_file in (root / ".mockups-cache" / "objects").glob("*/*.json"):
        meta = json.loads(meta_file.read_text())
        obj = next(p for p in meta_file.parent.glob(meta_file.name[:-5] + ".*")
                   if p.suffix in IMAGE_SUFFIXES and ".thumb." not in p.name and not is_temporary(p))
        assert obj.stat().st_size == meta["bytes"] and sha256(obj) == meta["sha256"], obj
    return leftovers


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the build and its worker processes at once (as a cancelled CI job or the OOM killer of a cgroup)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def kill_at(root: Path, log: Path, after_lines: int, delay: float) -> int:
    """Start a build, let `after_lines` progress lines appear, wait `delay` s, SIGKILL it; return its exit code."""
    proc = subprocess.Popen(build_cmd(), cwd=root, env=build_env(log), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        seen = 0
        while seen < after_lines:
            line = proc.stderr.readline()
            if not line:
                break
            seen += line.startswith("[")
        time.sleep(delay)
    finally:
        kill_group(proc)
        proc.stderr.close()
    return proc.returncode


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted build in another folder: its outputs, manifest and the variant of each cache key."""
    root = make_project(tmp_path_factory.mktemp("reference"))
    result = run_build(root, root.parent / "reference-calls.log")
    assert result.returncode == 0, result.stderr
    entries = manifest_entries(root)
    return {"outputs": outputs(root), "manifest": entries, "variant_of": {e["key"]: v for v, e in entries.items()}}


# --- killed at any moment ------------------------------------------------------------------------------

def kill_and_resume(root: Path, reference: dict, rng: random.Random, kills: int) -> dict:
    """Kill `kills` builds in a row at random points, then build to the end; check everything on the way."""
    stats = {"kills": 0, "killed mid-build": 0, "leftover temporaries": 0}
    for n in range(kills + 1):
        before = {reference["variant_of"][k] for k in finished_keys(root)}
        log = root.parent / f"{root.name}-calls-{n}.log"
        if n < kills:
            code = kill_at(root, log, after_lines=rng.randint(0, 17), delay=rng.choice([0, 0, rng.uniform(0, 0.15)]))
            stats["kills"] += 1
            stats["killed mid-build"] += code == -signal.SIGKILL
        else:
            result = run_build(root, log)
            assert result.returncode == 0, result.stderr
        made = calls(log)
        assert not set(made) & before, f"finished work repeated: {sorted(set(made) & before)}"
        assert len(made) == len(set(made)), "a variant was rendered twice in one build"
        stats["leftover temporaries"] = len(assert_nothing_torn(root))
    assert outputs(root) == reference["outputs"]
    assert manifest_entries(root) == reference["manifest"]
    return stats


def test_killed_builds_resume_to_byte_identical_outputs(tmp_path, reference):
    rng = random.Random(20240611)
    totals: dict[str, int] = {}
    for i in range(KILL_POINTS):
        stats = kill_and_resume(make_project(tmp_path / f"run{i}"), reference, rng, kills=1 + (i % 3 == 2))
        for k, v in stats.items():
            totals[k] = totals.get(k, 0) + v
    assert totals["killed mid-build"] >= KILL_POINTS // 2, totals  # most kills landed inside a build
    record("kill points", totals["kills"])
    record("kills mid-build", totals["killed mid-build"])
    record("leftover temporary files", totals["leftover temporaries"])


# A build that kills itself (SIGKILL) half-way through writing its N-th file: every write is a kill point.
DIE_AT_WRITE = """
import os, signal, sys
import mockups.engine.cache
from mockups.cli import main

die_at, writes = int(sys.argv[1]), 0


class HalfWritten:
    def __init__(self, f):
        self.f = f
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        self.f.close()
    def fileno(self):
        return self.f.fileno()
    def write(self, data):
        self.f.write(data[: len(data) // 2])
        self.f.flush()
        os.kill(os.getpid(), signal.SIGKILL)


class Os:
    def __getattr__(self, name):
        return getattr(os, name)
    def fdopen(self, fd, *args, **kwargs):
        global writes
        writes += 1
        f = os.fdopen(fd, *args, **kwargs)
        return HalfWritten(f) if writes == die_at else f


mockups.engine.cache.os = Os()
code = main(sys.argv[2:])
print(f"writes: {writes}", file=sys.stderr)
sys.exit(code)
"""


def die_at_write(root: Path, log: Path, n: int) -> subprocess.CompletedProcess:
    """A local build (-j 1: one process, so every write is counted) SIGKILLed in the middle of write n (0: none)."""
    return subprocess.run([sys.executable, "-c", DIE_AT_WRITE, str(n), "build", "catalog.yaml", "--backend", COUNTING,
                           "-j", "1"], cwd=root, env=build_env(log), capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def writes_in_a_build(tmp_path_factory) -> int:
    root = make_project(tmp_path_factory.mktemp("count-writes"))
    result = die_at_write(root, root.parent / "count-writes.log", 0)
    assert result.returncode == 0, result.stderr
    return int(result.stderr.rsplit("writes: ", 1)[1])


def write_points(total: int) -> list[int]:
    """Every write in the soak; a spread sample by default (first object, record, mid-run, manifest, gallery)."""
    if KILL_POINTS >= 20:
        return list(range(1, total + 1))
    return sorted({1, 3, total // 2, total - 5, total})


def test_builds_killed_in_the_middle_of_a_write_resume_to_byte_identical_outputs(tmp_path, reference,
                                                                                   writes_in_a_build):
    points = write_points(writes_in_a_build)
    for n in points:
        root = make_project(tmp_path / f"die-at-{n}")
        killed = die_at_write(root, root.parent / f"die-at-{n}.log", n)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert_nothing_torn(root)
        finished = {reference["variant_of"][k] for k in finished_keys(root)}
        result = run_build(root, root.parent / f"resume-{n}.log")
        assert result.returncode == 0, result.stderr
        made = calls(root.parent / f"resume-{n}.log")
        assert not set(made) & finished
        assert outputs(root) == reference["outputs"], f"write {n}"
        assert manifest_entries(root) == reference["manifest"], f"write {n}"
        shutil.rmtree(root)
    record("kill points", len(points))
    record("kills mid-build", len(points))


def test_a_resumed_build_clears_what_the_killed_one_left_half_written(tmp_path):
    """Needs the fix in build.py: call cache.remove_temporaries() under the lock after an unclean stop."""
    root = make_project(tmp_path / "shop")
    assert die_at_write(root, tmp_path / "calls.log", 1).returncode == -signal.SIGKILL
    assert assert_nothing_torn(root) != []  # the half-written object
    assert run_build(root, tmp_path / "calls.log").returncode == 0
    assert assert_nothing_torn(root) == []


def test_a_killed_build_leaves_no_worker_processes_behind(tmp_path):
    """Needs the fix in runner.py: worker processes outlive a SIGKILLed build and keep writing, unlocked."""
    root = make_project(tmp_path / "shop")
    proc = subprocess.Popen(build_cmd(), cwd=root, env=build_env(tmp_path / "calls.log"), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while (line := proc.stderr.readline()) and not line.startswith("[1/"):
            pass
        assert line, "the build ended before its first variant"
        proc.kill()  # the build process alone, as `kill -9 <pid>` would
        proc.wait()
        deadline = time.monotonic() + 5
        while (alive := _group_alive(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert alive == [], f"worker processes still running after the build was killed: {alive}"
    finally:
        kill_group(proc)


def _group_alive(pgid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(status.parent.name))
    return found


# --- one build at a time ----------------------------------------------------------------------------------

def test_a_second_concurrent_build_is_refused_not_interleaved(tmp_path):
    root = make_project(tmp_path / "shop", MINIMAL)
    log = tmp_path / "calls.log"
    env = build_env(log, MOCKUPS_TEST_DELAY="0.8")
    procs = [subprocess.Popen(build_cmd(RECORDING, "--no-gallery"), cwd=root, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = sorted((p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs)
    (ok, out, _), (refused, _, err) = results
    assert (ok, refused) == (0, 1)
    assert "Done: 8 variants (0 unchanged, 0 from cache, 8 made, 0 failed, 0 removed)" in out
    assert err == (f"mockups: another mockups build is running on this project (lock: "
                   f"{root / '.mockups-cache' / 'build.lock'}); wait for it to finish\n")
    assert sorted(calls(log)) == sorted(set(calls(log))) and len(calls(log)) == 8


def test_a_build_that_waited_for_the_lock_does_not_redo_the_finished_work(tmp_path, monkeypatch):
    """Needs the fix in runner.py/build.py: the plan is made before the lock is taken, so a build that
    was planned while another ran repeats every call the other one already paid for."""
    from mockups import BuildOptions, build, prepare

    root = make_project(tmp_path / "shop", MINIMAL)
    log = tmp_path / "calls.log"
    monkeypatch.setenv("MOCKUPS_TEST_LOG", str(log))
    options = BuildOptions(backend=RECORDING, gallery=False)
    planned_early = prepare(root / "catalog.yaml", options)  # the second build plans ...
    build(root / "catalog.yaml", options)  # ... while the first one runs to the end
    log.unlink()
    build(root / "catalog.yaml", options, prepared=planned_early)
    assert calls(log) == []


# --- a full disk ------------------------------------------------------------------------------------------

class FullDisk:
    """Stands in for `os` inside mockups.engine.cache: from the (after+1)-th file write on, writes fail half-way
    with ENOSPC, as on a disk that has just filled up."""

    def __init__(self, after: int | None):
        self.after, self.writes = after, 0

    def __getattr__(self, name):
        return getattr(os, name)

    def fdopen(self, fd, *args, **kwargs):
        f = os.fdopen(fd, *args, **kwargs)
        self.writes += 1
        return f if self.after is None or self.writes <= self.after else _HalfWritten(f)


class _HalfWritten:
    def __init__(self, f):
        self.f = f

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def write(self, data: bytes) -> int:
        self.f.write(data[: len(data) // 2])
        self.f.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fileno(self) -> int:
        return self.f.fileno()


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def files(root: Path) -> dict[str, bytes]:
    build = root / "build"
    return {str(p.relative_to(build)): p.read_bytes() for p in build.rglob("*") if p.is_file() and not is_temporary(p)}


@pytest.fixture
def thread_runner(monkeypatch):
    """A fresh `mockups` process has not imported concurrent.futures.process; runner.py refers to it as
    cf.process and so crashes a worker thread on any non-backend error (test_a_backend_bug_fails_only_its_
    variants pins that). The disk-full tests are about the cache, so they make sure it is importable."""
    import concurrent.futures
    import concurrent.futures.process

    monkeypatch.setattr(concurrent.futures, "process", concurrent.futures.process, raising=False)


def prepare_disk_full(tmp_path: Path, monkeypatch, backend: str) -> tuple[Path, dict, dict, int]:
    """A project built once (v1) and its catalog changed (v2: navy's hex); v1's files, v2's reference
    files (an undisturbed rebuild in another folder) and how many files that rebuild writes."""
    monkeypatch.setenv("MOCKUPS_TEST_LOG", str(tmp_path / "calls.log"))
    for var in ("MOCKUPS_TEST_FAIL", "MOCKUPS_TEST_DELAY"):
        monkeypatch.delenv(var, raising=False)
    base = make_project(tmp_path / "v1", MINIMAL)
    assert cli("build", str(base / "catalog.yaml"), "--backend", backend, "-j", "1")[0] == 0
    (base / "catalog.yaml").write_text(MINIMAL.replace("#1F2A44", "#28365A"))
    ref = tmp_path / "v2"
    shutil.copytree(base, ref, symlinks=True)
    counter = FullDisk(None)
    monkeypatch.setattr(mockups.engine.cache, "os", counter)
    assert cli("build", str(ref / "catalog.yaml"), "--backend", backend, "-j", "1")[0] == 0
    monkeypatch.setattr(mockups.engine.cache, "os", os)
    return base, files(base), files(ref), counter.writes


@pytest.fixture
def disk_full_project(tmp_path, monkeypatch, thread_runner):
    return prepare_disk_full(tmp_path, monkeypatch, RECORDING)


def fill_the_disk_at_every_write(tmp_path: Path, monkeypatch, backend: str, prepared) -> int:
    """For every file the rebuild writes: fail that write and all after it with ENOSPC, then free the disk.

    The failed build exits 1 with a one-line message; every file it leaves is the old or the new
    version, never a part; the next build completes with the reference outputs."""
    base, before, after, writes = prepared
    assert writes >= 15  # objects, thumbnails, records, manifest, stat cache, grids, gallery
    for n in range(writes):
        root = tmp_path / f"full-after-{n}"
        shutil.copytree(base, root, symlinks=True)
        monkeypatch.setattr(mockups.engine.cache, "os", FullDisk(n))
        code, _, err = cli("build", str(root / "catalog.yaml"), "--backend", backend, "-j", "1")
        monkeypatch.setattr(mockups.engine.cache, "os", os)
        assert code == 1, err
        assert "Traceback" not in err, err
        assert err.splitlines()[-1].startswith(f"mockups: no space left on the device for {root}"), err
        assert err.splitlines()[-1].endswith("(No space left on device); the previous outputs are kept: free some "
                                             "space and run the build again"), err
        for name, content in files(root).items():
            if compared(name):
                assert content in (before.get(name), after.get(name)), f"write {n}: {name} is neither old nor new"
        json.loads((root / "build" / "manifest.json").read_text())
        assert_nothing_torn(root)
        assert cli("build", str(root / "catalog.yaml"), "--backend", backend, "-j", "1")[0] == 0
        assert {k: v for k, v in files(root).items() if compared(k)} == \
               {k: v for k, v in after.items() if compared(k)}, f"write {n}: the next build did not recover"
        shutil.rmtree(root)
    return writes


def test_a_full_disk_is_reported_clearly_and_keeps_every_previous_output(tmp_path, monkeypatch, disk_full_project):
    record("disk-full faults", fill_the_disk_at_every_write(tmp_path, monkeypatch, RECORDING, disk_full_project))


@pytest.mark.soak
def test_soak_a_full_disk_with_the_local_compositor(tmp_path, monkeypatch, thread_runner):
    prepared = prepare_disk_full(tmp_path, monkeypatch, "local")
    record("disk-full faults", fill_the_disk_at_every_write(tmp_path, monkeypatch, "local", prepared))


def test_a_full_disk_stops_the_build_instead_of_paying_for_more_calls(tmp_path, monkeypatch, disk_full_project):
    """Needs the fix in runner.py: a BuildError (the disk is full) must stop the run like a fatal error."""
    base, *_ = disk_full_project
    log = tmp_path / "calls.log"
    log.unlink(missing_ok=True)
    monkeypatch.setattr(mockups.engine.cache, "os", FullDisk(0))
    code, _, err = cli("build", str(base / "catalog.yaml"), "--backend", RECORDING, "-j", "1")
    assert code == 1
    assert len(calls(log)) == 1, f"{len(calls(log))} backend calls after the disk filled up"


def test_a_summary_on_a_full_disk_is_an_error_message_not_a_traceback(tmp_path, monkeypatch, thread_runner):
    """Needs the fix in cli.py: an OSError while writing the summary (here: /dev/full) escapes main()."""
    monkeypatch.setenv("MOCKUPS_TEST_LOG", str(tmp_path / "calls.log"))
    root = make_project(tmp_path / "shop", MINIMAL)
    code, _, err = cli("build", str(root / "catalog.yaml"), "--backend", RECORDING, "--summary", "/dev/full")
    assert code == 1
    assert err.splitlines()[-1] == "mockups: error: No space left on device"


# --- a backend bug fails its variants, not the build ---------------------------------------------------------

def test_a_backend_bug_fails_only_its_variants(tmp_path):
    """Needs the fix in runner.py: `except cf.process.BrokenProcessPool` raises AttributeError in a process
    that never imported concurrent.futures.process, so the worker thread dies and its variants vanish."""
    root = make_project(tmp_path / "shop", MINIMAL)
    result = subprocess.run(build_cmd("tests.test_faults:Buggy", "--no-gallery"), cwd=root,
                            env=build_env(tmp_path / "calls.log"), capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "Exception in thread" not in result.stderr, result.stderr
    assert "Done: 8 variants (0 unchanged, 0 from cache, 4 made, 4 failed, 0 removed)" in result.stdout
    entries = json.loads((root / "build" / "manifest.json").read_text())["variants"]
    assert {v: e["error"] for v, e in entries.items() if e["status"] == "failed"} == {
        v: "RuntimeError: bug in the backend" for v in entries if "/MUG/" in v}
