"""A synthetic light field with exact ground-truth disparity, rendered by ray casting.

Every surface is a region of the reference view with an affine disparity
``d(x, y) = a + b x + c y`` (a 3D plane has affine disparity in a light field). View (r, c) at
offset (u, v) = (c - c0, r - r0) sees at pixel (x', y') the reference point (x, y) with
``x' = x - d(x, y) u`` and ``y' = y - d(x, y) v`` (HCI sign); for one surface this is a 2x2
linear system solved in closed form. Among the surfaces whose support contains the solution the
nearest (largest disparity) wins, and its procedural texture is evaluated at (x, y). Pixels at
occlusion edges are box-filtered by supersampling (elsewhere the textures are smooth at the
pixel scale and the pixel centre is sampled). The ground truth is the front-most disparity at
the reference view's pixel centres, so it is exact, also on slanted surfaces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffdepth.io.lightfield import LightField

_KINDS = {"plane": 0, "rect": 4, "disc": 3, "strip": 5}


@dataclass(frozen=True)
class Surface:
    """One scene surface, in reference-view pixel coordinates (x = column, y = row).

    kind:      "plane" (covers everything), "rect", "disc" or "strip"
    disparity: (a, b, c) with d(x, y) = a + b x + c y, px per view step (HCI sign)
    shape:     rect (x0, y0, x1, y1); disc (cx, cy, radius); strip (x0, y0, x1, y1, half_width),
               a band of the given half width around the segment (x0, y0)-(x1, y1); plane ()
    contrast:  texture contrast, 1 for a richly textured surface, near 0 for a nearly uniform one
    """

    kind: str
    disparity: tuple[float, float, float]
    shape: tuple[float, ...] = ()
    contrast: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"Surface kind must be one of {sorted(_KINDS)}, got {self.kind!r}")
        if len(self.shape) != _KINDS[self.kind]:
            raise ValueError(
                f"Surface {self.kind!r} needs {_KINDS[self.kind]} shape numbers, got {self.shape}"
            )
        if len(self.disparity) != 3:
            raise ValueError(f"Surface disparity must be (a, b, c), got {self.disparity}")

    def disparity_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """d(x, y) = a + b x + c y."""
        a, b, c = self.disparity
        return a + b * x + c * y

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """bool: (x, y) lies in the surface's support (broadcasts x against y)."""
        if self.kind == "plane":
            return np.ones(np.broadcast_shapes(np.shape(x), np.shape(y)), dtype=bool)
        if self.kind == "rect":
            x0, y0, x1, y1 = self.shape
            return ((x >= x0) & (x <= x1)) & ((y >= y0) & (y <= y1))
        if self.kind == "disc":
            cx, cy, radius = self.shape
            return (x - cx) ** 2 + (y - cy) ** 2 <= radius * radius
        x0, y0, x1, y1, half = self.shape
        dx, dy = x1 - x0, y1 - y0
        length = np.hypot(dx, dy)
        tx, ty = dx / length, dy / length
        along = (x - x0) * tx + (y - y0) * ty
        across = (x - x0) * ty - (y - y0) * tx
        return (np.abs(across) <= half) & (along >= 0) & (along <= length)


def default_scene(height: int = 128, width: int = 176) -> list[Surface]:
    """Slanted background plane, a fronto-parallel rectangle, a nearly uniform fronto-parallel
    disc in front of it, and a slanted strip: disparities about -1.4..1.3 px per view step."""
    h, w, s = float(height), float(width), float(min(height, width))
    return [
        Surface("plane", (-1.4, 1.0 / w, 0.35 / h)),
        Surface("rect", (0.35, 0.0, 0.0), (0.10 * w, 0.14 * h, 0.50 * w, 0.62 * h)),
        Surface("disc", (1.3, 0.0, 0.0), (0.40 * w, 0.58 * h, 0.17 * s), contrast=0.04),
        Surface(
            "strip",
            (0.1, 0.0, 1.2 / h),
            (0.70 * w, 0.06 * h, 0.84 * w, 0.94 * h, 0.06 * w),
        ),
    ]


