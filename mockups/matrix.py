"""Catalog -> ordered Variants.

A product is made in each of its colours x backgrounds x designs x channels (a product with named
`placements` in each placement x that placement's designs instead of its designs); `matrix.exclude`
removes combinations and `matrix.include` adds them back or adds new ones (as GitHub Actions'
matrix does: include is applied after exclude). Order is the catalog's own order, so it is stable.

A scene product (a photo of the product worn or in a setting: `photo: scene`, or `photo: auto`
and the photo is classified so) keeps its own setting: the catalog's backgrounds do not apply, and
it is made once per colour x design x channel, with the background `AS_SHOT` (id "as-shot").
Which products are scenes is `photo_kinds`: the photo is classified once per build (and, with a
`memo` such as the build's cache folder keeps, once per photo content).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from itertools import product as cartesian
from pathlib import Path
from typing import Any, Callable

from mockups import imaging
from mockups.catalog import Catalog
from mockups.catalog.schema import AS_SHOT as AS_SHOT_ID
from mockups.catalog.schema import Background, Channel, Colour, Design, Product, Rule
from mockups.errors import CatalogError
from mockups.selection import (  # noqa: F401  (re-exported: the matrix's API includes them)
    FILTER_KEYS,
    FilterError,
    Selection,
    Shard,
    parse_only,
    parse_shard,
    select,
    select_checked,
    shard_of,
)

EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}

_PATH_FIELDS = {"image", "mask", "recolour_mask"}
_LATER_DEFAULTS = {"photo": "auto", "scene_fit": "crop", "cylinder": None, "scale": 1.0, "anchor": "center",
                   "offset": [0.0, 0.0], "rotation": 0.0, "finish": "print", "placements": None, "material": "auto",
                   "old_print": "auto", "psd": None}
_NONE = object()
_SELECTION_FIELDS = {"colours", "backgrounds", "designs", "template", "placements"}  # placements: the variant's own


class _Dumps:
    """Each model as data, dumped once per expansion (10,000 variants share a few hundred models)."""

    def __init__(self):
        self.memo: dict[int, tuple] = {}

    def __call__(self, model, drop=frozenset()) -> dict | None:
        if model is None:
            return None
        found = self.memo.get(id(model))
        if found is None or found[0] is not model:
            later = _LATER_DEFAULTS if isinstance(model, Product) else {}
            data = {k: v for k, v in model.model_dump(mode="json").items()
                    if k not in _PATH_FIELDS | drop and later.get(k, _NONE) != v}
            found = self.memo[id(model)] = (model, data)
        return found[1]

    def fields(self, product, colour, background, design, channel, photo: str | None = None,
               placement: str | None = None) -> dict:
        """The variant as data, without file paths (their bytes are hashed instead) or selection lists.

        Product keys at their defaults that came after the first catalogs (`photo`, `scene_fit`...) are
        left out, so the keys of what those catalogs make do not change; `photo` ("cutout" or
        "scene": a photo without alpha that is analysed) adds the analysis' version. A variant of a
        named placement has that placement only (a change to another placement leaves it alone)."""
        out: dict[str, Any] = {"product": self(product, _SELECTION_FIELDS), "colour": self(colour),
               "background": self(background), "design": self(design), "channel": self(channel)}
        if photo in ("cutout", "scene"):
            out["photo"] = [photo, imaging.photo.VERSION]
        if placement is not None:
            out["placement"] = [placement, self(product.placements[placement], frozenset({"designs"}))]
        return out


@dataclass(frozen=True)
class Variant:
    """One combination of the matrix: a product in a colour, on a background, with a design (or
    None), for a channel; `id` is "channel/SKU/colour--background[--design]", `output` its file."""

    product: Product
    colour: Colour
    background: Background
    design: Design | None
    channel: Channel
    name_design: bool = False  # the product has several designs: the design id is part of the name
    fields: dict | None = field(default=None, compare=False, hash=False, repr=False)  # what shapes its look, as data
    placement: str | None = None  # the named placement printed (None: the product's own print area)

    @classmethod
    def make(cls, dumps: _Dumps, product, colour, background, design, channel, name_design=False,
             photo: str | None = None, placement: str | None = None) -> Variant:
        """`photo`: the product photo's kind (PhotoKind.kind), a part of the fields when it is analysed."""
        return cls(product, colour, background, design, channel, name_design,
                   dumps.fields(product, colour, background, design, channel, photo, placement), placement)

    @property
    def stem(self) -> str:
        parts = [self.colour.id, self.background.id] + ([self.placement] if self.placement else []) \
            + ([self.design.id] if self.name_design and self.design else [])
        return "--".join(parts)

    @property
    def print(self):
        """Where the design goes and how it sits: the named placement, or the product itself (both
        are `PrintFit`s: print_area or cylinder, scale, anchor, offset, rotation, finish)."""
        return self.product.placements[self.placement] if self.placement and self.product.placements \
            else self.product

    @property
    def image(self) -> str:
        """The product photo the variant is made from (a placement may have a photo of its side)."""
        return self.print.image or self.product.image or (self.product.psd.file if self.product.psd else "")

    @property
    def id(self) -> str:
        """Stable and readable: channel/SKU/colour--background[--placement][--design]."""
        return f"{self.channel.id}/{self.product.sku}/{self.stem}"

    @property
    def output(self) -> str:
        """Output path relative to the build folder."""
        return f"{self.channel.id}/{self.product.sku}/{self.stem}.{self.ext}"

    @property
    def ext(self) -> str:
        """The output's file extension (also its cache object's)."""
        return EXTENSIONS[self.channel.format]

    @property
    def scene(self) -> bool:
        """A scene product's variant: the photo as shot, no background of the catalog's."""
        return self.background.id == AS_SHOT_ID and self.background.kind == AS_SHOT_ID

    def ids(self) -> dict[str, str | None]:
        return {"product": self.product.sku, "colour": self.colour.id, "background": self.background.id,
                "design": self.design.id if self.design else None, "channel": self.channel.id,
                "placement": self.placement}


