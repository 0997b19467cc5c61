"""OpenAI's Batch API for the openai backend's edits: half the price, a rate-limit pool of its own,
results within 24 hours. `mockups build --backend openai --batch` submits; the same command run
again (in a later CI job) collects what finished.

The state lives in the cache folder, `batches/`:

    batches/<batch id>.json   a submitted batch: its input file, and custom_id (job key) -> variant id
    batches/uploads.json      sha256 of an input image -> its file id (each distinct image uploaded once)

A request line is the JSON form of /v1/images/edits (JSONL cannot carry multipart), with its images
as uploaded file ids; its `custom_id` is the job's key, so results are matched by key whatever
their order, and a result is only used for a job whose key is still that. Output files are read
line by line from the response stream, never whole (a line holds one base64 image of 1-3 MB).

BATCH_LINES: up to 500 requests a batch. The API takes 50,000 requests and 200 MB of input a
batch, and our lines are about 1 KB, so input is never the limit; output is: each result line
carries a base64 image, so 500 lines make an output file of about 1 GB at 1024x1024 (2 MB a line),
which is what one lost download costs, while a build of 50,000 variants is still only 100
batches. Expired batches return what finished (it is billed); the rest fail and are submitted
again by the next build.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import httpx
import openai
from openai.types import ImagesResponse

from mockups.backends.openai._scrub import scrub
from mockups.engine.cache import atomic_write
from mockups.errors import BackendError, BuildError

logger = logging.getLogger(__name__)

BATCH_LINES = 500
ENDPOINT = "/v1/images/edits"
WINDOW = "24h"  # the only completion window the API offers
PENDING = {"validating", "in_progress", "finalizing", "cancelling"}
TERMINAL = {"completed", "expired", "cancelled", "failed"}


@dataclass
class Collected:
    """A finished request: its job key and either the edit's answer or why it failed."""

    key: str
    response: ImagesResponse | None = None
    error: str | None = None


@dataclass
class Submitted:
    """A batch this project submitted (the record in batches/<id>.json)."""

    id: str
    input_file_id: str
    jobs: dict[str, str]  # custom_id (job key) -> variant id
    created: float
    status: str = "validating"
    counts: dict = field(default_factory=dict)
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: str | None = None  # why a failed batch failed, as the API said

    def to_json(self) -> dict:
        return dict(vars(self))

    @classmethod
    def from_json(cls, data: dict) -> Submitted:
        known = {k: data[k] for k in ("status", "counts", "output_file_id", "error_file_id", "errors") if k in data}
        return cls(data["id"], data["input_file_id"], dict(data["jobs"]), float(data["created"]), **known)


def submitted(cache_dir: str | Path) -> list[Submitted]:
    """The batches recorded in a cache folder (no request: a plain build reads them too)."""
    out = []
    for path in sorted((Path(cache_dir) / "batches").glob("batch_*.json")):
        try:
            out.append(Submitted.from_json(json.loads(path.read_text())))
        except (ValueError, KeyError, TypeError) as e:
            logger.warning("%s is damaged (%s): that batch's results cannot be collected", path, e)
    return out


def pending_keys(cache_dir: str | Path) -> set[str]:
    """The job keys that recorded batches hold (submitted, not collected yet)."""
    return {key for b in submitted(cache_dir) for key in b.jobs}


