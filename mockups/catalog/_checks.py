"""Semantic checks of a catalog: ids, references and files.

They read the raw YAML data (not the validated model) so that they run, and report, even when
the shape checks found problems elsewhere: the user sees every problem in one go.
"""

from __future__ import annotations

import errno
import os
import warnings
from pathlib import Path

from PIL import Image

from mockups.catalog._yaml import Document
from mockups.catalog.schema import AS_SHOT, OLD_PRINT_SETTINGS, CatalogModel, _corners, _number
from mockups.errors import Problem, did_you_mean
from mockups.imaging import shown_size
from mockups.limits import MAX_PIXELS
from mockups.plugins import backend_names

_SECTIONS = {"products": "sku", "colours": "id", "backgrounds": "id", "designs": "id", "channels": "id"}
_BG_KINDS = ("colour", "gradient", "sweep", "image", "prompt")
PRINT_KEYS = ("print_area", "cylinder", "scale", "anchor", "offset", "rotation", "finish")
# Formats a product photo may be in. Pillow can open more (EPS hands the file to Ghostscript,
# PSD, ICO, ...): a catalog from many hands gets only these well-trodden decoders.
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "BMP", "GIF")  # JPEG includes MPO (phone photos)


def _items(doc: Document, section: str):
    items = doc.data.get(section) if isinstance(doc.data, dict) else None
    if isinstance(items, list):
        for i, item in enumerate(items):
            if isinstance(item, dict):
                yield i, item


def _ids(doc: Document, section: str) -> list[str]:
    key = _SECTIONS[section]  # an id YAML read as a number or yes/no (`id: no`) as it was written, not 'False'
    return [doc.written.get((section, i, key), str(item[key])) for i, item in _items(doc, section)
            if isinstance(item.get(key), (str, int))]


def check_catalog(doc: Document, root: Path, *, check_files: bool = True) -> list[Problem]:
    problems = _duplicate_ids(doc)
    problems += _references(doc)
    problems += _backgrounds(doc)
    problems += _backend(doc)
    if check_files:
        problems += FileChecker(doc, root).check()
        problems += _templates(doc, root)
    return problems


def _duplicate_ids(doc: Document) -> list[Problem]:
    problems = []
    for section, key in _SECTIONS.items():
        first: dict[str | int, int] = {}
        folded: dict[str, str | int] = {}  # an id in lower case -> the id as first written
        for i, item in _items(doc, section):
            value = item.get(key)
            if not isinstance(value, (str, int)):
                continue
            if value in first:
                line = doc.where((section, first[value]))[0]
                problems.append(doc.problem((section, i, key), f"duplicate {key} '{value}' "
                                            f"(already used by {section}[{first[value]}] on line {line})"))
            else:
                other = folded.setdefault(str(value).casefold(), value)
                if other != value:  # in output paths: one file on macOS's and Windows' disks
                    problems.append(doc.problem((section, i, key), f"{key} '{value}' differs from '{other}' "
                                                f"({section}[{first[other]}]) only in case: their images' files "
                                                "would be one file on a disk that ignores case (macOS, Windows); "
                                                "rename one", severity="warning"))
                first[value] = i
    return problems


_TOP_KEYS = frozenset(CatalogModel.model_fields)


def _section_unreadable(doc: Document, section: str) -> bool:
    """The section is written but not as a list (`channels:` as a mapping), or left out where a
    top-level key is a misspelling of it (`colors:`): its own problem is reported, and a reference
    to one of its ids is not also called unknown (one mistake, one problem)."""
    data = doc.data if isinstance(doc.data, dict) else {}
    if section in data:
        return not isinstance(data[section], list)
    return any(isinstance(key, str) and key not in _TOP_KEYS and did_you_mean(key, [section]) for key in data)


def _ref(doc: Document, path: tuple, value, section: str, what: str, also: tuple[str, ...] = ()) -> list[Problem]:
    known = _ids(doc, section)
    if not isinstance(value, str) or value in known or value in also or _section_unreadable(doc, section):
        return []
    listed = ", ".join(known) if len(known) <= 20 else ", ".join(known[:20]) + ", ..."
    return [doc.problem(path, f"unknown {what} '{value}'{did_you_mean(value, known)}; "
                              f"known {section}: {listed or 'none'}")]


