"""What the local compositor keeps between builds: photo analyses and prepared products.

A product's preparation (`Compositor.product`: its matte or garment, old print found and
inpainted, dye mask, the shading split every colour rescales) takes one to five seconds for a
real photo at 1024 px, and is the same for every colour, background and design. Without these
stores every build paid it again in each worker that made one of the product's variants (an
edited colour re-prepared every photo of the catalog), and `mockups build`'s overlays
(`review.inspect`) analysed each photo a further time.

* `AnalysisStore` (`.mockups-cache/analysis/`): `imaging.analyse_photo`'s result, also read by the
  overlays. A JSON header (kind, confidences, reasons, backdrop, measurements) and the arrays,
  raw, zlib-compressed at level 1 (a 1024 px cut-out's 17 MB are 2.5 MB, written in 0.13 s, read in
  0.05 s).
* `PreparedStore` (`.mockups-cache/prepared/`): the whole `PreparedProduct`, pickled and
  zlib-compressed (2-7 MB for a real photo, read in 0.05-0.1 s), read back through an unpickler
  that accepts only the compositor's own data classes, numpy arrays and Pillow images.

Files are named by the photo's SHA-256 and a key of all the work depends on (input files'
hashes, the catalog's settings that shape it, the compositor's version), written atomically, and
only for work that took long enough to be worth a file (a photo with alpha or a mask file is
analysed in milliseconds). What is read back is bit for bit what was made, so outputs are the
same; a file that cannot be read is a miss, and the work is done again. `mockups clean` deletes
the files of photos no longer in the catalog.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import pickle
import struct
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from mockups import imaging
from mockups.errors import BuildError

logger = logging.getLogger(__name__)

__all__ = ["AnalysisStore", "PreparedStore", "FOLDER", "PREPARED", "unused"]

FOLDER = "analysis"
PREPARED = "prepared"
_MAGIC = b"MKAN1\n"
_ARRAYS = ("silhouette", "foreground")


class _Kept:
    """What both stores share: files in `folder` (None: nothing is kept) named by the photo's hash
    and a digest of what the work depends on; a file is read back when it decodes, else the work
    is made and, when it took `min_seconds` of CPU or more, written atomically."""

    min_seconds = 0.0
    what = "work"  # for messages
    damaged: tuple[type[BaseException], ...] = (ValueError,)  # what decoding a damaged or foreign file raises

    def __init__(self, folder: Path | str | None, version: str):
        self.folder = Path(folder) if folder is not None else None
        self.version = version

    def _file(self, photo_sha: str | None, payload) -> Path | None:
        if self.folder is None or not photo_sha:
            return None
        # `payload` (what the work depends on, the compositor's version among it) and the photo
        # analysis' version (imaging.photo.VERSION, bumped when analyse_photo changes; a preparation
        # is made from an analysis)
        digest = hashlib.sha256(json.dumps([imaging.photo.VERSION, payload], sort_keys=True).encode()).hexdigest()
        return self.folder / f"{photo_sha[:16]}-{digest[:32]}.bin"

    def _get_or(self, path: Path | None, make):
        if path is not None:
            found = self._read(path)
            if found is not None:
                return found
        started = time.thread_time()  # this thread's CPU: what the work cost, however busy the machine
        made = make()
        if path is not None and time.thread_time() - started >= self.min_seconds:
            self._write(path, made)
        return made

    def _read(self, path: Path):
        try:
            data = path.read_bytes()
        except OSError:
            return None
        try:
            return self._decode(data)
        except self.damaged as e:
            logger.debug("%s: not a usable %s (%s): it is made again", path.name, self.what, e)
            return None

    def _write(self, path: Path, made) -> None:
        from mockups.engine.cache import atomic_write

        data = self._encode(made)
        if data is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, data, durable=False)
        except (OSError, BuildError) as e:  # a cache that cannot be written costs time, never the build
            logger.warning("a %s could not be kept in %s (%s): the next build makes it again", self.what,
                           path.parent, e)

    def _decode(self, data: bytes):
        raise NotImplementedError

    def _encode(self, made) -> bytes | None:
        raise NotImplementedError


class AnalysisStore(_Kept):
    """Analyses by photo in `folder` (None: nothing is kept, every analysis is made)."""

    min_seconds = 0.2  # CPU seconds: an analysis quicker than this is made again rather than kept
    what = "photo analysis"
    damaged = (ValueError, KeyError, TypeError, struct.error, zlib.error)

    def analyse(self, rgba, *, photo_sha: str | None, mask_sha: str | None = None, mask: np.ndarray | None = None,
                kind: str = "auto", seed: list[tuple[float, float]] | None = None) -> imaging.PhotoAnalysis:
        """`imaging.analyse_photo(rgba, mask=, kind=, seed=)`, read from the store when it holds
        it (`photo_sha`: the photo file's SHA-256, `mask_sha` the mask file's)."""
        return self._get_or(self.path(photo_sha, mask_sha, kind, seed),
                            lambda: imaging.analyse_photo(rgba, mask=mask, kind=kind, seed=seed))

    def path(self, photo_sha: str | None, mask_sha: str | None, kind: str, seed) -> Path | None:
        return self._file(photo_sha, {"photo": photo_sha, "mask": mask_sha, "kind": kind, "version": self.version,
                                      "seed": [[float(v) for v in p] for p in seed] if seed else None})

    def _decode(self, data: bytes) -> imaging.PhotoAnalysis:
        if not data.startswith(_MAGIC):
            raise ValueError("not an analysis file")
        (length,) = struct.unpack_from(">I", data, len(_MAGIC))
        start = len(_MAGIC) + 4
        head = json.loads(data[start:start + length])
        body = zlib.decompress(data[start + length:])
        arrays: dict[str, np.ndarray | None] = {}
        offset = 0
        for name in _ARRAYS:
            spec = head["arrays"].get(name)
            if spec is None:
                arrays[name] = None
                continue
            dtype, shape = np.dtype(spec["dtype"]), tuple(int(n) for n in spec["shape"])
            count = int(np.prod(shape))
            if offset + dtype.itemsize * count > len(body):
                raise ValueError("truncated")
            arrays[name] = np.frombuffer(body, dtype, count=count, offset=offset).reshape(shape).copy()
            offset += dtype.itemsize * count
        if offset != len(body) or arrays["silhouette"] is None:
            raise ValueError("arrays do not match the header")
        backdrop = head["backdrop"]
        return imaging.PhotoAnalysis(
            kind=str(head["kind"]), kind_confidence=float(head["kind_confidence"]),
            silhouette=arrays["silhouette"], foreground=arrays["foreground"],
            confidence=float(head["confidence"]), reason=str(head["reason"]),
            backdrop=tuple(int(v) for v in backdrop) if backdrop is not None else None,  # type: ignore[arg-type]
            kind_reason=str(head["kind_reason"]), details=dict(head["details"]))

    def _encode(self, found: imaging.PhotoAnalysis) -> bytes | None:
        arrays = {name: getattr(found, name) for name in _ARRAYS}
        try:
            head = json.dumps({
                "kind": found.kind, "kind_confidence": float(found.kind_confidence),
                "confidence": float(found.confidence),
                "reason": found.reason, "kind_reason": found.kind_reason,
                "backdrop": [int(v) for v in found.backdrop] if found.backdrop is not None else None,
                "details": _plain(found.details),
                "arrays": {name: None if a is None else {"dtype": np.asarray(a).dtype.str, "shape": list(np.shape(a))}
                           for name, a in arrays.items()},
            }, sort_keys=True, allow_nan=True).encode()
        except (TypeError, ValueError) as e:  # measurements that are not plain data: not stored
            logger.debug("photo analysis not stored (%s)", e)
            return None
        body = zlib.compress(b"".join(np.ascontiguousarray(a).tobytes() for a in arrays.values() if a is not None), 1)
        return _MAGIC + struct.pack(">I", len(head)) + head + body


def _plain(value: Any) -> Any:
    """Measurements as JSON data (numpy numbers as Python's); anything else is a TypeError."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"{type(value).__name__} in the analysis' measurements")


def unused(cache_dir: Path, photo_shas: set[str]) -> list[Path]:
    """The kept analyses and preparations of photos not among `photo_shas` (for `mockups clean`)."""
    prefixes = {sha[:16] for sha in photo_shas if sha}
    found: list[Path] = []
    for name in (FOLDER, PREPARED):
        folder = Path(cache_dir) / name
        if folder.is_dir():
            found += [p for p in folder.glob("*.bin") if p.name.split("-", 1)[0] not in prefixes]
    return sorted(found)


_PREPARED_MAGIC = b"MKPP1\n"


class PreparedStore(_Kept):
    """Prepared products (`backends.local.PreparedProduct`) by the product's key, in `folder`
    (None: nothing is kept)."""

    min_seconds = 1.0  # CPU seconds: a preparation quicker than this is made again, not compressed and kept
    what = "prepared product"
    damaged = (Exception,)  # whatever a damaged or foreign pickle raises, it is a miss

    def path(self, photo_sha: str | None, key: tuple) -> Path | None:
        return self._file(photo_sha, [self.version, repr(key)])

    def get_or(self, photo_sha: str | None, key: tuple, make):
        """The kept preparation for `key`, or `make()`'s, kept when it took `min_seconds` or more."""
        return self._get_or(self.path(photo_sha, key), make)

    def _decode(self, data: bytes):
        if not data.startswith(_PREPARED_MAGIC):
            raise ValueError("not a prepared product")
        return _Unpickler(io.BytesIO(zlib.decompress(data[len(_PREPARED_MAGIC):]))).load()

    def _encode(self, prepared) -> bytes | None:
        try:
            return _PREPARED_MAGIC + zlib.compress(pickle.dumps(prepared, protocol=pickle.HIGHEST_PROTOCOL), 1)
        except (pickle.PicklingError, TypeError, AttributeError) as e:
            logger.debug("prepared product not kept (%s)", e)
            return None


class _Unpickler(pickle.Unpickler):
    """Only what a PreparedProduct holds: the compositor's data classes, numpy arrays and dtypes,
    Pillow images and plain containers. Anything else (a function, another module's class) is
    refused, so a planted file cannot run code."""

    _NUMPY = {"_reconstruct", "_frombuffer", "dtype", "ndarray", "scalar"}
    _BUILTINS = {"tuple", "list", "dict", "set", "frozenset", "int", "float", "complex", "str", "bytes",
                 "bytearray", "bool", "slice", "range"}

    def find_class(self, module: str, name: str):
        if module == "builtins" and name in self._BUILTINS:
            return super().find_class(module, name)
        if (module == "numpy" or module.startswith("numpy.")) and (name in self._NUMPY or name.endswith("DType")):
            return super().find_class(module, name)
        if (module, name) in (("PIL.Image", "Image"), ("copyreg", "_reconstructor")):
            return super().find_class(module, name)
        if module == "mockups.backends.local" and name == "PreparedProduct" or module.startswith("mockups.imaging."):
            found = super().find_class(module, name)
            if isinstance(found, type):
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a prepared product")
