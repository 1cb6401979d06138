"""Pictures of results: colour-mapped maps, error maps, loss curves, point overlays.

Every writer goes through a temporary name and a rename, so an interrupted run leaves either
the whole picture or none.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image

from diffdepth.io.atomic import atomic_write

matplotlib.use("Agg")


def _save_png(path: str | Path, rgb: np.ndarray) -> None:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    with atomic_write(path) as f:
        f.write(buf.getvalue())


def colorize(
    arr: np.ndarray, vmin: float | None = None, vmax: float | None = None, cmap: str = "viridis"
) -> np.ndarray:
    """float [H, W] -> uint8 [H, W, 3]; non-finite pixels are black. Limits default to the
    1st and 99th percentiles of the finite values."""
    arr = np.asarray(arr, dtype=np.float64)
    finite = np.isfinite(arr)
    if vmin is None or vmax is None:
        vals = arr[finite]
        lo, hi = np.percentile(vals, [1, 99]) if vals.size else (0.0, 1.0)
        vmin = lo if vmin is None else vmin
        vmax = hi if vmax is None else vmax
    span = max(vmax - vmin, 1e-12)
    norm = np.clip((np.where(finite, arr, vmin) - vmin) / span, 0.0, 1.0)
    rgb = (matplotlib.colormaps[cmap](norm)[..., :3] * 255).round().astype(np.uint8)
    rgb[~finite] = 0
    return rgb


def save_map_png(path, arr, vmin=None, vmax=None, cmap: str = "viridis") -> None:
    """A colour-mapped disparity or depth map."""
    _save_png(path, colorize(arr, vmin, vmax, cmap))


def save_signed_error_png(path, est: np.ndarray, gt: np.ndarray, limit: float = 0.1) -> None:
    """est - gt in a diverging colour map clipped at +-limit (blue: too far, red: too near);
    pixels without ground truth are black."""
    err = np.asarray(est, dtype=np.float64) - np.asarray(gt, dtype=np.float64)
    _save_png(path, colorize(err, -limit, limit, "RdBu_r"))


def save_badpix_png(path, bad: np.ndarray, image: np.ndarray | None = None) -> None:
    """Bad pixels in red over a dimmed grey reference image (or black)."""
    h, w = bad.shape
    base = np.zeros((h, w, 3))
    if image is not None:
        base[:] = np.asarray(image, dtype=np.float64).mean(axis=2, keepdims=True) * 0.6
    base[bad] = (1.0, 0.1, 0.1)
    _save_png(path, (np.clip(base, 0, 1) * 255).round().astype(np.uint8))


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


def save_points_png(path, image: np.ndarray, xy: np.ndarray, value: np.ndarray) -> None:
    """Points drawn as single pixels coloured by their value over a dimmed reference view."""
    h, w = image.shape[:2]
    base = np.asarray(image, dtype=np.float64).mean(axis=2, keepdims=True).repeat(3, 2) * 0.5
    rgb = (np.clip(base, 0, 1) * 255).round().astype(np.uint8)
    if len(xy):
        cols = np.clip(np.round(xy[:, 0]).astype(int), 0, w - 1)
        rows = np.clip(np.round(xy[:, 1]).astype(int), 0, h - 1)
        rgb[rows, cols] = colorize(np.asarray(value)[None, :])[0]
    _save_png(path, rgb)
