"""`build --batch`: the openai backend's edits through OpenAI's Files and Batch APIs, against the
fake server's /v1/files and /v1/batches (tests/fake_openai_batch.py), with the real SDK.

A first build submits and exits 3 (pending); the same command again collects. Batched outputs are
byte-identical to direct ones, at half their cost; failed lines and expired or cancelled batches are
failed variants with their reason, which the next build submits again."""

from __future__ import annotations

import json
import shutil
from datetime import date

import pytest

from mockups import cli
from mockups.backends.openai import models as openai_models
from mockups.engine import manifest
from mockups.engine.pipeline import prepare
from tests.conftest import MINIMAL
from tests.fake_openai import fake_openai  # noqa: F401  (fixture)

PENDING = 3


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    monkeypatch.setattr(openai_models, "today", lambda: date(2026, 12, 1))


@pytest.fixture
def catalogs(project, fake_openai, tmp_path):  # noqa: F811
    """Two copies of an 8-variant openai project (gpt-image-2, low, 256x256) on the fake server."""
    opts = (f"defaults:\n  backend: openai\n  openai:\n    model: gpt-image-2\n    quality: low\n    size: 256x256\n"
            f"    base_url: '{fake_openai.base_url}'\n    timeout: 20\n")
    first = project(MINIMAL.replace("version: 1\n", "version: 1\n" + opts))
    second = tmp_path.parent / f"{tmp_path.name}-batched"
    shutil.copytree(first.parent, second)
    return first, second / "catalog.yaml"


def _outputs(catalog) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((catalog.parent / "build").glob("web/*/*.png"))}


def _lines(fake) -> list[dict]:
    return [line for b in fake.batch.batches.values() for line in b["_lines"]]


def test_submit_exits_pending_then_the_same_command_collects(catalogs, fake_openai, capsys):  # noqa: F811
    direct, batched = catalogs
    assert cli.main(["build", str(direct)]) == 0
    direct_cost = sum(e["cost"] for e in manifest.load(direct.parent / "build").values())
    assert direct_cost > 0
    edits = len(fake_openai.requests)

    assert cli.main(["build", str(batched), "--batch"]) == PENDING
    out = capsys.readouterr().out
    assert "8 variants are in OpenAI batches (batch_" in out and "0 made" in out
    assert len(fake_openai.requests) == edits  # no direct edit was sent
    (batch,) = fake_openai.batch.batches.values()
    assert batch["endpoint"] == "/v1/images/edits" and batch["request_counts"]["total"] == 8
    lines = _lines(fake_openai)
    assert {line["url"] for line in lines} == {"/v1/images/edits"}
    assert all("file_id" in ref for line in lines for ref in line["body"]["images"])
    uploads = fake_openai.batch.uploads("vision")
    assert len({u.data for u in uploads}) == len(uploads)  # each distinct image uploaded once
    used = {ref["file_id"] for line in lines for ref in [*line["body"]["images"], line["body"].get("mask") or {}]
            if ref}
    assert used == {u.id for u in uploads}

    assert cli.main(["build", str(batched), "--batch"]) == PENDING  # still running: nothing submitted again
    assert len(fake_openai.batch.batches) == 1

    fake_openai.batch.run()
    assert cli.main(["build", str(batched), "--batch"]) == 0
    assert "8 made, 0 failed" in capsys.readouterr().out
    assert _outputs(batched) == _outputs(direct)  # the same images as direct edits
    entries = manifest.load(batched.parent / "build")
    assert sum(e["cost"] for e in entries.values()) == pytest.approx(direct_cost * 0.5, abs=8e-6)  # 1e-6 rounding each
    assert all(e["usage"] and e["usage"]["output_tokens"] > 0 for e in entries.values())
    assert not list((batched.parent / ".mockups-cache" / "batches").glob("batch_*.json"))  # collected: forgotten
    assert cli.main(["build", str(batched), "--batch"]) == 0  # now a no-op
    assert len(fake_openai.batch.batches) == 1


