"""A synthetic light field with exact ground-truth disparity, rendered by ray casting.

Every surface is a region of the reference view with a disparity field over it: affine,
``d(x, y) = a + b x + c y`` (a 3D plane has affine disparity in a light field), or that plus a
curved or creased bump (a spherical cap, a pyramid). View (r, c) at offset
(u, v) = (c - c0, r - r0) sees at pixel (x', y') the reference point (x, y) with
``x' = x - d(x, y) u`` and ``y' = y - d(x, y) v`` (HCI sign); for an affine surface this is a
2x2 linear system solved in closed form, for a bump a fixed-point iteration that contracts
because the surface is not too steep for the view (|grad d| |(u, v)| < 0.8), solved to 1e-9 px.
Among the surfaces whose support contains the solution the nearest (largest disparity) wins, and
its procedural texture is evaluated at (x, y) (a glossy surface adds a highlight field that
moves with the view: it is not Lambertian, the ground truth stays the surface's). Pixels at
occlusion edges are box-filtered by supersampling (elsewhere the textures are smooth at the
pixel scale and the pixel centre is sampled). The ground truth is the front-most disparity at
the reference view's pixel centres, so it is exact, also on slanted and curved surfaces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffdepth.types import LightField

_KINDS = {"plane": 0, "rect": 4, "disc": 3, "strip": 5, "wedge": 6, "dome": 4, "pyramid": 4}
_BUMPS = ("dome", "pyramid")  # kinds whose disparity is not affine (solved by iteration)
_DOME_SPHERE = 1.25  # a dome is a cap of a sphere this many times its base radius
_MAX_CONTRACTION = 0.8  # |grad d| |(u, v)| must stay below this for a bump


@dataclass(frozen=True)
class Surface:
    """One scene surface, in reference-view pixel coordinates (x = column, y = row).

    kind:      "plane" (covers everything), "rect", "disc", "strip", "wedge", "dome", "pyramid"
    disparity: (a, b, c) with d(x, y) = a + b x + c y, px per view step (HCI sign); a dome or a
               pyramid adds its bump to it
    shape:     rect (x0, y0, x1, y1); disc (cx, cy, radius); strip (x0, y0, x1, y1, half_width),
               a band of the given half width around the segment (x0, y0)-(x1, y1); wedge
               (x0, y0, x1, y1, half0, half1), a band whose half width goes linearly from half0
               at (x0, y0) to half1 at (x1, y1); dome (cx, cy, radius, height), a disc carrying
               a spherical cap (sphere radius 1.25 x radius) that adds ``height`` at the centre
               and 0 at the rim (height < 0: a bowl); pyramid (cx, cy, half, height), a square
               of half side ``half`` carrying a four-sided pyramid of that height; plane ()
    contrast:  texture contrast, 1 for a richly textured surface, near 0 for a nearly uniform one
    color:     base colour (RGB in 0..1); None: drawn from the seed
    stripes:   (period px, angle deg): instead of the mixed texture a single sinusoid of that
               period varying along the angle's direction (0: along x), amplitude 0.3 x contrast;
               None: the mixed texture
    gloss:     (strength, shift): white highlights added to the texture, strength up to
               ``strength``, that slide over the surface by ``shift * (u, v)`` px in view (u, v)
               (a reflection: not Lambertian; the ground truth stays the surface's); None: matte
    """

    kind: str
    disparity: tuple[float, float, float]
    shape: tuple[float, ...] = ()
    contrast: float = 1.0
    color: tuple[float, float, float] | None = None
    stripes: tuple[float, float] | None = None
    gloss: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"Surface kind must be one of {sorted(_KINDS)}, got {self.kind!r}")
        if len(self.shape) != _KINDS[self.kind]:
            raise ValueError(
                f"Surface {self.kind!r} needs {_KINDS[self.kind]} shape numbers, got {self.shape}"
            )
        if len(self.disparity) != 3:
            raise ValueError(f"Surface disparity must be (a, b, c), got {self.disparity}")
        if self.kind in ("disc", "dome", "pyramid") and self.shape[2] <= 0:
            raise ValueError(f"Surface {self.kind!r} needs a positive size, got {self.shape}")
        if self.color is not None and len(self.color) != 3:
            raise ValueError(f"Surface color must be (r, g, b), got {self.color}")
        if self.stripes is not None and (len(self.stripes) != 2 or self.stripes[0] <= 0):
            raise ValueError(f"Surface stripes must be (period > 0, angle), got {self.stripes}")
        if self.gloss is not None and len(self.gloss) != 2:
            raise ValueError(f"Surface gloss must be (strength, shift), got {self.gloss}")

    def disparity_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """d(x, y): a + b x + c y, plus the bump of a dome or a pyramid (which is 0 outside
        its support, so the field is continuous everywhere)."""
        a, b, c = self.disparity
        d = a + b * x + c * y
        if self.kind == "dome":
            cx, cy, radius, height = self.shape
            big = _DOME_SPHERE * radius
            rim = np.sqrt(big * big - radius * radius)
            r2 = np.minimum((x - cx) ** 2 + (y - cy) ** 2, radius * radius)
            d = d + height * (np.sqrt(big * big - r2) - rim) / (big - rim)
        elif self.kind == "pyramid":
            cx, cy, half, height = self.shape
            cheb = np.maximum(np.abs(x - cx), np.abs(y - cy))
            d = d + height * np.maximum(0.0, 1.0 - cheb / half)
        return d

    def slope(self) -> float:
        """An upper bound of |grad d| over the plane."""
        _, b, c = self.disparity
        bump = 0.0
        if self.kind == "dome":
            _, _, radius, height = self.shape
            big = _DOME_SPHERE * radius
            rim = np.sqrt(big * big - radius * radius)
            bump = abs(height) * radius / (rim * (big - rim))  # steepest at the rim
        elif self.kind == "pyramid":
            bump = abs(self.shape[3]) / self.shape[2]
        return float(np.hypot(b, c) + bump)

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """bool: (x, y) lies in the surface's support (broadcasts x against y)."""
        if self.kind == "plane":
            return np.ones(np.broadcast_shapes(np.shape(x), np.shape(y)), dtype=bool)
        if self.kind == "rect":
            x0, y0, x1, y1 = self.shape
            return ((x >= x0) & (x <= x1)) & ((y >= y0) & (y <= y1))
        if self.kind in ("disc", "dome"):
            cx, cy, radius = self.shape[:3]
            return (x - cx) ** 2 + (y - cy) ** 2 <= radius * radius
        if self.kind == "pyramid":
            cx, cy, half, _ = self.shape
            return (np.abs(x - cx) <= half) & (np.abs(y - cy) <= half)
        if self.kind == "strip":
            x0, y0, x1, y1, half0 = self.shape
            half1 = half0
        else:
            x0, y0, x1, y1, half0, half1 = self.shape
        dx, dy = x1 - x0, y1 - y0
        length = np.hypot(dx, dy)
        tx, ty = dx / length, dy / length
        along = (x - x0) * tx + (y - y0) * ty
        across = (x - x0) * ty - (y - y0) * tx
        half = half0 + (half1 - half0) * (along / length) if half1 != half0 else half0
        return (np.abs(across) <= half) & (along >= 0) & (along <= length)

    def bounds(self) -> tuple[float, float, float, float] | None:
        """(x0, y0, x1, y1) enclosing the support in the reference view; None for a plane."""
        if self.kind == "plane":
            return None
        if self.kind == "rect":
            return self.shape
        if self.kind in ("disc", "dome", "pyramid"):
            cx, cy, r = self.shape[:3]
            return (cx - r, cy - r, cx + r, cy + r)
        x0, y0, x1, y1 = self.shape[:4]
        half = max(self.shape[4:])
        return (min(x0, x1) - half, min(y0, y1) - half, max(x0, x1) + half, max(y0, y1) + half)

    def view_bounds(self, u: float, v: float) -> tuple[float, float, float, float] | None:
        """(x0, y0, x1, y1) enclosing where view (u, v) sees the support; None for a plane."""
        box = self.bounds()
        if box is None:
            return None
        x0, y0, x1, y1 = box
        a, b, c = self.disparity
        affine = a + b * np.array([x0, x1, x0, x1]) + c * np.array([y0, y0, y1, y1])
        lo, hi = float(affine.min()), float(affine.max())
        if self.kind in _BUMPS:  # the bump lies between 0 and its height
            height = self.shape[3]
            lo, hi = lo + min(0.0, height), hi + max(0.0, height)
        du = (lo * u, hi * u)
        dv = (lo * v, hi * v)
        pad = 0.5
        return (x0 - max(du) - pad, y0 - max(dv) - pad, x1 - min(du) + pad, y1 - min(dv) + pad)


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
    """Continuous procedural colour texture of one surface: base colour, a few oriented
    sinusoids and smooth value noise (C1 interpolation of a random lattice); or a single
    sinusoid (stripes); plus, on a glossy surface, highlights that move with the view."""

    def __init__(self, rng: np.random.Generator, surface: Surface, extent: tuple[float, ...]):
        contrast = surface.contrast
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
        self.lattice = self._lattice(rng, self.cell, extent)
        self.noise_color = rng.uniform(0.5, 1.0, 3) * rng.choice([-1.0, 1.0], 3) * 0.12 * contrast
        if surface.color is not None:
            self.base = np.asarray(surface.color, dtype=np.float64)
        if surface.stripes is not None:
            period, degrees = surface.stripes
            theta = np.deg2rad(degrees)
            self.freq = np.array([[np.cos(theta), np.sin(theta)]]) * (2 * np.pi / period)
            self.phase = rng.uniform(0.0, 2 * np.pi, 1)
            self.wave_color = rng.uniform(0.6, 1.0, (1, 3)) * 0.3 * contrast
            self.noise_color = np.zeros(3)
        self.gloss = surface.gloss
        if self.gloss is not None:
            self.gloss_cell = 11.0
            self.gloss_lattice = self._lattice(rng, self.gloss_cell, extent)

    @staticmethod
    def _lattice(rng: np.random.Generator, cell: float, extent: tuple[float, ...]) -> np.ndarray:
        x_lo, y_lo, x_hi, y_hi = extent
        nx = int(np.ceil((x_hi - x_lo) / cell)) + 2
        ny = int(np.ceil((y_hi - y_lo) / cell)) + 2
        return rng.uniform(-1.0, 1.0, (ny, nx))

    def _noise(
        self, x: np.ndarray, y: np.ndarray, lattice: np.ndarray | None = None, cell: float = 0.0
    ) -> np.ndarray:
        if lattice is None:
            lattice, cell = self.lattice, self.cell
        ny, nx = lattice.shape
        gx = np.clip((x - self.origin[0]) * (1.0 / cell), 0.0, nx - 1.001)
        gy = np.clip((y - self.origin[1]) * (1.0 / cell), 0.0, ny - 1.001)
        ix, iy = gx.astype(np.intp), gy.astype(np.intp)
        fx, fy = gx - ix, gy - iy
        sx, sy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
        flat = lattice.ravel()
        k = iy * nx + ix
        v00, v01 = flat[k], flat[k + 1]
        v10, v11 = flat[k + nx], flat[k + nx + 1]
        top = v00 + sx * (v01 - v00)
        bottom = v10 + sx * (v11 - v10)
        return top + sy * (bottom - top)

    def __call__(self, x: np.ndarray, y: np.ndarray, u: float = 0.0, v: float = 0.0) -> np.ndarray:
        """Colour [N, 3] at reference coordinates x, y [N], seen from view (u, v)."""
        fields = np.empty((len(x), len(self.phase) + 1))
        for j, (f, p) in enumerate(zip(self.freq, self.phase)):
            np.sin(f[0] * x + f[1] * y + p, out=fields[:, j])
        fields[:, -1] = self._noise(x, y)
        mix = np.concatenate([self.wave_color, self.noise_color[None, :]], axis=0)  # [K+1, 3]
        colour = fields @ mix + self.base
        if self.gloss is not None:
            strength, shift = self.gloss
            n = self._noise(x + shift * u, y + shift * v, self.gloss_lattice, self.gloss_cell)
            spot = np.clip((n - 0.45) / 0.4, 0.0, 1.0)  # sparse blobs where the noise peaks
            colour += (strength * spot * spot)[:, None]
        return colour


def _hit(
    surf: Surface, xt: np.ndarray, yt: np.ndarray, u: float, v: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where the rays of view (u, v) through the targets (xt, yt) meet the surface's disparity
    field (extended beyond the support): reference coordinates x, y and the disparity there."""
    a, b, c = surf.disparity
    det = 1.0 - b * u - c * v
    # Solve x' = x - d u, y' = y - d v with d = a + b x + c y (closed form).
    x = ((1 - c * v) * xt + a * u) / det
    if c * u != 0:
        x = x + (c * u / det) * yt
    y = ((1 - b * u) * yt + a * v) / det
    if b * v != 0:
        y = y + (b * v / det) * xt
    if surf.kind in _BUMPS and (u != 0 or v != 0):
        # x = x' + d(x, y) u contracts (checked by the caller): iterate from the affine hit.
        x, y = np.broadcast_arrays(x, y)
        for _ in range(200):
            d = surf.disparity_at(x, y)
            x_new, y_new = xt + d * u, yt + d * v
            step = max(np.abs(x_new - x).max(initial=0.0), np.abs(y_new - y).max(initial=0.0))
            x, y = x_new, y_new
            if step < 1e-9:
                break
        else:
            raise RuntimeError(f"ray casting of a {surf.kind} did not converge")
    return x, y, surf.disparity_at(x, y)


def _check_steepness(i: int, surf: Surface, u: float, v: float) -> None:
    _, b, c = surf.disparity
    det = 1.0 - b * u - c * v
    if det <= 0.2:
        raise ValueError(
            f"surface {i} ({surf.kind}) is too steep for view offset ({u}, {v}): "
            f"1 - b u - c v = {det:.3f}"
        )
    if surf.kind in _BUMPS and surf.slope() * np.hypot(u, v) >= _MAX_CONTRACTION:
        raise ValueError(
            f"surface {i} ({surf.kind}) is too steep for view offset ({u}, {v}): "
            f"|grad d| {surf.slope():.3f} x |(u, v)| {np.hypot(u, v):.2f} >= {_MAX_CONTRACTION}"
        )


def _front_most(
    surfaces: list[Surface], xt: np.ndarray, yt: np.ndarray, u: float, v: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cast the rays of view (u, v) through target points (xt, yt): either a grid (columns
    [1, W] against rows [H, 1], each increasing) or two flat lists [N].

    Returns the index of the front-most surface, its disparity and the reference coordinates
    (x, y) of the hit, each of the broadcast shape. Each surface is cast only where the view
    can see its support.
    """
    grid = xt.ndim == 2 and yt.ndim == 2 and xt.shape[0] == 1 and yt.shape[1] == 1
    if not grid and (xt.ndim != 1 or xt.shape != yt.shape):
        raise ValueError("_front_most: targets must be a grid [1, W] x [H, 1] or two lists [N]")
    shape = np.broadcast_shapes(xt.shape, yt.shape)
    best_d = np.full(shape, -np.inf)
    best_i = np.full(shape, -1, dtype=np.intp)
    best_x = np.zeros(shape)
    best_y = np.zeros(shape)
    for i, surf in enumerate(surfaces):
        _check_steepness(i, surf, u, v)
        box = surf.view_bounds(u, v)
        if box is None:
            sel = (slice(None), slice(None)) if grid else slice(None)
        elif grid:
            cols = np.flatnonzero((xt[0] >= box[0]) & (xt[0] <= box[2]))
            rows = np.flatnonzero((yt[:, 0] >= box[1]) & (yt[:, 0] <= box[3]))
            if len(cols) == 0 or len(rows) == 0:
                continue
            sel = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        else:
            sel = np.flatnonzero((xt >= box[0]) & (xt <= box[2]) & (yt >= box[1]) & (yt <= box[3]))
            if len(sel) == 0:
                continue
        xs, ys = (xt[:, sel[1]], yt[sel[0], :]) if grid else (xt[sel], yt[sel])
        x, y, d = _hit(surf, xs, ys, u, v)
        better = surf.contains(x, y) & (d > best_d[sel])
        best_d[sel] = np.where(better, d, best_d[sel])
        best_i[sel] = np.where(better, i, best_i[sel])
        best_x[sel] = np.where(better, x, best_x[sel])
        best_y[sel] = np.where(better, y, best_y[sel])
    return best_i, best_d, best_x, best_y


def _shade(
    textures: list[_Texture],
    idx: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    u: float = 0.0,
    v: float = 0.0,
) -> np.ndarray:
    """Colour [..., 3] of the hits: texture idx evaluated at reference coordinates (x, y), seen
    from view (u, v)."""
    flat = idx.ravel()
    order = np.argsort(flat, kind="stable")  # pixels grouped by surface
    starts = np.searchsorted(flat[order], np.arange(len(textures) + 1))
    xf, yf = x.ravel(), y.ravel()
    colour = np.empty((flat.size, 3))
    for i, tex in enumerate(textures):
        sel = order[starts[i] : starts[i + 1]]
        if len(sel):
            colour[sel] = tex(xf[sel], yf[sel], u, v)
    return colour.reshape(idx.shape + (3,))


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
    rows: np.ndarray,
    cols: np.ndarray,
    u: float,
    v: float,
    supersample: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Colour [H, W, 3] of view (u, v) at the given pixel rows and columns (increasing), and
    the front-most disparity at those pixel centres."""
    # One pixel more on each side, so that the edge test sees every neighbour of the window.
    cols = np.concatenate([[cols[0] - 1], cols, [cols[-1] + 1]]).astype(np.float64)[None, :]
    rows = np.concatenate([[rows[0] - 1], rows, [rows[-1] + 1]]).astype(np.float64)[:, None]
    idx, disp, hx, hy = _front_most(surfaces, cols, rows, u, v)
    edge = _edge_pixels(idx)[1:-1, 1:-1]
    idx, disp, hx, hy = (a[1:-1, 1:-1] for a in (idx, disp, hx, hy))
    cols, rows = cols[:, 1:-1], rows[1:-1]
    colour = _shade(textures, idx, hx, hy, u, v)
    if supersample > 1:
        # Occlusion edges alias; the textures are smooth at the pixel scale, so only pixels
        # whose neighbourhood meets an edge need the S x S box filter.
        ey, ex = np.nonzero(edge)
        sub = (np.arange(supersample) + 0.5) / supersample - 0.5
        sx = np.tile(sub, supersample)  # [S*S]
        sy = np.repeat(sub, supersample)
        xt = (cols[0, ex][:, None] + sx[None, :]).ravel()
        yt = (rows[ey, 0][:, None] + sy[None, :]).ravel()
        s_idx, _, s_x, s_y = _front_most(surfaces, xt, yt, u, v)
        s_col = _shade(textures, s_idx, s_x, s_y, u, v).reshape(len(ex), supersample**2, 3)
        colour[ey, ex] = s_col.mean(axis=1)
    return colour, disp


def make_lightfield(
    height: int = 128,
    width: int = 176,
    grid: tuple[int, int] = (9, 9),
    seed: int = 0,
    surfaces: list[Surface] | None = None,
    supersample: int = 3,
    noise: float | np.ndarray = 0.0,
    ref: tuple[int, int] | None = None,
    window: tuple[int, int, int, int] | None = None,
    name: str | None = None,
) -> LightField:
    """Render a synthetic light field with exact ground-truth disparity.

    height, width: view size in pixels (non-square by default)
    grid:          (rows, cols) of views
    seed:          seeds the textures (and the image noise); the geometry is fixed
    surfaces:      the scene, default :func:`default_scene` for this size; the first surface
                   should be a "plane" so that every ray hits something
    supersample:   S, pixels at occlusion edges are averaged over S x S samples (box filter)
    noise:         standard deviation of Gaussian noise added to the views (0 = none): one
                   number, or a map [h, w] of the rendered window (noise that varies over it)
    ref:           reference view (r0, c0), default the centre
    window:        (y0, x0, h, w): render only these rows y0..y0+h-1 and columns x0..x0+w-1
                   of every view of the height x width light field (the same scene and
                   textures, a crop); default the whole view
    name:          the light field's name, default synthetic-WxH-seedS

    Returns a LightField with views float32 [U, V, h, w, 3] in 0..1, gt float32 [h, w] (exact
    front-most disparity at the reference pixel centres) and disp_range covering it.
    """
    rows, cols = int(grid[0]), int(grid[1])
    if rows < 1 or cols < 1 or height < 1 or width < 1 or supersample < 1:
        raise ValueError(
            f"make_lightfield: need positive sizes, got grid {grid}, {height} x {width}, "
            f"supersample {supersample}"
        )
    if window is None:
        window = (0, 0, height, width)
    y0, x0, wh, ww = (int(k) for k in window)
    if wh < 1 or ww < 1 or y0 < 0 or x0 < 0 or y0 + wh > height or x0 + ww > width:
        raise ValueError(
            f"make_lightfield: window {window} (y0, x0, h, w) is not inside {height} x {width}"
        )
    if ref is None:
        ref = (rows // 2, cols // 2)
    r0, c0 = int(ref[0]), int(ref[1])
    if not (0 <= r0 < rows and 0 <= c0 < cols):
        raise ValueError(f"make_lightfield: ref {ref} outside the {rows} x {cols} grid")
    noise = np.asarray(noise, dtype=np.float64)
    if noise.ndim not in (0, 2) or (noise.ndim == 2 and noise.shape != (wh, ww)):
        raise ValueError(
            f"make_lightfield: noise must be a number or a [{wh}, {ww}] map, got {noise.shape}"
        )
    if surfaces is None:
        surfaces = default_scene(height, width)
    if not surfaces:
        raise ValueError("make_lightfield: the scene has no surfaces")
    # The noise lattices cover the image plus a margin (clamped beyond it), independent of the
    # grid and the window, so a scene looks the same whatever views or crop are rendered.
    margin = 32.0 + 0.25 * max(height, width)
    extent = (-margin, -margin, width + margin, height + margin)
    rng = np.random.default_rng(seed)
    textures = [_Texture(rng, s, extent) for s in surfaces]

    pix_rows = np.arange(y0, y0 + wh)
    pix_cols = np.arange(x0, x0 + ww)
    views = np.empty((rows, cols, wh, ww, 3), dtype=np.float32)
    gt = None
    for r in range(rows):
        for c in range(cols):
            colour, disp = _render_view(
                surfaces, textures, pix_rows, pix_cols, float(c - c0), float(r - r0), supersample
            )
            views[r, c] = colour
            if (r, c) == (r0, c0):
                gt = disp
    if noise.ndim == 0 and noise > 0:
        views += rng.normal(0.0, float(noise), views.shape).astype(np.float32)
    elif noise.ndim == 2:
        views += (rng.standard_normal(views.shape) * noise[:, :, None]).astype(np.float32)
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
        name=name or f"synthetic-{width}x{height}-seed{seed}",
        paths=None,
    )
