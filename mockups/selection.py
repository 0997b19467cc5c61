"""Which variants a build makes: `Selection` (what `--only` says) and `Shard` (what `--shard` says).

Kept apart from the matrix, and light to import (no catalog, no imaging), so that a no-op build can
read a selection without loading the rest of the library.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol, TypeVar

from mockups.errors import MockupsError


class Selectable(Protocol):
    """What a selection looks at: a variant's id, and its ids by key (`matrix.Variant` is one)."""

    @property
    def id(self) -> str: ...

    def ids(self) -> dict[str, str | None]: ...


V = TypeVar("V", bound=Selectable)

FILTER_KEYS = {"sku": "product", "product": "product", "colour": "colour", "color": "colour",
               "background": "background", "design": "design", "channel": "channel", "placement": "placement"}


class FilterError(MockupsError):
    """An --only or --shard value the user typed is malformed, or selects no variant."""


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

    def matches(self, variant: Selectable) -> bool:
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

    def matches(self, variant: Selectable | str) -> bool:
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


def select(variants: list[V], only: Selection | list[dict[str, list[str]]] | None = None,
           shard: Shard | tuple[int, int] | None = None) -> list[V]:
    """Keep the variants matching any --only filter (globs allowed) and falling in shard K of N."""
    out = variants
    selection = only if isinstance(only, Selection) else Selection(only or ())
    if selection:
        out = [v for v in out if selection.matches(v)]
    shard = Shard.of(shard)
    if shard:
        out = [v for v in out if shard.matches(v)]
    return out


def select_checked(variants: list[V], values: Selection | list[str] | None = None,
                   shard: Shard | str | tuple[int, int] | None = None) -> list[V]:
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


def _only_problems(variants: list[V], value: str, pairs) -> list[str]:
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
