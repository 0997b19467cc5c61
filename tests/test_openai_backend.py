"""The `openai` backend against a fake OpenAI server, through the real SDK and real HTTP.

No test here depends on the real date: the backend's one clock, `openai_models.today()`, is pinned
to PINNED for every test (the `clock` fixture), and tests about shut-down or deprecated models set
their own date. The suite passes with the wall clock moved years ahead (tests/timetravel).
"""

from __future__ import annotations

import base64
import copy
import inspect
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
from mockups.backends.openai import OpenAIBackend, edit_by_reference, image_ref, retry_after, strategy_costs
from mockups.backends.openai import images as oi
from mockups.backends.openai import models as openai_models
from mockups.backends.openai.models import TABLE_FILE, Estimate, ModelTable, Upload, validate
from mockups.catalog import load_catalog
from mockups.engine.cache import StatCache
from mockups.engine.pipeline import render_jobs
from mockups.errors import BackendError, FatalBackendError, ImageInputError, TransientBackendError
from mockups.matrix import expand
from tests import fake_openai_api
from tests.conftest import MINIMAL, tiny_logo
from tests.fake_openai import Reply, fake_openai, prompt_colour  # noqa: F401  (fixture)

TABLE = ModelTable.load()
RAW = json.loads(TABLE_FILE.read_text())  # read independently of the loader
RATES = RAW["pricing"]["models"]
PINNED = date(2026, 12, 1)  # the date every test runs at unless it sets another one


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """Pin the backend's one clock to PINNED; clock(date) moves it (the fake server reads it too)."""

    def set_to(when: date) -> None:
        monkeypatch.setattr(openai_models, "today", lambda: when)

    set_to(PINNED)
    return set_to


def table_with(**models) -> ModelTable:
    """The bundled table with some models added or replaced (name -> table entry)."""
    data = copy.deepcopy(RAW)
    data["models"].update(models)
    return ModelTable(data)

PROMPT_BG = '  - {id: beach, name: Beach, prompt: "warm sand at golden hour"}\n'


def catalog_text(openai_opts: str, *, extra_backgrounds: str = "", catalog: str = MINIMAL) -> str:
    """The catalog with `defaults.openai` set and, optionally, more backgrounds."""
    text = catalog.replace("version: 1\n",
                           f"version: 1\ndefaults:\n  openai:\n{textwrap.indent(openai_opts, '    ')}\n")
    return text.replace("designs:\n  - {id: logo", extra_backgrounds + "designs:\n  - {id: logo")


@pytest.fixture
def setup(project, fake_openai):
    """setup(opts_yaml, **backend_options) -> (catalog, backend, jobs by id)."""

    def make(opts: str = "", *, model: str = "gpt-image-2", size: str = "256x256", quality: str = "low",
             extra_backgrounds: str = "", catalog: str = MINIMAL, files: dict | None = None, **options):
        base = f"model: {model}\nquality: {quality}\nsize: {size}\nbase_url: '{fake_openai.base_url}'\ntimeout: 20\n"
        path = project(catalog=catalog_text(base + opts, extra_backgrounds=extra_backgrounds, catalog=catalog),
                       files=files)
        cat = load_catalog(path)
        backend = OpenAIBackend({**cat.model.defaults.openai.model_dump(), **options})
        jobs = render_jobs(cat, expand(cat), backend, StatCache(None))
        return cat, backend, {j.id: j for j in jobs}

    return make


TEE = "web/TEE/white--studio"


def _last(fake):
    return fake.requests[-1]


# --- request shapes ------------------------------------------------------------------------------

def test_a_scene_product_is_made_locally_without_a_request(setup, fake_openai):
    """A scene photo keeps its own setting: only its garment changes, which the compositor does."""
    photo = Image.fromarray(np.random.default_rng(3).integers(0, 256, (96, 96, 3), dtype=np.uint8), "RGB")
    _, backend, jobs = setup(catalog=MINIMAL.replace("image: assets/mug.png", "image: assets/mug-worn.png\n"
                                                     "    photo: scene\n    print_area: {x: 30, y: 30, width: 40, "
                                                     "height: 40}"), files={"assets/mug-worn.png": photo})
    scene = jobs["web/MUG/white--as-shot"]
    assert scene.variant.scene and backend.estimate(scene) == 0.0
    before = len(fake_openai.requests)
    rendered = backend.render(scene)
    assert len(fake_openai.requests) == before and rendered.model is None
    assert any("MUG is a scene photo" in w for w in rendered.warnings)
    assert rendered.image.size == (96, 96)


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


