"""Job keys: a content hash over everything that shapes an output, and nothing else. Pinned."""

from __future__ import annotations

from mockups import expand, load_catalog
from mockups.backends.base import Backend
from mockups.jobs import make_job
from tests.conftest import MINIMAL, write_tree


class Fixed(Backend):
    name = "fixed"
    version = "1"

    def job_params(self, catalog, variant):
        return {"gain": self.options.get("gain", 1)}


PINNED_CATALOG = {
    "catalog.yaml": MINIMAL,
    "assets/tee.png": b"tee-bytes",
    "assets/mug.png": b"mug-bytes",
    "assets/wood.png": b"wood-bytes",
    "assets/logo.png": b"logo-bytes",
}


def keys(root, backend=None, prompt="p") -> dict[str, str]:
    catalog = load_catalog(root / "catalog.yaml", check_files=False)
    backend = backend or Fixed()
    return {v.id: make_job(catalog, v, backend=backend, prompt=prompt, template="t").key for v in expand(catalog)}


def test_pinned_keys(tmp_path):
    """If this fails, every user's cache is invalidated: change KEY_SCHEMA on purpose, then re-pin."""
    found = keys(write_tree(tmp_path, PINNED_CATALOG))
    assert found["web/TEE/white--studio"] == "bced30543a2f94c98b738492cdbde63036a75ad60fb91527a60366c5d6db8279"
    assert found["web/MUG/navy--wood"] == "20b50262b41012b41ac0b49c4a8576ce812e7e93a834f86d79ed760c75ae8b94"


def test_key_depends_on_what_shapes_output(tmp_path):
    root = write_tree(tmp_path, PINNED_CATALOG)
    base = keys(root)
    assert keys(root, prompt="other") != base  # the prompt
    assert keys(root, backend=Fixed({"gain": 2})) != base  # the backend's parameters
    (root / "assets/wood.png").write_bytes(b"new wood")  # an input's bytes: only variants using it
    changed = {k for k, v in keys(root).items() if v != base[k]}
    assert changed == {k for k in base if k.endswith("--wood")}


def test_key_ignores_paths_and_selection(tmp_path):
    root = write_tree(tmp_path, PINNED_CATALOG)
    base = keys(root)
    (root / "assets/tee2.png").write_bytes(b"tee-bytes")  # same bytes under another name
    text = (MINIMAL.replace("assets/tee.png", "assets/tee2.png")
            .replace("name: Mug\n", "name: Mug\n    colours: [white, navy]\n"))
    (root / "catalog.yaml").write_text(text)
    assert keys(root) == base


def test_colour_hex_change_touches_only_its_variants(tmp_path):
    root = write_tree(tmp_path, PINNED_CATALOG)
    base = keys(root)
    (root / "catalog.yaml").write_text(MINIMAL.replace("#1F2A44", "#223355"))
    changed = {k for k, v in keys(root).items() if v != base[k]}
    assert changed == {k for k in base if "/navy--" in k}
