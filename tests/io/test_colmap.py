"""COLMAP models through pycolmap: round trips, every camera model undistorted, errors."""

import sys

import numpy as np
import pytest
from PIL import Image

pycolmap = pytest.importorskip("pycolmap")

from diffdepth.io.colmap import read_colmap_model, write_colmap_model  # noqa: E402
from diffdepth.io.errors import InputError  # noqa: E402
from diffdepth.io.mvs import read_multiview  # noqa: E402
from diffdepth.synth.multiview import make_multiview  # noqa: E402


@pytest.fixture(scope="module")
def small():
    scene, _ = make_multiview(n_views=3, height=30, width=40, n_points=60, seed=3)
    # 8-bit images, as they come back from files
    scene.images = [
        np.round(im * 255).astype(np.uint8).astype(np.float32) / 255 for im in scene.images
    ]
    return scene


def _save_images(scene, folder):
    folder.mkdir(parents=True, exist_ok=True)
    for name, im in zip(scene.names, scene.images):
        Image.fromarray(np.round(im * 255).astype(np.uint8)).save(folder / name)


def _same(a, b, atol=1e-12):
    assert a.names == b.names
    for x, y in zip(a.images, b.images):
        assert np.array_equal(x, y)
    np.testing.assert_allclose(a.K, b.K, atol=atol)
    np.testing.assert_allclose(a.R, b.R, atol=atol)
    np.testing.assert_allclose(a.t, b.t, atol=atol)
    np.testing.assert_allclose(a.points3d, b.points3d, atol=atol)
    for i in range(len(a)):
        assert np.array_equal(np.sort(a.obs_ids[i]), np.sort(b.obs_ids[i]))
        oa, ob = np.argsort(a.obs_ids[i]), np.argsort(b.obs_ids[i])
        np.testing.assert_allclose(a.obs_xy[i][oa], b.obs_xy[i][ob], atol=1e-5)


def test_text_and_binary_models_read_identically(small, tmp_path):
    _save_images(small, tmp_path / "images")
    write_colmap_model(tmp_path / "bin", small, binary=True)
    write_colmap_model(tmp_path / "txt", small, binary=False)
    assert (tmp_path / "bin" / "images.bin").is_file()
    assert (tmp_path / "txt" / "images.txt").is_file()
    a = read_colmap_model(tmp_path / "bin", tmp_path / "images")
    b = read_colmap_model(tmp_path / "txt", tmp_path / "images")
    _same(a, b, atol=0)
    assert np.array_equal(a.point_colors, b.point_colors)
    for i in range(len(a)):
        assert np.array_equal(a.obs_xy[i], b.obs_xy[i])
    _same(a, small)  # and equal to what was written
    assert a.default_ref() == int(np.argmax([len(o) for o in small.obs_ids]))


def test_a_model_without_rigs_and_frames_is_read(small, tmp_path):
    # COLMAP before 3.12 wrote cameras, images and points3D only
    _save_images(small, tmp_path / "images")
    write_colmap_model(tmp_path / "m", small, binary=False)
    for name in ("rigs.txt", "frames.txt"):
        (tmp_path / "m" / name).unlink()
    _same(read_colmap_model(tmp_path / "m", tmp_path / "images"), small)


def test_read_multiview_finds_the_model(small, tmp_path):
    _save_images(small, tmp_path / "images")
    write_colmap_model(tmp_path / "sparse" / "0", small, binary=True)
    scene = read_multiview(tmp_path, require_points=True)
    _same(scene, small)


CAMERAS = {
    "SIMPLE_RADIAL": [-0.3],
    "RADIAL": [-0.3, 0.05],
    "OPENCV": [-0.3, 0.05, 0.01, -0.015],
    "FULL_OPENCV": [-0.3, 0.05, 0.01, -0.015, 0.02, 0.0, 0.0, 0.0],
    "OPENCV_FISHEYE": [0.1, -0.05, 0.0, 0.0],
}


def _texture(x, y):
    """A smooth RGB texture at real pixel positions (wavelengths 9..16 px): [..., 3]."""
    return np.stack([0.5 + 0.4 * np.sin(0.5 * x + 0.3 * y + c) for c in (0.0, 2.0, 4.0)], -1)