# --- scene photos ----------------------------------------------------------------------------------

AS_SHOT = Background(id=AS_SHOT_ID, name="As shot")  # a scene product's only background: its own setting
PHOTO_KIND_VERSION = 1  # a change to imaging.photo_kind's decisions bumps this (memos keyed by it)


@dataclass(frozen=True)
class PhotoKind:
    """What a product's photo is, as far as the matrix needs to know: `kind` is "mask" (a `mask:`
    file is its silhouette), "alpha" (the photo has one), "cutout", "scene", or "unknown" (the photo
    could not be read: the build reports it); `confidence` that of an automatic decision (1.0 when
    the catalog said so), `reason` why it was decided so."""

    kind: str
    confidence: float = 1.0
    reason: str = ""
    forced: bool = False  # the catalog's `photo:` said so

    @property
    def scene(self) -> bool:
        """The product keeps its own setting: a scene photo, or a PSD template (the document is the picture)."""
        return self.kind in ("scene", "psd")


def photo_kinds(catalog: Catalog, *, hash_file: Callable[[Path], str] | None = None,
                memo: MutableMapping[str, Any] | None = None) -> dict[str, PhotoKind]:
    """Each product's PhotoKind, by SKU. A photo is read only when its kind is not given (a `mask:`
    or `photo: cutout` needs no look at it); what was found is kept for the catalog object (one
    read per build) and, given `hash_file` (path -> sha256) and `memo` (a mapping kept across builds),
    by the photo's content hash."""
    seen: dict = catalog.memo.setdefault("photo_kinds", {})
    out: dict[str, PhotoKind] = {}
    for product in catalog.model.products:
        if product.psd is not None:
            out[product.sku] = PhotoKind("psd", forced=True)
        elif product.mask is not None:
            out[product.sku] = PhotoKind("mask")
        elif product.photo == "cutout":
            out[product.sku] = PhotoKind("cutout", forced=True)
        else:
            out[product.sku] = _photo_kind(catalog.path(product.image or ""), product.photo, seen, hash_file, memo)
    return out