def test_a_failed_line_is_a_failed_variant_and_is_submitted_again(catalogs, fake_openai, capsys):  # noqa: F811
    _, catalog = catalogs
    assert cli.main(["build", str(catalog), "--batch"]) == PENDING
    first = _lines(fake_openai)[0]["custom_id"]
    fake_openai.batch.run(fail={first: (400, "moderation_blocked", "Your request was rejected by the safety system.")})
    assert cli.main(["build", str(catalog), "--batch"]) == 1
    failed = [e for e in manifest.load(catalog.parent / "build").values() if e["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["key"] == first
    assert "in the batch: HTTP 400: moderation_blocked: Your request was rejected" in failed[0]["error"]
    assert "7 made, 1 failed" in capsys.readouterr().out
    assert cli.main(["build", str(catalog), "--batch"]) == PENDING  # the next build submits just that one
    assert [b["request_counts"]["total"] for b in fake_openai.batch.batches.values()] == [8, 1]


def test_an_expired_batch_returns_what_finished_and_fails_the_rest(catalogs, fake_openai, capsys):  # noqa: F811
    _, catalog = catalogs
    assert cli.main(["build", str(catalog), "--batch"]) == PENDING
    fake_openai.batch.run(expire_after=3)
    assert cli.main(["build", str(catalog), "--batch"]) == 1
    entries = manifest.load(catalog.parent / "build").values()
    assert sum(e["status"] == "ok" for e in entries) == 3
    assert {e["error"] for e in entries if e["status"] == "failed"} == {
        "in the batch: the batch expired (24 h) before this request ran"}


def test_status_and_cancel(catalogs, fake_openai, capsys):  # noqa: F811
    _, catalog = catalogs
    assert cli.main(["batch", "status", str(catalog)]) == 0
    assert capsys.readouterr().out.strip() == "no batches pending"
    assert cli.main(["build", str(catalog), "--batch"]) == PENDING
    capsys.readouterr()
    assert cli.main(["batch", "status", str(catalog)]) == 0
    line = capsys.readouterr().out
    assert ": in_progress (0 done, 0 failed of 8; 8 variants; submitted 0.0 h ago)" in line
    assert cli.main(["batch", "cancel", str(catalog), "--id", "batch_nosuch"]) == 1
    assert cli.main(["batch", "cancel", str(catalog)]) == 0
    assert ": cancelled (" in capsys.readouterr().out
    assert cli.main(["build", str(catalog), "--batch"]) == 1
    errors = {e["error"] for e in manifest.load(catalog.parent / "build").values()}
    assert errors == {"in the batch: the batch was cancelled before this request ran"}


def test_estimates_and_the_budget_use_the_batch_price(catalogs, fake_openai, capsys):  # noqa: F811
    _, catalog = catalogs
    full = prepare(catalog).plan.estimated_cost
    half = prepare(catalog, batch=True).plan.estimated_cost
    assert full > 0 and half == pytest.approx(full / 2)
    assert cli.main(["plan", str(catalog), "--json", "--batch"]) == 0
    assert json.loads(capsys.readouterr().out)["estimated_cost"] == pytest.approx(half, abs=1e-6)
    budget = f"{(full + half) / 2:.6f}"
    assert cli.main(["build", str(catalog), "--max-cost", budget]) == 1  # refused: over the budget
    assert "over --max-cost" in capsys.readouterr().err
    assert cli.main(["build", str(catalog), "--batch", "--max-cost", budget]) == PENDING


def test_an_unverified_model_warns_and_nothing_secret_is_recorded(catalogs, fake_openai, capsys):  # noqa: F811
    _, catalog = catalogs
    catalog.write_text(catalog.read_text().replace("model: gpt-image-2\n", "model: gpt-image-2.5-flare\n"))
    assert cli.main(["build", str(catalog), "--batch"]) == PENDING
    err = capsys.readouterr().err
    assert "--batch: whether OpenAI's Batch API takes gpt-image-2.5-flare's edits is unverified" in err
    key = fake_openai.api_key
    for path in (catalog.parent / ".mockups-cache").rglob("*"):
        assert not path.is_file() or key.encode() not in path.read_bytes(), path
    record = json.loads(next((catalog.parent / ".mockups-cache" / "batches").glob("batch_*.json")).read_text())
    assert len(record["jobs"]) == 8 and record["status"] == "in_progress"


def test_a_narrowed_build_collects_its_own_and_keeps_the_others_results(catalogs, fake_openai, capsys):  # noqa: F811
    _, catalog = catalogs
    assert cli.main(["build", str(catalog), "--batch"]) == PENDING
    fake_openai.batch.run()
    assert cli.main(["build", str(catalog), "--batch", "--only", "sku=TEE"]) == 0
    records = list((catalog.parent / ".mockups-cache" / "batches").glob("batch_*.json"))
    assert len(records) == 1 and len(json.loads(records[0].read_text())["jobs"]) == 4  # the mug's, kept
    assert cli.main(["build", str(catalog), "--batch"]) == 0
    assert "4 made, 0 failed" in capsys.readouterr().out.splitlines()[-1]
    assert len(fake_openai.batch.batches) == 1  # nothing paid for twice
    assert not list((catalog.parent / ".mockups-cache" / "batches").glob("batch_*.json"))


def test_a_plain_build_leaves_batched_variants_alone_and_the_budget_leaves_them_out(catalogs, fake_openai,  # noqa: F811
                                                                                     capsys):
    _, catalog = catalogs
    assert cli.main(["build", str(catalog), "--batch"]) == PENDING
    edits = len(fake_openai.requests)
    capsys.readouterr()
    assert cli.main(["build", str(catalog), "--max-cost", "0.000001"]) == PENDING  # nothing new to pay for
    assert "8 variants are in OpenAI batches that `build --batch` submitted" in capsys.readouterr().err
    assert len(fake_openai.requests) == edits  # no direct edit: they are not paid for twice
    assert cli.main(["build", str(catalog), "--batch", "--max-cost", "0.000001"]) == PENDING


def test_a_result_file_that_is_gone_fails_its_requests_and_an_unreadable_state_is_a_warning(
        catalogs, fake_openai, capsys):  # noqa: F811
    _, catalog = catalogs
    assert cli.main(["build", str(catalog), "--batch"]) == PENDING
    (batch,) = fake_openai.batch.batches.values()
    saved = fake_openai.batch.batches.pop(batch["id"])  # the API no longer knows it (for now)
    capsys.readouterr()
    assert cli.main(["build", str(catalog), "--batch"]) == PENDING  # a warning; still recorded
    assert f"OpenAI batch {batch['id']}: its state could not be read" in capsys.readouterr().err
    fake_openai.batch.batches[batch["id"]] = saved
    fake_openai.batch.run()
    del fake_openai.batch.files[saved["output_file_id"]]  # expired on OpenAI's side (30 days)
    assert cli.main(["build", str(catalog), "--batch"]) == 1
    errors = {e["error"] for e in manifest.load(catalog.parent / "build").values()}
    assert errors == {"in the batch: the batch's result file is no longer on OpenAI (batch files expire after 30 days)"}
    assert not list((catalog.parent / ".mockups-cache" / "batches").glob("batch_*.json"))
