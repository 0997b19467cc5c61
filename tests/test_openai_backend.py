"""The `openai` backend against a fake OpenAI server, through the real SDK and real HTTP."""

from __future__ import annotations

import base64
import io
import json
import shutil
import textwrap
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
import openai
import pytest
from PIL import Image

from mockups import cli
from mockups.backends import openai_check
from mockups.backends import openai_images as oi
from mockups.backends.openai import OpenAIBackend, edit_by_reference, image_ref, retry_after, strategy_costs
from mockups.backends.openai_models import TABLE_FILE, ModelTable, Upload, validate
from mockups.build import render_jobs
from mockups.cache import StatCache
from mockups.catalog import load_catalog
from mockups.errors import BackendError, FatalBackendError, ImageInputError, TransientBackendError
from mockups.matrix import expand
from tests.conftest import MINIMAL, tiny_logo
from tests.fake_openai import Reply, fake_openai, prompt_colour  # noqa: F401  (fixture)

TABLE = ModelTable.load()
RATES = json.loads(TABLE_FILE.read_text())["pricing"]["models"]  # read independently of the loader

PROMPT_BG = '  - {id: beach, name: Beach, prompt: "warm sand at golden hour"}\n'


def catalog_text(openai_opts: str, *, extra_backgrounds: str = "", catalog: str = MINIMAL) -> str:
    """The catalog with `defaults.openai` set and, optionally, more backgrounds."""
    text = catalog.replace("version: 1\n", f"version: 1\ndefaults:\n  openai:\n{textwrap.indent(openai_opts, '    ')}\n")
    return text.replace("designs:\n  - {id: logo", extra_backgrounds + "designs:\n  - {id: logo")


@pytest.fixture
def setup(project, fake_openai):
    """setup(opts_yaml, **backend_options) -> (catalog, backend, jobs by id)."""

    def make(opts: str = "", *, model: str = "gpt-image-2", size: str = "256x256", quality: str = "low",
             extra_backgrounds: str = "", catalog: str = MINIMAL, **options):
        base = f"model: {model}\nquality: {quality}\nsize: {size}\nbase_url: '{fake_openai.base_url}'\ntimeout: 20\n"
        path = project(catalog=catalog_text(base + opts, extra_backgrounds=extra_backgrounds, catalog=catalog))
        cat = load_catalog(path)
        backend = OpenAIBackend({**cat.model.defaults.openai.model_dump(), **options})
        jobs = render_jobs(cat, expand(cat), backend, StatCache(None))
        return cat, backend, {j.id: j for j in jobs}

    return make


TEE = "web/TEE/white--studio"


def _last(fake):
    return fake.requests[-1]


# --- request shapes ------------------------------------------------------------------------------

def test_scene_request_shape_and_mask(setup, fake_openai):
    _, backend, jobs = setup()
    rendered = backend.render(jobs[TEE])
    r = _last(fake_openai)
    assert r.path == "/v1/images/edits" and r.form == "multipart"
    assert r.authorization == f"Bearer {fake_openai.api_key}"
    assert {k: r.fields[k] for k in ("model", "quality", "size", "n", "output_format")} == {
        "model": "gpt-image-2", "quality": "low", "size": "256x256", "n": "1", "output_format": "png"}
    assert "input_fidelity" not in r.fields and r.fields["prompt"] == jobs[TEE].prompt
    assert r.file_fields() == ["image[]", "mask"]
    assert [(f["filename"], f["content_type"]) for f in r.files] == [("product.png", "image/png"),
                                                                      ("mask.png", "image/png")]
    assert r.mask.size == r.images[0].size == (256, 256)
    alpha = np.asarray(r.mask.getchannel("A"))
    assert alpha[5, 5] == 0 and alpha[128, 128] == 255  # outside the product open, the product kept
    assert set(np.unique(alpha)) <= {0, 255}
    assert rendered.image.size == (96, 96) and rendered.model == "gpt-image-2"


def test_recolour_mask_opens_only_the_dyeable_area(setup, fake_openai):
    _, backend, jobs = setup("mode: recolour\n")
    backend.render(jobs[TEE])
    r = _last(fake_openai)
    alpha = np.asarray(r.mask.getchannel("A"))
    assert r.file_fields() == ["image[]", "mask"]
    assert alpha[5, 5] == 255 and alpha[128, 128] == 0  # background kept, garment editable


