"""The library API as a Python user meets it: a Catalog or a path, typed selections, typed events, str statuses."""

from __future__ import annotations

import dataclasses
import json
import pickle

import pytest

import mockups
from mockups import (
    BuildOptions,
    FilterError,
    ItemStatus,
    JobFailed,
    JobFinished,
    JobRetrying,
    JobStarted,
    OutcomeStatus,
    Selection,
    Shard,
    build,
    load_catalog,
    plan,
    prepare,
)

RECORDING = "tests.backends_for_tests:Recording"
FLAKY = "tests.backends_for_tests:Flaky"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for var in ("MOCKUPS_TEST_FAIL", "MOCKUPS_TEST_DELAY", "MOCKUPS_TEST_PRICE", "MOCKUPS_TEST_GAIN",
                "MOCKUPS_TEST_FLAKES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MOCKUPS_TEST_LOG", str(tmp_path / "calls.log"))


def test_prepare_plan_and_build_take_a_catalog_or_a_path(project):
    path = project()
    catalog = load_catalog(path)
    by_path, by_catalog = plan(path, backend=RECORDING), plan(catalog, BuildOptions(backend=RECORDING))
    assert [(i.job.id, i.status) for i in by_path.items] == [(i.job.id, i.status) for i in by_catalog.items]
    assert by_path.counts()["new"] == 8 and prepare(catalog, backend=RECORDING).catalog is catalog
    report = build(catalog, backend=RECORDING, gallery=False)
    assert report.built == 8 and not report.failures
    assert {i.status for i in plan(path, backend=RECORDING).items} == {"unchanged"}
    with pytest.raises(TypeError):
        build()


def test_keyword_options_override_the_options_given(project):
    path = project()
    options = BuildOptions(backend=RECORDING, only=["sku=TEE"])
    assert len(plan(path, options).items) == 4
    assert len(plan(path, options, only=["sku=MUG"]).items) == 4 and options.only == ["sku=TEE"]  # not changed
    with pytest.raises(TypeError):
        plan(path, options, colour="navy")  # not an option


def test_selection_parses_what_only_takes_and_equals_the_same_filters_as_data():
    parsed = Selection.parse(["sku=TEE-*,colour=navy", "color=white,colour=black"])
    data = Selection([{"sku": "TEE-*", "colour": ["navy"]}, {"colour": ["white", "black"]}])
    assert parsed == data and hash(parsed) == hash(data)
    assert parsed.filters[0] == {"product": ("TEE-*",), "colour": ("navy",)}
    assert parsed.values == ("sku=TEE-*,colour=navy", "color=white,colour=black")  # as typed
    assert data.values == ("sku=TEE-*,colour=navy", "colour=white,colour=black")
    assert Selection.parse("sku=MUG") == Selection({"product": "MUG"}) == Selection.of("sku=MUG")
    assert not Selection() and not Selection.parse(None) and Selection.of(None) == Selection()
    assert Selection.of(parsed) is parsed
    assert pickle.loads(pickle.dumps(parsed)) == parsed
    assert dataclasses.replace(parsed, filters=[{"sku": "MUG"}]) == Selection.parse(["sku=MUG"])
    with pytest.raises(AttributeError):
        parsed.filters = ()  # frozen
    with pytest.raises(TypeError):
        parsed.filters[0]["sku"] = ("X",)  # read-only mappings


def test_selection_and_shard_errors_are_the_clis():
    with pytest.raises(FilterError) as e:
        Selection.parse(["size=big"])
    assert str(e.value) == ("--only 'size=big': expected key=value pairs with keys background, channel, colour, "
                            "design, placement, sku, e.g. sku=TEE-*,colour=navy")
    with pytest.raises(FilterError, match="selection key 'size': expected one of background, channel, colour"):
        Selection({"size": "big"})
    with pytest.raises(FilterError, match=r"use Selection.parse\('sku=TEE'\)"):
        Selection("sku=TEE")
    for bad in ("0/2", "3/2", "a/b", "2"):
        with pytest.raises(FilterError) as e:
            Shard.parse(bad)
        assert str(e.value) == f"--shard {bad!r}: expected K/N with 1 <= K <= N, e.g. 2/4"
    with pytest.raises(FilterError):
        Shard(3, 2)


