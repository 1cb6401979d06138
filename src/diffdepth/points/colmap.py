"""Sparse 3D points of a multi-view scene with COLMAP (pycolmap), and initial points from them.

Two routes:
- `sparse_points(scene)`: the cameras are known (a Middlebury camera file, a synthetic scene):
  SIFT features, exhaustive matching, verification of the matches against the known epipolar
  geometry, then triangulation with the poses and intrinsics held fixed.
- `reconstruct(image_dir)`: nothing is known: incremental structure from motion.

Both hand the result back through the project's own COLMAP reader, so the observations follow
the project's pixel convention (centres at integers). pycolmap is an optional dependency:
``pip install diffdepth[mvs]``.

Why COLMAP's defaults triangulate nothing for two cameras, and what `sparse_points` does
instead (each was tested on a rectified Tsukuba pair, f = 615 px, disparities 5 to 15 px):

- ``IncrementalTriangulatorOptions.ignore_two_view_tracks`` is on by default: a track seen by
  only two images never becomes a point. With two cameras every track is such a track, so no
  point is made whatever the baseline ('Image sees 0 / 678 points'). Two-view tracks are kept
  when the scene has two images and left out otherwise: a wrong match along the epipolar line
  passes every check of a two-view track, and on templeSparseRing images 1, 2 and 11 only 52 %
  of the two-view points lay on the temple (its bounding box), against 100 % of the others.
- The angle thresholds (``min_angle`` of the triangulator and ``filter_min_tri_angle`` of the
  mapper, 1.5 degrees each) reject every point of a narrow baseline: the angle is about
  disparity / focal length, 0.5 to 1.4 degrees on the Tsukuba pair. Both must be lowered (one
  alone still leaves no point). Here the threshold is the angle of ``min_disparity`` px
  (default 0.5) at the largest focal length: inverse depth, the label of a multi-view run, is
  proportional to disparity, so a point of small disparity still carries a usable label.
- COLMAP's geometric verification estimates the geometry of each pair anew; a pure translation
  whose matches a homography explains is classified PLANAR_OR_PANORAMIC (the Tsukuba pair is),
  and then the homography's inliers may be kept instead of the epipolar ones, and a small
  uniform shift near the border can be taken for a watermark (such pairs are dropped). The
  poses are known, so the matches are verified against the known epipolar geometry instead
  (distance to the epipolar line in both images <= ``max_epipolar_error`` px) and the pair is
  written as CALIBRATED.
- Camera and image ids of the database and of the known-pose model match (they are read from
  the database); this was checked and is not a cause.
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

from diffdepth.io.colmap import pycolmap_module, read_colmap_model, write_colmap_model
from diffdepth.io.errors import InputError, parameter
from diffdepth.types import MultiViewScene, PointSet

logger = logging.getLogger(__name__)


@contextmanager
def _workdir(workdir: str | Path | None) -> Iterator[Path]:
    """``workdir`` as a Path, or a temporary folder removed afterwards when it is None."""
    if workdir is not None:
        yield Path(workdir)
        return
    with tempfile.TemporaryDirectory(prefix="diffdepth-colmap-") as tmp:
        yield Path(tmp)


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


def fundamental_matrix(scene: MultiViewScene, i: int, j: int) -> np.ndarray:
    """F [3, 3] with ``x_j^T F x_i = 0`` for homogeneous pixels (x, y, 1) of images i and j
    (the scene's pixel convention) that see the same world point."""
    R_rel = scene.R[j] @ scene.R[i].T
    t_rel = scene.t[j] - R_rel @ scene.t[i]
    tx = np.array(
        [[0.0, -t_rel[2], t_rel[1]], [t_rel[2], 0.0, -t_rel[0]], [-t_rel[1], t_rel[0], 0.0]]
    )
    return np.linalg.inv(scene.K[j]).T @ tx @ R_rel @ np.linalg.inv(scene.K[i])


def epipolar_distance(F: np.ndarray, xy_i: np.ndarray, xy_j: np.ndarray) -> np.ndarray:
    """Larger of the two distances (px) of matched pixels to their epipolar lines:
    xy_j to F x_i and xy_i to F^T x_j. xy_i, xy_j [M, 2] -> [M]."""
    hi = np.concatenate([xy_i, np.ones((len(xy_i), 1))], 1)
    hj = np.concatenate([xy_j, np.ones((len(xy_j), 1))], 1)
    li = hi @ F.T  # epipolar lines in image j
    lj = hj @ F  # epipolar lines in image i
    r = np.abs(np.sum(hj * li, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        dj = r / np.hypot(li[:, 0], li[:, 1])
        di = r / np.hypot(lj[:, 0], lj[:, 1])
    return np.nan_to_num(np.maximum(di, dj), nan=np.inf)


def _verify_known_poses(
    pycolmap,
    db_path: Path,
    scene: MultiViewScene,
    image_ids: list[int],
    max_error: float,
    min_matches: int,
) -> dict[tuple[int, int], int]:
    """Keep the matches of every pair that fit the known epipolar geometry; write each pair's
    two-view geometry as CALIBRATED. Returns {(i, j): inliers} by scene index."""
    index = {iid: k for k, iid in enumerate(image_ids)}
    kept = {}
    with pycolmap.Database.open(db_path) as db:
        db.clear_two_view_geometries()
        keypoints = {iid: db.read_keypoints(iid)[:, :2] - 0.5 for iid in image_ids}
        pair_ids, matches = db.read_all_matches()
        for pair_id, m in zip(pair_ids, matches):
            id1, id2 = pycolmap.pair_id_to_image_pair(pair_id)
            if id1 not in index or id2 not in index or len(m) == 0:
                continue
            i, j = index[id1], index[id2]
            F = fundamental_matrix(scene, i, j)
            err = epipolar_distance(F, keypoints[id1][m[:, 0]], keypoints[id2][m[:, 1]])
            inliers = np.ascontiguousarray(m[err <= max_error])
            kept[(i, j)] = len(inliers)
            if len(inliers) < min_matches:
                continue
            # COLMAP's F and E act on its own pixel origin (centres at 0.5)
            shift = np.array([[1.0, 0.0, -0.5], [0.0, 1.0, -0.5], [0.0, 0.0, 1.0]])
            geometry = pycolmap.TwoViewGeometry(
                config=pycolmap.TwoViewGeometryConfiguration.CALIBRATED,
                F=shift.T @ F @ shift,
                inlier_matches=inliers,
            )
            db.write_two_view_geometry(id1, id2, geometry)
    return kept


def _triangulation_options(pycolmap, scene: MultiViewScene, min_disparity: float, seed: int):
    """Point triangulation options for known poses: two-view tracks kept for two images, angle
    thresholds at the angle of ``min_disparity`` px (see the module docstring), the random
    seeds of the pipeline and of the triangulator's RANSAC set to ``seed``."""
    options = pycolmap.IncrementalPipelineOptions()
    # -1 (COLMAP's default) seeds RANSAC from the clock: the points then differ run to run
    options.random_seed = seed
    options.triangulation.random_seed = seed
    f_max = float(np.max(scene.K[:, [0, 1], [0, 1]]))
    angle = float(np.degrees(np.arctan2(min_disparity, f_max)))
    options.triangulation.ignore_two_view_tracks = len(scene) > 2
    options.triangulation.min_angle = min(angle, options.triangulation.min_angle)
    options.mapper.filter_min_tri_angle = min(angle, options.mapper.filter_min_tri_angle)
    return options


def sparse_points(
    scene: MultiViewScene,
    max_features: int = 8192,
    workdir: str | Path | None = None,
    verbose: bool = False,
    max_epipolar_error: float = 4.0,
    min_disparity: float = 0.5,
    min_matches: int = 15,
    seed: int = 0,
) -> MultiViewScene:
    """Triangulate sparse 3D points for a scene whose cameras are known (two images or more).

    The scene's images (already pinhole) are matched exhaustively, the matches of each pair are
    kept where they fit the known epipolar geometry, and points are triangulated with COLMAP's
    point triangulator, poses and intrinsics fixed. Returns a copy of the scene with points3d,
    obs_ids, obs_xy and point_colors filled in (K, R, t unchanged).

    max_features:       SIFT features per image
    workdir:            folder for the COLMAP database and models (default: a temporary folder)
    verbose:            show COLMAP's own log (default: its errors only; see `colmap_log`)
    max_epipolar_error: a match is kept when each point lies within this many px of the
                        epipolar line of the other
    min_disparity:      the smallest triangulation angle accepted is that of this many px at
                        the largest focal length (narrow baselines; see the module docstring)
    min_matches:        pairs with fewer verified matches are left out
    seed:               seed of COLMAP's random numbers (RANSAC): the same seed gives the
                        same points
    """
    source = f"{scene.source}: has no sparse points; " if scene.source else ""
    pycolmap = pycolmap_module(
        f"{source}matching and triangulating sparse points",
        f"or give the points ({parameter('points')})",
    )
    if not 0 <= int(seed) < 2**31:  # COLMAP's seeds are C ints
        seed = int(seed) % 2**31
    with colmap_log(pycolmap, verbose):
        pycolmap.set_random_seed(int(seed))
        return _sparse_points(
            pycolmap,
            scene,
            max_features,
            workdir,
            max_epipolar_error,
            min_disparity,
            min_matches,
            int(seed),
        )


def _sparse_points(
    pycolmap,
    scene: MultiViewScene,
    max_features: int,
    workdir,
    max_epipolar_error: float,
    min_disparity: float,
    min_matches: int,
    seed: int,
) -> MultiViewScene:
    if len(scene) < 2:
        raise InputError(
            f"{scene.source or 'scene'}: expected at least 2 images, found {len(scene)}"
        )
    with _workdir(workdir) as workdir:
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
        matching = pycolmap.FeatureMatchingOptions()
        matching.skip_geometric_verification = True
        pycolmap.match_exhaustive(db_path, matching_options=matching, device=pycolmap.Device.cpu)
        verified = _verify_known_poses(
            pycolmap, db_path, scene, image_ids, max_epipolar_error, min_matches
        )
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
        options = _triangulation_options(pycolmap, scene, min_disparity, seed)
        rec = pycolmap.triangulate_points(
            rec, db_path, image_dir, model_out, clear_points=True, options=options
        )
        rec.write(model_out)
        t3 = time.perf_counter()
        tri = read_colmap_model(model_out, image_dir)
        n_points = 0 if tri.points3d is None else len(tri.points3d)
        pairs = ", ".join(f"{names[i]}-{names[j]} {n}" for (i, j), n in verified.items())
        logger.info(
            f"colmap: features {t1 - t0:.1f} s, matching {t2 - t1:.1f} s, "
            f"triangulation {t3 - t2:.1f} s, {n_points} points; verified matches: {pairs}"
        )
    if tri.points3d is None or len(tri.points3d) == 0:
        best = max(verified.values(), default=0)
        raise InputError(
            f"{scene.source or 'scene'}: expected COLMAP to triangulate sparse points, found none "
            f"(at most {best} matches of a pair fit the cameras' epipolar geometry within "
            f"{max_epipolar_error:g} px: too little texture or overlap, or wrong cameras?)"
        )
    order = [tri.names.index(n) for n in names]
    return replace(
        scene,
        points3d=tri.points3d,
        obs_ids=[tri.obs_ids[j] for j in order],
        obs_xy=[tri.obs_xy[j] for j in order],
        point_colors=tri.point_colors,
    )


# ---- the sparse model of a result, saved and reused -----------------------------------------

#: the folder of a result (or of ``run --all``'s output) that holds the scene's sparse model
SPARSE_FOLDER = "sparse"
_SPARSE_ARRAYS = "sparse.npz"
_SPARSE_INFO = "sparse.json"


def sparse_fingerprint(scene: MultiViewScene, seed: int) -> str:
    """SHA-256 of what `sparse_points` makes its points from: the images, the cameras, the
    names and the seed (with the options of its defaults)."""
    import hashlib

    h = hashlib.sha256()
    h.update(repr(("sparse_points", 1, int(seed), list(scene.names))).encode())
    for a in (scene.K, scene.R, scene.t, *scene.images):
        arr = np.ascontiguousarray(a)
        h.update(repr((arr.dtype.str, arr.shape)).encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def save_sparse_model(folder: str | Path, scene: MultiViewScene, fingerprint: str) -> None:
    """The scene's sparse points in ``folder``: a COLMAP text model (cameras.txt, images.txt,
    points3D.txt, for COLMAP and other tools), the same points as arrays (sparse.npz, read
    back exactly by `load_sparse_model`) and sparse.json (the fingerprint it was made for)."""
    import json

    folder = Path(folder)
    if scene.points3d is None or scene.obs_ids is None or scene.obs_xy is None:
        raise ValueError("save_sparse_model: the scene has no sparse points")
    write_colmap_model(folder, scene, binary=False)
    counts = np.array([len(ids) for ids in scene.obs_ids], np.int64)
    colors = scene.point_colors
    np.savez(
        folder / _SPARSE_ARRAYS,
        points3d=np.asarray(scene.points3d, np.float64),
        point_colors=np.zeros((0, 3), np.uint8) if colors is None else np.asarray(colors),
        obs_counts=counts,
        obs_ids=np.concatenate([np.asarray(v, np.int64) for v in scene.obs_ids]),
        obs_xy=np.concatenate([np.asarray(v, np.float32).reshape(-1, 2) for v in scene.obs_xy]),
    )
    info = {"fingerprint": fingerprint, "points": len(scene.points3d), "images": len(scene)}
    (folder / _SPARSE_INFO).write_text(json.dumps(info, indent=2) + "\n")


def load_sparse_model(
    folder: str | Path, scene: MultiViewScene, fingerprint: str
) -> MultiViewScene | None:
    """``scene`` with the sparse points saved in ``folder`` by `save_sparse_model`, when they
    were made for ``fingerprint`` (the same images, cameras and seed); None when the folder
    holds no such model (absent, made for other inputs, or unreadable)."""
    import json

    folder = Path(folder)
    try:
        info = json.loads((folder / _SPARSE_INFO).read_text(encoding="utf-8"))
        if not isinstance(info, dict) or info.get("fingerprint") != fingerprint:
            return None
        with np.load(folder / _SPARSE_ARRAYS, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        counts = arrays["obs_counts"]
        if len(counts) != len(scene) or counts.sum() != len(arrays["obs_ids"]):
            return None
        edges = np.cumsum(counts)[:-1]
        colors = arrays["point_colors"]
        return replace(
            scene,
            points3d=arrays["points3d"],
            obs_ids=np.split(arrays["obs_ids"], edges),
            obs_xy=np.split(arrays["obs_xy"], edges),
            point_colors=colors if len(colors) == len(arrays["points3d"]) else None,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


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
    pycolmap = pycolmap_module("matching and triangulating sparse points")
    with colmap_log(pycolmap, verbose):
        return _reconstruct(pycolmap, Path(image_dir), names, max_features, workdir)


def _reconstruct(pycolmap, image_dir: Path, names, max_features: int, workdir) -> MultiViewScene:
    image_dir = Path(image_dir)
    if names is None:
        exts = {".png", ".jpg", ".jpeg", ".ppm", ".tif", ".tiff", ".bmp"}
        names = sorted(p.name for p in image_dir.iterdir() if p.suffix.lower() in exts)
    if len(names) < 2:
        raise InputError(f"{image_dir}: expected at least 2 images, found {len(names)}")
    with _workdir(workdir) as workdir:
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
    return scene


def reference_points(scene: MultiViewScene, ref: int) -> PointSet:
    """Initial points of reference image ``ref``: the sparse points it sees, projected into it.

    value = inverse depth (the multi-view label); confidence = track length / max track length
    (points seen by more images are better triangulated). Depth for occlusion is 1 / value.
    """
    if scene.points3d is None or scene.obs_ids is None:
        raise InputError(
            f"{scene.source or 'scene'}: expected sparse 3D points, found none "
            "(compute them with diffdepth.points.colmap.sparse_points)"
        )
    xy, depth, ids = scene.visible_points(ref)
    counts = np.bincount(np.concatenate(scene.obs_ids), minlength=len(scene.points3d))
    track = counts[ids].astype(np.float32)
    conf = track / max(float(track.max()), 1.0) if len(track) else track
    return PointSet(xy, 1.0 / depth, conf)