def test_design_sends_the_design_as_a_second_image_and_opens_the_print_area(setup, fake_openai):
    _, backend, jobs = setup("mode: design\n")
    backend.render(jobs[TEE])
    r = _last(fake_openai)
    assert r.file_fields() == ["image[]", "image[]", "mask"]
    assert r.files[1]["filename"] == "design.png" and r.images[1].size == tiny_logo().size
    alpha = np.asarray(r.mask.getchannel("A"))
    plan = backend.plan(jobs[TEE])
    cx, cy = (round(c) for c in plan.layout.point(64, 54))  # centre of the print area {40, 30, 48, 48}
    x0, y0 = (round(c) for c in plan.layout.point(22, 40))  # on the product, outside the print area
    assert alpha[cy, cx] == 0 and alpha[y0, x0] == 255 and alpha[3, 3] == 255


def test_restyle_has_no_mask(setup, fake_openai):
    _, backend, jobs = setup("mode: restyle\n")
    backend.render(jobs[TEE])
    assert _last(fake_openai).file_fields() == ["image[]"]
    assert _last(fake_openai).mask is None


def test_product_mode_overrides_the_default(setup, fake_openai):
    cat = MINIMAL.replace("    image: assets/mug.png\n", "    image: assets/mug.png\n    mode: restyle\n")
    _, backend, jobs = setup(catalog=cat)
    assert jobs["web/MUG/white--studio"].params["mode"] == "restyle"
    assert jobs[TEE].params["mode"] == "scene"


def test_job_params_shape_the_output_only(setup):
    _, backend, jobs = setup("requests_per_minute: 10\nconcurrency: 7\n")
    params = jobs[TEE].params
    assert set(params) == {"model", "quality", "mode", "product_lock", "size", "input_fidelity", "background",
                           "output_format", "strategy"}
    assert backend.default_concurrency() == 7


def test_json_form_edit(fake_openai):
    client = openai.OpenAI(base_url=fake_openai.base_url, max_retries=0)
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 200, 10)).save(buf, "PNG")
    data_url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    resp = edit_by_reference(client, images=[data_url, "file-abc123", "https://example.invalid/x.png"],
                             prompt="a green square on a table", model="gpt-image-2", quality="low", size="auto",
                             input_fidelity=None, timeout=10)
    r = _last(fake_openai)
    assert r.form == "json" and r.path == "/v1/images/edits"
    assert r.fields["images"] == [{"image_url": data_url}, {"file_id": "file-abc123"},
                                  {"image_url": "https://example.invalid/x.png"}]
    assert "input_fidelity" not in r.fields and resp.size == "64x64" and resp.usage.output_tokens > 0
    with pytest.raises(openai.BadRequestError) as e:  # the fake checks the JSON shape too
        client.post("/images/edits", body={"images": [{"url": "x"}], "prompt": "p", "model": "gpt-image-2"},
                    cast_to=openai.types.ImagesResponse)
    assert e.value.status_code == 400
    with pytest.raises(ImageInputError):
        image_ref("/local/file.png")


# --- checks before any request -------------------------------------------------------------------

def _problems(setup, opts: str = "", **kw):
    cat, backend, jobs = setup(opts, **kw)
    return backend.check(cat, list(jobs.values()))


def _one(problems, severity: str, text: str):
    found = [p for p in problems if p.severity == severity and text in p.message]
    assert found, f"no {severity} containing {text!r} in {[str(p) for p in problems]}"
    return found[0]


@pytest.mark.parametrize("model, replacement", [("gpt-image-1", "gpt-image-2.5-sunburst"),
                                                ("dall-e-3", "gpt-image-2"), ("dall-e-2", "gpt-image-2")])
def test_gone_models_are_errors_naming_their_replacement(setup, model, replacement):
    p = _one(_problems(setup, model=model), "error", f"use '{replacement}'")
    assert p.path == "defaults.openai.model" and p.line == 4


