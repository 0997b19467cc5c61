"""The build record: what the last complete build was made from, so that a no-op does no work.

After a build that left every selected variant made (no failure, nothing left unstarted, not
interrupted), `save` writes `<cache>/last-build.json`: the options it ran with, the signature
(size, mtime, ctime, inode, as git's index keeps them) and SHA-256 of every file it read (the
catalog, `approvals.yaml` (or that there is none), each file of the project's `templates/` folder
and that folder's listing, every input image, the installed code of mockups, of Jinja and
MarkupSafe and of the backend),
the signature of every file in the build folder, and what it reported.

`up_to_date` reads it back and returns that report when everything is as it was: a file whose
signature changed is hashed again (a `touch` or a checkout of the same bytes is no change), and
anything else (a changed byte, a new template, a touched or missing output, another version of the
code, other options, another value of a MOCKUPS_ or OPENAI_ variable) returns None, and the caller
takes the full path, which is always correct. A build deletes the record before it starts, so a
build that is killed or fails leaves none. This module imports nothing heavy: the no-op of a
10,000-variant catalog reads one JSON file and stats the files it names.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mockups._files import SECRET_NAMES, path_signature, sha256_or_none, signature, walk_once
from mockups._version import __version__
from mockups.engine.remote import shown
from mockups.selection import Selection, Shard

logger = logging.getLogger(__name__)

NAME = "last-build.json"
VERSION = 2  # 2: the report no longer names the backend (the options do)
ENV_PREFIXES = ("MOCKUPS_", "OPENAI_")  # these variables are part of the record (`_env`)
_CODE = Path(__file__).resolve().parents[1]  # the installed mockups package


@dataclass(frozen=True)
class Recorded:
    """What the last build reported: enough to print a no-op's summary without planning it."""

    variants: int  # of the selected variants, all unchanged
    warnings: tuple[str, ...] = ()  # the catalog's and the backend's checks' (Problems, as text)
    output_warnings: tuple[dict, ...] = field(default=())  # {"file", "message", "count"}, as BuildWarning


def options_key(catalog_file: str | os.PathLike, *, backend: str | None, only, shard, build_dir, cache_dir,
                gallery: bool, inspect: bool, remote_cache: str | None = None, cache_read_only: bool = False) -> dict:
    """The options a build ran with that shape its result, as plain data (`only` and `shard` as
    BuildOptions takes them). Folders are resolved as `pipeline.folders` resolves them."""
    file = catalog_path(catalog_file)
    selection, part = Selection.of(only), Shard.of(shard)
    return {"catalog": str(file), "backend": backend,
            "only": [{k: list(v) for k, v in sorted(f.items())} for f in selection.filters],
            "shard": str(part) if part else None,
            "build_dir": str(Path(build_dir or file.parent / "build").resolve()),
            "cache_dir": str(Path(cache_dir or file.parent / ".mockups-cache").resolve()),
            "gallery": bool(gallery), "inspect": bool(inspect),
            **({"remote_cache": shown(remote_cache), "read_only": bool(cache_read_only)} if remote_cache else {})}


def catalog_path(path: str | os.PathLike) -> Path:
    """The catalog file as `load_catalog` resolves it."""
    return Path(path).absolute().resolve()


def _env() -> list[list[str]]:
    """The MOCKUPS_ and OPENAI_ variables (a backend's parameters may come from them), each as its
    name and a digest of its value; of a credential (..._KEY, _TOKEN, _SECRET, _PASSWORD), only
    that it is set: nothing derived from a secret is written."""
    return [[k, "set" if SECRET_NAMES.search(k) else hashlib.sha256(v.encode()).hexdigest()[:16]]
            for k, v in sorted(os.environ.items()) if k.startswith(ENV_PREFIXES)]


def _listing(folder: Path) -> dict[str, list[str] | None]:
    """Every folder under `folder` (itself included) -> its sorted entries; {folder: None} if absent.
    Linked folders are followed, as Jinja follows them (each real folder once: a link back up the
    tree is listed, not entered)."""
    if not folder.is_dir():
        return {str(folder): None}
    found: dict[str, list[str] | None] = {}
    for here, dirs, files in walk_once(folder):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        found[here] = sorted(dirs + files)
    return found


def _names(folder: Path) -> list[str] | None:
    """A folder's entries (not those of its subfolders), sorted; None if it is not there."""
    return sorted(n for n in os.listdir(folder) if n != "__pycache__") if folder.is_dir() else None


def _files_under(folder: Path) -> list[str]:
    return [os.path.join(here, name) for here, names in _listing(folder).items() if names is not None
            for name in names if os.path.isfile(os.path.join(here, name))]


RENDERERS = ("jinja2", "markupsafe")  # what renders the prompts besides mockups (the plan memo digests them too)


