"""The sparse model of a multi-view scene: seeded (the same points run to run), saved once in
the output and reused."""

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from diffdepth.points import colmap
from diffdepth.points.colmap import (
    SPARSE_FOLDER,
    load_sparse_model,
    save_sparse_model,
    sparse_fingerprint,
    sparse_points,
)
from diffdepth.synth.multiview import make_multiview


def _bare(scene):
    """The scene without its sparse points."""
    return replace(scene, points3d=None, obs_ids=None, obs_xy=None, point_colors=None)


def test_the_seed_reaches_colmaps_random_numbers():
    """COLMAP's default seed (-1) takes the clock: RANSAC in the triangulator then keeps other
    points in every run (on templeSparseRing the same count, other coordinates)."""
    pycolmap = pytest.importorskip("pycolmap")
    scene, _ = make_multiview(n_views=3, height=24, width=32, n_points=10)
    assert pycolmap.IncrementalPipelineOptions().triangulation.random_seed == -1
    for seed in (0, 12345):
        options = colmap._triangulation_options(pycolmap, scene, 0.5, seed)
        assert options.random_seed == seed and options.triangulation.random_seed == seed


def test_the_same_seed_gives_the_same_points(monkeypatch):
    pycolmap = pytest.importorskip("pycolmap")
    seeds = []
    monkeypatch.setattr(
        pycolmap,
        "set_random_seed",
        lambda s, f=pycolmap.set_random_seed: (seeds.append(s), f(s))[1],
    )
    scene, _ = make_multiview(n_views=3, height=120, width=160, seed=1)
    scene = _bare(scene)
    a = sparse_points(scene, seed=3)
    b = sparse_points(scene, seed=3)
    assert seeds == [3, 3]
    assert len(a.points3d) > 50
    np.testing.assert_array_equal(a.points3d, b.points3d)
    for i in range(len(scene)):
        np.testing.assert_array_equal(a.obs_ids[i], b.obs_ids[i])
        np.testing.assert_array_equal(a.obs_xy[i], b.obs_xy[i])


def test_saved_points_load_back_exactly_for_the_same_inputs(tmp_path):
    scene, _ = make_multiview(n_views=3, height=30, width=40, n_points=60, seed=2)
    fp = sparse_fingerprint(scene, 0)
    save_sparse_model(tmp_path / "m", scene, fp)
    # a COLMAP model for other tools, beside the exact arrays
    assert {"cameras.txt", "images.txt", "points3D.txt"} <= {
        p.name for p in (tmp_path / "m").iterdir()
    }
    back = load_sparse_model(tmp_path / "m", _bare(scene), fp)
    np.testing.assert_array_equal(back.points3d, scene.points3d)
    np.testing.assert_array_equal(back.point_colors, scene.point_colors)
    for i in range(len(scene)):
        np.testing.assert_array_equal(back.obs_ids[i], scene.obs_ids[i])
        np.testing.assert_array_equal(back.obs_xy[i], scene.obs_xy[i])
    # other inputs: another seed, another image, another camera; absent; damaged
    assert sparse_fingerprint(scene, 1) != fp
    other = replace(scene, images=[scene.images[0] * 0.5, *scene.images[1:]])
    assert sparse_fingerprint(other, 0) != fp
    moved = replace(scene, t=scene.t + 1e-9)
    assert sparse_fingerprint(moved, 0) != fp
    assert load_sparse_model(tmp_path / "m", scene, sparse_fingerprint(scene, 1)) is None
    assert load_sparse_model(tmp_path / "absent", scene, fp) is None
    (tmp_path / "m" / "sparse.npz").write_bytes(b"not a zip")
    assert load_sparse_model(tmp_path / "m", scene, fp) is None


@pytest.fixture
def bare_scene(write_colmap_scene, tmp_path):
    """A COLMAP folder of 3 synthetic views with cameras and no sparse points."""
    pytest.importorskip("pycolmap")
    scene, _ = make_multiview(n_views=3, height=90, width=120, seed=1)
    return write_colmap_scene(tmp_path / "scene", _bare(scene))


def _count_sparse_calls(monkeypatch):
    calls = []
    real = colmap.sparse_points

    def counted(scene, **kw):
        calls.append(kw.get("seed"))
        return real(scene, **kw)

    monkeypatch.setattr(colmap, "sparse_points", counted)
    return calls


def test_all_computes_the_sparse_model_once_and_reuses_it(bare_scene, tmp_path, monkeypatch):
    from diffdepth.cli import main
    from diffdepth.pipeline.multiview import is_whole_result

    calls = _count_sparse_calls(monkeypatch)
    out = tmp_path / "all"
    args = ["run", str(bare_scene), "--out", str(out), "--all", "--no-optimize", "-q"]
    assert main([*args, "--seed", "4"]) == 0
    assert calls == [4]  # once for the three images
    sparse = out / SPARSE_FOLDER
    assert is_whole_result(sparse)  # a result folder of its own: whole or absent
    info = json.loads((sparse / "sparse.json").read_text())
    first = np.load(sparse / "sparse.npz")["points3d"]
    assert info["points"] == len(first) > 0
    for name in ("view00", "view01", "view02"):
        assert is_whole_result(out / name)
    # resumed with the same seed: read back, not triangulated again
    shutil.rmtree(out / "view01")  # one image to redo
    assert main([*args, "--seed", "4"]) == 0
    assert calls == [4] and is_whole_result(out / "view01")
    np.testing.assert_array_equal(np.load(sparse / "sparse.npz")["points3d"], first)
    # another seed: other inputs, triangulated anew (and the images run again)
    assert main([*args, "--seed", "5"]) == 0
    assert calls == [4, 5]


def test_one_image_run_saves_its_sparse_model_and_reuses_it(bare_scene, tmp_path, monkeypatch):
    from diffdepth.cli import main
    from diffdepth.pipeline.multiview import is_whole_result

    calls = _count_sparse_calls(monkeypatch)
    out = tmp_path / "one"
    args = ["run", str(bare_scene), "--out", str(out), "--passes", "1", "--iters", "2", "-q"]
    assert main(args) == 0
    assert calls == [0] and is_whole_result(out)
    assert (out / SPARSE_FOLDER / "points3D.txt").is_file()
    first = (out / "depth.npy").read_bytes()
    assert main(args) == 0
    assert calls == [0]
    assert (out / "depth.npy").read_bytes() == first
    assert (out / SPARSE_FOLDER / "sparse.npz").is_file()  # the new result holds it too
    # replayed into a new folder: triangulated again with the recorded seed, the same
    # points, reference image and map
    again = tmp_path / "again"
    assert main(["run", str(bare_scene), "--out", str(again), "--config", str(out), "-q"]) == 0
    assert calls == [0, 0]
    np.testing.assert_array_equal(
        np.load(again / SPARSE_FOLDER / "sparse.npz")["points3d"],
        np.load(out / SPARSE_FOLDER / "sparse.npz")["points3d"],
    )
    recorded = json.loads((out / "config.json").read_text())
    assert json.loads((again / "config.json").read_text())["reference"] == recorded["reference"]
    np.testing.assert_allclose(np.load(again / "depth.npy"), np.load(out / "depth.npy"), atol=1e-6)
