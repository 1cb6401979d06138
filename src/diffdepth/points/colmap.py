"""Sparse 3D points of a multi-view scene with COLMAP (pycolmap), and initial points from them.

Two routes:
- `sparse_points(scene)`: the cameras are known (a Middlebury camera file, a synthetic scene):
  SIFT features, exhaustive matching with geometric verification, then triangulation with the
  poses and intrinsics held fixed.
- `reconstruct(image_dir)`: nothing is known: incremental structure from motion.

Both hand the result back through the project's own COLMAP reader, so the observations follow
the project's pixel convention (centres at integers). pycolmap is an optional dependency:
``pip install diffdepth[mvs]``.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from diffdepth.io.colmap import read_colmap_model, write_colmap_model
from diffdepth.io.errors import InputError
from diffdepth.io.mvs import MultiViewScene
from diffdepth.points.base import PointSet

logger = logging.getLogger(__name__)


def _pycolmap():
    try:
        import pycolmap
    except ImportError:
        raise ImportError(
            "sparse points from images need pycolmap, which is not installed: "
            "pip install diffdepth[mvs]"
        ) from None
    return pycolmap


@contextmanager
def colmap_log(pycolmap, verbose: bool = False) -> Iterator[None]:
    """COLMAP logs through glog (to stderr); inside this block it shows only its errors, unless
    ``verbose`` or this module's logger is enabled for DEBUG (``diffdepth --verbose``)."""
    logging_ = getattr(pycolmap, "logging", None)
    if logging_ is None:  # a build without the logging module: leave its log as it is
        yield
        return
    show = verbose or logger.isEnabledFor(logging.DEBUG)
    old = logging_.minloglevel
    logging_.minloglevel = 0 if show else 2  # glog levels: 0 INFO, 1 WARNING, 2 ERROR
    try:
        yield
    finally:
        logging_.minloglevel = old


def _write_images(scene: MultiViewScene, folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i, img in enumerate(scene.images):
        name = f"{i:05d}.png"
        u8 = np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)
        Image.fromarray(u8).save(folder / name)
        names.append(name)
    return names


def _extract_features(
    pycolmap, db: Path, image_dir: Path, names: list[str], max_features: int, known: bool
) -> None:
    """SIFT features of ``names`` into the database ``db``.

    known: the cameras are known pinhole cameras, one per image (their intrinsics are set in
    the model afterwards); otherwise one shared camera whose intrinsics COLMAP estimates.
    """
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.sift.max_num_features = max_features
    options = {"extraction_options": extraction, "device": pycolmap.Device.cpu}
    if known:
        reader = pycolmap.ImageReaderOptions()
        reader.camera_model = "PINHOLE"
        options["reader_options"] = reader
        options["camera_mode"] = pycolmap.CameraMode.PER_IMAGE
    else:
        options["camera_mode"] = pycolmap.CameraMode.SINGLE
    pycolmap.extract_features(db, image_dir, image_names=names, **options)


def sparse_points(
    scene: MultiViewScene,
    max_features: int = 8192,
    workdir: str | Path | None = None,
    verbose: bool = False,
) -> MultiViewScene:
    """Triangulate sparse 3D points for a scene whose cameras are known.

    The scene's images (already pinhole) are matched exhaustively and points are triangulated
    with COLMAP's point triangulator, poses and intrinsics fixed. Returns a copy of the scene with
    points3d, obs_ids, obs_xy and point_colors filled in (K, R, t unchanged).

    max_features: SIFT features per image
    workdir:      folder for the COLMAP database and models (default: a temporary folder)
    verbose:      show COLMAP's own log (default: its errors only; see `colmap_log`)
    """
    pycolmap = _pycolmap()
    with colmap_log(pycolmap, verbose):
        return _sparse_points(pycolmap, scene, max_features, workdir)