# --- complexity, input_fidelity, transparency: what is sent and what is kept -----------------------

def test_complexity_is_sent_to_a_model_that_accepts_it(setup, fake_openai):
    cat, backend, jobs = setup("complexity: low\n", model="gpt-image-2.6-sunburst")
    assert not [p for p in backend.check(cat, list(jobs.values())) if "complexity" in p.message]
    assert jobs[TEE].params["complexity"] == "low"
    backend.render(jobs[TEE])
    r = _last(fake_openai)
    assert r.status == 200 and r.fields["complexity"] == "low" and r.fields["model"] == "gpt-image-2.6-sunburst"


def test_complexity_is_left_out_when_unset_or_not_accepted(setup, fake_openai):
    _, backend, jobs = setup(model="gpt-image-2.6-flare")
    assert "complexity" not in jobs[TEE].params  # unset: the keys of earlier builds do not change
    backend.render(jobs[TEE])
    assert "complexity" not in _last(fake_openai).fields  # the model's default (high) applies
    cat, backend, jobs = setup("complexity: medium\n")  # gpt-image-2: refused at validate time...
    p = _one(backend.check(cat, list(jobs.values())), "error", "gpt-image-2 does not accept complexity")
    assert p.path == "defaults.openai.complexity"
    backend.render(jobs[TEE])  # ...and never sent, even if a build went ahead
    assert _last(fake_openai).status == 200 and "complexity" not in _last(fake_openai).fields


def test_the_fake_refuses_complexity_before_gpt_image_2_6(fake_openai):
    client = openai.OpenAI(base_url=fake_openai.base_url, max_retries=0)
    with pytest.raises(openai.BadRequestError, match="complexity is not supported for gpt-image-2"):
        client.images.edit(model="gpt-image-2", prompt="p", image=("a.png", _png(), "image/png"), complexity="low")
    with pytest.raises(openai.BadRequestError, match="Invalid value: 'extreme'"):
        client.images.edit(model="gpt-image-2.6-flare", prompt="p", image=("a.png", _png(), "image/png"),
                           complexity="extreme")


def _png(size=(64, 64)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (90, 90, 90)).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("model", ["gpt-image-2", "gpt-image-2.5-sunburst", "gpt-image-2.6-sunburst"])
def test_input_fidelity_is_refused_and_never_sent(setup, fake_openai, model):
    cat, backend, jobs = setup("input_fidelity: low\n", model=model)
    p = _one(backend.check(cat, list(jobs.values())), "error", f"{model} does not accept input_fidelity")
    assert p.path == "defaults.openai.input_fidelity"
    backend.render(jobs[TEE])
    assert _last(fake_openai).status == 200 and "input_fidelity" not in _last(fake_openai).fields


def _channel(fmt: str, size: str = "96x96", extra: str = "") -> str:
    channel = f"- {{id: web, size: {size}, format: {fmt}{extra}}}"
    return MINIMAL.replace("- {id: web, size: 96x96, format: png}", channel)


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_a_transparent_background_is_kept_where_the_channel_can_hold_it(setup, fake_openai, fmt):
    cat, backend, jobs = setup("background: transparent\n", model="gpt-image-2.5-sunburst", catalog=_channel(fmt))
    assert not [p for p in backend.check(cat, list(jobs.values())) if "transparen" in p.message]
    job = jobs[TEE]
    assert job.params["alpha"] == "kept"
    rendered = backend.render(job)
    assert _last(fake_openai).fields["background"] == "transparent"
    alpha = np.asarray(rendered.image.getchannel("A"))
    assert rendered.image.mode == "RGBA" and rendered.warnings == []
    assert alpha[2, 2] == 0 and alpha[48, 48] == 255  # the scene is transparent, the (locked) product opaque
    from mockups.engine.outputs import finish

    data, _, _ = finish(job, rendered)  # as the build writes it
    written = Image.open(io.BytesIO(data))
    assert written.format == fmt.upper() and written.mode == "RGBA"
    assert np.asarray(written.getchannel("A"))[2, 2] == 0 and np.asarray(written.getchannel("A"))[48, 48] == 255


