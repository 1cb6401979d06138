import sys

import numpy as np
import pytest

from diffdepth.io import InputError
from diffdepth.io.mvs import read_multiview
from diffdepth.points.colmap import reference_points, sparse_points
from diffdepth.synth.multiview import make_multiview

TEMPLE_BOX = np.array([[-0.073568, 0.021728, -0.012445], [0.028855, 0.181892, 0.062736]])


def test_reference_points_are_inverse_depth():
    scene, depths = make_multiview(n_views=4, height=48, width=64, n_points=120, seed=5)
    ref = scene.default_ref()
    pts = reference_points(scene, ref)
    assert len(pts) == len(np.unique(scene.obs_ids[ref])) > 20
    r = np.round(pts.xy).astype(int)
    np.testing.assert_allclose(1.0 / pts.value, depths[ref][r[:, 1], r[:, 0]], rtol=0.011)
    assert pts.confidence.max() == 1.0 and pts.confidence.min() > 0


def test_missing_pycolmap_says_how_to_install(monkeypatch):
    scene, _ = make_multiview(n_views=2, height=20, width=24, n_points=10)
    monkeypatch.setitem(sys.modules, "pycolmap", None)
    with pytest.raises(InputError, match=r"pip install diffdepth\[mvs\]"):
        sparse_points(scene)


def test_triangulation_with_fixed_temple_cameras(temple):
    pytest.importorskip("pycolmap")
    full = read_multiview(temple)
    keep = [0, 1, 10]  # views that overlap well (the ring is not in file order)
    scene = type(full)(
        [full.images[i] for i in keep],
        [full.names[i] for i in keep],
        full.K[keep],
        full.R[keep],
        full.t[keep],
        source=full.source,
    )
    out = sparse_points(scene, max_features=2048)
    assert np.array_equal(out.R, scene.R) and np.array_equal(out.K, scene.K)
    assert len(out.points3d) > 50
    margin = 0.02
    inside = np.all(
        (out.points3d > TEMPLE_BOX[0] - margin) & (out.points3d < TEMPLE_BOX[1] + margin), 1
    )
    assert inside.mean() > 0.9
    for i in range(3):
        xy, _ = out.project(i, out.points3d[out.obs_ids[i]])
        assert np.median(np.linalg.norm(xy - out.obs_xy[i], axis=1)) < 1.0
    pts = reference_points(out, out.default_ref())
    assert len(pts) > 50 and np.all(pts.value > 0)


# (layout, baseline): a rectified pair, a pair with a rotation (cameras looking at one point),
# and a rectified narrow baseline whose disparities are 2.4 to 6 px
TWO_CAMERAS = [("row", 0.5), ("ring", 1.0), ("row", 0.1)]


@pytest.mark.parametrize(("layout", "baseline"), TWO_CAMERAS)
def test_two_cameras_triangulate(layout, baseline):
    # COLMAP's defaults make no point at all from two cameras (every track is a two-view
    # track, and a narrow baseline's angles are below 1.5 degrees)
    pytest.importorskip("pycolmap")
    scene, depths = make_multiview(
        n_views=2, height=180, width=240, layout=layout, baseline=baseline, seed=0
    )
    out = sparse_points(scene)
    assert len(out.points3d) > 80
    assert np.array_equal(out.R, scene.R) and np.array_equal(out.t, scene.t)
    f = scene.K[0, 0, 0]
    for ref in (0, 1):
        xy, z, _ = out.visible_points(ref)
        assert len(xy) > 80
        r = np.round(xy).astype(int)
        true = depths[ref][r[:, 1], r[:, 0]]
        # inverse depth in px of disparity at this baseline: most points within 0.3 px
        err = np.abs(1.0 / z - 1.0 / true) * f * baseline
        assert np.median(err) < 0.3, np.median(err)


def test_epipolar_distance_of_known_cameras():
    from diffdepth.points.colmap import epipolar_distance, fundamental_matrix

    scene, depths = make_multiview(n_views=3, height=40, width=50, n_points=60, seed=2)
    X = scene.points3d
    for i, j in ((0, 1), (2, 0)):
        xi, _ = scene.project(i, X)
        xj, _ = scene.project(j, X)
        F = fundamental_matrix(scene, i, j)
        assert np.max(epipolar_distance(F, xi, xj)) < 1e-6
        # moving a point 2 px across its epipolar line in image j: 2 px there (the distance
        # in image i, to the moved point's line, is about as large; the larger one is kept)
        hi = np.concatenate([xi, np.ones((len(xi), 1))], 1)
        line = hi @ F.T
        normal = line[:, :2] / np.linalg.norm(line[:, :2], axis=1, keepdims=True)
        d = epipolar_distance(F, xi, xj + 2.0 * normal)
        assert np.all(d >= 2.0 - 1e-9) and np.all(d < 2.5)
