"""See what the tool sees: an overlay per product of what the compositor finds in its photo.

`inspect_products` analyses each product's photo as the compositor does (`imaging.analyse_photo`:
its alpha, the `mask:` file, an automatic matte of a plain-backdrop photo, or the garment in a
scene photo), works out the dyeable area (the `recolour_mask:` file, else the cut-out's dominant
material, or in a scene the garment) and writes `<folder>/<SKU>.png`: the photo with

- the silhouette outlined (magenta) and what lies outside it dimmed,
- the dyeable area tinted (cyan),
- the print area's quad drawn (yellow), each corner labelled with its coordinates,
- a caption: the kind of photo found and the confidences, and any warning with what to do.

It returns an `Inspection` per product and never prints. An overlay is written atomically and only
when its inputs changed: its PNG carries the key of what it was made from (the photo's, mask's and
recolour mask's content hashes, the product's keys that shape it, this module's version) and the
findings, so an unchanged product costs one PNG header read and its record comes from there.
`mockups build` runs `overlay_tasks` (with the hashes its jobs already have, and the photo analyses
its compositor kept) beside its contact sheets; the gallery links
`build/inspect/<SKU>.png` where it exists (`overlay_links`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import struct
import zlib
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mockups import imaging
from mockups.engine.cache import atomic_write
from mockups.limits import cores

logger = logging.getLogger(__name__)

__all__ = ["Inspection", "inspect_products", "write_overlays", "overlay_tasks", "prune_overlays",
           "overlay_links", "overlay_path", "inspection_key",
           "FOLDER", "VERSION", "OUTLINE", "DYE_TINT", "PRINT_AREA", "LOW_CONFIDENCE"]

VERSION = "2"  # a change to what an overlay shows bumps this (every overlay is redrawn)
FOLDER = "inspect"  # build/inspect/<SKU>.png
CHUNK = "mockups-inspect"  # the PNG text chunk holding the key and the findings
LOW_CONFIDENCE = imaging.LOW_CONFIDENCE
T = TypeVar("T")
MAX_THREADS = 4  # products analysed at once (each holds its photo and a few masks of its size)

OUTLINE = (255, 0, 170)  # the silhouette's outline
DYE_TINT = (0, 190, 255)  # the dyeable area, blended in at TINT_STRENGTH
PRINT_AREA = (255, 214, 0)  # the print area's quad, opaque, on a dark halo
TINT_STRENGTH = 0.36
DIM = 0.45  # how much what lies outside the silhouette is darkened
_SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

FOUND = {"alpha": "product from its alpha", "mask": "product from the mask file",
         "cutout": "product matted", "scene": "garment found"}
UNSURE = {"cutout": "matte unsure", "scene": "garment unsure"}
PHOTO_TEXT = {"alpha": "cut-out with alpha", "mask": "photo with a mask file", "cutout": "plain-backdrop photo",
              "scene": "scene photo"}


@dataclass(frozen=True)
class Inspection:
    """What the compositor finds in one product's photo, and the overlay that shows it.

    `kind` is "alpha", "mask", "cutout" or "scene" with `kind_confidence`; `confidence` is the
    silhouette's; `warnings` say what to do about a low one (or a print area off the product).
    `overlay` is the PNG (None when the photo could not be read: `error` says why); `written` is
    False when it was already up to date.
    """

    sku: str
    name: str
    photo: str  # the photo as the catalog names it (relative to the catalog's folder)
    kind: str
    kind_confidence: float
    confidence: float
    print_area: tuple[tuple[float, float], ...] | None
    overlay: Path | None
    written: bool = False
    warnings: tuple[str, ...] = ()
    dyeable: str = ""  # where the dyeable area comes from: "recolour mask", "main colour", "none found"
    on_product: float | None = None  # the fraction of the print area on the silhouette
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def found(self) -> str:
        """'garment found', 'product matted', ... ('... unsure' when the confidence is low)."""
        if self.confidence < LOW_CONFIDENCE and self.kind in UNSURE:
            return UNSURE[self.kind]
        if self.kind == "scene" and self.dyeable == "recolour mask":
            return "garment from the recolour mask"
        return FOUND.get(self.kind, self.kind)

    @property
    def kind_text(self) -> str:
        return f"{self.kind} ({self.kind_confidence:.2f})"

    @property
    def found_text(self) -> str:
        return f"{self.found} ({self.confidence:.2f})"

    @property
    def print_area_text(self) -> str:
        """'print area 330x380 at (430, 300)': its bounding box, or 'no print area'."""
        if not self.print_area:
            return "no print area"
        x0, y0, x1, y1 = _bbox(self.print_area)
        return f"print area {_n(x1 - x0)}x{_n(y1 - y0)} at ({_n(x0)}, {_n(y0)})"


def _n(v: float) -> str:
    return f"{round(v, 1):g}"


def _bbox(quad) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in quad], [p[1] for p in quad]
    return min(xs), min(ys), max(xs), max(ys)


def overlay_path(folder: Path, sku: str) -> Path:
    """Where a product's overlay goes: `folder/<SKU>.png` (a SKU is a safe file name)."""
    if not _SKU.match(sku):
        raise ValueError(f"not a SKU: {sku!r}")
    return Path(folder) / f"{sku}.png"


