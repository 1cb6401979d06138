import shutil

import numpy as np
import pytest

from diffdepth.io.errors import InputError
from diffdepth.io.mvs import read_middlebury_cameras, read_multiview

# tight bounding box of the temple model (from the data set's README)
TEMPLE_BOX = np.array([[-0.073568, 0.021728, -0.012445], [0.028855, 0.181892, 0.062736]])


def test_read_middlebury_temple(temple):
    scene = read_multiview(temple)
    assert len(scene) == 16 and scene.names[0] == "templeSR0001.png"
    assert all(scene.shape(i) == (480, 640) for i in range(16))
    assert scene.images[0].dtype == np.float32 and scene.images[0].max() <= 1.0
    assert np.allclose(scene.K[0], [[1520.4, 0, 302.32], [0, 1525.9, 246.87], [0, 0, 1]])
    assert np.allclose(scene.R @ np.swapaxes(scene.R, 1, 2), np.eye(3), atol=1e-6)
    corners = np.array(np.meshgrid(*TEMPLE_BOX.T)).reshape(3, -1).T
    for i in range(16):
        xy, z = scene.project(i, corners)
        assert (z > 0).all()
        assert (xy >= 0).all() and (xy[:, 0] < 640).all() and (xy[:, 1] < 480).all()
    assert scene.points3d is None and scene.default_ref() == 0
    same = read_multiview(temple / "templeSR_par.txt")
    assert np.array_equal(same.R, scene.R) and same.names == scene.names
    with pytest.raises(InputError, match="expected sparse 3D points"):
        read_multiview(temple, require_points=True)


def _par_line(name):
    return name + " 100 0 10 0 100 8 0 0 1 1 0 0 0 1 0 0 0 1 0 0 1\n"


def test_middlebury_errors(temple, tmp_path):
    shutil.copy(temple / "templeSR0001.png", tmp_path / "a.png")
    par = tmp_path / "x_par.txt"
    par.write_text("2\n" + _par_line("a.png") + _par_line("missing.png"))
    with pytest.raises(InputError, match=r"x_par.txt: line 3: names image missing.png"):
        read_middlebury_cameras(par)
    par.write_text("1\n" + _par_line("a.png").replace(" 1\n", "\n"))
    with pytest.raises(InputError, match="line 2: expected 'name' and 21 numbers"):
        read_middlebury_cameras(par)
    par.write_text("3\n" + _par_line("a.png"))
    with pytest.raises(InputError, match="expected 3 camera lines, found 1"):
        read_middlebury_cameras(par)
    par.write_text("1\n" + _par_line("a.png").replace("100", "abc", 1))
    with pytest.raises(InputError, match="expected numbers"):
        read_middlebury_cameras(par)
    par.write_text("1\n" + _par_line("a.png"))
    scene = read_multiview(tmp_path)  # a folder with one *_par.txt
    assert len(scene) == 1 and scene.K[0, 0, 2] == 10


def test_read_multiview_rejects_other_input(tmp_path):
    with pytest.raises(InputError, match="found nothing"):
        read_multiview(tmp_path / "nope")
    with pytest.raises(InputError, match=r"cameras.bin or cameras.txt.*found neither"):
        read_multiview(tmp_path)
    (tmp_path / "scene.csv").write_text("1,2\n")
    with pytest.raises(InputError, match="scene.csv"):
        read_multiview(tmp_path / "scene.csv")


def test_visible_points_and_reference(tmp_path):
    from diffdepth.synth.multiview import make_multiview

    scene, depths = make_multiview(n_views=3, height=40, width=56, n_points=80, seed=4)
    ref = scene.default_ref()
    assert len(scene.obs_ids[ref]) == scene.num_observations().max()
    xy, z, ids = scene.visible_points(ref)
    assert len(ids) == len(np.unique(scene.obs_ids[ref]))
    order = np.argsort(scene.obs_ids[ref])
    np.testing.assert_allclose(xy, scene.obs_xy[ref][order], atol=1e-3)
    r = np.round(xy).astype(int)
    np.testing.assert_allclose(z, depths[ref][r[:, 1], r[:, 0]], rtol=0.011)
