"""Gallery benchmark: write and open a review gallery of 10,000 variants.

    python benchmarks/bench_gallery.py              # 10,000 variants
    python benchmarks/bench_gallery.py --variants 2000 --runs 3

Synthesises a manifest (100 products x 10 colours x 10 backgrounds, tiny WebP thumbnails in a cache,
3% changed or new, 1% failed), then measures
- `write_gallery`: cold (thumbnails linked from the cache) and warm (median of the runs);
- in headless Chromium (/usr/bin/chromium), for the gallery and for a baseline measured in the same
  run (a naive page that renders every card synchronously with innerHTML and re-renders on filter):
  first render (the page's own mark once the first cards are in the DOM), cards painted (the frame
  after that), applying a filter and a search (click or input to the next painted frame, medians).
Targets: first render < 1 s, filter < 100 ms. Results also go to benchmarks/results/gallery.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from PIL import Image  # noqa: E402

from mockups.engine import manifest  # noqa: E402
from mockups.engine.cache import ObjectStore  # noqa: E402
from mockups.review.gallery import write_gallery  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
HUES = ["#F4F4F2", "#1B1B1D", "#1F2A44", "#B22234", "#9CAF88", "#E0B84C", "#6C4F8A", "#2E7D6B", "#D9825B", "#8A8F98"]

# marks the first painted frame with cards: a rAF sees them in the DOM, the next rAF runs after that frame
PAINT_PROBE = """
(function poll() {
  requestAnimationFrame(() => {
    if (document.querySelector('.card')) requestAnimationFrame(() => performance.mark('bench:cards-painted'));
    else poll();
  });
})();
"""

NAIVE_JS = r"""
const D = JSON.parse(document.getElementById('gallery-data').textContent);
const esc = (s) => String(s == null ? '' : s).replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
const grid = document.getElementById('grid');
const sel = new Set();
let q = '';
function cards(list) {
  return list.map((v) => '<li class="cell"><button class="card" type="button"><span class="card-media">'
    + (v.thumb ? '<img loading="lazy" src="' + esc(v.thumb) + '" width="' + v.tw + '" height="' + v.th
      + '" alt="' + esc(v.product) + '">' : '<span>failed</span>')
    + '</span><span class="card-body"><span class="card-title">' + esc(v.product) + '</span><span class="card-sub">'
    + esc(v.colour_name) + ' · ' + esc(v.background_name) + '</span><span class="card-meta">' + esc(v.sku)
    + '</span></span></button></li>').join('');
}
function render() {
  const list = D.variants.filter((v) => (!sel.size || sel.has(v.colour))
    && (!q || (v.sku + ' ' + v.product + ' ' + v.prompt).toLowerCase().includes(q)));
  grid.innerHTML = cards(list);
}
document.getElementById('facets').innerHTML = [...new Set(D.variants.map((v) => v.colour))].map((c) =>
  '<label><input type="checkbox" data-facet="colour" value="' + esc(c) + '"> ' + esc(c) + '</label>').join(' ');
