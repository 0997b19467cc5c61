"""What the tool reads of this machine, cheaply: a file's signature and digest, and which
environment variables hold credentials. Imports nothing of ours, and nothing heavy: the no-op
build path (`engine.record`) uses it before the rest of the library is loaded."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

#: Environment variables whose values are never written anywhere: OPENAI_API_KEY, GITHUB_TOKEN...
SECRET_NAMES = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)$", re.IGNORECASE)


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def signature(st: os.stat_result) -> list[int]:
    """[size, mtime_ns, ctime_ns, inode]: what tells that a file may have changed without reading
    it, as git's index keeps it (a rewrite with its old size and mtime put back has a new ctime)."""
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def sha256_or_none(path: str | os.PathLike) -> str | None:
    """`sha256_file`, or None when the file cannot be read."""
    try:
        return sha256_file(path)
    except OSError:
        return None


def path_signature(path: str | Path) -> list[int] | None:
    """`signature` of the file at `path`, or None when it cannot be read."""
    try:
        return signature(os.stat(path))
    except OSError:
        return None


def walk_once(folder: str | os.PathLike[str]) -> Iterator[tuple[str, list[str], list[str]]]:
    """os.walk through linked folders, as Jinja loads templates through them, each real folder
    once (a link back up the tree is not entered); `dirs` sorted, and the caller may prune it."""
    seen: set[str] = set()
    for here, dirs, names in os.walk(os.fspath(folder), followlinks=True):
        real = os.path.realpath(here)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        yield here, dirs, names
