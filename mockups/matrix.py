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

import difflib
import fnmatch
import hashlib
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from itertools import product as cartesian
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable

from mockups import imaging
from mockups.catalog import Catalog
from mockups.catalog.schema import AS_SHOT as AS_SHOT_ID
from mockups.catalog.schema import Background, Channel, Colour, Design, Product, Rule
from mockups.errors import CatalogError, MockupsError

EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}
FILTER_KEYS = {"sku": "product", "product": "product", "colour": "colour", "color": "colour",
               "background": "background", "design": "design", "channel": "channel", "placement": "placement"}


class FilterError(MockupsError):
    """An --only or --shard value the user typed is malformed, or selects no variant."""


_PATH_FIELDS = {"image", "mask", "recolour_mask"}
_LATER_DEFAULTS = {"photo": "auto", "scene_fit": "crop", "cylinder": None, "scale": 1.0, "anchor": "center",
                   "offset": [0.0, 0.0], "rotation": 0.0, "finish": "print", "placements": None, "material": "auto",
                   "old_print": "auto"}
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
        return self.print.image or self.product.image

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
        return self.kind == "scene"


def photo_kinds(catalog: Catalog, *, hash_file: Callable[[Path], str] | None = None,
                memo: MutableMapping[str, Any] | None = None) -> dict[str, PhotoKind]:
    """Each product's PhotoKind, by SKU. A photo is read only when its kind is not given (a `mask:`
    or `photo: cutout` needs no look at it); what was found is kept for the catalog object (one
    read per build) and, given `hash_file` (path -> sha256) and `memo` (a mapping kept across builds),
    by the photo's content hash."""
    seen: dict = catalog.memo.setdefault("photo_kinds", {})
    out: dict[str, PhotoKind] = {}
    for product in catalog.model.products:
        if product.mask is not None:
            out[product.sku] = PhotoKind("mask")
        elif product.photo == "cutout":
            out[product.sku] = PhotoKind("cutout", forced=True)
        else:
            out[product.sku] = _photo_kind(catalog.path(product.image), product.photo, seen, hash_file, memo)
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
            key = f"{hash_file(path)}:{given}:{PHOTO_KIND_VERSION}"
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
                out.setdefault(v.id, v)
    for rule in model.matrix.include:
        for v in _included(catalog, rule, dumps, kinds):
            out.setdefault(v.id, v)
    if not out:
        where = ("matrix",) if isinstance(catalog.doc.data, dict) and "matrix" in catalog.doc.data else ("products",)
        raise CatalogError([catalog.doc.problem(where, "the matrix is empty: every combination is excluded", key=True)])
    return _ordered(catalog, out.values())


def _included(catalog: Catalog, rule: Rule, dumps: _Dumps, kinds: Mapping[str, PhotoKind]) -> list[Variant]:
    model = catalog.model
    products = [catalog.products[rule.product]] if rule.product else list(model.products)
    found = []
    for product in products:
        photo = kinds[product.sku].kind if product.sku in kinds else None
        scene = photo == "scene"
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
            found.append(Variant.make(dumps, product, colour, background, design, channel,
                                      _several_designs(product, placement), photo, placement))
    return found


def _ordered(catalog: Catalog, variants) -> list[Variant]:
    rank = catalog.order
    return sorted(variants, key=lambda v: (rank["product"][v.product.sku],
                                           list(v.product.placements or {}).index(v.placement) if v.placement
                                           else -1, rank["colour"][v.colour.id],
                                           rank["background"].get(v.background.id, -1),
                                           rank["design"][v.design.id] if v.design else -1,
                                           rank["channel"][v.channel.id]))