def _package_dir(name: str) -> Path | None:
    """Where an installed package's code is, found without importing it."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    origin = spec.origin if spec is not None else None
    return Path(origin).resolve().parent if origin and origin.endswith("__init__.py") else None


def watched_files(templates: Path, backend_class: type | None) -> list[str]:
    """Besides the catalog and its images, the files a build's result depends on: the project's
    templates, and the installed code of mockups, of Jinja and MarkupSafe (an upgrade may render a
    prompt otherwise) and of a backend that comes from elsewhere."""
    roots = [_CODE, *(d for d in map(_package_dir, RENDERERS) if d is not None)]
    name = backend_class.__module__ if backend_class is not None else ""
    origin = getattr(sys.modules.get(name), "__file__", None)
    if origin and not Path(origin).resolve().is_relative_to(_CODE):
        top_file = getattr(sys.modules.get(name.partition(".")[0]), "__file__", None) or origin
        roots.append(Path(top_file).resolve().parent if Path(top_file).name == "__init__.py"
                     else Path(origin).resolve())
    out = _files_under(templates)
    for root in roots:
        out += [f for f in _files_under(root) if not f.endswith((".pyc", ".pyo"))] if root.is_dir() else [str(root)]
    return out


def save(cache_dir: Path, options: dict, *, build_dir: Path, files: dict[str, list], templates: Path,
         recorded: Recorded, absent: tuple[str, ...] = ()) -> None:
    """Write the record of a build that left everything made: `files` maps each file it read
    (the catalog, its images, `watched_files`) to [size, mtime_ns, ctime_ns, inode, sha256]."""
    outputs = signatures(build_dir)
    doc = {"version": VERSION, "mockups": __version__, "python": sys.version.split()[0], "options": options,
           "env": _env(), "files": files, "absent": list(absent), "folders": _listing(templates), "outputs": outputs,
           "report": {"variants": recorded.variants,
                      "warnings": list(recorded.warnings), "output_warnings": list(recorded.output_warnings)}}
    _write(cache_dir, doc)


def signatures(folder: str | os.PathLike) -> dict[str, list[int]]:
    """The `signature` of every file under `folder` (as os.walk finds them: symlinked folders are
    not entered), by path relative to it. From one scandir of each folder: a third of the time of
    os.walk, a stat and a relpath for each of 10,000 outputs."""
    found: dict[str, list[int]] = {}
    stack = [("", os.fspath(folder))]
    while stack:
        rel, here = stack.pop()
        try:
            entries = os.scandir(here)
        except OSError:
            continue
        with entries:
            try:
                for entry in entries:
                    try:
                        if entry.is_dir():
                            if not entry.is_symlink():
                                stack.append((rel + entry.name + os.sep, entry.path))
                            continue
                        found[rel + entry.name] = signature(entry.stat())
                    except OSError:  # gone since the listing, or a dangling link: not a file to vouch for
                        continue
            except OSError:  # the listing itself failed part-way (as os.walk, the rest of the folder is skipped)
                continue
    return found


def _write(cache_dir: Path, doc: dict) -> None:
    from mockups.engine.cache import atomic_write  # not on the no-op's path (but for a touched file)

    atomic_write(cache_dir / NAME, json.dumps(doc, separators=(",", ":")).encode(), durable=False)


def forget(cache_dir: Path) -> None:
    """Delete the record: a build is starting, and until it ends cleanly nothing is known to be up to date."""
    try:
        (cache_dir / NAME).unlink()
    except FileNotFoundError:
        pass


def up_to_date(options: dict) -> Recorded | None:
    """The last build's report if nothing it was made from has changed since, else None (logged)."""
    cache_dir = Path(options["cache_dir"])
    try:
        doc = json.loads((cache_dir / NAME).read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        logger.info("the build record is unreadable (%s): planning in full", e)
        return None
    touched: dict[str, list[int]] = {}  # files whose bytes are the same under a new signature
    why = _stale(doc, options, touched)
    if why:
        logger.info("planning in full: %s", why)
        return None
    if touched:  # so that the next no-op does not read them again
        for path, sig in touched.items():
            doc["files"][path][:4] = sig
        _write(cache_dir, doc)
    report = doc["report"]
    return Recorded(variants=report["variants"], warnings=tuple(report["warnings"]),
                    output_warnings=tuple(report["output_warnings"]))


def _stale(doc, options: dict, touched: dict[str, list[int]]) -> str | None:
    """Why the record does not vouch for a no-op, or None; files whose signature changed but not
    their bytes go into `touched`."""
    if not isinstance(doc, dict) or doc.get("version") != VERSION:
        return "the build record is of another version"
    if doc.get("mockups") != __version__ or doc.get("python") != sys.version.split()[0]:
        return "another version of mockups or Python made the last build"
    if doc.get("options") != options:
        return "the options differ from the last build's"
    if doc.get("env") != _env():
        return "the environment's MOCKUPS_ or OPENAI_ variables differ from the last build's"
    for path, entry in doc.get("files", {}).items():
        sig = path_signature(path)
        if sig != entry[:4]:
            if sig is None or sha256_or_none(path) != entry[4]:
                return f"{path} changed"
            touched[path] = sig
    for path in doc.get("absent", []):
        if os.path.exists(path):
            return f"{path} was added"
    for folder, names in doc.get("folders", {}).items():
        if _names(Path(folder)) != names:
            return f"{folder}: files were added or removed"
    build_dir = options["build_dir"]
    for rel, sig in doc.get("outputs", {}).items():
        if path_signature(os.path.join(build_dir, rel)) != sig:
            return f"{rel} in the build folder was changed or removed"
    return None
