"""The shared remote cache (engine.remote): S3 through moto's real server, a Bazel-style HTTP cache
server and file://, all on this machine. Two runners with their own local caches share outputs;
read-only mode writes nothing; a server that stops mid-build is a warning; no credential is written."""

from __future__ import annotations

import hashlib
import http.server
import shutil
import threading
import urllib.request
from pathlib import Path

import pytest

from mockups.cli import main
from mockups.engine.pipeline import build, prepare
from mockups.engine.remote import RemoteCache, shown
from mockups.errors import RemoteCacheError

SECRET = "s3-secret-that-must-never-be-written"


def _outputs(root: Path) -> dict[str, bytes]:
    build_dir = root / "build"
    return {p.relative_to(build_dir).as_posix(): p.read_bytes() for p in sorted(build_dir.rglob("*"))
            if p.is_file() and p.suffix in (".png", ".jpg", ".webp") and "inspect" not in p.parts
            and "sheets" not in p.parts and "gallery" not in p.parts}


def _runner(project, tmp_path: Path, name: str) -> Path:
    """A second checkout of the same project: its own build/ and .mockups-cache/."""
    source = project().parent
    target = tmp_path.parent / f"{tmp_path.name}-{name}"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("build", ".mockups-cache"))
    return target / "catalog.yaml"


@pytest.fixture
def s3(monkeypatch):
    """An S3 API (moto's threaded server) on 127.0.0.1 with an empty bucket; yields (url, server, client)."""
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for k, v in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing-key-id",
                 "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    # moto's state is global to the process: start from nothing (another test's server left its bucket)
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket="shared")
    try:
        yield "s3://shared/mockups", server, client
    finally:
        server.stop()


def _objects(client) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket="shared").get("Contents", [])]


def test_a_second_runner_makes_nothing_and_its_outputs_are_byte_identical(project, tmp_path, s3):
    url, _, client = s3
    first, second = _runner(project, tmp_path, "a"), _runner(project, tmp_path, "b")
    a = build(first, remote_cache=url)
    assert a.built == len(a.prepared.plan.items) > 4 and not a.cache_warnings
    assert a.prepared.remote.requests["list"] == 1
    keys = {o for o in _objects(client) if "/ac/" in o}
    assert len(keys) == a.built  # one record per output; blobs under cas/

    planned = prepare(second, remote_cache=url).plan
    assert {i.status for i in planned.items} == {"cached"} and all(i.remote for i in planned.items)
    assert planned.estimated_cost == 0
    b = build(second, remote_cache=url)
    assert b.built == 0 and b.fetched == len(b.prepared.plan.items) == b.placed
    assert _outputs(second.parent) == _outputs(first.parent)
    requests = b.prepared.remote.requests
    assert requests["list"] == 1 and requests["put"] == 0  # one listing, not a request per variant to find them
    assert requests["get"] == 3 * b.fetched  # each hit: its record, its output and its thumbnail


def test_read_only_reads_but_never_writes(project, tmp_path, s3):
    url, _, client = s3
    first = _runner(project, tmp_path, "a")
    report = build(first, remote_cache=url, cache_read_only=True)
    assert report.built > 0 and _objects(client) == []
    build(_runner(project, tmp_path, "b"), remote_cache=url)  # a trusted runner fills it
    filled = _objects(client)
    third = _runner(project, tmp_path, "c")
    again = build(third, remote_cache=url, cache_read_only=True)
    assert again.built == 0 and again.fetched == len(again.prepared.plan.items)
    assert _objects(client) == filled


def test_a_server_that_stops_mid_build_is_a_warning_not_a_failure(project, tmp_path, s3, capsys):
    url, server, client = s3
    catalog = _runner(project, tmp_path, "a")
    stopped = threading.Event()

    def stop_after_first(event):
        if type(event).__name__ == "JobFinished" and not stopped.is_set():
            stopped.set()
            server.stop()

    report = build(catalog, remote_cache=url, jobs=1, on_event=stop_after_first)
    assert stopped.is_set()
    assert report.built == len(report.prepared.plan.items) and not report.failures
    assert len(report.cache_warnings) == 1
    assert "remote cache s3://shared/mockups: cannot write" in report.cache_warnings[0]
    assert "local cache only" in report.cache_warnings[0]
    assert not (catalog.parent / ".mockups-cache" / "last-build.json").exists()  # the next build tries again


def test_the_cli_takes_the_cache_from_the_environment_and_writes_no_credential(project, tmp_path, s3, capsys,
                                                                                monkeypatch):
    url, _, _ = s3
    catalog = _runner(project, tmp_path, "a")
    monkeypatch.setenv("MOCKUPS_CACHE", url)
    summary, log = tmp_path / "summary.md", tmp_path / "build.log"
    assert main(["build", str(catalog), "--summary", str(summary), "--log-file", str(log), "-vv"]) == 0
    second = _runner(project, tmp_path, "b")
    assert main(["build", str(second), "--summary", str(summary)]) == 0
    out = capsys.readouterr()
    assert "from the shared cache" in out.out and " 0 made" in out.out
    written = [p for root in (catalog.parent, second.parent) for p in root.rglob("*") if p.is_file()]
    for path in [*written, summary, log]:
        assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in out.out + out.err


