"""From a review of the documentation against the code (each test failed before its fix): where
README.md or docs/*.md and the code disagree and the code is the side that is wrong."""

from __future__ import annotations

import re
from datetime import date

import pytest
from PIL import Image

from mockups import cli
from mockups.backends.openai import models as openai_models
from mockups.engine.pipeline import prepare
from tests.conftest import MINIMAL
from tests.fake_openai import fake_openai  # noqa: F401  (fixture)


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    monkeypatch.setattr(openai_models, "today", lambda: date(2026, 12, 1))


@pytest.fixture
def openai_catalog(project, fake_openai):  # noqa: F811
    opts = (f"defaults:\n  backend: openai\n  openai:\n    model: gpt-image-2\n    quality: low\n    size: 256x256\n"
            f"    base_url: '{fake_openai.base_url}'\n    timeout: 20\n")
    return project(MINIMAL.replace("version: 1\n", "version: 1\n" + opts))


def test_plan_batch_prices_the_strategies_line_at_the_batch_price(openai_catalog, capsys):
    """README (Scaling out): "`plan` and `--max-cost` use the batch price (half)". `plan --batch`
    prints the estimate at half price, but its "openai strategies" line kept the direct price, so
    one plan gave two figures for the same edits."""
    half = prepare(openai_catalog, batch=True).plan.estimated_cost
    assert half > 0
    assert cli.main(["plan", str(openai_catalog), "--batch"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("openai strategies for what is stale"))
    edit = float(re.search(r"edit \$([0-9.]+)", line).group(1))
    assert edit == pytest.approx(half, abs=0.006), line


def test_a_psd_products_misspelt_layers_are_all_reported_at_once(tmp_path):
    """README (Errors): "Every problem is reported at once"; (Your own PSD mockups): "a layer name
    that is not in the file" is refused at validate. With both `smart_object:` and `colour_layer:`
    misspelt, only the smart object was reported: the colour layer's came after fixing the first."""
    from mockups import prepare as prepare_project
    from mockups.errors import CatalogError
    from tests import psd_build

    psd_build.build_mockup(tmp_path / "tee.psd")
    Image.new("RGBA", (300, 240), (210, 30, 40, 255)).save(tmp_path / "red.png")
    (tmp_path / "catalog.yaml").write_text(
        "version: 1\n"
        "channels:\n"
        "  - {id: shop, size: 360x300, format: png}\n"
        "products:\n"
        "  - sku: TEE\n"
        "    name: Tee mockup\n"
        "    psd:\n"
        "      file: tee.psd\n"
        "      smart_object: Desing\n"
        "      colour_layer: Colur\n"
        "    designs: [red]\n"
        "colours:\n"
        "  - {id: navy, name: Navy, hex: \"#1F2A44\"}\n"
        "backgrounds:\n"
        "  - {id: studio, name: Studio, colour: \"#EDEDED\"}\n"
        "designs:\n"
        "  - {id: red, name: Red, image: red.png}\n")
    with pytest.raises(CatalogError) as e:
        prepare_project(tmp_path / "catalog.yaml")
    paths = [p.path for p in e.value.problems]
    assert "products[0].psd.smart_object" in paths
    assert "products[0].psd.colour_layer" in paths, [f"{p.path}: {p.message}" for p in e.value.problems]
