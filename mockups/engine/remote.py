"""The remote tier of the cache: outputs shared between machines (CI runners, shards, a cluster's
workers) through fsspec, behind the local `.mockups-cache/`.

Layout under the URL, that of a Bazel HTTP remote cache (so a bazel-remote server can hold it):

    ac/<job key>     JSON: what made the output (the local record) and the SHA-256 of its blobs
    cas/<sha256>     the bytes of an output or of its thumbnail, named by their SHA-256

The rules, those of sccache's multi-level caches and Bazel's remote cache:
- the local tier is read first; a remote hit is fetched into it; a new output is written to both;
- which keys the remote holds is learnt with one listing per build (`present`), not one request
  per variant; over http(s), which cannot list, each key the local tier lacks costs one GET;
- blobs are written before the record, so a record means its blobs are whole, and every blob read
  is checked against its name, so nothing half-written is ever used;
- keys are content hashes of what makes an output, and each record names its own blobs: two
  runners racing on a key leave one whole, valid object (the last record wins; for the local
  backend the two are the same bytes);
- a remote that fails is a warning (`problems`) and is not written again in this build (a
  cluster's outputs are still fetched): never a failed build. `read_only` (pull requests from
  forks) never writes.

Credentials come from each filesystem's own settings (for S3: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_PROFILE...) and are never written anywhere: `shown` is the URL without
any user or password it holds, and that is all that reaches logs, the record or a summary.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from mockups.engine.cache import ObjectStore, atomic_write
from mockups.errors import RemoteCacheError

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

logger = logging.getLogger(__name__)

SCHEMA = 1
PROTOCOL_PACKAGES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs",
                     "abfss": "adlfs", "http": "aiohttp", "https": "aiohttp"}
__all__ = ["RemoteCache", "RemoteCacheError", "shown"]
REQUESTS = 16  # requests in flight for a listing's records, a build's fetches and its backfill
UPLOADS = 4  # a worker's uploads in flight (push_soon)
TIMEOUT = 30.0  # seconds for one request: a remote that hangs is given up, not waited for


def shown(url: str) -> str:
    """The URL without the user and password it may hold (`https://user:token@host/...`)."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


