"""Hostile images: bombs, truncated and corrupt files, lying extensions, animations, huge dimensions.

What can be seen from a file's header (an unknown format, more pixels than allowed) is refused by
`mockups validate` at the catalog line that names the file. What only shows when the pixels are
decoded (a truncated or corrupt file, or a file swapped after validation) fails that variant alone:
the build goes on, exits 1, and the manifest records the failure with the file's name. Either way
no pixels of a bomb are ever allocated, which a subprocess build measures.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mockups.cli import main
from tests.conftest import MINIMAL, REPO, png_bytes, tiny_product

MUG_VARIANTS = ["web/MUG/navy--studio", "web/MUG/navy--wood", "web/MUG/white--studio", "web/MUG/white--wood"]
TEE_VARIANTS = ["web/TEE/navy--studio", "web/TEE/navy--wood", "web/TEE/white--studio", "web/TEE/white--wood"]
MUG_LINE = "catalog.yaml:12:12: products[1].image: "  # where MINIMAL names assets/mug.png


# --- nasty files --------------------------------------------------------------------------------

def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def bomb_png(path: Path, width: int, height: int) -> Path:
    """A greyscale PNG of zeros: a few hundred KB on disk, width x height bytes once decoded.

    A valid zlib stream made quickly: one block of rows is deflated with a full flush (so it
    stands alone) and repeated, then a final block and the Adler-32 of everything.
    """
    rows = max(1, (4 << 20) // (width + 1))
    block = b"\0" * ((width + 1) * rows)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    full, rest = divmod(height, rows)
    tail = b"\0" * ((width + 1) * rest)
    end = zlib.compressobj(9, zlib.DEFLATED, -15)
    last = end.compress(tail) + end.flush()
    adler = 1
    for _ in range(full):
        adler = zlib.adler32(block, adler)
    idat = b"\x78\xda" + deflated * full + last + struct.pack(">I", zlib.adler32(tail, adler))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + _chunk(b"IDAT", idat) + _chunk(b"IEND", b""))
    return path


def truncated_png() -> bytes:
    data = png_bytes(tiny_product())
    return data[: len(data) * 6 // 10]


def corrupt_png() -> bytes:
    """Whole chunks with valid CRCs, but the compressed pixel stream inside is garbage."""
    data = bytearray(png_bytes(tiny_product()))
    start = data.index(b"IDAT") + 4
    length = struct.unpack(">I", data[start - 8:start - 4])[0]
    payload = bytes(data[start:start + 2]) + bytes((b * 7 + 13) & 0xFF for b in data[start + 2:start + length])
    return bytes(data[:start - 8]) + _chunk(b"IDAT", payload) + bytes(data[start + length + 4:])


def text_chunk_bomb() -> bytes:
    """A PNG whose zTXt chunk inflates to 64 MB."""
    data = png_bytes(tiny_product())
    ztxt = b"Comment\0\0" + zlib.compress(b"\0" * (64 << 20), 9)
    return data[:33] + _chunk(b"zTXt", ztxt) + data[33:]


def jpeg_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=95)
    return buf.getvalue()


def animated_png(first: Image.Image) -> bytes:
    frames = [first] + [Image.new("RGBA", first.size, (255, 0, 0, 255)), Image.new("RGBA", first.size, (0, 0, 255, 90))]
    buf = io.BytesIO()
    frames[0].save(buf, "PNG", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 128 128\n0 0 moveto 128 128 lineto stroke\nshowpage\n"


@pytest.fixture(scope="module")
def bombs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bombs")
    return {"20000x20000": bomb_png(folder / "huge.png", 20000, 20000),
            "9000x9000": bomb_png(folder / "large.png", 9000, 9000)}


# --- helpers ------------------------------------------------------------------------------------

def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def manifest(path: Path) -> dict:
    return json.loads((path.parent / "build" / "manifest.json").read_text())["variants"]


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGBA"))


# --- refused when the catalog is checked ----------------------------------------------------------

REFUSED = {
    "text named .png": (lambda bombs: b"this is text, not a PNG",
                        "assets/mug.png is not an image Pillow can read (expected PNG, JPEG, WebP or TIFF)"),
    "EPS named .png": (lambda bombs: EPS,  # Pillow would hand it to Ghostscript when decoding
                       "assets/mug.png is not an image Pillow can read (expected PNG, JPEG, WebP or TIFF)"),
    "zTXt bomb": (lambda bombs: text_chunk_bomb(),
                  "assets/mug.png is not an image Pillow can read (expected PNG, JPEG, WebP or TIFF)"),
    "20000x20000 bomb": (lambda bombs: bombs["20000x20000"].read_bytes(),
                         "assets/mug.png is too large to open safely (over Pillow's pixel limit)"),
    "9000x9000": (lambda bombs: bombs["9000x9000"].read_bytes(),
                  "assets/mug.png is 9000x9000 pixels, more than the 64,000,000 an image may have (scale it down)"),
    "empty file": (lambda bombs: b"",
                   "assets/mug.png is not an image Pillow can read (expected PNG, JPEG, WebP or TIFF)"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_header_problems_are_refused_at_the_catalog_line(project, bombs, case):
    content, message = REFUSED[case]
    path = project(files={"assets/mug.png": content(bombs)})
    code, _, err = run_cli("validate", str(path))
    assert code == 2
    assert err.splitlines()[0].endswith(MUG_LINE + message)


# --- accepted: the content decides, not the name ----------------------------------------------------

def test_a_jpeg_named_png_builds_like_the_same_jpeg_named_jpg(project, tmp_path):
    photo = jpeg_bytes(tiny_product(colour=(240, 240, 240)))
    lying = project(files={"assets/mug.png": photo})
    honest_root = tmp_path.parent / f"{tmp_path.name}-honest"
    honest_root.mkdir()
    for p in lying.parent.rglob("*"):
        if p.is_file():
            (honest_root / p.relative_to(lying.parent)).parent.mkdir(parents=True, exist_ok=True)
            (honest_root / p.relative_to(lying.parent)).write_bytes(p.read_bytes())
    (honest_root / "assets" / "mug.png").rename(honest_root / "assets" / "mug.jpg")
    honest = honest_root / "catalog.yaml"
    honest.write_text(MINIMAL.replace("assets/mug.png", "assets/mug.jpg"))
    for path in (lying, honest):
        assert run_cli("build", str(path), "-j", "1", "--no-gallery")[0] == 0
    for vid in MUG_VARIANTS:
        out = f"build/{vid}.png"
        assert np.array_equal(pixels(lying.parent / out), pixels(honest.parent / out)), vid


def test_an_animated_png_uses_its_first_frame(project, tmp_path):
    still = project()
    assert run_cli("build", str(still), "-j", "1", "--no-gallery")[0] == 0
    expected = {vid: pixels(still.parent / f"build/{vid}.png") for vid in MUG_VARIANTS}
    (still.parent / "assets" / "mug.png").write_bytes(animated_png(tiny_product(colour=(240, 240, 240))))
    with Image.open(still.parent / "assets" / "mug.png") as im:
        assert getattr(im, "n_frames", 1) == 3
    assert run_cli("build", str(still), "-j", "1", "--no-gallery")[0] == 0
    for vid in MUG_VARIANTS:
        assert np.array_equal(pixels(still.parent / f"build/{vid}.png"), expected[vid]), vid


# --- failed per variant when the pixels are decoded ---------------------------------------------------

@pytest.mark.parametrize("content, reason", [
    (truncated_png, "image data is truncated or corrupt"),
    (corrupt_png, "image data is truncated or corrupt"),
])
def test_undecodable_pixels_fail_only_their_variants(project, content, reason):
    path = project(files={"assets/mug.png": content()})
    assert run_cli("validate", str(path))[0] == 0  # the header is fine
    code, out, err = run_cli("build", str(path), "-j", "1", "--no-gallery")
    assert code == 1
    assert "8 variants (0 unchanged, 0 from cache, 4 made, 4 failed, 0 removed)" in out
    entries = manifest(path)
    assert sorted(v for v, e in entries.items() if e["status"] == "ok") == TEE_VARIANTS
    for vid in MUG_VARIANTS:
        assert entries[vid]["status"] == "failed"
        assert entries[vid]["error"].startswith(f"mug.png: {reason} ("), entries[vid]["error"]
        assert f"failed {vid}: mug.png: {reason}" in err
    for vid in TEE_VARIANTS:
        with Image.open(path.parent / "build" / f"{vid}.png") as im:
            im.load()


# --- a bomb never allocates its pixels (peak memory of a real build process) -----------------------

DRIVER = """
import shutil, sys
from mockups.engine.pipeline import BuildOptions, build, prepare
catalog, swap_in, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3])
options = BuildOptions(jobs=jobs, gallery=False)
prepared = prepare(catalog, options)           # validated with the honest file ...
if swap_in != "-":
    shutil.copyfile(swap_in, prepared.catalog.root / "assets" / "mug.png")   # ... then it is swapped
