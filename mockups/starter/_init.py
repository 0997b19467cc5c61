"""`mockups init`: a starter project (catalog, templates, schema, sample assets) in an empty folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from mockups._resources import RESOURCES
from mockups.catalog.schema import json_schema
from mockups.errors import MockupsError
from mockups.starter.samples import write_samples

STARTER = RESOURCES / "starter"
IGNORED = ["build/", ".mockups-cache/"]  # the outputs and the cache: made again by `mockups build`


class InitError(MockupsError):
    pass


def write_starter(folder: Path) -> list[Path]:
    """Write the starter project and its .gitignore; refuse to overwrite an existing catalog or templates."""
    folder.mkdir(parents=True, exist_ok=True)
    targets = [folder / "catalog.yaml", folder / "templates", folder / "assets"]
    existing = [t.name for t in targets if t.exists()]
    if existing:
        raise InitError(f"{folder} already has {', '.join(existing)}; choose an empty folder")
    written = []
    shutil.copy2(STARTER / "catalog.yaml", folder / "catalog.yaml")
    written.append(folder / "catalog.yaml")
    shutil.copytree(STARTER / "templates", folder / "templates")
    written += sorted((folder / "templates").glob("*"))
    schema = folder / "catalog.schema.json"
    schema.write_text(json.dumps(json_schema(), indent=2) + "\n")
    written.append(schema)
    write_samples(folder / "assets")
    written += sorted((folder / "assets").glob("*"))
    if write_gitignore(folder):
        written.append(folder / ".gitignore")
    return written


def write_gitignore(folder: Path) -> bool:
    """Ignore the build and cache folders: add to an existing .gitignore what it lacks. True if written."""
    path = folder / ".gitignore"
    text = path.read_text() if path.exists() else ""
    have = {line.strip().strip("/") for line in text.splitlines()}
    missing = [line for line in IGNORED if line.strip("/") not in have]
    if not missing:
        return False
    if text and not text.endswith("\n"):
        text += "\n"
    text += "# mockups: generated images and the cache (`mockups build` makes them again)\n" + "\n".join(missing) + "\n"
    path.write_text(text)
    return True
