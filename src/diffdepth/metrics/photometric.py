"""Quality without ground truth: the re-projection error of the reference view (SPEC section 8).

A light field is scored through the multi-view path (`diffdepth.metrics.reprojection.
reprojection_error`), with its views written as pinhole cameras: the reference at the origin
with ``K = I`` (focal length 1 px, principal point 0), view (r, c) at grid offset
``(u, v) = (c - c0, r - r0)`` translated by ``t = (-u, -v, 0)`` with its principal point at
``(u s, v s)``, and depth ``1 / (d + s)`` for disparity d. Then a reference pixel (x, y)
projects into view (r, c) at ``x - u (d + s) + u s = x - d u`` (and ``y - d v``): exactly the
light field's own warp (HCI convention), for any shift s; s = 1 - min(d) keeps every depth
positive and finite whatever the sign of the disparities.
"""

from __future__ import annotations

import numpy as np

from diffdepth.types import LightField, MultiViewScene


def corner_views(grid: tuple[int, int], ref: tuple[int, int]) -> list[tuple[int, int]]:
    """The grid's corner views (row, col), without the reference and without repeats."""
    rows, cols = grid
    out: list[tuple[int, int]] = []
    for rc in ((0, 0), (0, cols - 1), (rows - 1, 0), (rows - 1, cols - 1)):
        if rc != tuple(ref) and rc not in out:
            out.append(rc)
    return out


def lightfield_as_cameras(
    lf: LightField, disparity: np.ndarray, views: list[tuple[int, int]]
) -> tuple[MultiViewScene, np.ndarray]:
    """The reference view (index 0) and ``views`` as pinhole cameras, and the depth [H, W] of
    the reference that reproduces ``disparity`` (NaN where it is not finite); see the module
    docstring."""
    d = np.asarray(disparity, dtype=np.float64)
    finite = np.isfinite(d)
    shift = 1.0 - float(d[finite].min()) if finite.any() else 1.0
    with np.errstate(invalid="ignore"):
        depth = np.where(finite, 1.0 / (d + shift), np.nan)
    r0, c0 = lf.ref
    cells = [(r0, c0), *views]
    K, t = [], []
    for r, c in cells:
        u, v = c - c0, r - r0
        K.append([[1.0, 0.0, u * shift], [0.0, 1.0, v * shift], [0.0, 0.0, 1.0]])
        t.append([-u, -v, 0.0])
    names = [lf.paths[r][c] if lf.paths else f"view_{r}_{c}" for r, c in cells]
    scene = MultiViewScene(
        images=[lf.views[r, c] for r, c in cells],
        names=names,
        K=np.array(K),
        R=np.repeat(np.eye(3)[None], len(cells), 0),
        t=np.array(t, dtype=np.float64),
        source=lf.name,
    )
    return scene, depth


def lightfield_reprojection_error(
    lf: LightField, disparity: np.ndarray, views: list[tuple[int, int]] | None = None
) -> float | None:
    """Mean absolute Lab difference between the reference view and the ``views`` (default: the
    corner views) warped into it through ``disparity`` [H, W], over the pixels each view sees
    (occlusion by z-buffer). None for a light field of one view."""
    from diffdepth.metrics.reprojection import reprojection_error

    views = corner_views(lf.grid, lf.ref) if views is None else list(views)
    if not views:
        return None
    scene, depth = lightfield_as_cameras(lf, disparity, views)
    return reprojection_error(depth, 0, scene, space="lab")
