"""Logging: the library logs (mockups.<module>) and adds no handler; the CLI's -v and --log-file show it.

A failed variant's traceback, captured where it was raised (a worker process too), goes to the
log; the console keeps its one-line reason. Secrets never reach the log.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from pathlib import Path

import pytest
from PIL import Image

from mockups.cli import main, parser
from tests.backends_for_tests import Recording
from tests.conftest import MINIMAL
from tests.fake_openai import fake_openai  # noqa: F401  (fixture)

RECORDING = "tests.backends_for_tests:Recording"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ", re.MULTILINE)


def _explode_deliberately(job) -> None:
    """A frame the log must show."""
    raise RuntimeError(f"deliberate bug for {job.id}")


class Broken(Recording):
    """MUG variants hit a bug (a plain Python error, not a BackendError); in worker threads."""

    name = "tests.test_logging:Broken"

    def render(self, job):
        if "/MUG/" in job.id:
            _explode_deliberately(job)
        return super().render(job)


class BrokenInProcesses(Broken):
    """The same, in worker processes: the traceback has to come back to the build's process."""

    name = "tests.test_logging:BrokenInProcesses"
    parallelism = "process"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in ("MOCKUPS_TEST_FAIL", "MOCKUPS_TEST_DELAY", "MOCKUPS_TEST_PRICE", "MOCKUPS_TEST_GAIN",
                "MOCKUPS_TEST_LOG"):
        monkeypatch.delenv(var, raising=False)


@pytest.mark.parametrize("backend", [Broken.name, BrokenInProcesses.name])
def test_a_failed_variants_traceback_is_in_the_log_file_not_on_the_console(project, tmp_path, capsys, backend):
    path = project()
    log = tmp_path / "logs" / "build.log"
    log.parent.mkdir()
    code = main(["build", str(path), "--backend", backend, "-j", "2", "--no-gallery", "--log-file", str(log)])
    out, err = capsys.readouterr()
    assert code == 1 and "4 made, 4 failed" in out
    # the console: one line per failure, as before
    assert "failed web/MUG/white--studio: RuntimeError: deliberate bug for web/MUG/white--studio" in err
    assert "Traceback" not in err and "_explode_deliberately" not in err and "ERROR" not in err, err
    text = log.read_text()
    assert re.search(r"^\S+ \S+ ERROR +mockups\.engine\.runner \[\S+\]: web/MUG/white--studio failed: "
                     r"RuntimeError: deliberate bug for web/MUG/white--studio$", text, re.MULTILINE), text[:3000]
    assert text.count("Traceback (most recent call last)") == 4
    block = text[text.index("web/MUG/white--studio failed"):]
    assert re.search(r'File ".*test_logging\.py", line \d+, in _explode_deliberately', block), block[:2000]
    assert 'in render' in block and "raise RuntimeError" in block
    assert TIMESTAMP.search(text) and "DEBUG" in text
    assert all(not isinstance(h, logging.FileHandler) for h in logging.getLogger("mockups").handlers)  # removed


def test_verbose_shows_info_on_stderr_and_twice_debug(project, capsys):
    path = project()
    assert main(["plan", str(path), "--backend", RECORDING]) == 0
    quiet = capsys.readouterr().err
    assert "INFO" not in quiet and "mockups.engine" not in quiet
    assert main(["plan", str(path), "--backend", RECORDING, "-v"]) == 0
    out, err = capsys.readouterr()
    assert "INFO mockups.engine.pipeline: catalog.yaml: 8 variants, 8 selected; backend recording; plan: 8 new" in err
    assert "DEBUG" not in err and "INFO" not in out  # the plan on stdout is untouched
    assert main(["build", str(path), "--backend", RECORDING, "--no-gallery", "-vv"]) == 0
    err = capsys.readouterr().err
    assert "DEBUG mockups.engine.runner: web/TEE/white--studio: made (1 attempt)" in err
    assert "INFO mockups.engine.pipeline: built 8, 0 failed" in err
    assert not TIMESTAMP.search(err)  # timestamps are for the file


def test_a_log_file_that_cannot_be_opened_is_an_error_message(project, tmp_path, capsys):
    path = project()
    assert main(["plan", str(path), "--log-file", str(tmp_path / "no" / "such" / "dir" / "x.log")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mockups: error: No such file or directory: ") and "Traceback" not in err


@pytest.mark.parametrize("command", ["validate", "plan", "build", "gallery", "clean"])
def test_every_command_that_reads_a_catalog_takes_the_logging_options(command, tmp_path):
    args = parser().parse_args([command, "-vv", "--log-file", str(tmp_path / "x.log")])
    assert args.verbose == 2 and args.log_file == str(tmp_path / "x.log")


def test_shared_options_are_defined_once():
    source = (Path(__file__).resolve().parent.parent / "mockups" / "cli" / "_main.py").read_text()
    for option in ("--build-dir", "--cache-dir", "--only", "--shard", "--log-file", "--verbose", "catalog"):
        assert len(re.findall(rf'add_argument\((?:"-\w", )?"{option}"', source)) == 1, option


def test_the_library_adds_no_handler_but_a_null_one():
    import mockups  # noqa: F401

    handlers = logging.getLogger("mockups").handlers
    assert [type(h) for h in handlers] == [logging.NullHandler]


def test_a_broken_icc_profile_is_logged_not_dropped_silently(tmp_path, caplog):
    from mockups.imaging import open_image

    source = tmp_path / "broken-icc.png"
    Image.new("RGB", (8, 8), (10, 20, 30)).save(source, icc_profile=b"not a profile at all")
    with caplog.at_level(logging.WARNING, logger="mockups"):
        image = open_image(source)
    assert image.size == (8, 8)
    assert any(r.name == "mockups.imaging._io" and "ICC profile not applied" in r.getMessage() for r in caplog.records)


def test_the_api_key_never_reaches_the_log(project, tmp_path, capsys, fake_openai, monkeypatch):  # noqa: F811
    from mockups.backends.openai import models as openai_models
    from tests.fake_openai import Reply

    monkeypatch.setattr(openai_models, "today", lambda: date(2026, 12, 1))  # the suite's pinned date
    key = fake_openai.api_key
    assert key and len(key) > 20
    opts = (f"    model: gpt-image-2\n    quality: low\n    size: 256x256\n    base_url: '{fake_openai.base_url}'\n"
            "    timeout: 20\n")
    path = project(catalog=MINIMAL.replace("version: 1\n", f"version: 1\ndefaults:\n  openai:\n{opts}"))
    fake_openai.policy = lambda n, r: Reply.rate_limited(retry_after=0.01) if n == 1 else (
        Reply.moderation("input", ["violence"]) if "Mug in Navy" in r.fields.get("prompt", "") else None)
    log = tmp_path / "openai.log"
    code = main(["build", str(path), "--backend", "openai", "-vv", "--log-file", str(log), "-j", "2"])
    out, err = capsys.readouterr()
    assert code == 1, out + err
    text = log.read_text()
    assert "failed: " in text and "Traceback (most recent call last)" in text and "retrying in" in text
    assert key not in text and key not in err and key not in out
    assert key[-12:] not in text  # not even a part of it
