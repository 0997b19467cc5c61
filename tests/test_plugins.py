"""A backend plugin, installed as an entry point, takes its own `defaults.<name>` from the catalog."""

from __future__ import annotations

import sys
import textwrap

import pytest

from mockups import BuildOptions, CatalogError, build, load_catalog, prepare

from .conftest import MINIMAL

PLUGIN = textwrap.dedent('''\
    import pydantic
    from PIL import Image
    from mockups.backends.base import Backend, Rendered

    class TinyOptions(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")
        grey: int = pydantic.Field(128, ge=0, le=255)

    class TinyBackend(Backend):
        name = "tiny"
        version = "1"
        parallelism = "thread"
        options_model = TinyOptions

        def job_params(self, catalog, variant):
            return {"grey": self.options["grey"]}

        def render(self, job):
            g = self.options["grey"]
            return Rendered(image=Image.new("RGB", tuple(job.variant.channel.size), (g, g, g)))
''')


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """A distribution on sys.path whose entry point names the `tiny` backend (as pip would install it)."""
    site = tmp_path / "site"
    (site / "tinyplug-1.0.dist-info").mkdir(parents=True)
    (site / "tinyplug-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: tinyplug\nVersion: 1.0\n")
    entry_points = "[mockups.backends]\ntiny = tinyplug:TinyBackend\n"
    (site / "tinyplug-1.0.dist-info" / "entry_points.txt").write_text(entry_points)
    (site / "tinyplug.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(site))
    yield
    sys.modules.pop("tinyplug", None)


def catalog_with(project, defaults: str):
    return project(MINIMAL.replace("version: 1\n", "version: 1\ndefaults:\n" + textwrap.indent(defaults, "  ")))


def test_a_plugin_reads_its_own_section(installed, project):
    path = catalog_with(project, "backend: tiny\ntiny: {grey: 40}\n")
    prepared = prepare(path, BuildOptions())
    assert prepared.backend.name == "tiny" and prepared.backend.options["grey"] == 40
    report = build(path, BuildOptions(gallery=False))
    assert report.built == len(prepared.plan.items) and not report.failures


def test_the_plugin_model_checks_the_section_in_the_users_words(installed, project):
    path = catalog_with(project, "backend: tiny\ntiny: {gray: 40}\n")
    with pytest.raises(CatalogError) as e:
        prepare(path, BuildOptions())
    assert "catalog.yaml:4:10: defaults.tiny.gray: unknown key 'gray' (did you mean 'grey'?)" in str(e.value)
    path = catalog_with(project, "backend: tiny\ntiny: {grey: 400}\n")
    with pytest.raises(CatalogError, match=r"defaults\.tiny\.grey: "):
        prepare(path, BuildOptions())


def test_a_section_for_a_backend_that_is_not_installed_is_still_a_typo(project):
    path = catalog_with(project, "tiny: {grey: 40}\n")
    with pytest.raises(CatalogError, match=r"defaults\.tiny: unknown key 'tiny'"):
        load_catalog(path)