@dataclass(frozen=True, init=False, eq=False, repr=False)
class Selection:
    """Which variants to make: those matching any of `filters` (several `--only` are OR-ed).

    Each filter maps a key to globs: a variant matches when every key of the filter matches (AND),
    a key matching when any of its globs does (`fnmatch`, case-sensitive). Keys: `product` (or
    `sku`), `colour` (or `color`), `background`, `design`, `channel`, `placement`. An empty Selection (no
    filter) selects every variant. `parse` reads what `--only` takes; the constructor takes data:

        Selection.parse(["sku=TEE-*,colour=navy", "sku=MUG"])
        Selection([{"sku": "TEE-*", "colour": "navy"}, {"sku": ["MUG"]}])     # the same selection

    Frozen and hashable; malformed input raises FilterError.
    """

    filters: tuple[Mapping[str, tuple[str, ...]], ...]
    if TYPE_CHECKING:  # not a field: per filter, its text and its (key, glob, as typed) for messages
        _typed: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...]

    def __init__(self, filters: Iterable[Mapping[str, str | Iterable[str]]] | Mapping[str, str | Iterable[str]] = ()):
        if isinstance(filters, str):
            raise FilterError(f"Selection({filters!r}): filters are mappings; for --only text use "
                              f"Selection.parse({filters!r})")
        if isinstance(filters, Mapping):  # one filter
            filters = (filters,)
        normal = tuple(MappingProxyType(_normal_filter(f)) for f in filters)
        object.__setattr__(self, "filters", normal)
        object.__setattr__(self, "_typed", tuple((_filter_text(f), _filter_pairs(f)) for f in normal))

    @classmethod
    def parse(cls, values: str | Iterable[str] | None) -> Selection:
        """`--only` values, e.g. ["sku=TEE-*,colour=navy"] (one string is one value); messages about
        them (a value that selects nothing) quote them as written."""
        if values is None:
            return cls()
        values = [values] if isinstance(values, str) else list(values)
        typed, filters = [], []
        for value in values:
            if not isinstance(value, str):
                raise FilterError(f"--only {value!r}: expected a string like sku=TEE-*,colour=navy")
            pairs = tuple(_pairs(value))
            typed.append((value, pairs))
            filters.append(_grouped(pairs))
        selection = cls(filters)
        object.__setattr__(selection, "_typed", tuple(typed))
        return selection

    @classmethod
    def of(cls, value: Selection | str | Iterable[str] | Iterable[Mapping] | Mapping | None) -> Selection:
        """Whatever `BuildOptions.only` may hold, as a Selection: a Selection, None (everything),
        `--only` strings, or filters as data."""
        if isinstance(value, Selection):
            return value
        if value is None or isinstance(value, str):
            return cls.parse(value)
        if isinstance(value, Mapping):
            return cls(value)
        items = list(value)
        if all(isinstance(i, Mapping) for i in items):
            return cls(items)
        return cls.parse(items)

    @property
    def values(self) -> tuple[str, ...]:
        """Each filter as an `--only` value (as typed, when parsed)."""
        return tuple(text for text, _ in self._typed)

    def matches(self, variant: Variant) -> bool:
        """Whether the variant is selected."""
        if not self.filters:
            return True
        ids = variant.ids()
        return any(_filter_matches(f, ids) for f in self.filters)

    def __bool__(self) -> bool:
        return bool(self.filters)

    def __eq__(self, other) -> bool:
        return isinstance(other, Selection) and self.filters == other.filters

    def __hash__(self) -> int:
        return hash(tuple(frozenset(f.items()) for f in self.filters))

    def __repr__(self) -> str:
        return f"Selection.parse({list(self.values)!r})"

    def __reduce__(self):  # the mapping proxies do not pickle
        return Selection.parse, (list(self.values),)


_KEYS_HELP = ", ".join(sorted(set(FILTER_KEYS) - {"color", "product"}))


def _normal_filter(f: Mapping) -> dict[str, tuple[str, ...]]:
    if not isinstance(f, Mapping):
        raise FilterError(f"selection filter {f!r}: expected a mapping of key -> globs, e.g. {{'sku': 'TEE-*'}}")
    out: dict[str, tuple[str, ...]] = {}
    for key, globs in f.items():
        canon = FILTER_KEYS.get(str(key).strip().lower())
        if canon is None:
            raise FilterError(f"selection key {key!r}: expected one of {_KEYS_HELP}")
        globs = (globs,) if isinstance(globs, str) else tuple(globs)
        if not globs or not all(isinstance(g, str) and g.strip() for g in globs):
            raise FilterError(f"selection key {key!r}: expected globs (non-empty strings), got {f[key]!r}")
        out[canon] = out.get(canon, ()) + tuple(g.strip() for g in globs)
    return out


