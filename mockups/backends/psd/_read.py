"""Reading a PSD's smart objects: what each one is, where it lands, and whether it can be rendered.

psd-tools is imported here, lazily (`psd_tools()`), so nothing that does not touch a PSD pays
for it. Each smart-object layer becomes a `SmartObject`: its name and layer path, kind (embedded
or linked), content size (`Sz`), transform and warp as read from the placed-layer descriptor
(`Trnf`, `nonAffineTransform`, `warp`, `quiltWarp`) and, when it cannot be rendered as Photoshop
would (smart filters, a preset warp without a mesh, effects psd-tools does not composite, a
missing linked file), the reason in plain words. `document_problem` refuses documents in other
colour modes than RGB.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mockups.backends.psd._geometry import Placement
from mockups.errors import MockupsError


class PsdError(MockupsError):
    """A PSD template that cannot be read or rendered (the message names the file and the layer);
    `key` is the `psd:` key it is about (file, smart_object or colour_layer)."""

    def __init__(self, message: str, key: str = "file"):
        self.key = key
        self.others: list[PsdError] = []  # found with it (a misspelt smart object and colour layer: both told)
        super().__init__(message)


INSTALL = "PSD mockups need psd-tools: pip install 'mockups[psd]'"
# the layer effects psd-tools composites (composite._compose_effects); the others are a TODO there
EFFECT_NAMES = {"DropShadow": "Drop Shadow", "InnerShadow": "Inner Shadow", "OuterGlow": "Outer Glow",
                "InnerGlow": "Inner Glow", "Satin": "Satin", "BevelEmboss": "Bevel & Emboss"}  # as Photoshop says


def psd_tools() -> Any:
    """The psd_tools module, imported on first use; a PsdError saying how to install it if absent."""
    try:
        importlib.import_module("psd_tools.composite")  # the compositor, a subpackage
        return importlib.import_module("psd_tools")
    except ImportError:
        raise PsdError(INSTALL) from None


@dataclass(frozen=True)
class SmartObject:
    """One smart-object layer of a document, as far as rendering it needs."""

    name: str
    path: str  # "Group/Sub/Layer": the layer's name with its groups
    kind: str  # embedded | linked
    filetype: str  # the content's format as the file says (png, jpg, 8bps, ...)
    size: tuple[int, int]  # Sz: the content canvas a design is fitted into
    transform: str  # identity | scale | affine | perspective
    warp: str  # none | custom | quilt | a preset's name (warpArc, ...)
    placement: Placement | None
    problem: str | None  # why it cannot be rendered (None: it can)
    layer: Any = None  # the psd-tools layer

    @property
    def supported(self) -> bool:
        return self.problem is None


def _floats(v: Any) -> list[float]:
    return [float(x) for x in (v.values if hasattr(v, "values") else v)]


def _enum(v: Any) -> str:
    raw = getattr(v, "enum", v)
    return raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)


def _quad(values: list[float]) -> np.ndarray:
    return np.array(values, np.float64).reshape(4, 2)


def _bounds(warp: Any) -> tuple[float, float, float, float]:
    b = warp[b"bounds"]
    return (float(b[b"Left"]), float(b[b"Top "]), float(b[b"Rght"]), float(b[b"Btom"]))


def _mesh(envelope: Any, rows: int, cols: int) -> np.ndarray:
    points = envelope[b"meshPoints"]
    xs, ys = _floats(points[b"Hrzn"]), _floats(points[b"Vrtc"])
    if len(xs) != rows * cols or len(ys) != rows * cols:
        raise ValueError(f"a {rows}x{cols} warp mesh has {len(xs)} points")
    return np.stack([np.array(xs), np.array(ys)], axis=-1).reshape(rows, cols, 2)


def _is_regular(mesh: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> bool:
    """The mesh's points lie on the even grid over its slices (an identity warp)."""
    rows, cols = mesh.shape[:2]
    gx = np.concatenate([np.linspace(xs[j], xs[j + 1], 4)[(0 if j == 0 else 1):] for j in range(len(xs) - 1)])
    gy = np.concatenate([np.linspace(ys[i], ys[i + 1], 4)[(0 if i == 0 else 1):] for i in range(len(ys) - 1)])
    if len(gx) != cols or len(gy) != rows:
        return False
    grid = np.stack(np.meshgrid(gx, gy), axis=-1)
    scale = max(float(xs[-1] - xs[0]), float(ys[-1] - ys[0]), 1.0)
    return bool(np.abs(mesh - grid).max() <= 1e-3 * scale)