class _BazelCache(http.server.BaseHTTPRequestHandler):
    """The HTTP API of a Bazel remote cache (bazel-remote's): GET/PUT/HEAD of /ac/<key> and
    /cas/<sha256>, 404 for a miss; a CAS upload whose body does not match its name is refused."""

    store: dict[str, bytes] = {}
    seen: list[str] = []
    validate_ac = False  # bazel-remote without --disable_http_ac_validation: only Bazel's records

    def log_message(self, *args):  # quiet
        pass

    def _name(self) -> str | None:
        parts = self.path.strip("/").split("/")
        return "/".join(parts[-2:]) if len(parts) >= 2 and parts[-2] in ("ac", "cas") else None

    def do_GET(self):
        self.seen.append(f"GET {self.path}")
        body = self.store.get(self._name() or "")
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def do_HEAD(self):
        self.seen.append(f"HEAD {self.path}")
        body = self.store.get(self._name() or "")
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()

    def do_PUT(self):
        self.seen.append(f"PUT {self.path}")
        body = self.rfile.read(int(self.headers["Content-Length"]))
        name = self._name()
        if name is None or (name.startswith("cas/") and hashlib.sha256(body).hexdigest() != name[4:]) \
                or (name.startswith("ac/") and self.validate_ac and body.startswith(b"{")):
            self.send_response(400)
        else:
            self.store[name] = body
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def bazel_cache():
    _BazelCache.store, _BazelCache.seen, _BazelCache.validate_ac = {}, [], False
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BazelCache)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _BazelCache
    finally:
        server.shutdown()
        server.server_close()


def test_a_bazel_remote_cache_over_http(project, tmp_path, bazel_cache):
    base, handler = bazel_cache
    url = base.replace("http://", "http://ci:token-in-the-url@") + "/mockups"
    first, second = _runner(project, tmp_path, "a"), _runner(project, tmp_path, "b")
    a = build(first, remote_cache=url)
    assert a.built > 0 and not a.cache_warnings
    assert sum(1 for k in handler.store if k.startswith("ac/")) == a.built
    b = build(second, remote_cache=url)
    assert b.built == 0 and b.fetched == a.built
    assert _outputs(second.parent) == _outputs(first.parent)
    for root in (first.parent, second.parent):
        for path in root.rglob("*"):
            assert not path.is_file() or b"token-in-the-url" not in path.read_bytes(), path
    assert shown(url) == base + "/mockups"


def test_a_bazel_remote_that_refuses_the_records_names_the_fix(project, tmp_path, bazel_cache):
    base, handler = bazel_cache
    handler.validate_ac = True
    report = build(_runner(project, tmp_path, "a"), remote_cache=base)
    assert report.built > 0 and not report.failures
    (warning,) = report.cache_warnings
    assert "start it with --disable_http_ac_validation" in warning and "local cache only" in warning


def test_a_blob_that_does_not_match_its_hash_is_never_used(project, tmp_path):
    remote = tmp_path.parent / f"{tmp_path.name}-remote"
    url = remote.as_uri()
    first, second = _runner(project, tmp_path, "a"), _runner(project, tmp_path, "b")
    a = build(first, remote_cache=url)
    torn = sorted((remote / "cas").iterdir())[0]
    torn.write_bytes(torn.read_bytes()[: torn.stat().st_size // 2])  # as a writer killed half-way would leave it
    b = build(second, remote_cache=url)
    assert b.built == 1 and b.fetched == a.built - 1  # the torn one is made again, the others fetched
    assert _outputs(second.parent) == _outputs(first.parent)


def test_an_unusable_url_is_a_usage_error(project, capsys):
    catalog = project()
    with pytest.raises(RemoteCacheError, match="cannot use nosuch://bucket as a cache"):
        RemoteCache("nosuch://bucket")
    assert main(["build", str(catalog), "--cache", "nosuch://bucket"]) == 2
    assert "cannot use nosuch://bucket" in capsys.readouterr().err


def test_a_record_that_does_not_describe_its_blob_is_never_used(project, tmp_path):
    """Another writer's record (a wrong extension, a wrong size) is a miss, not a crash."""
    import json

    remote = tmp_path.parent / f"{tmp_path.name}-remote"
    first, second = _runner(project, tmp_path, "a"), _runner(project, tmp_path, "b")
    a = build(first, remote_cache=remote.as_uri())
    records = sorted((remote / "ac").iterdir())
    wrong_ext, wrong_size = json.loads(records[0].read_text()), json.loads(records[1].read_text())
    wrong_ext["ext"] = "jpg"
    wrong_size["meta"]["bytes"] += 1
    records[0].write_text(json.dumps(wrong_ext))
    records[1].write_text(json.dumps(wrong_size))
    b = build(second, remote_cache=remote.as_uri())
    assert b.built == 2 and b.fetched == a.built - 2 and not b.failures
    assert _outputs(second.parent) == _outputs(first.parent)
