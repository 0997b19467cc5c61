"""mockups serve, the print-area editor and the CI commands do what they say: each test here is
a way they once failed (an edit that broke a block-style print area or deleted the comments after
it, an edit through a YAML alias, a CRLF catalog rewritten, a page of another host name served
the session token, a gallery opened as localhost refused, a recorded decision reported as failed,
a password of --cache in the log file, a --check summary that hid the removed outputs)."""

from __future__ import annotations

import http.client
import json
import textwrap

import pytest

from mockups import load_catalog
from mockups.errors import CatalogError
from mockups.review.catalog_edit import EditError, set_print_area
from tests.conftest import MINIMAL
from tests.test_serve import current, request, served  # noqa: F401 - the fixture

HEAD = textwrap.dedent("""\
    version: 1
    channels:
      - {id: web, size: 96x96, format: png}
    colours:
      - {id: white, name: White, hex: "#F4F4F2"}
    backgrounds:
      - {id: studio, name: Studio, colour: "#EDEDED"}
    designs:
      - {id: logo, name: Logo, image: assets/logo.png}
    products:
    """)
NEW = [[20, 20], [60, 20], [60, 60], [20, 60]]
NEW_T = ((20.0, 20.0), (60.0, 20.0), (60.0, 60.0), (20.0, 60.0))


# --- 1. the print-area editor ----------------------------------------------------------------------

def test_a_print_area_written_as_a_block_list_can_be_edited(project):
    """The usual hand-written style: the editor's Save is refused with a syntax error about the
    in-memory text (the block's span runs to the next key, which is glued onto the new value)."""
    path = project(HEAD + textwrap.dedent("""\
          - sku: A
            name: A
            image: assets/tee.png
            designs: [logo]
            print_area:
              - [10, 10]
              - [50, 10]
              - [50, 50]
              - [10, 50]
            scale: 0.8
        """))
    set_print_area(path, "A", NEW)
    product = load_catalog(path).products["A"]
    assert product.print_area == NEW_T and product.scale == 0.8


def test_a_print_area_written_as_a_block_mapping_can_be_edited(project):
    path = project(HEAD + textwrap.dedent("""\
          - sku: A
            name: A
            image: assets/tee.png
            designs: [logo]
            print_area:
              x: 10
              y: 10
              width: 40
              height: 40
          - sku: B
            name: B
            image: assets/tee.png
        """))
    set_print_area(path, "A", NEW)
    assert load_catalog(path).products["A"].print_area == NEW_T


def test_editing_the_last_block_print_area_keeps_the_comments_after_it(project):
    """The block's span runs to the end of the file: the comments after it are deleted."""
    path = project(HEAD + textwrap.dedent("""\
          - sku: A
            name: A
            image: assets/tee.png
            designs: [logo]
            print_area:
              - [10, 10]
              - [50, 10]
              - [50, 50]
              - [10, 50]
        # measured on the 2024 photo: keep the area clear of the seam
        """))
    set_print_area(path, "A", NEW)
    text = path.read_text()
    assert "# measured on the 2024 photo" in text and text.endswith("\n")


def test_an_aliased_print_area_is_edited_for_its_own_product_or_refused_clearly(project):
    """B's `print_area: *std` is A's node: the edit replaces A's text, anchor and all, and the
    result is refused as 'YAML syntax error: found undefined alias' at a line of a text that is
    not on disk."""
    path = project(HEAD + textwrap.dedent("""\
          - sku: A
            name: A
            image: assets/tee.png
            designs: [logo]
            print_area: &std [[10, 10], [50, 10], [50, 50], [10, 50]]
          - sku: B
            name: B
            image: assets/tee.png
            designs: [logo]
            print_area: *std
        """))
    try:
        set_print_area(path, "B", NEW)
    except EditError:
        return  # a clear refusal is fine
    except CatalogError as e:
        pytest.fail(f"the edit of B was refused with a syntax error of the edited text: {e}")
    products = load_catalog(path).products
    assert products["B"].print_area == NEW_T and products["A"].print_area != NEW_T


def test_editing_an_aliased_placement_does_not_edit_the_other_placement(project):
    path = project(HEAD + textwrap.dedent("""\
          - sku: A
            name: A
            image: assets/tee.png
            designs: [logo]
            placements:
              front: &f
                print_area: [[10, 10], [50, 10], [50, 50], [10, 50]]
              back: *f
        """))
    try:
        set_print_area(path, "A", NEW, placement="back")
    except EditError:
        return  # a clear refusal is fine
    placements = load_catalog(path).products["A"].placements
    assert placements["back"].print_area == NEW_T
    assert placements["front"].print_area == ((10, 10), (50, 10), (50, 50), (10, 50)), "front was edited too"


# --- 1. the server ---------------------------------------------------------------------------------

