"""Prompt templates: Jinja in its sandbox, strict about undefined names.

Templates are looked up in the project's `templates/` folder first and the built-ins second, so a
project overrides one template and inherits the rest. Errors name the template file and line, and
the variant being rendered.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import jinja2

from mockups._resources import RESOURCES
from mockups._sandbox import Sandbox, SecurityError, sandbox, template_files
from mockups.catalog import Catalog
from mockups.catalog import schema as model_module
from mockups.errors import TemplateError, did_you_mean
from mockups.matrix import Variant

BUILTIN = RESOURCES / "templates"


class TemplateNotFound(TemplateError):
    """The template a catalog names is neither in templates/ nor built in."""


_Sandbox = Sandbox  # the one sandbox (mockups/_sandbox.py), shared with the gallery theme


def environment(project_templates: Path | None, *, autoescape: bool = False) -> jinja2.Environment:
    """A sandboxed environment: the project's templates first, then the built-in ones."""
    return sandbox([project_templates or None, BUILTIN], autoescape=autoescape)


def template_folders(catalog: Catalog) -> list[Path]:
    """The folders a catalog's prompt templates are looked up in, in order: its `templates/` (if
    there is one), then the built-ins."""
    folder = catalog.root / "templates"
    return [folder, BUILTIN] if folder.is_dir() else [BUILTIN]