def test_a_transparent_background_pads_with_transparency(setup, fake_openai):
    _, backend, jobs = setup("background: transparent\n", model="gpt-image-2.5-sunburst",
                             catalog=_channel("png", "160x96"))
    image = backend.render(jobs[TEE]).image
    assert image.size == (160, 96) and image.mode == "RGBA"
    assert (np.asarray(image.getchannel("A"))[:, :20] == 0).all()  # not a blurred cover of the scene


def test_a_jpeg_channel_flattens_the_transparent_background_with_a_warning(setup, fake_openai):
    cat, backend, jobs = setup("background: transparent\n", model="gpt-image-2.5-sunburst",
                               catalog=_channel("jpeg"))
    p = _one(backend.check(cat, list(jobs.values())), "warning", "channel 'web' is jpeg")
    assert p.message == ("channel 'web' is jpeg, which cannot hold transparency: the transparent background OpenAI "
                         "makes is flattened onto white; use format png or webp to keep it")
    assert p.path == "channels[0].format"
    job = jobs[TEE]
    assert job.params["alpha"] == "flattened"
    rendered = backend.render(job)
    assert _last(fake_openai).fields["background"] == "transparent"
    assert rendered.image.mode == "RGB" and rendered.image.getpixel((2, 2)) == (255, 255, 255)
    assert rendered.warnings == ["channel 'web' is jpeg, which cannot hold transparency: the transparent "
                                 "background OpenAI made was flattened onto white"]


def test_a_forced_background_replaces_the_transparent_one_with_a_warning(setup, fake_openai):
    cat, backend, jobs = setup("background: transparent\nmode: recolour\n", model="gpt-image-2.5-sunburst",
                               catalog=_channel("png", extra=', background: "#FFFFFF"'))
    p = _one(backend.check(cat, list(jobs.values())), "warning", "forces the background")
    assert p.message == ("channel 'web' forces the background #FFFFFF, so the transparent background OpenAI makes "
                         "is replaced by it") and p.path == "channels[0].background"
    rendered = backend.render(jobs[TEE])
    assert rendered.image.mode == "RGB" and rendered.image.getpixel((2, 2)) == (255, 255, 255)
    assert rendered.warnings == ["channel 'web' forces the background #FFFFFF: the transparent background OpenAI "
                                 "made was replaced by it"]


def test_opaque_outputs_are_unchanged_and_keep_their_keys(setup, fake_openai):
    _, backend, jobs = setup()
    assert "alpha" not in jobs[TEE].params and "complexity" not in jobs[TEE].params
    assert backend.render(jobs[TEE]).image.mode == "RGB"


# --- checks before any request -------------------------------------------------------------------

def _problems(setup, opts: str = "", **kw):
    cat, backend, jobs = setup(opts, **kw)
    return backend.check(cat, list(jobs.values()))


def _one(problems, severity: str, text: str):
    found = [p for p in problems if p.severity == severity and text in p.message]
    assert found, f"no {severity} containing {text!r} in {[str(p) for p in problems]}"
    return found[0]


@pytest.mark.parametrize("model, message", [
    ("gpt-image-1", "model 'gpt-image-1' was shut down on 2026-10-23; use 'gpt-image-2.5-sunburst' instead"),
    ("dall-e-3", "model 'dall-e-3' was retired on 2026-05-12; use 'gpt-image-2' instead"),
    ("dall-e-2", "model 'dall-e-2' was retired on 2026-05-12; use 'gpt-image-2' instead"),
    ("gpt-image-1.5", "model 'gpt-image-1.5' was shut down on 2026-12-01; use 'gpt-image-2.6-sunburst' instead"),
    ("gpt-image-1.5-2025-12-16", "model 'gpt-image-1.5-2025-12-16' was shut down on 2026-12-01; use "
                                 "'gpt-image-2.6-sunburst' instead"),
    ("gpt-image-1-mini", "model 'gpt-image-1-mini' was shut down on 2026-12-01; use 'gpt-image-2.6-flare' instead"),
    ("chatgpt-image-latest", "model 'chatgpt-image-latest' was shut down on 2026-12-01; use "
                             "'gpt-image-2.6-sunburst' instead"),
])
def test_gone_models_are_errors_naming_their_replacement(setup, model, message):
    problems = _problems(setup, model=model)  # on PINNED, 2026-12-01: the day 1.5, 1-mini and latest went
    p = _one(problems, "error", message)
    assert p.message == message and p.path == "defaults.openai.model" and p.line == 4
    assert [q.message for q in problems if q.severity == "error"] == [message]  # its rules are not checked


