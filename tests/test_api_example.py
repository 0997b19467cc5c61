"""The README's "Use it from Python" example runs as written, against a copy of the bundled project."""

from __future__ import annotations

import json
import re
import runpy

from tests.conftest import REPO, copy_bundled

SECTION = "## Use it from Python"


def readme_example() -> str:
    """The first ```python block of the README's "Use it from Python" section."""
    text = (REPO / "README.md").read_text()
    assert SECTION in text, "the README has no 'Use it from Python' section"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    found = re.search(r"^```python\n(.*?)^```$", section, re.DOTALL | re.MULTILINE)
    assert found, "the section has no ```python block"
    return found.group(1)


def test_the_readme_example_runs(tmp_path, monkeypatch, capsys):
    root = copy_bundled(tmp_path / "shop")
    script = tmp_path / "example.py"
    script.write_text(readme_example())
    monkeypatch.chdir(root)  # the example opens "catalog.yaml" from where it runs

    namespace = runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out.splitlines()

    report = namespace["report"]
    ids = [i.job.id for i in report.prepared.plan.items]
    assert ids and all("/MUG-11OZ/white--" in i for i in ids)  # the one product and colour it selects
    assert report.built == len(ids) and not report.failures and report.stop_reason is None
    assert len(out) == 1 + len(ids) + len(ids) + 1 + len(report.warnings), out
    assert out[1:1 + len(ids)] == [f"new      {i}" for i in ids]  # no reasons for a new variant
    assert out[0].startswith("{'unchanged': 0, 'cached': 0, 'new': %d," % len(ids)) and out[0].endswith("$0.00")
    assert out[1 + len(ids):1 + 2 * len(ids)] == [f"made {i.job.variant.output}" for i in report.prepared.plan.items]
    assert out[1 + 2 * len(ids)].startswith(f"{len(ids)} made, 0 failed in ")
    manifest = json.loads((root / "build" / "manifest.json").read_text())["variants"]
    assert sorted(manifest) == sorted(ids) and all(e["status"] == "ok" for e in manifest.values())
    for item in report.prepared.plan.items:
        assert (root / "build" / item.job.variant.output).is_file()
