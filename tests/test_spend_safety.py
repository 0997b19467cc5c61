"""No image is paid for twice and no budget is overspent through the shared cache, the Batch API
or the OpenAI backend: each test here is a way that once failed (a broken remote object never
written again, --max-cost checked before remote fetches failed, a Retry-After that is no number,
a model without prices under --max-cost, a batch whose creation answer was lost, another key's
record taken for this one's)."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from mockups import cli
from mockups.backends.openai import models as openai_models
from mockups.engine import manifest
from mockups.engine.cache import ObjectStore
from mockups.engine.pipeline import build
from mockups.engine.remote import RemoteCache
from tests.conftest import MINIMAL
from tests.fake_openai import fake_openai  # noqa: F401  (fixture)


def _runner(project, tmp_path: Path, name: str) -> Path:
    source = project().parent
    target = tmp_path.parent / f"{tmp_path.name}-{name}"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("build", ".mockups-cache"))
    return target / "catalog.yaml"


# --- 1. a damaged remote object is never repaired: every machine pays for it again --------------

def test_a_remote_object_whose_blob_is_gone_is_written_again_by_the_build_that_remakes_it(project, tmp_path):
    remote = tmp_path.parent / f"{tmp_path.name}-remote"
    url = remote.as_uri()
    a = build(_runner(project, tmp_path, "a"), remote_cache=url)
    assert a.built > 1
    evicted = sorted((remote / "cas").iterdir())[0]  # evicted by an LRU / lifecycle rule, or torn
    evicted.unlink()
    # made in this process's threads (as the openai backend always is; -j 1 for the local one)
    b = build(_runner(project, tmp_path, "b"), remote_cache=url, jobs=1)
    assert b.built == 1 and not b.cache_warnings  # remade (with the openai backend: paid for) on this machine
    c = build(_runner(project, tmp_path, "c"), remote_cache=url)
    assert c.built == 0, "the remade output was never written back: every further machine pays for it again"


# --- 2. --max-cost is checked before remote hits are fetched: the ones that cannot be are paid for

@pytest.fixture
def openai_catalogs(project, fake_openai, tmp_path):  # noqa: F811
    """Two copies of an 8-variant openai project (gpt-image-2, low, 256x256) on the fake server."""
    opts = (f"defaults:\n  backend: openai\n  openai:\n    model: gpt-image-2\n    quality: low\n    size: 256x256\n"
            f"    base_url: '{fake_openai.base_url}'\n    timeout: 20\n")
    first = project(MINIMAL.replace("version: 1\n", "version: 1\n" + opts))
    second = tmp_path.parent / f"{tmp_path.name}-second"
    shutil.copytree(first.parent, second)
    return first, second / "catalog.yaml"


@pytest.fixture
def clock(monkeypatch):
    monkeypatch.setattr(openai_models, "today", lambda: date(2026, 12, 1))


def test_max_cost_holds_when_remote_hits_cannot_be_fetched(openai_catalogs, fake_openai, tmp_path, clock):  # noqa: F811
    from mockups.engine.pipeline import prepare
    from mockups.errors import BudgetExceeded

    first, second = openai_catalogs
    full = prepare(second).plan.estimated_cost  # what making the 8 variants is estimated at
    budget = full / 4
    with pytest.raises(BudgetExceeded):  # without a remote the build is refused: nothing is spent
        build(second, max_cost=budget)
    remote = tmp_path.parent / f"{tmp_path.name}-remote"
    build(first, remote_cache=remote.as_uri())
    for blob in (remote / "cas").iterdir():  # the remote's blobs evicted (or torn)
        blob.unlink()
    sent = len(fake_openai.requests)
    try:
        report = build(second, max_cost=budget, remote_cache=remote.as_uri())
    except BudgetExceeded:
        return  # refused, as without the remote: correct
    paid = len(fake_openai.requests) - sent
    assert report.spent <= budget, (f"--max-cost ${budget:.5f}: {paid} edits sent, ${report.spent:.5f} spent "
                                    f"(plan estimate ${full:.5f})")


# --- 3. a Retry-After the runner cannot parse turns a 429 into a failed variant (no retry) ------

def test_a_429_with_an_unparseable_retry_after_is_retried(openai_catalogs, fake_openai, clock):  # noqa: F811
    from tests.fake_openai import Reply

    _, catalog = openai_catalogs
    fake_openai.script(Reply.error(429, "rate_limit_exceeded", "Rate limit reached for images per minute.",
                                   "requests", {"retry-after": "soon"}))  # a proxy's value; SDKs ignore it
    report = build(catalog, jobs=1, retries=3)
    assert not report.failures, report.failures[0].error


# --- 4. a model the table does not know: --max-cost is silently ineffective ---------------------

def test_max_cost_with_a_model_the_table_does_not_price(openai_catalogs, fake_openai, clock, monkeypatch):  # noqa: F811
    from tests import fake_openai_api

    new = "gpt-image-2-2026-11-30"  # a new snapshot (or an Azure deployment's name) the table does not list yet
    monkeypatch.setattr(fake_openai_api, "SDK_MODELS", fake_openai_api.SDK_MODELS | {new})
    _, catalog = openai_catalogs
    catalog.write_text(catalog.read_text().replace("model: gpt-image-2\n", f"model: {new}\n"))
    budget = 0.001
    try:
        report = build(catalog, max_cost=budget, jobs=1)
    except Exception:  # refused (BudgetExceeded / CatalogError): correct
        return
    edits = [r for r in fake_openai.requests if r.status == 200]
    assert len(edits) <= 1, (f"--max-cost ${budget}: {len(edits)} edits sent and paid for (each answer reports its "
                             f"usage), recorded spend ${report.spent}")


# --- 5. a batches.create whose answer is lost (5xx after the batch was made) is submitted again --

def test_a_batch_created_whose_answer_was_lost_is_not_submitted_twice(openai_catalogs, fake_openai, clock):  # noqa: F811
    _, catalog = openai_catalogs
    api = fake_openai.batch
    handle = api.handle
    lost = {"n": 0}

    def gateway(method, path, headers, body):
        found = handle(method, path, headers, body)
        if method == "POST" and path == "/v1/batches" and not lost["n"]:
            lost["n"] += 1  # the batch was made, and the answer lost on the way back
            return 502, b'{"error": {"message": "Bad gateway", "type": "server_error", "code": null}}', \
                "application/json"
        return found

    api.handle = gateway
    assert cli.main(["build", str(catalog), "--batch"]) != 0
    cli.main(["build", str(catalog), "--batch"])
    ids = [sorted(line["custom_id"] for line in b["_lines"]) for b in api.batches.values()]
    assert len(ids) == 1, f"{len(ids)} batches hold the same {len(ids[0])} requests: each is paid for twice"


# --- 6. a remote record is not bound to its key: another key's record is used as this output ----

def test_a_record_copied_under_another_key_is_not_used(project, tmp_path):
    remote = tmp_path.parent / f"{tmp_path.name}-remote"
    url = remote.as_uri()
    a = build(_runner(project, tmp_path, "a"), remote_cache=url)
    entries = manifest.load(a.prepared.build_dir)
    (tee_navy,) = [v for v in entries if "tee" in v.lower() and "navy" in v.lower()][:1]
    (mug,) = [v for v in entries if "mug" in v.lower()][:1]
    k_tee, k_mug = entries[tee_navy]["key"], entries[mug]["key"]
    shutil.copy(remote / "ac" / k_mug, remote / "ac" / k_tee)  # a foreign / misplaced record named k_tee
    fresh = ObjectStore(tmp_path / "fresh-cache")
    assert not RemoteCache(url).fetch(k_tee, "png", fresh), "the mug's image was accepted as the navy tee's output"


# 7. The Batch API's messages (a failed line, a failed batch, an error answer) were recorded as
#    they came, where a direct edit's are scrubbed of anything shaped like an API key.
def test_the_batch_apis_messages_are_scrubbed_of_keys(monkeypatch):
    from mockups.backends.openai import batch as batch_module

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-this-is-the-secret-0123456789")
    line = json.dumps({"custom_id": "k1", "response": {"status_code": 401, "body": {"error": {
        "code": "invalid_api_key", "message": "Incorrect API key provided: sk-test-this-is-the-secret-0123456789"}}}})
    found = batch_module._result(line)
    assert found.key == "k1" and "invalid_api_key" in found.error
    assert "secret" not in found.error and "sk-test-this" not in found.error