def _references(doc: Document) -> list[Problem]:
    problems = []
    for i, product in _items(doc, "products"):
        for key, section, what in (("colours", "colours", "colour"), ("backgrounds", "backgrounds", "background"),
                                   ("designs", "designs", "design")):
            refs = product.get(key)
            if isinstance(refs, list):
                for j, ref in enumerate(refs):
                    problems += _ref(doc, ("products", i, key, j), ref, section, what)
        placements = product.get("placements")
        if "psd" in product or "image" not in product:
            problems += _psd_product(doc, i, product)
        elif not placements:
            problems += _print_areas(doc, ("products", i), product)
        if isinstance(placements, dict):
            own = [k for k in PRINT_KEYS if k in product]
            if own and placements:
                problems.append(doc.problem(("products", i, own[0]), f"a product with placements has its print "
                                            f"areas and their settings in them: move {own[0]} into a placement",
                                            key=True))
            for name, placement in placements.items():
                if not isinstance(placement, dict):
                    continue
                where = ("products", i, "placements", name)
                refs = placement.get("designs")
                for j, ref in enumerate(refs if isinstance(refs, list) else []):
                    problems += _ref(doc, (*where, "designs", j), ref, "designs", "design")
                if isinstance(refs, list) and not refs:
                    problems.append(doc.problem((*where, "designs"), f"placement '{name}' lists no designs, so it "
                                                "would make no images: list its designs or leave the key out"))
                elif "designs" not in placement and not product.get("designs"):
                    problems.append(doc.problem(where, f"placement '{name}' has no designs: list them under it or "
                                                "on the product", key=True))
                problems += _print_areas(doc, where, placement, needed=True)
    placement_names = sorted({str(n) for _, product in _items(doc, "products")
                              if isinstance(product.get("placements"), dict) for n in product["placements"]})
    matrix = doc.data.get("matrix") if isinstance(doc.data, dict) else None
    for kind in ("include", "exclude"):
        rules = matrix.get(kind) if isinstance(matrix, dict) else None
        for j, rule in enumerate(rules if isinstance(rules, list) else []):
            if not isinstance(rule, dict):
                continue
            for key, section in (("product", "products"), ("colour", "colours"), ("background", "backgrounds"),
                                 ("design", "designs"), ("channel", "channels")):
                if key in rule:  # a scene product's variants have the background 'as-shot'
                    problems += _ref(doc, ("matrix", kind, j, key), rule[key], section, key,
                                     (AS_SHOT,) if key == "background" else ())
            name = rule.get("placement")
            if isinstance(name, str) and name not in placement_names:
                problems.append(doc.problem(("matrix", kind, j, "placement"), f"unknown placement '{name}'"
                                            f"{did_you_mean(name, placement_names)}; known placements: "
                                            f"{', '.join(placement_names) or 'none'}"))
            elif isinstance(name, str) and isinstance(rule.get("product"), str):
                product = next((p for _, p in _items(doc, "products") if p.get("sku") == rule["product"]), None)
                own = sorted(map(str, product["placements"])) if product is not None \
                    and isinstance(product.get("placements"), dict) else []
                if product is not None and name not in own:  # the rule can never match: said, not silently nothing
                    problems.append(doc.problem(("matrix", kind, j, "placement"), f"{rule['product']} has no "
                                                f"placement '{name}', so this rule matches nothing"
                                                f"{did_you_mean(name, own)}; its placements: "
                                                f"{', '.join(own) or 'none'}", severity="warning"))
    return problems


PSD_ONLY_PHOTO = ("mask", "recolour_mask", "print_area", "cylinder", "placements", "old_print")


def _psd_product(doc: Document, i: int, product: dict) -> list[Problem]:
    """A product has an image (a photo) or a psd (a mockup template); a template's design goes into
    its smart object, so a photo's print settings do not apply to it."""
    if "psd" not in product:
        return [doc.problem(("products", i), "a product needs an image (a photo) or a psd (a Photoshop mockup "
                            "template)", key=True)]
    if "image" in product:
        return [doc.problem(("products", i, "psd"), "give either image (a photo) or psd (a Photoshop mockup "
                            "template), not both", key=True)]
    return [doc.problem(("products", i, key), f"a psd product's design goes into its smart object: {key} does not "
                        "apply to it (remove it)", key=True) for key in PSD_ONLY_PHOTO if key in product]