@pytest.mark.parametrize("model", CAMERAS)
def test_cameras_with_distortion_are_undistorted(small, tmp_path, model):
    # each view as a distorted camera sees a known texture, and its observations distorted:
    # reading gives the pinhole images and observations back
    scene = small
    h, w = scene.shape(0)
    K = scene.K[0]
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2] + 0.5, K[1, 2] + 0.5  # COLMAP's origin
    f = [fx] if model.startswith(("SIMPLE", "RADIAL")) else [fx, fy]
    camera = pycolmap.Camera(
        model=model, width=w, height=h, params=[*f, cx, cy, *CAMERAS[model]], camera_id=1
    )
    pin = np.array([[fx, 0, cx], [0, f[-1], cy], [0, 0, 1.0]])
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    centres = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], -1)
    src = camera.cam_from_img(centres) * [pin[0, 0], pin[1, 1]] + pin[:2, 2] - 0.5
    distorted = _texture(src[:, 0], src[:, 1]).reshape(h, w, 3)
    folder = tmp_path / "images"
    folder.mkdir()
    for name in scene.names:
        Image.fromarray(np.round(distorted * 255).astype(np.uint8)).save(folder / name)
    write_colmap_model(tmp_path / "m", scene, binary=True)
    rec = pycolmap.Reconstruction(tmp_path / "m")
    for cam in rec.cameras.values():
        cam.model, cam.params = camera.model, camera.params
    for im in rec.images.values():
        for p in im.points2D:
            uv = (np.asarray(p.xy) - pin[:2, 2]) / [pin[0, 0], pin[1, 1]]
            p.xy = camera.img_from_cam(np.array([[*uv, 1.0]]))[0]
    rec.write_binary(tmp_path / "m")
    got = read_colmap_model(tmp_path / "m", folder)
    np.testing.assert_allclose(got.K[:, :2, :2], np.repeat(pin[None, :2, :2], 3, 0), atol=1e-12)
    want = _texture(xs, ys)
    inner = (slice(4, -4), slice(4, -4))
    for i in range(len(scene)):
        np.testing.assert_allclose(got.obs_xy[i], scene.obs_xy[i], atol=1e-3)
        err = np.abs(got.images[i] - want).mean(-1)[inner]
        as_is = np.abs(distorted - want).mean(-1)[inner]
        assert np.median(err) < 0.02 and np.median(err) < 0.3 * np.median(as_is)


def test_errors_name_the_file(small, tmp_path):
    write_colmap_model(tmp_path / "m", small, binary=False)
    with pytest.raises(InputError, match="view00.png"):  # images missing
        read_colmap_model(tmp_path / "m", tmp_path)
    _save_images(small, tmp_path / "images")
    (tmp_path / "m" / "points3D.txt").write_text("# no points\n")
    with pytest.raises(InputError, match="points3D.txt.*expected sparse 3D points"):
        read_colmap_model(tmp_path / "m", tmp_path / "images", require_points=True)
    assert read_colmap_model(tmp_path / "m", tmp_path / "images").points3d is None
    (tmp_path / "m" / "points3D.txt").write_text("1 0.5 nonsense\n")
    with pytest.raises(InputError, match=r"m: expected a readable COLMAP model"):
        read_colmap_model(tmp_path / "m", tmp_path / "images")
    # binary: a truncated file, a missing one
    write_colmap_model(tmp_path / "b", small, binary=True)
    data = (tmp_path / "b" / "images.bin").read_bytes()
    (tmp_path / "b" / "images.bin").write_bytes(data[:-7])
    with pytest.raises(InputError, match="b: expected a readable COLMAP model"):
        read_colmap_model(tmp_path / "b", tmp_path / "images")
    (tmp_path / "b" / "images.bin").write_bytes(data)
    (tmp_path / "b" / "points3D.bin").unlink()
    with pytest.raises(InputError, match="points3D.bin"):
        read_colmap_model(tmp_path / "b", tmp_path / "images")


def test_missing_pycolmap_says_how_to_install(small, tmp_path, monkeypatch):
    write_colmap_model(tmp_path / "m", small, binary=False)
    monkeypatch.setitem(sys.modules, "pycolmap", None)
    with pytest.raises(InputError, match=r"pip install diffdepth\[mvs\]"):
        read_colmap_model(tmp_path / "m", tmp_path)
