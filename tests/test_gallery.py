"""The review gallery without a browser: page data, change marks, thumbnails, safety, theming.

Builds use a tiny `flat` backend defined here (a drawn silhouette in the variant's colour), so these
tests do not depend on the local compositor. `tests/test_gallery_browser.py` reuses the helpers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import textwrap
from pathlib import Path

import jinja2
import pytest
from PIL import Image, ImageDraw

from mockups.backends import base
from mockups.backends.base import Backend, Rendered
from mockups.catalog import load_catalog
from mockups.engine import manifest
from mockups.engine.cache import THUMB_EXTS, ObjectStore
from mockups.engine.pipeline import BuildOptions, build, prepare
from mockups.errors import BackendError, TemplateError
from mockups.review._gallery_data import (
    THUMB_SIDE,
    changes_from_plan,
    classify,
    current_marks,
    load_changes,
    safe_json,
    thumb_size,
)
from mockups.review.gallery import write_gallery
from tests.conftest import tiny_product, write_tree

XSS = "<img src=x onerror=alert(1)>"

CATALOG = textwrap.dedent("""\
    version: 1
    defaults:
      backend: flat
    channels:
      - {id: shop, size: 240x240, format: webp}
    products:
      - sku: TEE
        name: Classic Tee
        image: assets/tee.png
        colours: [white, navy, cherry]
      - sku: MUG
        name: Ceramic Mug 11oz
        image: assets/mug.png
        colours: [white, navy, boom]
        backgrounds: [studio, sand]
      - sku: XSS
        name: "<img src=x onerror=alert(1)>"
        image: assets/mug.png
        colours: [white]
        backgrounds: [studio]
    colours:
      - {id: white, name: White, hex: "#F4F4F2"}
      - {id: navy, name: Navy, hex: "#1F2A44"}
      - {id: cherry, name: Cherry Red, hex: "#B22234"}
      - {id: sage, name: Sage, hex: "#9CAF88"}
      - {id: boom, name: "Boom <b>bold</b>", hex: "#FF8800"}
    backgrounds:
      - {id: studio, name: Studio, colour: "#EDEDED"}
      - {id: sand, name: Sand, colour: "#E8DCC4"}
      - {id: wood, name: Oak table, image: assets/wood.png}