@pytest.mark.parametrize("when, severity, message", [
    (date(2026, 11, 28), "warning", "model 'gpt-image-1.5' is deprecated and shuts down on 2026-12-01 (in 3 days); "
                                    "switch to 'gpt-image-2.6-sunburst'"),
    (date(2026, 11, 30), "warning", "model 'gpt-image-1.5' is deprecated and shuts down on 2026-12-01 (in 1 day); "
                                    "switch to 'gpt-image-2.6-sunburst'"),
    (date(2026, 12, 1), "error", "model 'gpt-image-1.5' was shut down on 2026-12-01; use 'gpt-image-2.6-sunburst' "
                                 "instead"),
    (date(2028, 12, 1), "error", "model 'gpt-image-1.5' was shut down on 2026-12-01; use 'gpt-image-2.6-sunburst' "
                                 "instead"),
])
def test_a_model_warns_before_its_shutdown_date_and_fails_from_it(setup, clock, when, severity, message):
    clock(when)
    p = _one(_problems(setup, model="gpt-image-1.5"), severity, message)
    assert p.message == message and p.path == "defaults.openai.model"
    assert TABLE.status_findings("gpt-image-1.5", when) == [(message, severity, "model")]  # or pass the date


def test_one_clock_decides_every_status(setup, clock, fake_openai):
    """The checks, the upload checks, the table and the fake server all read openai_models.today()."""
    backends = Path(openai_models.__file__).parent
    for name in ("_backend", "check", "images", "models", "plates"):
        source = (backends / f"{name}.py").read_text()
        assert source.count("date.today()") == (1 if name == "models" else 0), name
        assert "datetime.now" not in source and "time.time()" not in source.replace(
            "parsed.timestamp() - time.time()", ""), name  # (Retry-After dates are not about models)
    clock(date(2026, 11, 30))  # the day before 1.5 went: a warning, and the (fake) API still serves it
    cat, backend, jobs = setup(model="gpt-image-1.5", size="1024x1024")
    assert not [p for p in backend.check(cat, list(jobs.values())) if p.severity == "error"]
    assert backend.render(jobs[TEE]).model == "gpt-image-1.5" and _last(fake_openai).status == 200
    clock(date(2026, 12, 1))
    _one(backend.check(cat, list(jobs.values())), "error", "model 'gpt-image-1.5' was shut down on 2026-12-01")
    with pytest.raises(FatalBackendError, match="model 'gpt-image-1.5' was not found .*use 'gpt-image-2.6-sunburst'"):
        backend.render(jobs[TEE])
    assert _last(fake_openai).status == 404


def test_the_fake_servers_gone_models_come_from_the_table(fake_openai, monkeypatch):
    assert not hasattr(fake_openai_api, "GONE_MODELS")
    gone = {"gpt-image-1", "dall-e-2", "dall-e-3", "gpt-image-1.5", "gpt-image-1.5-2025-12-16", "gpt-image-1-mini",
            "chatgpt-image-latest"}
    assert TABLE.gone_models(PINNED) == gone
    assert TABLE.gone_models(date(2026, 11, 30)) == {"gpt-image-1", "dall-e-2", "dall-e-3"}
    assert fake_openai_api.models(PINNED) == fake_openai_api.SDK_MODELS - gone
    assert "gpt-image-2" in fake_openai_api.models(PINNED) and "gpt-image-1.5" not in fake_openai_api.models(PINNED)
    client = openai.OpenAI(base_url=fake_openai.base_url, max_retries=0)
    client.images.generate(model="gpt-image-2", prompt="a plate", size="1024x1024", quality="low")
    shut = table_with(**{"gpt-image-2": {**RAW["models"]["gpt-image-2"], "shutdown": "2026-11-01",
                                         "replacement": "gpt-image-2.5-sunburst"}})
    monkeypatch.setattr(openai_models.ModelTable, "load", classmethod(lambda cls, path=None: shut))
    with pytest.raises(openai.NotFoundError):  # the table says gpt-image-2 is gone: so does the fake
        client.images.generate(model="gpt-image-2", prompt="a plate", size="1024x1024", quality="low")
    fake_openai.today = date(2026, 10, 31)  # a test may give the fake its own date
    client.images.generate(model="gpt-image-2", prompt="a plate", size="1024x1024", quality="low")


