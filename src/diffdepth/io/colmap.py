"""COLMAP sparse models: our own reader and writer for the text and the binary format.

Conventions. COLMAP puts the centre of the top-left pixel at (0.5, 0.5); this project puts it at
(0, 0). Reading subtracts 0.5 from the principal point and from every 2D observation, writing adds
it back. Image poses are COLMAP's ``cam_from_world``: quaternion (qw, qx, qy, qz) and translation
t, so ``x_cam = R(q) X + t`` as in `MultiViewScene`.

Camera models read (parameters in COLMAP's order):

    SIMPLE_PINHOLE  f, cx, cy                 id 0
    PINHOLE         fx, fy, cx, cy            id 1
    SIMPLE_RADIAL   f, cx, cy, k              id 2
    RADIAL          f, cx, cy, k1, k2         id 3
    OPENCV          fx, fy, cx, cy, k1, k2, p1, p2   id 4

Distortion acts on normalised coordinates (u, v) = ((x - cx) / fx, (y - cy) / fy), r2 = u² + v²:
``u_d = u (1 + k1 r2 + k2 r2²) + 2 p1 u v + p2 (r2 + 2 u²)`` and
``v_d = v (1 + k1 r2 + k2 r2²) + 2 p2 u v + p1 (r2 + 2 v²)``. Distorted images are resampled to
a pinhole camera with the same fx, fy, cx, cy and size (bilinear sampling of the distorted image
at the distorted position of every undistorted pixel), and 2D observations are undistorted by
inverting the map with fixed-point iterations.

Binary layout (little-endian, as COLMAP's ``ReadCamerasBinary`` / ``ReadImagesBinary`` /
``ReadPoints3DBinary`` read it):

    cameras.bin   uint64 n; n x [uint32 camera_id, int32 model_id, uint64 width,
                  uint64 height, float64 params[k(model)]]
    images.bin    uint64 n; n x [uint32 image_id, float64 qw qx qy qz, float64 tx ty tz,
                  uint32 camera_id, name bytes ending in NUL, uint64 m,
                  m x [float64 x, float64 y, int64 point3D_id (-1: none)]]
    points3D.bin  uint64 n; n x [uint64 point3D_id, float64 x y z, uint8 r g b,
                  float64 error, uint64 track_length,
                  track_length x [uint32 image_id, uint32 point2D_idx]]

Text layout: ``cameras.txt`` lines ``CAMERA_ID MODEL WIDTH HEIGHT PARAMS...``; ``images.txt``
two lines per image, ``IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME`` then ``X Y POINT3D_ID ...``
(possibly empty); ``points3D.txt`` lines ``POINT3D_ID X Y Z R G B ERROR (IMAGE_ID POINT2D_IDX)...``.
Lines starting with ``#`` are comments.

Why our own reader rather than ``pycolmap.Reconstruction`` (pycolmap 4.x, measured on the
hostile-input corpus in tests/hostile): pycolmap reads every camera model, but on a
``points3D.bin`` whose count claims 10^12 points it runs for over a minute instead of failing,
it reads a colour of 300 as 44, normalises a quaternion of length 2 or 7 without a word, ignores
trailing bytes, and fails on bad text lines with a C++ check message that names no line. This
reader refuses each of those with one line naming the file and the line or record, and it
needs no optional dependency, so ``--points`` with a COLMAP model works on the core install.
pycolmap remains the engine for matching and triangulation (`diffdepth.points.colmap`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from diffdepth.image import sample_bilinear
from diffdepth.io.cameras import check_unit_quaternion, resolve_image_path
from diffdepth.io.errors import InputError
from diffdepth.io.images import is_file, read_image
from diffdepth.types import MultiViewScene


def pycolmap_module(purpose: str, otherwise: str = ""):
    """The pycolmap module, or an InputError saying how to install it (``purpose``: what needs
    it, e.g. "matching and triangulating sparse points"; ``otherwise``: another way, said in
    parentheses after the install line)."""
    try:
        import pycolmap
    except ImportError:
        alt = f" ({otherwise})" if otherwise else ""
        raise InputError(
            f"{purpose} needs pycolmap, which is not installed: pip install diffdepth[mvs]{alt}"
        ) from None
    return pycolmap


# model name -> (COLMAP model id, number of parameters)
CAMERA_MODELS: dict[str, tuple[int, int]] = {
    "SIMPLE_PINHOLE": (0, 3),
    "PINHOLE": (1, 4),
    "SIMPLE_RADIAL": (2, 4),
    "RADIAL": (3, 5),
    "OPENCV": (4, 8),
}
_MODEL_BY_ID = {mid: name for name, (mid, _) in CAMERA_MODELS.items()}
# every COLMAP model id with its name and parameter count, to read files that hold other models
_ALL_MODELS = {
    0: ("SIMPLE_PINHOLE", 3),
    1: ("PINHOLE", 4),
    2: ("SIMPLE_RADIAL", 4),
    3: ("RADIAL", 5),
    4: ("OPENCV", 8),
    5: ("OPENCV_FISHEYE", 8),
    6: ("FULL_OPENCV", 12),
    7: ("FOV", 5),
    8: ("SIMPLE_RADIAL_FISHEYE", 4),
    9: ("RADIAL_FISHEYE", 5),
    10: ("THIN_PRISM_FISHEYE", 12),
    11: ("RAD_TAN_THIN_PRISM_FISHEYE", 16),
}


@dataclass
class ColmapCamera:
    """One COLMAP camera: model name, size and parameters (COLMAP's order and pixel origin)."""

    model: str
    width: int
    height: int
    params: np.ndarray  # float64 [k]

    def pinhole(self) -> tuple[np.ndarray, np.ndarray]:
        """K [3,3] (COLMAP pixel origin) and distortion (k1, k2, p1, p2) float64 [4]."""
        p = self.params
        dist = np.zeros(4)
        if self.model in ("SIMPLE_PINHOLE", "SIMPLE_RADIAL", "RADIAL"):
            fx = fy = p[0]
            cx, cy = p[1], p[2]
            dist[: len(p) - 3] = p[3:]
        else:  # PINHOLE, OPENCV
            fx, fy, cx, cy = p[:4]
            dist[: len(p) - 4] = p[4:]
        K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        return K, dist


def _camera(model: str, width: int, height: int, params: np.ndarray, where: str) -> ColmapCamera:
    """A camera with a positive size and finite parameters (InputError naming ``where``)."""
    if not (0 < width < 2**31 and 0 < height < 2**31):
        raise InputError(f"{where}: expected a positive image size, found {width} x {height}")
    if not np.isfinite(params).all():
        raise InputError(f"{where}: expected finite camera parameters, found {params.tolist()}")
    return ColmapCamera(model, int(width), int(height), params)


def _check_model(model: str, where: str) -> None:
    if model not in CAMERA_MODELS:
        raise InputError(
            f"{where}: unsupported camera model {model}; supported: {', '.join(CAMERA_MODELS)}"
        )


def quat_to_rotmat(q: np.ndarray) -> np.ndarray:
    """Rotation matrix [..., 3, 3] of unit quaternions q [..., 4] = (qw, qx, qy, qz)."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def rotmat_to_quat(R: np.ndarray) -> np.ndarray:
    """Unit quaternion (qw, qx, qy, qz) with qw >= 0 of a rotation matrix R [3, 3]."""
    R = np.asarray(R, dtype=np.float64)
    # eigenvector of the symmetric 4x4 matrix of Bar-Itzhack (2000), robust for every rotation
    m = R
    Kq = (
        np.array(
            [
                [
                    m[0, 0] - m[1, 1] - m[2, 2],
                    m[1, 0] + m[0, 1],
                    m[2, 0] + m[0, 2],
                    m[2, 1] - m[1, 2],
                ],
                [
                    m[1, 0] + m[0, 1],
                    m[1, 1] - m[0, 0] - m[2, 2],
                    m[2, 1] + m[1, 2],
                    m[0, 2] - m[2, 0],
                ],
                [
                    m[2, 0] + m[0, 2],
                    m[2, 1] + m[1, 2],
                    m[2, 2] - m[0, 0] - m[1, 1],
                    m[1, 0] - m[0, 1],
                ],
                [
                    m[2, 1] - m[1, 2],
                    m[0, 2] - m[2, 0],
                    m[1, 0] - m[0, 1],
                    m[0, 0] + m[1, 1] + m[2, 2],
                ],
            ]
        )
        / 3.0
    )
    vals, vecs = np.linalg.eigh(Kq)
    x, y, z, w = vecs[:, np.argmax(vals)]
    q = np.array([w, x, y, z])
    return q if w >= 0 else -q


# ---------------------------------------------------------------------------- distortion


def distort(uv: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Distorted normalised coordinates of undistorted ones uv [..., 2]; dist = (k1, k2, p1, p2)."""
    k1, k2, p1, p2 = dist
    u, v = uv[..., 0], uv[..., 1]
    r2 = u * u + v * v
    radial = 1 + k1 * r2 + k2 * r2 * r2
    ud = u * radial + 2 * p1 * u * v + p2 * (r2 + 2 * u * u)
    vd = v * radial + 2 * p2 * u * v + p1 * (r2 + 2 * v * v)
    return np.stack([ud, vd], -1)


def undistort_points(
    xy: np.ndarray, K: np.ndarray, dist: np.ndarray, iterations: int = 20
) -> np.ndarray:
    """Undistort pixel positions xy [N, 2] of a camera (K, dist) to the pinhole camera K.

    Inverts `distort` by the fixed-point iteration uv <- uv_d - (distort(uv) - uv).
    """
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    uvd = np.stack([(xy[:, 0] - cx) / fx, (xy[:, 1] - cy) / fy], -1)
    uv = uvd.copy()
    for _ in range(iterations):
        uv = uvd - (distort(uv, dist) - uv)
    return np.stack([uv[:, 0] * fx + cx, uv[:, 1] * fy + cy], -1)


def undistort_image(img: np.ndarray, K: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Resample a distorted image [H, W, C] to the pinhole camera with the same K and size."""
    if not np.any(dist):
        return img
    h, w = img.shape[:2]
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    uv = np.stack([(xs - cx) / fx, (ys - cy) / fy], -1)
    uvd = distort(uv, dist)
    out, _ = sample_bilinear(
        torch.from_numpy(np.ascontiguousarray(img))[None],
        torch.from_numpy(uvd[..., 0] * fx + cx),
        torch.from_numpy(uvd[..., 1] * fy + cy),
    )
    return out.numpy()


# ---------------------------------------------------------------------------- raw model


@dataclass
class _RawImage:
    camera_id: int
    qvec: np.ndarray  # [4]
    tvec: np.ndarray  # [3]
    name: str
    xys: np.ndarray  # float64 [m, 2], COLMAP pixel origin
    point_ids: np.ndarray  # int64 [m], -1 for none


@dataclass
class _RawPoint:
    xyz: np.ndarray
    rgb: np.ndarray


def _text_lines(path: Path) -> list[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: expected a COLMAP text file, found {err}") from None
    return [(i + 1, ln) for i, ln in enumerate(text.splitlines()) if not ln.startswith("#")]


def _read_cameras_text(path: Path) -> dict[int, ColmapCamera]:
    cams = {}
    for lineno, ln in _text_lines(path):
        tok = ln.split()
        if not tok:
            continue
        try:
            cid, model, w, h = int(tok[0]), tok[1], int(tok[2]), int(tok[3])
            params = np.array([float(v) for v in tok[4:]])
        except (ValueError, IndexError):
            raise InputError(
                f"{path}: line {lineno}: expected 'CAMERA_ID MODEL WIDTH HEIGHT PARAMS...', "
                f"found {ln.strip()!r}"
            ) from None
        _check_model(model, f"{path}: line {lineno}")
        if len(params) != CAMERA_MODELS[model][1]:
            raise InputError(
                f"{path}: line {lineno}: expected {CAMERA_MODELS[model][1]} parameters for "
                f"{model}, found {len(params)}"
            )
        cams[cid] = _camera(model, w, h, params, f"{path}: line {lineno}")
    return cams


def _read_images_text(path: Path) -> dict[int, _RawImage]:
    lines = _text_lines(path)
    images = {}
    i = 0
    while i < len(lines):
        lineno, ln = lines[i]
        tok = ln.split()
        i += 1
        if not tok:
            continue
        try:
            iid = int(tok[0])
            vals = np.array([float(v) for v in tok[1:8]])
            cid = int(tok[8])
            name = " ".join(tok[9:])
            if len(vals) != 7 or not name:
                raise ValueError
        except (ValueError, IndexError):
            raise InputError(
                f"{path}: line {lineno}: expected 'IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME', "
                f"found {ln.strip()!r}"
            ) from None
        pts = lines[i][1].split() if i < len(lines) else []
        i += 1
        if len(pts) % 3:
            raise InputError(
                f"{path}: line {lineno + 1}: expected triples 'X Y POINT3D_ID', "
                f"found {len(pts)} values"
            )
        try:
            arr = np.array([float(v) for v in pts], dtype=np.float64).reshape(-1, 3)
        except ValueError:
            raise InputError(f"{path}: line {lineno + 1}: expected numbers") from None
        ids = arr[:, 2]
        if not (np.isfinite(arr[:, :2]).all() and np.all(np.abs(ids) < 2**62)):
            raise InputError(
                f"{path}: line {lineno + 1}: expected finite positions and integer point ids"
            )
        images[iid] = _RawImage(
            cid, vals[:4], vals[4:], name, arr[:, :2], arr[:, 2].astype(np.int64)
        )
    return images


def _read_points_text(path: Path) -> dict[int, _RawPoint]:
    points = {}
    for lineno, ln in _text_lines(path):
        tok = ln.split()
        if not tok:
            continue
        try:
            pid = int(tok[0])
            xyz = np.array([float(v) for v in tok[1:4]])
            rgb_int = [int(v) for v in tok[4:7]]
            float(tok[7])
            if len(xyz) != 3 or len(rgb_int) != 3 or (len(tok) - 8) % 2:
                raise ValueError
        except (ValueError, IndexError):
            raise InputError(
                f"{path}: line {lineno}: expected 'POINT3D_ID X Y Z R G B ERROR TRACK...', "
                f"found {ln.strip()[:80]!r}"
            ) from None
        if not all(0 <= v <= 255 for v in rgb_int):
            raise InputError(
                f"{path}: line {lineno}: expected colours R G B from 0 to 255, found {rgb_int}"
            )
        points[pid] = _RawPoint(xyz, np.array(rgb_int, dtype=np.uint8))
    return points


class _Reader:
    """Sequential little-endian reader that turns truncation into an InputError."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.buf = path.read_bytes()
        except OSError as err:
            raise InputError(f"{path}: expected a COLMAP binary file, found {err}") from None
        self.pos = 0

    def read(self, fmt: str) -> tuple:
        size = struct.calcsize("<" + fmt)
        if self.pos + size > len(self.buf):
            raise InputError(
                f"{self.path}: expected {size} more bytes at offset {self.pos}, found "
                f"{len(self.buf) - self.pos} (truncated or corrupt file)"
            )
        out = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += size
        return out

    def array(self, dtype: np.dtype, count: int) -> np.ndarray:
        dtype = np.dtype(dtype).newbyteorder("<")
        size = dtype.itemsize * count
        if count < 0 or self.pos + size > len(self.buf):
            raise InputError(
                f"{self.path}: expected {count} records at offset {self.pos}, found the file "
                f"ends first (truncated or corrupt file)"
            )
        out = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos)
        self.pos += size
        return out

    def string(self) -> str:
        end = self.buf.find(b"\x00", self.pos)
        if end < 0:
            raise InputError(f"{self.path}: expected a NUL-terminated name at offset {self.pos}")
        s = self.buf[self.pos : end].decode("utf-8", errors="replace")
        self.pos = end + 1
        return s

    def done(self) -> None:
        if self.pos != len(self.buf):
            raise InputError(
                f"{self.path}: expected the file to end at offset {self.pos}, found "
                f"{len(self.buf) - self.pos} more bytes (corrupt file)"
            )


def _read_cameras_bin(path: Path) -> dict[int, ColmapCamera]:
    r = _Reader(path)
    (n,) = r.read("Q")
    cams = {}
    for _ in range(n):
        cid, mid, w, h = r.read("IiQQ")
        if mid not in _ALL_MODELS:
            raise InputError(f"{path}: camera {cid}: unknown camera model id {mid} (corrupt file)")
        model, k = _ALL_MODELS[mid]
        _check_model(model, f"{path}: camera {cid}")
        cams[cid] = _camera(model, w, h, r.array(np.float64, k).copy(), f"{path}: camera {cid}")
    r.done()
    return cams


_POINT2D = np.dtype([("x", "<f8"), ("y", "<f8"), ("id", "<i8")])
_TRACK = np.dtype([("image_id", "<u4"), ("idx", "<u4")])


def _read_images_bin(path: Path) -> dict[int, _RawImage]:
    r = _Reader(path)
    (n,) = r.read("Q")
    images = {}
    for _ in range(n):
        iid, *vals, cid = r.read("I7dI")
        name = r.string()
        (m,) = r.read("Q")
        pts = r.array(_POINT2D, m)
        xys = np.stack([pts["x"], pts["y"]], -1).astype(np.float64)
        images[iid] = _RawImage(
            cid, np.array(vals[:4]), np.array(vals[4:]), name, xys, pts["id"].astype(np.int64)
        )
    r.done()
    return images


def _read_points_bin(path: Path) -> dict[int, _RawPoint]:
    r = _Reader(path)
    (n,) = r.read("Q")
    points = {}
    for _ in range(n):
        pid, x, y, z, cr, cg, cb, _err, tl = r.read("Q3d3BdQ")
        r.array(_TRACK, tl)
        points[pid] = _RawPoint(np.array([x, y, z]), np.array([cr, cg, cb], np.uint8))
    r.done()
    return points


def _model_files(model_dir: Path) -> tuple[str, dict[str, Path]]:
    for ext in ("bin", "txt"):
        files = {k: model_dir / f"{k}.{ext}" for k in ("cameras", "images", "points3D")}
        if files["cameras"].is_file():
            for p in files.values():
                if not p.is_file():
                    raise InputError(
                        f"{model_dir}: expected {p.name} beside cameras.{ext}, found nothing"
                    )
            return ext, files
    raise InputError(
        f"{model_dir}: expected a COLMAP model (cameras/images/points3D .bin or .txt), found none"
    )


def read_colmap_model(
    model_dir: str | Path, image_dir: str | Path, require_points: bool = False
) -> MultiViewScene:
    """Read a COLMAP sparse model (binary preferred over text) and its undistorted images.

    model_dir: folder with cameras, images and points3D (.bin or .txt)
    image_dir: folder the image names of the model are relative to
    require_points: raise InputError when the model has no 3D points

    Images are ordered by image id; 3D points are renumbered 0..M-1 in the order of their ids.
    Observations that refer to no 3D point, or to one missing from points3D, are dropped.
    """
    model_dir, image_dir = Path(model_dir), Path(image_dir)
    ext, files = _model_files(model_dir)
    if ext == "bin":
        cams = _read_cameras_bin(files["cameras"])
        raw_images = _read_images_bin(files["images"])
        raw_points = _read_points_bin(files["points3D"])
    else:
        cams = _read_cameras_text(files["cameras"])
        raw_images = _read_images_text(files["images"])
        raw_points = _read_points_text(files["points3D"])
    if not raw_images:
        raise InputError(f"{files['images']}: expected at least one image, found none")
    if require_points and not raw_points:
        raise InputError(f"{files['points3D']}: expected sparse 3D points, found none")

    if raw_points and not 0 <= min(raw_points) <= max(raw_points) < 2**63:
        raise InputError(
            f"{files['points3D']}: expected point ids from 0 to 2^63 - 1, found "
            f"{min(raw_points)} .. {max(raw_points)}"
        )
    point_keys = np.array(sorted(raw_points), dtype=np.int64)
    points3d = (
        np.array([raw_points[k].xyz for k in point_keys]) if len(point_keys) else np.zeros((0, 3))
    )
    colors = (
        np.array([raw_points[k].rgb for k in point_keys], np.uint8)
        if len(point_keys)
        else np.zeros((0, 3), np.uint8)
    )

    images, names, Ks, Rs, ts, obs_ids, obs_xy = [], [], [], [], [], [], []
    for iid in sorted(raw_images):
        im = raw_images[iid]
        if im.camera_id not in cams:
            raise InputError(
                f"{files['images']}: image {im.name} names camera {im.camera_id}, "
                f"expected it in {files['cameras'].name}, found nothing"
            )
        cam = cams[im.camera_id]
        where = f"{files['images']}: image {im.name[:80]}"
        img_path = resolve_image_path(image_dir, im.name, where)
        check_unit_quaternion(im.qvec, where)
        if not np.isfinite(im.tvec).all():
            raise InputError(f"{where}: expected a finite translation, found {im.tvec.tolist()}")
        if not is_file(img_path):
            raise InputError(
                f"{files['images']}: names image {im.name[:80]}, expected it at {img_path}, "
                "found nothing"
            )
        img = read_image(img_path)
        if img.shape[:2] != (cam.height, cam.width):
            raise InputError(
                f"{img_path}: expected {cam.width}x{cam.height} pixels (camera "
                f"{im.camera_id}), found {img.shape[1]}x{img.shape[0]}"
            )
        K, dist = cam.pinhole()
        with np.errstate(all="ignore"):  # wild distortion gives NaN: validate_cameras says so
            img = undistort_image(img, K, dist)
        K = K.copy()
        K[0, 2] -= 0.5
        K[1, 2] -= 0.5
        valid = im.point_ids >= 0
        rows = np.searchsorted(point_keys, im.point_ids[valid])
        rows = np.clip(rows, 0, max(len(point_keys) - 1, 0))
        found = (
            point_keys[rows] == im.point_ids[valid]
            if len(point_keys)
            else np.zeros(valid.sum(), bool)
        )
        xy = im.xys[valid][found]
        if np.any(dist) and len(xy):
            with np.errstate(all="ignore"):
                xy = undistort_points(xy, cam.pinhole()[0], dist)
        images.append(img)
        names.append(im.name)
        Ks.append(K)
        Rs.append(quat_to_rotmat(im.qvec))
        ts.append(im.tvec)
        obs_ids.append(rows[found])
        with np.errstate(over="ignore"):  # beyond float32: infinite, refused by validate_cameras
            obs_xy.append((xy - 0.5).astype(np.float32))
    has_points = len(point_keys) > 0
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
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    n = len(scene)
    m = 0 if scene.points3d is None else len(scene.points3d)
    colors = scene.point_colors if scene.point_colors is not None else np.zeros((m, 3), np.uint8)
    obs_ids = scene.obs_ids if m else [np.zeros(0, np.int64)] * n
    obs_xy = scene.obs_xy if m else [np.zeros((0, 2), np.float32)] * n
    iids = list(range(1, n + 1)) if image_ids is None else [int(v) for v in image_ids]
    cids = list(range(1, n + 1)) if camera_ids is None else [int(v) for v in camera_ids]
    tracks: list[list[tuple[int, int]]] = [[] for _ in range(m)]
    for i in range(n):
        for j, pid in enumerate(obs_ids[i]):
            tracks[pid].append((iids[i], j))
    cams = []
    for i in range(n):
        K = scene.K[i]
        h, w = scene.shape(i)
        cams.append((cids[i], w, h, np.array([K[0, 0], K[1, 1], K[0, 2] + 0.5, K[1, 2] + 0.5])))
    quats = [rotmat_to_quat(R) for R in scene.R]

    if binary:
        with open(model_dir / "cameras.bin", "wb") as f:
            f.write(struct.pack("<Q", n))
            for cid, w, h, p in cams:
                f.write(struct.pack("<IiQQ", cid, CAMERA_MODELS["PINHOLE"][0], w, h))
                f.write(p.astype("<f8").tobytes())
        with open(model_dir / "images.bin", "wb") as f:
            f.write(struct.pack("<Q", n))
            for i in range(n):
                f.write(struct.pack("<I7dI", iids[i], *quats[i], *scene.t[i], cids[i]))
                f.write(scene.names[i].encode("utf-8") + b"\x00")
                pts = np.zeros(len(obs_ids[i]), _POINT2D)
                pts["x"] = obs_xy[i][:, 0].astype(np.float64) + 0.5
                pts["y"] = obs_xy[i][:, 1].astype(np.float64) + 0.5
                pts["id"] = obs_ids[i] + 1
                f.write(struct.pack("<Q", len(pts)) + pts.tobytes())
        with open(model_dir / "points3D.bin", "wb") as f:
            f.write(struct.pack("<Q", m))
            for k in range(m):
                f.write(
                    struct.pack(
                        "<Q3d3BdQ", k + 1, *scene.points3d[k], *colors[k], 0.0, len(tracks[k])
                    )
                )
                f.write(np.array(tracks[k], dtype="<u4").reshape(-1, 2).tobytes())
    else:
        with open(model_dir / "cameras.txt", "w") as f:
            f.write("# CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n")
            for cid, w, h, p in cams:
                f.write(f"{cid} PINHOLE {w} {h} " + " ".join(repr(float(v)) for v in p) + "\n")
        with open(model_dir / "images.txt", "w") as f:
            f.write("# IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME\n")
            f.write("# POINTS2D[] as (X, Y, POINT3D_ID)\n")
            for i in range(n):
                pose = " ".join(repr(float(v)) for v in (*quats[i], *scene.t[i]))
                f.write(f"{iids[i]} {pose} {cids[i]} {scene.names[i]}\n")
                f.write(
                    " ".join(
                        f"{float(x) + 0.5!r} {float(y) + 0.5!r} {pid + 1}"
                        for (x, y), pid in zip(obs_xy[i], obs_ids[i])
                    )
                    + "\n"
                )
        with open(model_dir / "points3D.txt", "w") as f:
            f.write("# POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)\n")
            for k in range(m):
                xyz = " ".join(repr(float(v)) for v in scene.points3d[k])
                rgb = " ".join(str(int(v)) for v in colors[k])
                track = " ".join(f"{a} {b}" for a, b in tracks[k])
                f.write(f"{k + 1} {xyz} {rgb} 0 {track}\n")