def _get_with_host(server, path, host):
    conn = http.client.HTTPConnection("127.0.0.1", server.httpd.server_address[1], timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_a_request_for_another_host_name_is_refused_dns_rebinding(served):  # noqa: F811
    """evil.example rebound to 127.0.0.1: its page reads the gallery (and the session token in it),
    the photos and the build, as same-origin."""
    port = served.httpd.server_address[1]
    status, body = _get_with_host(served, "/gallery/index.html", f"evil.example:{port}")
    assert served.token.encode() not in body, "the session token was served to another host name"
    assert status in (400, 403, 421)


def test_bad_requests_are_told_what_is_wrong_not_answered_500(served):  # noqa: F811
    """A print area with NaN or infinite corners (Python's json reads them), a path with a NUL
    (Path.resolve raises) and a Content-Length that is negative (read(-1) waits for the client to
    close: one handler thread held) or not a number were 500s or a hang."""
    catalog = served.catalog_file.read_text()
    for corners in ([[float("nan"), 0], [10, 0], [10, 10], [0, 10]], [[0, 0], [float("inf"), 0], [10, 10], [0, 10]],
                    [[True, 0], [10, 0], [10, 10], [0, 10]]):
        status, text = request(served, "/api/print-area", body={"sku": "TEE", "corners": corners})
        assert status == 400 and "four [x, y] pairs" in json.loads(text)["error"], text
    huge = "1" + "0" * 400  # an integer past a float's range: math.isfinite raised OverflowError
    status, text = request(served, "/api/print-area",
                           body=('{"sku": "TEE", "corners": [[%s, 0], [10, 0], [10, 10], [0, 10]]}' % huge).encode())
    assert status == 400 and "four [x, y] pairs" in json.loads(text)["error"], text
    assert served.catalog_file.read_text() == catalog
    status, text = _get_with_host(served, "/gallery/%00", f"127.0.0.1:{served.httpd.server_address[1]}")
    assert status == 404 and json.loads(text)["error"].startswith("not found")
    for length in ("-1", "ten"):
        conn = http.client.HTTPConnection("127.0.0.1", served.httpd.server_address[1], timeout=10)
        try:
            conn.putrequest("POST", "/api/decisions")
            for name, value in (("Content-Length", length), ("X-Mockups-Token", served.token),
                                ("Content-Type", "application/json")):
                conn.putheader(name, value)
            conn.endheaders()  # and the connection left open: the server must not wait for its end
            r = conn.getresponse()
            assert r.status == 400 and "Content-Length" in json.loads(r.read())["error"]
        finally:
            conn.close()


def test_a_decision_from_the_gallery_opened_as_localhost_is_written(served):  # noqa: F811
    """http://localhost:PORT/ gets the page and its token, but every decision is refused 403:
    only the Origin http://127.0.0.1:PORT is accepted."""
    entry = current(served)["web/TEE/navy--wood"]
    body = {"decisions": [{"variant": entry["id"], "sha256": entry["sha256"], "state": "approved"}]}
    port = served.httpd.server_address[1]
    status, text = request(served, "/api/decisions", body=body, origin=f"http://localhost:{port}")
    assert status == 200, text


def test_a_decision_that_is_written_is_not_reported_as_failed(served):  # noqa: F811
    """The catalog is mid-edit (invalid): the decision is written to approvals.yaml, then the
    gallery's redraw (which loads the catalog) fails, and the page is told 400: it puts back a
    decision that is in fact recorded."""
    served.watch = False
    entry = current(served)["web/TEE/navy--wood"]
    body = {"decisions": [{"variant": entry["id"], "sha256": entry["sha256"], "state": "approved"}]}
    served.catalog_file.write_text(MINIMAL.replace("name: Tee", "nmae: Tee"))
    status, text = request(served, "/api/decisions", body=body)
    written = (served.catalog_file.parent / "approvals.yaml").exists()
    assert (status == 200) == written, f"status {status} ({text!r}) but approvals.yaml written: {written}"


# --- 2. the command line ---------------------------------------------------------------------------

def test_a_password_in_the_cache_url_is_not_written_to_the_log_file(project, tmp_path):
    """remote.shown() keeps a URL's password out of logs, but main() logs the whole argv first."""
    from mockups.cli import main

    path = project()
    log_file = tmp_path / "mockups.log"
    main(["plan", str(path), "--cache", "http://ci:Sup3rSecretPassw0rd@127.0.0.1:9/cache",
          "--log-file", str(log_file)])
    assert "Sup3rSecretPassw0rd" not in log_file.read_text()


def test_build_check_summary_names_the_removed_outputs_it_fails_for(project, tmp_path, capsys):
    """A colour taken out of the catalog: `build --check` exits 1 (its outputs are removed, not
    rebuilt), but the --summary the CI job shows says '0 of 4 outputs out of date' and lists nothing."""
    from mockups.cli import main

    path = project()
    assert main(["build", str(path), "--backend", "tests.backends_for_tests:Recording"]) == 0
    path.write_text(MINIMAL.replace('  - {id: navy, name: Navy, hex: "#1F2A44"}\n', ""))
    summary = tmp_path / "summary.md"
    code = main(["build", str(path), "--check", "--backend", "tests.backends_for_tests:Recording",
                 "--summary", str(summary)])
    text = summary.read_text()
    assert code == 1
    assert "0 of" not in text and "navy" in text, text


def test_an_edit_keeps_the_catalog_s_crlf_line_endings(project):
    """read_text() turns every \\r\\n into \\n and the edit writes that back: a catalog saved on
    Windows has every line changed by one Save in the editor."""
    path = project()
    path.write_bytes(MINIMAL.replace("\n", "\r\n").encode())
    set_print_area(path, "TEE", NEW)
    raw = path.read_bytes()
    assert raw.count(b"\r\n") == MINIMAL.count("\n"), "line endings rewritten"