def test_deprecated_model_warns_with_its_shutdown_date_then_fails_after_it(setup, monkeypatch):
    monkeypatch.setattr(openai_check, "today", lambda: date(2026, 11, 28))
    p = _one(_problems(setup, model="gpt-image-1.5"), "warning", "shuts down on 2026-12-01 (in 3 days)")
    assert "gpt-image-2.6-sunburst" in p.message and p.path == "defaults.openai.model"
    monkeypatch.setattr(openai_check, "today", lambda: date(2026, 12, 1))
    _one(_problems(setup, model="gpt-image-1.5"), "error", "was shut down on 2026-12-01")


def test_unknown_model_passes_with_a_warning(setup):
    problems = _problems(setup, model="gpt-image-9")
    _one(problems, "warning", "unknown model 'gpt-image-9'")
    assert not [p for p in problems if p.severity == "error"]


@pytest.mark.parametrize("opts, kw, text, path", [
    ("", {"quality": "xhigh"}, "does not accept quality 'xhigh'", "quality"),
    ("input_fidelity: high\n", {}, "invalid_input_fidelity_model", "input_fidelity"),
    ("input_fidelity: high\n", {"model": "gpt-image-1-mini"}, "input_fidelity low only", "input_fidelity"),
    ("", {"size": "1000x1000"}, "multiples of 16", "size"),
    ("", {"size": "3200x768"}, "between 1:3 and 3:1", "size"),
    ("", {"size": "3840x2400"}, "largest size is 3840x2160", "size"),
    ("", {"size": "1536x864", "model": "gpt-image-1-mini"}, "accepts size auto or 1024x1024", "size"),
    ("background: transparent\noutput_format: jpeg\n", {}, "needs output_format png or webp", "output_format"),
    ("mode: design\n", {}, "product 'MUG' has no designs and no print_area", "mode"),
])
def test_request_rules_are_errors_at_the_key_that_set_them(setup, opts, kw, text, path):
    p = _one(_problems(setup, opts, **kw), "error", text)
    assert p.path == f"defaults.openai.{path}" and p.line > 1


def test_warnings_for_experimental_sizes_and_preview_transparency(setup):
    problems = _problems(setup, "background: transparent\n", size="3840x2160")
    _one(problems, "warning", "experimental")
    _one(problems, "warning", "preview")


def test_prompt_longer_than_the_limit_is_an_error_at_the_template(setup, project):
    cat, backend, _ = setup()
    (cat.root / "templates").mkdir()
    (cat.root / "templates" / "long.j2").write_text("x" * 32001)
    text = cat.file.read_text().replace("    image: assets/mug.png\n", "    image: assets/mug.png\n    template: long.j2\n")
    cat.file.write_text(text)
    cat = load_catalog(cat.file)
    jobs = render_jobs(cat, expand(cat), backend, StatCache(None))
    p = _one(backend.check(cat, jobs), "error", "32,001 characters")
    assert p.path == "products[1].template"


def test_missing_api_key_warns_in_check_and_stops_the_build(setup, monkeypatch):
    cat, backend, jobs = setup()
    monkeypatch.delenv("OPENAI_API_KEY")
    _one(backend.check(cat, list(jobs.values())), "warning", "OPENAI_API_KEY is not set")
    with pytest.raises(FatalBackendError, match="OPENAI_API_KEY"):
        backend.render(jobs[TEE])


def test_table_rules_for_uploads():
    img = Upload("product.png", 1000, "png", (256, 256))
    assert validate({"model": "gpt-image-2", "prompt": "p", "images": [img],
                     "mask": Upload("mask.png", 10, "png", (128, 128))})[0][1] == "error"
    found = validate({"model": "gpt-image-2", "prompt": "p", "images": [img] * 17, "n": 11,
                      "mask": Upload("mask.png", 5 * 2**20, "jpg", (256, 256)), "markup": img})
    text = " | ".join(m for m, s in found if s == "error")
    for part in ("17 input images", "n must be between 1 and 10", "must be a PNG", "under 4 MB", "markup cannot"):
        assert part in text
    assert validate({"model": "gpt-image-2", "prompt": "p", "images": [Upload("a.gif", 10, "gif", (9, 9))]})
    assert TABLE.request_size("gpt-image-2", "auto", 2.0) == "1440x720"
    assert TABLE.request_size("gpt-image-1.5", "auto", 0.7) == "1024x1536"
    assert TABLE.read_date == "2026-11-28" and "fact sheet" in TABLE.source


