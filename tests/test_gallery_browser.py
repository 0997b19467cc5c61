"""The gallery in headless Chromium: offline loading, filters, search, lightbox, change marks, XSS.

Every page is opened from file:// with every request recorded: only files under the build folder may
be requested, and the console must stay free of errors (a CSP violation is one). Screenshots of the
grid, the lightbox, the compare view, the matrix and the phone layout go to `test-artifacts/`.

Without Chromium or Playwright the tests are skipped with how to install them, unless
MOCKUPS_REQUIRE_BROWSER=1 is set, in which case they fail.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import REPO
from tests.test_gallery import XSS, by_id, page_data, register_flat, two_builds

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("MOCKUPS_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ARTIFACTS = REPO / "test-artifacts"
PROBE = """
window.__xss = 0;
window.alert = window.confirm = window.prompt = () => { window.__xss += 1; };
addEventListener('error', (e) => {
  const t = e.target;
  if (t && t.getAttribute && t.getAttribute('src') === 'x') window.__xss += 1;
}, true);
"""


def _unavailable(reason: str):
    message = f"{reason}: install it with `apt-get install chromium` and `pip install -e .[test]`"
    if os.environ.get("MOCKUPS_REQUIRE_BROWSER") == "1":
        pytest.fail(message + " (MOCKUPS_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        _unavailable("Playwright's Python package is not installed")
    if not CHROMIUM.exists():
        _unavailable(f"Chromium is not at {CHROMIUM}")
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        except Error as e:
            _unavailable(f"Chromium did not start ({e.message.splitlines()[0]})")
        yield b
        b.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The build folder of a project built twice (navy changed, sage added, one variant removed)."""
    root = tmp_path_factory.mktemp("gallery")
    with pytest.MonkeyPatch.context() as mp:
        register_flat(mp)
        two_builds(root)
    return root / "build"


@pytest.fixture(scope="module")
def data(site) -> dict:
    return page_data(site / "gallery" / "index.html")


class Log:
    """A page's console errors and requests; `check()`: no error, and no request outside `allowed`
    (a build folder opened from disk, or the origin of the server that shows it)."""

    def __init__(self, page, allowed: Path | str):
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.allowed = (allowed.resolve().as_uri() if isinstance(allowed, Path) else allowed) + "/"
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))

    def check(self) -> None:
        assert self.errors == []
        outside = [u for u in self.requests if not (u.startswith(self.allowed) or u.startswith("data:"))]
        assert outside == []


@pytest.fixture
def open_gallery(browser, site):
    """open_gallery(hash='', width=1280, height=860, build=site) -> page; checks its log at the end."""
    opened = []

    def go(hash: str = "", width: int = 1280, height: int = 860, build: Path = site):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        log = Log(page, build)
        page.add_init_script(PROBE)
        page.goto((build / "gallery" / "index.html").as_uri() + hash)
        page.wait_for_selector("html[data-ready]")
        opened.append((context, log))
        return page

    yield go
    for context, log in opened:
        context.close()
        log.check()


