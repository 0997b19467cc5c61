"""Fetching the photos a store's export names: concurrently, with retries, checked before use.

Each photo is an http(s) URL, a `file://` URL or a path (relative to the export's folder). What
comes back must be an image by its content type and by its own header, within a size limit and a
pixel limit (checked from the header, before decoding: a decompression bomb is refused unread),
and must decode. A failure is named with the row or feed item that gave the URL. A photo that is
one of our own outputs (it carries our metadata: an exported catalog's images) is recognised and
not taken as a product photo.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
from PIL import Image, UnidentifiedImageError
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from mockups.engine.cache import write_if_changed
from mockups.imaging import ImagingError, open_image, read_metadata

logger = logging.getLogger(__name__)

MAX_BYTES = 25 * 1024 * 1024  # a store photo: Shopify takes up to 20 MB
MAX_PIXELS = 40_000_000  # 40 megapixels: the largest a product photo sensibly is
_FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "TIFF": ".tif", "BMP": ".bmp"}


@dataclass(frozen=True)
class Limits:
    max_bytes: int = MAX_BYTES
    max_pixels: int = MAX_PIXELS
    timeout: float = 30.0  # seconds, for connecting and for each read
    deadline: float | None = None  # seconds for a whole photo (default: 10 x timeout): a server that drips
    retries: int = 3  # for timeouts, dropped connections, 429 and 5xx answers
    backoff: float = 1.0  # seconds before the first retry, doubling
    workers: int = 8


@dataclass
class Fetched:
    url: str
    where: str
    path: Path | None = None  # where the photo was written (the stem given, with its format's suffix)
    error: str = ""
    ours: bool = False  # one of our own outputs: not a product photo

    @property
    def ok(self) -> bool:
        return not self.error and not self.ours


class _Transient(Exception):
    pass


class _Failed(Exception):
    pass


def _http(client: httpx.Client, url: str, limits: Limits) -> bytes:
    try:
        with client.stream("GET", url) as r:
            if r.status_code == 429 or r.status_code >= 500:
                raise _Transient(f"HTTP {r.status_code}")
            if r.status_code >= 400:
                raise _Failed(f"HTTP {r.status_code} {r.reason_phrase}".rstrip())
            kind = r.headers.get("content-type", "").split(";")[0].strip().lower()
            if not kind.startswith("image/"):
                raise _Failed(f"not an image: the server says it is {kind or 'of no content type'}")
            size = r.headers.get("content-length", "")
            if size.isdigit() and int(size) > limits.max_bytes:
                raise _Failed(f"{int(size):,} bytes, more than the limit of {limits.max_bytes:,}")
            data = bytearray()
            deadline = limits.deadline if limits.deadline is not None else 10 * limits.timeout
            started = time.monotonic()
            for chunk in r.iter_bytes():
                data += chunk
                if len(data) > limits.max_bytes:
                    raise _Failed(f"more than the limit of {limits.max_bytes:,} bytes")
                if time.monotonic() - started > deadline:  # each read in time, the whole never: a server that drips
                    raise _Transient(f"{len(data):,} bytes in {deadline:g} s: too slow")
            return bytes(data)
    except httpx.TimeoutException:
        raise _Transient(f"timed out after {limits.timeout:g} s") from None
    except httpx.TransportError as e:
        raise _Transient(f"cannot connect: {e}") from None
    except (httpx.HTTPError, httpx.InvalidURL) as e:  # a redirect loop, an undecodable answer, a bad address
        raise _Failed(f"{type(e).__name__}: {e}") from None


def _local(url: str, base: Path, limits: Limits) -> bytes:
    parsed = urllib.parse.urlparse(url)
    path = Path(urllib.request.url2pathname(parsed.path)) if parsed.scheme == "file" else base / url
    try:
        if path.stat().st_size > limits.max_bytes:
            raise _Failed(f"{path.stat().st_size:,} bytes, more than the limit of {limits.max_bytes:,}")
        return path.read_bytes()
    except OSError as e:
        raise _Failed(f"cannot read {path}: {e.strerror or e}") from None


def _checked(data: bytes, limits: Limits) -> str:
    """The suffix of the image `data` holds; _Failed when it is not one, too large or broken."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt, (w, h) = im.format or "", im.size
    except Image.DecompressionBombError:  # Pillow's own guard, at twice its limit
        raise _Failed(f"more than {limits.max_pixels:,} pixels (possible decompression bomb): not decoded") from None
    except (UnidentifiedImageError, OSError):
        raise _Failed("not an image (its first bytes are no image format's)") from None
    if w * h > limits.max_pixels:
        raise _Failed(f"{w}x{h} = {w * h:,} pixels, more than the limit of {limits.max_pixels:,} "
                      "(possible decompression bomb): not decoded")
    try:
        open_image(data, max_pixels=limits.max_pixels)
    except ImagingError as e:
        raise _Failed(str(e)) from None
    return _FORMATS.get(fmt, ".img")


def _ours(data: bytes) -> bool:
    try:
        meta = read_metadata(data)
    except ImagingError:
        return False
    return bool(meta.get("variant") and meta.get("key"))


def fetch_one(client: httpx.Client, url: str, where: str, stem: Path, base: Path, limits: Limits) -> Fetched:
    try:
        scheme = urllib.parse.urlparse(url).scheme.lower()
    except ValueError as e:  # "http://[::1/x.png"
        return Fetched(url, where, error=f"not a valid address ({e})")
    try:
        if scheme in ("http", "https"):
            data = _retrying(limits)(lambda: _http(client, url, limits))
        elif scheme in ("", "file") or len(scheme) == 1:  # a path (a drive letter is no scheme)
            data = _local(url, base, limits)
        else:
            raise _Failed(f"cannot fetch '{scheme}:' addresses (http, https, file or a path)")
        suffix = _checked(data, limits)
    except (_Failed, _Transient) as e:
        return Fetched(url, where, error=str(e))
    if _ours(data):
        return Fetched(url, where, ours=True)
    path = stem.with_name(stem.name + suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_if_changed(path, data)
    return Fetched(url, where, path)


def _retrying(limits: Limits):
    def run(fn):
        for attempt in Retrying(stop=stop_after_attempt(limits.retries + 1), reraise=True,
                                wait=wait_exponential(multiplier=limits.backoff, max=30),
                                retry=retry_if_exception_type(_Transient)):
            with attempt:
                return fn()
        raise AssertionError("unreachable")
    return run


def stem_for(folder: Path, url: str, taken: set[Path]) -> Path:
    """Where a photo goes in `folder` (without suffix): its URL's file name, made unique."""
    try:
        name = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).stem or "photo"
    except ValueError:  # a malformed address: fetch_one says so; its file would be named "photo"
        name = "photo"
    clean = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-.")[:60] or "photo"
    stem = folder / clean
    if stem in taken:
        stem = folder / f"{clean}-{hashlib.sha256(url.encode()).hexdigest()[:8]}"
    taken.add(stem)
    return stem


def fetch_all(items: list[tuple[str, str, Path]], base: Path, limits: Limits | None = None) -> list[Fetched]:
    """Fetch (url, where, stem) items concurrently; the results in the same order."""
    limits = limits or Limits()
    timeout = httpx.Timeout(limits.timeout)
    with httpx.Client(timeout=timeout, follow_redirects=True, headers={"User-Agent": "mockups"}) as client:
        with ThreadPoolExecutor(max_workers=max(1, limits.workers)) as pool:
            return list(pool.map(lambda it: fetch_one(client, it[0], it[1], it[2], base, limits), items))
