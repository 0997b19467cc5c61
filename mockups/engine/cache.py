"""The content-addressed store, and the stat cache that keeps a no-op rebuild from re-reading images.

Layout of the cache folder (default `.mockups-cache/` beside the catalog):

    objects/ab/<key>.<ext>         an output, named by Job.key
    objects/ab/<key>.json          what made it: model, usage, cost, size, sha256 (written first)
    objects/ab/<key>.thumb.jpg     its gallery thumbnail (.thumb.webp where the output has
                                   transparency, and in caches of earlier versions)
    stat.json                      path -> [size, mtime_ns, ctime_ns, inode, sha256] of files already hashed
    last-build.json                what the last complete build was made from (engine.record: the no-op path)
    photo-kinds.json               photo sha256:kind given:version -> [kind, confidence, reason] (matrix.photo_kinds)
    plan-memo.json                 variant id -> [digest, prompt, digest, key] of the last build (engine.planmemo)

Every write is atomic (a temporary file in the same folder, then rename), so a killed build leaves
either the whole object or nothing, and the next build picks up every object that was finished.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
import tempfile
from pathlib import Path

from mockups._files import sha256_file, sha256_or_none, signature
from mockups.errors import BuildError

logger = logging.getLogger(__name__)


class DiskFull(BuildError):
    """A write failed for want of space; the file it would have replaced is untouched."""


_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def atomic_write(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write data to path so that readers see the old file or the whole new one, never a part.

    `durable` also flushes it to disk before the rename (it survives a power cut, not only a
    killed process); derived files that are cheap to remake skip that. A full disk raises
    DiskFull (a BuildError the CLI reports in a line) and leaves the old file as it was.
    """
    try:
        _atomic_write(path, data, durable)
    except OSError as e:
        if e.errno in _NO_SPACE:
            raise DiskFull(f"no space left on the device for {path} ({e.strerror}); the previous outputs are "
                           "kept: free some space and run the build again") from None
        raise


def _mode_for(path: Path) -> int:
    """The permissions a rewritten file keeps (its own), or a new one gets (what open() gives: 0o666
    less the umask), where mkstemp's temporary file has 0o600: a catalog or an image others read
    (a shared project, a web server serving build/) would be private after one write."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~_UMASK


def _read_umask() -> int:
    """The process's umask, read once, at import (reading it means setting it, which another thread
    creating a file at that moment would see)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _atomic_write(path: Path, data: bytes, durable: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _mode_for(path))
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write atomically unless the file already holds exactly these bytes (mtimes stay, nothing churns)."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass  # the usual first write
    except OSError as e:
        logger.debug("%s: cannot compare with the file there (%s); writing it", path, e)
    atomic_write(path, data)
    return True


def remove_temporaries(*folders: Path) -> int:
    """Delete the temporary files that killed writers left behind (`.<name>.<random>.tmp` from
    atomic_write, `.<name>.<pid>.link` from place); return how many. Nothing reads them, but they
    pile up. Call it only while holding the build lock, when no writer can be half-way."""
    removed = 0
    for folder in folders:
        for p in Path(folder).rglob(".*") if Path(folder).is_dir() else ():
            if p.suffix in (".tmp", ".link") and p.is_file():
                p.unlink(missing_ok=True)
                removed += 1
    return removed


def place(source: Path, target: Path) -> None:
    """Put a copy of a cache object at target atomically: a hard link where possible, else a copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{os.getpid()}.link"
    try:
        tmp.unlink(missing_ok=True)
        try:
            os.link(source, tmp)
        except OSError:
            atomic_write(target, source.read_bytes())
            return
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


#: A thumbnail's extensions, in the order they are looked for: a JPEG, or a WebP where the output
#: has transparency (earlier versions made only WebP ones, which still serve).
THUMB_EXTS = ("jpg", "webp")


def thumb_ext(data: bytes) -> str:
    """A thumbnail's extension, from its bytes."""
    return "jpg" if data[:3] == b"\xff\xd8\xff" else "webp"


class ObjectStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def _base(self, key: str) -> Path:
        return self.root / "objects" / key[:2] / key

    def path(self, key: str, ext: str) -> Path:
        return self._base(key).with_suffix(f".{ext}")

    def thumb_file(self, key: str, ext: str) -> Path:
        return self._base(key).with_suffix(f".thumb.{ext}")

    def thumb_path(self, key: str) -> Path | None:
        """The object's thumbnail file, or None if it has none."""
        for ext in THUMB_EXTS:
            path = self.thumb_file(key, ext)
            if path.is_file():
                return path
        return None

    def read_thumb(self, key: str) -> bytes | None:
        """The object's thumbnail (one read, no stat), or None."""
        for ext in THUMB_EXTS:
            try:
                return self.thumb_file(key, ext).read_bytes()
            except OSError:
                continue
        return None

    def meta(self, key: str) -> dict | None:
        found = self._meta(key)
        return found[0] if found is not None else None

    def _meta(self, key: str) -> tuple[dict, int] | None:
        """The object's record and when it was written (mtime, ns)."""
        try:
            with open(self._base(key).with_suffix(".json"), "rb") as f:
                written = os.fstat(f.fileno()).st_mtime_ns
                meta = json.loads(f.read())
        except FileNotFoundError:
            return None
        except ValueError as e:
            logger.warning("cache record %s.json is damaged (%s): its object is made again", key, e)
            return None
        return (meta, written) if isinstance(meta, dict) else None  # a damaged record: the object is made again

    def get(self, key: str, ext: str) -> tuple[Path, dict] | None:
        """The finished object and its metadata, or None if it is not (wholly) there, or was
        changed since: an output in build/ is a hard link to its object, so an image edited there
        in place edits the object too. An object written after its record (which is written last)
        is hashed, and one whose bytes are not the recorded ones is not there."""
        found = self._meta(key)
        path = self.path(key, ext)
        try:
            st = path.stat()
        except OSError:
            return None
        if found is None or st.st_size != found[0].get("bytes"):
            return None
        meta, written = found
        if st.st_mtime_ns > written and sha256_or_none(path) != meta.get("sha256"):
            logger.warning("cache object %s was changed after it was made (an output edited in place?): it is "
                           "made again", path.name)
            return None
        return path, meta

    def put(self, key: str, ext: str, data: bytes, meta: dict, thumb: bytes | None = None) -> Path:
        """Store an object. The metadata is written last, so its presence means the object is whole
        (a record left from an earlier, damaged copy goes first: the build looks for finished
        objects while workers write them)."""
        path = self.path(key, ext)
        self._base(key).with_suffix(".json").unlink(missing_ok=True)
        atomic_write(path, data)
        if thumb is not None:
            ext = thumb_ext(thumb)
            atomic_write(self.thumb_file(key, ext), thumb, durable=False)
            for other in THUMB_EXTS:
                if other != ext:  # one left by an earlier version would be found first
                    self.thumb_file(key, other).unlink(missing_ok=True)
        atomic_write(self._base(key).with_suffix(".json"), json.dumps(meta, sort_keys=True, indent=1).encode(),
                     durable=False)  # a torn record after a power cut only means the object is made again
        return path

    def keys(self) -> set[str]:
        folder = self.root / "objects"
        return {p.name[:-5] for p in folder.glob("*/*.json")} if folder.is_dir() else set()

    def remove(self, key: str) -> int:
        """Delete every file of an object; return the bytes freed."""
        freed = 0
        for p in self._base(key).parent.glob(f"{key}.*"):
            freed += p.stat().st_size
            p.unlink()
        return freed


class StatCache:
    """Maps a file's path and signature to its sha256, so unchanged files are not read again.

    The signature is what git's index keeps: size, mtime, ctime and inode. A file rewritten with its
    old size and mtime put back (`touch -r`, a restore from an archive) still has a new ctime, which
    no program can set, so it is hashed again."""

    def __init__(self, file: Path | None):
        self.file = file
        self.entries: dict[str, list] = {}
        self.dirty = False
        if file and file.exists():  # a damaged stat cache (or one of an older layout) only costs a re-hash
            entries = _read_json(file, "every input is hashed again")
            self.entries = {k: v for k, v in entries.items() if _stat_entry(v)}

    def hash(self, path: Path | str) -> str:
        key = os.fspath(path)
        sig = signature(os.stat(key))
        found = self.entries.get(key)
        if found and found[:4] == sig:
            return found[4]
        digest = sha256_file(Path(key))
        self.entries[key] = [*sig, digest]
        self.dirty = True
        return digest

    def record(self, path: Path | str, digest: str) -> None:
        """Remember the hash of a file this process just wrote, so it is not read back."""
        key = os.fspath(path)
        self.entries[key] = [*signature(os.stat(key)), digest]
        self.dirty = True

    def save(self) -> None:
        if self.file and self.dirty:
            atomic_write(self.file, json.dumps(self.entries, sort_keys=True).encode())
            self.dirty = False


def _read_json(file: Path, consequence: str) -> dict:
    """The mapping a derived JSON file of the cache folder holds; {} (logged) if it is damaged."""
    try:
        found = json.loads(file.read_text())
    except (ValueError, OSError) as e:
        logger.info("%s is unreadable (%s): %s", file, e, consequence)
        return {}
    return found if isinstance(found, dict) else {}


def _stat_entry(value) -> bool:
    return (isinstance(value, list) and len(value) == 5 and all(isinstance(v, int) for v in value[:4])
            and isinstance(value[4], str))


class JsonMemo(dict):
    """A dict of plain values kept in a JSON file of the cache folder (the photo kinds the matrix
    found, by content hash): read when made, written by `save` if anything was added. A damaged
    file only costs the work again."""

    def __init__(self, file: Path | None):
        super().__init__()
        self.file = file
        if file and file.exists():
            super().update(_read_json(file, "it is made again"))
        self.dirty = False

    def __setitem__(self, key, value) -> None:
        if self.get(key) != value:
            self.dirty = True
        super().__setitem__(key, value)

    def save(self) -> None:
        if self.file and self.dirty:
            atomic_write(self.file, json.dumps(self, sort_keys=True).encode())
            self.dirty = False
