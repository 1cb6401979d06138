"""Pictures of results: colour-mapped maps with colour bars, error maps, loss curves, point
overlays.

A map picture holds the map's pixels exactly as `colorize` maps them (enlarged by a whole
factor when the map is small, so that its scale stays readable), and beside them a colour bar
with the quantity, its unit and its range. Every writer goes through a temporary name and a
rename, so an interrupted run leaves either the whole picture or none.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image

from diffdepth.io.atomic import atomic_write

matplotlib.use("Agg")

# Quantities and units as the pictures and the report name them.
DISPARITY_LABEL = "disparity (px per view step)"
DEPTH_LABEL = "depth (scene units)"
DISPARITY_ERROR_LABEL = "disparity error (px per view step)"
CONFIDENCE_LABEL = "confidence (0 to 1)"
DISPARITY_CMAP = "viridis"
DEPTH_CMAP = "magma_r"  # near is bright
ERROR_CMAP = "RdBu_r"  # diverging: red too near (estimate above the truth), blue too far
MIN_MAP_HEIGHT = 240  # px: smaller maps are enlarged by a whole factor beside their bar


def _png_bytes(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def _save_png(path: str | Path, rgb: np.ndarray) -> None:
    with atomic_write(path) as f:
        f.write(_png_bytes(rgb))


def colorize(
    arr: np.ndarray, vmin: float | None = None, vmax: float | None = None, cmap: str = "viridis"
) -> np.ndarray:
    """float [H, W] -> uint8 [H, W, 3]; non-finite pixels are black. Limits default to the
    1st and 99th percentiles of the finite values."""
    arr = np.asarray(arr, dtype=np.float64)
    finite = np.isfinite(arr)
    vmin, vmax = limits(arr, vmin, vmax)
    span = max(vmax - vmin, 1e-12)
    norm = np.clip((np.where(finite, arr, vmin) - vmin) / span, 0.0, 1.0)
    rgb = (matplotlib.colormaps[cmap](norm)[..., :3] * 255).round().astype(np.uint8)
    rgb[~finite] = 0
    return rgb


def map_range(*maps: np.ndarray | None, percentiles: tuple[float, float] = (1, 99)):
    """(lo, hi): the percentiles of the finite values of all ``maps`` together (None entries
    are skipped), so that maps shown side by side share one colour scale; (0, 1) without any
    finite value."""
    vals = [np.asarray(m, dtype=np.float64) for m in maps if m is not None]
    vals = np.concatenate([v[np.isfinite(v)].ravel() for v in vals]) if vals else np.zeros(0)
    if not vals.size:
        return 0.0, 1.0
    lo, hi = np.percentile(vals, percentiles)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return float(lo), float(hi)


def limits(arr: np.ndarray, vmin: float | None, vmax: float | None) -> tuple[float, float]:
    """(vmin, vmax) with each one not given taken from `map_range` of ``arr``."""
    if vmin is None or vmax is None:
        lo, hi = map_range(arr)
        vmin = lo if vmin is None else vmin
        vmax = hi if vmax is None else vmax
    return float(vmin), float(vmax)


def nice_ceil(x: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is >= x (> 0)."""
    if not x > 0 or not math.isfinite(x):
        return 1.0
    p = 10.0 ** math.floor(math.log10(x))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * p >= x * (1 - 1e-12):
            return m * p
    return 10.0 * p


def error_limit(*errors: np.ndarray | None, percentile: float = 95.0) -> float:
    """Half-range of a symmetric error scale shared by ``errors``: the ``percentile`` of their
    finite |values|, rounded up by `nice_ceil`."""
    vals = [np.abs(np.asarray(e, dtype=np.float64)) for e in errors if e is not None]
    vals = np.concatenate([v[np.isfinite(v)].ravel() for v in vals]) if vals else np.zeros(0)
    return nice_ceil(float(np.percentile(vals, percentile))) if vals.size else 1.0


def _figure_rgb(fig) -> np.ndarray:
    import matplotlib.pyplot as plt

    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return rgb