def print_area_of(product) -> tuple | None:
    """The print area drawn on the product's photo: its own, its cylinder's band, or that of the
    first placement on the same photo (a placement with a photo of its own is another view)."""
    for at in [product] + [p for p in (getattr(product, "placements", None) or {}).values() if not p.image]:
        c = getattr(at, "cylinder", None)
        if c is not None:
            return ((c.x, c.y), (c.x + c.width, c.y), (c.x + c.width, c.y + c.height), (c.x, c.y + c.height))
        if at.print_area:
            return tuple(at.print_area)
    return None


def _photo_kind(product) -> str:
    """The catalog's `photo:` for the product ("auto" unless it says "cutout" or "scene")."""
    kind = getattr(product, "photo", None)
    return kind if isinstance(kind, str) and kind else "auto"


def inspection_key(product, hashes: Mapping[str, str | None]) -> str:
    """What an overlay depends on: the input files' hashes (role -> sha256) and the product's keys."""
    from mockups._version import __version__

    payload = {"version": VERSION, "mockups": __version__, "sku": product.sku, "name": product.name,
               "photo": _photo_kind(product), "print_area": print_area_of(product),
               "inputs": {role: hashes.get(role) for role in ("product", "mask", "recolour_mask")}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=list).encode()).hexdigest()


def inspect_products(catalog, products: Iterable | None = None, *, folder: Path | None = None,
                     hash_file: Callable[[Path], str] | None = None, force: bool = False,
                     analyses: Path | None = None) -> list[Inspection]:
    """Write the overlay of each product (default: every product of the catalog) into `folder`
    (default `build/inspect/` beside the catalog) unless it is up to date; return what was found.

    `hash_file(path)` gives a file's sha256 (a `StatCache.hash` spares reading unchanged files);
    `force` redraws every overlay. A photo that cannot be read gives an Inspection with `error`.
    `analyses`: the cache folder's photo analyses (backends.kept), shared with the build's
    compositor: what a build found is not found again here, and what is found here a build reuses.
    """
    from mockups._files import sha256_file

    folder = Path(folder) if folder is not None else catalog.root / "build" / FOLDER
    hash_file = hash_file or sha256_file
    work: list[Callable[[], Inspection]] = []
    for product in catalog.model.products if products is None else products:
        if getattr(product, "psd", None) is not None:  # a PSD template has no photo to look at
            continue
        try:  # hashed here, in one thread: a StatCache is not shared between threads
            hashes = {role: hash_file(path) for role, path in _inputs(catalog, product).items()}
        except OSError as e:
            work.append(partial(_failed, product, f"{Path(e.filename).name if e.filename else product.image}: "
                                                  f"{e.strerror or e}"))
            continue
        work.append(partial(inspect_product, catalog, product, folder=folder, hashes=hashes, force=force,
                            analyses=analyses))
    return _run(work)


