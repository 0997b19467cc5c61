"""The print-area editor of `mockups serve`, as a merchandiser uses it: each test here is a way it
failed in a review (a phone's photo mapped in the wrong frame, a Save that made catalog.yaml
private, a Save that silently reverted an edit made meanwhile, a page of a product with placements
whose every Save is refused, the cylinder's fields wider than a phone, handles too small to touch,
corners that cannot be moved without a mouse)."""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from tests.conftest import MINIMAL, copy_bundled
from tests.test_gallery_browser import Log, browser, serving, wait_until  # noqa: F401 - the fixture
from tests.test_serve import request

SHOTS = Path(os.environ.get("MOCKUPS_EDITOR_SHOTS", "/tmp/mockups-editor-shots"))


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def _open(context, server, path: str):
    page = context.new_page()
    log = Log(page, server.origin)
    page.goto(server.origin + path)
    page.wait_for_selector("html[data-ready]")
    wait_until(page, "document.getElementById('photo').complete && document.getElementById('silhouette').complete")
    return page, log


def _drag(page, corner: int, x: float, y: float) -> None:
    """Drag a corner handle to (x, y) in the photo's pixels as the page shows the photo."""
    box = page.locator("#photo").bounding_box()
    natural = page.evaluate("[document.getElementById('photo').naturalWidth,"
                            " document.getElementById('photo').naturalHeight]")
    handle = page.locator(f'circle[data-corner="{corner}"]').bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + x * box["width"] / natural[0], box["y"] + y * box["height"] / natural[1], steps=6)
    page.mouse.up()


def _data(html: bytes) -> dict:
    return json.loads(html.split(b'id="editor-data">')[1].split(b"</script>")[0])


# --- 1. a phone's photo (EXIF orientation) ---------------------------------------------------------

