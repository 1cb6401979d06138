"""The re-projection error of a depth map (no ground truth needed)."""

import pytest

from diffdepth.metrics import reprojection_error
from diffdepth.synth.multiview import make_multiview


def test_reprojection_error():
    scene, depths = make_multiview(n_views=5, seed=0)
    good = reprojection_error(depths[0], 0, scene)
    bad = reprojection_error(depths[0] * 1.1, 0, scene)
    assert good < 1.5 and bad > 2 * good
    rgb = reprojection_error(depths[0], 0, scene, views=[1, 2], space="rgb")
    assert 0 < rgb < 0.02
    with pytest.raises(ValueError):
        reprojection_error(depths[0], 0, scene, space="xyz")