def wait_until(page, expression: str, timeout: float = 5.0) -> None:
    """Poll a JS expression (page.wait_for_function evaluates strings, which the page's CSP forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {expression}")
        page.wait_for_timeout(20)


def hash_has(page, text: str) -> None:
    """The URL hash is written a moment after a change (replaceState is coalesced)."""
    wait_until(page, f"location.hash.includes({json.dumps(text)})")


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    wait_until(page, "[...document.images].filter(i => i.getBoundingClientRect().bottom > 0 && "
                     "i.getBoundingClientRect().top < innerHeight && i.src && i.checkVisibility())"
                     ".every(i => i.complete)")
    page.screenshot(path=str(ARTIFACTS / name))


def count(page) -> str:
    return page.text_content("#count")


def ids_on_page(page) -> list[str]:
    return page.eval_on_selector_all(".card", "cs => cs.map(c => c.dataset.i)")


# --- loading ------------------------------------------------------------------------------------

def test_loads_from_disk_with_no_errors_and_no_network(open_gallery, data, site):
    page = open_gallery()
    assert count(page) == "17 variants"
    assert len(ids_on_page(page)) == 17
    assert page.evaluate("performance.getEntriesByName('gallery:first-render').length") == 1
    imgs = page.eval_on_selector_all(".card img", "is => is.map(i => ['loading', 'width', 'height']"
                                                   ".map(a => i.getAttribute(a)))")
    assert imgs and all(i == ["lazy", "240", "240"] for i in imgs)
    assert page.text_content(".card-title") == "Classic Tee"
    assert page.get_attribute(".card img", "alt") == "Classic Tee in White, Studio background"
    shot(page, "gallery-grid.png")


# --- filters and search ----------------------------------------------------------------------------

def test_filters_combine_show_counts_and_live_in_the_url(open_gallery, data):
    page = open_gallery()
    page.check('input[data-facet="colour"][value="navy"]')
    navy = [v for v in data["variants"] if v["colour"] == "navy"]
    assert count(page) == f"{len(navy)} of 17 variants" and len(ids_on_page(page)) == len(navy)
    facet_count = page.text_content('input[data-facet="product"][value="MUG"] ~ .opt-count')
    assert facet_count == str(sum(1 for v in navy if v["sku"] == "MUG"))
    page.check('input[data-facet="product"][value="MUG"]')
    page.check('input[data-facet="background"][value="sand"]')
    assert count(page) == "1 of 17 variants"
    page.uncheck('input[data-facet="background"][value="sand"]')
    assert count(page) == "2 of 17 variants"
    wait_until(page, "location.hash === '#product=MUG&colour=navy'")
    again = open_gallery("#product=MUG&colour=navy")
    assert again.is_checked('input[data-facet="colour"][value="navy"]')
    assert count(again) == "2 of 17 variants"
    again.click("#reset")
    assert count(again) == "17 variants"
    wait_until(again, "location.href.indexOf('#') < 0")


def test_status_filter_and_chips_find_new_changed_and_failed(open_gallery):
    page = open_gallery()
    page.click('.chip[data-status="changed"]')
    assert count(page) == "5 of 17 variants"
    assert page.locator(".card .badge-changed").count() == 5
    page.click('.chip[data-status="new"]')
    assert count(page) == "2 of 17 variants"
    hash_has(page, "status=new")
    page.check('input[data-facet="status"][value="failed"]')
    assert count(page) == "4 of 17 variants"


def test_search_finds_a_variant_by_sku_name_or_prompt(open_gallery):
    page = open_gallery()
    page.fill("#q", "XSS")
    wait_until(page, "document.getElementById('count').textContent.startsWith('1 of')")
    page.fill("#q", "navy sand")
    wait_until(page, "document.getElementById('count').textContent === '2 of 17 variants'")
    page.fill("#q", "cherry red")  # in the colour name and the rendered prompt
    wait_until(page, "document.getElementById('count').textContent === '2 of 17 variants'")
    page.fill("#q", "no such thing")
    page.wait_for_selector("#empty:not([hidden])")
    page.click("#empty-reset")
    assert count(page) == "17 variants" and page.input_value("#q") == ""


# --- lightbox ---------------------------------------------------------------------------------------

def test_lightbox_opens_navigates_with_the_keyboard_and_returns_focus(open_gallery, data):
    page = open_gallery()
    page.focus('.card[data-pos="0"]')
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.pos") == "1"
    page.keyboard.press("Enter")
    page.wait_for_selector("#lightbox[open]")
    second = data["variants"][1]
    assert page.text_content("#lb-pos") == "2 / 17"
    assert page.text_content("#lb-prompt") == second["prompt"]
    hash_has(page, "v=shop%2FTEE%2Fwhite--sand")
    page.keyboard.press("ArrowRight")
    third = data["variants"][2]
    assert page.text_content("#lb-title") == f"{third['product']} — {third['colour_name']} · {third['background_name']}"
    assert page.get_attribute("#lb-img", "src") == third["src"]
    assert page.get_attribute("#lb-download", "href") == third["src"]
    dl = page.text_content("#lb-dl")
    for text in (third["sku"], "White", "#F4F4F2", "shop · 240×240 · webp", "flat · flat-1", "$0.0125",
                 third["output"]):
        assert text in dl
    wait_until(page, "document.getElementById('lb-img').complete")
    shot(page, "gallery-lightbox.png")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert page.text_content("#lb-pos") == "1 / 17" and page.is_disabled("#lb-prev")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Escape")
    page.wait_for_selector("#lightbox", state="hidden")
    assert page.evaluate("document.activeElement.dataset.pos") == "1"
    wait_until(page, "!location.hash.includes('v=')")


def test_a_linked_variant_opens_in_the_lightbox(open_gallery, data):
    target = by_id(data)["shop/MUG/navy--sand"]
    page = open_gallery("#colour=navy&v=" + target["id"])
    page.wait_for_selector("#lightbox[open]")
    assert page.text_content("#lb-pos") == "5 / 5"


def test_changed_variants_compare_with_the_previous_build(open_gallery, data):
    page = open_gallery("#status=changed")
    page.click(".card >> nth=1")
    page.wait_for_selector("#lightbox[open]")
    assert page.is_visible("#lb-modes")
    assert "colour" in page.text_content("#lb-dl")
    page.click('#lb-modes [data-mode="slider"]')
    assert page.is_visible("#lb-slider")
    wait_until(page, "document.getElementById('lb-prev-img').naturalWidth > 0")
    page.fill("#lb-slider", "30")
    assert "inset(0px 0px 0px 30%)" in page.evaluate("document.querySelector('.lb-fig-cur').style.clipPath")
    page.keyboard.press("ArrowRight")  # on the slider: moves the slider, not the variant
    assert page.text_content("#lb-pos") == "2 / 5"
    shot(page, "gallery-compare-slider.png")
    page.click('#lb-modes [data-mode="side"]')
    shot(page, "gallery-compare-side.png")


def test_failed_variants_show_their_error_instead_of_an_image(open_gallery):
    page = open_gallery("#status=failed")
    assert page.locator(".card .is-failed").count() == 2
    assert page.locator(".card img").count() == 0
    assert "<b>boom</b>" in page.text_content(".card .failed-error")
    shot(page, "gallery-failed.png")
    page.click(".card >> nth=0")
    assert page.is_visible("#lb-error") and not page.is_visible("#lb-frame")
    assert "<b>boom</b>" in page.text_content("#lb-error-text") and page.is_hidden("#lb-download")


def test_removed_variants_are_listed(open_gallery):
    page = open_gallery()
    page.click('.chip[data-show="removed"]')
    assert page.evaluate("document.getElementById('removed').open")
    assert "shop/TEE/cherry--wood" in page.text_content("#removed")


# --- safety -------------------------------------------------------------------------------------------

def test_the_xss_probe_stays_inert_and_shows_as_text(open_gallery):
    page = open_gallery("#q=XSS")
    assert page.text_content(".card-title") == XSS
    page.click(".card")
    page.wait_for_selector("#lightbox[open]")
    assert page.text_content("#lb-title").startswith(XSS)
    page.click("#lb-close")
    page.click("#view-matrix")
    assert XSS in page.text_content("#matrix caption")
    assert XSS in page.text_content("#matrix-group")
    page.wait_for_timeout(100)
    assert page.evaluate("window.__xss") == 0
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    assert page.evaluate("[...document.querySelectorAll('b')].every(b => !/bold|boom/.test(b.textContent))")


# --- warnings -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def warned_site(tmp_path_factory) -> Path:
    """The minimal project, built twice by the local backend, with the tee photographed on noise.

    The automatic cut-out of the tee (`photo: cutout`) has low confidence, so its 4 variants carry that warning; the
    second build changes nothing, so no variant is marked new and the warnings are all that shows.
    """
    from mockups import BuildOptions, build
    from tests.conftest import MINIMAL, tiny_logo, tiny_product, write_tree
    from tests.test_warnings import noise_jpeg

    root = tmp_path_factory.mktemp("warned")
    write_tree(root, {"assets/tee.jpg": noise_jpeg(), "assets/mug.png": tiny_product(colour=(240, 240, 240)),
                      "assets/wood.png": Image.new("RGB", (160, 120), (150, 110, 70)), "assets/logo.png": tiny_logo(),
                      "catalog.yaml": MINIMAL.replace("image: assets/tee.png",
                                                      "image: assets/tee.jpg\n    photo: cutout")})
    build(root / "catalog.yaml", BuildOptions(jobs=2))
    # a page with no "new" marks: a build that changes nothing keeps the last changes' marks, so forget them
    (root / "build" / "gallery" / "changes.json").unlink()
    build(root / "catalog.yaml", BuildOptions(jobs=2))
    return root / "build"


def cards(page) -> list[list]:
    """[title, has a warning badge, the badge's title] of every card on the page."""
    return page.eval_on_selector_all(".card", "cs => cs.map(c => { const b = c.querySelector('.badge-warning'); "
                                              "return [c.querySelector('.card-title').textContent, !!b, "
                                              "b && b.title]; })")


def test_warnings_show_on_the_affected_cards_only_and_filter_the_grid(open_gallery, warned_site):
    page = open_gallery(build=warned_site)
    assert count(page) == "8 variants"
    shown = cards(page)
    assert sorted(t for t, badge, _ in shown if badge) == ["Tee"] * 4
    assert sorted(t for t, badge, _ in shown if not badge) == ["Mug"] * 4
    tips = {tip for _, badge, tip in shown if badge}
    assert len(tips) == 1 and tips.pop().startswith("tee.jpg: the automatic cut-out has low confidence (")
    assert page.locator(".badge").count() == 4  # nothing new or changed: only the warnings
    assert page.text_content('.chip[data-status="warnings"]') == "4 with warnings"

    page.click('.chip[data-status="warnings"]')
    assert count(page) == "4 of 8 variants"
    assert [(t, badge) for t, badge, _ in cards(page)] == [("Tee", True)] * 4
    assert page.is_checked('input[data-facet="status"][value="warnings"]')
    assert page.get_attribute('.chip[data-status="warnings"]', "aria-pressed") == "true"
    hash_has(page, "status=warnings")
    shot(page, "gallery-warnings.png")

    page.click(".card >> nth=0")
    page.wait_for_selector("#lightbox[open]")
    assert page.text_content("#lb-pos") == "1 / 4"
    assert "Warning" in page.text_content("#lb-badges")
    assert "tee.jpg: the automatic cut-out has low confidence (" in page.text_content("#lb-dl .lb-warnings")
    page.keyboard.press("Escape")

    linked = open_gallery("#status=warnings", build=warned_site)
    assert count(linked) == "4 of 8 variants" and all(badge for _, badge, _ in cards(linked))
    linked.check('input[data-facet="status"][value="unchanged"]')  # values of one filter are alternatives
    assert count(linked) == "8 variants"
    linked.uncheck('input[data-facet="status"][value="warnings"]')
    assert count(linked) == "8 variants"
    linked.click("#reset")
    linked.fill("#q", "low confidence")  # the search reads the warnings too
    wait_until(linked, "document.getElementById('count').textContent === '4 of 8 variants'")


# --- matrix and layout ------------------------------------------------------------------------------

def test_matrix_shows_colours_by_backgrounds_and_opens_cells(open_gallery):
    page = open_gallery()
    page.click("#view-matrix")
    hash_has(page, "view=matrix")
    assert page.locator("#matrix tbody tr").count() == 3
    assert page.eval_on_selector_all("#matrix thead th", "ths => ths.map(t => t.textContent)") == \
        ["Studio", "Sand", "Oak table"]
    assert page.locator("#matrix .m-empty").count() == 1  # TEE cherry on oak was excluded
    shot(page, "gallery-matrix.png")
    page.select_option("#matrix-group", "MUG|shop|")
    assert page.locator("#matrix tbody tr").count() == 4
    hash_has(page, "group=MUG")
    page.click("#matrix .mcell >> nth=0")
    page.wait_for_selector("#lightbox[open]")
    assert page.text_content("#lb-pos") == "1 / 8"
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.classList.contains('mcell')")


def test_readable_on_a_phone(open_gallery):
    page = open_gallery(width=375, height=812)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    tops = page.eval_on_selector_all(".card",
                                     "cs => cs.slice(0, 3).map(c => Math.round(c.getBoundingClientRect().top))")
    assert tops[0] == tops[1] != tops[2]  # two columns
    assert not page.is_visible("#filters")
    shot(page, "gallery-phone.png")
    page.click("#filters-toggle")
    assert page.is_visible("#filters")
    page.click("#filters-toggle")
    # the fourth card is below the fold: scrolled to first, and clicked once the virtualised grid has
    # rendered the rows it scrolled to (a click in the same moment as the scroll can land on a card
    # the grid is replacing, and a clock-ahead CI pass saw the lightbox never open)
    page.wait_for_selector("#filters", state="hidden")
    page.locator(".card >> nth=3").scroll_into_view_if_needed()
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 50))))")
    page.click(".card >> nth=3")
    page.wait_for_selector("#lightbox[open]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    shot(page, "gallery-phone-lightbox.png")


# --- scale ----------------------------------------------------------------------------------------------

def synthetic_build(folder: Path, n: int) -> Path:
    """A build folder with a manifest of n variants and their (tiny) thumbnails, no images."""
    from mockups.engine import manifest
    from mockups.review.gallery import write_gallery

    thumbs = folder / "gallery" / "thumbs"
    thumbs.mkdir(parents=True)
    Image.new("RGB", (24, 24), "#8899aa").save(thumbs / "seed.webp")
    seed = (thumbs / "seed.webp").read_bytes()
    entries = {}
    for k in range(n):
        sku, colour, bg = f"SKU-{k // 100:03d}", f"c{(k // 10) % 10}", f"b{k % 10}"
        vid, key = f"shop/{sku}/{colour}--{bg}", f"{k:064x}"
        (thumbs / f"{key}.webp").write_bytes(seed)
        entries[vid] = {"id": vid, "sku": sku, "product": f"Product {sku}", "colour": colour,
                        "colour_name": f"Colour {colour}", "colour_hex": "#336699", "background": bg,
                        "background_name": f"Background {bg}", "channel": "shop", "size": [1024, 1024],
                        "format": "webp", "output": f"{vid}.webp", "key": key, "backend": "flat",
                        "prompt": f"prompt for {vid}", "status": "ok", "cost": 0.0}
    (folder / manifest.NAME).write_text(json.dumps({"version": 1, "variants": entries}))
    write_gallery(folder, None)
    return folder


def test_a_large_gallery_keeps_the_dom_small(open_gallery, tmp_path):
    build = synthetic_build(tmp_path / "build", 3000)
    page = open_gallery(build=build)
    assert count(page) == "3,000 variants"
    assert page.locator(".card").count() < 200
    page.focus('.card[data-pos="0"]')
    page.keyboard.press("End")
    assert page.evaluate("document.activeElement.textContent").startswith("Product SKU-029")
    assert page.locator(".card").count() < 200
    page.check('input[data-facet="product"][value="SKU-007"]')
    assert count(page) == "100 of 3,000 variants"


# --- review: approve and reject in the static gallery, export, merge ---------------------------------

@pytest.fixture
def reviewed(tmp_path) -> Path:
    """A project built, every output approved, then built again with navy changed and sage added:
    navy's variants are pending (changed, one group), sage's pending (new). Returns the catalog."""
    from mockups import BuildOptions, build
    from mockups.cli import main
    from tests.test_gallery import CATALOG_V2, make_project

    root = tmp_path / "review"
    with pytest.MonkeyPatch.context() as mp:
        register_flat(mp)
        catalog = make_project(root)
        build(catalog, BuildOptions(backend="flat"))
        assert main(["approve", str(catalog), "--backend", "flat", "--by", "Ana"]) == 0
        catalog.write_text(CATALOG_V2)
        build(catalog, BuildOptions(backend="flat"))
    return catalog


def test_review_with_the_keyboard_and_export_the_decisions(open_gallery, reviewed, tmp_path):
    from mockups.cli import main
    from mockups.review import approvals

    build_dir = reviewed.parent / "build"
    data = page_data(build_dir / "gallery" / "index.html")
    pending = [v for v in data["variants"] if v.get("review", {}).get("state") == "pending"]
    changed = [v["id"] for v in pending if v["review"]["change"] == "changed"]
    assert pending and changed and data["summary"]["pending"] == len(pending)
    page = open_gallery(build=build_dir)
    assert page.text_content("#review-pending") == str(len(pending))
    page.click('.chip[data-status="pending"]')
    assert count(page) == f"{len(pending)} of {len(data['variants'])} variants"
    first = page.eval_on_selector_all(".card", "cs => cs.map(c => c.dataset.i)")[0]
    page.click(f'.card[data-i="{first}"]')
    page.wait_for_selector("#lightbox[open]")
    shot(page, "review-lightbox.png")
    page.keyboard.press("a")  # approve, and on to the next
    page.fill("#lb-note", "logo too low")
    page.press("#lb-note", "Enter")  # reject with the note
    page.keyboard.press("Escape")
    wait_until(page, "document.getElementById('review-here').textContent === '2'")
    assert page.text_content("#review-pending") == str(len(pending) - 2)
    ids = [v["id"] for v in data["variants"]]
    shown = [ids[int(i)] for i in page.eval_on_selector_all(".card", "cs => cs.map(c => c.dataset.i)")]
    assert shown == [v["id"] for v in pending][2:]  # decided ones leave the pending filter
    # approve the rest of navy's change at once
    target = next(vid for vid in changed if vid in shown)
    page.click(f'.card[data-i="{ids.index(target)}"]')
    page.wait_for_selector("#lightbox[open]")
    group = [vid for vid in changed if vid in shown]
    page.click(f"text=Approve all {len(group)} in this group")
    page.keyboard.press("Escape")
    with page.expect_download() as found:
        page.click("#review-export")
    exported = tmp_path / "decisions.json"
    found.value.save_as(exported)
    decisions = {d["variant"]: d for d in json.loads(exported.read_text())["decisions"]}
    by = by_id(data)
    assert decisions[shown_first := [v["id"] for v in pending][0]]["state"] == "approved"
    assert decisions[[v["id"] for v in pending][1]] | {"sha256": None} == {
        "variant": [v["id"] for v in pending][1], "sha256": None, "state": "rejected", "note": "logo too low"}
    assert all(decisions[vid]["state"] == "approved" for vid in group)
    assert all(d["sha256"] == by[vid]["sha256"] for vid, d in decisions.items())
    with pytest.MonkeyPatch.context() as mp:
        register_flat(mp)
        assert main(["approve", str(reviewed), "--backend", "flat", "--from", str(exported), "--by", "Bo"]) == 0
    merged = approvals.load(reviewed.parent / "approvals.yaml")
    assert merged[shown_first].state == "approved" and merged[shown_first].by == "Bo"
    assert merged[[v["id"] for v in pending][1]].note == "logo too low"


def serving(catalog: Path, rebuild, *, reviewer: str, watch: bool = True):
    """`mockups serve`'s server for the project of `catalog` on a free port, started."""
    from mockups import load_catalog
    from mockups.engine.cache import ObjectStore
    from mockups.review.gallery import write_gallery
    from mockups.review.serve import Server

    build_dir = catalog.parent / "build"
    server = Server(catalog, build_dir, rebuild=rebuild, port=0, reviewer=reviewer, watch=watch,
                    write_gallery=lambda: write_gallery(build_dir, load_catalog(catalog),
                                                        store=ObjectStore(catalog.parent / ".mockups-cache")))
    server.start()
    return server


def test_in_mockups_serve_a_card_approved_is_written_to_approvals_yaml(browser, reviewed):
    """Served, the page writes decisions straight to approvals.yaml (no export), and a page of
    another origin cannot (its fetch is refused)."""
    from mockups.review import approvals
    from mockups.review.serve import wait_for

    build_dir = reviewed.parent / "build"
    server = serving(reviewed, lambda: "", reviewer="Served <s@example.com>", watch=False)
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    try:
        page = context.new_page()
        log = Log(page, server.origin)
        page.goto(server.url)
        page.wait_for_selector("html[data-ready]")
        assert "Served by mockups serve" in page.text_content(".review-note")
        page.click('.chip[data-status="pending"]')
        vid = page.eval_on_selector(".card", "c => c.closest('.cell') && c.dataset.i")
        target = page_data(build_dir / "gallery" / "index.html")["variants"][int(vid)]["id"]
        page.click(".cell >> nth=0 >> .review-approve")
        file = reviewed.parent / approvals.NAME
        ok = wait_for(lambda: approvals.load(file).get(target) is not None
                      and approvals.load(file)[target].by == "Served <s@example.com>", timeout=10)
        assert ok, (log.errors, page.text_content(".review-note"), target, approvals.load(file).get(target))
        log.check()
        # a page elsewhere (another origin, without the token) posting a real decision changes nothing
        other_id = next(v for v in page_data(build_dir / "gallery" / "index.html")["variants"]
                        if v.get("review", {}).get("state") == "pending" and v["id"] != target)
        before = file.read_bytes()
        other = context.new_page()
        other.goto("about:blank")
        body = json.dumps({"decisions": [{"variant": other_id["id"], "sha256": other_id["sha256"],
                                          "state": "approved"}]})
        other.evaluate("""([url, body]) => fetch(url, {method: 'POST', body: body,
                           headers: {'Content-Type': 'text/plain'}}).then(r => r.status, e => 'blocked')""",
                       [server.origin + "/api/decisions", body])
        other.wait_for_timeout(300)
        assert file.read_bytes() == before  # its old decision (of an earlier output) still stands alone
        assert approvals.load(file)[other_id["id"]].sha256 != other_id["sha256"]
    finally:
        context.close()
        server.stop()


def test_the_print_area_editor_drags_a_corner_saves_and_the_preview_follows(browser, project, log):
    """In mockups serve: drag the top-left corner, Save; catalog.yaml changes on that line only, the
    project is rebuilt (the watcher) and the preview shows the new build."""
    import difflib

    from mockups import BuildOptions, build
    from mockups.cli.commands import summary_line
    from mockups.review.serve import wait_for

    path = project()
    options = BuildOptions(backend="tests.backends_for_tests:Recording")
    build(path, options)
    before = path.read_text()
    server = serving(path, lambda: summary_line(build(path, options)), reviewer="Ana")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        log = Log(page, server.origin)
        page.goto(server.origin + "/edit/TEE")
        page.wait_for_selector("html[data-ready]")
        assert page.text_content("#corners") == "[[40,30],[88,30],[88,78],[40,78]]"
        wait_until(page, "document.getElementById('silhouette').complete")
        # the silhouette layer: clear on the product (the tee's centre), dimmed in the photo's corner
        assert page.evaluate("document.getElementById('silhouette').naturalWidth") == 128
        box = page.locator("#overlay").bounding_box()
        scale = box["width"] / 128  # the photo is 128 px wide
        handle = page.locator('circle[data-corner="0"]').bounding_box()
        page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + 30 * scale, box["y"] + 24 * scale, steps=5)
        page.mouse.up()
        assert page.text_content("#corners") == "[[30,24],[88,30],[88,78],[40,78]]"
        page.fill("#opt-scale", "0.8")  # an option too: written beside the area
        version = server.state.version
        page.click("#save")
        assert wait_for(lambda: path.read_text() != before, timeout=10), page.text_content("#status")
        lines = difflib.unified_diff(before.splitlines(), path.read_text().splitlines(), lineterm="", n=0)
        diff = [line for line in lines if line[:1] in "+-" and line[:3] not in ("+++", "---")]
        assert diff == ["+    scale: 0.8",
                        "-    print_area: {x: 40, y: 30, width: 48, height: 48}",
                        "+    print_area: [[30, 24], [88, 30], [88, 78], [40, 78]]"]
        assert wait_for(lambda: server.state.version > version and not server.state.building, timeout=30)
        assert wait_for(lambda: "?v=" in (page.get_attribute("#preview", "src") or ""), timeout=10)
        assert "rebuilt: Done:" in page.text_content("#status")
        shot(page, "print-area-editor.png")
        log.check()
    finally:
        context.close()
        server.stop()


