"""Where a smart object's content lands in the document: Photoshop's transform and warp as an inverse map.

A smart object's placement is a homography `H = H2·H1` (H1: the bounding box of the warp's control
points to `Trnf`, the affine quad; H2: `Trnf` to `nonAffineTransform`, the perspective quad) and,
for custom and quilt warps, a grid of bicubic Bézier patches whose control points (in content
pixels) are projected through H before the surface is evaluated. The surface is evaluated in
Bernstein form, tessellated (16x16 cells a patch) and rasterised triangle by triangle into an
inverse map (document pixel -> content pixel), sampled with `cv2.remap`.

The map depends only on the layer's geometry, never on the design: it is built once per template
and each variant is one remap. It covers the warp's bounding box clipped to the document, kept
in cv2's fixed-point form (6 bytes a pixel).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

TESSELLATION = 16  # cells a patch side: the research prototype's figure (36-45 dB on the fixtures)
EDGE = 0.75  # pixels a triangle reaches past its edge (the bilinear sample then fades the rim, anti-aliased)


@dataclass(frozen=True)
class Placement:
    """A smart object's geometry, read from its descriptor (all in floats).

    `size`: the content canvas (Sz), `affine` and `quad`: Trnf and nonAffineTransform, four (x, y)
    corners TL, TR, BR, BL in document pixels; `mesh`: control points (rows, cols, 2) in content
    pixels or None (no warp); `slices`: for a quilt warp, the patch boundaries in content space
    (xs, ys); for a 4x4 warp the bounds' edges."""

    size: tuple[float, float]
    affine: np.ndarray
    quad: np.ndarray
    mesh: np.ndarray | None = None
    slices: tuple[np.ndarray, np.ndarray] | None = None


@dataclass(frozen=True)
class InverseMap:
    """Document pixels (box = left, top, right, bottom) -> content pixels, in cv2's fixed-point form."""

    box: tuple[int, int, int, int]
    map1: np.ndarray
    map2: np.ndarray

    def apply(self, content: np.ndarray) -> np.ndarray:
        """`content` (H, W, C float32, premultiplied) sampled at every pixel of the box; 0 outside."""
        return cv2.remap(content, self.map1, self.map2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=0)


def homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 3x3 homography taking four points `src` to `dst`."""
    return cv2.getPerspectiveTransform(np.asarray(src, np.float32), np.asarray(dst, np.float32)).astype(np.float64)


def _rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)


def _project(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    flat = pts.reshape(-1, 2)
    out = np.c_[flat, np.ones(len(flat))] @ h.T
    return (out[:, :2] / out[:, 2:3]).reshape(pts.shape)


def document_homography(p: Placement) -> np.ndarray:
    """H2·H1: content space (for a warp: the control points' space) -> document pixels."""
    if p.mesh is not None:
        pts = p.mesh.reshape(-1, 2)
        box = _rect(pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max())  # bbox(P), not bounds
    else:
        box = _rect(0, 0, *p.size)
    h1 = homography(box, p.affine)
    h2 = homography(p.affine, p.quad)
    return h2 @ h1


def _bernstein(t: np.ndarray) -> np.ndarray:
    """The four cubic Bernstein polynomials at t (n,) -> (n, 4)."""
    s = 1.0 - t
    return np.stack([s ** 3, 3 * s * s * t, 3 * s * t * t, t ** 3], axis=1)


def surface(p: Placement, h: np.ndarray, n: int = TESSELLATION) -> tuple[np.ndarray, np.ndarray]:
    """The warped surface sampled on an (n*rows+1) x (n*cols+1) grid of each patch: document
    points and the content points they show, both (gy, gx, 2)."""
    assert p.mesh is not None and p.slices is not None
    ctrl = _project(h, p.mesh)  # the control points projected, then the surface evaluated (not the reverse)
    rows, cols = (ctrl.shape[0] - 1) // 3, (ctrl.shape[1] - 1) // 3
    xs, ys = p.slices
    b = _bernstein(np.linspace(0.0, 1.0, n + 1))
    doc_rows, src_rows = [], []
    for i in range(rows):
        doc_row, src_row = [], []
        for j in range(cols):
            patch = ctrl[3 * i:3 * i + 4, 3 * j:3 * j + 4]  # (4, 4, 2): rows v, cols u
            pts = np.einsum("vi,uj,ijk->vuk", b, b, patch)
            u = np.linspace(xs[j], xs[j + 1], n + 1)
            v = np.linspace(ys[i], ys[i + 1], n + 1)
            src = np.stack(np.meshgrid(u, v), axis=-1)
            keep = slice(0 if j == 0 else 1, None)  # shared patch edges once
            doc_row.append(pts[:, keep])
            src_row.append(src[:, keep])
        keep_r = slice(0 if i == 0 else 1, None)
        doc_rows.append(np.concatenate(doc_row, axis=1)[keep_r])
        src_rows.append(np.concatenate(src_row, axis=1)[keep_r])
    return np.concatenate(doc_rows, axis=0), np.concatenate(src_rows, axis=0)


def inverse_map(p: Placement, doc_size: tuple[int, int]) -> InverseMap | None:
    """The inverse map of a placement over its footprint in a document of `doc_size` (w, h); None
    when it lands wholly outside the document."""
    h = document_homography(p)
    if p.mesh is None:
        corners = p.quad
    else:
        doc, src = surface(p, h)
        corners = doc.reshape(-1, 2)
    box = _box(corners, doc_size)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    if p.mesh is None:
        gx, gy = np.meshgrid(np.arange(x0, x1) + 0.5, np.arange(y0, y1) + 0.5)
        src_pts = _project(np.linalg.inv(h), np.stack([gx, gy], axis=-1))
        mx, my = src_pts[..., 0] - 0.5, src_pts[..., 1] - 0.5
    else:
        mx, my = _rasterise(doc, src, box)
    map1, map2 = cv2.convertMaps(mx.astype(np.float32), my.astype(np.float32), cv2.CV_16SC2)
    return InverseMap(box, map1, map2)


def _box(points: np.ndarray, doc_size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    x0 = max(0, int(np.floor(points[:, 0].min())) - 1)
    y0 = max(0, int(np.floor(points[:, 1].min())) - 1)
    x1 = min(doc_size[0], int(np.ceil(points[:, 0].max())) + 1)
    y1 = min(doc_size[1], int(np.ceil(points[:, 1].max())) + 1)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _rasterise(doc: np.ndarray, src: np.ndarray, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Each tessellation triangle filled with its content coordinates, interpolated barycentrically
    at pixel centres; pixels no triangle covers map far outside the content (transparent)."""
    x0, y0, x1, y1 = box
    mx = np.full((y1 - y0, x1 - x0), -1e5, np.float64)
    my = np.full_like(mx, -1e5)
    gy, gx = doc.shape[0] - 1, doc.shape[1] - 1
    for r in range(gy):
        for c in range(gx):
            q = doc[r:r + 2, c:c + 2].reshape(4, 2)
            s = src[r:r + 2, c:c + 2].reshape(4, 2)
            for tri in ((0, 1, 3), (0, 3, 2)):
                _triangle(q[list(tri)], s[list(tri)], mx, my, x0, y0)
    return mx - 0.5, my - 0.5


def _triangle(d: np.ndarray, s: np.ndarray, mx: np.ndarray, my: np.ndarray, ox: int, oy: int) -> None:
    (ax, ay), (bx, by), (cx, cy) = d
    area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
    if abs(area) < 1e-9:
        return
    lx = max(int(np.floor(min(ax, bx, cx) - EDGE)) - ox, 0)
    ly = max(int(np.floor(min(ay, by, cy) - EDGE)) - oy, 0)
    hx = min(int(np.ceil(max(ax, bx, cx) + EDGE)) - ox, mx.shape[1])
    hy = min(int(np.ceil(max(ay, by, cy) + EDGE)) - oy, mx.shape[0])
    if hx <= lx or hy <= ly:
        return
    px, py = np.meshgrid(np.arange(lx, hx) + ox + 0.5, np.arange(ly, hy) + oy + 0.5)
    w0 = ((bx - px) * (cy - py) - (by - py) * (cx - px)) / area
    w1 = ((cx - px) * (ay - py) - (cy - py) * (ax - px)) / area
    w2 = 1.0 - w0 - w1
    # inside, or within EDGE pixels of an edge (a barycentric weight's unit is the height over that edge)
    tol = np.array([EDGE / max(_height(d, k), 1e-6) for k in range(3)])
    inside = (w0 >= -tol[0]) & (w1 >= -tol[1]) & (w2 >= -tol[2])
    strict = (w0 >= 0) & (w1 >= 0) & (w2 >= 0)
    region_x, region_y = mx[ly:hy, lx:hx], my[ly:hy, lx:hx]
    empty = region_x < -1e4
    write = strict | (inside & empty)  # a neighbour's own pixels are never overwritten by this one's margin
    u = w0 * s[0, 0] + w1 * s[1, 0] + w2 * s[2, 0]
    v = w0 * s[0, 1] + w1 * s[1, 1] + w2 * s[2, 1]
    region_x[write] = u[write]
    region_y[write] = v[write]


def _height(d: np.ndarray, k: int) -> float:
    """The distance from vertex k to the opposite edge of triangle d."""
    a, b, c = d[k], d[(k + 1) % 3], d[(k + 2) % 3]
    edge = c - b
    return abs(float(edge[0] * (a[1] - b[1]) - edge[1] * (a[0] - b[0]))) / max(float(np.hypot(*edge)), 1e-9)
