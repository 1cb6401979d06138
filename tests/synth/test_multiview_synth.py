import numpy as np
import pytest
import torch

from diffdepth.image import sample_bilinear
from diffdepth.synth.multiview import make_multiview


def bilinear_sample(img, x, y):
    """img [H, W, C] sampled at float positions x, y (numpy), border pixels repeated."""
    out, _ = sample_bilinear(torch.from_numpy(img)[None], torch.from_numpy(x), torch.from_numpy(y))
    return out.numpy()


@pytest.fixture(scope="module")
def synth():
    return make_multiview(n_views=5, seed=0)


def _lift(scene, i, depth):
    h, w = depth.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    rays = np.stack([xs, ys, np.ones_like(xs)], -1) @ np.linalg.inv(scene.K[i]).T
    return ((rays * depth[..., None].astype(np.float64)) - scene.t[i]) @ scene.R[i]


def test_shapes_and_cameras(synth):
    scene, depths = synth
    assert len(scene) == 5 and len(depths) == 5
    for i in range(5):
        assert scene.images[i].shape == (120, 160, 3) and scene.images[i].dtype == np.float32
        assert depths[i].shape == (120, 160) and np.isfinite(depths[i]).all()
        assert np.allclose(scene.R[i] @ scene.R[i].T, np.eye(3), atol=1e-12)
    centres = np.array([scene.centre(i) for i in range(5)])
    baseline = np.linalg.norm(centres[:, None] - centres[None], axis=-1).max()
    assert 0.05 < baseline / np.median(depths[0]) < 0.2  # about a tenth of the scene depth
    assert depths[0].min() < 7.0 and depths[0].max() == pytest.approx(10.0, abs=0.5)


def test_depth_is_exact_on_the_back_wall(synth):
    scene, depths = synth
    # camera 0 sits at the origin looking down +z: the wall z = 10 is at depth exactly 10
    assert np.allclose(scene.R[0], np.eye(3)) and np.allclose(scene.t[0], 0.0)
    assert np.allclose(depths[0][0], 10.0, atol=1e-5)  # the top row sees only the wall
    X = _lift(scene, 0, depths[0])
    assert np.allclose(X[0, :, 2], 10.0, atol=1e-5)


def test_warping_with_true_depth_reproduces_colours(synth):
    scene, depths = synth
    h, w = scene.shape(0)
    X = _lift(scene, 0, depths[0]).reshape(-1, 3)
    for k in range(1, len(scene)):
        xy, z = scene.project(k, X)
        xy, z = xy.reshape(h, w, 2), z.reshape(h, w)
        inside = (xy[..., 0] >= 0) & (xy[..., 0] <= w - 1) & (xy[..., 1] >= 0)
        inside &= xy[..., 1] <= h - 1
        r = np.round(xy[inside]).astype(int)
        zk = np.full((h, w), np.inf)
        zk[inside] = depths[k][r[:, 1], r[:, 0]]
        visible = inside & (np.abs(zk - z) < 0.01 * z)
        # away from occlusions: erode the visible set by one pixel
        core = visible.copy()
        core[1:] &= visible[:-1]
        core[:-1] &= visible[1:]
        core[:, 1:] &= visible[:, :-1]
        core[:, :-1] &= visible[:, 1:]
        assert core.mean() > 0.6
        warped = bilinear_sample(scene.images[k], xy[..., 0], xy[..., 1])
        err = np.abs(warped - scene.images[0]).mean(-1)
        assert np.median(err[core]) < 0.01
        assert np.percentile(err[core], 90) < 0.04
        # a wrong depth does not: the scene is textured enough to tell
        Xw = _lift(scene, 0, depths[0] * 1.1).reshape(-1, 3)
        xy2 = scene.project(k, Xw)[0].reshape(h, w, 2)
        wrong = bilinear_sample(scene.images[k], xy2[..., 0], xy2[..., 1])
        assert np.median(np.abs(wrong - scene.images[0]).mean(-1)[core]) > 3 * np.median(err[core])


def test_occlusions_and_texture_poor_surface_exist(synth):
    scene, depths = synth
    d = depths[0]
    # depth edges (the box in front of the wall) make pixels visible in view 0 hidden elsewhere
    jumps = np.abs(np.diff(d, axis=1)) > 1.0
    assert jumps.sum() > 20
    # a texture-poor region: a patch whose colour barely varies
    img = scene.images[0]
    gx = np.abs(np.diff(img, axis=1)).mean(-1)
    assert (gx < 0.01).mean() > 0.03
    assert (gx > 0.05).mean() > 0.1


def test_sparse_points_are_exact_observations(synth):
    scene, depths = synth
    assert scene.points3d is not None and len(scene.points3d) > 200
    for i in range(len(scene)):
        xy, z = scene.project(i, scene.points3d[scene.obs_ids[i]])
        assert np.allclose(xy, scene.obs_xy[i], atol=1e-3)
        r = np.round(xy).astype(int)
        assert np.allclose(depths[i][r[:, 1], r[:, 0]], z, rtol=0.011)
    counts = np.bincount(np.concatenate(scene.obs_ids), minlength=len(scene.points3d))
    assert counts.min() >= 2


def test_sizes_may_differ_and_seed_matters():
    sizes = [(40, 56), (36, 64), (44, 50)]
    scene, depths = make_multiview(n_views=3, sizes=sizes, n_points=50)
    assert [scene.shape(i) for i in range(3)] == sizes
    assert [d.shape for d in depths] == sizes
    again, _ = make_multiview(n_views=3, sizes=sizes, n_points=50)
    other, _ = make_multiview(n_views=3, sizes=sizes, n_points=50, seed=1)
    assert np.array_equal(scene.images[0], again.images[0])
    assert not np.array_equal(scene.images[0], other.images[0])
    with pytest.raises(ValueError):
        make_multiview(n_views=3, sizes=sizes[:2])