def read_warp(data: Any) -> tuple[str, np.ndarray | None, tuple[np.ndarray, np.ndarray] | None, str | None]:
    """(warp kind, mesh or None for an identity, slices, problem) from a placed-layer descriptor."""
    quilt = data.get(b"quiltWarp") if hasattr(data, "get") else None
    warp = data.get(b"warp") if hasattr(data, "get") else None
    if quilt is not None and b"customEnvelopeWarp" in quilt:
        env = quilt[b"customEnvelopeWarp"]
        rows, cols = int(quilt[b"deformNumRows"]), int(quilt[b"deformNumCols"])
        if (rows - 1) % 3 or (cols - 1) % 3 or rows < 4 or cols < 4:
            return "quilt", None, None, f"its split warp has a {rows}x{cols} mesh (expected 4, 7, 10... points a side)"
        mesh = _mesh(env, rows, cols)
        xs = np.array(_floats(env[b"quiltSliceX"][b"quiltSliceX"]))
        ys = np.array(_floats(env[b"quiltSliceY"][b"quiltSliceY"]))
        if len(xs) != (cols - 1) // 3 + 1 or len(ys) != (rows - 1) // 3 + 1:
            return "quilt", None, None, "its split warp's slices do not match its mesh"
        # the outer slices lie a little outside the content (-0.6 and 512.6 on a 512 canvas) while the
        # mesh's outer points sit on its bounds: the outer patches start and end at the bounds
        left, top, right, bottom = _bounds(quilt)
        xs[0], xs[-1], ys[0], ys[-1] = left, right, top, bottom
        return "quilt", (None if _is_regular(mesh, xs, ys) else mesh), (xs, ys), None
    style = _enum(warp[b"warpStyle"]) if warp is not None and b"warpStyle" in warp else "warpNone"
    if style == "warpNone":
        return "none", None, None, None  # `bounds` is not read: some files store it in document pixels
    if warp is None or b"customEnvelopeWarp" not in warp:
        return style, None, None, f"it uses the preset warp '{style}', which the file stores without a mesh " \
                                  "(convert it to a custom warp in Photoshop: Edit > Transform > Warp, Custom)"
    left, top, right, bottom = _bounds(warp)
    mesh = _mesh(warp[b"customEnvelopeWarp"], 4, 4)
    xs, ys = np.array([left, right]), np.array([top, bottom])
    return "custom", (None if _is_regular(mesh, xs, ys) else mesh), (xs, ys), None


def _transform_kind(size: tuple[int, int], affine: np.ndarray, quad: np.ndarray) -> str:
    if np.abs(affine - quad).max() > 1e-3:
        return "perspective"
    if np.abs(affine - np.array([[0, 0], [size[0], 0], [size[0], size[1]], [0, size[1]]])).max() < 1e-3:
        return "identity"
    upright = abs(affine[0, 1] - affine[1, 1]) < 1e-3 and abs(affine[0, 0] - affine[3, 0]) < 1e-3
    return "scale" if upright else "affine"