def _run(work: list[Callable[[], Inspection]]) -> list[Inspection]:
    """Each piece of work, a few at a time (decoding, the analysis and encoding leave the GIL), in order."""
    workers = min(len(work), MAX_THREADS, cores())
    if workers <= 1:
        return [w() for w in work]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inspect") as pool:
        return list(pool.map(lambda w: w(), work))


def write_overlays(build_dir: Path, catalog, jobs: Iterable, *, prune: bool = False) -> list[Inspection]:
    """The overlays of the jobs' products in `build_dir/inspect/`, keyed by the hashes the jobs
    already have (nothing is read again for an unchanged product). With `prune`, overlays of
    products no longer in the catalog are deleted."""
    out = _run(overlay_tasks(build_dir, catalog, jobs))
    if prune:
        prune_overlays(build_dir, catalog)
    return out


def overlay_tasks(build_dir: Path, catalog, jobs: Iterable, analyses: Path | None = None
                  ) -> list[Callable[[], Inspection]]:
    """`write_overlays`' work, a task per product, for `mockups build` to run beside its contact
    sheets (engine.pipeline.Drawing); `analyses`: see `inspect_product`."""
    from mockups._files import sha256_or_none

    folder = Path(build_dir) / FOLDER
    products: dict[str, Any] = {}
    known: dict[str, str] = {}  # path -> sha256, as the jobs hashed their inputs
    for job in jobs:
        product = job.variant.product
        if product.psd is None:  # a PSD template has no photo to look at
            products.setdefault(product.sku, product)
            known.update((str(path), sha) for path, sha in job.inputs.values())
    out: list[Callable[[], Inspection]] = []
    for product in products.values():
        # the product's own files: a variant of a placement with its own photo has that photo's
        hashes: dict[str, str | None] = {}
        for role, path in _inputs(catalog, product).items():  # one unreadable: None, and the overlay reports it
            hashes[role] = known.get(str(path)) or sha256_or_none(path)
        out.append(partial(inspect_product, catalog, product, folder=folder, hashes=hashes, analyses=analyses))
    return out


def prune_overlays(build_dir: Path, catalog) -> None:
    """Delete the overlays of products no longer in the catalog (only those this module wrote)."""
    folder = Path(build_dir) / FOLDER
    if folder.is_dir():
        keep = {f"{p.sku}.png" for p in catalog.model.products}
        for path in folder.glob("*.png"):
            if path.name not in keep and _stored(path) is not None:
                path.unlink(missing_ok=True)


def overlay_links(build_dir: Path, skus: Iterable[str]) -> dict[str, str]:
    """SKU -> the overlay's URL relative to `build_dir/gallery/`, for the products that have one
    (`?v=` changes with the file, so a browser shows a redrawn overlay, not the one it kept)."""
    folder = Path(build_dir) / FOLDER
    out = {}
    for sku in sorted(set(skus)):
        try:
            st = (folder / f"{sku}.png").stat() if _SKU.match(sku) else None
        except OSError:
            continue
        if st is not None:
            out[sku] = f"../{FOLDER}/{quote(sku)}.png?v={st.st_mtime_ns:x}{st.st_size:x}"
    return out


def _inputs(catalog, product) -> dict[str, Path]:
    found = {"product": product.image, "mask": product.mask, "recolour_mask": product.recolour_mask}
    return {role: catalog.path(rel) for role, rel in found.items() if rel}


def silhouette(catalog, product, placement=None) -> Image.Image:
    """What the tool takes for the product in its photo (or a placement's own photo), as the
    compositor finds it: an L image, 255 = product. ImagingError if the photo cannot be analysed."""
    paths = _inputs(catalog, product)
    if placement is not None and getattr(placement, "image", None):
        own = {"product": placement.image, "mask": placement.mask, "recolour_mask": placement.recolour_mask}
        paths = {role: catalog.path(rel) for role, rel in own.items() if rel}
    return Image.fromarray(_u8(_see(product, paths).analysis.silhouette), "L")


