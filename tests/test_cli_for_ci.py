"""The command line for CI jobs and interrupted work (found by a review; each test failed before its
fix): stopping promptly, exit codes of bad options,
`clean` beside a running build, what `--check` and `--summary` say."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mockups.backends.base import Rendered
from mockups.cli import main
from mockups.engine.cache import ObjectStore
from mockups.errors import BackendError
from tests.backends_for_tests import Recording, calls
from tests.conftest import MINIMAL
from tests.test_faults import build_env, kill_group, make_project

RECORDING = "tests.backends_for_tests:Recording"
IN_PROCESSES = "tests.backends_for_tests:InProcesses"


class MultiLine(Recording):
    """MUG variants fail with an error whose text runs over several lines (as a library's
    validation error does)."""

    name = "tests.test_cli_for_ci:MultiLine"

    def render(self, job) -> Rendered:
        if "/MUG/" in job.id:
            raise BackendError("the request was refused:\n  field 'image': too small\n  field 'size': unsupported")
        return super().render(job)


def many_colours(n: int) -> str:
    """MINIMAL with only the tee and n colours: 2 * n variants."""
    colours = "".join(f'  - {{id: c{i:03d}, name: C{i:03d}, hex: "#{i:02X}{i:02X}40"}}\n' for i in range(n))
    text = MINIMAL.replace("  - sku: MUG\n    name: Mug\n    image: assets/mug.png\n", "")
    assert "MUG" not in text
    start, end = text.index("colours:\n"), text.index("backgrounds:\n")
    return text[:start] + "colours:\n" + colours + text[end:]


# --- an interrupted build stops -----------------------------------------------------------------------

def test_an_interrupted_build_stops_its_workers_instead_of_finishing_their_chunks(tmp_path):
    """SIGINT to the build process (`kill -INT`, `timeout -s INT`, a CI runner cancelling the step):
    the workers' chunks (up to 48 variants each, two a worker in flight) are made to the end before
    the build exits, and what they made after the interrupt is not in the manifest."""
    root = make_project(tmp_path / "shop")
    log = tmp_path / "calls.log"
    cmd = [sys.executable, "-m", "mockups", "build", "catalog.yaml", "--backend", IN_PROCESSES, "-j", "2",
           "--no-gallery", "--no-inspect"]
    proc = subprocess.Popen(cmd, cwd=root, env=build_env(log, MOCKUPS_TEST_DELAY="1.0"), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while (line := proc.stderr.readline()) and not line.startswith("[1/"):
            pass
        assert line, "the build ended before its first variant"
        proc.send_signal(signal.SIGINT)  # the build process alone
        interrupted = time.monotonic()
        proc.wait(timeout=60)
        took = time.monotonic() - interrupted
    finally:
        kill_group(proc)
        proc.stderr.close()
    assert proc.returncode == 130
    made = calls(log)
    assert len(made) < 16, f"every variant was made after the interrupt ({len(made)} of 16, exit after {took:.1f} s)"
    assert took < 3.0, f"the interrupted build took {took:.1f} s to stop"  # its chunks: 8 s more


# --- options that cannot work are usage errors -------------------------------------------------------

def usage_error(argv: list[str], capsys) -> str:
    """argparse's usage error: exit 2, the option named on stderr."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("option, value", [("-j", "-2"), ("-j", "0"), ("--rpm", "-5"), ("--rpm", "0"),
                                           ("--max-cost", "-1"), ("--retries", "-1")])
def test_a_number_an_option_cannot_take_is_a_usage_error(project, log, capsys, option, value):
    """-j -2 exited 1 with '8 not started', saying nothing of why; --rpm -5 failed every variant
    with 'IndexError: deque index out of range'; --max-cost -1 called $0.00 over budget."""
    path = project()
    err = usage_error(["build", str(path), "--backend", RECORDING, "--no-gallery", option, value], capsys)
    assert "IndexError" not in err and (option in err or option.lstrip("-") in err), err
    assert log() == []


# --- `mockups clean` beside a running build ----------------------------------------------------------