def colorbar_rgb(
    height: int,
    vmin: float,
    vmax: float,
    cmap: str,
    label: str,
    extend: str = "neither",
    width: int = 110,
) -> np.ndarray:
    """A vertical colour bar ``height`` px tall, ticks and ``label`` on its right: uint8
    [height, width, 3]. extend: 'neither', 'both', 'min' or 'max' (values beyond the range)."""
    import matplotlib.pyplot as plt

    dpi = 100
    fig = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    pad = min(12, height // 10)
    cax = fig.add_axes([8 / width, pad / height, 14 / width, 1 - 2 * pad / height])
    sm = matplotlib.cm.ScalarMappable(
        norm=matplotlib.colors.Normalize(vmin, vmax), cmap=matplotlib.colormaps[cmap]
    )
    bar = fig.colorbar(sm, cax=cax, extend=extend)
    bar.ax.tick_params(labelsize=8, length=3, pad=2)
    bar.set_label(label, fontsize=8, labelpad=3)
    return _figure_rgb(fig)


def legend_rgb(height: int, entries: list[tuple[tuple[float, float, float], str]], width=110):
    """A column of coloured squares with their meaning (categorical maps): uint8
    [height, width, 3]."""
    import matplotlib.pyplot as plt

    dpi = 100
    fig = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    for i, (color, text) in enumerate(entries):
        y = 1 - (14 + 34 * i) / height
        fig.patches.append(
            matplotlib.patches.Rectangle(
                (8 / width, y - 10 / height),
                12 / width,
                12 / height,
                transform=fig.transFigure,
                facecolor=color,
                edgecolor="k",
                lw=0.5,
            )
        )
        fig.text(26 / width, y - 4 / height, text, fontsize=7.5, va="center", wrap=True)
    return _figure_rgb(fig)


def enlarge(rgb: np.ndarray, min_height: int = MIN_MAP_HEIGHT) -> np.ndarray:
    """rgb enlarged by the smallest whole factor that makes it at least ``min_height`` tall
    (nearest neighbour: every map pixel becomes a block of equal pixels)."""
    k = max(1, math.ceil(min_height / max(rgb.shape[0], 1)))
    return rgb if k == 1 else rgb.repeat(k, axis=0).repeat(k, axis=1)


def beside(picture: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The picture with its scale (colour bar or legend, same height) on a white strip to its
    right."""
    h = picture.shape[0]
    strip = np.full((h, scale.shape[1], 3), 255, np.uint8)
    strip[: min(h, scale.shape[0])] = scale[:h]
    return np.concatenate([picture, strip], axis=1)


def save_image_png(path, image: np.ndarray) -> None:
    """An RGB image float [H, W, 3] in 0..1 as an 8-bit PNG (the reference view of a result)."""
    _save_png(path, (np.clip(np.asarray(image, np.float64), 0, 1) * 255).round().astype(np.uint8))


def save_mask_png(path, mask: np.ndarray) -> None:
    """A bool mask as an 8-bit grey PNG: 255 valid, 0 not."""
    _save_png(path, np.where(np.asarray(mask, bool), 255, 0).astype(np.uint8))


def save_map_png(
    path,
    arr,
    vmin=None,
    vmax=None,
    cmap: str = DISPARITY_CMAP,
    label: str = DISPARITY_LABEL,
) -> None:
    """A colour-mapped disparity, depth or confidence map with its colour bar (``label``: the
    quantity and its unit). Limits default to the 1st and 99th percentiles of the map."""
    vmin, vmax = limits(arr, vmin, vmax)
    rgb = enlarge(colorize(arr, vmin, vmax, cmap))
    _save_png(path, beside(rgb, colorbar_rgb(rgb.shape[0], vmin, vmax, cmap, label, "both")))


def save_signed_error_png(
    path,
    est: np.ndarray,
    gt: np.ndarray,
    limit: float | None = None,
    label: str = DISPARITY_ERROR_LABEL,
) -> None:
    """est - gt in a diverging colour map on the symmetric range +-limit (default:
    `error_limit` of the error) with its colour bar (red: estimate above the truth, i.e. too
    near for disparity; blue: below); pixels without ground truth are black."""
    err = np.asarray(est, dtype=np.float64) - np.asarray(gt, dtype=np.float64)
    limit = error_limit(err) if limit is None else float(limit)
    rgb = enlarge(colorize(err, -limit, limit, ERROR_CMAP))
    bar = colorbar_rgb(rgb.shape[0], -limit, limit, ERROR_CMAP, label, "both")
    _save_png(path, beside(rgb, bar))


BADPIX_COLOR = (1.0, 0.1, 0.1)


def badpix_rgb(bad: np.ndarray, image: np.ndarray | None = None) -> np.ndarray:
    """Bad pixels in red over a dimmed grey reference image (or black): uint8 [H, W, 3]."""
    h, w = bad.shape
    base = np.zeros((h, w, 3))
    if image is not None:
        base[:] = np.asarray(image, dtype=np.float64).mean(axis=2, keepdims=True) * 0.6
    base[bad] = BADPIX_COLOR
    return (np.clip(base, 0, 1) * 255).round().astype(np.uint8)


def save_badpix_png(
    path,
    bad: np.ndarray,
    image: np.ndarray | None = None,
    threshold: float = 0.07,
    percent: float | None = None,
    unit: str = "px",
) -> None:
    """Bad pixels in red over a dimmed grey reference image (or black), with a legend that
    gives the threshold and, when given, the BadPix figure ``percent`` of the scorer."""
    rgb = enlarge(badpix_rgb(bad, image))
    text = f"|error| > {threshold:g} {unit}"
    if percent is not None:
        text += f"\nBadPix {percent:.1f} %"
    _save_png(path, beside(rgb, legend_rgb(rgb.shape[0], [(BADPIX_COLOR, text)])))


def save_loss_png(path, losses, groups=None, title: str = "loss") -> None:
    """Loss per iteration, phases shaded by parameter group."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=100)
    it = np.arange(1, len(losses) + 1)
    ax.plot(it, losses, lw=1.2, color="k")
    if groups is not None and len(groups):
        colors = {"Q": "#cfe2f3", "value": "#d9ead3", "R": "#fff2cc", "xy": "#f4cccc"}
        start = 0
        for i in range(1, len(groups) + 1):
            if i == len(groups) or groups[i] != groups[start]:
                ax.axvspan(start + 0.5, i + 0.5, color=colors.get(groups[start], "#eee"), lw=0)
                start = i
        handles = [matplotlib.patches.Patch(color=c, label=g) for g, c in colors.items()]
        ax.legend(handles=handles, loc="upper right", fontsize=8, ncol=4)
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    with atomic_write(path) as f:
        f.write(buf.getvalue())


def points_rgb(
    image: np.ndarray,
    xy: np.ndarray,
    value: np.ndarray,
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = DISPARITY_CMAP,
    radius: int = 0,
) -> np.ndarray:
    """Points drawn as (2 radius + 1)-pixel squares coloured by their value over a dimmed grey
    reference view: uint8 [H, W, 3]."""
    h, w = image.shape[:2]
    base = np.asarray(image, dtype=np.float64).mean(axis=2, keepdims=True).repeat(3, 2) * 0.5
    rgb = (np.clip(base, 0, 1) * 255).round().astype(np.uint8)
    if len(xy):
        cols = np.round(xy[:, 0]).astype(int)
        rows = np.round(xy[:, 1]).astype(int)
        colors = colorize(np.asarray(value, dtype=np.float64)[None, :], vmin, vmax, cmap)[0]
        for dy in range(-radius, radius + 1):
            for dx in range(-radius, radius + 1):
                r, c = rows + dy, cols + dx
                ok = (r >= 0) & (r < h) & (c >= 0) & (c < w)
                rgb[r[ok], c[ok]] = colors[ok]
    return rgb


def save_points_png(
    path,
    image: np.ndarray,
    xy: np.ndarray,
    value: np.ndarray,
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = DISPARITY_CMAP,
    label: str = DISPARITY_LABEL,
) -> None:
    """Points drawn as single pixels coloured by their value over a dimmed reference view,
    with the colour bar of their values."""
    vmin, vmax = limits(np.asarray(value), vmin, vmax)
    rgb = enlarge(points_rgb(image, xy, value, vmin, vmax, cmap))
    _save_png(path, beside(rgb, colorbar_rgb(rgb.shape[0], vmin, vmax, cmap, label, "both")))
