"""Only what someone approved is published, and no decision is lost: each test here is a way that
once failed (a narrowed publish unpublishing the rest, a note approvals.yaml could not hold, a
gallery showing "approved" for other bytes, a published copy changed through a hard link, two
writers losing a decision, a variant decided twice, a published.json naming files elsewhere)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mockups.cli import _review, main
from mockups.review import approvals
from tests import test_approvals
from tests.test_approvals import cli

RECORDING = "tests.backends_for_tests:Recording"
site = test_approvals.site  # the fixture: the minimal project, built, with a fixed clock


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# 1. `publish --only` deletes every previously published, still approved output outside the selection.
def test_publish_with_only_keeps_what_was_published_outside_the_selection(site, tmp_path, capsys):
    assert cli("approve", site, "--by", "Ana") == 0
    shop = tmp_path / "shop"
    assert cli("publish", site, "--to", str(shop)) == 0
    assert len(json.loads((shop / "published.json").read_text())["variants"]) == 8
    assert cli("publish", site, "--to", str(shop), "--only", "sku=TEE") == 0
    record = json.loads((shop / "published.json").read_text())["variants"]
    assert "web/MUG/navy--studio" in record  # still approved, merely not selected this time
    assert (shop / "web/MUG/navy--studio.png").exists()


# 2. A note (or reviewer name) with a character YAML forbids (DEL, C1 controls) is written raw by
#    json.dumps(ensure_ascii=False): approvals.yaml can no longer be read, every decision is unusable.
def test_a_note_with_a_control_character_does_not_make_approvals_yaml_unreadable(site, capsys):
    assert cli("approve", site, "--by", "Ana") == 0
    assert cli("reject", site, "--only", "sku=MUG,colour=navy", "--note", "cut\x7foff", "--by", "Bo") == 0
    found = approvals.load(site.parent / approvals.NAME)  # ApprovalsError: not valid YAML (#x007f)
    assert found["web/MUG/navy--wood"].note == "cut\x7foff"
    assert len(found) == 8


def test_a_note_with_nel_round_trips(tmp_path):
    d = approvals.Decision("web/A/b--c", "a" * 64, "rejected", "Bo", "2031-01-01T00:00:00Z", "x\x85y")
    path = tmp_path / approvals.NAME
    approvals.save(path, {d.variant: d})
    assert approvals.load(path)[d.variant].note == "x\x85y"  # read back as "x y"


def test_the_server_refuses_or_survives_a_note_yaml_cannot_hold(site, tmp_path):
    from mockups.engine import manifest
    from mockups.review.serve import Server

    build = site.parent / "build"
    entries = manifest.load(build)
    server = Server(site, build, rebuild=lambda: "", write_gallery=lambda: None, port=0, reviewer="Ana",
                    watch=False)
    try:
        vid = "web/TEE/navy--wood"
        server.decide({"decisions": [{"variant": vid, "sha256": entries[vid]["sha256"], "state": "rejected",
                                      "note": "\x9f"}]})
        other = "web/TEE/white--wood"  # the next decision, from the same page
        server.decide({"decisions": [{"variant": other, "sha256": entries[other]["sha256"], "state": "approved"}]})
    finally:
        server.httpd.server_close()
    assert approvals.load(site.parent / approvals.NAME)[other].state == "approved"


# 3. The gallery shows "approved" for an output whose bytes are no longer the approved ones (the file
#    in build/ was changed in place), while plan / publish rightly treat it as pending.
def test_the_gallery_does_not_show_approved_for_an_output_that_is_not_the_approved_one(site, capsys):
    from mockups.engine.pipeline import BuildOptions, prepare
    from tests.test_gallery import by_id, page_data

    assert cli("approve", site, "--by", "Ana") == 0
    out = site.parent / "build" / "web/TEE/navy--studio.png"
    data = bytearray(out.read_bytes())
    data[-20] ^= 0xFF  # an in-place edit (an optimiser, an editor): other bytes
    with open(out, "r+b") as f:
        f.write(bytes(data))
    states, _ = _review.reviews(prepare(site, BuildOptions(backend=RECORDING)))
    assert states["web/TEE/navy--studio"].state == "pending"  # what publish / --check go by
    assert main(["gallery", str(site)]) == 0
    shown = by_id(page_data(site.parent / "build" / "gallery" / "index.html"))["web/TEE/navy--studio"]
    assert shown["review"]["state"] != "approved"


# 4. The published folder is hard-linked to build/ (and the cache): an in-place change of a build
#    output changes the "published" approved image too, and export --published hands it to the store.
def test_the_published_copy_keeps_the_approved_bytes(site, tmp_path, capsys):
    assert cli("approve", site, "--by", "Ana") == 0
    shop = tmp_path / "shop"
    assert cli("publish", site, "--to", str(shop)) == 0
    approved = json.loads((shop / "published.json").read_text())["variants"]["web/TEE/navy--studio"]["sha256"]
    out = site.parent / "build" / "web/TEE/navy--studio.png"
    data = bytearray(out.read_bytes())
    data[-20] ^= 0xFF
    with open(out, "r+b") as f:  # in build/, not in the published folder
        f.write(bytes(data))
    assert sha(shop / "web/TEE/navy--studio.png") == approved


# 5. Two writers of approvals.yaml (two `mockups approve` processes, or `approve` beside `mockups serve`):
#    each loads, decides and saves the whole file with no lock or re-read, so one's decisions are lost.
def test_a_decision_made_while_approve_runs_is_not_lost(site, monkeypatch, capsys):
    real = approvals.reviewer
    done = []

    def meanwhile(folder, given=None):  # runs between cmd_approve's load and its save
        if not done:
            done.append(1)
            assert cli("reject", site, "--only", "sku=MUG,colour=white", "--note", "no", "--by", "Bo") == 0
        return real(folder, given)

    monkeypatch.setattr(approvals, "reviewer", meanwhile)
    assert cli("approve", site, "--only", "sku=TEE", "--by", "Ana") == 0
    found = approvals.load(site.parent / approvals.NAME)
    assert found.get("web/MUG/white--studio") is not None  # Bo's rejection, written in between


# 7. A variant decided twice in approvals.yaml (a merge that kept both reviewers' lines) is read
#    silently as the later line: a rejection is overridden with no error, and publish ships the image.
def test_a_variant_decided_twice_is_an_error_not_the_last_line(site, tmp_path, capsys):
    from mockups.engine import manifest

    vid = "web/MUG/navy--wood"
    digest = manifest.load(site.parent / "build")[vid]["sha256"]
    (site.parent / approvals.NAME).write_text(
        "version: 1\ndecisions:\n"
        f'  "{vid}": {{state: "rejected", sha256: "{digest}", by: "Bo", at: "2031-05-06T09:00:00Z", note: "no"}}\n'
        f'  "{vid}": {{state: "approved", sha256: "{digest}", by: "Ana", at: "2031-05-01T07:00:00Z"}}\n')
    with pytest.raises(approvals.ApprovalsError):
        approvals.load(site.parent / approvals.NAME)


# 8. publish deletes `target / old["output"]` for what it published before, with the path taken from
#    published.json unchecked: a published.json naming "../x" deletes a file outside the folder.
def test_publish_deletes_nothing_outside_its_folder(site, tmp_path, capsys):
    shop = tmp_path / "shop"
    shop.mkdir()
    victim = tmp_path / "keep.txt"
    victim.write_text("mine")
    (shop / "published.json").write_text(json.dumps({"version": 1, "variants": {
        "web/GONE/x--y": {"output": "../keep.txt", "sha256": "0" * 64}}}))
    assert cli("publish", site, "--to", str(shop)) == 0
    assert victim.exists()


# 9. export --published took the published files as they were: one changed after it was published
#    (by hand, or by a tool) was exported as though it were the approved image.
def test_export_of_a_published_set_skips_a_file_changed_since_it_was_published(site, tmp_path, capsys):
    assert cli("approve", site, "--by", "Ana") == 0
    shop = tmp_path / "shop"
    assert cli("publish", site, "--to", str(shop)) == 0
    from PIL import Image

    changed = shop / "web/TEE/navy--studio.png"
    with Image.open(changed) as im:  # touched up in an editor: a valid image, other bytes
        edited = im.convert("RGB")
    edited.putpixel((0, 0), (255, 0, 0))
    edited.save(changed)
    feed = tmp_path / "feed.tsv"
    main(["export", "merchant", str(site), "--base-url", "https://cdn.example.com", "--out", str(feed),
          "--published", str(shop)])
    err = capsys.readouterr().err
    assert "web/TEE/navy--studio" in err and "not those recorded" in err
    assert "web/TEE/navy--studio.png" not in feed.read_text()
    assert "web/TEE/white--studio.png" in feed.read_text()



# 10. A writer that waits too long for another (a hung `mockups serve`, say) gets a message, not a
#     traceback of the lock library's.
def test_a_writer_waiting_too_long_for_the_lock_is_told_so(site, monkeypatch, tmp_path):
    import filelock

    monkeypatch.setattr(approvals, "LOCK_WAIT", 0.2)
    path = site.parent / approvals.NAME
    before = path.read_bytes() if path.exists() else None
    names = []
    real = filelock.FileLock

    def noted(lock_file, *a, **k):
        names.append(lock_file)
        return real(lock_file, *a, **k)

    monkeypatch.setattr(filelock, "FileLock", noted)
    approvals.update(path, lambda decisions: (None, None))  # free: taken and let go
    other = real(names[0])  # another writer holds it now (flock: per open file, so this blocks the next)
    other.acquire()
    try:
        with pytest.raises(approvals.ApprovalsError, match="another mockups command"):
            approvals.update(path, lambda decisions: (None, None))
    finally:
        other.release()
    assert (path.read_bytes() if path.exists() else None) == before


# A published.json that cannot be read was taken for an empty one: the images it listed stayed in the
# folder after they were rejected, and the new record no longer named them.
@pytest.mark.parametrize("damage", ["{not json", '{"version": 1, "variants": []}', "[1, 2]"])
def test_a_published_record_that_cannot_be_read_stops_publish(site, tmp_path, capsys, damage):
    shop = tmp_path / "shop"
    assert cli("approve", site, "--by", "Ana") == 0
    assert cli("publish", site, "--to", str(shop)) == 0
    files = sorted(p.relative_to(shop) for p in shop.rglob("*.png"))
    assert len(files) == 8
    assert cli("reject", site, "--only", "sku=MUG", "--note", "off", "--by", "Bo") == 0
    (shop / "published.json").write_text(damage)
    capsys.readouterr()
    assert cli("publish", site, "--to", str(shop)) == 2
    err = capsys.readouterr().err
    assert "published.json cannot be read" in err and "delete it" in err
    assert sorted(p.relative_to(shop) for p in shop.rglob("*.png")) == files  # nothing removed or added
    assert (shop / "published.json").read_text() == damage  # and the record left for its owner to mend
    (shop / "published.json").unlink()
    assert cli("publish", site, "--to", str(shop)) == 0  # without it, nothing published earlier is removed
    assert len(json.loads((shop / "published.json").read_text())["variants"]) == 4


# The approvals lock is made in the shared temporary folder with the umask's mode (0o644): a second
# user approving the same project could not open it, and waited a minute to be told another command
# was writing.
def test_the_approvals_lock_can_be_taken_by_another_user(site, monkeypatch):
    import os
    import stat

    import filelock

    path = site.parent / approvals.NAME
    names: list[str] = []
    real = filelock.FileLock

    def noted(lock_file, *a, **k):
        names.append(lock_file)
        return real(lock_file, *a, **k)

    monkeypatch.setattr(filelock, "FileLock", noted)
    modes = []

    def change(decisions):  # the lock is held (and its file there) while the decisions change
        modes.append(stat.S_IMODE(os.stat(names[-1]).st_mode))
        return None, None

    old = os.umask(0o022)
    try:
        approvals.update(path, change)
        Path(names[-1]).unlink(missing_ok=True)  # made anew by the next writer, under this umask
        approvals.update(path, change)
    finally:
        os.umask(old)
    assert modes == [0o666, 0o666]