class RemoteCache:
    """One remote cache at `url`; picklable (a worker process opens its own connection)."""

    def __init__(self, url: str, read_only: bool = False):
        self.url, self.read_only = url.rstrip("/"), read_only
        self.shown = shown(self.url)
        self.requests: Counter = Counter()  # listings, gets, puts: what the benchmark reports
        self.problems: list[str] = []
        self.disabled = False
        self.known: set[str] | None = None  # the keys the listing found (None: not listed)
        self._records: dict[str, dict] = {}  # records read by `present` over http
        self._lock = threading.Lock()
        self._uploads: ThreadPoolExecutor | None = None  # the threads of push_soon, made when first needed
        self._pending: list = []
        self._fs, self._root, self.listable, self.local = _open(self.url)

    def __getstate__(self) -> dict:  # a worker only writes what the listing did not find: it needs no listing
        return {"url": self.url, "read_only": self.read_only, "disabled": self.disabled}

    def __setstate__(self, state: dict) -> None:
        try:
            RemoteCache.__init__(self, state["url"], state["read_only"])
        except RemoteCacheError as e:  # a worker without the package: its outputs stay local, with a warning
            self.url, self.read_only, self.shown = state["url"], state["read_only"], shown(state["url"])
            self.requests, self.problems, self.known, self._records = Counter(), [], None, {}
            self._lock, self._uploads, self._pending = threading.Lock(), None, []
            self.listable = self.local = False
            self.disabled = False
            self.note(f"remote cache {self.shown}: a worker cannot use it ({e}); its outputs are kept in its "
                      f"local cache only")
            return
        self.disabled = state["disabled"]

    # --- reading --------------------------------------------------------------------------------

    def present(self, keys: Iterable[str]) -> set[str]:
        """Which of these keys the remote holds: one listing where the remote can list, else a GET
        of each key's record (kept for `fetch`). A remote that fails answers none, with a warning."""
        keys = set(keys)
        if self.disabled or not (keys or (self.listable and not self.read_only)):
            return set()  # (a writable remote is listed even then: the build writes what it lacks)
        try:
            if self.listable:
                self.known = self._list()
                return keys & self.known
            return self._get_records(keys)
        except Exception as e:  # noqa: BLE001 - whatever the filesystem raises, the build goes on without it
            self.fail("cannot list it", e)
            return set()

    def _list(self) -> set[str]:
        self.requests["list"] += 1
        folder = f"{self._root}/ac"
        try:
            found = self._fs.find(folder, detail=False)
        except FileNotFoundError:
            return set()
        return {p.rsplit("/", 1)[-1] for p in found}

    def _get_records(self, keys: set[str]) -> set[str]:
        def one(key: str) -> str | None:
            found = self._read_record(key)
            if found is not None:
                self._records[key] = found
                return key
            return None

        return {k for k in _in_flight(one, sorted(keys)) if k}

    def _read_record(self, key: str) -> dict | None:
        data = self._get(f"ac/{key}")
        if data is None:
            return None
        try:
            record = json.loads(data)
        except ValueError:
            logger.warning("remote cache %s: the record of %s is damaged; it is made again", self.shown, key)
            return None
        ok = isinstance(record, dict) and record.get("schema") == SCHEMA and isinstance(record.get("meta"), dict)
        return record if ok else None

    def fetch(self, key: str, ext: str, store: ObjectStore, *, always: bool = False) -> bool:
        """Copy the object of `key` (an `ext` file) into the local store; False if the remote lacks
        it, its record does not describe its blob, or the remote failed. `always`: even after a
        failure (a cluster's outputs can reach this machine no other way)."""
        if self.disabled and not always:
            return False
        try:
            record = self._records.pop(key, None) or self._read_record(key)
            if record is None:
                return self._unusable(key)
            data = self._blob(record["output"])
            thumb = self._blob(record["thumb"]) if record.get("thumb") else None
            if data is None or (record.get("thumb") and thumb is None):
                logger.info("remote cache %s: a blob of %s is missing; it is made again", self.shown, key)
                return self._unusable(key)
            meta = record["meta"]
            if record.get("ext") != ext or meta.get("bytes") != len(data) or meta.get("sha256") != record["output"] \
                    or record.get("key", key) != key:
                logger.warning("remote cache %s: the record of %s does not describe its output (another writer's "
                               "layout, or another key's record?): not used, it is made again", self.shown, key)
                return self._unusable(key)
            store.put(key, ext, data, meta, thumb)
            return True
        except Exception as e:  # noqa: BLE001
            self.fail(f"cannot read {key}", e)
            return False

    def _unusable(self, key: str) -> bool:
        """The remote's object of `key` cannot be used: it is no longer counted as there, so the
        build that makes it again writes it again (else every later machine makes it too)."""
        if self.known is not None:
            self.known.discard(key)
        return False

    def _blob(self, digest: str) -> bytes | None:
        data = self._get(f"cas/{digest}")
        if data is not None and hashlib.sha256(data).hexdigest() != digest:
            logger.warning("remote cache %s: cas/%s does not match its hash (a torn or tampered write): not used",
                           self.shown, digest)
            return None
        return data

    def _get(self, name: str) -> bytes | None:
        self.requests["get"] += 1
        try:
            return self._fs.cat_file(f"{self._root}/{name}")
        except FileNotFoundError:
            return None

    # --- writing --------------------------------------------------------------------------------

    def fetch_all(self, objects: list[tuple[str, str]], store: ObjectStore) -> list[bool]:
        """`fetch` each (key, ext), REQUESTS at a time; whether each was fetched, in order."""
        return _in_flight(lambda o: self.fetch(o[0], o[1], store), objects)

    def push_all(self, objects: list[tuple[str, str]], store: ObjectStore) -> None:
        """`push` each (key, ext), REQUESTS at a time."""
        _in_flight(lambda o: self.push(o[0], o[1], store), objects)

    def push_soon(self, key: str, ext: str, store: ObjectStore) -> None:
        """`push` in a background thread, so that a worker renders the next output while this one
        uploads; `flush` waits for every upload started."""
        with self._lock:
            if self._uploads is None:
                from concurrent.futures import ThreadPoolExecutor

                self._uploads = ThreadPoolExecutor(UPLOADS, thread_name_prefix="mockups-upload")
            self._pending.append(self._uploads.submit(self.push, key, ext, store))

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for future in pending:
            future.result()  # push never raises: a failure is in `problems`

    def push(self, key: str, ext: str, store: ObjectStore) -> None:
        """Write a finished local object to the remote: its blobs, then its record. Never raises."""
        if self.read_only or self.disabled or (self.known is not None and key in self.known):
            return
        try:
            meta = store.meta(key)
            path = store.path(key, ext)
            if meta is None or not path.exists():
                return
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if digest != meta.get("sha256"):  # changed since it was made (an output edited in place): not shared
                logger.warning("remote cache %s: the local object of %s is not what was made; it is not written",
                               self.shown, key)
                return
            thumb = store.read_thumb(key)
            record = {"schema": SCHEMA, "key": key, "ext": ext, "meta": meta, "output": digest,
                      "thumb": hashlib.sha256(thumb).hexdigest() if thumb is not None else None}
            self._put(f"cas/{record['output']}", data)
            if thumb is not None:
                self._put(f"cas/{record['thumb']}", thumb)
            try:
                self._put(f"ac/{key}", json.dumps(record, sort_keys=True).encode())
            except Exception as e:  # noqa: BLE001
                hint = (" (a bazel-remote server refuses records that are not Bazel's: start it with "
                        "--disable_http_ac_validation)") if not self.listable and "400" in str(e) else ""
                self.fail(f"cannot write the record of {key}{hint}", e)
                return
            if self.known is not None:
                self.known.add(key)
        except Exception as e:  # noqa: BLE001
            self.fail(f"cannot write {key}", e)

    def _put(self, name: str, data: bytes) -> None:
        self.requests["put"] += 1
        path = f"{self._root}/{name}"
        if self.local:  # fsspec's local pipe is not atomic: a reader could see a part
            atomic_write(Path(path), data, durable=False)
        else:
            self._fs.pipe_file(path, data)

    def fail(self, what: str, error: Exception) -> None:
        """Record a failure as a warning and stop using the remote for the rest of this build."""
        self.note(f"remote cache {self.shown}: {what} ({type(error).__name__}: {_short(error)}); this build "
                  f"goes on with the local cache only")

    def note(self, text: str) -> None:
        """Take a failure's warning (this process's, or a worker's): the first one stops the remote."""
        with self._lock:
            if self.disabled and text in self.problems:
                return
            first, self.disabled = not self.disabled, True
            if first:
                self.problems.append(text)
        if first:
            logger.warning("%s", text)