def _print_areas(doc: Document, where: tuple, item: dict, needed: bool = False) -> list[Problem]:
    """A product (or placement) has at most one of print_area and cylinder, and one if it has designs."""
    given = [k for k in ("print_area", "cylinder") if k in item]
    if len(given) == 2:
        return [doc.problem((*where, "cylinder"), "give either print_area (a flat print) or cylinder (a print "
                            "wrapped around a mug or bottle), not both", key=True)]
    if not given and (needed or item.get("designs")):  # an empty print_area: the shape check
        what = "a placement" if needed else "designs"
        return [doc.problem((*where, "designs") if "designs" in item else where,
                            f"{what} need{'s' if needed else ''} a print_area or a cylinder (where the design goes)",
                            key="designs" not in item)]
    return []


def _backgrounds(doc: Document) -> list[Problem]:
    problems = []
    for i, bg in _items(doc, "backgrounds"):
        if bg.get("id") == AS_SHOT:
            problems.append(doc.problem(("backgrounds", i, "id"), f"the background id '{AS_SHOT}' is reserved: it "
                                        "names a scene photo's own setting; choose another id"))
        given = [k for k in _BG_KINDS if bg.get(k) is not None]
        empty = [k for k in _BG_KINDS if k in bg and bg[k] is None]  # reported as empty by the shape check
        if len(given) > 1 or not given and not empty:
            got = ("none of them" if not given else "both " + " and ".join(given) if len(given) == 2
                   else ", ".join(given))
            problems.append(doc.problem(("backgrounds", i), f"a background needs exactly one of "
                                        f"{', '.join(_BG_KINDS)}; got {got}"))
    return problems


def _backend(doc: Document) -> list[Problem]:
    """defaults.backend names a built-in or an installed plugin. An import path would make whoever
    edits the catalog choose code to import and run: it is accepted only from --backend."""
    defaults = doc.data.get("defaults") if isinstance(doc.data, dict) else None
    name = defaults.get("backend") if isinstance(defaults, dict) else None
    if not isinstance(name, str):
        return []  # not a string: the shape check reports it
    if ":" in name:
        return [doc.problem(("defaults", "backend"), f"'{_short(name)}' is an import path; a catalog may name only "
                            "a built-in backend or an installed plugin (give an import path with --backend)")]
    known = backend_names()
    if name in known:
        return []
    return [doc.problem(("defaults", "backend"), f"unknown backend '{_short(name)}'{did_you_mean(name, known)}; "
                        f"known backends: {', '.join(known)}")]


MAX_TEMPLATE_FILES = 10_000


def _templates(doc: Document, root: Path) -> list[Problem]:
    """Nothing in templates/ leads out of the project.

    Prompt templates and the gallery theme are read from templates/; a link in there to a file
    outside the project (`env.j2 -> /proc/self/environ`) would copy that file into every prompt,
    output and gallery page, and send it to an AI backend.
    """
    root = root.resolve()
    return [Problem(doc.file, 0, 0, "", f"{entry.relative_to(root)} is a link to {entry.resolve()}, outside the "
                    f"catalog's folder ({root}); templates must live inside the project")
            for entry in _links_out(root / "templates", root)]


def _links_out(folder: Path, root: Path) -> list[Path]:
    """Entries under folder (or folder itself) that resolve outside root; links are not followed."""
    if not os.path.lexists(folder):
        return []
    if not _inside(folder, root):
        return [folder]
    found: list[Path] = []
    seen = 0
    for parent, dirs, files in os.walk(folder):
        for name in dirs + files:
            seen += 1
            entry = Path(parent) / name
            if seen > MAX_TEMPLATE_FILES:
                return found
            if entry.is_symlink() and not _inside(entry, root):
                found.append(entry)
    return found


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # a link loop leads nowhere, so not out either
        return True


def _short(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[:limit - 3] + "..."


_NOT_INPUTS = {"build", ".mockups-cache", ".git", ".venv", "venv", "node_modules", "__pycache__"}


def _project_files(root: Path, most: int = 5000) -> list[str]:
    """Files under `root` as '/'-separated relative paths (at most `most`; outputs, caches and
    environments left out): where a file the catalog names may be instead."""
    found: list[str] = []
    for here, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _NOT_INPUTS and not d.startswith("."))
        rel = os.path.relpath(here, root)
        for name in sorted(names):
            found.append(name if rel == "." else f"{rel.replace(os.sep, '/')}/{name}")
            if len(found) >= most:
                return found
    return found


