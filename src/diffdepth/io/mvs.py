"""Readers of calibrated multi-view input (into a `diffdepth.types.MultiViewScene`).

Cameras are pinhole, world to camera ``x_cam = R X + t``, projection ``K [R | t]``, pixel centres
at integers (x = column, y = row). Two sources are read:

- a COLMAP sparse model (text or binary; see `diffdepth.io.colmap`), found in ``path``,
  ``path/sparse`` or ``path/sparse/0`` with its images in ``path/images`` or ``path``;
- a Middlebury multi-view camera file ``*_par.txt`` (Seitz et al. 2006): a first line with the
  number of images, then one line per image ``name k11..k33 r11..r33 t1 t2 t3``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from diffdepth.io.cameras import resolve_image_path, validate_cameras
from diffdepth.io.errors import InputError
from diffdepth.io.images import is_file, read_image
from diffdepth.types import MultiViewScene

__all__ = ["is_multiview", "read_middlebury_cameras", "read_multiview", "validate_cameras"]


def _parse_floats(tokens: list[str], path: Path, lineno: int) -> np.ndarray:
    try:
        return np.array([float(v) for v in tokens], dtype=np.float64)
    except ValueError:
        raise InputError(
            f"{path}: line {lineno}: expected numbers, found {' '.join(tokens)!r}"
        ) from None


def read_middlebury_cameras(
    par_file: str | Path, image_dir: str | Path | None = None
) -> MultiViewScene:
    """Read a Middlebury multi-view ``*_par.txt`` camera file and its images.

    par_file:  ``n`` on the first line, then ``name k11..k33 r11..r33 t1 t2 t3`` per image
    image_dir: folder of the images (default: the folder of par_file)
    """
    par_file = Path(par_file)
    image_dir = par_file.parent if image_dir is None else Path(image_dir)
    try:
        lines = [ln.split() for ln in par_file.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{par_file}: expected a Middlebury camera file, found {err}") from None
    lines = [(i + 1, ln) for i, ln in enumerate(lines) if ln]
    first = lines[0][1] if lines else []
    if len(first) != 1 or not (first[0].isascii() and first[0].isdigit()):
        found = " ".join(first)[:40]
        raise InputError(
            f"{par_file}: expected the number of images on the first line, found {found!r}"
        )
    n = int(first[0]) if len(first[0]) <= 9 else -1
    rows = lines[1:]
    if len(rows) != n:
        count = first[0] if n >= 0 else f"{first[0][:9]}..."
        raise InputError(f"{par_file}: expected {count} camera lines, found {len(rows)}")
    names, K, R, t, images = [], [], [], [], []
    for lineno, tokens in rows:
        if len(tokens) != 22:
            raise InputError(
                f"{par_file}: line {lineno}: expected 'name' and 21 numbers "
                f"(K, R, t), found {len(tokens)} fields"
            )
        vals = _parse_floats(tokens[1:], par_file, lineno)
        img_path = resolve_image_path(image_dir, tokens[0], f"{par_file}: line {lineno}")
        names.append(tokens[0])
        K.append(vals[:9].reshape(3, 3))
        R.append(vals[9:18].reshape(3, 3))
        t.append(vals[18:21])
        if not is_file(img_path):
            raise InputError(
                f"{par_file}: line {lineno}: names image {tokens[0]}, "
                f"expected it at {img_path}, found nothing"
            )
        images.append(read_image(img_path))
    if not rows:
        raise InputError(f"{par_file}: expected at least one camera line, found none")
    return MultiViewScene(
        images, names, np.array(K), np.array(R), np.array(t), source=str(par_file)
    )


def _find_colmap_model(path: Path) -> Path | None:
    for cand in (path, path / "sparse", path / "sparse" / "0"):
        if (cand / "cameras.bin").is_file() or (cand / "cameras.txt").is_file():
            return cand
    return None


def is_multiview(path: str | Path) -> bool:
    """True when ``path`` holds (or is) a COLMAP model or a Middlebury camera file. InputError
    when the path cannot be read (no permission)."""
    path = Path(path)
    try:
        if path.is_file():
            return path.name.endswith("_par.txt")
        return path.is_dir() and (
            _find_colmap_model(path) is not None or any(path.glob("*_par.txt"))
        )
    except OSError as e:
        raise InputError(f"{path}: cannot read the scene ({e.strerror or e})") from None


def read_multiview(
    path: str | Path, image_dir: str | Path | None = None, require_points: bool = False
) -> MultiViewScene:
    """Read calibrated multi-view input, detecting its kind.

    path: a COLMAP model folder (``path``, ``path/sparse`` or ``path/sparse/0`` holding
          ``cameras.{bin,txt}``, ``images.*``, ``points3D.*``), a Middlebury ``*_par.txt`` file,
          or a folder holding exactly one ``*_par.txt``
    image_dir: where the images are (default: ``path/images`` when it exists, else the folder of
          the model or camera file)
    require_points: raise InputError when the scene has no sparse points
    """
    from diffdepth.io.colmap import read_colmap_model

    path = Path(path)
    if not is_multiview(path) and not path.exists():
        raise InputError(
            f"{path}: expected a COLMAP model or a Middlebury *_par.txt, found nothing"
        )
    if path.is_file():
        if path.name.endswith("_par.txt"):
            scene = read_middlebury_cameras(path, image_dir)
        else:
            raise InputError(
                f"{path}: expected a COLMAP model folder or a Middlebury *_par.txt file, "
                f"found a file named {path.name}"
            )
    else:
        model = _find_colmap_model(path)
        if model is not None:
            if image_dir is None:
                image_dir = path / "images" if (path / "images").is_dir() else path
            scene = read_colmap_model(model, image_dir)
        else:
            pars = sorted(path.glob("*_par.txt"))
            if len(pars) != 1:
                raise InputError(
                    f"{path}: expected cameras.bin or cameras.txt in it, in sparse/ or in "
                    f"sparse/0/, or one *_par.txt file; found "
                    + (f"{len(pars)} *_par.txt files" if pars else "neither")
                )
            scene = read_middlebury_cameras(pars[0], image_dir)
    validate_cameras(scene)
    if require_points and (scene.points3d is None or len(scene.points3d) == 0):
        raise InputError(f"{scene.source}: expected sparse 3D points, found none")
    return scene