report = build(catalog, options, prepared=prepared)
for o in report.failures:
    print(o.job.id, "|", o.error)
"""


def peak_rss_mb(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run a Python subprocess; return its result, its peak RSS in MB (including waited-for workers), seconds."""
    started = time.monotonic()
    with open(cwd / "stdout.txt", "w+") as out, open(cwd / "stderr.txt", "w+") as err:
        proc = subprocess.Popen([sys.executable, *args], cwd=cwd, stdout=out, stderr=err,
                                env=dict(os.environ, PYTHONPATH=str(REPO)))
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        result = subprocess.CompletedProcess(args, proc.returncode, out.read(), err.read())
    return result, usage.ru_maxrss / 1024, time.monotonic() - started


@pytest.fixture(scope="module")
def baseline_rss(tmp_path_factory) -> float:
    """Peak RSS of the same build with honest images: what a bomb build is measured against."""
    root = tmp_path_factory.mktemp("baseline")
    path = _minimal_project(root)
    result, peak, _ = peak_rss_mb(["-c", DRIVER, str(path), "-", "2"], root)
    assert result.returncode == 0, result.stderr
    return peak


def _minimal_project(root: Path) -> Path:
    from tests.conftest import tiny_logo, write_tree

    write_tree(root, {"assets/tee.png": tiny_product(), "assets/mug.png": tiny_product(colour=(240, 240, 240)),
                      "assets/wood.png": Image.new("RGB", (160, 120), (150, 110, 70)), "assets/logo.png": tiny_logo(),
                      "catalog.yaml": MINIMAL})
    return root / "catalog.yaml"


