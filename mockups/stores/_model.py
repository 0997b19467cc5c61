"""What a store's export says about its products, in one shape for every store format.

A reader (shopify, woocommerce, merchant) turns its file into a `Listing`: products as the store
groups them, each with its photos in position order and its variants (SKU, colour, own photo),
every one addressed to the row or feed item it came from, so a message can point the user there.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from mockups.errors import MockupsError


class StoreError(MockupsError):
    """An import or export could not be done (the CLI: exit 1)."""


class StoreFileError(StoreError):
    """A store's file (or a --colours file) is not what it should be (the CLI: exit 2)."""


@dataclass
class Photo:
    url: str
    where: str  # "products.csv:12", "feed.xml: item 3"
    alt: str = ""


@dataclass
class Variant:
    """One store variant: what the export needs to find it again, and what the import maps."""

    id: str  # the store's own key: the SKU, a feed item's id, or the row when there is neither
    where: str
    sku: str = ""
    colour: str = ""  # the colour option's value as the store writes it ("" when none)
    options: dict[str, str] = field(default_factory=dict)  # every option, name -> value (sizes too)
    image: Photo | None = None  # the variant's own photo
    extra: dict[str, str] = field(default_factory=dict)  # gtin, mpn, ... (kept for the export)


@dataclass
class Product:
    key: str  # the store's grouping key: a Shopify handle, a WooCommerce parent, an item_group_id
    name: str
    where: str
    photos: list[Photo] = field(default_factory=list)
    variants: list[Variant] = field(default_factory=list)

    sku_as: str = ""  # set when another product's key makes the same id (see unique_ids)

    @property
    def sku(self) -> str:
        """The catalog's sku for this product: the store's key made into an id the catalog accepts."""
        return self.sku_as or ident(self.key)


@dataclass
class Listing:
    kind: str  # shopify | woocommerce | merchant
    file: str
    products: list[Product]
    notes: list[str] = field(default_factory=list)  # what could not be mapped, each with its row
    generation: str = ""  # Shopify: "legacy" or "current" header names; merchant: "tsv" or "xml"


_NOT_ID = re.compile(r"[^A-Za-z0-9._-]+")


def ident(text: str) -> str:
    """`text` as a catalog id: letters, digits, '.', '_' and '-', starting with a letter or digit.
    A name with none of those (Чёрный, 黒) gets one from its own hash: the same at every import."""
    out = _NOT_ID.sub("-", text.strip()).strip("-._")
    return out or f"item-{_digest(text)}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:6]


def unique_ids(names: Iterable[str], make: Callable[[str], str] = ident) -> dict[str, str]:
    """Each distinct name's id (`make`); the names whose ids would be the same ("Black/White" and
    "Black & White", "TEE 1" and "TEE-1") get a suffix from their own hash, the same at every
    import, so one pair of similar names does not stop the import."""
    by_id: dict[str, list[str]] = {}
    for name in dict.fromkeys(names):
        by_id.setdefault(make(name), []).append(name)
    out = {}
    for found, group in by_id.items():
        for name in group:
            out[name] = found if len(group) == 1 else f"{found}-{_digest(name)}"
    return out


def colour_id(name: str) -> str:
    """A colour name as a catalog colour id: 'Heather Grey' -> 'heather-grey'."""
    return ident(name.lower())
