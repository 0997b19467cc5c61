"""Shared fixtures: small projects written into tmp_path, tiny deterministic images."""

from __future__ import annotations

import io
import json
import os
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def tiny_product(size: int = 128, colour=(225, 225, 225)) -> Image.Image:
    """A light garment-ish blob with shading stripes and real alpha."""
    alpha = Image.new("L", (size, size), 0)
    ImageDraw.Draw(alpha).rounded_rectangle((size // 6, size // 8, size * 5 // 6, size * 7 // 8), size // 8, fill=255)
    y, x = np.mgrid[0:size, 0:size]
    shade = (np.sin(x / size * 9.0) * 18 + np.cos(y / size * 5.0) * 10).astype(np.float32)
    rgb = np.clip(np.array(colour, np.float32)[None, None, :] + shade[..., None], 0, 255).astype(np.uint8)
    image = Image.fromarray(rgb, "RGB").convert("RGBA")
    image.putalpha(alpha)
    return image


def tiny_logo(size: int = 64) -> Image.Image:
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((4, 4, size - 4, size - 4), fill=(230, 110, 30, 255))
    return image


MINIMAL = textwrap.dedent("""\
    version: 1
    channels:
      - {id: web, size: 96x96, format: png}
    products:
      - sku: TEE
        name: Tee
        image: assets/tee.png
        print_area: {x: 40, y: 30, width: 48, height: 48}
        designs: [logo]
      - sku: MUG
        name: Mug
        image: assets/mug.png
    colours:
      - {id: white, name: White, hex: "#F4F4F2"}
      - {id: navy, name: Navy, hex: "#1F2A44"}
    backgrounds:
      - {id: studio, name: Studio, colour: "#EDEDED"}
      - {id: wood, name: Wood, image: assets/wood.png}
    designs:
      - {id: logo, name: Logo, image: assets/logo.png}
""")


def record(kind: str, n: int = 1) -> None:
    """Count what was tried, for benchmarks/soak.py (which sets MOCKUPS_COUNTS)."""
    path = os.environ.get("MOCKUPS_COUNTS")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({kind: n}) + "\n")


def copy_bundled(root: Path) -> Path:
    """The repository's own example project (catalog, schema, templates, assets) copied into root."""
    import shutil

    root.mkdir(parents=True, exist_ok=True)
    for name in ("catalog.yaml", "catalog.schema.json"):
        shutil.copy(REPO / name, root / name)
    for folder in ("templates", "assets"):
        shutil.copytree(REPO / folder, root / folder)
    return root


def write_tree(root: Path, files: dict[str, str | bytes | Image.Image]) -> Path:
    """Write {relative path: text | bytes | image} under root; return root."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Image.Image):
            content.save(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content))
    return root


@pytest.fixture
def project(tmp_path: Path):
    """A minimal valid project; call it with overrides: project(catalog=..., files={...})."""

    def make(catalog: str = MINIMAL, files: dict | None = None) -> Path:
        base = {
            "assets/tee.png": tiny_product(),
            "assets/mug.png": tiny_product(colour=(240, 240, 240)),
            "assets/wood.png": Image.new("RGB", (160, 120), (150, 110, 70)),
            "assets/logo.png": tiny_logo(),
            "catalog.yaml": catalog,
        }
        base.update(files or {})
        write_tree(tmp_path, base)
        return tmp_path / "catalog.yaml"

    return make


@pytest.fixture
def log(tmp_path, monkeypatch):
    """log() -> the sorted ids of the variants the test backends made since the last call (reset=False
    keeps them); none of the backends' other switches (MOCKUPS_TEST_FAIL...) is set."""
    path = tmp_path.parent / f"{tmp_path.name}-calls.log"
    monkeypatch.setenv("MOCKUPS_TEST_LOG", str(path))
    for var in ("MOCKUPS_TEST_FAIL", "MOCKUPS_TEST_PRICE", "MOCKUPS_TEST_GAIN", "MOCKUPS_TEST_DELAY"):
        monkeypatch.delenv(var, raising=False)

    def made(reset: bool = True) -> list[str]:
        from tests.backends_for_tests import calls

        found = calls(path)
        if reset:
            path.unlink(missing_ok=True)
        return sorted(found)

    return made
