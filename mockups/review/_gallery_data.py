"""What the review gallery shows, as data: variant records, change marks, thumbnails, safe JSON.

`gallery.py` renders pages; this module decides what goes in them and puts the image files the pages
need inside the gallery folder (so it stays self-contained):

    gallery/thumbs/<key>.jpg              a thumbnail per finished variant (from the cache, else made;
                                          .webp where the output has transparency)
    gallery/previous/<old key>.<ext>      the image a changed variant had before this build
    gallery/previous/<old key>.thumb.jpg  its thumbnail (also used for removed variants)
    gallery/changes.json                  what changed in the last build, so `mockups gallery` can
                                          reproduce the marks without a plan

Change marks are recorded with the key the variant was built with; a mark whose variant has been
rebuilt since (another key in the manifest) no longer applies and is dropped.
"""

from __future__ import annotations

import json
import logging
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from PIL import Image

from mockups.engine.cache import THUMB_EXTS, ObjectStore, atomic_write, place, thumb_ext, write_if_changed
from mockups.imaging import ImagingError, thumbnail

CHANGES = "changes.json"
CHANGES_VERSION = 1
THUMB_SIDE = 360
_KEY = re.compile(r"^[0-9A-Za-z_-]{8,128}$")
_EXT = re.compile(r"^[a-z0-9]{2,5}$")
STATUS_LABELS = {"new": "New", "changed": "Changed", "failed": "Failed", "unchanged": "Unchanged",
                 "warnings": "Warnings",  # a variant with a warning is also new, changed, failed or unchanged
                 "pending": "Pending review", "approved": "Approved", "rejected": "Rejected"}  # approvals.yaml


# --- change marks ----------------------------------------------------------------------------------

def classify(status: str, reasons: list[str], old: dict | None, key: str,
             made: bool = True) -> tuple[str | None, list[str]]:
    """The mark a plan item earns: 'new', 'changed' or None (the image is the one shown before).

    `made` says whether the variant has an image now: a retried failure that failed again is not
    news (its failed status shows anyway); one that succeeded shows an image never seen before.
    """
    if status == "new":
        return "new", []
    if status == "changed":
        return "changed", list(reasons)
    if status == "failed":
        return ("new", ["failed last time"]) if made else (None, [])
    if status == "cached":
        if old is None:
            return "new", []
        if old.get("key") != key:
            return "changed", list(reasons)
    return None, []


