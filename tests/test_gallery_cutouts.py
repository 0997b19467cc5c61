"""The review gallery with outputs that have transparency (a cut-out channel): what a reviewer sees
(found by a review; each test but the first two failed before its fix).

A `cutout` test backend draws a square in the variant's colour on a fully transparent canvas, its
side the channel's `fill`; the project is built twice (the colour and the fill changed), so the one
variant is marked changed and opens with the compare views.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from mockups.backends import base
from mockups.backends.base import Backend, Rendered
from tests.conftest import tiny_product, write_tree
from tests.test_gallery import by_id, page_data
from tests.test_gallery_browser import browser, open_gallery, site, wait_until  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

RED, BLUE = "#D01010", "#1030D0"

CUTOUT = textwrap.dedent("""\
    version: 1
    defaults:
      backend: cutout
    channels:
      - {id: web, size: 240x240, format: png, fill: 0.9}
    products:
      - sku: TEE
        name: Tee
        image: assets/tee.png
        colours: [paint]
        backgrounds: [none]
    colours:
      - {id: paint, name: Paint, hex: "#D01010"}
    backgrounds:
      - {id: none, name: No background, colour: "#FFFFFF"}
""")
# the second build: a smaller square (fill 0.9 -> 0.4) in another colour (red -> blue)
CUTOUT_V2 = CUTOUT.replace("fill: 0.9", "fill: 0.4").replace(RED, BLUE)
VID = "web/TEE/paint--none"


class CutoutBackend(Backend):
    """A test backend: a centred square in the variant's colour on a transparent canvas."""

    name = "cutout"
    version = "1"
    parallelism = "thread"

    def render(self, job) -> Rendered:
        v = job.variant
        w, h = v.channel.size
        side = v.channel.fill * w
        image = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        image.paste(v.colour.hex, (round((w - side) / 2), round((h - side) / 2),
                                   round((w + side) / 2), round((h + side) / 2)))
        return Rendered(image, model="cutout-1", cost=0.0)


@pytest.fixture(scope="module")
def cutout_site(tmp_path_factory) -> Path:
    """The build folder of the cut-out project built twice (the square's colour and size changed)."""
    from mockups import BuildOptions, build

    root = tmp_path_factory.mktemp("cutout")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(base.BUILTIN, "cutout", "tests.test_gallery_cutouts:CutoutBackend")
        write_tree(root, {"assets/tee.png": tiny_product(), "catalog.yaml": CUTOUT})
        build(root / "catalog.yaml", BuildOptions())
        (root / "catalog.yaml").write_text(CUTOUT_V2)
        build(root / "catalog.yaml", BuildOptions())
    return root / "build"


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