def test_unknown_model_passes_with_a_warning(setup):
    problems = _problems(setup, model="gpt-image-9")
    _one(problems, "warning", "unknown model 'gpt-image-9'")
    assert not [p for p in problems if p.severity == "error"]


@pytest.mark.parametrize("opts, kw, text, path", [  # on PINNED, with models current on that date
    ("", {"quality": "xhigh"}, "gpt-image-2 does not accept quality 'xhigh'; use one of low, medium, high, auto",
     "quality"),
    ("input_fidelity: high\n", {}, "gpt-image-2 does not accept input_fidelity (the API answers 400 "
                                   "invalid_input_fidelity_model); remove it (it is never sent)", "input_fidelity"),
    ("input_fidelity: low\n", {"model": "gpt-image-2.5-sunburst"}, "gpt-image-2.5-sunburst does not accept "
     "input_fidelity: no current OpenAI image model documents it; remove it (it is never sent)", "input_fidelity"),
    ("input_fidelity: high\n", {"model": "gpt-image-2.6-flare"}, "gpt-image-2.6-flare does not accept "
     "input_fidelity: no current OpenAI image model documents it; remove it (it is never sent)", "input_fidelity"),
    ("complexity: low\n", {}, "gpt-image-2 does not accept complexity (only gpt-image-2.6-sunburst and "
                              "gpt-image-2.6-flare do); remove it or choose such a model", "complexity"),
    ("complexity: medium\n", {"model": "gpt-image-2.5-flare"}, "gpt-image-2.5-flare does not accept complexity "
     "(only gpt-image-2.6-sunburst and gpt-image-2.6-flare do); remove it or choose such a model", "complexity"),
    ("", {"size": "1000x1000"}, "size 1000x1000: width and height must both be multiples of 16", "size"),
    ("", {"size": "3200x768"}, "size 3200x768: the aspect ratio must be between 1:3 and 3:1", "size"),
    ("", {"size": "3840x2400"}, "size 3840x2400: the largest size is 3840x2160 (8,294,400 pixels, edges up to "
                                "3840)", "size"),
    ("background: transparent\noutput_format: jpeg\n", {}, "a transparent background needs output_format png or "
                                                           "webp, not jpeg", "output_format"),
    ("mode: design\n", {}, "mode 'design' sends the design into the print area, but product 'MUG' has no designs "
                           "and no print_area", "mode"),
])
def test_request_rules_are_errors_at_the_key_that_set_them(setup, opts, kw, text, path):
    p = _one(_problems(setup, opts, **kw), "error", text)
    assert p.message == text and p.path == f"defaults.openai.{path}" and p.line > 1