def _photo_kind(path: Path, given: str, seen: dict, hash_file, memo) -> PhotoKind:
    try:
        st = path.stat()
    except OSError as e:
        return _forced_or_unknown(given, f"cannot read the photo: {e.strerror}")
    local = (str(path), st.st_size, st.st_mtime_ns, given)
    if local in seen:
        return seen[local]
    key = None
    if hash_file is not None and memo is not None:
        try:
            key = f"{hash_file(path)}:{given}:{PHOTO_KIND_VERSION}:{imaging.photo.VERSION}"
        except OSError as e:
            return _forced_or_unknown(given, f"cannot read the photo: {e.strerror}")
        found = memo.get(key)
        if _memo_entry(found):
            seen[local] = PhotoKind(found[0], float(found[1]), found[2], given != "auto")
            return seen[local]
    try:
        kind, confidence, reason = imaging.photo_kind(imaging.open_image(path), kind=given)
    except (imaging.ImagingError, OSError) as e:  # the build reports the photo itself
        return _forced_or_unknown(given, str(e))
    seen[local] = PhotoKind(kind, confidence, reason, given != "auto")
    if key is not None and memo is not None:
        memo[key] = [kind, confidence, reason]
    return seen[local]


def _forced_or_unknown(given: str, reason: str) -> PhotoKind:
    return PhotoKind(given, 1.0, "", True) if given != "auto" else PhotoKind("unknown", 0.0, reason)


def _memo_entry(value) -> bool:
    return (isinstance(value, list) and len(value) == 3 and value[0] in ("alpha", "cutout", "scene")
            and isinstance(value[1], (int, float)) and isinstance(value[2], str))


def _matches(rule: Rule, ids: dict) -> bool:
    return all(getattr(rule, k) is None or getattr(rule, k) == v for k, v in ids.items())


def _allowed(catalog: Catalog, product: Product, scene: bool = False) -> tuple[list, list, list]:
    """The product's colours, backgrounds and prints: (placement name or None, design or None) pairs."""
    colours = ([catalog.colours[c] for c in product.colours] if product.colours is not None
               else list(catalog.model.colours))
    backgrounds = ([AS_SHOT] if scene else [catalog.backgrounds[b] for b in product.backgrounds]
                   if product.backgrounds is not None else list(catalog.model.backgrounds))
    prints: list[tuple[str | None, Design | None]]
    if product.placements:
        prints = [(name, catalog.designs[d]) for name in product.placements for d in _designs_of(product, name)]
    else:
        prints = [(None, catalog.designs[d]) for d in product.designs] if product.designs else [(None, None)]
    return colours, backgrounds, prints


def _designs_of(product: Product, placement: str | None) -> list[str]:
    """The design ids of a print position: a placement's own, else the product's."""
    own = product.placements[placement].designs if placement is not None and product.placements else None
    return own if own is not None else product.designs or []


def _several_designs(product: Product, placement: str | None) -> bool:
    """Whether the design id is a part of the variant's name: its print position has several designs."""
    return len(_designs_of(product, placement)) > 1