def test_shard_parses_unpacks_and_prints():
    shard = Shard.parse("2/4")
    assert shard == Shard(2, 4) == Shard.of("2/4") == Shard.of((2, 4)) and str(shard) == "2/4"
    k, n = shard
    assert (k, n) == (2, 4) and Shard.parse("") is None and Shard.of(None) is None


def test_typed_selection_and_old_strings_plan_the_same(project):
    path = project()
    typed = plan(path, BuildOptions(backend=RECORDING, only=Selection.parse(["sku=T*", "sku=MUG,colour=navy"]),
                                    shard=Shard(2, 2)))
    strings = plan(path, BuildOptions(backend=RECORDING, only=["sku=T*", "sku=MUG,colour=navy"], shard="2/2"))
    assert [i.job.id for i in typed.items] == [i.job.id for i in strings.items] != []
    with pytest.raises(FilterError) as e:
        plan(path, backend=RECORDING, only=Selection({"sku": "NOPE"}))
    assert str(e.value) == "--only sku=NOPE selects no variant; skus: TEE, MUG"


def test_events_are_typed_and_each_job_starts_then_ends_once(project, monkeypatch):
    path = project()
    monkeypatch.setenv("MOCKUPS_TEST_FAIL", "/MUG/")
    events = []
    report = build(path, backend=RECORDING, gallery=False, on_event=events.append)
    assert all(isinstance(e, mockups.BuildEvent) for e in events)
    by_job: dict[str, list[type]] = {}
    for e in events:
        by_job.setdefault(e.job.id, []).append(type(e))
    assert set(by_job) == {o.job.id for o in report.outcomes} and len(by_job) == 8
    for jid, kinds in by_job.items():
        assert kinds == [JobStarted, JobFailed if "/MUG/" in jid else JobFinished], jid
    failed = [e for e in events if isinstance(e, JobFailed)]
    assert len(failed) == 4 == len(report.failures)
    outcome = failed[0].outcome
    assert outcome.status == OutcomeStatus.FAILED == "failed"
    assert outcome.error.startswith("refused by the test backend")
    assert "Traceback (most recent call last)" in outcome.traceback and "raise BackendError" in outcome.traceback
    assert {o.status for o in report.outcomes} == {"ok", "failed"}


def test_a_retry_is_an_event_with_its_attempt_and_reason(project, monkeypatch):
    path = project()
    monkeypatch.setenv("MOCKUPS_TEST_FLAKES", "1")
    events = []
    report = build(path, backend=FLAKY, gallery=False, only="sku=MUG,colour=navy", on_event=events.append)
    assert report.built == 2
    retries = [e for e in events if isinstance(e, JobRetrying)]
    assert sorted(e.job.id for e in retries) == ["web/MUG/navy--studio", "web/MUG/navy--wood"]
    assert {(e.attempt, e.reason) for e in retries} == {(2, "503 from the test backend")}
    assert all(e.delay >= 0 for e in retries)
    assert {o.attempts for o in report.outcomes} == {2}


def test_statuses_are_str_enums_that_print_and_serialise_as_before(project):
    path = project()
    p = plan(path, backend=RECORDING)
    item = p.items[0]
    assert item.status is ItemStatus.NEW and item.status == "new" and f"{item.status:<9}|" == "new      |"
    assert str(item.status) == "new" and item.status.stale and not ItemStatus.UNCHANGED.stale
    data = p.to_json()
    assert json.loads(json.dumps(data))["variants"][0]["status"] == "new"
    assert json.dumps(data, sort_keys=True) == json.dumps(json.loads(json.dumps(data)), sort_keys=True)
    assert list(p.counts()) == ["unchanged", "cached", "new", "changed", "failed", "missing", "removed"]
    assert all(type(k) is str for k in p.counts())