class PromptRenderer:
    """Renders each variant's prompt; templates are compiled once per build."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.folders = template_folders(catalog)  # what engine.planmemo digests, too
        self.env = sandbox(self.folders)
        self.root = catalog.root
        self.data = _Data()

    def template_name(self, variant: Variant) -> str:
        return variant.product.template or self.catalog.model.defaults.template

    def render(self, variant: Variant) -> str:
        name = self.template_name(variant)
        try:
            template = self.env.get_template(name)
        except jinja2.TemplateNotFound:
            raise TemplateNotFound(f"{name}: template not found (looked in {self.catalog.root / 'templates'} "
                                f"and the built-in templates: {', '.join(builtin_names())}) "
                                f"while rendering {variant.id}") from None
        except jinja2.TemplateSyntaxError as e:
            raise TemplateError(f"{_shown(e.filename or name, self.root)}:{e.lineno}: syntax error: {e.message} "
                                f"(while rendering {variant.id})") from None
        except UnicodeDecodeError:
            raise TemplateError(f"{self._read_file(name)}: the file is not UTF-8 text (save it as UTF-8) "
                                f"(while rendering {variant.id})") from None
        values = context(variant, self.data)
        try:
            text = template.render(values)
        except UnicodeDecodeError:  # a template this one includes, imports or extends, read as it renders
            raise TemplateError(f"{self._read_file()}: the file is not UTF-8 text (save it as UTF-8) "
                                f"(while rendering {variant.id})") from None
        except SecurityError as e:
            raise TemplateError(f"{self._where(template)}: not allowed in a template: {e} "
                                f"(while rendering {variant.id})") from None
        except jinja2.TemplateSyntaxError as e:  # in a template this one includes, imports or extends
            raise TemplateError(f"{_shown(e.filename or name, self.root)}:{e.lineno}: syntax error: {e.message} "
                                f"(while rendering {variant.id})") from None
        except jinja2.TemplateNotFound as e:  # included, imported or extended
            hint = did_you_mean(str(e.name), self.template_names())
            raise TemplateError(f"{self._where(template)}: template '{e.name}' not found{hint} (looked in templates/ "
                                f"and the built-in templates; while rendering {variant.id})") from None
        except jinja2.TemplateError as e:
            raise TemplateError(f"{self._where(template)}: {_plain(e)} (while rendering {variant.id})") from None
        except (TypeError, ValueError, ArithmeticError, AttributeError) as e:
            raise TemplateError(f"{self._where(template)}: {e} (while rendering {variant.id})") from None
        except Exception as e:  # noqa: BLE001 - whatever a filter raises (truncate(-1): AssertionError) is the template's
            raise TemplateError(f"{self._where(template)}: {type(e).__name__}: {e} "
                                f"(while rendering {variant.id})") from None
        return " ".join(text.split())

    def template_names(self) -> list[str]:
        """Every template name the folders hold (for a 'did you mean')."""
        return sorted({rel for folder in self.folders if Path(folder).is_dir()
                       for rel, _ in template_files(folder)})

    def _read_file(self, name: str | None = None) -> str:
        """The template file being read when the current exception was raised (Jinja's loader has
        it in hand), else `name` looked up in the template folders."""
        tb = sys.exc_info()[2]
        found = None
        while tb is not None:
            if tb.tb_frame.f_code.co_name == "get_source" and isinstance(tb.tb_frame.f_locals.get("filename"), str):
                found = tb.tb_frame.f_locals["filename"]
            tb = tb.tb_next
        if found is None and name is not None:
            found = next((str(Path(f) / name) for f in self.folders if (Path(f) / name).is_file()), name)
        return _shown(found or "a template", self.root)

    def _where(self, template: jinja2.Template) -> str:
        """"file:line" of the template being rendered when the current exception was raised: the
        innermost template frame (an included template, a macro imported from one), else the top one."""
        folders = [os.path.realpath(f) for f in self.folders]
        tb = sys.exc_info()[2]
        file: str | None = template.filename
        line: int | str = "?"
        while tb is not None:
            name = tb.tb_frame.f_code.co_filename
            if name == template.filename or any(os.path.realpath(name).startswith(f + os.sep) for f in folders):
                file, line = name, tb.tb_lineno
            tb = tb.tb_next
        return f"{_shown(file, self.root)}:{line}"


# Templates see plain data (dicts named after what they hold), not the models: the sandbox reads a
# dict's keys without the attribute checks it runs on objects, and a template cannot reach code.
_KINDS = {name: type(name, (dict,), {"__slots__": ()}) for name in ("product", "colour", "background", "design",
                                                                    "channel", "variant", "placement")}
_MODELS = {"product": model_module.Product, "colour": model_module.Colour, "background": model_module.Background,
           "design": model_module.Design, "channel": model_module.Channel}


class _Data:
    """Each model as a template value, made once per build."""

    def __init__(self):
        self.memo: dict[int, tuple] = {}

    def __call__(self, kind: str, model):
        if model is None:
            return None
        found = self.memo.get(id(model))
        if found is None or found[0] is not model:
            value = _KINDS[kind](model.model_dump(mode="json"))
            if kind == "background":
                value["kind"] = model.kind
            found = self.memo[id(model)] = (model, value)
        return found[1]


def context(variant: Variant, data: _Data | None = None) -> dict:
    """What a template sees of a variant: its own models and names, nothing catalog-wide. The plan
    memo (engine.planmemo) digests exactly this to know a prompt unchanged: a name added here
    makes it digest the context value by value (`_context_shape`) until it knows the name too."""
    data = data or _Data()
    colour = data("colour", variant.colour)
    return {"product": data("product", variant.product), "colour": colour, "color": colour,
            "background": data("background", variant.background), "design": data("design", variant.design),
            "channel": data("channel", variant.channel),
            "placement": _KINDS["placement"](name=variant.placement) if variant.placement else None,
            "variant": _KINDS["variant"](id=variant.id, output=variant.output)}


def builtin_names() -> list[str]:
    return sorted(p.name for p in BUILTIN.glob("*.j2"))


def _shown(filename: str | None, root: Path) -> str:
    """A template's path as the user knows it: relative to the catalog, or the built-in's name."""
    if not filename:
        return "<template>"
    path = Path(filename).resolve()
    if path.is_relative_to(BUILTIN):
        return f"(built-in) {path.name}"
    return str(path.relative_to(root)) if path.is_relative_to(root) else filename


_NO_ATTR = re.compile(r"'(?:[\w.]+\.)?(\w+) object' has no attribute '(\w+)'")


def _plain(e: jinja2.TemplateError) -> str:
    """Jinja's message without Python class names, with a "did you mean"."""
    text = e.message or str(e)
    m = _NO_ATTR.search(text)
    if m:
        cls, attr = m.groups()
        fields = list(getattr(_MODELS.get(cls), "model_fields", {})) if cls in _MODELS else []
        if cls == "variant":
            fields = ["id", "output"]
        hint = did_you_mean(attr, fields)
        known = f"; it has: {', '.join(fields)}" if fields else ""
        return f"'{cls.lower()}' has no field '{attr}'{hint}{known}"
    return text