def test_rules_of_a_model_with_fixed_sizes_and_input_fidelity(clock):
    """The table's per-model rules, on a current model with a size list (none of OpenAI's has one now)."""
    fixed = {"status": "current", "sizes": ["1024x1024", "1536x1024", "1024x1536"], "qualities": ["low", "high"],
             "input_fidelity": ["low"], "transparent": "no"}
    table = table_with(**{"test-fixed": fixed})
    request = {"model": "test-fixed", "prompt": "p", "size": "1536x864", "input_fidelity": "high",
               "quality": "medium", "background": "transparent", "complexity": "low"}
    assert [(f.message, f.severity, f.field) for f in table.check_request(request, PINNED)] == [
        ("test-fixed does not accept quality 'medium'; use one of low, high", "error", "quality"),
        ("test-fixed accepts size auto or 1024x1024, 1536x1024, 1024x1536, not '1536x864'", "error", "size"),
        ("test-fixed accepts input_fidelity low only, not 'high'", "error", "input_fidelity"),
        ("test-fixed does not accept complexity (only gpt-image-2.6-sunburst and gpt-image-2.6-flare do); remove "
         "it or choose such a model", "error", "complexity"),
        ("test-fixed does not make transparent backgrounds", "error", "background")]
    assert table.lookup("test-fixed").sends_input_fidelity("low")
    assert table.request_size("test-fixed", "auto", 1.6) == "1536x1024"
    clock(date(2026, 11, 30))  # gpt-image-1-mini's own rules, the day before it was shut down
    found = validate({"model": "gpt-image-1-mini", "prompt": "p", "size": "1536x864", "input_fidelity": "high"})
    assert found == [("model 'gpt-image-1-mini' is deprecated and shuts down on 2026-12-01 (in 1 day); switch to "
                      "'gpt-image-2.6-flare'", "warning"),
                     ("gpt-image-1-mini accepts size auto or 1024x1024, 1536x1024, 1024x1536, not '1536x864'",
                      "error"),
                     ("gpt-image-1-mini accepts input_fidelity low only, not 'high'", "error")]
    assert validate({"model": "gpt-image-1-mini", "prompt": "p"}, today=PINNED) == [
        ("model 'gpt-image-1-mini' was shut down on 2026-12-01; use 'gpt-image-2.6-flare' instead", "error")]


def test_unknown_models_get_neither_input_fidelity_nor_complexity():
    found = validate({"model": "gpt-image-9", "prompt": "p", "input_fidelity": "low", "complexity": "low"}, PINNED)
    assert found[1:] == [
        ("input_fidelity is left out of requests to 'gpt-image-9': the model table does not say it accepts it",
         "warning"),
        ("complexity is left out of requests to 'gpt-image-9': the model table does not say it accepts it",
         "warning")]
    assert found[0][0].startswith("unknown model 'gpt-image-9'") and found[0][0].endswith(
        "known current models: gpt-image-2.6-sunburst, gpt-image-2.6-flare, gpt-image-2.5-sunburst, "
        "gpt-image-2.5-flare, gpt-image-2")  # on PINNED


def test_warnings_for_experimental_sizes_and_preview_transparency(setup):
    problems = _problems(setup, "background: transparent\n", size="3840x2160")
    _one(problems, "warning", "experimental")
    _one(problems, "warning", "preview")


def test_prompt_longer_than_the_limit_is_an_error_at_the_template(setup, project):
    cat, backend, _ = setup()
    (cat.root / "templates").mkdir()
    (cat.root / "templates" / "long.j2").write_text("x" * 32001)
    text = cat.file.read_text().replace("    image: assets/mug.png\n",
                                        "    image: assets/mug.png\n    template: long.j2\n")
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
    assert TABLE.read_date == "2026-12-01" and "fact sheet" in TABLE.source


def test_the_table_is_true_on_2026_12_01():
    assert TABLE.read_date == RAW["pricing"]["read"] == "2026-12-01"
    for name, replacement in (("gpt-image-1.5", "gpt-image-2.6-sunburst"), ("gpt-image-1-mini", "gpt-image-2.6-flare"),
                              ("chatgpt-image-latest", "gpt-image-2.6-sunburst")):
        info = TABLE.lookup(name)
        assert (info.status, info.shutdown, info.replacement) == ("shutdown", "2026-12-01", replacement)
    note = TABLE.lookup("gpt-image-1.5").note
    assert "Azure OpenAI retires it on 2026-12-16 (MicrosoftDocs/azure-ai-docs#833)" in note
    assert [n for n, m in TABLE.models.items() if m.complexity] == ["gpt-image-2.6-sunburst", "gpt-image-2.6-flare"]
    assert {TABLE.lookup(n).complexity_default for n in ("gpt-image-2.6-sunburst", "gpt-image-2.6-flare")} == {"high"}
    assert TABLE.accepting("input_fidelity", PINNED) == []  # no current model accepts it
    assert TABLE.accepting("input_fidelity", date(2026, 11, 30)) == ["gpt-image-1.5", "gpt-image-1-mini"]