def _filter_pairs(f: Mapping[str, tuple[str, ...]]) -> tuple[tuple[str, str, str], ...]:
    return tuple((key, g, f"{'sku' if key == 'product' else key}={g}") for key, globs in f.items() for g in globs)


def _filter_text(f: Mapping[str, tuple[str, ...]]) -> str:
    return ",".join(typed for _, _, typed in _filter_pairs(f))


def _grouped(pairs) -> dict[str, list[str]]:
    f: dict[str, list[str]] = {}
    for key, pattern, _ in pairs:
        f.setdefault(key, []).append(pattern)
    return f


@dataclass(frozen=True)
class Shard:
    """Shard `k` of `n` (1 <= k <= n): a stable split of the variants for parallel CI jobs.

    A variant's shard is a hash of its id, so adding a variant does not move the others. Iterates as
    `(k, n)`; `Shard.parse("2/4")` reads what `--shard` takes; `str(shard)` is "2/4".
    """

    k: int
    n: int

    def __post_init__(self):
        ok = all(isinstance(x, int) and not isinstance(x, bool) for x in (self.k, self.n)) and 1 <= self.k <= self.n
        if not ok:
            raise FilterError(f"--shard {f'{self.k}/{self.n}'!r}: expected K/N with 1 <= K <= N, e.g. 2/4")

    @classmethod
    def parse(cls, value: str | None) -> Shard | None:
        """`"K/N"` -> Shard(K, N); None or "" -> None (no sharding). FilterError if malformed."""
        if not value:
            return None
        k, sep, n = value.partition("/")
        if not (sep and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
            raise FilterError(f"--shard {value!r}: expected K/N with 1 <= K <= N, e.g. 2/4")
        return cls(int(k), int(n))

    @classmethod
    def of(cls, value: Shard | str | tuple[int, int] | None) -> Shard | None:
        """Whatever `BuildOptions.shard` may hold, as a Shard (or None): a Shard, "K/N" or (K, N)."""
        if value is None or isinstance(value, Shard):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        k, n = value
        return cls(k, n)

    def matches(self, variant: Variant | str) -> bool:
        """Whether the variant (or a variant id) falls in this shard."""
        return shard_of(variant if isinstance(variant, str) else variant.id, self.n) == self.k

    def __iter__(self) -> Iterator[int]:
        return iter((self.k, self.n))

    def __str__(self) -> str:
        return f"{self.k}/{self.n}"


def parse_only(values: list[str] | None) -> list[dict[str, list[str]]]:
    """`--only sku=TEE-*,colour=navy` -> [{"product": ["TEE-*"], "colour": ["navy"]}]. Several --only are OR-ed."""
    return [_grouped(_pairs(value)) for value in values or []]


def _pairs(value: str) -> list[tuple[str, str, str]]:
    """One --only value -> (key, pattern, the pair as typed) for each key=pattern in it."""
    pairs = []
    for part in filter(None, (p.strip() for p in value.split(","))):
        key, sep, pattern = part.partition("=")
        key = key.strip().lower()
        if not sep or not pattern.strip() or key not in FILTER_KEYS:
            raise FilterError(f"--only {value!r}: expected key=value pairs with keys "
                              f"{_KEYS_HELP}, e.g. sku=TEE-*,colour=navy")
        pairs.append((FILTER_KEYS[key], pattern.strip(), f"{key}={pattern.strip()}"))
    return pairs


def select(variants: list[Variant], only: Selection | list[dict[str, list[str]]] | None = None,
           shard: Shard | tuple[int, int] | None = None) -> list[Variant]:
    """Keep the variants matching any --only filter (globs allowed) and falling in shard K of N."""
    out = variants
    selection = only if isinstance(only, Selection) else Selection(only or ())
    if selection:
        out = [v for v in out if selection.matches(v)]
    shard = Shard.of(shard)
    if shard:
        out = [v for v in out if shard.matches(v)]
    return out


def select_checked(variants: list[Variant], values: Selection | list[str] | None = None,
                   shard: Shard | str | tuple[int, int] | None = None) -> list[Variant]:
    """`select`, but an --only value (or one key=pattern in it) that matches no variant, or a shard
    with nothing in it, is a FilterError saying what there is (a typo in CI must not build nothing)."""
    selection, shard = Selection.of(values), Shard.of(shard)
    problems = [line for value, pairs in selection._typed for line in _only_problems(variants, value, pairs)]
    if problems:
        raise FilterError("\n".join(problems))
    picked = select(variants, selection)
    out = select(picked, shard=shard)
    if shard and not out:
        k, n = shard
        full = sorted({shard_of(v.id, n) for v in picked})
        whose = (f"the {len(picked)} variants --only selects are" if selection
                 else f"the catalog's {len(picked)} variants are")
        if len(picked) == 1:
            whose = "the one variant --only selects is" if selection else "the catalog's one variant is"
        raise FilterError(f"--shard {k}/{n} selects no variant: {whose} in shard{'s' if len(full) > 1 else ''} "
                          f"{_runs(full)} of {n}")
    return out


_PLURAL = {"product": "skus", "colour": "colours", "background": "backgrounds", "design": "designs",
           "channel": "channels", "placement": "placements"}


def _only_problems(variants: list[Variant], value: str, pairs) -> list[str]:
    """Why one --only value selects nothing (one line per key=pattern that matches nothing), or []."""
    ids = [v.ids() for v in variants]
    lines = []
    for key, pattern, typed in pairs:
        known = [k for k in dict.fromkeys(i[key] for i in ids) if k is not None]
        if any(fnmatch.fnmatchcase(k, pattern) for k in known):
            continue
        head = (f"--only {value} selects no variant" if len(pairs) == 1
                else f"--only {value}: {typed} selects no variant")
        if not known:
            lines.append(f"{head}; no variant has a {key}")
            continue
        lines.append(f"{head}; {_PLURAL[key]}: {_listed(known)}{_suggest(pattern, known)}")
    if lines or any(_filter_matches(_grouped(pairs), i) for i in ids):
        return lines
    # each key=pattern matches some variant, but none matches them all: what the last key could be
    key = pairs[-1][0]
    others: dict[str, list[str]] = {}
    for k, pattern, _ in pairs:
        if k != key:
            others.setdefault(k, []).append(pattern)
    possible = [k for k in dict.fromkeys(i[key] for i in ids if _filter_matches(others, i)) if k is not None]
    given = ",".join(t for k, _, t in pairs if k != key)  # not empty: one key's patterns are OR-ed
    tail = (f"; with {given}, {_PLURAL[key]}: {_listed(possible)}" if possible
            else f"; no variant with {given} has a {key}")
    return [f"--only {value} selects no variant: each of its parts matches some variant, "
            f"but no variant matches them all{tail}"]


def _listed(values: list[str], most: int = 20) -> str:
    return ", ".join(values[:most]) + (f" and {len(values) - most} more" if len(values) > most else "")


def _suggest(pattern: str, known: list[str]) -> str:
    """` (did you mean 'navy'?)`: case-insensitive matches first, then close spellings."""
    close = [k for k in known if fnmatch.fnmatchcase(k.lower(), pattern.lower())]
    if not close:
        lowered = {k.lower(): k for k in known}
        close = [lowered[c] for c in difflib.get_close_matches(pattern.lower(), list(lowered), n=1, cutoff=0.6)]
    if not close:
        return ""
    quoted = [f"'{c}'" for c in close[:3]]
    more = ", ..." if len(close) > 3 else ""
    return f" (did you mean {' or '.join(quoted)}{more}?)"


def _runs(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> '1-3, 5'."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and runs[-1][1] == n - 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}, {b}" if b == a + 1 else f"{a}-{b}" for a, b in runs)


def _filter_matches(f: Mapping[str, Iterable[str]], ids: dict) -> bool:
    return all(any(ids[key] is not None and fnmatch.fnmatchcase(ids[key], p) for p in patterns)
               for key, patterns in f.items())


def shard_of(variant_id: str, n: int) -> int:
    """1-based shard of a variant: by hash, so adding a variant does not move the others."""
    return int.from_bytes(hashlib.sha256(variant_id.encode()).digest()[:8], "big") % n + 1


def parse_shard(value: str | None) -> Shard | None:
    """`--shard K/N` -> Shard(K, N) (which unpacks as `k, n`), or None."""
    return Shard.parse(value)
