"""An independent (scipy) warp for the renderer's tests: they check the synthetic views
against their ground truth without the package's own warping."""

import numpy as np
import pytest
from scipy import ndimage


def warp_to_ref(view, disparity, u, v, order=1):
    """Sample view [H, W, 3] at (x - d u, y - d v) (spline order 1: bilinear, 3: cubic);
    also return the mask of samples inside the view."""
    h, w = disparity.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    x, y = xx - disparity * u, yy - disparity * v
    out = np.stack(
        [
            ndimage.map_coordinates(view[..., k], [y, x], order=order, mode="nearest")
            for k in range(3)
        ],
        axis=-1,
    )
    return out, (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)


@pytest.fixture
def warp():
    return warp_to_ref
