"""The static review gallery: `build/gallery/index.html`, its stylesheet, script, thumbnails and data.

The gallery opens from disk (file://) or any static host with no network access: everything it needs
is inside `build/gallery/` (thumbnails and previous images are copied or hard-linked in) or is one of
the build's outputs, which it links relatively (`../shop/TEE/navy--studio.webp`). The page's data is
one JSON script element; `gallery.js` reads it and draws the grid, the matrix, the filters and the
lightbox, inserting catalog text only as text.

Theme: every file of the theme is looked up in the project's `templates/` folder first and in the
built-in theme second (the prompt templates' order), so a project overrides one file and inherits
the rest. The files are `gallery.html.j2` (the page; extend `gallery-base.html.j2` to change one
block), `gallery.css`, `gallery-custom.css` (empty: for a few overrides) and `gallery.js`.

`write_gallery(..., plan=...)` (after a build) records what changed in `gallery/changes.json`
(a build that changed nothing keeps the marks of the last one that did); without a plan
(`mockups gallery`) the marks are read back from that file. A product whose overlay is in
`build/inspect/` (`mockups inspect`, or a build) gets an "inspect" link to it in the lightbox and
the matrix view.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import jinja2
from markupsafe import Markup

from mockups._resources import RESOURCES
from mockups._sandbox import SecurityError, sandbox, template_files
from mockups.engine import manifest
from mockups.engine.cache import ObjectStore
from mockups.errors import TemplateError
from mockups.review import approvals
from mockups.review._gallery_data import (
    CHANGES,
    catalog_order,
    changes_from_plan,
    current_marks,
    facets,
    load_changes,
    place_thumbs,
    prune,
    record,
    safe_json,
    save_changes,
    sort_key,
    write_if_changed,
)
from mockups.review.inspect import overlay_links

THEME = RESOURCES / "gallery"
PAGE = "gallery.html.j2"
STYLESHEETS = ("gallery.css", "gallery-custom.css")
SCRIPTS = ("gallery-core.js", "gallery-grid.js", "gallery-matrix.js", "gallery-lightbox.js", "gallery-review.js",
           "gallery.js")
STATIC = STYLESHEETS + SCRIPTS
REDIRECT = (b'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0; url=gallery/index.html">'
            b'<title>mockups gallery</title><a href="gallery/index.html">Open the gallery</a>\n')


def theme_environment(project_templates: Path | None) -> jinja2.Environment:
    """The project's templates folder first, then the built-in theme; HTML autoescaped.

    The sandbox and its bounds are the prompt templates' (`mockups/_sandbox.py`).
    """
    return sandbox([project_templates or None, THEME], autoescape=True)


def _loader(env: jinja2.Environment) -> jinja2.BaseLoader:
    """The theme's loader (`theme_environment` always gives the environment one)."""
    if env.loader is None:
        raise TypeError("a gallery theme environment needs a template loader")
    return env.loader


def theme_file(env: jinja2.Environment, name: str) -> bytes:
    """A static theme file (stylesheet or script) as the loader finds it, not rendered."""
    source, _, _ = _loader(env).get_source(env, name)
    return source.encode()


def project_templates(catalog) -> Path | None:
    root = getattr(catalog, "root", None)
    return root / "templates" if root is not None and (root / "templates").is_dir() else None


def write_theme(env: jinja2.Environment, folder: Path) -> dict[str, str]:
    """Copy the stylesheets and scripts into the gallery; return a short content hash of each."""
    versions = {}
    for name in STATIC:
        content = theme_file(env, name)
        write_if_changed(folder / name, content)
        versions[name] = hashlib.sha256(content).hexdigest()[:10]
    return versions


def write_gallery(build_dir: Path, catalog, *, store: ObjectStore | None = None, plan=None,
                  entries: dict[str, dict] | None = None, stat=None) -> Path:
    """Write `build_dir/gallery/` from the manifest; return the path of its index.html.

    `entries` are the manifest's (read from disk when not given). When nothing the page is made
    from has changed since the last write (manifest, changes, catalog, theme, review states),
    nothing is redone. A decided variant shows its decision only while the file in build/ is
    still the one decided (`stat`: a StatCache that spares reading files unchanged since hashed).
    """
    build_dir = Path(build_dir)
    folder = build_dir / "gallery"
    folder.mkdir(parents=True, exist_ok=True)
    entries = manifest.load(build_dir) if entries is None else entries
    doc = _record(folder, plan, entries, store) if plan is not None else load_changes(folder)
    env = theme_environment(project_templates(catalog))
    versions = write_theme(env, folder)
    overlays = overlay_links(build_dir, {str(e.get("sku")) for e in entries.values() if e.get("sku")})
    reviews = review_states(catalog, entries, _file_hashes(build_dir, store, stat))
    stamp = _stamp(build_dir, catalog, doc, versions, overlays, reviews)
    if (folder / "index.html").exists() and (folder / "thumbs").is_dir() and _read(folder / STAMP) == stamp:
        return folder / "index.html"
    marks, removed = current_marks(doc, entries)
    thumbs = place_thumbs(entries, build_dir, folder, store)
    data = page_data(entries, catalog, thumbs, marks, removed, overlays, reviews=reviews)
    html = render_page(env, page_context(data, catalog, versions), catalog)
    write_if_changed(folder / "index.html", html.encode())
    prune(folder / "thumbs", {t.rsplit("/", 1)[-1] for t in thumbs.values()})
    prune(folder / "previous", _referenced(doc))
    write_if_changed(build_dir / "index.html", REDIRECT)
    left = _stamp(build_dir, catalog, doc, versions, overlays, reviews)  # as the folder is left now
    write_if_changed(folder / STAMP, left.encode())
    return folder / "index.html"