def expand(catalog: Catalog, kinds: Mapping[str, PhotoKind] | None = None) -> list[Variant]:
    """Every variant of the catalog, in catalog order. Raises CatalogError if none is left.

    `kinds` (from `photo_kinds`, which is called when it is not given) says which products are
    scenes: those have the one background `AS_SHOT`."""
    model = catalog.model
    kinds = photo_kinds(catalog) if kinds is None else kinds
    scenes = {sku for sku, k in kinds.items() if k.scene}
    out: dict[str, Variant] = {}
    dumps = _Dumps()
    for product in model.products:
        colours, backgrounds, prints = _allowed(catalog, product, product.sku in scenes)
        photo = kinds[product.sku].kind if product.sku in kinds else None
        for (placement, design), colour, background, channel in cartesian(prints, colours, backgrounds,
                                                                          model.channels):
            v = Variant.make(dumps, product, colour, background, design, channel,
                             _several_designs(product, placement), photo, placement)
            if not any(_matches(rule, v.ids()) for rule in model.matrix.exclude):
                _add(catalog, out, v)
    for rule in model.matrix.include:
        for v in _included(catalog, rule, dumps, kinds):
            _add(catalog, out, v)
    if not out:
        where = ("matrix",) if isinstance(catalog.doc.data, dict) and "matrix" in catalog.doc.data else ("products",)
        raise CatalogError([catalog.doc.problem(where, "the matrix is empty: every combination is excluded", key=True)])
    return _ordered(catalog, out.values())


def _add(catalog: Catalog, out: dict[str, Variant], v: Variant) -> None:
    """`v` under its id, unless it is there already; another variant of the same id (its ids joined
    with '--' are another's: colour 'a' on 'b--c' and 'a--b' on 'c') is an error, not a lost image."""
    found = out.setdefault(v.id, v)
    if found is not v and found.ids() != v.ids():
        def named(x: Variant) -> str:
            return ", ".join(f"{k} {val}" for k, val in x.ids().items() if val is not None)

        raise CatalogError([catalog.doc.problem(("products",), f"two variants would be one image, {v.output}: "
                                                f"{named(found)} and {named(v)}; rename an id so that the names "
                                                "joined with '--' differ", key=True)])


def _included(catalog: Catalog, rule: Rule, dumps: _Dumps, kinds: Mapping[str, PhotoKind]) -> list[Variant]:
    model = catalog.model
    products = [catalog.products[rule.product]] if rule.product else list(model.products)
    found = []
    for product in products:
        photo = kinds[product.sku].kind if product.sku in kinds else None
        scene = kinds[product.sku].scene if product.sku in kinds else photo == "scene"  # a PSD template's too
        colours, backgrounds, prints = _allowed(catalog, product, scene)
        colours = [catalog.colours[rule.colour]] if rule.colour else colours
        if rule.background == AS_SHOT_ID and not scene:
            continue  # 'as-shot' names a scene product's setting: a cut-out has none
        if rule.background and not scene:  # a scene keeps its setting, whatever background a rule names
            backgrounds = [catalog.backgrounds[rule.background]]
        if not product.placements:
            names: list[str | None] = [] if rule.placement else [None]  # a rule naming a placement: not this one
        else:
            names = list(product.placements) if rule.placement is None \
                else [rule.placement] if rule.placement in product.placements else []
        if rule.design:  # a rule's design goes on each placement it names (as it goes on a product's print area)
            prints = [(name, catalog.designs[rule.design]) for name in names if any(n == name for n, _ in prints)]
        else:
            prints = [(n, d) for n, d in prints if n in names]
        channels = [c for c in model.channels if rule.channel in (None, c.id)]
        for (placement, design), colour, background, channel in cartesian(prints, colours, backgrounds, channels):
            # a design the rule adds beside the product's own: its name tells the variants apart
            several = _several_designs(product, placement) or (
                design is not None and design.id not in _designs_of(product, placement))
            found.append(Variant.make(dumps, product, colour, background, design, channel, several, photo, placement))
    return found


def _ordered(catalog: Catalog, variants) -> list[Variant]:
    rank = catalog.order
    return sorted(variants, key=lambda v: (rank["product"][v.product.sku],
                                           list(v.product.placements or {}).index(v.placement) if v.placement
                                           else -1, rank["colour"][v.colour.id],
                                           rank["background"].get(v.background.id, -1),
                                           rank["design"][v.design.id] if v.design else -1,
                                           rank["channel"][v.channel.id]))