SERVED_PAGE = """<!doctype html><html><head><meta name="mockups-serve" content="tok"></head><body>
<script>
window.MockupsGallery = {
  V: [{id: 'web/TEE/navy--studio', sha256: 'a'.repeat(64), review: {state: 'pending', change: 'new'}}],
  el: (t) => document.createElement(t), $: (id) => document.getElementById(id), recode: () => {}, num: String,
};
sessionStorage.setItem('loads', String(Number(sessionStorage.getItem('loads') || 0) + 1));
</script>
<script src="/gallery/gallery-review.js"></script>
<script>window.MockupsGallery.initReview();</script>
</body></html>"""


def test_a_served_page_never_shows_a_decision_the_server_did_not_record(browser):
    # mockups serve: a rebuild (version 2 -> 3) replaced the output the page shows; a decision made
    # before the page hears of it is refused as stale. The page must not show it as made: it puts
    # the variant back and reloads (it used to keep "approved" and, having taken the answer's
    # version for its own, never reload)
    from mockups._resources import RESOURCES

    state = {"version": 2, "posts": [], "looks": 0}

    def answer(route):
        url = route.request.url
        if url.endswith("/gallery/index.html"):
            route.fulfill(status=200, content_type="text/html", body=SERVED_PAGE)
        elif url.endswith("/gallery/gallery-review.js"):
            route.fulfill(status=200, content_type="text/javascript",
                          body=(RESOURCES / "gallery" / "gallery-review.js").read_text())
        elif url.endswith("/api/state"):
            state["looks"] += 1
            route.fulfill(status=200, content_type="application/json",
                          body=json.dumps({"version": state["version"], "building": False}))
        elif url.endswith("/api/decisions"):
            state["posts"].append(json.loads(route.request.post_data or "{}"))
            route.fulfill(status=200, content_type="application/json", body=json.dumps(
                {"applied": 0, "stale": ["web/TEE/navy--studio"], "unknown": [], "version": state["version"]}))
        else:
            route.fulfill(status=404, body="")

    page = browser.new_page()
    try:
        page.route("http://gallery.test/**", answer)
        page.goto("http://gallery.test/gallery/index.html")
        deadline = time.monotonic() + 5
        while not state["looks"] and time.monotonic() < deadline:  # its first look at the server: version 2
            page.wait_for_timeout(20)
        assert state["looks"]
        state["version"] = 3  # a rebuild finished
        page.evaluate("() => window.MockupsGallery.decide([0], 'approved')")
        page.wait_for_function("() => sessionStorage.getItem('loads') === '2'", timeout=5000)  # reloaded
        assert state["posts"] and state["posts"][0]["decisions"][0]["state"] == "approved"
        assert page.evaluate("() => window.MockupsGallery.reviewOf(window.MockupsGallery.V[0])") == "pending"
    finally:
        page.close()