STAMP = ".stamp"


def _stamp(build_dir: Path, catalog, doc: dict, versions: dict,
           overlays: dict[str, str] | None = None, reviews: dict | None = None) -> str:
    """A digest of everything the page is made from."""
    from mockups._version import __version__

    h = hashlib.sha256(__version__.encode())
    h.update(json.dumps(reviews or {}, sort_keys=True).encode())
    h.update(json.dumps(overlays or {}, sort_keys=True).encode())  # the products' overlays linked
    h.update(_read_bytes(build_dir / manifest.NAME))
    h.update(json.dumps(doc, sort_keys=True, default=str).encode())
    h.update(json.dumps(versions, sort_keys=True).encode())
    h.update(_read_bytes(catalog.file) if getattr(catalog, "file", None) else b"")
    h.update(_read_bytes(approvals.path_for(catalog.file)) if getattr(catalog, "file", None) else b"")
    thumbs = build_dir / "gallery" / "thumbs"
    h.update("\n".join(sorted(os.listdir(thumbs)) if thumbs.is_dir() else []).encode())  # none deleted
    # every file of the theme's folders, the project's templates/ then the built-in theme: a page
    # may include, extend or import any of them
    for folder in (project_templates(catalog), THEME):
        for rel, path in template_files(folder) if folder is not None else ():
            h.update(f"\x00{folder}\x00{rel}\x00".encode("utf-8", "surrogatepass"))
            h.update(_read_bytes(Path(path)))
    return h.hexdigest()


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _read(path: Path) -> str:
    return _read_bytes(path).decode(errors="replace")


def record_changes(build_dir: Path, plan, *, store: ObjectStore | None = None,
                   entries: dict[str, dict] | None = None) -> Path:
    """Record what a build changed (`gallery/changes.json` and the previous images) without the page.

    For `mockups build --no-gallery`: a later `mockups gallery` then still marks that build's changes.
    `entries`: the manifest's, when the caller has them (10,000 of them take 0.25 s to read again).
    """
    build_dir = Path(build_dir)
    _record(build_dir / "gallery", plan, manifest.load(build_dir) if entries is None else entries, store)
    return build_dir / "gallery" / CHANGES


def _record(folder: Path, plan, entries: dict[str, dict], store: ObjectStore | None) -> dict:
    doc = changes_from_plan(plan, entries, store, folder)
    if not (doc["variants"] or doc["removed"]) and (folder / CHANGES).exists():
        return load_changes(folder)  # a build that changed nothing leaves the marks of the last one that did
    save_changes(folder, doc)
    prune(folder / "previous", _referenced(doc))
    return doc


def render_page(env: jinja2.Environment, context: dict, catalog) -> str:
    """Render the page; a broken project template is a TemplateError naming its file and line."""
    try:
        return env.get_template(PAGE).render(context)
    except jinja2.TemplateNotFound as e:
        raise TemplateError(f"gallery template not found: {e.name} (looked in the project's templates/ "
                            f"and the built-in theme: {', '.join(theme_names())})") from None
    except jinja2.TemplateSyntaxError as e:
        raise TemplateError(f"{_shown(e.filename, catalog)}:{e.lineno}: syntax error: {e.message}") from None
    except SecurityError as e:  # the sandbox's refusals read as in a prompt template
        raise TemplateError(f"{_failing_line(catalog)}: not allowed in a template: {e} "
                            "(while rendering the gallery)") from None
    except jinja2.TemplateError as e:
        raise TemplateError(f"{PAGE} (gallery): {e.message or e}") from None
    except (TypeError, ValueError, ArithmeticError, AttributeError) as e:
        raise TemplateError(f"{_failing_line(catalog)}: {e} (while rendering the gallery)") from None


def _failing_line(catalog) -> str:
    """'file:line' of the innermost template being rendered when the current exception was raised."""
    where, tb = PAGE, sys.exc_info()[2]
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if not name.endswith(".py") and os.path.isfile(name):  # Jinja gives template frames their file
            where = f"{_shown(name, catalog)}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def theme_names() -> list[str]:
    return sorted(p.name for p in THEME.iterdir() if p.is_file())


