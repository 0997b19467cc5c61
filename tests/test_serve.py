"""`mockups serve`: the gallery over HTTP on 127.0.0.1, decisions written to approvals.yaml only with
the session's token and from its own origin, a rebuild when the catalog changes, clear errors."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from mockups import BuildOptions, build, load_catalog
from mockups.cli.commands import summary_line
from mockups.engine.cache import ObjectStore
from mockups.review import approvals
from mockups.review.gallery import write_gallery
from mockups.review.serve import Server, wait_for
from tests.conftest import MINIMAL

RECORDING = "tests.backends_for_tests:Recording"


@pytest.fixture
def served(project, log):
    path = project()
    options = BuildOptions(backend=RECORDING)
    build(path, options)
    build_dir = path.parent / "build"
    server = Server(path, build_dir, rebuild=lambda: summary_line(build(path, options)),
                    write_gallery=lambda: write_gallery(build_dir, load_catalog(path),
                                                        store=ObjectStore(path.parent / ".mockups-cache")),
                    port=0, reviewer="Ana")
    server.start()
    yield server
    server.stop()


def request(server, path, *, body=None, token=True, origin=None, method=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["X-Mockups-Token"] = server.token if token is True else token
    if origin:
        headers["Origin"] = origin
    data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    req = urllib.request.Request(server.origin + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def current(server) -> dict:
    return json.loads((server.build_dir / "manifest.json").read_text())["variants"]


def test_the_page_is_served_with_the_token_and_files_only_from_the_build_folder(served):
    status, html = request(served, "/gallery/index.html", token=False)
    assert status == 200 and f'<meta name="mockups-serve" content="{served.token}">'.encode() in html
    assert b"connect-src 'self'" in html
    assert b"connect-src" not in (served.build_dir / "gallery" / "index.html").read_bytes()  # from disk: no
    for bad in ("/../catalog.yaml", "/%2e%2e/catalog.yaml", "/nope.png"):
        status, body = request(served, bad, token=False)
        assert status == 404 and json.loads(body)["error"].startswith("not found")


def test_a_decision_is_written_with_the_token_from_the_same_origin_only(served):
    entry = current(served)["web/TEE/navy--wood"]
    body = {"decisions": [{"variant": entry["id"], "sha256": entry["sha256"], "state": "approved"}]}
    file = served.catalog_file.parent / "approvals.yaml"
    status, text = request(served, "/api/decisions", body=body, token=False)
    assert status == 403 and "token" in json.loads(text)["error"] and not file.exists()
    status, text = request(served, "/api/decisions", body=body, token="guess")
    assert status == 403 and not file.exists()
    status, text = request(served, "/api/decisions", body=body, origin="http://evil.example")
    assert status == 403 and "http://evil.example" in json.loads(text)["error"] and not file.exists()
    status, text = request(served, "/api/decisions", body=body, origin=served.origin)
    assert status == 200 and json.loads(text)["applied"] == 1
    assert approvals.load(file)["web/TEE/navy--wood"].by == "Ana"
    page = json.loads(request(served, "/gallery/index.html")[1].split(b'id="gallery-data">')[1].split(b"</script>")[0])
    assert {v["id"]: v["review"]["state"] for v in page["variants"]}["web/TEE/navy--wood"] == "approved"


@pytest.mark.parametrize("body, status, message", [
    (b"{not json", 400, "the body is not JSON"),
    ({"decisions": "all"}, 400, "expected {\"decisions\": [...]}"),
    ({"decisions": [{"variant": "x", "state": "maybe", "sha256": "0"}]}, 400, "decision 1: expected variant"),
])
def test_a_bad_request_gets_a_clear_error(served, body, status, message):
    code, text = request(served, "/api/decisions", body=body)
    assert code == status and message in json.loads(text)["error"]


def test_a_change_to_the_catalog_is_rebuilt(served, log):
    log()
    version = json.loads(request(served, "/api/state")[1])["version"]
    served.catalog_file.write_text(MINIMAL.replace("#1F2A44", "#22304F"))
    assert wait_for(lambda: json.loads(request(served, "/api/state")[1])["version"] > version, timeout=20)
    state = json.loads(request(served, "/api/state")[1])
    assert state["error"] is None and "4 made" in state["last"] and len(log()) == 4
    served.catalog_file.write_text("version: 1\nproducts: [}\n")  # mid-edit: an error, and the server goes on
    assert wait_for(lambda: json.loads(request(served, "/api/state")[1])["version"] > state["version"], timeout=20)
    assert "catalog.yaml" in json.loads(request(served, "/api/state")[1])["error"]


def test_the_editor_page_and_its_silhouette_layer(served):
    import io

    from PIL import Image

    status, html = request(served, "/edit/TEE", token=False)
    assert status == 200 and b"Print area of Tee (TEE)" in html and b"connect-src 'self'" in html
    assert b'src="/api/photo?sku=TEE"' in html and b'src="/web/TEE/' in html  # the query and the preview, encoded
    status, png = request(served, "/api/silhouette?sku=TEE", token=False)
    layer = Image.open(io.BytesIO(png))
    assert status == 200 and layer.size == (128, 128) and layer.mode == "RGBA"
    alpha = layer.getchannel("A")
    assert alpha.getpixel((64, 64)) <= 10 and alpha.getpixel((1, 1)) >= 140  # clear on the product, dim around
    assert request(served, "/edit/NOPE", token=False)[0] == 404
    status, text = request(served, "/api/print-area", body={"sku": "TEE", "corners": [[0, 0]]})
    assert status == 400 and "four [x, y] pairs" in json.loads(text)["error"]


def test_the_command_serves_until_interrupted(project, log, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from tests.conftest import REPO

    path = project()
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONFAULTHANDLER": "1"}  # SIGABRT: every thread's stack
    # Ctrl-C as a terminal delivers it: a suite started in the background (`pytest &` from a script)
    # has SIGINT ignored, which every child inherits, and a Python child then never sees it
    proc = subprocess.Popen([sys.executable, "-m", "mockups", "serve", str(path), "--port", "0", "--backend", RECORDING,
                             "--by", "Ana"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert proc.stdout.readline().startswith("Done: 8 variants")
        line = proc.stdout.readline()
        assert line.startswith("serving http://127.0.0.1:") and "approvals.yaml" in line
        url = line.split()[1]
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.status == 200 and b'name="mockups-serve"' in r.read()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)  # faulthandler prints where each thread is
            out, err = proc.communicate()
            raise AssertionError(f"serve did not stop 30 s after Ctrl-C; stdout: {out!r}; stderr: {err!r}") from None
    assert proc.returncode == 0 and "stopped" in out, err


def test_a_cylinder_s_band_is_saved_from_the_editor(tmp_path):
    from tests.conftest import copy_bundled

    root = copy_bundled(tmp_path)
    path = root / "catalog.yaml"
    server = Server(path, root / "build", rebuild=lambda: "", write_gallery=lambda: None, port=0, reviewer="Ana",
                    watch=False)
    server.start()
    try:
        status, html = request(server, "/edit/MUG-11OZ", token=False)
        assert status == 200 and b"This print position is a cylinder" in html
        data = json.loads(html.split(b'id="editor-data">')[1].split(b"</script>")[0])
        assert data["corners"] == [[262, 380], [642, 380], [642, 670], [262, 670]]
        assert data["options"] == {"scale": 1.0, "anchor": "center", "rotation": 0.0, "arc": 150.0, "ellipse": 0.24,
                                   "centre": 0.0}
        band = [[260, 380], [640, 380], [640, 660], [260, 660]]
        status, text = request(server, "/api/print-area", body={"sku": "MUG-11OZ", "placement": None, "corners": band,
                                                                "options": {"arc": 160}})
        assert status == 200, text
        assert "cylinder: {x: 260, y: 380, width: 380, height: 280, arc: 160, ellipse: 0.24}" in path.read_text()
        status, text = request(server, "/api/print-area", body={"sku": "MUG-11OZ", "corners": band,
                                                                "options": {"arc": 400}})
        assert status == 400 and "arc" in json.loads(text)["error"]  # the catalog's own check, as a message
    finally:
        server.stop()
