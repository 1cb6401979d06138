"""The multi-view pipeline end to end on the synthetic scene (exact depth known)."""

import shutil
from dataclasses import replace

import numpy as np
import pytest

from diffdepth.cli import main
from diffdepth.config import MultiViewConfig, OptimConfig
from diffdepth.io import read_multiview, read_pfm
from diffdepth.pipeline.multiview import run_multiview
from diffdepth.synth import make_multiview


@pytest.fixture(scope="module")
def synthetic():
    return make_multiview(n_views=4, height=60, width=84, seed=0)


def test_optimisation_lowers_scale_fitted_error(synthetic):
    scene, depths = synthetic
    ref = scene.default_ref()
    optim = replace(OptimConfig.multi_view(), passes=2, iters_per_phase=8)
    config = MultiViewConfig(optim=optim, densify_points=800, n_views=3)
    result = run_multiview(scene, ref, config, gt_depth=depths[ref], progress=False)
    m = result.metrics
    assert m["scale_fitted"]["mse"] < 0.8 * m["plain_scale_fitted"]["mse"]
    assert m["reprojection_error_lab"] < m["plain_reprojection_error_lab"]
    assert m["points_final"] > m["points_initial"]  # densified after the first Q phase
    assert np.isfinite(result.depth).all() and (result.depth > 0).all()


def test_all_images_resumable_and_binary_equals_text(
    synthetic, write_colmap_scene, tmp_path, capsys
):
    scene, _ = synthetic
    for kind in ("bin", "txt"):
        write_colmap_scene(tmp_path / kind, scene, binary=kind == "bin")
    args = ["--passes", "1", "--iters", "2", "--quiet"]
    assert main(["run", str(tmp_path / "bin"), "--all", "--out", str(tmp_path / "o"), *args]) == 0
    names = [n.rsplit(".", 1)[0] for n in scene.names]
    for n in names:
        for f in ("depth.pfm", "depth.npy", "points.ply", "metrics.json", "loss.png"):
            assert (tmp_path / "o" / n / f).exists(), (n, f)
        ply = (tmp_path / "o" / n / "points.ply").read_bytes()
        assert ply.startswith(b"ply\nformat binary_little_endian 1.0\n")
    # interrupted run: one image's folder is missing; a restart redoes only that image
    stamp = {n: (tmp_path / "o" / n / "depth.pfm").stat().st_mtime_ns for n in names}
    shutil.rmtree(tmp_path / "o" / names[1])
    capsys.readouterr()
    loud = [a for a in args if a != "--quiet"]  # the skipped images are reported as information
    assert main(["run", str(tmp_path / "bin"), "--all", "--out", str(tmp_path / "o"), *loud]) == 0
    out = capsys.readouterr().out
    assert out.count("already done, skipped") == len(names) - 1
    for n in names:
        now = (tmp_path / "o" / n / "depth.pfm").stat().st_mtime_ns
        assert (now == stamp[n]) == (n != names[1])
    # the same scene as a text model gives the same depth
    ref = scene.names[scene.default_ref()]
    for kind in ("bin", "txt"):
        assert (
            main(
                [
                    "run",
                    str(tmp_path / kind),
                    "--ref",
                    ref,
                    "--out",
                    str(tmp_path / kind / "r"),
                    *args,
                ]
            )
            == 0
        )
    a = read_pfm(tmp_path / "bin" / "r" / "depth.pfm")
    b = read_pfm(tmp_path / "txt" / "r" / "depth.pfm")
    np.testing.assert_allclose(a, b, rtol=1e-5)


def test_model_errors(synthetic, write_colmap_scene, tmp_path, capsys):
    scene, _ = synthetic
    write_colmap_scene(tmp_path / "s", scene, binary=False)
    (tmp_path / "s" / "images" / scene.names[0]).unlink()
    assert main(["run", str(tmp_path / "s"), "--out", str(tmp_path / "o")]) == 2
    assert scene.names[0] in capsys.readouterr().err
    write_colmap_scene(tmp_path / "s2", scene, binary=False)
    assert (
        main(["run", str(tmp_path / "s2"), "--ref", "nope.png", "--out", str(tmp_path / "o")]) == 2
    )
    assert "nope.png" in capsys.readouterr().err


def test_reads_back_what_was_written(synthetic, write_colmap_scene, tmp_path):
    scene, _ = synthetic
    write_colmap_scene(tmp_path / "s", scene, binary=True)
    again = read_multiview(tmp_path / "s")
    assert again.names == scene.names
    np.testing.assert_allclose(again.K, scene.K, atol=1e-9)