document.getElementById('facets').addEventListener('change', (e) => {
  if (e.target.checked) sel.add(e.target.value); else sel.delete(e.target.value);
  render();
});
document.getElementById('q').addEventListener('input', (e) => { q = e.target.value.toLowerCase(); render(); });
render();
performance.mark('gallery:first-render');
"""


def synthesise(root: Path, n: int) -> tuple[Path, ObjectStore]:
    """A build folder with a manifest of n variants, a cache holding their thumbnails, and marks."""
    build_dir, store = root / "build", ObjectStore(root / "cache")
    seeds = []
    for hue in HUES:
        path = root / f"seed-{hue[1:]}.webp"
        Image.new("RGB", (24, 24), hue).save(path, quality=60)
        seeds.append(path.read_bytes())
    entries, marks = {}, {}
    for k in range(n):
        entry = _entry(k)
        entries[entry["id"]] = entry
        if entry["status"] == "ok":
            store.thumb_file(entry["key"], "webp").parent.mkdir(parents=True, exist_ok=True)
            store.thumb_file(entry["key"], "webp").write_bytes(seeds[k // 10 % 10])
        if k % 33 == 5:
            marks[entry["id"]] = {"change": "new" if k % 2 else "changed", "key": entry["key"], "reasons": ["colour"]}
    build_dir.mkdir(parents=True)
    manifest.save(build_dir, entries, "catalog.yaml")
    (build_dir / "gallery").mkdir()
    doc = {"version": 1, "variants": marks, "removed": []}
    (build_dir / "gallery" / "changes.json").write_text(json.dumps(doc))
    return build_dir, store


def _entry(k: int) -> dict:
    sku, colour, bg = f"SKU-{k // 100:04d}", f"colour-{k // 10 % 10}", f"bg-{k % 10}"
    vid, failed = f"shop/{sku}/{colour}--{bg}", k % 97 == 13
    return {
        "id": vid, "sku": sku, "product": f"Product {k // 100} {('Tee', 'Mug', 'Tote', 'Hoodie')[k // 100 % 4]}",
        "colour": colour, "colour_name": f"Colour {k // 10 % 10}", "colour_hex": HUES[k // 10 % 10],
        "background": bg, "background_name": f"Background {k % 10}", "design": None, "channel": "shop",
        "size": [2048, 2048], "format": "webp", "output": f"{vid}.webp", "key": f"{k:064x}", "backend": "local",
        "model": None, "template": "product-photo.j2", "cost": 0.0, "bytes": 180_000, "sha256": None,
        "prompt": (f"Professional e-commerce product photo of the Product {k // 100} in Colour {k // 10 % 10}. "
                   f"Background: Background {k % 10}. Keep the product's exact shape, proportions, seams and "
                   "folds; soft natural light and a gentle contact shadow."),
        "status": "failed" if failed else "ok", "error": "backend refused" if failed else None,
        "built_at": "2025-01-01T00:00:00+00:00", "warnings": [],
    }


def time_write(build_dir: Path, store: ObjectStore, runs: int) -> dict:
    started = time.perf_counter()
    write_gallery(build_dir, None, store=store)
    cold = time.perf_counter() - started
    warm = []
    for _ in range(runs):
        started = time.perf_counter()
        write_gallery(build_dir, None, store=store)
        warm.append(time.perf_counter() - started)
    size = (build_dir / "gallery" / "index.html").stat().st_size
    return {"cold_s": cold, "warm_s": statistics.median(warm), "index_bytes": size}


def write_naive(build_dir: Path) -> Path:
    """The baseline page: same data and stylesheet, every card rendered at once with innerHTML."""
    folder = build_dir / "gallery"
    html = (folder / "index.html").read_text()
    start = html.index('<script type="application/json" id="gallery-data">')
    data = html[start:html.index("</script>", start) + len("</script>")]
    (folder / "naive.js").write_text(NAIVE_JS)
    page = folder / "naive.html"
    page.write_text('<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="gallery.css">'
                    '<link rel="stylesheet" href="naive.css"></head><body><input id="q" type="search">'
                    f'<div id="facets"></div><ul id="grid" class="grid"></ul>{data}'
                    '<script src="naive.js"></script></body></html>')
    (folder / "naive.css").write_text(".grid { grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); }")
    return page


def measure_page(browser, url: str, runs: int) -> dict:
    first, painted, filters, searches = [], [], [], []
    for run in range(runs):
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        page.add_init_script(PAINT_PROBE)
        page.goto(url)
        _wait_mark(page)
        first.append(page.evaluate("performance.getEntriesByName('gallery:first-render')[0].startTime"))
        painted.append(page.evaluate("performance.getEntriesByName('bench:cards-painted')[0].startTime"))
        if run == 0:
            filters = [_interaction(page, "filter", value) for value in
                       ("colour-3", "colour-3", "colour-7", "colour-1", "colour-7", "colour-1", "colour-5")]
            searches = [_interaction(page, "search", text) for text in ("sku-004", "hoodie", "colour 3", "", "tote")]
        context.close()
    return {"first_render_ms": statistics.median(first), "cards_painted_ms": statistics.median(painted),
            "filter_ms": statistics.median(filters), "search_ms": statistics.median(searches)}


def _wait_mark(page) -> None:
    deadline = time.monotonic() + 120
    while not page.evaluate("performance.getEntriesByName('bench:cards-painted').length > 0"):
        if time.monotonic() > deadline:
            raise RuntimeError("the gallery never painted its cards")
        page.wait_for_timeout(10)


def _interaction(page, kind: str, value: str) -> float:
    """Milliseconds from a click on a filter (or typing a search) to the next painted frame."""
    return page.evaluate("""async ([kind, value]) => {
      const next = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
      await next();
      const t0 = performance.now();
      if (kind === 'filter') document.querySelector('input[data-facet="colour"][value="' + value + '"]').click();
      else { const q = document.getElementById('q'); q.value = value; q.dispatchEvent(new Event('input')); }
      await next();
      return performance.now() - t0;
    }""", [kind, value])


def run_browser(build_dir: Path, runs: int) -> dict | None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("Playwright is not installed (pip install -e .[test]): browser figures skipped")
        return None
    if not Path(CHROMIUM).exists():
        print(f"Chromium is not at {CHROMIUM} (apt-get install chromium): browser figures skipped")
        return None
    naive = write_naive(build_dir)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            gallery = measure_page(browser, (build_dir / "gallery" / "index.html").as_uri(), runs)
            baseline = measure_page(browser, naive.as_uri(), max(1, runs - 1))
            version = browser.version
        finally:
            browser.close()
    return {"gallery": gallery, "baseline": baseline, "chromium": version}


def report(n: int, write: dict, browser: dict | None) -> None:
    print(f"mockups gallery benchmark: {n:,} variants, index.html {write['index_bytes'] / 1e6:.1f} MB")
    print(f"  write_gallery        cold {write['cold_s']:.2f} s (thumbnails linked in)   "
          f"warm {write['warm_s']:.2f} s (median)")
    if not browser:
        return
    g, b = browser["gallery"], browser["baseline"]
    print(f"  in Chromium {browser['chromium']}        gallery    naive baseline   baseline/gallery")
    for key, label in (("first_render_ms", "first render"), ("cards_painted_ms", "cards painted"),
                       ("filter_ms", "filter (median)"), ("search_ms", "search (median)")):
        print(f"  {label:<26}{g[key]:>8.0f} ms {b[key]:>10.0f} ms {b[key] / max(g[key], 0.1):>12.1f}x")
    ok_first = g["cards_painted_ms"] < 1000
    ok_filter = g["filter_ms"] < 100
    print(f"  targets: first render < 1 s: {'met' if ok_first else 'MISSED'}; "
          f"filter < 100 ms: {'met' if ok_filter else 'MISSED'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3, help="page loads and warm writes to take the median of")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-gallery-") as tmp:
        build_dir, store = synthesise(Path(tmp), args.variants)
        write = time_write(build_dir, store, args.runs)
        browser = run_browser(build_dir, args.runs)
    report(args.variants, write, browser)
    out = REPO / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "gallery.json").write_text(json.dumps({"variants": args.variants, "write": write, "browser": browser},
                                                 indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
