"""COLMAP sparse models (text or binary), read and written through pycolmap.

pycolmap is the optional dependency of multi-view input: ``pip install diffdepth[mvs]``.

Conventions. COLMAP puts the centre of the top-left pixel at (0.5, 0.5); this project puts it at
(0, 0). Reading subtracts 0.5 from the principal point and from every 2D observation, writing adds
it back. Image poses are COLMAP's ``cam_from_world``, so ``x_cam = R X + t`` as in
`MultiViewScene`.

Every COLMAP camera model is read.  A camera with distortion (anything but SIMPLE_PINHOLE and
PINHOLE) is resampled to the pinhole camera with its focal lengths and principal point
(``Camera.calibration_matrix``) and its size: every pinhole pixel reads the image bilinearly
where the camera model maps its ray; its 2D observations are undistorted through the model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from diffdepth.image import sample_bilinear
from diffdepth.io.errors import InputError
from diffdepth.io.images import read_image
from diffdepth.types import MultiViewScene


def pycolmap_module(purpose: str):
    """The pycolmap module, or an InputError saying how to install it (``purpose``: what needs
    it, e.g. "reading the COLMAP model in sparse/")."""
    try:
        import pycolmap
    except ImportError:
        raise InputError(
            f"{purpose} needs pycolmap, which is not installed: pip install diffdepth[mvs]"
        ) from None
    return pycolmap


def _model_files(model_dir: Path) -> dict[str, Path]:
    for ext in ("bin", "txt"):
        files = {k: model_dir / f"{k}.{ext}" for k in ("cameras", "images", "points3D")}
        if files["cameras"].is_file():
            for p in files.values():
                if not p.is_file():
                    raise InputError(
                        f"{model_dir}: expected {p.name} beside cameras.{ext}, found nothing"
                    )
            return files
    raise InputError(
        f"{model_dir}: expected a COLMAP model (cameras/images/points3D .bin or .txt), found none"
    )


def _pixels_to_rays(xy: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Rays [N, 3] (z = 1) of COLMAP pixel positions xy [N, 2] through the pinhole camera K."""
    uv = (xy - K[:2, 2]) / [K[0, 0], K[1, 1]]
    return np.concatenate([uv, np.ones((len(uv), 1))], axis=1)


def undistort_image(img: np.ndarray, camera) -> np.ndarray:
    """The image [H, W, C] of a pycolmap camera resampled to the pinhole camera with the same
    calibration matrix and size (bilinear; border pixels repeated)."""
    h, w = img.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    centres = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], axis=1)  # COLMAP pixel centres
    rays = _pixels_to_rays(centres, camera.calibration_matrix())
    src = camera.img_from_cam(rays, check_cheirality=False) - 0.5  # our pixel convention
    out, _ = sample_bilinear(
        torch.from_numpy(np.ascontiguousarray(img))[None],
        torch.from_numpy(src[:, 0].reshape(h, w)).to(torch.float32),
        torch.from_numpy(src[:, 1].reshape(h, w)).to(torch.float32),
    )
    return out.numpy()


