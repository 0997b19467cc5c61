"""The review loop's files and commands: approvals.yaml keyed by content, approve / reject / plan /
build --check --approvals / publish, and the merge of a file of decisions exported by the gallery."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from mockups.cli import _review, main
from mockups.review import approvals
from tests.conftest import MINIMAL

RECORDING = "tests.backends_for_tests:Recording"
NAVY = ["web/TEE/navy--studio", "web/TEE/navy--wood", "web/MUG/navy--studio", "web/MUG/navy--wood"]
ALL = sorted(NAVY + ["web/TEE/white--studio", "web/TEE/white--wood", "web/MUG/white--studio", "web/MUG/white--wood"])


@pytest.fixture
def site(project, monkeypatch, tmp_path):
    """The minimal project, built; a fixed clock and reviewer."""
    monkeypatch.setitem(_review.CLOCK, "now", lambda: datetime(2031, 5, 6, 7, 8, 9, tzinfo=timezone.utc))
    monkeypatch.setenv("MOCKUPS_TEST_LOG", str(tmp_path.parent / f"{tmp_path.name}-calls.log"))
    path = project()
    assert cli("build", path) == 0
    return path


def cli(command: str, path, *extra) -> int:
    args = [command, str(path), "--backend", RECORDING]
    if command == "build":
        args.append("--no-gallery")
    return main(args + list(extra))


def decisions(path) -> dict[str, approvals.Decision]:
    return approvals.load(path.parent / approvals.NAME)


def test_approve_writes_one_sorted_line_per_variant_with_who_and_when(site, capsys):
    assert cli("approve", site, "--by", "Ana <ana@example.com>", "--note", "first look") == 0
    out = capsys.readouterr().out
    assert out == f"approved 8 variants as Ana <ana@example.com> in {site.parent / 'approvals.yaml'}\n"
    text = (site.parent / "approvals.yaml").read_text()
    lines = [line for line in text.splitlines() if line.startswith("  ")]
    assert [json.loads(line.split(": {", 1)[0]) for line in lines] == ALL  # sorted, one per line
    manifest = json.loads((site.parent / "build" / "manifest.json").read_text())["variants"]
    found = decisions(site)
    assert {vid: d.sha256 for vid, d in found.items()} == {vid: e["sha256"] for vid, e in manifest.items()}
    assert {(d.state, d.by, d.at, d.note) for d in found.values()} == \
        {("approved", "Ana <ana@example.com>", "2031-05-06T07:08:09Z", "first look")}
    assert cli("approve", site, "--by", "Ana") == 0
    assert capsys.readouterr().out.splitlines()[1:] == ["nothing is pending review"]


def test_a_changed_hex_reopens_exactly_its_variants_and_reverting_restores_them(site, capsys):
    assert cli("approve", site, "--by", "Ana") == 0
    assert cli("build", site, "--check", "--approvals") == 0
    capsys.readouterr()
    site.write_text(MINIMAL.replace("#1F2A44", "#22304F"))
    assert cli("build", site) == 0
    capsys.readouterr()
    assert cli("build", site, "--check", "--approvals", "--summary", str(site.parent / "review.md")) == 1
    out = capsys.readouterr().out.splitlines()
    summary = (site.parent / "review.md").read_text()
    assert "### Review: 4 of 8 not approved" in summary and "- `web/TEE/navy--wood`" in summary
    assert out[0] == "all 8 outputs are up to date"
    assert out[1] == "4 changed since approved: colour:"  # grouped by what changed, with the new value
    assert sorted(line.strip() for line in out[2:6]) == sorted(NAVY)
    assert out[6].startswith("4 of 8 outputs are not approved; review them in the gallery")
    capsys.readouterr()
    assert cli("plan", site) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {vid: line for vid in ALL for line in lines if f" {vid}" in line}
    assert all("pending (changed)" in rows[vid] for vid in NAVY)
    assert all(" approved " in rows[vid] for vid in ALL if vid not in NAVY)
    site.write_text(MINIMAL)  # back: the approved outputs come back from the cache, approved again
    assert cli("build", site) == 0 and cli("build", site, "--check", "--approvals") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "all 8 outputs are approved"


def test_reject_needs_a_selection_and_a_note_and_is_listed_by_check(site, capsys):
    assert cli("reject", site) == 2
    assert "reject needs --only (which variants) and --note (why)" in capsys.readouterr().err
    assert cli("approve", site, "--by", "Ana") == 0
    assert cli("reject", site, "--only", "sku=MUG,colour=navy", "--note", "handle cut off", "--by", "Bo") == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("rejected 2 variants as Bo")
    assert {vid for vid, d in decisions(site).items() if d.state == "rejected"} == set(NAVY[2:])
    assert cli("build", site, "--check", "--approvals") == 1
    out = capsys.readouterr().out.splitlines()
    assert out[1:4] == ["2 rejected:", "  web/MUG/navy--studio  (handle cut off)",
                        "  web/MUG/navy--wood  (handle cut off)"]


def test_publish_copies_only_the_approved_outputs_and_lists_the_rest(site, capsys, tmp_path):
    assert cli("approve", site, "--only", "sku=TEE", "--by", "Ana") == 0
    assert cli("reject", site, "--only", "sku=MUG,colour=white", "--note", "no", "--by", "Ana") == 0
    capsys.readouterr()
    shop = tmp_path / "shop"
    assert cli("publish", site, "--to", str(shop)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"published 4 approved variants to {shop}"
    assert out[1] == "left out 2 pending: web/MUG/navy--studio, web/MUG/navy--wood"
    assert out[2] == "left out 2 rejected: web/MUG/white--studio, web/MUG/white--wood"
    files = sorted(p.relative_to(shop).as_posix() for p in shop.rglob("*") if p.is_file())
    assert files == ["published.json", "web/TEE/navy--studio.png", "web/TEE/navy--wood.png",
                     "web/TEE/white--studio.png", "web/TEE/white--wood.png"]
    for rel in files[1:]:
        assert (shop / rel).read_bytes() == (site.parent / "build" / rel).read_bytes()
    record = json.loads((shop / "published.json").read_text())
    assert record["published_at"] == "2031-05-06T07:08:09Z" and len(record["variants"]) == 4
    site.write_text(MINIMAL.replace("#1F2A44", "#22304F"))  # the navy tees change: no longer approved
    assert cli("build", site) == 0 and cli("publish", site, "--to", str(shop)) == 0
    assert sorted(p.name for p in (shop / "web" / "TEE").iterdir()) == ["white--studio.png", "white--wood.png"]


def test_the_gallery_export_is_merged_only_where_the_output_is_still_current(site, capsys, tmp_path):
    manifest = json.loads((site.parent / "build" / "manifest.json").read_text())["variants"]
    export = tmp_path / "decisions.json"
    export.write_text(json.dumps({"decisions": [
        {"variant": "web/TEE/white--studio", "sha256": manifest["web/TEE/white--studio"]["sha256"],
         "state": "approved"},
        {"variant": "web/TEE/navy--wood", "sha256": manifest["web/TEE/navy--wood"]["sha256"], "state": "rejected",
         "note": "too dark"},
        {"variant": "web/MUG/navy--wood", "sha256": "0" * 64, "state": "approved"},
        {"variant": "web/NOPE/x--y", "sha256": "0" * 64, "state": "approved"},
    ]}))
    assert cli("approve", site, "--from", str(export), "--by", "Cy") == 1
    out, err = capsys.readouterr()
    assert out == f"merged 2 decisions from {export} into {site.parent / 'approvals.yaml'}\n"
    assert err.splitlines() == [
        "not merged: web/MUG/navy--wood: its output changed since it was reviewed; review it again",
        "not merged: web/NOPE/x--y: no such variant is selected in the catalog"]
    found = decisions(site)
    assert {vid: (d.state, d.note, d.by) for vid, d in found.items()} == {
        "web/TEE/white--studio": ("approved", None, "Cy"), "web/TEE/navy--wood": ("rejected", "too dark", "Cy")}
    export.write_text("{not json")
    assert cli("approve", site, "--from", str(export)) == 1
    assert "not a decisions file exported by the gallery" in capsys.readouterr().err


def test_a_malformed_approvals_file_is_an_error_naming_it(site, capsys):
    (site.parent / "approvals.yaml").write_text("version: 1\ndecisions:\n  web/TEE/white--studio: {state: maybe}\n")
    assert cli("plan", site) == 1
    err = capsys.readouterr().err
    assert err == (f"mockups: error: {site.parent / 'approvals.yaml'}:3: decisions.web/TEE/white--studio: state: "
                   f"expected approved or rejected, got 'maybe'\n")
    (site.parent / "approvals.yaml").write_text("version: 1\ndecisions:\n  web/A/b: {state: approved, sha256: "
                                                f"\"{'a' * 64}\"}}\n  web/TEE/white--studio: {{state: aproved}}\n")
    assert cli("plan", site) == 1
    assert capsys.readouterr().err.endswith(":4: decisions.web/TEE/white--studio: state: expected approved or "
                                            "rejected, got 'aproved' (did you mean 'approved'?)\n")


def test_the_file_round_trips_and_is_written_atomically(tmp_path):
    d = approvals.Decision("web/A/b--c", "a" * 64, "rejected", 'Ana "A" <a@x>', "2031-01-01T00:00:00Z",
                           "note: with a colon, and ünïcode\n", {"colour": "12ab", "prompt": "34cd"})
    path = tmp_path / "approvals.yaml"
    approvals.save(path, {d.variant: d})
    assert approvals.load(path) == {d.variant: d} and approvals.load(path)[d.variant].parts == d.parts
    assert not [p for p in tmp_path.iterdir() if p.name != "approvals.yaml"]  # no temporary left
    approvals.save(path, {})
    assert approvals.load(path) == {}


def test_the_gallery_shows_the_decisions_as_soon_as_they_are_made(site, capsys):
    from tests.test_gallery import page_data

    assert main(["build", str(site), "--backend", RECORDING]) == 0  # with the gallery
    index = site.parent / "build" / "gallery" / "index.html"
    assert {v["review"]["state"] for v in page_data(index)["variants"]} == {"pending"}
    assert cli("approve", site, "--only", "sku=TEE", "--by", "Ana") == 0
    states = {v["id"]: v["review"]["state"] for v in page_data(index)["variants"]}
    assert {vid for vid, s in states.items() if s == "approved"} == {vid for vid in ALL if "/TEE/" in vid}
