"""`mockups serve`: the gallery over HTTP on this machine, rebuilt when the project changes, and
review decisions written straight to approvals.yaml.

- Files are served from the build folder only (a path that leads out of it is a 404). The
  gallery's page is served with a per-session token in a <meta> element and a policy that lets it
  talk to this server (`connect-src 'self'`); from disk it still cannot.
- `POST /api/decisions` ({"decisions": [{variant, sha256, state, note}]}) merges decisions into
  approvals.yaml (only those whose output is still the current one) and rewrites the gallery. A
  write needs the session's token in `X-Mockups-Token`, and a request from another origin (its
  `Origin` header) is refused: a web page elsewhere cannot approve on the reviewer's behalf.
- `GET /api/state` says which build the page shows (`version`), whether one is running, and the
  last build's line or error; the page polls it and reloads when a new build is done.
- A watcher (watchfiles) rebuilds when the catalog, a template or an asset changes; writes of the
  build itself, the cache and approvals.yaml are not changes.

Every error is a JSON {"error": "..."} with its status, never a traceback. Bound to 127.0.0.1 by
default. The library logs; `mockups serve` prints the address and runs until Ctrl-C.
"""

from __future__ import annotations

import http.server
import json
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any, Callable
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from mockups._resources import RESOURCES
from mockups.engine import manifest
from mockups.errors import MockupsError
from mockups.review import approvals

logger = logging.getLogger(__name__)

MAX_BODY = 1 << 20  # a request body larger than 1 MB is refused
_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".js": "text/javascript; charset=utf-8", ".json": "application/json", ".png": "image/png",
          ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}
_POLICY_FROM_DISK = "img-src 'self' data:;"