def read_colmap_model(
    model_dir: str | Path, image_dir: str | Path, require_points: bool = False
) -> MultiViewScene:
    """Read a COLMAP sparse model (binary preferred over text) and its images, undistorted.

    model_dir: folder with cameras, images and points3D (.bin or .txt)
    image_dir: folder the image names of the model are relative to
    require_points: raise InputError when the model has no 3D points

    Images are ordered by image id; 3D points are renumbered 0..M-1 in the order of their ids.
    Observations that refer to no 3D point, or to one missing from points3D, are dropped.
    """
    model_dir, image_dir = Path(model_dir), Path(image_dir)
    files = _model_files(model_dir)
    pycolmap = pycolmap_module(f"reading the COLMAP model in {model_dir}")
    try:
        rec = pycolmap.Reconstruction(model_dir)
    except Exception as err:  # pycolmap raises several types for unreadable files
        first = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise InputError(f"{model_dir}: expected a readable COLMAP model, found: {first}") from None
    if rec.num_images() == 0:
        raise InputError(f"{files['images']}: expected at least one image, found none")
    if require_points and rec.num_points3D() == 0:
        raise InputError(f"{files['points3D']}: expected sparse 3D points, found none")

    point_ids = np.array(sorted(rec.points3D), dtype=np.int64)
    row_of = {int(pid): i for i, pid in enumerate(point_ids)}
    points3d = np.array([rec.points3D[int(p)].xyz for p in point_ids]).reshape(-1, 3)
    colors = np.array([rec.points3D[int(p)].color for p in point_ids], np.uint8).reshape(-1, 3)

    images, names, Ks, Rs, ts, obs_ids, obs_xy = [], [], [], [], [], [], []
    for iid in sorted(rec.images):
        im = rec.images[iid]
        cam = rec.cameras[im.camera_id]
        img_path = image_dir / im.name
        if not img_path.is_file():
            raise InputError(
                f"{files['images']}: names image {im.name}, expected it at {img_path}, "
                "found nothing"
            )
        img = read_image(img_path)
        if img.shape[:2] != (cam.height, cam.width):
            raise InputError(
                f"{img_path}: expected {cam.width}x{cam.height} pixels (camera "
                f"{im.camera_id}), found {img.shape[1]}x{img.shape[0]}"
            )
        K = cam.calibration_matrix()
        pinhole = cam.model_name in ("SIMPLE_PINHOLE", "PINHOLE")
        seen = [p for p in im.points2D if p.has_point3D() and int(p.point3D_id) in row_of]
        xy = np.array([p.xy for p in seen], np.float64).reshape(-1, 2)
        if not pinhole:
            img = undistort_image(img, cam)
            if len(xy):
                xy = (cam.cam_from_img(xy) * [K[0, 0], K[1, 1]]) + K[:2, 2]
        pose = im.cam_from_world()
        K = K.copy()
        K[0, 2] -= 0.5
        K[1, 2] -= 0.5
        images.append(img)
        names.append(im.name)
        Ks.append(K)
        Rs.append(pose.rotation.matrix())
        ts.append(np.asarray(pose.translation, np.float64))
        obs_ids.append(np.array([row_of[int(p.point3D_id)] for p in seen], np.int64))
        obs_xy.append((xy - 0.5).astype(np.float32))
    has_points = len(point_ids) > 0
    return MultiViewScene(
        images,
        names,
        np.array(Ks),
        np.array(Rs),
        np.array(ts),
        points3d=points3d if has_points else None,
        obs_ids=obs_ids if has_points else None,
        obs_xy=obs_xy if has_points else None,
        point_colors=colors if has_points else None,
        source=str(model_dir),
    )


def write_colmap_model(
    model_dir: str | Path,
    scene: MultiViewScene,
    binary: bool = True,
    image_ids: list[int] | None = None,
    camera_ids: list[int] | None = None,
) -> None:
    """Write a scene as a COLMAP model: one PINHOLE camera per image.

    image_ids, camera_ids: COLMAP ids of the images and of their cameras, in scene order
    (default 1..n); point ids are 1..M. The images themselves are not written (their names are).
    Principal points and observations get COLMAP's +0.5 origin.
    """
    pycolmap = pycolmap_module("writing a COLMAP model")
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    n = len(scene)
    m = 0 if scene.points3d is None else len(scene.points3d)
    iids = list(range(1, n + 1)) if image_ids is None else [int(v) for v in image_ids]
    cids = list(range(1, n + 1)) if camera_ids is None else [int(v) for v in camera_ids]
    rec = pycolmap.Reconstruction()
    for i in range(n):
        K = scene.K[i]
        h, w = scene.shape(i)
        params = [K[0, 0], K[1, 1], K[0, 2] + 0.5, K[1, 2] + 0.5]
        camera = pycolmap.Camera(
            model="PINHOLE", width=w, height=h, params=params, camera_id=cids[i]
        )
        rec.add_camera_with_trivial_rig(camera)
        xy = scene.obs_xy[i].astype(np.float64) + 0.5 if m else np.zeros((0, 2))
        image = pycolmap.Image(
            name=scene.names[i], keypoints=xy, camera_id=cids[i], image_id=iids[i]
        )
        pose = pycolmap.Rigid3d(pycolmap.Rotation3d(scene.R[i]), scene.t[i])
        rec.add_image_with_trivial_frame(image, pose)
    if m:
        colors = scene.point_colors
        colors = np.zeros((m, 3), np.uint8) if colors is None else colors
        tracks = [pycolmap.Track() for _ in range(m)]
        for i in range(n):
            for j, pid in enumerate(scene.obs_ids[i]):
                tracks[pid].add_element(iids[i], j)
        for k in range(m):
            rec.add_point3D(scene.points3d[k], tracks[k], colors[k])
    if binary:
        rec.write_binary(model_dir)
    else:
        rec.write_text(model_dir)