class Batches:
    """The batches of one cache folder, through a client (the backend's)."""

    def __init__(self, client: openai.OpenAI, cache_dir: str | Path, *, purpose: str = "vision"):
        self.client = client
        self.cache_dir = Path(cache_dir)
        self.folder = self.cache_dir / "batches"
        self.purpose = purpose  # of the input images' uploads (OpenAI does not say which one edits need)
        self._index: dict | None = None  # sha256 -> upload (uploads.json), read once, saved by save_uploads
        self._uploading: dict[str, threading.Lock] = {}  # one lock an image: its upload happens once
        self._lock = threading.Lock()

    # --- records ---------------------------------------------------------------------------------

    def submitted(self) -> list[Submitted]:
        return submitted(self.cache_dir)

    def _save(self, batch: Submitted) -> None:
        atomic_write(self.folder / f"{batch.id}.json", json.dumps(batch.to_json(), indent=1).encode())

    def _forget(self, batch: Submitted) -> None:
        (self.folder / f"{batch.id}.json").unlink(missing_ok=True)

    def pending_keys(self) -> set[str]:
        return pending_keys(self.cache_dir)

    # --- submitting ------------------------------------------------------------------------------

    def upload(self, data: bytes, name: str) -> str:
        """The file id of these image bytes, uploading them only the first time (thread-safe: two
        threads with the same image wait for one upload; the index is kept in memory and written
        by `save_uploads`)."""
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            if self._index is None:
                self._index = self._read_index()
            one = self._uploading.setdefault(digest, threading.Lock())
        with one:
            found = self._index.get(digest)
            if found:
                return found["id"]
            made = self._call(self.client.files.create, file=(name, io.BytesIO(data), "image/png"),
                              purpose=self.purpose)
            with self._lock:
                self._index[digest] = {"id": made.id, "bytes": len(data), "uploaded": time.time()}
            return made.id

    def _read_index(self) -> dict:
        index_file = self.folder / "uploads.json"
        try:
            return json.loads(index_file.read_text()) if index_file.exists() else {}
        except ValueError:
            return {}  # a damaged index only costs uploads again

    def save_uploads(self) -> None:
        with self._lock:
            if self._index is not None:
                atomic_write(self.folder / "uploads.json", json.dumps(self._index, sort_keys=True, indent=1).encode())

    def submit(self, lines: list[tuple[str, str, dict]]) -> list[Submitted]:
        """Submit (job key, variant id, request body) lines in batches of BATCH_LINES; return them."""
        self.save_uploads()
        out = []
        for start in range(0, len(lines), BATCH_LINES):
            part = lines[start:start + BATCH_LINES]
            jsonl = "".join(json.dumps({"custom_id": key, "method": "POST", "url": ENDPOINT, "body": body},
                                       separators=(",", ":")) + "\n" for key, _, body in part).encode()
            # these very requests, by digest: a batch is made of them at most once. Its creation is
            # noted first, so that when the answer is lost (a 502 after the batch was made, Ctrl-C)
            # the next build finds the batch instead of paying for the requests a second time
            intent = hashlib.sha256(jsonl).hexdigest()[:32]
            note = self.folder / f"creating-{intent}.json"
            made = self._made_before(intent) if note.exists() else None
            if made is None:
                file = self._call(self.client.files.create, file=("mockups-batch.jsonl", io.BytesIO(jsonl),
                                                                  "application/jsonl"), purpose="batch")
                atomic_write(note, json.dumps({"requests": intent, "input_file_id": file.id}).encode())
                made = self._call(self.client.batches.create, input_file_id=file.id, endpoint=ENDPOINT,
                                  completion_window=WINDOW, metadata={"made_by": "mockups", "requests": intent})
            else:
                logger.info("batch %s: made by an earlier build whose answer was lost; not submitted again", made.id)
            batch = Submitted(made.id, made.input_file_id, {key: vid for key, vid, _ in part}, time.time(), made.status)
            self._save(batch)
            note.unlink(missing_ok=True)
            logger.info("batch %s: %d requests submitted", batch.id, len(part))
            out.append(batch)
        return out

    def _made_before(self, intent: str):
        """The batch an earlier build made of the requests with digest `intent` (its creation was
        noted, its answer never recorded), if the API lists one that is not over."""
        page = self._call(self.client.batches.list, limit=100)
        for found in page.data:
            meta = found.metadata or {}
            if meta.get("requests") == intent and found.status not in ("failed", "expired", "cancelled", "cancelling"):
                return found
        return None

    # --- collecting ------------------------------------------------------------------------------

    def poll(self, batch: Submitted) -> Submitted:
        found = self._call(self.client.batches.retrieve, batch.id)
        batch.status = found.status
        counts = found.request_counts
        batch.counts = counts.model_dump() if counts is not None else {}
        batch.output_file_id, batch.error_file_id = found.output_file_id, found.error_file_id
        errors = found.errors.data if found.errors and found.errors.data else []
        batch.errors = scrub("; ".join(f"{e.code}: {e.message}" for e in errors)) or None
        self._save(batch)
        return batch

    def collect(self, batch: Submitted, wanted: set[str] | None = None, *, keep: bool = False) -> Iterator[Collected]:
        """The results of a finished batch for the `wanted` keys (default: all): answers, failures,
        and the requests it never ran (an expired, cancelled or failed batch) as failures. The
        record then forgets the keys collected, and the others unless `keep` (a build that selects
        only some variants keeps the rest's results for a later one); it is deleted once empty.
        A result file that cannot be read raises BackendError (the record is kept: the next build
        tries again), except one that is gone (404): its requests fail."""
        wanted = set(batch.jobs) if wanted is None else wanted & set(batch.jobs)
        answered: set[str] = set()
        why = {"expired": "the batch expired (24 h) before this request ran",
               "cancelled": "the batch was cancelled before this request ran",
               "failed": f"the batch failed: {batch.errors or 'no reason given'}"}.get(batch.status,
                                                                                     "no result in the batch")
        try:
            for file_id in (batch.output_file_id, batch.error_file_id):
                for found in self._lines(file_id) if file_id else ():
                    if found.key in wanted and found.key not in answered:
                        answered.add(found.key)
                        yield found
        except openai.NotFoundError:
            why = "the batch's result file is no longer on OpenAI (batch files expire after 30 days)"
        except (openai.OpenAIError, httpx.HTTPError) as e:
            raise BackendError(f"batch {batch.id}: its results could not be read ({type(e).__name__}: {e}); "
                               f"the next build tries again") from None
        for key in sorted(wanted - answered):
            yield Collected(key, error=why)
        batch.jobs = {k: v for k, v in batch.jobs.items() if keep and k not in wanted}
        if batch.jobs:
            self._save(batch)
        else:
            self._forget(batch)

    def _lines(self, file_id: str) -> Iterator[Collected]:
        with self.client.files.with_streaming_response.content(file_id) as response:
            for raw in response.iter_lines():
                if raw.strip():
                    yield _result(raw)

    def cancel(self, batch: Submitted) -> Submitted:
        found = self._call(self.client.batches.cancel, batch.id)
        batch.status = found.status
        self._save(batch)
        return batch

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except openai.AuthenticationError as e:
            raise BuildError(f"OpenAI refused the API key for the Batch API ({e.status_code})") from None
        except openai.APIStatusError as e:
            raise BackendError(f"the Batch API answered {e.status_code}: {_message(e)}") from None
        except openai.APIConnectionError as e:
            raise BackendError(f"the Batch API could not be reached: {scrub(str(e))}") from None


def _result(raw: str) -> Collected:
    """One line of an output or error file."""
    try:
        line = json.loads(raw)
    except ValueError:
        return Collected("", error="a result line that is not JSON")
    key = str(line.get("custom_id") or "")
    response, error = line.get("response") or {}, line.get("error")
    status = response.get("status_code")
    body = response.get("body") or {}
    if status == 200 and not error:
        try:
            return Collected(key, response=ImagesResponse.model_validate(body))
        except ValueError as e:
            return Collected(key, error=f"an answer that is not an image response ({e.__class__.__name__})")
    found = error or body.get("error") or {}
    code, message = (found.get("code"), found.get("message")) if isinstance(found, dict) else (None, str(found))
    prefix = f"HTTP {status}: " if status else ""
    return Collected(key, error=scrub(f"{prefix}{code + ': ' if code else ''}{message or 'failed in the batch'}"))


def _message(e: openai.APIStatusError) -> str:
    body = e.body if isinstance(e.body, dict) else {}
    error = body.get("error", body) if isinstance(body, dict) else {}
    return scrub(str(error.get("message") if isinstance(error, dict) else "") or str(e))