def _sparse_points(pycolmap, scene: MultiViewScene, max_features: int, workdir) -> MultiViewScene:
    if len(scene) < 2:
        raise InputError(
            f"{scene.source or 'scene'}: expected at least 2 images, found {len(scene)}"
        )
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="diffdepth-colmap-")
        workdir = tmp.name
    workdir = Path(workdir)
    try:
        t0 = time.perf_counter()
        image_dir = workdir / "images"
        names = _write_images(scene, image_dir)
        db_path = workdir / "database.db"
        if db_path.exists():
            db_path.unlink()
        _extract_features(pycolmap, db_path, image_dir, names, max_features, known=True)
        # put the known intrinsics into the database before geometric verification uses them
        with pycolmap.Database.open(db_path) as db:
            by_name = {im.name: im for im in db.read_all_images()}
            image_ids, camera_ids = [], []
            for i, name in enumerate(names):
                im = by_name[name]
                cam = db.read_camera(im.camera_id)
                K = scene.K[i]
                cam.params = [K[0, 0], K[1, 1], K[0, 2] + 0.5, K[1, 2] + 0.5]
                cam.has_prior_focal_length = True
                db.update_camera(cam)
                image_ids.append(im.image_id)
                camera_ids.append(im.camera_id)
        t1 = time.perf_counter()
        pycolmap.match_exhaustive(db_path, device=pycolmap.Device.cpu)
        t2 = time.perf_counter()
        known = replace(scene, names=names, points3d=None, obs_ids=None, obs_xy=None)
        known.point_colors = None
        model_in = workdir / "known"
        write_colmap_model(
            model_in, known, binary=False, image_ids=image_ids, camera_ids=camera_ids
        )
        rec = pycolmap.Reconstruction(model_in)
        model_out = workdir / "triangulated"
        model_out.mkdir(exist_ok=True)
        rec = pycolmap.triangulate_points(rec, db_path, image_dir, model_out, clear_points=True)
        rec.write(model_out)
        t3 = time.perf_counter()
        tri = read_colmap_model(model_out, image_dir)
        n_points = 0 if tri.points3d is None else len(tri.points3d)
        logger.info(
            f"colmap: features {t1 - t0:.1f} s, matching {t2 - t1:.1f} s, "
            f"triangulation {t3 - t2:.1f} s, {n_points} points"
        )
    finally:
        if tmp is not None:
            tmp.cleanup()
    if tri.points3d is None or len(tri.points3d) == 0:
        raise InputError(
            f"{scene.source or 'scene'}: expected COLMAP to triangulate sparse points, found none "
            "(too little texture or overlap between the images?)"
        )
    order = [tri.names.index(n) for n in names]
    return replace(
        scene,
        points3d=tri.points3d,
        obs_ids=[tri.obs_ids[j] for j in order],
        obs_xy=[tri.obs_xy[j] for j in order],
        point_colors=tri.point_colors,
    )


def reconstruct(
    image_dir: str | Path,
    names: list[str] | None = None,
    max_features: int = 8192,
    workdir: str | Path | None = None,
    verbose: bool = False,
) -> MultiViewScene:
    """Recover cameras and sparse points from uncalibrated images (COLMAP incremental mapping).

    image_dir: folder of the images; names: which of them (default: every image file in it)
    verbose: show COLMAP's own log (default: its errors only)
    Returns the largest reconstruction as a MultiViewScene (images COLMAP could not register are
    left out).
    """
    pycolmap = _pycolmap()
    with colmap_log(pycolmap, verbose):
        return _reconstruct(pycolmap, Path(image_dir), names, max_features, workdir)


def _reconstruct(pycolmap, image_dir: Path, names, max_features: int, workdir) -> MultiViewScene:
    image_dir = Path(image_dir)
    if names is None:
        exts = {".png", ".jpg", ".jpeg", ".ppm", ".tif", ".tiff", ".bmp"}
        names = sorted(p.name for p in image_dir.iterdir() if p.suffix.lower() in exts)
    if len(names) < 2:
        raise InputError(f"{image_dir}: expected at least 2 images, found {len(names)}")
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="diffdepth-colmap-")
        workdir = tmp.name
    workdir = Path(workdir)
    try:
        db_path = workdir / "database.db"
        if db_path.exists():
            db_path.unlink()
        _extract_features(pycolmap, db_path, image_dir, names, max_features, known=False)
        pycolmap.match_exhaustive(db_path, device=pycolmap.Device.cpu)
        out = workdir / "sparse"
        out.mkdir(exist_ok=True)
        recs = pycolmap.incremental_mapping(db_path, image_dir, out)
        if not recs:
            raise InputError(f"{image_dir}: expected COLMAP to register the images, found no model")
        best = max(recs.values(), key=lambda r: r.num_reg_images())
        model = out / "best"
        model.mkdir(exist_ok=True)
        best.write(model)
        scene = read_colmap_model(model, image_dir, require_points=True)
    finally:
        if tmp is not None:
            tmp.cleanup()
    return scene


def reference_points(scene: MultiViewScene, ref: int) -> PointSet:
    """Initial points of reference image ``ref``: the sparse points it sees, projected into it.

    value = inverse depth (the multi-view label); confidence = track length / max track length
    (points seen by more images are better triangulated). Depth for occlusion is 1 / value.
    """
    xy, depth, ids = scene.visible_points(ref)
    counts = np.bincount(np.concatenate(scene.obs_ids), minlength=len(scene.points3d))
    track = counts[ids].astype(np.float32)
    conf = track / max(float(track.max()), 1.0) if len(track) else track
    return PointSet(xy, 1.0 / depth, conf)
