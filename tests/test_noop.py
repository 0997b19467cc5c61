"""The no-op path: a build whose inputs are unchanged since the last complete build answers from
its record (`mockups.engine.record`) without planning, and any change goes the full, correct way."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from mockups.cli import commands, main
from mockups.engine import record
from tests.backends_for_tests import calls
from tests.conftest import MINIMAL, REPO, tiny_product

RECORDING = "tests.backends_for_tests:Recording"


@pytest.fixture
def full(monkeypatch):
    """Counts the builds that took the full path (the command that plans)."""
    taken = []
    real = commands.cmd_build

    def counted(args):
        taken.append(args)
        return real(args)

    monkeypatch.setattr(commands, "cmd_build", counted)
    return taken


def cli(path, *extra) -> int:
    return main(["build", str(path), "--backend", RECORDING, "--no-gallery", *extra])


def test_an_unchanged_rebuild_plans_nothing_and_says_what_a_full_one_says(project, log, full, capsys):
    path = project()
    assert cli(path) == 0 and len(log()) == 8 and len(full) == 1
    capsys.readouterr()
    (path.parent / ".mockups-cache" / record.NAME).unlink()  # the full path's no-op, for comparison
    assert cli(path, "--summary", str(path.parent / "full.md")) == 0 and len(full) == 2
    slow = capsys.readouterr()
    assert cli(path, "--summary", str(path.parent / "quick.md")) == 0
    quick = capsys.readouterr()
    assert len(full) == 2 and log() == []  # the third build planned nothing and made nothing

    def timeless(text: str) -> str:
        return "\n".join(line.split(" in ")[0] for line in text.splitlines())

    assert "Done: 8 variants (8 unchanged, 0 from cache, 0 made, 0 failed, 0 removed)" in quick.out
    assert timeless(quick.out) == timeless(slow.out) and quick.err == slow.err
    assert timeless((path.parent / "quick.md").read_text()) == timeless((path.parent / "full.md").read_text())


def test_warnings_are_repeated_by_the_no_op(project, capsys):
    """The catalog's warnings and the outputs' (the local backend's low-confidence cut-out of a photo
    on noise), on stderr and in the summary, as the full path's no-op gives them."""
    noise = np.random.default_rng(7).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise, "RGB").save(buf, "JPEG", quality=90)
    path = project(MINIMAL.replace("image: assets/tee.png", "image: assets/tee.jpg\n    photo: cutout")
                   .replace('{id: studio, name: Studio, colour: "#EDEDED"}',
                            '{id: studio, name: Studio, prompt: "a bright studio"}'),
                   files={"assets/tee.jpg": buf.getvalue()})

    def build(summary: str):
        code = main(["build", str(path), "--no-gallery", "--summary", str(path.parent / summary)])
        out, err = capsys.readouterr()
        return code, out.split(" in ")[0], err, (path.parent / summary).read_text().split(" in ", 1)[1][8:]

    assert build("first.md")[0] == 0
    (path.parent / ".mockups-cache" / record.NAME).unlink()
    slow = build("full.md")
    quick = build("quick.md")
    assert quick == slow and slow[0] == 0
    assert "is only a prompt" in slow[2] and "warning: assets/tee.jpg: the automatic cut-out" in slow[2]
    assert "| 4 |" in slow[3] and "| — |" in slow[3]


def test_check_answers_from_the_record(project, log, full, capsys):
    path = project()
    assert cli(path) == 0
    capsys.readouterr()
    assert cli(path, "--check") == 0 and len(full) == 1
    assert capsys.readouterr().out == "all 8 outputs are up to date\n"


def test_a_changed_template_is_planned_in_full(project, log, full):
    path = project(catalog=MINIMAL.replace("version: 1\n", "version: 1\ndefaults: {template: mine.j2}\n"),
                   files={"templates/mine.j2": "A {{ product.name }} in {{ colour.name }}."})
    assert cli(path) == 0 and len(log()) == 8
    assert cli(path) == 0 and log() == [] and len(full) == 1
    (path.parent / "templates" / "mine.j2").write_text("A {{ product.name }}, {{ colour.name }}.")
    assert cli(path) == 0 and len(full) == 2 and len(log()) == 8  # every prompt changed


