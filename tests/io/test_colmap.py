import numpy as np
import pytest
from PIL import Image

from diffdepth.io.colmap import (
    distort,
    quat_to_rotmat,
    read_colmap_model,
    rotmat_to_quat,
    undistort_points,
    write_colmap_model,
)
from diffdepth.io.errors import InputError
from diffdepth.io.mvs import read_multiview
from diffdepth.synth.multiview import make_multiview


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
    assert (tmp_path / "bin" / "images.bin").is_file() and (
        tmp_path / "txt" / "images.txt"
    ).is_file()
    a = read_colmap_model(tmp_path / "bin", tmp_path / "images")
    b = read_colmap_model(tmp_path / "txt", tmp_path / "images")
    _same(a, b, atol=0)
    assert np.array_equal(a.point_colors, b.point_colors)
    for i in range(len(a)):
        assert np.array_equal(a.obs_xy[i], b.obs_xy[i])
    _same(a, small)  # and equal to what was written
    assert a.default_ref() == int(np.argmax([len(o) for o in small.obs_ids]))


def test_read_multiview_finds_the_model(small, tmp_path):
    _save_images(small, tmp_path / "images")
    write_colmap_model(tmp_path / "sparse" / "0", small, binary=True)
    scene = read_multiview(tmp_path, require_points=True)
    _same(scene, small)


def test_quaternions():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(50, 4))
    R = quat_to_rotmat(q)
    assert np.allclose(R @ np.swapaxes(R, 1, 2), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(R), 1.0)
    for Ri in list(R) + [np.diag([1.0, -1, -1]), np.diag([-1.0, 1, -1]), np.diag([-1.0, -1, 1])]:
        assert np.allclose(quat_to_rotmat(rotmat_to_quat(Ri)), Ri, atol=1e-12)
    # 90 degrees about z: x -> y
    a = np.pi / 4
    Rz = quat_to_rotmat(np.array([np.cos(a), 0, 0, np.sin(a)]))
    assert np.allclose(Rz @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_undistort_points_inverts_distortion():
    K = np.array([[50.0, 0, 20], [0, 48, 15], [0, 0, 1]])
    dist = np.array([-0.12, 0.03, 0.002, -0.001])
    rng = np.random.default_rng(1)
    uv = rng.uniform(-0.4, 0.4, (200, 2))
    xy = distort(uv, dist) * [50, 48] + [20, 15]
    back = undistort_points(xy, K, dist)
    assert np.allclose(back, uv * [50, 48] + [20, 15], atol=1e-8)


def test_opencv_camera_is_undistorted(small, tmp_path):
    scene = small
    h, w = scene.shape(0)
    fx, fy, cx, cy = scene.K[0, 0, 0], scene.K[0, 1, 1], scene.K[0, 0, 2], scene.K[0, 1, 2]
    dist = np.array([-0.08, 0.01, 0.001, -0.0015])
    # render distorted images: each distorted pixel reads the pinhole image where it comes from
    import torch

    from diffdepth.image import sample_bilinear

    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    src = undistort_points(np.stack([xs.ravel(), ys.ravel()], -1), scene.K[0], dist)
    folder = tmp_path / "images"
    folder.mkdir()
    for name, im in zip(scene.names, scene.images):
        d = sample_bilinear(
            torch.from_numpy(im)[None],
            torch.from_numpy(src[:, 0].reshape(h, w)),
            torch.from_numpy(src[:, 1].reshape(h, w)),
        )[0].numpy()
        Image.fromarray(np.round(d * 255).astype(np.uint8)).save(folder / name)
    model = tmp_path / "model"
    write_colmap_model(model, scene, binary=False)
    # turn every camera into OPENCV and distort the observations
    lines = []
    for ln in (model / "cameras.txt").read_text().splitlines():
        if ln.startswith("#"):
            lines.append(ln)
            continue
        tok = ln.split()
        lines.append(
            " ".join([tok[0], "OPENCV", tok[2], tok[3], *tok[4:], *(repr(float(v)) for v in dist)])
        )
    (model / "cameras.txt").write_text("\n".join(lines) + "\n")
    out = []
    for ln in (model / "images.txt").read_text().splitlines():
        tok = ln.split()
        if ln.startswith("#") or len(tok) == 10 and not tok[-1].replace(".", "").isdigit():
            out.append(ln)
            continue
        arr = np.array(tok, dtype=np.float64).reshape(-1, 3)
        uv = (arr[:, :2] - 0.5 - [cx, cy]) / [fx, fy]
        arr[:, :2] = distort(uv, dist) * [fx, fy] + [cx, cy] + 0.5
        out.append(" ".join(f"{float(a)!r} {float(b)!r} {int(c)}" for a, b, c in arr))
    (model / "images.txt").write_text("\n".join(out) + "\n")
    got = read_colmap_model(model, folder)
    np.testing.assert_allclose(got.K, scene.K, atol=1e-12)
    for i in range(len(scene)):
        np.testing.assert_allclose(got.obs_xy[i], scene.obs_xy[i], atol=1e-3)
        diff = np.abs(got.images[i] - scene.images[i]).mean(-1)[3:-3, 3:-3]
        assert np.median(diff) < 0.02
        assert np.median(diff) < 0.5 * np.median(np.abs(got.images[i] - 0).mean(-1))


def test_errors_name_the_file(small, tmp_path):
    write_colmap_model(tmp_path / "m", small, binary=False)
    with pytest.raises(InputError, match="view00.png"):  # images missing
        read_colmap_model(tmp_path / "m", tmp_path)
    _save_images(small, tmp_path / "images")
    cams = tmp_path / "m" / "cameras.txt"
    text = cams.read_text()
    cams.write_text(text.replace("PINHOLE", "OPENCV_FISHEYE"))
    with pytest.raises(InputError, match=r"cameras.txt.*OPENCV_FISHEYE.*PINHOLE, SIMPLE_RADIAL"):
        read_colmap_model(tmp_path / "m", tmp_path / "images")
    cams.write_text(text)
    (tmp_path / "m" / "points3D.txt").write_text("# no points\n")
    with pytest.raises(InputError, match="points3D.txt.*expected sparse 3D points"):
        read_colmap_model(tmp_path / "m", tmp_path / "images", require_points=True)
    assert read_colmap_model(tmp_path / "m", tmp_path / "images").points3d is None
    (tmp_path / "m" / "points3D.txt").write_text("1 0.5 nonsense\n")
    with pytest.raises(InputError, match="points3D.txt: line 1"):
        read_colmap_model(tmp_path / "m", tmp_path / "images")
    # binary: truncated and corrupt files
    write_colmap_model(tmp_path / "b", small, binary=True)
    data = (tmp_path / "b" / "images.bin").read_bytes()
    (tmp_path / "b" / "images.bin").write_bytes(data[:-7])
    with pytest.raises(InputError, match="images.bin.*truncated"):
        read_colmap_model(tmp_path / "b", tmp_path / "images")
    (tmp_path / "b" / "images.bin").write_bytes(data + b"\x00")
    with pytest.raises(InputError, match="images.bin.*corrupt"):
        read_colmap_model(tmp_path / "b", tmp_path / "images")
    (tmp_path / "b" / "images.bin").write_bytes(data)
    (tmp_path / "b" / "points3D.bin").unlink()
    with pytest.raises(InputError, match="points3D.bin"):
        read_colmap_model(tmp_path / "b", tmp_path / "images")
