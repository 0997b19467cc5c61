"""Import -> build -> export -> re-import of a generated 50-product, 500-variant Shopify CSV (5
colours x 2 sizes a product; 100 photos of 800x800 served by a server on 127.0.0.1), each step
timed; the import against a baseline measured in the same run: the same 100 photos fetched one
after another with plain httpx, no checks.

    python benchmarks/bench_stores.py             # outputs at 512x512
    python benchmarks/bench_stores.py 1024x1024
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from mockups.cli import main  # noqa: E402
from mockups.stores import export_store, import_store  # noqa: E402
from tests.store_helpers import Routes, big_shopify_csv, garment, serve  # noqa: E402


def main_() -> None:
    size = sys.argv[1] if len(sys.argv) > 1 else "512x512"
    routes = Routes({f"/p{n}.jpg": (200, "image/jpeg", garment((200, 60 + n, 60), size=800), 0) for n in range(50)})
    for n in range(50):
        routes[f"/p{n}-black.jpg"] = (200, "image/jpeg", garment((30, 30, 32), size=800), 0)
    with tempfile.TemporaryDirectory() as tmp, serve(routes) as base:
        d = Path(tmp)
        (d / "big.csv").write_text(big_shopify_csv(
            lambda n: f"{base}/p{n}.jpg", lambda n, colour: f"{base}/p{n}-black.jpg" if colour == "Black" else ""))
        t = time.perf_counter()
        with httpx.Client() as client:
            for path in routes:
                client.get(base + path).raise_for_status()
        plain = time.perf_counter() - t
        t = time.perf_counter()
        r = import_store("shopify", d / "big.csv", d / "p", size=size)
        ti = time.perf_counter() - t
        print(f"import: {r.products} products, {r.colours} colours, {r.downloaded} photos fetched in {ti:.2f} s "
              f"(plain sequential fetch of the same photos: {plain:.2f} s; {ti / plain:.2f}x)")
        t = time.perf_counter()
        main(["build", str(d / "p" / "catalog.yaml"), "-j", "2", "--no-gallery", "--no-inspect"])
        tb = time.perf_counter() - t
        t = time.perf_counter()
        e = export_store("shopify", d / "p" / "catalog.yaml", base_url="https://cdn.example.com", out=d / "o.csv")
        te = time.perf_counter() - t
        print(f"build ({size}): {tb:.2f} s; export: {e.images} images of {len(e.variants)} variants, "
              f"{e.rows} rows in {te:.2f} s")
        t = time.perf_counter()
        again = import_store("shopify", d / "big.csv", d / "p", size=size)
        print(f"re-import unchanged: files written {again.written}, {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main_()