class FileChecker:
    """Every file a catalog names: inside the catalog's folder, present, an image, masks of the right size."""

    def __init__(self, doc: Document, root: Path):
        self.doc, self.root = doc, root.resolve()
        self.problems: list[Problem] = []
        self.sizes: dict[Path, tuple[int, int] | None] = {}
        self._files: list[str] | None = None  # the project's files, listed when one named is not found

    def _near(self, target: Path, value: str) -> str:
        """' (did you mean ...?)' for a file not found: a Windows path's file written with '/', a
        near name in the folder named, else the project's file of that name (or a near one) in
        another folder ('mug.png' for 'assets/mug.png', 'asset/mug.png')."""
        if "\\" in value and (self.root / value.replace("\\", "/")).is_file():
            return f" (write '/' between folders: did you mean '{value.replace(chr(92), '/')}'?)"
        if target.parent.is_dir():
            near = did_you_mean(target.name, [p.name for p in target.parent.glob("*")])
            if near:
                return near
        if self._files is None:
            self._files = _project_files(self.root)
        same = [rel for rel in self._files if rel.rsplit("/", 1)[-1] == target.name]
        return f" (did you mean '{same[0]}'?)" if len(same) == 1 else did_you_mean(value, self._files)

    def check(self) -> list[Problem]:
        for i, product in _items(self.doc, "products"):
            psd = product.get("psd")
            if isinstance(psd, dict) and isinstance(psd.get("file"), str) and psd["file"]:
                self.psd(("products", i, "psd", "file"), psd["file"])
            size = self.image(("products", i, "image"), product.get("image"))
            named = product.get("old_print") if product.get("old_print") not in (None, *OLD_PRINT_SETTINGS) \
                else None
            if isinstance(named, str) and named.strip().lower() in OLD_PRINT_SETTINGS:  # `Keep`, not a file
                self.add(("products", i, "old_print"), f"expected auto, remove, keep or a mask file; got "
                         f"'{_short(named)}' (did you mean '{named.strip().lower()}'?)")
                named = None
            self._masks(("products", i), product, ("mask", "recolour_mask") + (("old_print",) if named else ()),
                        size)
            self._print_area(("products", i), product, size, product.get("image"))
            placements = product.get("placements")
            for name, placement in (placements.items() if isinstance(placements, dict) else ()):
                if isinstance(placement, dict):
                    where = ("products", i, "placements", name)
                    own = self.image((*where, "image"), placement.get("image")) if "image" in placement else size
                    masks = tuple(k for k in ("mask", "recolour_mask") if k in placement)
                    if "image" in placement:
                        self._masks(where, placement, masks, own)
                    for key in masks if "image" not in placement else ():
                        self.add((*where, key), f"a placement's {key} goes with its own image: without one, the "
                                 f"product's {key} applies")
                    self._print_area(where, placement, own, placement.get("image", product.get("image")))
        for section in ("backgrounds", "designs"):
            for i, item in _items(self.doc, section):
                self.image((section, i, "image"), item.get("image"))
        return self.problems

    def add(self, path: tuple, message: str) -> None:
        self.problems.append(self.doc.problem(path, message))

    def resolve(self, path: tuple, value: str) -> Path | None:
        """The file a catalog path names, refusing anything outside the catalog's folder."""
        if "\0" in value:
            self.add(path, "a file path may not contain a NUL character")
            return None
        if os.path.isabs(value) or value.startswith("~"):
            self.add(path, f"expected a path relative to the catalog's folder, got the absolute path '{_short(value)}'")
            return None
        try:
            target = (self.root / value).resolve()
            loops = target.is_symlink()  # resolving stopped at a link (newer Pythons do not raise)
        except RuntimeError:  # a link loop, before Python 3.13
            loops = True
        except OSError as e:  # a link loop, a name too long
            loops = e.errno == errno.ELOOP
            if not loops:
                self.add(path, f"cannot read {_short(value)}: {e.strerror or e}")
                return None
        if loops:
            self.add(path, f"'{_short(value)}' is a link that leads back to itself")
            return None
        if not target.is_relative_to(self.root):
            self.add(path, f"'{_short(value)}' points outside the catalog's folder ({self.root}); "
                     "files must live inside the project")
            return None
        return target

    def image(self, path: tuple, value) -> tuple[int, int] | None:
        if not isinstance(value, str) or not value:
            return None
        target = self.resolve(path, value)
        if target is None:
            return None
        if target in self.sizes:
            return self.sizes[target]
        self.sizes[target] = size = self._open(path, value, target)
        return size

    def _open(self, path: tuple, value: str, target: Path) -> tuple[int, int] | None:
        value = _short(value)
        try:
            if not target.exists():
                self.add(path, f"file not found: {value}{self._near(target, value)} (looked in {self.root})")
                return None
            if not target.is_file():
                self.add(path, f"expected an image file, but {value} is a folder")
                return None
        except OSError as e:
            self.add(path, f"cannot read {value}: {e.strerror or e}")
            return None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below, in plain words
                with Image.open(target, formats=IMAGE_FORMATS) as im:
                    size = shown_size(im, target)
        except Image.DecompressionBombError:
            self.add(path, f"{value} is too large to open safely (over Pillow's pixel limit)")
            return None
        except (OSError, SyntaxError, ValueError):
            self.add(path, f"{value} is not an image Pillow can read (expected PNG, JPEG, WebP or TIFF)")
            return None
        if size[0] * size[1] > MAX_PIXELS:
            self.add(path, f"{value} is {size[0]}x{size[1]} pixels, more than the {MAX_PIXELS:,} an image may "
                     "have (scale it down)")
            return None
        return size

    def psd(self, path: tuple, value: str) -> None:
        """A PSD or PSB file: inside the project, present, with Photoshop's signature (what is in it
        is checked by the backend, which opens it)."""
        target = self.resolve(path, value)
        if target is None:
            return
        try:
            if not target.is_file():
                self.add(path, f"file not found: {_short(value)}{self._near(target, value)} (looked in {self.root})")
                return
            with open(target, "rb") as f:
                head = f.read(4)
        except OSError as e:
            self.add(path, f"cannot read {_short(value)}: {e.strerror or e}")
            return
        if head != b"8BPS":
            self.add(path, f"{_short(value)} is not a Photoshop file (expected a .psd or .psb)")

    def _masks(self, where: tuple, item: dict, keys: tuple[str, ...], size: tuple[int, int] | None) -> None:
        """The mask files `keys` of a product (or placement) `item` exist, are images, and are the
        size of its photo (`size`)."""
        for key in keys:
            mask_size = self.image((*where, key), item.get(key))
            if size and mask_size and size != mask_size:
                self.add((*where, key), f"the mask is {mask_size[0]}x{mask_size[1]} but the image "
                         f"{item.get('image')} is {size[0]}x{size[1]}; a mask must match its image")

    def _print_area(self, where: tuple, item: dict, size: tuple[int, int] | None, image) -> None:
        area, cylinder = item.get("print_area"), item.get("cylinder")
        if size is None:
            return
        w, h = size
        if isinstance(cylinder, dict) and all(_number(cylinder.get(k)) for k in ("x", "y", "width", "height")):
            x, y, cw, ch = (float(cylinder[k]) for k in ("x", "y", "width", "height"))
            if x < 0 or y < 0 or x + cw > w or y + ch > h:
                self.add((*where, "cylinder"), f"the cylinder's band reaches outside the {w}x{h} image {image}")
        if area is None:
            return
        try:
            corners = _corners(area)
        except ValueError:
            return  # the shape check reports it
        if any(x < 0 or y < 0 or x > w or y > h for x, y in corners):
            self.add((*where, "print_area"), f"the print area reaches outside the {w}x{h} image {image}")
        elif not convex(corners):
            self.add((*where, "print_area"), "the four corners do not make a convex shape; list them "
                     "clockwise from the top-left: top-left, top-right, bottom-right, bottom-left")


def convex(corners) -> bool:
    """True for four corners that form a convex, non-degenerate quad in either winding."""
    signs = []
    for k in range(4):
        (x0, y0), (x1, y1), (x2, y2) = corners[k], corners[(k + 1) % 4], corners[(k + 2) % 4]
        signs.append((x1 - x0) * (y2 - y1) - (y1 - y0) * (x2 - x1))
    return all(s > 0 for s in signs) or all(s < 0 for s in signs)


