import sys

import numpy as np
import pytest

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
    with pytest.raises(ImportError, match=r"pip install diffdepth\[mvs\]"):
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
