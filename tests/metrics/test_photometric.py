"""The light field's re-projection error through the multi-view path (SPEC section 8)."""

import numpy as np
import torch
import torch.nn.functional as F

from diffdepth.losses.multiview import MultiViewLoss
from diffdepth.metrics.photometric import (
    corner_views,
    lightfield_as_cameras,
    lightfield_reprojection_error,
)
from diffdepth.synth import make_lightfield


def test_corner_views():
    assert corner_views((9, 9), (4, 4)) == [(0, 0), (0, 8), (8, 0), (8, 8)]
    assert corner_views((1, 5), (0, 2)) == [(0, 0), (0, 4)]
    assert corner_views((3, 3), (0, 0)) == [(0, 2), (2, 0), (2, 2)]
    assert corner_views((1, 1), (0, 0)) == []


def test_cameras_reproduce_the_light_field_warp():
    """Warping a corner view through the cameras samples it at (x - d u, y - d v): the light
    field's own convention, for disparities of both signs."""
    lf = make_lightfield(height=32, width=40, grid=(3, 5))
    h, w = lf.shape
    rng = np.random.default_rng(0)
    disparity = rng.uniform(-1.5, 1.0, (h, w))
    views = corner_views(lf.grid, lf.ref)
    scene, depth = lightfield_as_cameras(lf, disparity, views)
    loss = MultiViewLoss(0, scene)
    D = torch.from_numpy(1.0 / depth)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    for k, (r, c) in enumerate(views, start=1):
        u, v = c - lf.ref[1], r - lf.ref[0]
        warped, _ = loss.warp(D, k)
        x, y = xs - disparity * u, ys - disparity * v
        grid = torch.from_numpy(np.stack([2 * x / (w - 1) - 1, 2 * y / (h - 1) - 1], -1))
        img = torch.from_numpy(np.ascontiguousarray(lf.views[r, c].transpose(2, 0, 1)))[None]
        expected = F.grid_sample(
            img.double(), grid[None], mode="bilinear", padding_mode="border", align_corners=True
        )[0]
        np.testing.assert_allclose(warped.numpy(), expected.numpy(), atol=1e-6)


def test_the_true_disparity_re_projects_best():
    lf = make_lightfield(height=48, width=64, grid=(5, 5))
    true = lightfield_reprojection_error(lf, lf.gt)
    assert true < 0.5 * lightfield_reprojection_error(lf, lf.gt + 0.5)
    assert true < 0.5 * lightfield_reprojection_error(lf, np.zeros_like(lf.gt))
    # the views asked for: the ends of the central row
    row = [(2, 0), (2, 4)]
    assert lightfield_reprojection_error(lf, lf.gt, views=row) < 0.5 * (
        lightfield_reprojection_error(lf, lf.gt + 0.5, views=row)
    )
    one = make_lightfield(height=16, width=16, grid=(1, 1))
    assert lightfield_reprojection_error(one, one.gt) is None