@dataclass
class State:
    version: int = 0  # bumped after every build and every write of decisions
    building: bool = False
    last: str = ""  # the last build's summary or its error
    error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class Server:
    """Serve `build_dir`; `rebuild()` rebuilds (the CLI's full build) and returns its summary line.
    `catalog_file`: whose approvals.yaml is written; `write_gallery()` redraws the page from the
    manifest and approvals. `start()` serves in a thread; `url`; `stop()`."""

    def __init__(self, catalog_file: Path, build_dir: Path, *, rebuild: Callable[[], str],
                 write_gallery: Callable[[], None], host: str = "127.0.0.1", port: int = 8000,
                 reviewer: str | None = None, watch: bool = True):
        self.catalog_file, self.build_dir = Path(catalog_file).resolve(), Path(build_dir).resolve()
        self.rebuild_fn, self.write_gallery = rebuild, write_gallery
        self.token = secrets.token_urlsafe(24)
        self.state = State()
        self.reviewer = reviewer or approvals.reviewer(self.catalog_file.parent)
        self.httpd = http.server.ThreadingHTTPServer((host, port), _handler(self))
        self.httpd.daemon_threads = True
        self.watch = watch
        self._stop = threading.Event()
        self._watching = threading.Event()  # set once the watcher watches (a change before that is missed)
        self._threads: list[threading.Thread] = []

    @property
    def origin(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host if isinstance(host, str) else host.decode()}:{port}"

    @property
    def url(self) -> str:
        return self.origin + "/gallery/index.html"

    def host_allowed(self, host: str | None) -> bool:
        """Whether a request's Host header names this server. Listening on a loopback address, only
        its loopback names do (127.0.0.1, localhost, [::1] at its port): a page of another site
        whose name was rebound to 127.0.0.1 must not read the gallery and its session token.
        Listening elsewhere (--host), any name does: the token guards the writes."""
        bound, port = self.httpd.server_address[:2]
        bound = bound if isinstance(bound, str) else bound.decode()
        if not self.loopback:
            return True
        return (host or "").lower() in {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"{bound}:{port}"}

    @property
    def loopback(self) -> bool:
        bound = self.httpd.server_address[0]
        bound = bound if isinstance(bound, str) else bound.decode()
        return bound.startswith("127.") or bound in ("::1", "localhost")

    def origin_allowed(self, origin: str | None, host: str | None) -> bool:
        """Whether a write comes from a page this server showed: no Origin (not a browser), or one
        of its own names (on loopback: any of them, as the page may be opened as localhost or
        127.0.0.1; elsewhere: the name the request was sent to)."""
        if origin is None:
            return True
        parts = urlsplit(origin)
        netloc = parts.netloc.lower()
        same = self.loopback or netloc == (host or "").lower()
        return parts.scheme == "http" and self.host_allowed(netloc) and same

    def start(self) -> None:
        self._threads.append(threading.Thread(target=self.httpd.serve_forever, name="mockups-serve", daemon=True))
        if self.watch:
            self._threads.append(threading.Thread(target=self._watch, name="mockups-watch", daemon=True))
        for t in self._threads:
            t.start()
        if self.watch:  # an edit made as the server starts is a change like any other
            self._watching.wait(timeout=10)

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        for t in self._threads:
            t.join(timeout=5)

    # --- rebuilding ------------------------------------------------------------------------------

    def rebuild(self) -> None:
        with self.state.lock:
            self.state.building = True
        try:
            line, error = self.rebuild_fn(), None
        except MockupsError as e:  # a catalog being edited is often invalid for a moment: say so, go on
            line, error = "", str(e)
        except Exception as e:  # noqa: BLE001 - the server outlives one bad build
            logger.exception("the rebuild failed")
            line, error = "", f"{type(e).__name__}: {e}"
        with self.state.lock:
            self.state.building, self.state.last, self.state.error = False, line, error
            self.state.version += 1
        logger.info("rebuilt: %s", error or line)

    def _ignored(self, path: str) -> bool:
        p = Path(path).resolve()
        root = self.catalog_file.parent
        return (p.is_relative_to(self.build_dir) or p.is_relative_to(root / ".mockups-cache")
                or p.name == approvals.NAME or p.name.startswith(".") or p.name.endswith("~"))

    def _watch(self) -> None:
        import watchfiles  # the `serve` extra: a well-kept, native file watcher

        root = self.catalog_file.parent
        for changes in watchfiles.watch(root, stop_event=self._stop, debounce=300, raise_interrupt=False,
                                        rust_timeout=200, yield_on_timeout=True,
                                        watch_filter=lambda _change, path: not self._ignored(path)):
            self._watching.set()  # its first answer (a quiet 0.2 s at the latest): the folder is watched
            if not changes:
                continue
            logger.info("changed: %s", ", ".join(sorted({Path(p).name for _, p in changes})))
            self.rebuild()

    # --- the print-area editor ---------------------------------------------------------------------

    def _position(self, sku: str, placement: str | None):
        """(catalog, product, the print position: the product or its placement, the photo's path)."""
        from mockups.catalog import load_catalog

        catalog = load_catalog(self.catalog_file)
        product = next((p for p in catalog.model.products if p.sku == sku), None)
        if product is None:
            raise _Refused(404, f"no product with sku {sku!r}")
        at: Any = product
        if placement:
            at = (product.placements or {}).get(placement)
            if at is None:
                raise _Refused(404, f"{sku} has no placement {placement!r}")
        elif product.placements:  # its print areas are its placements': there is none of its own to edit
            names = ", ".join(product.placements)
            raise _Refused(404, f"{sku} has its print areas in its placements ({names}): open "
                                f"/edit/{sku}?placement={next(iter(product.placements))} (or another of them)")
        image = getattr(at, "image", None) or product.image
        if image is None:  # a PSD template: its design goes into a smart object, not a print area
            raise _Refused(404, f"{sku} is a PSD template: it has no print area to edit")
        return catalog, product, at, catalog.path(image)

    def editor_page(self, sku: str, placement: str | None) -> bytes:
        from html import escape

        from mockups.review._gallery_data import safe_json

        catalog, product, at, photo = self._position(sku, placement)
        width, height = _shown_size(photo)
        corners, options = _print_position(at, width, height)
        band = getattr(at, "cylinder", None)
        entries = manifest.load(self.build_dir)
        shown = next((e["output"] for e in entries.values() if e.get("sku") == sku and e.get("status") == "ok"
                      and e.get("placement") == placement), None)
        from mockups.imaging._placement import ANCHORS

        data = {"sku": sku, "placement": placement, "width": width, "height": height, "corners": corners,
                "preview": shown, "cylinder": band is not None, "options": options, "anchors": list(ANCHORS),
                "base": {"corners": corners, "options": options}}
        title = f"{product.name} ({sku}{', ' + placement if placement else ''})"
        query = urlencode({"sku": sku, **({"placement": placement} if placement else {})})  # a SKU may hold & or #
        note = ("<p><b>This print position is a cylinder</b>: Save sets the band the design wraps round "
                "(<code>x, y, width, height</code>) to the corners' bounding box; its arc, ellipse and centre "
                "are the fields below.</p>"
                if data["cylinder"] else "")
        page = Template((RESOURCES / "editor" / "editor.html").read_text()).substitute(
            token=self.token, title=escape(title), note=note, query=escape(query),
            preview=escape(quote("/" + shown)) if shown else "", data=safe_json(data))
        return page.encode()

    def silhouette(self, sku: str, placement: str | None) -> bytes:
        """A PNG to lay over the photo: clear on the product, dimmed around it (what the tool sees)."""
        import io

        from PIL import Image, ImageOps

        from mockups.review.inspect import silhouette

        catalog, product, at, _ = self._position(sku, placement)
        mask = silhouette(catalog, product, at if placement else None)
        shade = Image.new("RGBA", mask.size, (20, 20, 30, 0))
        shade.putalpha(ImageOps.invert(mask).point(lambda v: v * 150 // 255))
        buf = io.BytesIO()
        shade.save(buf, "PNG", compress_level=1)
        return buf.getvalue()

    def photo(self, sku: str, placement: str | None) -> tuple[str, bytes]:
        _, _, _, photo = self._position(sku, placement)
        return _TYPES.get(photo.suffix.lower(), "application/octet-stream"), photo.read_bytes()

    def save_print_area(self, body) -> dict:
        from mockups.review.catalog_edit import set_print_area

        if not isinstance(body, dict) or not isinstance(body.get("sku"), str):
            raise _Refused(400, "expected {\"sku\": ..., \"placement\": ... or null, \"corners\": [[x, y] x 4]}")
        from mockups.catalog.schema import _number  # a finite number: not a boolean, NaN, Infinity or 10**400

        corners = body.get("corners")
        if not (isinstance(corners, list) and len(corners) == 4 and all(
                isinstance(c, list) and len(c) == 2 and all(_number(v) for v in c) for c in corners)):
            raise _Refused(400, f"corners: expected four [x, y] pairs of numbers, got {json.dumps(corners)[:100]}")
        placement, options = body.get("placement"), body.get("options") or {}
        if not isinstance(options, dict):
            raise _Refused(400, "options: expected a mapping such as {\"scale\": 0.8, \"anchor\": \"top\"}")
        base = body.get("base")
        with self.state.lock:
            _, _, at, photo = self._position(body["sku"], placement)  # 404 for what does not exist
            if isinstance(base, dict) and not _same_position(base, *_print_position(at, *_shown_size(photo))):
                raise _Refused(409, "the print area changed in catalog.yaml since this page was opened (another "
                                    "editor, or the file edited): reload the page to see it, then move the corners "
                                    "again; nothing was saved")
            set_print_area(self.catalog_file, body["sku"], corners, placement=placement, options=options)
        return {"ok": True, "corners": corners, "options": options}

    # --- decisions -------------------------------------------------------------------------------

    def decide(self, body: dict) -> dict:
        items = approvals.parse_exported(body, "the request")
        path = approvals.path_for(self.catalog_file)
        with self.state.lock:
            current: dict[str, dict | None] = dict(manifest.load(self.build_dir))

            def merged(decisions: dict) -> tuple[dict | None, approvals.Merged]:
                done = approvals.merge(decisions, current, items, by=self.reviewer)
                return (done.decisions if done.applied else None), done

            done = approvals.update(path, merged)  # `mockups approve` may write it meanwhile
        warning = None
        if done.applied:
            try:
                self.write_gallery()
            except MockupsError as e:  # the decisions are written: the page is told so, and why it was not redrawn
                logger.warning("the gallery was not redrawn after a decision: %s", e)
                warning = f"recorded, but the gallery was not redrawn: {e}"
            with self.state.lock:
                self.state.version += 1
        return {"applied": done.applied, "stale": done.stale, "unknown": done.unknown,
                "version": self.state.version, **({"warning": warning} if warning else {})}


class _Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _handler(server: Server) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002 - the base class's name
            logger.debug("%s - %s", self.address_string(), format % args)

        def do_GET(self):  # noqa: N802 - the base class's name
            self._answer(self._get)

        def do_HEAD(self):  # noqa: N802
            self._answer(self._get)

        def do_POST(self):  # noqa: N802
            self._answer(self._post)

        def _answer(self, work) -> None:
            try:
                if not server.host_allowed(self.headers.get("Host")):
                    raise _Refused(421, f"refused: this server does not answer for {self.headers.get('Host')!r} "
                                        f"(open {server.url})")
                status, ctype, body = work()
            except _Refused as e:
                status, ctype, body = e.status, "application/json", json.dumps({"error": str(e)}).encode()
            except (approvals.ApprovalsError, MockupsError) as e:  # a decision or an edit that cannot be made
                status, ctype, body = 400, "application/json", json.dumps({"error": str(e)}).encode()
            except Exception as e:  # noqa: BLE001 - a bad request gets a message, never a traceback page
                logger.exception("serving %s", self.path)
                status, ctype, body = 500, "application/json", json.dumps(
                    {"error": f"{type(e).__name__}: {e}"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _get(self) -> tuple[int, str, bytes]:
            path = unquote(urlsplit(self.path).path)
            if "\0" in path:  # no file has one in its name (and Path.resolve would raise)
                raise _Refused(404, f"not found: {path!r}")
            if path == "/":
                return 200, "text/html; charset=utf-8", b'<meta http-equiv="refresh" content="0; url=gallery/">'
            if path == "/favicon.ico":  # asked for by every browser: none
                return 200, "image/x-icon", b""
            if path == "/api/state":
                s = server.state
                with s.lock:
                    data = {"version": s.version, "building": s.building, "last": s.last, "error": s.error}
                return 200, "application/json", json.dumps(data).encode()
            query = dict(parse_qsl(urlsplit(self.path).query))
            if path.startswith("/edit/"):
                return 200, "text/html; charset=utf-8", server.editor_page(path[len("/edit/"):], query.get("placement"))
            if path == "/api/silhouette":
                return 200, "image/png", server.silhouette(query.get("sku", ""), query.get("placement"))
            if path == "/api/photo":
                ctype, content = server.photo(query.get("sku", ""), query.get("placement"))
                return 200, ctype, content
            if path in ("/_editor/editor.js", "/_editor/editor.css"):
                return 200, _TYPES[Path(path).suffix], (RESOURCES / "editor" / Path(path).name).read_bytes()
            if path.endswith("/"):
                path += "index.html"
            target = (server.build_dir / path.lstrip("/")).resolve()
            if not target.is_relative_to(server.build_dir) or not target.is_file():
                raise _Refused(404, f"not found: {path}")
            content = target.read_bytes()
            if target == server.build_dir / "gallery" / "index.html":
                content = self._served_page(content)
            return 200, _TYPES.get(target.suffix.lower(), "application/octet-stream"), content

        def _served_page(self, html: bytes) -> bytes:
            meta = f'<meta name="mockups-serve" content="{server.token}">'.encode()
            html = html.replace(_POLICY_FROM_DISK.encode(), (_POLICY_FROM_DISK + " connect-src 'self';").encode(), 1)
            # the served note from the first paint: swapped in by the page's script, it moved what is below it
            html = _NOTE.sub(_SERVED_NOTE, html, count=1)
            return html.replace(b"<head>", b"<head>" + meta, 1)

        def _post(self) -> tuple[int, str, bytes]:
            origin = self.headers.get("Origin")
            if not server.origin_allowed(origin, self.headers.get("Host")):
                raise _Refused(403, f"refused: a request from {origin}; only the gallery this server shows may write")
            if not secrets.compare_digest(self.headers.get("X-Mockups-Token", ""), server.token):
                raise _Refused(403, "refused: the request does not carry this session's token")
            route = urlsplit(self.path).path
            if route not in ("/api/decisions", "/api/print-area"):
                raise _Refused(404, f"not found: {self.path}")
            try:
                size = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                raise _Refused(400, "Content-Length is not a number") from None
            if size < 0:  # rfile.read(-1) would wait for the client to close
                raise _Refused(400, f"a Content-Length of {size}")
            if size > MAX_BODY:
                raise _Refused(413, f"a body of {size} bytes is over the limit of {MAX_BODY}")
            try:
                body = json.loads(self.rfile.read(size) or b"null")
            except ValueError as e:
                raise _Refused(400, f"the body is not JSON: {e}") from None
            answer = server.decide(body) if route == "/api/decisions" else server.save_print_area(body)
            return 200, "application/json", json.dumps(answer).encode()

    return Handler


def _shown_size(photo: Path) -> tuple[int, int]:
    """The photo's size as shown (a phone's photo turned by its EXIF orientation): as the catalog's
    checks, the build and the browser see it."""
    from PIL import Image

    from mockups.imaging import shown_size

    with Image.open(photo) as im:
        return shown_size(im, photo)


def _print_position(at, width: int, height: int) -> tuple[list[list[float]], dict]:
    """A print position's corners (a cylinder's band as a rectangle; none yet: a guess in the middle
    of the photo) and its options, as the editor shows them."""
    area, band = getattr(at, "print_area", None), getattr(at, "cylinder", None)
    if band is not None:
        area = [(band.x, band.y), (band.x + band.width, band.y), (band.x + band.width, band.y + band.height),
                (band.x, band.y + band.height)]
    corners = [[float(x), float(y)] for x, y in area] if area is not None else \
        [[width * 0.35, height * 0.3], [width * 0.65, height * 0.3], [width * 0.65, height * 0.6],
         [width * 0.35, height * 0.6]]
    options = {k: getattr(at, k) for k in ("scale", "anchor", "rotation")}
    if band is not None:
        options.update(arc=band.arc, ellipse=band.ellipse, centre=band.centre)
    return corners, options


def _same_position(base: dict, corners: list[list[float]], options: dict) -> bool:
    """Whether what a page was opened with (`base`) is what the catalog holds now."""
    def rounded(value):
        if isinstance(value, (list, tuple)):
            return [rounded(v) for v in value]
        return round(value, 3) if isinstance(value, float) else value
    return rounded(base.get("corners")) == rounded(corners) and \
        {k: rounded(v) for k, v in (base.get("options") or {}).items()} == {k: rounded(v) for k, v in options.items()}


_NOTE = re.compile(rb'<p class="review-note">.*?</p>', re.DOTALL)
#: what gallery-review.js writes in the note when served (the same words, so nothing moves)
_SERVED_NOTE = (b'<p class="review-note">Served by mockups serve: decisions are written to approvals.yaml as you '
                b'make them, and the page reloads when the project is rebuilt. <span id="review-server"></span></p>')


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll until `predicate()` (for callers and tests that wait on a rebuild)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