class _Texture:
    """Continuous procedural colour texture: base colour, a few oriented sinusoids and smooth
    value noise (C1 interpolation of a random lattice)."""

    def __init__(self, rng: np.random.Generator, contrast: float, extent: tuple[float, ...]):
        self.base = rng.uniform(0.35, 0.65, 3)
        k = 3
        period = rng.uniform(6.0, 22.0, k)
        angle = rng.uniform(0.0, np.pi, k)
        self.freq = np.stack([np.cos(angle), np.sin(angle)], axis=1) * (2 * np.pi / period)[:, None]
        self.phase = rng.uniform(0.0, 2 * np.pi, k)
        self.wave_color = rng.uniform(-1.0, 1.0, (k, 3)) * 0.08 * contrast
        self.cell = rng.uniform(5.0, 9.0)
        x_lo, y_lo, x_hi, y_hi = extent
        self.origin = (x_lo, y_lo)
        nx = int(np.ceil((x_hi - x_lo) / self.cell)) + 2
        ny = int(np.ceil((y_hi - y_lo) / self.cell)) + 2
        self.lattice = rng.uniform(-1.0, 1.0, (ny, nx))
        self.noise_color = rng.uniform(0.5, 1.0, 3) * rng.choice([-1.0, 1.0], 3) * 0.12 * contrast

    def _noise(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ny, nx = self.lattice.shape
        gx = np.clip((x - self.origin[0]) * (1.0 / self.cell), 0.0, nx - 1.001)
        gy = np.clip((y - self.origin[1]) * (1.0 / self.cell), 0.0, ny - 1.001)
        ix, iy = gx.astype(np.intp), gy.astype(np.intp)
        fx, fy = gx - ix, gy - iy
        sx, sy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
        flat = self.lattice.ravel()
        k = iy * nx + ix
        v00, v01 = flat[k], flat[k + 1]
        v10, v11 = flat[k + nx], flat[k + nx + 1]
        top = v00 + sx * (v01 - v00)
        bottom = v10 + sx * (v11 - v10)
        return top + sy * (bottom - top)

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Colour [N, 3] at reference coordinates x, y [N]."""
        fields = np.empty((len(x), len(self.phase) + 1))
        for j, (f, p) in enumerate(zip(self.freq, self.phase)):
            np.sin(f[0] * x + f[1] * y + p, out=fields[:, j])
        fields[:, -1] = self._noise(x, y)
        mix = np.concatenate([self.wave_color, self.noise_color[None, :]], axis=0)  # [K+1, 3]
        return fields @ mix + self.base


def _front_most(
    surfaces: list[Surface], xt: np.ndarray, yt: np.ndarray, u: float, v: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cast the rays of view (u, v) through target points (xt, yt) (arrays that broadcast,
    e.g. columns [1, W] against rows [H, 1], or two flat lists).

    Returns the index of the front-most surface, its disparity and the reference coordinates
    (x, y) of the hit, each of the broadcast shape.
    """
    shape = np.broadcast_shapes(xt.shape, yt.shape)
    best_d = np.full(shape, -np.inf)
    best_i = np.full(shape, -1, dtype=np.intp)
    best_x = np.zeros(shape)
    best_y = np.zeros(shape)
    for i, surf in enumerate(surfaces):
        a, b, c = surf.disparity
        det = 1.0 - b * u - c * v
        if det <= 0.2:
            raise ValueError(
                f"surface {i} ({surf.kind}) is too steep for view offset ({u}, {v}): "
                f"1 - b u - c v = {det:.3f}"
            )
        # Solve x' = x - d u, y' = y - d v with d = a + b x + c y (closed form).
        x = ((1 - c * v) * xt + a * u) / det
        if c * u != 0:
            x = x + (c * u / det) * yt
        y = ((1 - b * u) * yt + a * v) / det
        if b * v != 0:
            y = y + (b * v / det) * xt
        d = surf.disparity_at(x, y)
        better = surf.contains(x, y) & (d > best_d)
        best_d = np.where(better, d, best_d)
        best_i = np.where(better, i, best_i)
        best_x = np.where(better, x, best_x)
        best_y = np.where(better, y, best_y)
    return best_i, best_d, best_x, best_y


def _shade(textures: list[_Texture], idx: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Colour [..., 3] of the hits: texture idx evaluated at reference coordinates (x, y)."""
    colour = np.empty(idx.shape + (3,))
    for i, tex in enumerate(textures):
        sel = idx == i
        if sel.any():
            colour[sel] = tex(x[sel], y[sel])
    return colour


def _edge_pixels(idx: np.ndarray) -> np.ndarray:
    """bool [H, W]: the front-most surface differs somewhere in the pixel's 3x3 neighbourhood."""
    pad = np.pad(idx, 1, mode="edge")
    h, w = idx.shape
    edge = np.zeros(idx.shape, dtype=bool)
    for dy in range(3):
        for dx in range(3):
            edge |= pad[dy : dy + h, dx : dx + w] != idx
    return edge


def _render_view(
    surfaces: list[Surface],
    textures: list[_Texture],
    height: int,
    width: int,
    u: float,
    v: float,
    supersample: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Colour [H, W, 3] of view (u, v) and the front-most disparity at its pixel centres."""
    cols = np.arange(width, dtype=np.float64)[None, :]
    rows = np.arange(height, dtype=np.float64)[:, None]
    idx, disp, hx, hy = _front_most(surfaces, cols, rows, u, v)
    colour = _shade(textures, idx, hx, hy)
    if supersample > 1:
        # Occlusion edges alias; the textures are smooth at the pixel scale, so only pixels
        # whose neighbourhood meets an edge need the S x S box filter.
        ey, ex = np.nonzero(_edge_pixels(idx))
        sub = (np.arange(supersample) + 0.5) / supersample - 0.5
        sx = np.tile(sub, supersample)  # [S*S]
        sy = np.repeat(sub, supersample)
        xt = (ex[:, None] + sx[None, :]).ravel()
        yt = (ey[:, None] + sy[None, :]).ravel()
        s_idx, _, s_x, s_y = _front_most(surfaces, xt, yt, u, v)
        s_col = _shade(textures, s_idx, s_x, s_y).reshape(len(ex), supersample**2, 3)
        colour[ey, ex] = s_col.mean(axis=1)
    return colour, disp


def make_lightfield(
    height: int = 128,
    width: int = 176,
    grid: tuple[int, int] = (9, 9),
    seed: int = 0,
    surfaces: list[Surface] | None = None,
    supersample: int = 3,
    noise: float = 0.0,
    ref: tuple[int, int] | None = None,
) -> LightField:
    """Render a synthetic light field with exact ground-truth disparity.

    height, width: view size in pixels (non-square by default)
    grid:          (rows, cols) of views
    seed:          seeds the textures (and the image noise); the geometry is fixed
    surfaces:      the scene, default :func:`default_scene` for this size; the first surface
                   should be a "plane" so that every ray hits something
    supersample:   S, pixels at occlusion edges are averaged over S x S samples (box filter)
    noise:         standard deviation of Gaussian noise added to the views (0 = none)
    ref:           reference view (r0, c0), default the centre

    Returns a LightField with views float32 [U, V, H, W, 3] in 0..1, gt float32 [H, W] (exact
    front-most disparity at the reference pixel centres) and disp_range covering it.
    """
    rows, cols = int(grid[0]), int(grid[1])
    if rows < 1 or cols < 1 or height < 1 or width < 1 or supersample < 1:
        raise ValueError(
            f"make_lightfield: need positive sizes, got grid {grid}, {height} x {width}, "
            f"supersample {supersample}"
        )
    if ref is None:
        ref = (rows // 2, cols // 2)
    r0, c0 = int(ref[0]), int(ref[1])
    if not (0 <= r0 < rows and 0 <= c0 < cols):
        raise ValueError(f"make_lightfield: ref {ref} outside the {rows} x {cols} grid")
    if surfaces is None:
        surfaces = default_scene(height, width)
    if not surfaces:
        raise ValueError("make_lightfield: the scene has no surfaces")
    # The noise lattices cover the image plus a margin (clamped beyond it), independent of the
    # grid, so a scene looks the same whatever views are rendered.
    margin = 32.0 + 0.25 * max(height, width)
    extent = (-margin, -margin, width + margin, height + margin)
    rng = np.random.default_rng(seed)
    textures = [_Texture(rng, s.contrast, extent) for s in surfaces]

    views = np.empty((rows, cols, height, width, 3), dtype=np.float32)
    gt = None
    for r in range(rows):
        for c in range(cols):
            colour, disp = _render_view(
                surfaces, textures, height, width, float(c - c0), float(r - r0), supersample
            )
            views[r, c] = colour
            if (r, c) == (r0, c0):
                gt = disp
    if noise > 0:
        views += rng.normal(0.0, noise, views.shape).astype(np.float32)
    np.clip(views, 0.0, 1.0, out=views)
    if not np.all(np.isfinite(gt)):
        raise ValueError("make_lightfield: some reference pixels see no surface; add a plane")

    lo, hi = float(gt.min()), float(gt.max())
    disp_range = (round(np.floor(lo * 10) / 10 - 0.1, 6), round(np.ceil(hi * 10) / 10 + 0.1, 6))
    return LightField(
        views=views,
        ref=(r0, c0),
        gt=gt.astype(np.float32),
        disp_range=disp_range,
        name=f"synthetic-{width}x{height}-seed{seed}",
        paths=None,
    )