def _failed(product, error: str) -> Inspection:
    return Inspection(product.sku, product.name, product.image, "unknown", 0.0, 0.0, print_area_of(product), None,
                      error=error)


def inspect_product(catalog, product, *, folder: Path, hashes: Mapping[str, str | None],
                    force: bool = False, analyses: Path | None = None) -> Inspection:
    """One product's overlay (written unless up to date) and what was found in its photo;
    `analyses`: the folder of photo analyses the build's compositor kept (backends.analyses),
    so that a matte or garment is not found a second time."""
    target = overlay_path(folder, product.sku)
    key = inspection_key(product, hashes)
    stored = None if force else _stored(target)
    if stored is not None and stored.get("key") == key:
        found = _from_stored(stored.get("record"), target)
        if found is not None:
            return found
    paths = _inputs(catalog, product)
    try:
        overlay, found = _analyse_and_draw(product, paths, target, _store(analyses), hashes)
    except imaging.ImagingError as e:
        return _failed(product, str(e))
    except OSError as e:
        return _failed(product, f"{Path(e.filename).name if e.filename else product.image}: {e.strerror or e}")
    atomic_write(target, _png(overlay, key, found), durable=False)  # derived: remade if a crash tears it
    return found


def _stored(path: Path) -> dict | None:
    """The key and findings an overlay was written with (its PNG text chunk), None if none."""
    try:
        with Image.open(path) as im:
            text = im.info.get(CHUNK) if im.format == "PNG" else None
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    try:
        doc = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _from_stored(record, target: Path) -> Inspection | None:
    try:
        record = dict(record)
        area = record.pop("print_area")
        return Inspection(**{**record, "print_area": tuple(tuple(p) for p in area) if area else None,
                             "overlay": target, "written": False, "warnings": tuple(record["warnings"])})
    except (TypeError, KeyError, ValueError):
        return None


