"""Checks of calibrated cameras, whichever reader made them: image names inside the image
folder, unit quaternions, and whole scenes (`validate_cameras`)."""

from __future__ import annotations

import math
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np

from diffdepth.io.errors import InputError
from diffdepth.types import MultiViewScene


def resolve_image_path(image_dir: str | Path, name: str, where: str) -> Path:
    """``image_dir / name`` for an image name read from a camera file, refused (InputError
    naming ``where``) when the name is empty, absolute, or climbs out of the folder with
    '..' (a camera file names images inside its image folder, nothing else)."""
    shown = repr(name[:80]) + ("..." if len(name) > 80 else "")
    if not name or "\x00" in name:
        raise InputError(f"{where}: expected an image name, found {shown}")
    for pure in (PurePosixPath(name), PureWindowsPath(name)):
        if pure.is_absolute() or pure.drive or pure.root or ".." in pure.parts:
            raise InputError(
                f"{where}: image name {shown} points outside the image folder {image_dir}; "
                "expected a path inside it"
            )
    return Path(image_dir) / name


#: tolerance of the rotation checks (R^T R = I, |q| = 1)
ROTATION_TOLERANCE = 1e-3


def validate_cameras(scene: MultiViewScene) -> MultiViewScene:
    """Check the cameras and points of a scene, whichever reader produced it: finite values,
    positive focal lengths, intrinsics with (0, 0, 1) as last row, rotations (R^T R = I,
    det R = +1), image names inside the image folder, finite sparse points and observations.
    Returns the scene; InputError naming the image and what was found otherwise."""
    src = scene.source or "scene"
    n = len(scene)
    if n == 0:
        raise InputError(f"{src}: expected at least one image, found none")
    for i in range(n):
        where = f"{src}: image {scene.names[i]}"
        K, R, t = scene.K[i], scene.R[i], scene.t[i]
        if not (np.isfinite(K).all() and np.isfinite(R).all() and np.isfinite(t).all()):
            raise InputError(f"{where}: expected finite camera values, found NaN or infinity")
        fx, fy = K[0, 0], K[1, 1]
        if not (fx > 0 and fy > 0):
            raise InputError(
                f"{where}: expected positive focal lengths, found fx = {fx:g}, fy = {fy:g}"
            )
        if np.abs(K[2] - (0.0, 0.0, 1.0)).max() > 1e-9 or K[1, 0] != 0:
            raise InputError(
                f"{where}: expected intrinsics [[fx, s, cx], [0, fy, cy], [0, 0, 1]], found "
                f"last rows {K[1].tolist()} {K[2].tolist()}"
            )
        err = np.abs(R.T @ R - np.eye(3)).max()
        if err > ROTATION_TOLERANCE or np.linalg.det(R) <= 0:
            what = "a reflection" if np.linalg.det(R) < 0 else f"R^T R - I up to {err:.2g}"
            raise InputError(f"{where}: expected a rotation matrix, found {what}")
        h, w = scene.shape(i)
        if h < 1 or w < 1:
            raise InputError(f"{where}: expected an image with pixels, found {w} x {h}")
        if not np.isfinite(scene.images[i]).all():
            raise InputError(f"{where}: expected finite pixel values, found NaN or infinity")
    if scene.points3d is not None and not np.isfinite(scene.points3d).all():
        bad = int((~np.isfinite(scene.points3d).all(1)).sum())
        raise InputError(f"{src}: {bad} sparse 3D point(s) have non-finite coordinates")
    if scene.obs_xy is not None:
        for name, xy in zip(scene.names, scene.obs_xy):
            if not np.isfinite(xy).all():
                raise InputError(f"{src}: image {name}: observations with non-finite positions")
    return scene


def check_unit_quaternion(q: np.ndarray, where: str) -> None:
    """A camera pose quaternion (qw, qx, qy, qz) must be finite and of length 1."""
    with np.errstate(over="ignore"):
        norm = float(np.linalg.norm(q)) if np.isfinite(q).all() else math.nan
    if not abs(norm - 1.0) <= ROTATION_TOLERANCE:
        raise InputError(
            f"{where}: expected a unit quaternion (qw, qx, qy, qz), found length {norm:g}"
        )