# --- errors --------------------------------------------------------------------------------------

def test_429_carries_retry_after_then_the_next_attempt_succeeds(setup, fake_openai):
    _, backend, jobs = setup()
    fake_openai.script(Reply.rate_limited(retry_after=1), Reply.rate_limited(retry_after=7, retry_after_ms=1500))
    with pytest.raises(TransientBackendError) as first:
        backend.render(jobs[TEE])
    assert first.value.retry_after == 1.0 and "429" in str(first.value)
    with pytest.raises(TransientBackendError) as second:
        backend.render(jobs[TEE])
    assert second.value.retry_after == 1.5  # retry-after-ms wins
    assert backend.render(jobs[TEE]).image.size == (96, 96)
    assert [r.status for r in fake_openai.requests] == [429, 429, 200]  # max_retries=0: one request each


@pytest.mark.parametrize("reply", [Reply.server_error(), Reply(reset=True)], ids=["500", "reset"])
def test_server_errors_and_resets_are_transient(setup, fake_openai, reply):
    _, backend, jobs = setup()
    fake_openai.script(reply)
    with pytest.raises(TransientBackendError):
        backend.render(jobs[TEE])
    assert len(fake_openai.requests) == 1


def test_a_hang_past_the_timeout_is_transient(setup, fake_openai):
    _, backend, jobs = setup(timeout=0.4)
    fake_openai.script(Reply(hang=3))
    with pytest.raises(TransientBackendError, match="within 0.4 s"):
        backend.render(jobs[TEE])


def test_moderation_fails_the_variant_with_stage_and_categories(setup, fake_openai):
    _, backend, jobs = setup()
    fake_openai.script(Reply.moderation("output", ["sexual", "violence"]))
    with pytest.raises(BackendError) as e:
        backend.render(jobs[TEE])
    assert type(e.value) is BackendError and not e.value.transient
    assert "output stage" in str(e.value) and "sexual, violence" in str(e.value)


@pytest.mark.parametrize("reply, text", [
    (Reply.quota(429), "out of credit"), (Reply.quota(400), "out of credit"),
    (Reply.error(429, "billing_hard_limit_reached", "Billing hard limit has been reached"), "out of credit"),
    (Reply.forbidden(), "organisation verification"), (Reply.not_found(), "check defaults.openai.model"),
], ids=["quota-429", "quota-400", "billing", "403", "404"])
def test_account_problems_stop_the_build(setup, fake_openai, reply, text):
    _, backend, jobs = setup()
    fake_openai.script(reply)
    with pytest.raises(FatalBackendError, match=text):
        backend.render(jobs[TEE])


def test_a_bad_key_is_fatal_and_never_echoed(setup, fake_openai, monkeypatch):
    _, backend, jobs = setup()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-0123456789abcdef")
    with pytest.raises(FatalBackendError) as e:
        backend.render(jobs[TEE])
    assert "OPENAI_API_KEY" in str(e.value) and "0123456789" not in str(e.value) and "cdef" not in str(e.value)
    assert _last(fake_openai).status == 401


def test_refused_images_name_the_input_file(setup, fake_openai):
    _, backend, jobs = setup()
    fake_openai.script(Reply.error(400, "invalid_image_file", "Invalid image file or mode for image 1",
                                   param="image[0]"))
    with pytest.raises(ImageInputError, match="tee.png"):
        backend.render(jobs[TEE])


def test_retry_after_parsing():
    assert retry_after({"retry-after": "2"}) == 2.0
    assert retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None  # in the past
    assert retry_after({}) is None


# --- the image that comes back -------------------------------------------------------------------

