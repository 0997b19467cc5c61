"""The static review gallery (first version: a page of every variant, grouped by product)."""

from __future__ import annotations

import os
from pathlib import Path

import jinja2

from . import manifest
from .cache import ObjectStore, atomic_write
from .catalog import Catalog

THEME = Path(__file__).parent / "resources" / "gallery"


def write_gallery(build_dir: Path, catalog: Catalog, *, store: ObjectStore | None = None, plan=None) -> Path:
    entries = manifest.load(build_dir)
    folder = build_dir / "gallery"
    loaders = []
    if (catalog.root / "templates").is_dir():
        loaders.append(jinja2.FileSystemLoader(str(catalog.root / "templates")))
    loaders.append(jinja2.FileSystemLoader(str(THEME)))
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), autoescape=True)
    groups: dict[str, list[dict]] = {}
    for e in sorted(entries.values(), key=lambda e: e["id"]):
        e = dict(e, src=os.path.relpath(build_dir / e["output"], folder))
        groups.setdefault(e["sku"], []).append(e)
    html = env.get_template("gallery.html.j2").render(catalog=catalog, groups=groups, count=len(entries))
    atomic_write(folder / "index.html", html.encode())
    atomic_write(build_dir / "index.html", b'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" '
                 b'content="0; url=gallery/index.html"><a href="gallery/index.html">gallery</a>\n')
    return folder / "index.html"