def test_the_sdk_has_what_the_code_sends():
    """pyproject's openai>= bound: images.edit(complexity=...) and the 2.6 names arrived in openai 3.46.0."""
    edit = inspect.signature(openai.OpenAI(api_key="sk-x", base_url="http://127.0.0.1:9").images.edit).parameters
    assert {"image", "prompt", "mask", "model", "n", "quality", "size", "output_format", "background",
            "input_fidelity", "complexity"} <= set(edit)
    assert {"gpt-image-2.6-sunburst", "gpt-image-2.6-flare"} <= fake_openai_api.SDK_MODELS


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


@pytest.mark.parametrize("quality, price", [("low", 0.005), ("medium", 0.041), ("high", 0.165), ("auto", 0.165)])
def test_estimates_use_the_published_per_size_price(quality, price):
    inputs = (765 * 8 + 5 * 3) / 1e6  # one input image, a 12-character prompt (3 tokens)
    found = TABLE.estimate("gpt-image-2", quality, "1536x1024", 1, 12)
    q = "high" if quality == "auto" else quality
    assert found == Estimate(pytest.approx(price + inputs), "per-size", f"1536x1024 {q}: ${price:g} per image, "
                             "OpenAI's price for that size (OpenAI's pricing guide as quoted by third parties (fact "
                             "sheet update); community formulas reproduce OpenAI's calculator token counts, read "
                             "2026-12-01)")
    assert RATES["gpt-image-2"]["per_image_by_size"]["1536x1024"][q] == price


def test_estimates_scale_by_area_only_without_a_per_size_price():
    high = TABLE.estimate("gpt-image-2", "high", "1536x1024")
    scaled = TABLE.estimate("gpt-image-2", "high", "1024x1536")  # no published price for portrait
    assert scaled == Estimate(pytest.approx(0.211 * 1.5), "area-scaled", "1024x1536 high: no per-size price in the "
                              "table, so the 1024x1024 price $0.211 scaled by area (x1.5); where OpenAI publishes "
                              "per-size prices they are lower")
    assert scaled.dollars / high.dollars == pytest.approx(1.918, abs=1e-3)  # what area scaling used to charge
    assert TABLE.estimate("gpt-image-2", "medium", "1024x1024") == Estimate(
        pytest.approx(0.053), "per-size", "1024x1024 medium: $0.053 per image (read 2026-12-01)")
    like = TABLE.estimate("gpt-image-2.6-sunburst", "low", "1536x1024")
    assert like == Estimate(pytest.approx(0.006 * 1.5), "area-scaled", "1536x1024 low: no per-size price in the "
                            "table, so the 1024x1024 price $0.006 (priced like gpt-image-2.5-sunburst) scaled by "
                            "area (x1.5); where OpenAI publishes per-size prices they are lower")
    assert TABLE.estimate("gpt-image-9", "low", "1024x1024") is None


def test_the_backend_estimates_at_the_per_size_price(setup):
    _, backend, jobs = setup(size="1536x1024", quality="high")
    job = jobs[TEE]
    inputs = (765 * 8 + 5 * -(-len(job.prompt) // 4)) / 1e6
    assert backend.estimate(job) == pytest.approx(0.165 + inputs)
    assert backend.edit_estimate(job).basis == "per-size"
    assert backend.cost_of("gpt-image-9", None, 0.25, "the basis") == (
        0.25, ["no usage or price for 'gpt-image-9': recorded the estimate $0.2500 (the basis)"])


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


def test_recolour_mode_prints_the_design_where_its_placement_says(setup, fake_openai):
    """The design printed on the edit follows scale and anchor (imaging.fit_print), cut at the area."""
    _, backend, jobs = setup("mode: recolour\n", catalog=MINIMAL.replace(
        "    designs: [logo]\n", "    designs: [logo]\n    scale: 0.5\n    anchor: top-left\n    finish: screen\n"))
    plan = backend.plan(jobs[TEE])
    design, corners, area, finish = plan.design_after
    assert finish == "screen" and area == ((40.0, 30.0), (88.0, 30.0), (88.0, 78.0), (40.0, 78.0))
    assert [tuple(round(v) for v in c) for c in corners] == [(40, 30), (64, 30), (64, 54), (40, 54)]