""")

# the second build: navy's hex changes (5 changed), MUG gains sage (2 new), TEE/cherry/wood goes (1 removed)
CATALOG_V2 = (CATALOG.replace('hex: "#1F2A44"', 'hex: "#2B3F73"')
              .replace("colours: [white, navy, boom]", "colours: [white, navy, boom, sage]")
              + "matrix:\n  exclude:\n    - {product: TEE, colour: cherry, background: wood}\n")

TEE = [(0.34, 0.18), (0.44, 0.23), (0.56, 0.23), (0.66, 0.18), (0.85, 0.31), (0.77, 0.44), (0.68, 0.39),
       (0.68, 0.85), (0.32, 0.85), (0.32, 0.39), (0.23, 0.44), (0.15, 0.31)]


def _darker(hex_colour: str, by: float = 0.8) -> tuple[int, int, int]:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return int(r * by), int(g * by), int(b * by)


class FlatBackend(Backend):
    """A test backend: a flat silhouette in the variant's colour on its background colour."""

    name = "flat"
    version = "1"
    parallelism = "thread"

    def render(self, job) -> Rendered:
        v = job.variant
        if v.colour.id == "boom":
            raise BackendError("<b>boom</b>: the flat backend refuses this colour")
        w, h = v.channel.size
        bg = v.background.colour or v.background.sweep or "#CDAE8A"
        image = Image.new("RGB", (w, h), bg)
        draw = ImageDraw.Draw(image)
        draw.ellipse((w * 0.24, h * 0.83, w * 0.76, h * 0.9), fill=_darker(bg, 0.9))
        outline, fill = _darker(v.colour.hex, 0.75), v.colour.hex
        if v.product.sku == "TEE":
            draw.polygon([(x * w, y * h) for x, y in TEE], fill=fill, outline=outline, width=max(1, w // 120))
        else:
            draw.ellipse((w * 0.56, h * 0.38, w * 0.8, h * 0.66), outline=fill, width=max(2, w // 22))
            draw.rounded_rectangle((w * 0.26, h * 0.26, w * 0.64, h * 0.84), radius=w * 0.05, fill=fill,
                                   outline=outline, width=max(1, w // 120))
        return Rendered(image, model="flat-1", cost=0.0125)


def register_flat(monkeypatch) -> None:
    monkeypatch.setitem(base.BUILTIN, "flat", "tests.test_gallery:FlatBackend")


def make_project(root: Path, catalog: str = CATALOG) -> Path:
    write_tree(root, {
        "assets/tee.png": tiny_product(), "assets/mug.png": tiny_product(colour=(240, 240, 240)),
        "assets/wood.png": Image.new("RGB", (160, 120), (150, 110, 70)), "catalog.yaml": catalog,
    })
    return root / "catalog.yaml"


def build_flat(catalog: Path):
    return build(catalog, BuildOptions(backend="flat"))


def two_builds(root: Path) -> Path:
    """Build the catalog, then build it again with navy changed, sage added and one variant removed."""
    catalog = make_project(root)
    build_flat(catalog)
    catalog.write_text(CATALOG_V2)
    build_flat(catalog)
    return catalog


def page_data(index: Path) -> dict:
    html = index.read_text()
    m = re.search(r'<script type="application/json" id="gallery-data">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


def by_id(data: dict) -> dict[str, dict]:
    return {v["id"]: v for v in data["variants"]}


@pytest.fixture
def flat(monkeypatch):
    register_flat(monkeypatch)


@pytest.fixture
def built(tmp_path, flat) -> Path:
    """A project after two builds; returns the catalog path."""
    return two_builds(tmp_path)


# --- data and safety -------------------------------------------------------------------------------

def test_safe_json_cannot_end_the_script_element():
    data = {"name": "</script><script>alert(1)</script> & <!-- \u2028\u2029"}
    text = safe_json(data)
    assert not set("<>&\u2028\u2029") & set(text)
    assert json.loads(text) == data


def test_page_is_self_contained_with_a_strict_policy(tmp_path, flat):
    build_flat(make_project(tmp_path))
    folder = tmp_path / "build" / "gallery"
    html = (folder / "index.html").read_text()
    assert "script-src 'self'" in html and "Content-Security-Policy" in html
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert all('src="' in attrs or 'type="application/json"' in attrs for attrs, _ in scripts)
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", html, re.I)  # no inline event handlers
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    for name in ("gallery.css", "gallery-custom.css", "gallery-core.js", "gallery.js"):
        assert (folder / name).is_file()
    assert "gallery/index.html" in (tmp_path / "build" / "index.html").read_text()


def test_catalog_text_is_escaped(tmp_path, flat):
    build_flat(make_project(tmp_path))
    html = (tmp_path / "build" / "gallery" / "index.html").read_text()
    assert XSS not in html and "<b>bold" not in html and "<b>boom" not in html
    data = page_data(tmp_path / "build" / "gallery" / "index.html")
    assert by_id(data)["shop/XSS/white--studio"]["product"] == XSS


def test_records_follow_the_catalog_order_and_carry_what_the_lightbox_shows(tmp_path, flat):
    build_flat(make_project(tmp_path))
    data = page_data(tmp_path / "build" / "gallery" / "index.html")
    ids = [v["id"] for v in data["variants"]]
    assert ids[:3] == ["shop/TEE/white--studio", "shop/TEE/white--sand", "shop/TEE/white--wood"]
    assert ids[-1] == "shop/XSS/white--studio" and len(ids) == 16
    v = by_id(data)["shop/TEE/navy--sand"]
    assert v["src"] == "../shop/TEE/navy--sand.webp" and v["thumb"].startswith("thumbs/")
    assert (v["tw"], v["th"]) == (240, 240) and v["colour_hex"] == "#1F2A44"
    assert "Navy" in v["prompt"] and v["backend"] == "flat" and v["model"] == "flat-1" and v["cost"] == 0.0125
    assert {f["key"] for f in data["facets"]} >= {"product", "colour", "background", "channel", "backend", "status"}


def test_failed_variants_carry_their_error_and_no_image(tmp_path, flat):
    build_flat(make_project(tmp_path))
    data = page_data(tmp_path / "build" / "gallery" / "index.html")
    v = by_id(data)["shop/MUG/boom--studio"]
    assert v["status"] == "failed" and "boom" in v["error"] and "src" not in v and "thumb" not in v
    assert data["summary"]["failed"] == 2


# --- changes ---------------------------------------------------------------------------------------

def test_a_rebuild_marks_changed_new_and_removed_variants(built):
    folder = built.parent / "build" / "gallery"
    data = page_data(folder / "index.html")
    marks = {v["id"]: v["change"] for v in data["variants"] if v.get("change")}
    assert marks == {"shop/TEE/navy--studio": "changed", "shop/TEE/navy--sand": "changed",
                     "shop/TEE/navy--wood": "changed", "shop/MUG/navy--studio": "changed",
                     "shop/MUG/navy--sand": "changed", "shop/MUG/sage--studio": "new", "shop/MUG/sage--sand": "new"}
    assert data["summary"] == {"total": 17, "new": 2, "changed": 5, "failed": 2, "removed": 1, "warnings": 0,
                               "pending": 15}  # every output made is pending review: there is no approvals.yaml
    assert [r["id"] for r in data["removed"]] == ["shop/TEE/cherry--wood"]
    assert (folder / data["removed"][0]["thumb"]).is_file()
    changed = by_id(data)["shop/TEE/navy--sand"]
    assert "colour" in changed["reasons"]
    assert changed["previous"].startswith("previous/") and (folder / changed["previous"]).is_file()
    with (Image.open(folder / changed["previous"]) as old,
          Image.open(built.parent / "build/shop/TEE/navy--sand.webp") as new):
        assert old.getpixel((120, 120)) != new.getpixel((120, 120))


def test_the_gallery_command_reproduces_the_marks_without_a_plan(built):
    from mockups.cli import main

    folder = built.parent / "build" / "gallery"
    before = page_data(folder / "index.html")
    (folder / "index.html").unlink()
    assert main(["gallery", str(built)]) == 0
    after = page_data(folder / "index.html")
    assert after == before


def test_a_build_without_the_gallery_can_still_record_its_changes(tmp_path, flat):
    from mockups.review.gallery import record_changes

    catalog = make_project(tmp_path)
    build_flat(catalog)
    catalog.write_text(CATALOG_V2)
    report = build(catalog, BuildOptions(backend="flat", gallery=False))
    path = record_changes(tmp_path / "build", report.prepared.plan, store=report.prepared.store)
    assert len(json.loads(path.read_text())["variants"]) == 7
    index = write_gallery(tmp_path / "build", load_catalog(catalog))
    assert page_data(index)["summary"] == {"total": 17, "new": 2, "changed": 5, "failed": 2, "removed": 1,
                                          "warnings": 0, "pending": 15}


def test_marks_of_variants_rebuilt_since_are_dropped(built):
    build_dir = built.parent / "build"
    entries = manifest.load(build_dir)
    doc = load_changes(build_dir / "gallery")
    entries["shop/TEE/navy--sand"] = dict(entries["shop/TEE/navy--sand"], key="f" * 64)
    entries["shop/TEE/cherry--wood"] = {"id": "shop/TEE/cherry--wood", "key": "e" * 64}
    marks, removed = current_marks(doc, entries)
    assert "shop/TEE/navy--sand" not in marks and "shop/TEE/navy--studio" in marks
    assert removed == []


def test_a_build_that_changes_nothing_keeps_the_marks_of_the_last_that_did(built):
    folder = built.parent / "build" / "gallery"
    before = page_data(folder / "index.html")
    previous = sorted(p.name for p in (folder / "previous").glob("*"))
    assert [v for v in before["variants"] if v.get("change")] and previous  # the second build's changes
    build_flat(built)  # changes nothing (the flat backend still refuses its colour)
    after = page_data(folder / "index.html")
    assert after["variants"] == before["variants"] and after["removed"] == before["removed"]
    assert sorted(p.name for p in (folder / "previous").glob("*")) == previous
    built.write_text(CATALOG)  # back to the first catalog: every variant it brings back is a change again
    build_flat(built)
    marks = {v["id"]: v.get("change") for v in page_data(folder / "index.html")["variants"] if v.get("change")}
    assert marks and marks != {v["id"]: v.get("change") for v in before["variants"] if v.get("change")}


@pytest.mark.parametrize("status, reasons, old, made, expected", [
    ("new", [], None, True, ("new", [])),
    ("changed", ["colour"], {"key": "a"}, True, ("changed", ["colour"])),
    ("cached", [], None, True, ("new", [])),
    ("cached", ["prompt"], {"key": "a"}, True, ("changed", ["prompt"])),
    ("cached", [], {"key": "k"}, True, (None, [])),
    ("unchanged", [], {"key": "k"}, True, (None, [])),
    ("missing", ["output file missing or modified"], {"key": "k"}, True, (None, [])),
    ("failed", ["boom"], {"key": "k"}, True, ("new", ["failed last time"])),
    ("failed", ["boom"], {"key": "k"}, False, (None, [])),
])
def test_classify(status, reasons, old, made, expected):
    assert classify(status, reasons, old, "k", made) == expected


def test_across_file_systems_the_compare_view_uses_the_previous_thumbnail(tmp_path, flat, monkeypatch):
    catalog = make_project(tmp_path)
    build_flat(catalog)

    def no_link(*args, **kwargs):
        raise OSError("Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_link)
    catalog.write_text(CATALOG_V2)
    build_flat(catalog)
    folder = tmp_path / "build" / "gallery"
    v = by_id(page_data(folder / "index.html"))["shop/TEE/navy--sand"]
    assert v["previous"] == v["previous_thumb"] and (folder / v["previous"]).is_file()
    assert all(p.name.endswith(".thumb.jpg") for p in (folder / "previous").iterdir())  # opaque outputs


def test_changes_from_a_plan_without_a_cache_have_no_previous_images(built, tmp_path):
    prepared = prepare(built, BuildOptions(backend="flat", force=True))
    doc = changes_from_plan(prepared.plan, manifest.load(prepared.build_dir), None, tmp_path / "g")
    assert doc["variants"]["shop/TEE/white--studio"] == {"change": "changed", "key": prepared.plan.items[0].job.key,
                                                         "reasons": ["--force"]}
    assert not (tmp_path / "g").exists()


# --- thumbnails ------------------------------------------------------------------------------------

def test_thumbnails_come_from_the_cache_or_are_made_from_the_output(tmp_path, flat):
    catalog = make_project(tmp_path, CATALOG.replace("240x240", "800x600"))
    build_flat(catalog)
    build_dir, folder = tmp_path / "build", tmp_path / "build" / "gallery"
    data = page_data(folder / "index.html")
    ok = [v for v in data["variants"] if v["status"] == "ok"]
    assert len(list((folder / "thumbs").glob("*.jpg"))) == len(ok)  # opaque outputs: JPEG thumbnails
    store = ObjectStore(tmp_path / ".mockups-cache")
    for key in store.keys():
        for ext in THUMB_EXTS:
            store.thumb_file(key, ext).unlink(missing_ok=True)
    for p in (folder / "thumbs").glob("*"):
        p.unlink()
    write_gallery(build_dir, load_catalog(catalog), store=store)
    v = by_id(page_data(folder / "index.html"))["shop/TEE/navy--sand"]
    assert (v["tw"], v["th"]) == thumb_size([800, 600]) == (THUMB_SIDE, 270)
    with Image.open(folder / v["thumb"]) as im:
        assert im.format == "JPEG" and im.size == (THUMB_SIDE, 270)


def test_a_cache_of_an_earlier_version_serves_its_webp_thumbnails(tmp_path, flat):
    """Caches made before thumbnails were JPEGs hold `.thumb.webp` files: the gallery and the contact
    sheets still use them rather than making new ones from the outputs."""
    catalog = make_project(tmp_path)
    build_flat(catalog)
    store = ObjectStore(tmp_path / ".mockups-cache")
    marker = Image.new("RGB", (THUMB_SIDE, THUMB_SIDE), (255, 0, 255))  # no variant is magenta
    for key in store.keys():
        store.thumb_file(key, "jpg").unlink()
        marker.save(store.thumb_file(key, "webp"), "WEBP")
    build_dir, folder = tmp_path / "build", tmp_path / "build" / "gallery"
    shutil.rmtree(folder)
    write_gallery(build_dir, load_catalog(catalog), store=store)
    v = by_id(page_data(folder / "index.html"))["shop/TEE/navy--sand"]
    assert v["thumb"].endswith(".webp")
    with Image.open(folder / v["thumb"]) as im:
        assert im.format == "WEBP"
        assert max(abs(a - b) for a, b in zip(im.convert("RGB").getpixel((5, 5)), (255, 0, 255), strict=True)) <= 8
    from mockups.review.grid import _cell_image

    cell = _cell_image({"status": "ok", "key": store.keys().pop(), "output": "nowhere.webp"}, build_dir, store)
    assert max(abs(a - b) for a, b in zip(cell.getpixel((100, 100)), (255, 0, 255), strict=True)) <= 8


def test_the_gallery_benchmark_synthesises_its_cache_of_thumbnails(tmp_path):
    """benchmarks/bench_gallery.py writes its seed thumbnails into a store (it broke when the store's
    thumbnail path became None for an object without one)."""
    import importlib.util

    from tests.conftest import REPO

    spec = importlib.util.spec_from_file_location("bench_gallery", REPO / "benchmarks" / "bench_gallery.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    build_dir, store = bench.synthesise(tmp_path, 40)
    ok = [e for e in json.loads((build_dir / "manifest.json").read_text())["variants"].values() if e["status"] == "ok"]
    assert ok and all(store.read_thumb(e["key"]) for e in ok)


def test_thumbnails_of_variants_gone_are_pruned(built):
    folder = built.parent / "build" / "gallery"
    data = page_data(folder / "index.html")
    assert {p.name for p in (folder / "thumbs").iterdir()} == {Path(v["thumb"]).name for v in data["variants"]
                                                             if v.get("thumb")}


# --- theming ---------------------------------------------------------------------------------------

def test_a_project_overrides_a_block_and_the_custom_stylesheet(tmp_path, flat):
    catalog = make_project(tmp_path)
    write_tree(tmp_path, {
        "templates/gallery.html.j2": '{% extends "gallery-base.html.j2" %}'
                                     '{% block brand %}<h1>ACME proofs for {{ title }}</h1>{% endblock %}',
        "templates/gallery-custom.css": ":root { --accent: #0b6e4f; }\n",
    })
    build_flat(catalog)
    folder = tmp_path / "build" / "gallery"
    assert f"<h1>ACME proofs for {tmp_path.name}</h1>" in (folder / "index.html").read_text()
    assert (folder / "gallery-custom.css").read_text() == ":root { --accent: #0b6e4f; }\n"
    assert "--accent: #2747c9" in (folder / "gallery.css").read_text()


def test_a_broken_gallery_template_names_its_file_and_line(tmp_path, flat):
    catalog = make_project(tmp_path)
    write_tree(tmp_path, {"templates/gallery.html.j2": "<h1>\n{% if %}\n"})
    with pytest.raises(TemplateError, match=r"templates/gallery.html.j2:2: syntax error"):
        build_flat(catalog)


def test_an_empty_build_still_writes_a_page(tmp_path, flat):
    catalog = make_project(tmp_path)
    path = write_gallery(tmp_path / "build", load_catalog(catalog))
    data = page_data(path)
    assert data["variants"] == [] and data["summary"]["total"] == 0


# --- one sandbox for prompts and the theme ------------------------------------------------------------

def test_the_theme_and_the_prompts_share_one_sandbox(tmp_path):
    from mockups._sandbox import Sandbox
    from mockups.prompts import environment
    from mockups.review.gallery import theme_environment

    for env in (theme_environment(None), theme_environment(tmp_path), environment(None), environment(tmp_path)):
        assert type(env) is Sandbox and env.undefined is jinja2.StrictUndefined
    assert theme_environment(None).autoescape is True and environment(None).autoescape is False


@pytest.mark.parametrize("expression, refusal", [
    ("('a'*200000)|length", "the result would have more than 100,000 items"),
    ("([0]*200000)|length", "the result would have more than 100,000 items"),
    ("2 ** 1000", "an exponent of 1000 is too large (at most 100)"),
])
def test_a_gallery_theme_is_bounded_as_a_prompt_template_is(tmp_path, flat, expression, refusal):
    catalog = make_project(tmp_path)
    write_tree(tmp_path, {"templates/gallery.html.j2": '{% extends "gallery-base.html.j2" %}\n'
                                                       f'{{% block intro %}}<p>{{{{ {expression} }}}}</p>'
                                                       '{% endblock %}'})
    with pytest.raises(TemplateError) as in_gallery:
        build_flat(catalog)
    (tmp_path / "templates" / "gallery.html.j2").unlink()
    write_tree(tmp_path, {"templates/product-photo.j2": f"A photo.\n{{{{ {expression} }}}}\n"})
    with pytest.raises(TemplateError) as in_prompt:
        build_flat(catalog)
    assert str(in_gallery.value) == (f"templates/gallery.html.j2:2: not allowed in a template: {refusal} "
                                     "(while rendering the gallery)")
    assert str(in_prompt.value) == (f"templates/product-photo.j2:2: not allowed in a template: {refusal} "
                                    "(while rendering shop/TEE/white--studio)")


def test_a_gallery_template_error_names_its_file_and_line_instead_of_a_traceback(tmp_path, flat):
    catalog = make_project(tmp_path)
    write_tree(tmp_path, {"templates/gallery.html.j2": '{% extends "gallery-base.html.j2" %}\n\n'
                                                       '{% block intro %}{{ 1 / 0 }}{% endblock %}'})
    with pytest.raises(TemplateError, match=r"^templates/gallery.html.j2:3: division by zero \(while rendering "
                                            r"the gallery\)$"):
        build_flat(catalog)


# --- warnings -------------------------------------------------------------------------------------------

class WarningFlat(FlatBackend):
    """The flat backend, with a warning about the tee's photo on every tee."""

    name = "warning-flat"

    def render(self, job) -> Rendered:
        rendered = super().render(job)
        if job.variant.product.sku == "TEE":
            rendered.warnings.append("tee.png: the automatic cut-out has low confidence (0.12); give the product "
                                     "a `mask:` file (white = product)")
        return rendered


def test_warnings_reach_the_page_data_the_summary_and_the_status_filter(tmp_path, monkeypatch):
    monkeypatch.setitem(base.BUILTIN, "flat", "tests.test_gallery:WarningFlat")
    catalog = make_project(tmp_path)
    build_flat(catalog)
    data = page_data(tmp_path / "build" / "gallery" / "index.html")
    warned = {v["id"] for v in data["variants"] if v.get("warnings")}
    assert warned == {v["id"] for v in data["variants"] if v["sku"] == "TEE"} and len(warned) == 9
    assert by_id(data)["shop/TEE/navy--sand"]["warnings"] == [
        "tee.png: the automatic cut-out has low confidence (0.12); give the product a `mask:` file (white = product)"]
    assert data["summary"]["warnings"] == 9
    status = next(f for f in data["facets"] if f["key"] == "status")
    assert [v["id"] for v in status["values"]] == ["new", "changed", "failed", "unchanged", "warnings", "pending",
                                                   "approved", "rejected"]
    html = (tmp_path / "build" / "gallery" / "index.html").read_text()
    assert re.search(r'data-status="warnings"[^>]*><b>9</b> with warnings</button>', html)