def _phone_photo() -> bytes:
    """A portrait photo, 96 x 160 as shown, stored 160 x 96 with EXIF orientation 6 (as a phone
    writes it); a red block at x 10-86, y 100-150 of the photo as shown."""
    shown = Image.new("RGB", (96, 160), (205, 205, 205))
    ImageDraw.Draw(shown).rectangle((10, 100, 86, 150), fill=(200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    shown.transpose(Image.Transpose.ROTATE_90).save(buf, "JPEG", exif=exif.tobytes(), quality=95)
    return buf.getvalue()


def test_a_phone_photo_s_print_area_is_edited_in_the_photo_as_shown(browser, project):  # noqa: F811
    """The catalog's checks and the build turn the photo by its EXIF orientation (96 x 160), and so
    does the browser; the editor takes its size as stored (160 x 96): the quad is drawn 75 px below
    the red block it was measured on, and a corner cannot be dragged below y = 96."""
    path = project(MINIMAL.replace("image: assets/tee.png\n    print_area: {x: 40, y: 30, width: 48, height: 48}",
                                   "image: assets/tee.jpg\n    print_area: {x: 10, y: 100, width: 76, height: 50}"),
                   files={"assets/tee.jpg": _phone_photo()})
    server = serving(path, lambda: "", reviewer="Ana", watch=False)
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    try:
        status, html = request(server, "/edit/TEE", token=False)
        assert status == 200
        page, log = _open(context, server, "/edit/TEE")
        _shot(page, "test-phone-photo.png")
        photo, area = page.locator("#photo").bounding_box(), page.locator("#area").bounding_box()
        px = photo["height"] / 160
        assert abs(area["y"] - (photo["y"] + 100 * px)) < 3 * px, ("the quad is not drawn where its corners are", area)
        _drag(page, 2, 90, 155)
        assert json.loads(page.text_content("#corners"))[2] == [90, 155]
        page.click("#save")
        wait_until(page, "document.getElementById('status').textContent.startsWith('saved')")
        assert "print_area: [[10, 100], [86, 100], [90, 155], [10, 150]]" in path.read_text()
        assert (_data(html)["width"], _data(html)["height"]) == (96, 160)
        log.check()
    finally:
        context.close()
        server.stop()


# --- 2. catalog.yaml's permissions -----------------------------------------------------------------

def test_a_save_keeps_the_catalog_s_file_mode(project):
    """The edit is written through a temporary file (mkstemp: mode 0600) renamed over catalog.yaml:
    a catalog others could read (0644, a shared project folder, a build run as another user) is
    private to the server's user after one Save."""
    path = project()
    path.chmod(0o644)
    server = serving(path, lambda: "", reviewer="Ana", watch=False)
    try:
        status, text = request(server, "/api/print-area", body={"sku": "TEE", "placement": None,
                                                                "corners": [[20, 20], [60, 20], [60, 60], [20, 60]]})
        assert status == 200, text
        assert "[[20, 20], [60, 20], [60, 60], [20, 60]]" in path.read_text()
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, oct(stat.S_IMODE(path.stat().st_mode))
    finally:
        server.stop()


# --- 3. an edit of catalog.yaml made while the page is open ----------------------------------------

def test_a_save_does_not_silently_revert_an_edit_made_while_the_page_was_open(browser, project):  # noqa: F811
    """A colleague (or a second tab, or `git pull`) changes TEE's print area while the page is open:
    the page keeps the corners it was opened with, and its Save writes them all back over the new
    area without a word (the status says 'saved'). Either the other edit is kept or the page is
    told the print area changed since it was opened."""
    path = project()
    server = serving(path, lambda: "", reviewer="Ana", watch=False)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page, log = _open(context, server, "/edit/TEE")
        meanwhile = path.read_text().replace("print_area: {x: 40, y: 30, width: 48, height: 48}",
                                             "print_area: [[44, 34], [92, 34], [92, 86], [44, 86]]")
        path.write_text(meanwhile)
        _drag(page, 0, 36, 26)  # the merchandiser moves one corner
        page.click("#save")
        wait_until(page, "!document.getElementById('status').textContent.startsWith('saving')")
        status = page.text_content("#status")
        _shot(page, "test-stale-save.png")
        now = path.read_text()
        assert "[92, 34], [92, 86], [44, 86]" in now or "changed" in status, (status, now.splitlines()[6])
    finally:
        context.close()
        server.stop()


# --- 4. a product with placements, opened without one ----------------------------------------------

def test_a_product_with_placements_is_not_offered_an_area_of_its_own(tmp_path):
    """/edit/TEE-CLASSIC (the bundled tee has front and back placements) shows a made-up quad, a
    broken preview and a Save that is always refused ('a product with placements has its print
    areas ... in them'): the page should send the merchandiser to a placement (or say which)."""
    root = copy_bundled(tmp_path)
    path = root / "catalog.yaml"
    server = serving(path, lambda: "", reviewer="Ana", watch=False)
    try:
        status, html = request(server, "/edit/TEE-CLASSIC", token=False)
        page_offers_an_area = status == 200 and b'id="editor-data"' in html
        if page_offers_an_area:
            data = _data(html)
            status, text = request(server, "/api/print-area", body={"sku": "TEE-CLASSIC",
                                                                    "placement": data["placement"],
                                                                    "corners": data["corners"]})
            assert status == 200, f"the page offered is one whose Save is refused: {json.loads(text)['error']}"
        else:
            assert b"front" in html and b"back" in html, html[:300]  # it names the placements to edit
    finally:
        server.stop()


# --- 5. a phone's width ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    """The bundled project (photos 1024 px), served without a build: the editor needs none."""
    root = copy_bundled(tmp_path_factory.mktemp("bundled"))
    server = serving(root / "catalog.yaml", lambda: "", reviewer="Ana", watch=False)
    yield server
    server.stop()


def test_the_editor_fits_a_phone_s_width(browser, bundled):  # noqa: F811
    """The page has no <meta name="viewport"> (the gallery has one): a phone lays it out 980 px wide
    and shrinks it to 390 (its text about 5 px high). And at 390 px the mug's six fields (two
    columns of inputs of their default width) make the page 431 px wide: it scrolls sideways."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page, log = _open(context, bundled, "/edit/MUG-11OZ")
        _shot(page, "test-mug-phone.png")
        assert page.evaluate("innerWidth") == 390, "laid out for a desktop's width, then shrunk"
        log.check()
    finally:
        context.close()
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page, log = _open(context, bundled, "/edit/MUG-11OZ")
        _shot(page, "test-mug-390.png")
        width = page.evaluate("document.documentElement.scrollWidth")
        fieldset = page.locator("#options").bounding_box()
        assert width <= 390 and fieldset["x"] + fieldset["width"] <= 390, (width, fieldset)
        log.check()
    finally:
        context.close()


def test_the_corner_handles_are_big_enough_to_touch_on_a_phone(browser, bundled):  # noqa: F811
    """A handle's radius is in the photo's pixels (width / 80): on a 1024 px photo shown 350 px
    wide it is 11 px across, under the 24 px a touch target needs (and on a 128 px photo shown
    640 px wide it is 60 px across, hiding the corner it marks)."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page, log = _open(context, bundled, "/edit/TEE-CLASSIC?placement=front")
        handle = page.locator('circle[data-corner="0"]').bounding_box()
        on_screen = handle["width"] * 390 / page.evaluate("innerWidth")  # a page laid out wider is shrunk to fit
        _shot(page, "test-handles-phone.png")
        assert on_screen >= 24, (on_screen, handle)
        log.check()
    finally:
        context.close()


# --- 6. the keyboard -------------------------------------------------------------------------------

def test_a_corner_can_be_moved_with_the_keyboard(browser, bundled):  # noqa: F811
    """The handles are SVG circles that take no focus and no keys: the print area cannot be
    edited without a mouse or a finger."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page, log = _open(context, bundled, "/edit/TOTE-CANVAS")
        before = json.loads(page.text_content("#corners"))
        for _ in range(8):  # from the page's top to the first handle
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement && document.activeElement.dataset.corner !== undefined"):
                break
        else:
            pytest.fail("no corner handle takes the keyboard's focus")
        corner = int(page.evaluate("document.activeElement.dataset.corner"))
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowDown")
        after = json.loads(page.text_content("#corners"))
        assert after[corner][0] > before[corner][0] and after[corner][1] > before[corner][1], (before, after)
        log.check()
    finally:
        context.close()