@pytest.mark.parametrize(("layout", "baseline"), [("row", 0.5), ("ring", 1.0), ("row", 0.1)])
def test_two_cameras_give_a_map(layout, baseline):
    # a rectified pair, a pair with a rotation, a narrow baseline (disparities 2.4 to 6 px)
    pytest.importorskip("pycolmap")
    from diffdepth.points.colmap import sparse_points

    scene, depths = make_multiview(
        n_views=2, height=120, width=160, layout=layout, baseline=baseline, seed=0
    )
    scene = sparse_points(scene)
    optim = replace(MultiViewConfig().optim, passes=1, iters_per_phase=2)
    result = run_multiview(scene, 0, MultiViewConfig(optim=optim), progress=False)
    assert np.isfinite(result.depth).all() and (result.depth > 0).all()
    assert result.mask.shape == result.depth.shape and result.mask.mean() > 0.4
    assert result.confidence.min() >= 0 and result.confidence.max() <= 1
    rel = np.abs(result.depth - depths[0]) / depths[0]
    assert np.median(rel[result.mask]) < 0.02, np.median(rel[result.mask])
    assert np.median(rel) < 0.03


def test_outputs_a_user_can_trust(synthetic, write_colmap_scene, tmp_path):
    plyfile = pytest.importorskip("plyfile")
    import json

    from PIL import Image

    scene, depths = synthetic
    write_colmap_scene(tmp_path / "s", scene, binary=True)
    args = ["--passes", "1", "--iters", "2", "--quiet"]
    assert main(["run", str(tmp_path / "s"), "--all", "--out", str(tmp_path / "o"), *args]) == 0
    for name in scene.names:
        folder = tmp_path / "o" / name.rsplit(".", 1)[0]
        mask = np.load(folder / "mask.npy")
        conf = np.load(folder / "confidence.npy")
        depth = np.load(folder / "depth.npy")
        assert mask.dtype == bool and conf.shape == mask.shape and (conf[~mask] == 0).all()
        assert np.array_equal(np.asarray(Image.open(folder / "mask.png")) > 0, mask)
        # points.ply: the valid pixels only, with normals and confidence
        v = plyfile.PlyData.read(str(folder / "points.ply"))["vertex"]
        assert len(v) == mask.sum()
        normals = np.stack([v["nx"], v["ny"], v["nz"]], 1)
        np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-4)
        np.testing.assert_allclose(np.sort(v["confidence"]), np.sort(conf[mask]))
        # 16-bit PNG with its scale written down
        scale = json.loads((folder / "metrics.json").read_text())["depth_u16_png_scale"]
        info = json.loads((folder / "config.json").read_text())
        assert info["outputs"]["depth_u16_png_scale"] == scale
        u16 = np.asarray(Image.open(folder / "depth_u16.png")).astype(np.float64)
        np.testing.assert_allclose(u16[mask] / scale, depth[mask], atol=0.6 / scale)
        assert (u16[~mask] == 0).all()
        assert (folder / "depth_maps" / f"{name}.geometric.bin").exists()

    def in_front(vertices):
        """Fraction of points in front of the true surface seen from camera 0 (by > 3 %)."""
        X = np.stack([vertices["x"], vertices["y"], vertices["z"]], 1).astype(np.float64)
        xy, z = scene.project(0, X)
        h, w = depths[0].shape
        inside = (xy[:, 0] >= 0) & (xy[:, 0] <= w - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= h - 1)
        r = np.round(xy[inside]).astype(int)
        return np.mean(z[inside] < 0.97 * depths[0][r[:, 1], r[:, 0]])

    fused = plyfile.PlyData.read(str(tmp_path / "o" / "fused.ply"))["vertex"]
    union = [
        plyfile.PlyData.read(str(tmp_path / "o" / n.rsplit(".", 1)[0] / "points.ply"))["vertex"]
        for n in scene.names
    ]
    assert 1000 < len(fused) < sum(len(u) for u in union)
    # the consistency check between views removes points that float in front of the surface
    union_rate = np.mean([in_front(u) for u in union])
    assert in_front(fused) < 0.05 and in_front(fused) < 0.7 * union_rate


@pytest.mark.slow
def test_temple_points_hold_no_background(temple, tmp_path):
    pytest.importorskip("pycolmap")
    plyfile = pytest.importorskip("plyfile")
    from scipy import ndimage

    args = ["--passes", "1", "--iters", "2", "--quiet", "--ref", "templeSR0011.png"]
    assert main(["run", str(temple), "--out", str(tmp_path / "o"), *args]) == 0
    scene = read_multiview(temple)
    ref = scene.names.index("templeSR0011.png")
    image = scene.images[ref]
    # the black background: dark pixels connected to the image border, 2 px away from the
    # temple (pixels on the silhouette mix both)
    dark = image.max(-1) < 0.06
    labels, _ = ndimage.label(dark)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    background = np.isin(labels, border[border > 0])
    background = ndimage.binary_erosion(background, iterations=2)
    assert background.mean() > 0.3
    v = plyfile.PlyData.read(str(tmp_path / "o" / "points.ply"))["vertex"]
    X = np.stack([v["x"], v["y"], v["z"]], 1).astype(np.float64)
    xy, _ = scene.project(ref, X)
    px = np.round(xy).astype(int)
    assert len(px) > 1000  # not vacuous: the mask covers part of the temple
    assert not background[px[:, 1], px[:, 0]].any()