def test_product_lock_keeps_the_source_pixels(setup, fake_openai):
    _, backend, jobs = setup()
    job = jobs[TEE]
    final = np.asarray(backend.render(job).image.convert("RGB"))
    plan = backend.plan(job)
    expected = oi.locked_exactly(final, plan, (96, 96))
    opaque = expected[..., 3] == 255
    assert opaque.sum() > 1000
    assert np.array_equal(final[opaque], expected[..., :3][opaque])  # the product shown is the product sold
    colour = prompt_colour(job.prompt)  # outside the product: the fake "model"'s scene
    assert np.abs(final[2, 2].astype(int) - colour).max() <= 3
    _, unlocked, jobs = setup(product_lock=False)
    free = np.asarray(unlocked.render(jobs[TEE]).image.convert("RGB"))
    assert not np.array_equal(free[opaque], expected[..., :3][opaque])  # the fake redrew the product


def test_output_is_fitted_to_the_channel_not_stretched(setup, fake_openai):
    cat = MINIMAL.replace("size: 96x96", "size: 160x96")
    _, backend, jobs = setup(catalog=cat)
    image = backend.render(jobs[TEE]).image
    assert image.size == (160, 96)
    marketplace = MINIMAL.replace("size: 96x96, format: png}", 'size: 160x96, format: png, background: "#FFFFFF"}')
    _, backend, jobs = setup("mode: recolour\n", catalog=marketplace)
    padded = np.asarray(backend.render(jobs[TEE]).image)
    assert padded.shape == (96, 160, 3) and (padded[:, :20] == 255).all()  # padded with the forced white


def test_scene_with_a_forced_background_is_composited_locally(setup, fake_openai):
    marketplace = MINIMAL.replace("size: 96x96, format: png}", 'size: 96x96, format: png, background: "#FFFFFF"}')
    cat, backend, jobs = setup(catalog=marketplace)
    rendered = backend.render(jobs[TEE])
    assert not fake_openai.requests and rendered.cost == 0 and "no OpenAI request" in rendered.warnings[0]
    assert backend.estimate(jobs[TEE]) == 0
    _one(backend.check(cat, list(jobs.values())), "warning", "forces a plain background")


# --- cost ----------------------------------------------------------------------------------------