def describe(data: Any, name: str = "", path: str = "") -> SmartObject:
    """A SmartObject from a placed-layer descriptor alone (no layer: no effects or link checks)."""
    sz = data[b"Sz  "]
    size = (max(1, round(float(sz[b"Wdth"]))), max(1, round(float(sz[b"Hght"]))))
    affine = _quad(_floats(data[b"Trnf"]))
    quad = _quad(_floats(data[b"nonAffineTransform"])) if b"nonAffineTransform" in data else affine
    problem = _filters(data)
    try:
        warp, mesh, slices, warp_problem = read_warp(data)
    except (KeyError, ValueError, TypeError) as e:
        warp, mesh, slices, warp_problem = "unknown", None, None, f"its warp cannot be read ({e})"
    problem = problem or warp_problem
    placement = None if problem else Placement(size=(float(size[0]), float(size[1])), affine=affine, quad=quad,
                                               mesh=mesh, slices=slices if mesh is not None else None)
    return SmartObject(name, path or name, "embedded", "", size, _transform_kind(size, affine, quad), warp,
                       placement, problem)


def _filters(data: Any) -> str | None:
    fx = data.get(b"filterFX") if hasattr(data, "get") else None
    if fx is None:
        return None
    names = [str(getattr(f.get(b"Nm  "), "value", f.get(b"Nm  ", "a filter"))).rstrip("\x00").rstrip(".")
             for f in fx.get(b"filterFXList", [])]
    listed = ", ".join(names) or "smart filters"
    return f"it has smart filters ({listed}), which cannot be rendered outside Photoshop " \
           "(rasterise or remove them in Photoshop)"


def layer_path(layer: Any) -> str:
    names = []
    node = layer
    while node is not None and getattr(node, "kind", "psdimage") != "psdimage":
        names.append(node.name.rstrip("\x00"))
        node = node.parent
    return "/".join(reversed(names))


def smart_objects(psd: Any, folder: Path) -> list[SmartObject]:
    """Every smart-object layer of an open document, bottom to top, with what stops it rendering."""
    out = []
    for layer in psd.descendants():
        if layer.kind != "smartobject":
            continue
        so = layer.smart_object
        found = describe(so._config.data, layer.name, layer_path(layer))  # Trnf, warp, Sz: only there
        problem = found.problem or _effects(layer) or _vector_mask(layer) or _linked(so, folder)
        found = SmartObject(found.name, found.path, "linked" if so.kind != "data" else "embedded",
                            str(so.filetype or ""), found.size, found.transform, found.warp,
                            found.placement if problem is None else None, problem, layer)
        out.append(found)
    return out


def _effects(layer: Any) -> str | None:
    effects = getattr(layer, "effects", None)
    if not effects or not getattr(effects, "enabled", True):
        return None
    other = sorted({EFFECT_NAMES.get(type(e).__name__, type(e).__name__) for e in effects
                    if getattr(e, "enabled", True)})
    if not other:
        return None
    return f"it has layer effects ({', '.join(other)}), which would not be drawn on the design that replaces its " \
           "content; turn them off, or put them on a layer above it"


def _vector_mask(layer: Any) -> str | None:
    if not (hasattr(layer, "has_vector_mask") and layer.has_vector_mask()):
        return None
    return "it has a vector mask, which would not be carried to the design that replaces its content; " \
           "rasterize it into a layer mask in Photoshop (Layer > Rasterize > Vector Mask)"


def _linked(so: Any, folder: Path) -> str | None:
    if so.kind == "data":
        return None
    name = str(so.filename or "").rstrip("\x00")
    if name and (folder / Path(name).name).is_file():
        return None
    return f"its linked file '{name or '?'}' is missing (looked in {folder}); put it next to the PSD " \
           "or embed it in Photoshop (Layer > Smart Objects > Embed Linked)"


COLOUR_MODES = {0: "bitmap", 1: "grayscale", 2: "indexed", 3: "RGB", 4: "CMYK", 7: "multichannel", 8: "duotone",
                9: "Lab"}


def document_problem(psd: Any) -> str | None:
    """Why the document as a whole cannot be rendered (None: it can)."""
    mode = int(psd.color_mode)
    if mode != 3:
        return f"the document is in {COLOUR_MODES.get(mode, f'colour mode {mode}')} mode; only RGB documents " \
               "are rendered (convert it in Photoshop: Image > Mode > RGB Color)"
    return None
