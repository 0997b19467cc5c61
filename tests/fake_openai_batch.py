"""The Files and Batch APIs of the fake OpenAI server (tests/fake_openai.py): `/v1/files` (upload,
`/content`), `/v1/batches` (create, list, retrieve, cancel), with object shapes from the installed SDK's
types. A batch stays `in_progress` until the test runs it (`BatchAPI.run`), which answers each
JSONL line exactly as the fake answers a JSON /images/edits request, with its `file_id` images
resolved to the uploaded files; lines can be made to fail, and a batch to expire part-way.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field

from PIL import Image

from tests.fake_openai_api import ApiError, answer, check_json_edit, check_model_rules, parse_multipart

FILE_RE = re.compile(r"^/v1/files/(file-[\w-]+)(/content)?$")
BATCH_RE = re.compile(r"^/v1/batches/(batch_[\w-]+)(/cancel)?$")
ENDPOINTS = {"/v1/images/edits", "/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/completions",
             "/v1/images/generations", "/v1/moderations"}


@dataclass
class Upload:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int = field(default_factory=lambda: int(time.time()))

    def to_json(self) -> dict:
        return {"id": self.id, "object": "file", "bytes": len(self.data), "created_at": self.created_at,
                "filename": self.filename, "purpose": self.purpose, "status": "processed"}


class BatchAPI:
    def __init__(self, today=None):
        self.files: dict[str, Upload] = {}
        self.batches: dict[str, dict] = {}
        self.calls: list[str] = []
        self.today = today
        self.lock = threading.Lock()

    def uploads(self, purpose: str) -> list[Upload]:
        return [f for f in self.files.values() if f.purpose == purpose]

    # --- HTTP ------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers, body: bytes) -> tuple[int, bytes, str] | None:
        """(status, body, content type) for a Files or Batch API request; None for another path."""
        path = path.split("?")[0]
        if not (path.startswith("/v1/files") or path.startswith("/v1/batches")):
            return None
        with self.lock:
            self.calls.append(f"{method} {path}")
            try:
                return self._route(method, path, headers, body)
            except ApiError as e:
                return e.status, json.dumps(e.body).encode(), "application/json"

    def _route(self, method: str, path: str, headers, body: bytes) -> tuple[int, bytes, str]:
        if method == "POST" and path == "/v1/files":
            return self._json(self._upload(headers.get("Content-Type") or "", body).to_json())
        if method == "POST" and path == "/v1/batches":
            return self._json(self._create(json.loads(body or b"{}")))
        if method == "GET" and path == "/v1/batches":  # the newest first, as the API lists them
            found = [{k: v for k, v in b.items() if not k.startswith("_")}
                     for b in sorted(self.batches.values(), key=lambda b: b["created_at"], reverse=True)]
            return self._json({"object": "list", "data": found, "first_id": found[0]["id"] if found else None,
                               "last_id": found[-1]["id"] if found else None, "has_more": False})
        m = FILE_RE.match(path)
        if m and method == "GET":
            found = self.files.get(m[1])
            if found is None:
                raise ApiError(404, "not_found", f"No such File object: {m[1]}", "id")
            if m[2]:
                return 200, found.data, "application/octet-stream"
            return self._json(found.to_json())
        m = BATCH_RE.match(path)
        if m:
            batch = self.batches.get(m[1])
            if batch is None:
                raise ApiError(404, "not_found", f"No batch found with id '{m[1]}'.", "batch_id")
            if method == "POST" and m[2]:
                if batch["status"] in ("validating", "in_progress", "finalizing"):
                    batch.update(status="cancelling", cancelling_at=int(time.time()))
                    self._finish(batch, limit=0, status="cancelled")
                return self._json(batch)
            if method == "GET" and not m[2]:
                return self._json(batch)
        raise ApiError(404, "unknown_url", f"Invalid URL ({method} {path})")

    @staticmethod
    def _json(data: dict) -> tuple[int, bytes, str]:
        return 200, json.dumps(data).encode(), "application/json"

    def _upload(self, content_type: str, body: bytes) -> Upload:
        fields, files = parse_multipart(content_type, body, file_fields={"file"})
        purpose = fields.get("purpose")
        if purpose not in ("assistants", "batch", "fine-tune", "vision", "user_data", "evals"):
            raise ApiError(400, "invalid_value", f"Invalid value for 'purpose': {purpose!r}", "purpose")
        if len(files) != 1 or files[0]["field"] != "file":
            raise ApiError(400, "invalid_request_error", "exactly one 'file' is required", "file")
        if purpose == "batch" and len(files[0]["data"]) > 200 * 2**20:
            raise ApiError(400, "invalid_request_error", "a batch input file may be at most 200 MB", "file")
        upload = Upload(f"file-{secrets.token_hex(12)}", files[0]["filename"] or "upload", purpose, files[0]["data"])
        self.files[upload.id] = upload
        return upload

    def _create(self, params: dict) -> dict:
        if params.get("endpoint") not in ENDPOINTS:
            raise ApiError(400, "invalid_value", f"Invalid endpoint: {params.get('endpoint')}", "endpoint")
        if params.get("completion_window") != "24h":
            raise ApiError(400, "invalid_value", "completion_window must be '24h'", "completion_window")
        source = self.files.get(params.get("input_file_id") or "")
        if source is None or source.purpose != "batch":
            raise ApiError(400, "invalid_request_error", "input_file_id must name a file uploaded for 'batch'",
                           "input_file_id")
        lines = [json.loads(line) for line in source.data.decode().splitlines() if line.strip()]
        if len(lines) > 50_000:
            raise ApiError(400, "invalid_request_error", "a batch may hold at most 50,000 requests", "input_file_id")
        for line in lines:
            if line.get("url") != params["endpoint"] or line.get("method") != "POST" or not line.get("custom_id"):
                raise ApiError(400, "invalid_request_error", "each line needs custom_id, method POST and the "
                                                             "batch's url", "input_file_id")
        now = int(time.time())
        batch = {"id": f"batch_{secrets.token_hex(12)}", "object": "batch", "endpoint": params["endpoint"],
                 "errors": None, "input_file_id": source.id, "completion_window": "24h", "status": "in_progress",
                 "output_file_id": None, "error_file_id": None, "created_at": now, "in_progress_at": now,
                 "expires_at": now + 86400, "metadata": params.get("metadata"),
                 "request_counts": {"total": len(lines), "completed": 0, "failed": 0}, "_lines": lines}
        self.batches[batch["id"]] = batch
        return {k: v for k, v in batch.items() if not k.startswith("_")}

    # --- running a batch (the test decides when) -------------------------------------------------

    def run(self, batch_id: str | None = None, *, fail: dict[str, tuple[int, str, str]] | None = None,
            expire_after: int | None = None, fail_batch: str | None = None) -> None:
        """Answer every line of a batch (all in_progress batches if none is named). `fail` maps a
        custom_id to (status, code, message) for that line's error; `expire_after` answers only the
        first N lines and expires the batch; `fail_batch` fails the whole batch with that message."""
        with self.lock:
            for batch in [self.batches[batch_id]] if batch_id else list(self.batches.values()):
                if batch["status"] != "in_progress":
                    continue
                if fail_batch:
                    batch.update(status="failed", failed_at=int(time.time()), errors={
                        "object": "list", "data": [{"code": "invalid_request", "message": fail_batch,
                                                    "line": None, "param": None}]})
                    continue
                self._finish(batch, limit=expire_after, status="expired" if expire_after is not None else
                             "completed", fail=fail or {})

    def _finish(self, batch: dict, *, limit: int | None, status: str, fail: dict | None = None) -> None:
        out, err = [], []
        for line in batch["_lines"][:limit]:
            status_code, body = self._answer(line, (fail or {}).get(line["custom_id"]))
            row = {"id": f"batch_req_{secrets.token_hex(8)}", "custom_id": line["custom_id"],
                   "response": {"status_code": status_code, "request_id": f"req_{secrets.token_hex(8)}",
                                "body": body}, "error": None}
            (out if status_code == 200 else err).append(json.dumps(row))
        for rows, key in ((out, "output_file_id"), (err, "error_file_id")):
            if rows:
                upload = Upload(f"file-{secrets.token_hex(12)}", f"{batch['id']}_{key}.jsonl", "batch_output",
                                ("\n".join(rows) + "\n").encode())
                self.files[upload.id] = upload
                batch[key] = upload.id
        now = int(time.time())
        batch.update(status=status, request_counts={"total": len(batch["_lines"]), "completed": len(out),
                                                    "failed": len(err)}, **{f"{status}_at": now})
        if status == "completed":
            batch["finalizing_at"] = now

    def _answer(self, line: dict, failure: tuple[int, str, str] | None) -> tuple[int, dict]:
        if failure is not None:
            status, code, message = failure
            return status, ApiError(status, code, message).body
        from tests.fake_openai import Recorded

        body = dict(line["body"])
        record = Recorded("POST", "/v1/images/edits", "json", body, [], None, time.monotonic())
        try:
            check_json_edit(record)
            record.images = [self._image(ref) for ref in body["images"]]
            if "mask" in body:
                record.mask = self._image(body["mask"])
            check_model_rules(body, True, self.today)
        except ApiError as e:
            return e.status, e.body
        return 200, answer(record)

    def _image(self, ref: dict) -> Image.Image:
        found = self.files.get(ref.get("file_id", ""))
        if found is None:
            raise ApiError(400, "invalid_value", f"file {ref.get('file_id')} not found", "images")
        image = Image.open(io.BytesIO(found.data))
        image.load()
        return image