@pytest.mark.parametrize("bomb, error", [
    ("20000x20000", "mug.png: image is too large to decode safely (Image size (400000000 pixels) exceeds limit of "
                    "178956970 pixels, could be decompression bomb DOS attack.)"),
    ("9000x9000", "mug.png: image is 9000x9000 = 81,000,000 pixels, more than the limit of 64,000,000 (possible "
                  "decompression bomb)"),
])
def test_a_bomb_swapped_in_after_validation_fails_fast_in_bounded_memory(tmp_path, bombs, baseline_rss, bomb, error):
    path = _minimal_project(tmp_path)
    result, peak, seconds = peak_rss_mb(["-c", DRIVER, str(path), str(bombs[bomb]), "2"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == [f"{vid} | {error}" for vid in MUG_VARIANTS]
    decoded_mb = int(bomb.split("x")[0]) ** 2 / 2**20  # one byte a pixel, before any RGBA conversion
    assert peak < baseline_rss + 40 < baseline_rss + decoded_mb, (peak, baseline_rss)
    assert seconds < 60
    entries = manifest(path)
    assert [entries[v]["error"] for v in MUG_VARIANTS] == [error] * 4


def test_a_bomb_in_the_catalog_is_refused_before_any_pixel(tmp_path, bombs, baseline_rss):
    path = _minimal_project(tmp_path)
    (tmp_path / "assets" / "mug.png").write_bytes(bombs["20000x20000"].read_bytes())
    result, peak, _ = peak_rss_mb(["-m", "mockups", "build", str(path)], tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0].endswith(
        "catalog.yaml:12:12: products[1].image: assets/mug.png is too large to open safely (over Pillow's pixel limit)")
    assert peak < baseline_rss + 40
    assert not (tmp_path / "build").exists()