def test_clean_while_a_build_runs_deletes_none_of_its_outputs(tmp_path):
    root = make_project(tmp_path / "shop")
    log = tmp_path / "calls.log"
    env = build_env(log, MOCKUPS_TEST_DELAY="0.4")
    build = subprocess.Popen([sys.executable, "-m", "mockups", "build", "catalog.yaml", "--backend", RECORDING,
                              "-j", "2", "--no-gallery", "--no-inspect"], cwd=root, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(calls(log)) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        clean = subprocess.run([sys.executable, "-m", "mockups", "clean", "catalog.yaml"], cwd=root, env=env,
                               capture_output=True, text=True, timeout=120)
        out, err = build.communicate(timeout=120)
    finally:
        build.kill()
    assert build.returncode == 0, err
    assert "16 made" in out
    # refused while the build holds the lock, or deleting nothing the build made
    assert clean.returncode != 0 or "deleted 0 unused" in clean.stdout, clean.stdout + clean.stderr
    store = ObjectStore(root / ".mockups-cache")
    entries = json.loads((root / "build" / "manifest.json").read_text())["variants"]
    lost = sorted(vid for vid, e in entries.items() if store.get(e["key"], Path(e["output"]).suffix[1:]) is None)
    assert lost == [], f"cache objects of the running build deleted by clean: {lost}"


# --- what --check says ------------------------------------------------------------------------------

def test_check_says_an_output_deleted_from_the_build_folder_is_missing(project, log, capsys):
    path = project()
    assert main(["build", str(path), "--backend", RECORDING, "--no-gallery"]) == 0
    (path.parent / "build/web/TEE/navy--wood.png").unlink()
    capsys.readouterr()
    assert main(["build", str(path), "--backend", RECORDING, "--no-gallery", "--check"]) == 1
    out = capsys.readouterr().out
    line = next(t for t in out.splitlines() if "web/TEE/navy--wood.png" in t)
    # today: "out of date: web/TEE/navy--wood.png (cached: cached)"
    assert "missing" in line, line


# --- the summary and the log --------------------------------------------------------------------------

def section(text: str, title: str) -> list[str]:
    body = text.split(f"### {title}\n", 1)[1].split("\n### ", 1)[0]
    return [line for line in body.splitlines() if line.strip()]


def test_the_summary_says_how_many_changed_variants_it_leaves_out(project, log, monkeypatch):
    path = project(catalog=many_colours(130))  # 260 variants, all new
    summary = path.parent / "summary.md"
    assert main(["build", str(path), "--backend", RECORDING, "--no-gallery", "--no-inspect",
                 "--summary", str(summary)]) == 0
    changed = section(summary.read_text(), "Changed")
    listed = [line for line in changed if line.startswith("- `web/")]
    assert len(listed) < 260
    # today the list stops at 200 with nothing saying that 60 more changed
    assert any(re.search(r"\b60\b", line) for line in changed if line not in listed), changed[-3:]


def test_the_summary_bounds_its_list_of_failures_as_it_does_the_changed_ones(project, log, monkeypatch):
    path = project(catalog=many_colours(130))
    monkeypatch.setenv("MOCKUPS_TEST_FAIL", "web/")  # every variant fails
    summary = path.parent / "summary.md"
    assert main(["build", str(path), "--backend", RECORDING, "--no-gallery", "--no-inspect",
                 "--summary", str(summary)]) == 1
    text = summary.read_text()
    failed = [line for line in section(text, "Failed") if line.startswith("- `web/")]
    changed = [line for line in section(text, "Changed") if line.startswith("- `web/")]
    # a catalog of 10,000 that fails writes 10,000 lines: past the 1 MiB a CI job summary takes
    assert len(failed) <= len(changed) < 260, (len(failed), len(changed))


def test_a_failure_whose_error_runs_over_several_lines_is_one_line_in_the_log_and_the_summary(project, log, capsys):
    path = project()
    summary = path.parent / "summary.md"
    code = main(["build", str(path), "--backend", MultiLine.name, "--no-gallery", "--no-inspect",
                 "--summary", str(summary)])
    assert code == 1
    err = capsys.readouterr().err
    strays = [line for line in err.splitlines() if line.startswith("  field")]
    assert strays == [], err  # a failure's reason continues on lines of their own
    failed = section(summary.read_text(), "Failed")
    assert len(failed) == 4 and all(line.startswith("- `web/MUG/") for line in failed), failed


def test_approvals_without_check_is_a_usage_error(project, log, capsys):
    """`build --approvals` alone built as if it were not given."""
    err = usage_error(["build", str(project()), "--backend", RECORDING, "--approvals"], capsys)
    assert "--approvals goes with --check" in err
    assert log() == []