def _in_flight(fn, items: list) -> list:
    """fn of each item, REQUESTS of them at once (each waits on the network, not the CPU)."""
    if not items:
        return []
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(REQUESTS, len(items))) as pool:
        return list(pool.map(fn, items))


def _short(error: Exception) -> str:
    text = " ".join(str(error).split()) or "no message"
    return text if len(text) <= 200 else text[:197] + "..."


def _open(url: str):
    """(filesystem, root path, whether it can list, whether it is the local disk) for a URL."""
    try:
        import fsspec
    except ImportError:
        raise RemoteCacheError("a remote cache needs fsspec: pip install 'mockups[remote]'") from None
    protocol = url.split("://", 1)[0].lower() if "://" in url else "file"
    options: dict = {"skip_instance_cache": True}
    if protocol in ("s3", "s3a"):
        options.update(_s3_options())
    if protocol in ("http", "https"):
        options["client_kwargs"] = {"timeout": _aiohttp_timeout()}
    try:
        fs, root = fsspec.url_to_fs(url, **options)
    except ImportError as e:
        package = PROTOCOL_PACKAGES.get(protocol, str(e.name or "its fsspec package"))
        raise RemoteCacheError(f"a {protocol}:// cache needs {package}: pip install 'mockups[remote]' "
                               f"(or pip install {package})") from None
    except ValueError as e:
        raise RemoteCacheError(f"cannot use {shown(url)} as a cache: {e}") from None
    local = protocol in ("file", "local")
    if local:
        os.makedirs(root, exist_ok=True)
    return fs, root.rstrip("/"), protocol not in ("http", "https"), local


def _s3_options() -> dict:
    """Short timeouts and few retries (a stopped server is a warning in seconds, not minutes); the
    endpoint from AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3), as the AWS tools read it."""
    options: dict = {"config_kwargs": {"connect_timeout": 5, "read_timeout": TIMEOUT,
                                       "retries": {"max_attempts": 2, "mode": "standard"}},
                     "use_listings_cache": False,
                     "max_concurrency": 1}  # else each GET is preceded by a HEAD for the size
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        options["endpoint_url"] = endpoint
    return options


def _aiohttp_timeout():
    import aiohttp

    return aiohttp.ClientTimeout(total=TIMEOUT, connect=5)