def _shown(filename: str | None, catalog) -> str:
    path = Path(filename or PAGE).resolve()
    root = getattr(catalog, "root", None)
    if path.is_relative_to(THEME):
        return f"(built-in gallery theme) {path.name}"
    return str(path.relative_to(root)) if root is not None and path.is_relative_to(root) else str(path)


def _referenced(doc: dict) -> set[str]:
    names = set()
    for r in list((doc.get("variants") or {}).values()) + list(doc.get("removed") or []):
        for field in ("previous", "previous_thumb", "thumb"):
            if isinstance(r, dict) and r.get(field):
                names.add(Path(r[field]).name)
    return names


def _file_hashes(build_dir: Path, store: ObjectStore | None, stat) -> Callable[[str], str | None]:
    """An output's SHA-256 as the file in build/ is now (None: unreadable), through `stat` (else
    the cache folder's stat cache, read and not saved) so that unchanged files are not read."""
    from mockups._files import sha256_file
    from mockups.engine.cache import StatCache

    cache = stat if stat is not None else StatCache(store.root / "stat.json") if store is not None else None

    def sha_of(output: str) -> str | None:
        try:
            return cache.hash(build_dir / output) if cache is not None else sha256_file(build_dir / output)
        except OSError:
            return None
    return sha_of


def review_states(catalog, entries: dict[str, dict],
                  file_hash: Callable[[str], str | None] | None = None) -> dict[str, dict]:
    """Each built variant's review state in approvals.yaml, and the group of those one edit changed.
    With `file_hash` (an output's path -> the SHA-256 of the file there), a decision counts only
    while the file is still the one decided: an image edited in build/ since is pending again."""
    file = getattr(catalog, "file", None)
    if file is None:
        return {}
    decisions = approvals.load(approvals.path_for(file))
    out = {}
    for vid, e in entries.items():
        if e.get("status") != "ok":
            continue
        decision = decisions.get(vid)
        if decision is not None and file_hash is not None and decision.sha256 == e.get("sha256") \
                and file_hash(e["output"]) != decision.sha256:
            e = {**e, "sha256": None}  # not the decided bytes: what changed is the image itself
        r = approvals.review(vid, e, decision)
        group = approvals.group_of(r, e) if r.change == "changed" else None  # one catalog edit's variants
        out[vid] = {"state": r.state, "change": r.change, "reasons": list(r.reasons),
                    "group": json.dumps(group) if group else None}
    return out


def page_data(entries: dict[str, dict], catalog, thumbs: dict[str, str], marks: dict[str, dict],
              removed: list[dict], overlays: dict[str, str] | None = None,
              reviews: dict[str, dict] | None = None) -> dict:
    """Everything the page's script reads: variants in catalog order, filter groups, removed ones,
    the URL of each product's overlay (`mockups inspect`) by SKU, where there is one, and each
    variant's review state (`reviews`, from approvals.yaml)."""
    order = catalog_order(catalog)
    ordered = sorted(entries.values(), key=partial(sort_key, order))
    reviews = reviews or {}
    records = [record(e, thumbs.get(e.get("id", "")), marks.get(e.get("id", "")), reviews.get(e.get("id", "")))
               for e in ordered]
    return {"variants": records, "facets": facets(records, order),
            "removed": sorted(removed, key=lambda r: str(r.get("id"))), "summary": summary(records, removed),
            "inspect": dict(sorted((overlays or {}).items()))}


def summary(records: list[dict], removed: list[dict]) -> dict[str, int]:
    out = {"total": len(records), "new": 0, "changed": 0, "failed": 0, "removed": len(removed), "warnings": 0,
           "pending": 0}
    for r in records:
        if (r.get("review") or {}).get("state") == "pending":
            out["pending"] += 1
        if r.get("change"):
            out[r["change"]] += 1
        if r["status"] == "failed":
            out["failed"] += 1
        if r.get("warnings"):
            out["warnings"] += 1  # variants with a warning, not warnings
    return out


def page_context(data: dict, catalog, versions: dict[str, str]) -> dict:
    root = getattr(catalog, "root", None)
    file = getattr(catalog, "file", None)
    built = [r["built_at"] for r in data["variants"] if r.get("built_at")]
    return {
        "title": root.name if root is not None else "mockups",
        "catalog_name": file.name if file is not None else "catalog",
        "summary": data["summary"], "built_at": max(built) if built else None,
        "removed": data["removed"], "data_json": Markup(safe_json(data)),
        "stylesheets": [f"{name}?v={versions[name]}" for name in STYLESHEETS],
        "scripts": [f"{name}?v={versions[name]}" for name in SCRIPTS],
    }