def _png(image: Image.Image, key: str, found: Inspection) -> bytes:
    """The overlay as PNG, with the key and the findings in a tEXt chunk right after the header
    (where `Image.open` reads it without decoding the pixels). Encoded by OpenCV at a fast level:
    it leaves the GIL, so the products' overlays are encoded side by side."""
    import cv2  # only when an overlay is drawn: the gallery imports this module for its links

    record = {k: v for k, v in asdict(found).items() if k not in ("overlay", "written")}
    text = json.dumps({"key": key, "record": record}, sort_keys=True)  # ASCII: tEXt is Latin-1
    ok, encoded = cv2.imencode(".png", np.asarray(image.convert("RGB"))[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise imaging.ImagingError("the overlay could not be encoded as PNG")
    data = encoded.tobytes()
    body = b"tEXt" + CHUNK.encode("latin-1") + b"\0" + text.encode("latin-1")
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    return data[:_IHDR_END] + chunk + data[_IHDR_END:]


_IHDR_END = 8 + 4 + 4 + 13 + 4  # the signature, then the header chunk: length, type, 13 bytes, CRC


# --- the analysis, as the compositor makes it ------------------------------------------------------

@dataclass
class _Seen:
    photo: Image.Image  # RGBA as opened
    analysis: imaging.PhotoAnalysis
    dye: np.ndarray  # float32 (H, W) in [0, 1]
    dyeable: str
    warnings: list[str] = field(default_factory=list)
    on_product: float | None = None


def _named(path: Path, work: Callable[[], T]) -> T:
    """`work()`, with an imaging error naming the file it is about."""
    try:
        return work()
    except imaging.ImagingError as e:
        raise imaging.ImagingError(f"{path.name}: {e}") from None


def _mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    im = _named(path, lambda: imaging.open_image(path)).convert("L")
    if im.size != size:
        raise imaging.ImagingError(f"{path.name}: it is {im.size[0]}x{im.size[1]} and the photo "
                                   f"{size[0]}x{size[1]}: a mask needs the photo's size")
    return np.asarray(im)


def _see(product, paths: Mapping[str, Path], analyses=None, hashes: Mapping[str, str | None] | None = None) -> _Seen:
    """The photo analysed and its dyeable area found as the local compositor does it
    (`Compositor.product`), with the same warnings (`backends.local.photo_warnings`)."""
    from mockups.backends.local import photo_warnings

    source = paths["product"]
    photo = _named(source, lambda: imaging.open_image(source))
    mask = _mask(paths["mask"], photo.size) if "mask" in paths else None
    dye_file = _mask(paths["recolour_mask"], photo.size) if "recolour_mask" in paths else None
    kind, kind_confidence, kind_reason = _named(source, lambda: imaging.photo_kind(
        photo, mask_given=mask is not None, kind=_photo_kind(product)))
    if kind == "scene" and dye_file is not None:  # the recolour mask is the garment: nothing is looked for
        analysis = imaging.PhotoAnalysis(kind="scene", kind_confidence=kind_confidence,
                                         silhouette=dye_file.astype(np.float32) / 255.0, foreground=None,
                                         confidence=1.0, reason="", backdrop=None, kind_reason=kind_reason)
        warnings = photo_warnings(source.name, kind, kind_confidence, kind_reason)
    else:
        area = print_area_of(product)
        seed = [(float(x), float(y)) for x, y in area] if area and kind == "scene" else None
        asked = kind if kind in ("cutout", "scene") else "auto"
        analysis = _named(source, lambda: imaging.analyse_photo(photo, mask=mask, kind=asked, seed=seed)
                          if analyses is None else
                          analyses.analyse(photo, photo_sha=(hashes or {}).get("product"),
                                           mask_sha=(hashes or {}).get("mask"), mask=mask, kind=asked, seed=seed))
        warnings = photo_warnings(source.name, kind, kind_confidence, kind_reason, analysis)
    silhouette = analysis.silhouette
    if dye_file is not None:
        dye, dyeable = dye_file.astype(np.float32) / 255.0, "recolour mask"
    elif not (silhouette >= 0.5).any():
        dye, dyeable = np.zeros_like(silhouette), "none found"
    else:  # the product's (or the garment's) own main colour, not an old print or a lining
        if analysis.kind == "scene":
            cut = imaging.apply_alpha(photo.convert("RGB").convert("RGBA"), silhouette)
        elif analysis.foreground is not None:  # a matte's colours cleaned of the backdrop
            cut = Image.fromarray(np.dstack([_u8(analysis.foreground), _u8(silhouette)]), "RGBA")
        else:
            cut = imaging.apply_alpha(photo, silhouette)
        dye = _named(source, lambda: imaging.estimate_dye_mask(cut)).astype(np.float32) / 255.0
        dyeable = "main colour"
    if analysis.kind != "scene" or dye_file is None:
        dye = np.minimum(dye, silhouette)
    on_product = None
    if print_area_of(product):
        on_product = imaging.print_area_coverage(print_area_of(product), silhouette)
        if on_product < 0.6 and analysis.confidence >= LOW_CONFIDENCE:
            warnings.append(f"only {on_product:.0%} of the print area lies on the "
                            f"{'garment' if analysis.kind == 'scene' else 'product'}: check print_area "
                            "against the photo (the overlay draws both)")
    return _Seen(photo, analysis, dye.astype(np.float32), dyeable, warnings, on_product)


def _u8(a: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)


def _store(folder: Path | None):
    from mockups.backends.kept import AnalysisStore
    from mockups.backends.local import Compositor

    return AnalysisStore(folder, Compositor.version)


def _analyse_and_draw(product, paths: Mapping[str, Path], target: Path, analyses=None,
                      hashes: Mapping[str, str | None] | None = None) -> tuple[Image.Image, Inspection]:
    seen = _see(product, paths, analyses, hashes or {})
    a = seen.analysis
    found = Inspection(product.sku, product.name, product.image, a.kind, round(float(a.kind_confidence), 4),
                       round(float(a.confidence), 4), print_area_of(product), target, written=True,
                       warnings=tuple(seen.warnings), dyeable=seen.dyeable,
                       on_product=None if seen.on_product is None else round(seen.on_product, 4))
    return draw_overlay(seen.photo, a.silhouette, seen.dye, print_area_of(product), found), found


# --- drawing ---------------------------------------------------------------------------------------

def _checkerboard(size: tuple[int, int], square: int) -> np.ndarray:
    """Light grey squares (uint8 RGB) for what is transparent in the photo."""
    w, h = size
    tile = np.kron([[0, 1], [1, 0]], np.ones((square, square))).astype(np.uint8) * 26 + 226
    board = np.tile(tile, (h // (2 * square) + 1, w // (2 * square) + 1))[:h, :w]
    return np.repeat(board[..., None], 3, axis=2)


def draw_overlay(photo: Image.Image, silhouette: np.ndarray, dye: np.ndarray, quad, found: Inspection) -> Image.Image:
    """The photo (RGB, same size) with the silhouette outlined, the dyeable area tinted, the print
    area's quad and corner coordinates drawn, and a caption of what was found."""
    import cv2

    w, h = photo.size
    unit = max(0.6, max(w, h) / 1000.0)  # 1 px per 1000 px of the photo's longer side (fonts >= 10 px)
    rgba = np.asarray(photo if photo.mode == "RGBA" else photo.convert("RGBA"))
    rgb = cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB)
    if rgba[..., 3].min() < 255:  # transparency shows as a checkerboard
        a = rgba[..., 3].astype(np.float32) * np.float32(1 / 255)
        rgb = cv2.blendLinear(rgb, _checkerboard(photo.size, max(8, round(16 * unit))), a, 1.0 - a)
    # outside the silhouette darkened, the dyeable area tinted: rgb * keep * (1 - d) + tint * d
    keep = 1.0 - DIM * (1.0 - np.clip(silhouette, 0.0, 1.0).astype(np.float32))
    d = np.clip(dye, 0.0, 1.0).astype(np.float32) * np.float32(TINT_STRENGTH)
    out = cv2.blendLinear(rgb, np.zeros_like(rgb), keep, 1.0 - keep)
    tint = np.empty_like(rgb)
    tint[...] = DYE_TINT
    out = cv2.blendLinear(out, tint, 1.0 - d, d)
    solid = (silhouette >= 0.5).astype(np.uint8)
    t = max(2, round(2.5 * unit))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * t + 1, 2 * t + 1))
    out[cv2.morphologyEx(solid, cv2.MORPH_GRADIENT, kernel) > 0] = OUTLINE
    image = Image.fromarray(out, "RGB")
    drawn = _draw_quad(ImageDraw.Draw(image), quad, unit, (w, h)) if quad else None
    _draw_caption(image, found, unit, avoid=drawn)
    return image


def _font(size: float) -> ImageFont.FreeTypeFont:
    return imaging.load_font(max(10, round(size)))


def _draw_quad(draw: ImageDraw.ImageDraw, quad, unit: float, size: tuple[int, int]) -> tuple[float, float]:
    """Draw the print area and its corners' coordinates; return the rows it took (top, bottom)."""
    pts = [(float(x), float(y)) for x, y in quad]
    width = max(2, round(3 * unit))
    ring = pts + [pts[0]]
    draw.line(ring, fill=(20, 20, 20), width=width + 2 * max(1, round(unit)), joint="curve")  # a halo
    draw.line(ring, fill=PRINT_AREA, width=width, joint="curve")
    font = _font(15 * unit)
    cx, cy = sum(p[0] for p in pts) / 4, sum(p[1] for p in pts) / 4
    r = max(3, round(4 * unit))
    for x, y in pts:
        draw.ellipse((x - r, y - r, x + r, y + r), fill=PRINT_AREA, outline=(20, 20, 20))
    rows = [min(p[1] for p in pts) - r, max(p[1] for p in pts) + r]
    for x, y in pts:  # labels outside the quad, beside their corner, kept in the picture
        text = f"({_n(x)}, {_n(y)})"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tw, th, pad = right - left, bottom - top, max(2, round(3 * unit))
        gap = r + pad + 2
        lx = x + gap if x >= cx else x - gap - tw - 2 * pad
        ly = y + gap if y >= cy else y - gap - th - 2 * pad
        lx = min(max(lx, 0), size[0] - tw - 2 * pad)
        ly = min(max(ly, 0), size[1] - th - 2 * pad)
        draw.rectangle((lx, ly, lx + tw + 2 * pad, ly + th + 2 * pad), fill=(20, 20, 20))
        draw.text((lx + pad - left, ly + pad - top), text, font=font, fill=PRINT_AREA)
        rows = [min(rows[0], ly), max(rows[1], ly + th + 2 * pad)]
    return rows[0], rows[1]


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    return _pack(text.split(), font, width, " ")


def _pack(parts: list[str], font: ImageFont.FreeTypeFont, width: float, sep: str) -> list[str]:
    """`parts` joined by `sep` into as few lines as fit `width` (a part wider than it has a line)."""
    lines: list[str] = []
    line = ""
    for part in parts:
        trial = f"{line}{sep}{part}" if line else part
        if line and font.getlength(trial) > width:
            lines.append(line)
            line = part
        else:
            line = trial
    return lines + ([line] if line else [])


def _draw_caption(image: Image.Image, found: Inspection, unit: float,
                  avoid: tuple[float, float] | None = None) -> None:
    """A dark band along the bottom (or the top, if it hides less of the rows `avoid`, the print
    area's): what was found, a legend, the warnings (each wrapped to fit)."""
    w, h = image.size
    margin = max(5, round(10 * unit))
    width = w - 2 * margin
    parts = [found.sku, f"{PHOTO_TEXT.get(found.kind, found.kind)} ({found.kind_confidence:.2f})", found.found_text,
             found.print_area_text]
    size = 18 * unit
    while size > 10 and _font(size).getlength("  ·  ".join(parts)) > width:
        size *= 0.92  # one line if it fits at a readable size, else wrapped
    font, small = _font(size), _font(size * 0.85)
    line_h, small_h = round(size * 1.3), round(size * 0.85 * 1.3)
    head = _pack(parts, font, width, "  ·  ")
    box, gap = round(size * 0.7), round(size * 0.35)
    legend = [(OUTLINE, "outline: silhouette"), (DYE_TINT, f"tint: dyeable ({found.dyeable})")]
    legend += [(PRINT_AREA, "print area")] if found.print_area else []
    rows: list[list[tuple[tuple[int, int, int], str]]] = [[]]
    x = 0.0
    for colour, label in legend:  # swatch, label; as many to a row as fit
        item = box + gap + small.getlength(label)
        if rows[-1] and x + item > width:
            rows.append([])
            x = 0.0
        rows[-1].append((colour, label))
        x += item + size * 1.2
    warnings = [line for text in found.warnings for line in _wrap(f"warning: {text}", small, width)]
    band = 2 * margin + line_h * len(head) + small_h * (len(rows) + len(warnings))
    top = max(0, h - band)
    if avoid is not None and max(0.0, avoid[1] - top) > max(0.0, band - avoid[0]):
        top = 0  # the print area is low in the photo: the caption goes at the top
    strip = image.crop((0, top, w, min(h, top + band)))
    image.paste(Image.blend(strip, Image.new("RGB", strip.size, (12, 12, 14)), 0.8), (0, top))
    draw = ImageDraw.Draw(image)
    y = top + margin
    for line in head:
        draw.text((margin, y), line, font=font, fill=(255, 255, 255))
        y += line_h
    for row in rows:
        x = margin
        for colour, label in row:
            draw.rectangle((x, y + (small_h - box) // 2, x + box, y + (small_h - box) // 2 + box), fill=colour)
            draw.text((x + box + gap, y), label, font=small, fill=(225, 225, 225))
            x += round(box + gap + small.getlength(label) + size * 1.2)
        y += small_h
    for line in warnings:
        draw.text((margin, y), line, font=small, fill=(255, 190, 70))
        y += small_h