def test_recorded_cost_is_the_usage_times_the_table_prices(setup, fake_openai):
    _, backend, jobs = setup(quality="medium")
    rendered = backend.render(jobs[TEE])
    u = _last_usage(fake_openai)
    rates = RATES["gpt-image-2"]
    expected = (u["input_tokens_details"]["text_tokens"] * rates["text_in"]
                + u["input_tokens_details"]["image_tokens"] * rates["image_in"]
                + u["output_tokens"] * rates["image_out"]) / 1e6
    assert rendered.cost == pytest.approx(expected, rel=1e-12) and rendered.cost > 0
    assert rendered.usage["output_tokens"] == u["output_tokens"]
    estimate = backend.estimate(jobs[TEE])  # 256x256 medium: 0.053 * 1/16 + inputs
    assert estimate == pytest.approx(0.053 / 16 + (765 * 8 + 5 * -(-len(jobs[TEE].prompt) // 4)) / 1e6)


def _last_usage(fake) -> dict:
    from tests.fake_openai import answer

    return answer(fake.requests[-1])["usage"]


# --- plates --------------------------------------------------------------------------------------

def test_plates_are_generated_once_for_all_variants(setup, fake_openai, tmp_path):
    cache = tmp_path / "cache"
    cat, backend, jobs = setup(extra_backgrounds=PROMPT_BG, strategy="plates", cache_dir=str(cache))
    beach = [j for j in jobs.values() if j.variant.background.id == "beach"]
    assert len(beach) == 4 and all(j.params["strategy"] == "plates" for j in beach)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(backend.render, beach))
    assert fake_openai.paths() == ["/v1/images/generations"]
    assert "warm sand at golden hour" in _last(fake_openai).fields["prompt"]
    assert len(list((cache / "plates").glob("*.png"))) == 1
    assert sum(r.cost > 0 for r in results) == 1 and all(r.image.size == (96, 96) for r in results)
    others = [j for j in jobs.values() if j.variant.background.id != "beach"]
    assert all(backend.render(j).cost == 0 for j in others) and len(fake_openai.requests) == 1
    again = OpenAIBackend({**backend.options})  # the next build: the plate comes from disk
    again.render(beach[0])
    assert len(fake_openai.requests) == 1


def test_strategy_costs_compare_edit_and_plates(setup, tmp_path):
    _, backend, jobs = setup(extra_backgrounds=PROMPT_BG)
    costs = strategy_costs(list(jobs.values()), cache_dir=tmp_path)
    per_edit = sum(backend.estimate(j) for j in jobs.values())
    assert costs["edit"] == pytest.approx(per_edit)
    assert 0 < costs["plates"] < costs["edit"] / 5  # one plate instead of 12 edits


# --- end to end: `mockups build --backend openai` ------------------------------------------------

@pytest.fixture
def e2e(project, fake_openai):
    opts = f"model: gpt-image-2\nquality: low\nsize: 256x256\nbase_url: '{fake_openai.base_url}'\ntimeout: 20\n"
    path = project(catalog=catalog_text(opts))
    return path, lambda *args: cli.main(["build", str(path), "--backend", "openai", *args])


def _manifest(path: Path) -> dict:
    return json.loads((path.parent / "build" / "manifest.json").read_text())["variants"]


def test_build_records_model_cost_usage_and_rebuilds_for_free(e2e, fake_openai):
    path, build = e2e
    assert build() == 0
    entries = _manifest(path)
    assert len(entries) == 8 and len(fake_openai.requests) == 8
    for e in entries.values():
        assert e["status"] == "ok" and e["model"] == "gpt-image-2" and e["backend"] == "openai"
        assert e["cost"] > 0 and e["usage"]["output_tokens"] > 0
    fake_openai.reset()
    assert build() == 0
    assert fake_openai.requests == []  # unchanged catalog: zero API calls
    key = fake_openai.api_key.encode()
    files = [p for folder in (path.parent / "build", path.parent / ".mockups-cache") for p in folder.rglob("*")
             if p.is_file()]
    assert any(p.suffix == ".html" for p in files) and len(files) > 16
    assert not [p for p in files if key in p.read_bytes()], "the API key was written to disk"


def test_a_moderated_variant_fails_alone(e2e, fake_openai):
    path, build = e2e
    fake_openai.policy = lambda n, r: (Reply.moderation("input", ["violence"])
                                       if "Mug in Navy" in r.fields.get("prompt", "") and "Wood" in
                                       r.fields.get("prompt", "") else None)
    assert build() == 1
    entries = _manifest(path)
    failed = {k: e for k, e in entries.items() if e["status"] != "ok"}
    assert list(failed) == ["web/MUG/navy--wood"]
    assert "input stage" in failed["web/MUG/navy--wood"]["error"]
    assert sum(e["status"] == "ok" for e in entries.values()) == 7


def test_a_429_storm_still_finishes(e2e, fake_openai):
    path, build = e2e
    fake_openai.policy = lambda n, r: Reply.rate_limited(retry_after=1) if n % 2 == 0 else None
    assert build("--only", "sku=TEE", "--retries", "8", "-j", "2") == 0
    assert all(e["status"] == "ok" for e in _manifest(path).values())
    statuses = [r.status for r in fake_openai.requests]
    assert statuses.count(200) == 4 and statuses.count(429) >= 2


def test_build_with_plates_strategy_generates_each_prompt_background_once(project, fake_openai):
    opts = (f"model: gpt-image-2\nquality: low\nsize: 256x256\nbase_url: '{fake_openai.base_url}'\n"
            "strategy: plates\n")
    path = project(catalog=catalog_text(opts, extra_backgrounds=PROMPT_BG))
    assert cli.main(["build", str(path), "--backend", "openai"]) == 0
    assert fake_openai.paths() == ["/v1/images/generations"]  # 12 variants, one request
    entries = _manifest(path)
    beach = [e for e in entries.values() if e["background"] == "beach"]
    assert len(entries) == 12 and len(beach) == 4 and sum(e["cost"] > 0 for e in beach) == 1
    assert len(list((path.parent / ".mockups-cache" / "plates").glob("*.png"))) == 1
    (path.parent / "build" / "manifest.json").unlink()
    shutil.rmtree(path.parent / ".mockups-cache" / "objects")  # outputs gone, the plate kept
    assert cli.main(["build", str(path), "--backend", "openai"]) == 0
    assert len(fake_openai.requests) == 1