def _near(pixel, colour, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def test_the_cutout_build_is_what_the_tests_below_assume(cutout_site):
    v = by_id(page_data(cutout_site / "gallery" / "index.html"))[VID]
    assert v["change"] == "changed" and v["thumb"].endswith(".webp") and v["previous"].endswith(".png")
    with Image.open(cutout_site / v["output"]) as im:
        assert im.mode == "RGBA" and im.getpixel((5, 5))[3] == 0 and im.getpixel((120, 120))[:3] == _rgb(BLUE)
    with Image.open(cutout_site / "gallery" / v["previous"]) as im:
        assert im.getpixel((5, 5))[3] == 0 and im.getpixel((200, 120))[:3] == _rgb(RED)  # the big red square


def test_a_cutout_thumbnail_shows_as_a_cutout_in_the_grid(open_gallery, cutout_site):  # noqa: F811
    page = open_gallery(build=cutout_site)
    wait_until(page, "[...document.images].every(i => i.complete)")
    assert page.evaluate("[...document.querySelectorAll('.card img')].every(i => i.naturalWidth > 0)")
    box = page.locator(".card-media").bounding_box()
    shot = Image.open(io.BytesIO(page.screenshot(clip={"x": box["x"] + 4, "y": box["y"] + box["height"] / 2,
                                                       "width": 2, "height": 2})))
    assert not _near(shot.convert("RGB").getpixel((0, 0)), (0, 0, 0))  # the tile shows through, not black


def test_the_slider_shows_only_this_build_on_its_side_of_a_cutout(open_gallery, cutout_site):  # noqa: F811
    """Slider at 50 %: right of the divider is "This build" (a small blue square on nothing). The
    previous build's big red square lies under it and must not show through the transparent part."""
    page = open_gallery("#status=changed", build=cutout_site)
    page.click(".card >> nth=0")
    page.wait_for_selector("#lightbox[open]")
    page.click('#lb-modes [data-mode="slider"]')
    wait_until(page, "document.getElementById('lb-prev-img').naturalWidth > 0 && "
                     "document.getElementById('lb-img').naturalWidth > 0")
    page.fill("#lb-slider", "50")
    box = page.locator("#lb-img").bounding_box()  # the image is square and fills its figure
    # 85 % across, half-way down: inside the previous red square (90 % of the side), outside the
    # current blue one (40 %), right of the divider
    x, y = box["x"] + box["width"] * 0.85, box["y"] + box["height"] * 0.5
    shot = Image.open(io.BytesIO(page.screenshot(clip={"x": x, "y": y, "width": 2, "height": 2}))).convert("RGB")
    pixel = shot.getpixel((0, 0))
    assert not _near(pixel, _rgb(RED)), f"the previous build shows through this build's transparency: {pixel}"
    # and left of the divider it is the previous build
    left = Image.open(io.BytesIO(page.screenshot(clip={"x": box["x"] + box["width"] * 0.15, "y": y,
                                                       "width": 2, "height": 2}))).convert("RGB")
    assert _near(left.getpixel((0, 0)), _rgb(RED))


def test_a_contact_sheet_shows_a_cutout_on_its_tile_not_on_black(cutout_site):
    """The contact sheet is drawn from the thumbnails; a cut-out's WebP thumbnail keeps its alpha,
    which the sheet must composite onto the cell's tile, not drop (what is transparent turns black)."""
    from mockups.engine.cache import ObjectStore
    from mockups.review.grid import _cell_image, _empty

    store = ObjectStore(cutout_site.parent / ".mockups-cache")
    v = by_id(page_data(cutout_site / "gallery" / "index.html"))[VID]
    key = Path(v["thumb"]).stem
    cell = _cell_image({"status": "ok", "key": key, "output": v["output"]}, cutout_site, store, size=240)
    tile = _empty(240).getpixel((5, 5))
    corner = cell.convert("RGB").getpixel((5, 5))
    assert _near(corner, tile, 12), f"the transparent corner of the cut-out is {corner} on the sheet, not {tile}"
    sheet = Image.open(next((cutout_site / "grids").rglob("*.jpg"))).convert("RGB")
    import numpy as np

    dark = int((np.asarray(sheet).max(axis=2) < 24).sum())
    assert dark < sheet.width * sheet.height * 0.05, f"{dark} near-black pixels on the contact sheet"


SHIFTS = """
window.__shifts = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (!e.hadRecentInput) window.__shifts.push(e.value);
}).observe({type: 'layout-shift', buffered: true});
"""


@pytest.mark.parametrize("width", [390, 1440])
def test_the_served_page_does_not_jump_as_it_starts(browser, cutout_site, width):  # noqa: F811
    """Served by `mockups serve`, the page first shows the from-disk note ("Opened from disk, this page
    cannot write files ... export them") and its script then swaps in the served one, a line shorter:
    everything under it moves up. The scripts are delayed a little, as on a slow disk or network."""
    import re
    import time

    from tests.test_gallery_browser import Log, serving

    server = serving(cutout_site.parent / "catalog.yaml", lambda: "", reviewer="Ana", watch=False)
    context = browser.new_context(viewport={"width": width, "height": 860})
    try:
        page = context.new_page()
        log = Log(page, server.origin)
        page.add_init_script(SHIFTS)

        def slow(route):
            time.sleep(0.3)
            route.continue_()

        page.route(re.compile(r".*/gallery-review\.js(\?.*)?$"), slow)
        page.goto(server.url)
        page.wait_for_selector("html[data-ready]")
        page.wait_for_timeout(300)
        assert "Served by mockups serve" in page.text_content(".review-note")
        shifts = page.evaluate("window.__shifts")
        assert sum(shifts) == 0, f"layout shifts while the served page starts: {shifts}"
        log.check()
    finally:
        context.close()
        server.stop()