def test_a_new_template_file_is_planned_in_full(project, log, full):
    """A template added to templates/ may shadow a built-in one: the folder's listing is recorded."""
    path = project(files={"templates/notes.txt": "kept"})
    assert cli(path) == 0 and cli(path) == 0 and len(full) == 1
    (path.parent / "templates" / "extra.j2").write_text("x")
    assert cli(path) == 0 and len(full) == 2


def test_an_image_changed_under_its_old_size_and_mtime_is_rebuilt(project, log, full):
    """`touch -r`, a restore from an archive: size and mtime as before, but the ctime is new. (An
    uncompressed PNG's size depends only on its dimensions, so the new colour keeps the old size.)"""
    path = project(files={"assets/wood.png": b""})
    wood = path.parent / "assets" / "wood.png"
    Image.new("RGB", (160, 120), (150, 110, 70)).save(wood, compress_level=0)
    assert cli(path) == 0 and len(log()) == 8
    st = wood.stat()
    Image.new("RGB", (160, 120), (40, 110, 150)).save(wood, compress_level=0)
    os.utime(wood, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (wood.stat().st_size, wood.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    assert cli(path) == 0 and len(full) == 2
    assert log() == sorted(f"web/{p}/{c}--wood" for p in ("TEE", "MUG") for c in ("white", "navy"))


def test_a_touched_catalog_with_the_same_bytes_is_still_a_no_op(project, log, full):
    path = project()
    assert cli(path) == 0 and len(log()) == 8
    os.utime(path)  # a new mtime, the same bytes (a checkout, an editor that saved without a change)
    path.write_bytes(path.read_bytes())
    assert cli(path) == 0 and len(full) == 1 and log() == []
    assert cli(path) == 0 and len(full) == 1  # the new signature was recorded: not hashed again


@pytest.mark.parametrize("change", ["delete output", "edit output", "other options", "environment", "manifest",
                                    "approvals"])
def test_anything_else_that_changed_goes_the_full_way(project, log, full, monkeypatch, change):
    path = project()
    assert cli(path) == 0 and len(log()) == 8
    output = path.parent / "build" / "web" / "TEE" / "navy--wood.png"
    extra = []
    if change == "delete output":
        output.unlink()
    elif change == "edit output":
        output.write_bytes(output.read_bytes() + b"\0")
    elif change == "other options":
        extra = ["--only", "sku=TEE"]
    elif change == "environment":
        monkeypatch.setenv("MOCKUPS_TEST_GAIN", "2")  # a parameter of the test backend: every key changes
    elif change == "manifest":
        (path.parent / "build" / "manifest.json").write_text("{}")
    elif change == "approvals":  # the gallery shows review states: a new approvals.yaml is a change
        (path.parent / "approvals.yaml").write_text("version: 1\ndecisions: {}\n")
    assert cli(path, *extra) == 0 and len(full) == 2
    made = log()
    # a deleted output comes back from the cache; one edited in place (a hard link to its cache object)
    # is remade, as the cache's copy no longer matches its digest
    assert output.exists()
    expected = {"delete output": [], "edit output": ["web/TEE/navy--wood"],
                "other options": [], "environment": None, "manifest": [], "approvals": []}[change]
    assert made == expected if expected is not None else len(made) == 8
    if change != "other options":
        assert cli(path, *extra) == 0 and len(full) == 2  # and the build after it is a no-op again


def test_a_failed_or_forced_build_leaves_no_record(project, log, full, monkeypatch):
    path = project()
    monkeypatch.setenv("MOCKUPS_TEST_FAIL", "navy--wood")
    assert cli(path) == 1
    assert not (path.parent / ".mockups-cache" / record.NAME).exists()
    assert cli(path) == 1 and len(full) == 2  # failures are retried by every build, never skipped
    monkeypatch.delenv("MOCKUPS_TEST_FAIL")
    assert cli(path) == 0 and cli(path) == 0 and len(full) == 3
    assert cli(path, "--force") == 0 and len(full) == 4
    assert not (path.parent / ".mockups-cache" / record.NAME).exists()


def test_the_record_holds_no_secret(project, log, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-very-secret-key-0123456789")
    path = project()
    assert cli(path) == 0
    text = (path.parent / ".mockups-cache" / record.NAME).read_text()
    assert "very-secret" not in text and ["OPENAI_API_KEY", "set"] in json.loads(text)["env"]


def run_cli(cwd, *args, env=None):
    return subprocess.run([sys.executable, "-c", textwrap.dedent("""\
        import sys
        from mockups.cli import main
        code = main(sys.argv[1:])
        heavy = sorted(m for m in ("mockups.engine.pipeline", "mockups.catalog", "numpy", "jinja2", "pydantic",
                                   "openai") if m in sys.modules)
        print("imported:", ",".join(heavy))
        sys.exit(code)
        """), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120)


def test_a_no_op_imports_nothing_heavy_and_a_changed_backend_version_rebuilds(tmp_path):
    """In a process of its own: the no-op loads neither the catalog schema nor numpy nor Jinja; a
    backend whose installed version changed (its module rewritten) is planned in full and remakes all."""
    (tmp_path / "assets").mkdir()
    tiny_product().save(tmp_path / "assets" / "tee.png")
    (tmp_path / "catalog.yaml").write_text(textwrap.dedent("""\
        version: 1
        channels: [{id: web, size: 32x32, format: png}]
        products: [{sku: TEE, name: Tee, image: assets/tee.png}]
        colours: [{id: white, name: White, hex: "#F4F4F2"}, {id: navy, name: Navy, hex: "#1F2A44"}]
        backgrounds: [{id: studio, name: Studio, colour: "#EDEDED"}]
        """))
    plugin = tmp_path / "plugins" / "myplugin"
    plugin.mkdir(parents=True)
    (plugin / "__init__.py").write_text("")
    source = textwrap.dedent("""\
        from PIL import Image
        from mockups.backends.base import Backend, Rendered

        class Solid(Backend):
            name = "solid"
            version = "{v}"

            def render(self, job):
                open("{log}", "a").write(job.id + "\\n")
                return Rendered(Image.new("RGB", job.variant.channel.size, job.variant.colour.hex))
        """)
    log = tmp_path / "calls.log"
    (plugin / "backend.py").write_text(source.format(v="1", log=log))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(tmp_path / "plugins")])}
    args = ["build", "catalog.yaml", "--backend", "myplugin.backend:Solid"]
    first = run_cli(tmp_path, *args, env=env)
    assert first.returncode == 0, first.stderr
    assert "jinja2" in first.stdout and len(calls(log)) == 2
    second = run_cli(tmp_path, *args, env=env)
    assert second.returncode == 0 and "2 unchanged" in second.stdout
    assert "imported: \n" in second.stdout, second.stdout  # none of the heavy modules
    (plugin / "backend.py").write_text(source.format(v="2", log=log))
    third = run_cli(tmp_path, *args, env=env)
    assert third.returncode == 0 and "2 made" in third.stdout and len(calls(log)) == 4


def test_the_record_signs_every_file_of_the_build_folder_as_os_walk_finds_them(tmp_path):
    build = tmp_path / "build"
    (build / "web" / "TEE").mkdir(parents=True)
    (build / "web" / "TEE" / "a.png").write_bytes(b"a")
    (build / "manifest.json").write_text("{}")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "hidden.png").write_bytes(b"h")
    os.symlink(tmp_path / "elsewhere", build / "linked")  # a linked folder: not entered
    os.symlink(build / "manifest.json", build / "alias.json")  # a linked file: its target's signature
    os.symlink(tmp_path / "gone", build / "dangling")  # nothing to sign
    walked = {}
    for here, _, names in os.walk(build):
        for name in names:
            path = os.path.join(here, name)
            if os.path.exists(path):
                st = os.stat(path)
                walked[os.path.relpath(path, build)] = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
    found = record.signatures(build)
    assert found == walked
    assert sorted(found) == sorted(["alias.json", os.path.join("web", "TEE", "a.png"), "manifest.json"])
    assert found["alias.json"] == found["manifest.json"]
