"""Prompt templates: the project's folder overrides the built-ins; errors cite template:line and variant."""

from __future__ import annotations

import pytest

from mockups import TemplateError, expand, load_catalog
from mockups.prompts import PromptRenderer
from tests.conftest import MINIMAL


def render_first(path, sku="TEE") -> str:
    catalog = load_catalog(path)
    variant = next(v for v in expand(catalog) if v.product.sku == sku)
    return PromptRenderer(catalog).render(variant)


def test_builtin_template_names_product_colour_design_background(project):
    text = render_first(project())
    assert text.startswith("Professional e-commerce product photo of the Tee in White (#F4F4F2).")
    assert "The Logo design is printed on the front" in text
    assert "Background: Studio." in text
    assert "\n" not in text and "  " not in text


def test_project_template_overrides_builtin(project):
    path = project(files={"templates/product-photo.j2": "Custom {{ product.sku }} {{ colour.id }}/{{ background.id }}"})
    assert render_first(path) == "Custom TEE white/studio"


def test_per_product_template_and_include_of_builtin(project):
    text = MINIMAL.replace("name: Mug\n", "name: Mug\n    template: mug.j2\n")
    path = project(text, files={"templates/mug.j2": "MUG: {% include 'product-photo.j2' %}"})
    assert render_first(path, "MUG").startswith("MUG: Professional e-commerce product photo of the Mug")


def test_undefined_name_cites_template_line_and_variant(project):
    path = project(files={"templates/product-photo.j2": "line one\n{{ product.colr }}\n"})
    with pytest.raises(TemplateError) as e:
        render_first(path)
    msg = str(e.value)
    assert msg.startswith("templates/product-photo.j2:2: 'product' has no field 'colr' (did you mean 'colours'?); "
                          "it has: sku, name, image")
    assert msg.endswith("(while rendering web/TEE/white--studio)")


def test_syntax_error_cites_line(project):
    path = project(files={"templates/product-photo.j2": "ok\n{% if %}\n"})
    with pytest.raises(TemplateError) as e:
        render_first(path)
    assert "product-photo.j2:2: syntax error:" in str(e.value)


def test_missing_template_lists_builtins(project):
    path = project(MINIMAL.replace("name: Mug\n", "name: Mug\n    template: nope.j2\n"))
    with pytest.raises(TemplateError) as e:
        render_first(path, "MUG")
    assert "nope.j2: template not found" in str(e.value)
    assert "product-photo.j2" in str(e.value)


@pytest.mark.parametrize("probe", [
    "{{ product.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ product.model_dump.__globals__ }}",
    "{{ cycler.__init__.__globals__.os }}",
])
def test_sandbox_refuses_attribute_escapes(project, probe):
    path = project(files={"templates/product-photo.j2": probe})
    with pytest.raises(TemplateError) as e:
        render_first(path)
    assert "product-photo.j2:" in str(e.value)


# An error inside a template that the variant's template includes or imports (a macro) was
# reported at the top template's name and line.
def _render_first(path, sku="TEE") -> str:
    catalog = load_catalog(path)
    variant = next(v for v in expand(catalog) if v.product.sku == sku)
    return PromptRenderer(catalog).render(variant)


@pytest.mark.parametrize("files, where", [
    ({"templates/product-photo.j2": "a\n{% include 'part.j2' %}\n",
      "templates/part.j2": "x\ny\nz\n{{ product.colr }}\n"},
     "templates/part.j2:4:"),
    ({"templates/product-photo.j2": "{% include 'part.j2' %}\n", "templates/part.j2": "x\ny\n{% if %}\n"},
     "templates/part.j2:3:"),
    ({"templates/product-photo.j2": "{% import 'm.j2' as m %}\n{{ m.f() }}",
      "templates/m.j2": "1\n2\n{% macro f() %}\n{{ 1 // 0 }}{% endmacro %}"}, "templates/m.j2:4:"),
], ids=["undefined-in-include", "syntax-in-include", "error-in-macro"])
def test_error_in_an_included_template_names_that_file_and_line(project, files, where):
    with pytest.raises(TemplateError) as e:
        _render_first(project(files=files))
    assert str(e.value).startswith(where), str(e.value)