def changes_from_plan(plan, entries: dict[str, dict], store: ObjectStore | None, folder: Path) -> dict:
    """The changes document for a build's plan; copies previous images into `folder/previous`."""
    variants: dict[str, dict] = {}
    for item in plan.items:
        old = plan.previous.get(item.job.id)
        made = (entries.get(item.job.id) or {}).get("status") == "ok"
        change, reasons = classify(item.status, item.reasons, old, item.job.key, made)
        if change is None:
            continue
        record = {"change": change, "key": item.job.key, "reasons": reasons}
        if change == "changed" and old and old.get("status") == "ok" and old.get("key") != item.job.key:
            record.update(previous_images(old, store, folder))
            record["previous_key"] = old.get("key")
            record["previous_built_at"] = old.get("built_at")
        variants[item.job.id] = record
    removed = [removed_record(plan.previous[vid], store, folder) for vid in plan.removed if vid in plan.previous]
    return {"version": CHANGES_VERSION, "made_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "variants": variants, "removed": removed}


def _ext(entry: dict) -> str | None:
    ext = str(entry.get("output") or "").rsplit(".", 1)[-1].lower()
    return ext if _EXT.match(ext) else None


def previous_images(old: dict, store: ObjectStore | None, folder: Path) -> dict:
    """Put an earlier build's thumbnail and image from the cache into the gallery, for the compare view.

    The full image is hard-linked (free); where the cache is on another file system it is not copied
    (a big rebuild would copy gigabytes) and the compare view uses the thumbnail instead.
    """
    key, ext = str(old.get("key") or ""), _ext(old)
    found: dict = {"previous": None, "previous_thumb": None}
    if store is None or not _KEY.match(key):
        return found
    thumb = store.thumb_path(key)
    if thumb is not None:
        target = folder / "previous" / f"{key}{''.join(thumb.suffixes[-2:])}"  # <key>.thumb.jpg
        if not target.exists():
            place(thumb, target)
        found["previous_thumb"] = f"previous/{target.name}"
    image = store.path(key, ext) if ext else None
    if image is not None and image.is_file() and _link(image, folder / "previous" / f"{key}.{ext}"):
        found["previous"] = f"previous/{key}.{ext}"
    else:
        found["previous"] = found["previous_thumb"]
    return found


def _link(source: Path, target: Path) -> bool:
    if target.exists():
        return True
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        return False
    return True


def removed_record(old: dict, store: ObjectStore | None, folder: Path) -> dict:
    keep = ("id", "sku", "product", "colour", "colour_name", "colour_hex", "background", "background_name",
            "design", "channel", "placement", "output", "key")
    record = {k: old.get(k) for k in keep}
    record["thumb"] = previous_images(old, store, folder)["previous_thumb"] if old.get("status") == "ok" else None
    return record


def load_changes(folder: Path) -> dict:
    """The changes document of the last build; empty if there is none or it is unreadable."""
    try:
        doc = json.loads((folder / CHANGES).read_text())
    except FileNotFoundError:
        doc = None
    except (OSError, ValueError) as e:
        logging.getLogger(__name__).info("%s is unreadable (%s): no changes are marked", folder / CHANGES, e)
        doc = None
    if not isinstance(doc, dict) or doc.get("version") != CHANGES_VERSION:
        return {"version": CHANGES_VERSION, "variants": {}, "removed": []}
    return doc


def save_changes(folder: Path, doc: dict) -> None:
    """Write the changes document, unless only its time differs from the one on disk."""
    old = load_changes(folder)
    if {k: v for k, v in old.items() if k != "made_at"} == {k: v for k, v in doc.items() if k != "made_at"}:
        doc["made_at"] = old.get("made_at", doc["made_at"])
    write_if_changed(folder / CHANGES, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode())


def current_marks(doc: dict, entries: dict[str, dict]) -> tuple[dict[str, dict], list[dict]]:
    """The marks that still apply to the manifest, and the removed variants that are still gone."""
    marks = {vid: m for vid, m in (doc.get("variants") or {}).items()
             if isinstance(m, dict) and vid in entries and entries[vid].get("key") == m.get("key")}
    removed = [r for r in doc.get("removed") or [] if isinstance(r, dict) and r.get("id") not in entries]
    return marks, removed


# --- thumbnails ------------------------------------------------------------------------------------

def thumb_size(size) -> tuple[int, int]:
    """The thumbnail's size for an output of `size`: the longer side at most THUMB_SIDE."""
    try:
        w, h = int(size[0]), int(size[1])
    except (TypeError, ValueError, IndexError):
        return THUMB_SIDE, THUMB_SIDE
    scale = min(1.0, THUMB_SIDE / max(w, h, 1))
    return max(1, round(w * scale)), max(1, round(h * scale))


def make_thumb(source: Path, target: Path) -> str | None:
    """Write a thumbnail of an output, as the workers make them (`imaging.thumbnail`), at `target`
    with its format's extension; its file name, or None if the output cannot be read."""
    try:
        with Image.open(source) as opened:
            opened.draft("RGB", (THUMB_SIDE, THUMB_SIDE))
            im = opened.convert("RGBA" if opened.mode in ("RGBA", "LA", "P") else "RGB")
            data = thumbnail(im, THUMB_SIDE)
    except (OSError, ValueError, Image.DecompressionBombError, ImagingError) as e:
        logging.getLogger(__name__).debug("no thumbnail of %s (%s)", source, e)
        return None
    target = target.with_suffix(f".{thumb_ext(data)}")
    atomic_write(target, data)
    return target.name


def place_thumbs(entries: dict[str, dict], build_dir: Path, folder: Path,
                 store: ObjectStore | None) -> dict[str, str]:
    """Put a thumbnail of every finished variant in `folder/thumbs`; return id -> relative path."""
    thumbs = folder / "thumbs"
    thumbs.mkdir(parents=True, exist_ok=True)
    present = set(os.listdir(thumbs))
    out = {}
    for vid, e in entries.items():
        key = str(e.get("key") or "")
        if e.get("status") != "ok" or not _KEY.match(key):
            continue
        name = next((f"{key}.{ext}" for ext in THUMB_EXTS if f"{key}.{ext}" in present), None) \
            or _fetch_thumb(e, key, build_dir, thumbs, store)
        if name is not None:
            out[vid] = f"thumbs/{name}"
    return out


def _fetch_thumb(e: dict, key: str, build_dir: Path, thumbs: Path, store: ObjectStore | None) -> str | None:
    """`key`'s thumbnail put in `thumbs` (from the cache, else made from the output): its name."""
    source = store.thumb_path(key) if store is not None else None
    if source is not None:
        name = f"{key}{source.suffix}"
        place(source, thumbs / name)
        return name
    output = (build_dir / str(e.get("output") or "")).resolve()
    if not (output.is_relative_to(build_dir.resolve()) and output.is_file()):
        return None
    return make_thumb(output, thumbs / key)


def prune(folder: Path, keep: set[str]) -> int:
    """Delete files in `folder` whose names are not in `keep` (thumbnails of variants gone since)."""
    removed = 0
    if folder.is_dir():
        with os.scandir(folder) as found:
            for entry in found:
                if entry.name not in keep and entry.is_file():
                    os.unlink(entry.path)
                    removed += 1
    return removed


# --- records -----------------------------------------------------------------------------------------

def catalog_order(catalog) -> dict[str, dict[str, int]]:
    """Rank of each id in the catalog, so the gallery lists variants as the catalog does."""
    order = getattr(catalog, "order", None)
    return order if order is not None else {k: {} for k in ("product", "colour", "background", "channel", "design",
                                                            "placement")}


def sort_key(order: dict[str, dict[str, int]], e: dict) -> tuple:
    """Catalog order: product, channel, design, colour, background (unknown ids last, by name)."""
    key: list[int | str] = []
    for kind, field in (("product", "sku"), ("channel", "channel"), ("placement", "placement"), ("design", "design"),
                        ("colour", "colour"), ("background", "background")):
        value, rank = e.get(field) or "", order.get(kind, {})
        key += (rank.get(value, len(rank)), str(value))
    key.append(str(e.get("id")))
    return tuple(key)


def url(path: str) -> str:
    """A relative path as a URL (SKUs and ids may hold characters that need escaping in a URL)."""
    return quote(path, safe="/")


def record(e: dict, thumb: str | None, mark: dict | None, review: dict | None = None) -> dict:
    """One variant as the page's script reads it (empty fields left out: 10,000 of them add up);
    `review`: its state in approvals.yaml ({"state", "change", "group"}), with `sha256`, the
    output a decision made in the page is of."""
    mark = mark or {}
    tw, th = thumb_size(e.get("size"))
    status = "failed" if e.get("status") != "ok" else "ok"
    full = {
        "id": e.get("id"), "sku": e.get("sku"), "product": e.get("product") or e.get("sku"),
        "colour": e.get("colour"), "colour_name": e.get("colour_name") or e.get("colour"),
        "colour_hex": e.get("colour_hex"), "background": e.get("background"),
        "background_name": e.get("background_name") or e.get("background"), "design": e.get("design"),
        "placement": e.get("placement"),
        "channel": e.get("channel"), "size": e.get("size"), "format": e.get("format"),
        "output": e.get("output"), "src": url(f"../{e.get('output')}") if status == "ok" else None,
        "thumb": thumb, "tw": tw, "th": th, "backend": e.get("backend"), "model": e.get("model"),
        "prompt": e.get("prompt") or "", "template": e.get("template"), "cost": e.get("cost") or 0.0,
        "bytes": e.get("bytes"), "built_at": e.get("built_at"), "status": status, "error": e.get("error"),
        "warnings": _texts(e.get("warnings")), "change": mark.get("change"), "reasons": mark.get("reasons") or [],
        "previous": mark.get("previous"), "previous_thumb": mark.get("previous_thumb"),
        "previous_built_at": mark.get("previous_built_at"),
        "sha256": e.get("sha256") if status == "ok" else None, "review": review,
    }
    return {k: v for k, v in full.items() if v is not None and v != [] and v != ""}


def _texts(value) -> list[str]:
    return [str(x) for x in value] if isinstance(value, list) else []


def _values(records: list[dict], field: str, label, extra=None) -> list[dict]:
    seen: dict[str, dict] = {}
    for r in records:
        v = r.get(field)
        if v is not None and v not in seen:
            seen[v] = {"id": v, "label": label(r), **(extra(r) if extra else {})}
    return list(seen.values())


def _size(r: dict) -> str:
    return "×".join(str(x) for x in r.get("size") or [])


def facets(records: list[dict], order: dict[str, dict[str, int]]) -> list[dict]:
    """The filter groups and their values, in catalog order, from the variants actually shown."""
    groups = [  # (key, label, field of the record, value label, extra fields)
        ("product", "Product", "sku", lambda r: f"{r.get('product')} ({r.get('sku')})", None),
        ("colour", "Colour", "colour", lambda r: r.get("colour_name"), lambda r: {"hex": r.get("colour_hex")}),
        ("background", "Background", "background", lambda r: r.get("background_name"), None),
        ("placement", "Placement", "placement", lambda r: r.get("placement"), None),
        ("design", "Design", "design", lambda r: r.get("design"), None),
        ("channel", "Channel", "channel", lambda r: f"{r.get('channel')} · {_size(r)}", None),
        ("backend", "Backend", "backend", lambda r: r.get("backend"), None),
    ]
    out = []
    for key, label, field, value_label, extra in groups:
        values, rank = _values(records, field, value_label, extra), order.get(key, {})
        values.sort(key=lambda v: (rank.get(v["id"], len(rank)), str(v["id"])))
        if key not in ("design", "placement") or len(values) > 1:
            out.append({"key": key, "label": label, "field": field, "values": values})
    out.append({"key": "status", "label": "Status", "field": "status",
                "values": [{"id": k, "label": v} for k, v in STATUS_LABELS.items()]})
    return out


# --- files -------------------------------------------------------------------------------------------

def safe_json(data) -> str:
    """JSON that can sit inside <script type="application/json"> without ending it or being HTML."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


