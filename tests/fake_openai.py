"""A fake OpenAI Images API for tests and benchmarks: real HTTP on 127.0.0.1, a free port.

It accepts what the real API accepts, as far as the installed `openai` package describes it (see
tests/fake_openai_api.py): field names and Literal values from `openai.types.image_edit_params` /
`image_generate_params` (unknown fields -> 400 `unknown_parameter`), multipart bodies parsed with
the `email` package (each file part needs a filename and an image/* type, else 400
`unsupported_file_mimetype`), the JSON form of edits, and the model rules of the fact sheet
(input_fidelity with gpt-image-2 -> 400 `invalid_input_fidelity_model`, complexity with a model
before gpt-image-2.6 -> 400, a mask of another size -> 400, ...). A model the model table says is
gone on `FakeOpenAI.today` (default: `openai_models.today()`, the backend's one clock) -> 404.

The answer is deterministic: the first input image at the requested size, with the mask's
editable (transparent) area painted in a colour derived from the prompt's hash and the protected
area slightly brightened (a model redraws what it keeps, which is what the product lock undoes);
a second reference image is pasted into the editable area. With `background: transparent` the
editable area (without a mask: a frame) comes back with alpha 0. Usage tokens are realistic.

Each request can be scripted (`script(Reply...)` queues replies; `policy(n, record)` decides from
the request number): latency, 429 with Retry-After / retry-after-ms, 500, a hang past the client
timeout, a connection reset, moderation_blocked, insufficient_quota, 401, 403, model_not_found.
Every request is recorded (path, fields, files, Authorization) for assertions.

Run alone (`python -m tests.fake_openai --latency 2`) it prints its base URL and serves until
killed; `POST /_fake/config {"latency": s, "reset": true}` and `GET /_fake/stats` control it.
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

import pytest
from PIL import Image

from tests.fake_openai_api import (
    EDIT_TYPES,
    GENERATE_TYPES,
    ApiError,
    answer,
    check_fields,
    check_json_edit,
    check_model_rules,
    decode_images,
    parse_multipart,
    prompt_colour,
)
from tests.fake_openai_batch import BatchAPI

__all__ = ["FakeOpenAI", "Reply", "Recorded", "fake_openai", "prompt_colour", "answer"]


@dataclass
class Reply:
    """What to do with one request instead of (or before) answering it normally."""

    status: int = 200
    body: dict | None = None
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    hang: float = 0.0  # seconds to wait and then close without an answer
    reset: bool = False  # answer with a TCP reset

    @staticmethod
    def error(status: int, code: str, message: str, type_: str = "invalid_request_error", headers=None,
              param: str | None = None, **extra):
        return Reply(status, ApiError(status, code, message, param, type_, **extra).body, dict(headers or {}))

    @classmethod
    def rate_limited(cls, retry_after: float | None = 1, retry_after_ms: float | None = None) -> Reply:
        headers = {}
        if retry_after is not None:
            headers["retry-after"] = f"{retry_after:g}"
        if retry_after_ms is not None:
            headers["retry-after-ms"] = f"{retry_after_ms:g}"
        return cls.error(429, "rate_limit_exceeded", "Rate limit reached for images per minute.",
                         "requests", headers)

    @classmethod
    def server_error(cls) -> Reply:
        return cls.error(500, "server_error", "The server had an error while processing your request.", "server_error")

    @classmethod
    def moderation(cls, stage: str = "input", categories=("violence",)) -> Reply:
        return cls.error(400, "moderation_blocked", "Your request was rejected by the safety system.",
                         "image_generation_user_error",
                         moderation_details={"moderation_stage": stage, "categories": list(categories)})

    @classmethod
    def quota(cls, status: int = 429) -> Reply:
        return cls.error(status, "insufficient_quota", "You exceeded your current quota, please check your plan "
                         "and billing details.", "insufficient_quota")

    @classmethod
    def forbidden(cls) -> Reply:
        return cls.error(403, "", "Your organization must be verified to use the model `gpt-image-2`.",
                         "invalid_request_error")

    @classmethod
    def not_found(cls, model: str = "gpt-image-2") -> Reply:
        return cls.error(404, "model_not_found", f"The model `{model}` does not exist or you do not have access "
                                                 "to it.")


@dataclass
class Recorded:
    method: str
    path: str
    form: str  # multipart | json
    fields: dict
    files: list[dict]  # field, filename, content_type, bytes, sha256, size, data
    authorization: str | None
    started: float
    images: list[Image.Image] = field(default_factory=list, repr=False)
    mask: Image.Image | None = field(default=None, repr=False)
    status: int = 0
    seconds: float = 0.0  # from arrival to the answer

    def file_fields(self) -> list[str]:
        return [f["field"] for f in self.files]


class FakeOpenAI:
    def __init__(self, api_key: str | None = None, latency: float = 0.0, today: date | None = None):
        self.api_key = api_key
        self.latency = latency
        self.today = today  # the date model statuses are judged at; None: openai_models.today()
        self.requests: list[Recorded] = []
        self.batch = BatchAPI(today)  # /v1/files and /v1/batches (tests/fake_openai_batch.py)
        self.policy: Callable[[int, Recorded], Reply | None] | None = None
        self._queue: list[Reply] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._count = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def start(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._queue.clear()
            self._count = 0
        self.policy = None

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def max_in_window(self, seconds: float = 60.0) -> int:
        times = sorted(r.started for r in self.requests)
        best, j = 0, 0
        for i, t in enumerate(times):
            while times[j] <= t - seconds:
                j += 1
            best = max(best, i - j + 1)
        return best

    def _next_reply(self, record: Recorded) -> Reply | None:
        with self._lock:
            self.requests.append(record)
            self._count += 1
            n = self._count
            if self._queue:
                return self._queue.pop(0)
        return self.policy(n, record) if self.policy else None

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stop.wait(seconds)


def _handler(fake: FakeOpenAI):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stalls

        def log_message(self, *args) -> None:  # quiet
            pass

        def _batch_api(self, method: str, body: bytes = b"") -> bool:
            """Answer a Files or Batch API request; False if it is another path."""
            key = self.headers.get("Authorization")
            if (self.path.startswith("/v1/files") or self.path.startswith("/v1/batches")) and fake.api_key \
                    and key != f"Bearer {fake.api_key}":
                self._send(None, 401, ApiError(401, "invalid_api_key", "Incorrect API key provided.").body)
                return True
            found = fake.batch.handle(method, self.path, self.headers, body)
            if found is None:
                return False
            status, data, ctype = found
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return True

        def do_GET(self) -> None:  # noqa: N802
            if self._batch_api("GET"):
                return None
            if self.path != "/_fake/stats":
                return self._send(None, 404, ApiError(404, "unknown_url", f"Invalid URL (GET {self.path})").body)
            statuses = [r.status for r in fake.requests]
            seconds = sorted(r.seconds for r in fake.requests) or [0.0]
            return self._send(None, 200, {"requests": len(statuses), "ok": statuses.count(200),
                                          "max_in_60s": fake.max_in_window(60.0),
                                          "seconds": {"median": seconds[len(seconds) // 2],
                                                      "p90": seconds[int(len(seconds) * 0.9)], "max": seconds[-1]}})

        def do_POST(self) -> None:  # noqa: N802
            started = time.monotonic()
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self._batch_api("POST", body):
                return None
            if self.path == "/_fake/config":
                return self._configure(json.loads(body or b"{}"))
            record = Recorded("POST", self.path, "", {}, [], self.headers.get("Authorization"), started)
            try:
                self._parse(record, body)
                problem = None
            except ApiError as e:
                problem = e
            reply = fake._next_reply(record)
            if reply and reply.reset:
                return self._reset()
            if reply and reply.hang:
                fake.sleep(reply.hang)
                self.close_connection = True
                return self._reset()
            if problem is not None:
                return self._send(record, problem.status, problem.body)
            if reply and reply.status != 200:
                fake.sleep(reply.delay)
                return self._send(record, reply.status, reply.body, reply.headers)
            result = answer(record)  # the latency counts from arrival, like a real server's
            fake.sleep((reply.delay if reply and reply.delay else fake.latency) - (time.monotonic() - started))
            return self._send(record, 200, result)

        def _parse(self, record: Recorded, body: bytes) -> None:
            if fake.api_key and record.authorization != f"Bearer {fake.api_key}":
                shown = (record.authorization or "")[7:]
                raise ApiError(401, "invalid_api_key", f"Incorrect API key provided: {shown[:6]}****{shown[-4:]}.")
            path = self.path.split("?")[0]
            ctype = self.headers.get("Content-Type") or ""
            if path not in ("/v1/images/edits", "/v1/images/generations"):
                raise ApiError(404, "unknown_url", f"Invalid URL (POST {path})")
            if path.endswith("/edits") and ctype.startswith("multipart/form-data"):
                record.form = "multipart"
                record.fields, record.files = parse_multipart(ctype, body)
                check_fields(record.fields, EDIT_TYPES)
                decode_images(record, record.files)
            else:
                record.form = "json"
                record.fields = json.loads(body or b"{}")
                if path.endswith("/edits"):
                    check_json_edit(record)
                else:
                    check_fields(record.fields, GENERATE_TYPES)
            check_model_rules(record.fields, path.endswith("/edits"), fake.today)

        def _configure(self, config: dict) -> None:
            if config.get("reset"):
                fake.reset()
            if "latency" in config:
                fake.latency = float(config["latency"])
            self._send(None, 200, {"latency": fake.latency})

        def _send(self, record: Recorded | None, status: int, body: dict, headers: dict | None = None) -> None:
            if record is not None:
                record.status = status
                record.seconds = time.monotonic() - record.started
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-request-id", f"req_{secrets.token_hex(8)}")
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _reset(self) -> None:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

    return Handler


@pytest.fixture
def fake_openai(monkeypatch):
    """A running fake server; OPENAI_API_KEY is set to a random dummy key it expects."""
    key = "sk-test-" + secrets.token_hex(16)
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    fake = FakeOpenAI(api_key=key).start()
    try:
        yield fake
    finally:
        fake.stop()


def main(argv: list[str] | None = None) -> int:
    """Serve until killed (for a benchmark's separate process); prints the base URL first."""
    ap = argparse.ArgumentParser(prog="python -m tests.fake_openai")
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--api-key", help="expected key (default: accept any)")
    args = ap.parse_args(argv)
    fake = FakeOpenAI(api_key=args.api_key, latency=args.latency).start()
    print(fake.base_url, flush=True)
    try:
        while fake.thread.is_alive():
            fake.thread.join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
