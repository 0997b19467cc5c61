"""Helpers for the store tests: product photos drawn here, a local HTTP server that serves them
(and misbehaves on purpose), and the fixture exports with the server's address filled in."""

from __future__ import annotations

import io
import struct
import threading
import time
import zlib
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from PIL import Image, ImageDraw

FIXTURES = Path(__file__).resolve().parent / "stores"

#: photo name -> the garment's colour (RGB) in it
PHOTOS = {
    "tee-front.jpg": (236, 236, 232), "tee-back.jpg": (236, 236, 232), "tee-detail.jpg": (236, 236, 232),
    "tee-black.jpg": (32, 32, 35), "tee-navy.jpg": (30, 42, 70), "tee-life.jpg": (236, 236, 232),
    "tote.jpg": (226, 216, 192), "mug.jpg": (40, 110, 160), "hoodie.jpg": (60, 60, 62),
    "hoodie-back.jpg": (60, 60, 62), "hoodie-black.jpg": (28, 28, 30), "cap.jpg": (180, 30, 40),
}


def garment(colour, size: int = 160, fmt: str = "JPEG") -> bytes:
    """A garment-like shape of `colour` on a white studio backdrop, with soft shading."""
    im = Image.new("RGB", (size, size), (250, 250, 250))
    d = ImageDraw.Draw(im)
    s = size / 160
    d.polygon([(40 * s, 30 * s), (65 * s, 22 * s), (95 * s, 22 * s), (120 * s, 30 * s), (140 * s, 60 * s),
               (120 * s, 70 * s), (118 * s, 140 * s), (42 * s, 140 * s), (40 * s, 70 * s), (20 * s, 60 * s)],
              fill=tuple(colour))
    for k in range(4):  # folds
        shade = tuple(max(0, c - 12) for c in colour)
        d.line([(55 * s + k * 15 * s, 80 * s), (60 * s + k * 15 * s, 135 * s)], fill=shade, width=max(1, int(2 * s)))
    buf = io.BytesIO()
    im.save(buf, fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return buf.getvalue()


def bomb_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A tiny PNG whose header claims `width` x `height` pixels (a decompression bomb's shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + \
        chunk(b"IEND", b"")


class Routes(dict):
    """path -> (status, content type, body, delay in seconds); every request recorded."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.hits: list[str] = []
        self.folder: Path | None = None  # also serve the files of this folder


def _handler(routes: Routes):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the standard library's name)
            routes.hits.append(self.path)
            found = routes.get(self.path)
            if found is None and routes.folder is not None:
                file = routes.folder / self.path.lstrip("/")
                if file.is_file():
                    kind = {".webp": "image/webp", ".png": "image/png", ".jpg": "image/jpeg"}.get(file.suffix, "")
                    found = (200, kind, file.read_bytes(), 0)
            status, kind, body, delay = found or (404, "text/plain", b"not found", 0)
            if delay:
                time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass
    return Handler


@contextmanager
def serve(routes: Routes):
    """A server on 127.0.0.1 (a free port) serving `routes`; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(routes))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def photo_routes() -> Routes:
    return Routes({f"/{name}": (200, "image/jpeg", garment(colour), 0) for name, colour in PHOTOS.items()})


def fixture(name: str, folder: Path, base: str) -> Path:
    """The fixture export `name` written into `folder` with its photos' URLs at `base`."""
    out = folder / name
    out.write_bytes((FIXTURES / name).read_bytes().replace(b"{base}", base.encode()))
    return out


BIG_COLOURS = ["Black", "Navy", "White", "Forest Green", "Mustard"]


def big_shopify_csv(product_photo, colour_photo=lambda n, colour: "") -> str:
    """A Shopify product CSV (current headers) of 50 products x 5 colours x 2 sizes: 500 variants.
    Product n's photo is `product_photo(n)`; a variant's own photo `colour_photo(n, colour)` ("": none)."""
    lines = ["Title,URL handle,SKU,Option1 name,Option1 value,Option2 name,Option2 value,Price,"
             "Product image URL,Image position,Variant image URL"]
    for n in range(50):
        for k in range(10):
            colour, size = BIG_COLOURS[k // 2], "SM"[k % 2]
            first = k == 0
            lines.append(f"{'Product %d' % n if first else ''},product-{n},P{n}-{colour[:3].upper()}-{size},"
                         f"{'Color' if first else ''},{colour},{'Size' if first else ''},{size},10,"
                         f"{product_photo(n) if first else ''},{'1' if first else ''},{colour_photo(n, colour)}")
    return "\n".join(lines) + "\n"
