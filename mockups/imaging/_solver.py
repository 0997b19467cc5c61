"""Numba-free alpha matting and foreground estimation (numpy + OpenCV box filters).

* :func:`solve_alpha` minimises the closed-form matting energy of Levin et
  al. (local colour-line model) subject to a trimap, by conjugate
  gradients. The matting Laplacian is never built: its product with a
  vector is evaluated with box filters as in He et al., "Fast matting
  using large kernel matting Laplacian matrices" (CVPR 2010), so memory
  and time are linear in the number of pixels and no sparse-matrix
  library (scipy) or JIT (numba) is needed.
* :func:`estimate_foreground` is the "blur fusion" foreground estimator of
  Forte & Pitie, "Approximate fast foreground colour estimation" (ICIP
  2021): it decontaminates the colour of semi-transparent edge pixels
  from the old background.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mockups.imaging._ops import _inv3_sym, box_mean

__all__ = ["solve_alpha", "estimate_foreground"]

_PAIRS = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
Planes = list[np.ndarray]  # per-channel 2-D planes (channel-first keeps the per-pixel algebra fast)


def _dot(a: Planes, b: Planes) -> np.ndarray:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _mat_vec(inv: Planes, v: Planes) -> Planes:
    """Per-pixel (symmetric 3x3, as 6 planes) @ (3-vector, as 3 planes)."""
    xx, xy, xz, yy, yz, zz = inv
    x, y, z = v
    return [xx * x + xy * y + xz * z, xy * x + yy * y + yz * z, xz * x + yz * y + zz * z]


@dataclass(frozen=True)
class _Laplacian:
    """Per-window statistics of the guide image defining the matting Laplacian."""

    guide: Planes  # 3 float64 planes
    mean: Planes  # window means of the guide
    inv: Planes  # 6 planes: symmetric inverse of (cov + eps/|w| I)
    diag: np.ndarray  # diagonal of the normalised Laplacian (Jacobi preconditioner)
    radius: int


def _laplacian(guide: np.ndarray, radius: int, eps: float) -> _Laplacian:
    """Window statistics, in float64 like the whole solver.

    Product colours are strongly correlated (near-grey windows have an
    almost singular covariance), so the inverse has entries of ~1/eps and
    float32 cancellation in E[I p] - mu E[p] would swamp the result.
    """
    n = float((2 * radius + 1) ** 2)
    g = [guide[..., c].astype(np.float64) for c in range(3)]
    mean = [box_mean(c, radius) for c in g]
    cov = [box_mean(g[i] * g[j], radius) - mean[i] * mean[j] + (eps / n if i == j else 0.0) for i, j in _PAIRS]
    inv = _inv3_sym(cov)
    return _Laplacian(g, mean, inv, _diagonal(g, mean, inv, radius, n), radius)


def _diagonal(g: Planes, mean: Planes, inv: Planes, r: int, n: float) -> np.ndarray:
    """Diagonal of L/|w|: mean over windows k of 1 - (1 + (I_i-mu_k)^T D_k^-1 (I_i-mu_k)) / |w|."""
    inv_mean = _mat_vec(inv, mean)
    avg_inv = [box_mean(c, r) for c in inv]
    avg_inv_mean = [box_mean(c, r) for c in inv_mean]
    quad = _dot(g, _mat_vec(avg_inv, g)) - 2.0 * _dot(g, avg_inv_mean) + box_mean(_dot(mean, inv_mean), r)
    return np.maximum(1.0 - (1.0 + quad) / n, 1e-4)


def _apply(lap: _Laplacian, p: np.ndarray) -> np.ndarray:
    """Normalised matting Laplacian times ``p``: p - (mean_k a_k . I + mean_k b_k)."""
    r = lap.radius
    p_mean = box_mean(p, r)
    cov_ip = [box_mean(g * p, r) - m * p_mean for g, m in zip(lap.guide, lap.mean, strict=True)]
    a = _mat_vec(lap.inv, cov_ip)
    b = p_mean - _dot(a, lap.mean)
    a_mean = [box_mean(c, r) for c in a]
    return p - _dot(a_mean, lap.guide) - box_mean(b, r)


@dataclass(frozen=True)
class _Tiles:
    """Square tiles covering the unknown pixels, each with a margin, packed into one mosaic.

    The tile windows are laid out side by side in a roughly square mosaic
    image; box filters run on it and, with a margin of 2 * radius, every
    core pixel sees exactly its true neighbourhood. The work is thus
    proportional to the unknown band, not to the image. Solver vectors are
    1-D arrays over the tiles' core pixels.
    """

    rows: np.ndarray  # (Hm, Wm) padded-image row of every mosaic pixel
    cols: np.ndarray  # (Hm, Wm) padded-image column
    core: np.ndarray  # (Hm, Wm) True on the core pixels of real tiles
    source: np.ndarray  # (Hm, Wm) core-vector index of the pixel's image position, or len(core vector)

    def gather(self, arr: np.ndarray) -> np.ndarray:
        return arr[self.rows, self.cols]

    def spread(self, vec: np.ndarray) -> np.ndarray:
        """Mosaic holding ``vec`` on the cores and 0 elsewhere."""
        return np.append(vec, 0.0)[self.source]

    def scatter(self, arr: np.ndarray, vec: np.ndarray) -> None:
        arr[self.rows[self.core], self.cols[self.core]] = vec


def _pad(arr: np.ndarray, margin: int, tile: int, mode: str) -> np.ndarray:
    h, w = arr.shape[:2]
    extra = ((0, 0),) * (arr.ndim - 2)
    pads = ((margin, margin + (-h) % tile), (margin, margin + (-w) % tile)) + extra
    return np.pad(arr, pads, mode=mode)  # type: ignore[call-overload]


def _make_tiles(unknown_padded: np.ndarray, tile: int, margin: int, image_hw: tuple[int, int]) -> _Tiles:
    """Tiles over the unknown pixels; padding pixels read the core slot of the pixel they mirror."""
    hp, wp = unknown_padded.shape
    inner = unknown_padded[margin:hp - margin, margin:wp - margin]
    ny, nx = inner.shape[0] // tile, inner.shape[1] // tile
    ty, tx = np.nonzero(inner.reshape(ny, tile, nx, tile).any(axis=(1, 3)))
    n, size = len(ty), tile + 2 * margin
    grid_c = max(1, int(np.ceil(np.sqrt(n))))
    grid_r = -(-n // grid_c)
    off = np.arange(size)
    real = np.arange(grid_r * grid_c) < n
    ty = np.where(real, np.pad(ty, (0, grid_r * grid_c - n)), 0)
    tx = np.where(real, np.pad(tx, (0, grid_r * grid_c - n)), 0)
    shape4 = (grid_r, grid_c, size, size)
    rows = np.broadcast_to((ty * tile)[:, None, None] + off[None, :, None], (len(ty), size, size))
    cols = np.broadcast_to((tx * tile)[:, None, None] + off[None, None, :], (len(tx), size, size))
    in_core = np.zeros((size, size), dtype=bool)
    in_core[margin:margin + tile, margin:margin + tile] = True
    core = real[:, None, None] & in_core[None]

    def lay(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a.reshape(shape4).transpose(0, 2, 1, 3).reshape(grid_r * size, grid_c * size))

    core_m, rows_m, cols_m = lay(core), lay(rows), lay(cols)
    h, w = image_hw
    owner = np.full((hp, wp), n * tile * tile, dtype=np.int64)  # default: the appended zero
    owner[rows_m[core_m], cols_m[core_m]] = np.arange(n * tile * tile)
    owner = _pad(owner[margin:margin + h, margin:margin + w], margin, tile, "reflect")  # mirror like the image
    return _Tiles(rows_m, cols_m, core_m, owner[rows_m, cols_m])


def _pcg(lap: _Laplacian, tiles: _Tiles, unknown: np.ndarray, known: np.ndarray, x: np.ndarray,
         prior: tuple[np.ndarray, np.ndarray], max_iter: int, tol: float) -> np.ndarray:
    """Jacobi-preconditioned CG on the unknown pixels U (core vectors) for

        (L_UU + W) x = -L_UK alpha_K + W prior

    ``known`` is the mosaic of the known alpha (0 on U); ``x`` the start (0
    off U); ``prior`` = (values, weights W) on the core vectors.
    """
    target, weight = prior

    def op(vec: np.ndarray) -> np.ndarray:
        return np.where(unknown, _apply(lap, tiles.spread(vec))[tiles.core] + weight * vec, 0.0)

    precond = np.where(unknown, 1.0 / (lap.diag[tiles.core] + weight), 0.0)
    rhs = np.where(unknown, weight * target - _apply(lap, known)[tiles.core], 0.0)
    r = rhs - op(x)
    z = precond * r
    p = z.copy()
    rz = float(np.vdot(r, z))
    stop = tol * tol * max(float(np.vdot(rhs, rhs)), 1e-12)
    for _ in range(max_iter):
        if float(np.vdot(r, r)) <= stop:
            break
        q = op(p)
        step = rz / max(float(np.vdot(p, q)), 1e-20)
        x = x + step * p
        r = r - step * q
        z = precond * r
        rz_new = float(np.vdot(r, z))
        p = z + (rz_new / max(rz, 1e-20)) * p
        rz = rz_new
    return x


def solve_alpha(rgb: np.ndarray, trimap: np.ndarray, *, radius: int = 1, eps: float = 1e-5,
                max_iter: int = 200, tol: float = 1e-3, init: np.ndarray | None = None,
                prior: np.ndarray | None = None, prior_weight: np.ndarray | float = 0.0,
                tile: int = 8) -> np.ndarray:
    """Closed-form (Levin) alpha matte constrained by a trimap, solved matrix-free.

    ``trimap`` is float ``(H, W)``: 0 = background, 1 = foreground, values
    strictly in between = unknown. The known pixels are hard constraints;
    the unknown ones minimise ``a^T L a + sum(prior_weight * (a - prior)^2)``
    (the data term is optional: flat regions, e.g. a black product, do not
    constrain the matting Laplacian, a per-pixel estimate does). Solved by
    preconditioned conjugate gradients started from ``init`` (default
    0.5), only on ``tile``-px tiles covering the unknown pixels. Returns
    float32 alpha in [0, 1]. Deterministic.
    """
    tri = np.asarray(trimap, dtype=np.float32)
    unknown = (tri > 0.0) & (tri < 1.0)
    alpha = np.where(tri >= 1.0, 1.0, 0.0).astype(np.float32)
    if not unknown.any():
        return alpha
    m = 2 * radius
    start = np.where(unknown, 0.5 if init is None else np.asarray(init, np.float32), 0.0).astype(np.float32)
    unk_p = _pad(unknown, m, tile, "constant")
    tiles = _make_tiles(unk_p, tile, m, alpha.shape)
    lap = _laplacian(tiles.gather(_pad(np.asarray(rgb, np.float32), m, tile, "reflect")), radius, eps)
    unk_m = tiles.gather(unk_p)
    known = tiles.gather(_pad(alpha, m, tile, "reflect")) * ~unk_m
    u_vec = unk_m[tiles.core]
    x0 = np.where(u_vec, tiles.gather(_pad(start, m, tile, "constant"))[tiles.core], 0.0).astype(np.float64)
    def on_cores(arr: np.ndarray | float) -> np.ndarray:
        full = np.broadcast_to(np.asarray(arr, np.float32), alpha.shape)
        return np.where(u_vec, tiles.gather(_pad(full, m, tile, "constant"))[tiles.core], 0.0).astype(np.float64)

    data = (on_cores(0.0 if prior is None else prior), on_cores(prior_weight if prior is not None else 0.0))
    x = _pcg(lap, tiles, u_vec, known, x0, data, max_iter, tol)
    out_p = _pad(alpha, m, tile, "reflect")
    tiles.scatter(out_p, np.where(u_vec, x, tiles.gather(out_p)[tiles.core]))
    h, w = alpha.shape
    return np.clip(out_p[m:m + h, m:m + w], 0.0, 1.0).astype(np.float32)


def _blur_fusion(image: np.ndarray, fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray,
                 r: int) -> tuple[np.ndarray, np.ndarray]:
    a = alpha[..., None]
    blur_a = box_mean(alpha, r)[..., None]
    blur_f = box_mean(fg * a, r) / (blur_a + 1e-5)
    blur_b = box_mean(bg * (1.0 - a), r) / ((1.0 - blur_a) + 1e-5)
    f = blur_f + a * (image - a * blur_f - (1.0 - a) * blur_b)
    return np.clip(f, 0.0, 1.0), blur_b


def estimate_foreground(rgb: np.ndarray, alpha: np.ndarray, *, radii: tuple[int, int] | None = None) -> np.ndarray:
    """Foreground colours with the old background removed from semi-transparent pixels.

    Two blur-fusion passes (a wide one for the colour context, a narrow one
    for detail); ``radii`` defaults to ~6 % and ~0.5 % of the long edge.
    Where alpha is 1 the result equals the image. Returns float32 RGB in [0, 1].
    """
    img = np.asarray(rgb, dtype=np.float32)
    a = np.clip(np.asarray(alpha, dtype=np.float32), 0.0, 1.0)
    if radii is None:
        long_edge = max(a.shape)
        radii = (max(8, round(0.06 * long_edge)), max(2, round(0.005 * long_edge)))
    fg, bg = _blur_fusion(img, img, img, a, radii[0])
    fg, _ = _blur_fusion(img, fg, bg, a, radii[1])
    return fg.astype(np.float32)
