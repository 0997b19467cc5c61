"""A colour option's name to a hex: a `--colours FILE`, the garment's colour measured in the
variant's own photo, the last import's value, or a built-in table of apparel colour names, in that
order. Which one was used is said; a name none of them resolves is listed, never guessed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from mockups.stores._model import StoreFileError

#: Common apparel colour names (lower case, 'grey' spelling) and a typical dye's hex.
TABLE = {
    "white": "#F4F4F2", "off white": "#EFEBE2", "ivory": "#F1EBD9", "cream": "#EFE6D0", "natural": "#E9E1CF",
    "black": "#1B1B1D", "jet black": "#111112", "charcoal": "#3B3D42", "dark grey": "#4A4C50", "grey": "#8E9094",
    "heather grey": "#9A9A9A", "sport grey": "#A3A3A5", "ash": "#C8C8C6", "light grey": "#C9CACC",
    "silver": "#BFC1C2", "navy": "#1F2A44", "midnight navy": "#1A2035", "royal blue": "#2A4BA0",
    "royal": "#2A4BA0", "blue": "#2F5DA8", "light blue": "#A9C6E8", "sky blue": "#87B6E0",
    "baby blue": "#B9D3EE", "denim": "#4F6D8F", "indigo": "#3B4A7A", "teal": "#1F7A7A", "turquoise": "#2EB5B8",
    "aqua": "#6FCFD2", "mint": "#A8DDC4", "sage": "#9CAF88", "olive": "#6B6B3A", "army green": "#4B5320",
    "military green": "#5A5E3B", "forest green": "#2E5E3A", "forest": "#2E5E3A", "kelly green": "#2E8B3E",
    "green": "#3A7D44", "lime": "#A4C639", "red": "#C0282D", "cherry red": "#B22234", "cherry": "#B22234",
    "cardinal": "#8C1D2C", "maroon": "#5E1F28", "burgundy": "#6B1F2E", "wine": "#6A2434", "coral": "#F0806A",
    "salmon": "#F29A84", "peach": "#F6C4A4", "pink": "#F2B8C6", "light pink": "#F6D1DA", "hot pink": "#E6418A",
    "fuchsia": "#C8307B", "purple": "#5E3A7E", "lavender": "#B8A7D6", "plum": "#5B2F4E", "orange": "#E8702A",
    "burnt orange": "#C0562A", "rust": "#A5472C", "yellow": "#F3D34A", "gold": "#E2A93B", "mustard": "#E1AD21",
    "daisy": "#F6D55C", "khaki": "#B9A77C", "sand": "#D8C7A3", "tan": "#C5A57E", "beige": "#D9C8AA",
    "stone": "#CFC6B4", "oatmeal": "#D8CCB4", "brown": "#6B4A32", "chocolate": "#4A3225", "camel": "#B8895A",
}


def normal(name: str) -> str:
    text = re.sub(r"[\s_-]+", " ", name.strip().lower()).replace("gray", "grey")
    return re.sub(r"^heather (?=\w)", "heather ", text)


def lookup(name: str) -> str | None:
    return TABLE.get(normal(name))


_HEX = re.compile(r"^#?([0-9A-Fa-f]{6})$")


def read_colours_file(path: Path) -> dict[str, str]:
    """A YAML (or JSON) mapping of colour names to hexes: `Heather Navy: "#2C3446"`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise StoreFileError(f"cannot read --colours {path}: {e.strerror or e}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f":{mark.line + 1}" if mark else ""
        raise StoreFileError(f"{path.name}{at}: not readable YAML ({getattr(e, 'problem', e)})") from None
    if not isinstance(data, dict):
        raise StoreFileError(f"{path.name}: expected a mapping of colour names to hexes like "
                             "'Heather Navy: \"#2C3446\"'")
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    lines = {str(k.value): k.start_mark.line + 1 for k, _ in getattr(root, "value", [])
             if isinstance(k, yaml.ScalarNode)}
    out, bad = {}, []
    for name, value in data.items():
        found = _HEX.match(str(value).strip())
        if not found:
            known = TABLE.get(normal(str(name)))
            bad.append(f"{path.name}:{lines.get(str(name), 1)}: '{name}': expected a colour like '#2C3446', "
                       f"got {value!r}" + (f" (leave it out for the built-in {known})" if known else ""))
            continue
        out[normal(str(name))] = "#" + found.group(1).upper()
    if bad:
        raise StoreFileError("\n".join(bad))
    return out


@dataclass(frozen=True)
class Measured:
    hex: str
    confidence: float


def measure(path: Path, *, side: int = 256) -> Measured | None:
    """The garment's colour in a photo: its silhouette (alpha, cut-out or, for a scene, the garment
    under the centre), then the dyeable area in it (prints and trims left out), its median colour.
    None when the photo's analysis is not sure of the garment."""
    from mockups.imaging import (
        LOW_CONFIDENCE,
        ImagingError,
        analyse_photo,
        apply_alpha,
        estimate_dye_mask,
        lab_to_srgb,
        open_image,
        srgb_to_lab,
    )

    try:
        photo = open_image(path)
        photo.thumbnail((side, side))
        w, h = photo.size
        found = analyse_photo(photo, seed=[(w / 2, h / 2)])
        if found.confidence < LOW_CONFIDENCE or found.kind_confidence < LOW_CONFIDENCE:
            return None
        product = photo if found.kind == "alpha" else apply_alpha(photo, found.silhouette)
        dye = estimate_dye_mask(product)
        rgb = np.asarray(product)[..., :3][dye >= 128]
        if rgb.shape[0] < 16:
            return None
        lab = np.median(srgb_to_lab(rgb).reshape(-1, 3), axis=0)
        r, g, b = (int(round(c * 255)) for c in np.clip(lab_to_srgb(lab[None, :])[0], 0, 1))
    except ImagingError:
        return None
    return Measured(f"#{r:02X}{g:02X}{b:02X}", min(found.confidence, found.kind_confidence))
