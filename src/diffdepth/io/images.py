"""Colour images and disparity maps from files."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from diffdepth.io.errors import InputError
from diffdepth.io.pfm import read_pfm

#: File suffixes read as images (lower case).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".pnm", ".bmp", ".tif", ".tiff")

# Pillow modes holding integers wider than 8 bits, and their full-scale value.
_WIDE_MODES = {"I;16": 65535.0, "I;16L": 65535.0, "I;16B": 65535.0, "I;16N": 65535.0}

# Errors Pillow raises on damaged files (truncated data, bad chunks, bad zlib streams).
_PIL_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


def _open_image(path: Path) -> Image.Image:
    """Open and fully decode an image, turning every failure into an InputError."""
    if not path.exists():
        raise InputError(f"{path}: image file not found")
    if path.is_dir():
        raise InputError(f"{path}: expected an image file, found a folder")
    img = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = Image.open(path)
            img.load()
    except UnidentifiedImageError as exc:
        raise InputError(f"{path}: not a readable image (unknown or damaged format)") from exc
    except PermissionError as exc:
        raise InputError(f"{path}: cannot read image (permission denied)") from exc
    except _PIL_ERRORS as exc:
        if img is not None:
            img.close()
        raise InputError(f"{path}: corrupt or truncated image ({exc})") from exc
    return img


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(height, width) of an image file from its header, without decoding the pixels."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: image file not found")
    try:
        with Image.open(path) as img:
            width, height = img.size
    except UnidentifiedImageError as exc:
        raise InputError(f"{path}: not a readable image (unknown or damaged format)") from exc
    except _PIL_ERRORS as exc:
        raise InputError(f"{path}: corrupt or truncated image ({exc})") from exc
    return height, width


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read a colour image as float32 ``[H, W, 3]`` in 0..1.

    8- and 16-bit files are scaled by their full-scale value; grey images are repeated into
    three channels; alpha is dropped; palette images are expanded. Raises InputError naming the
    file when it is missing, corrupt or unreadable.
    """
    path = Path(path)
    img = _open_image(path)
    mode = img.mode
    if mode in _WIDE_MODES or mode == "I":
        # 16-bit grey (Pillow reports some 16-bit files as 32-bit "I").
        arr = np.asarray(img, dtype=np.float32) / 65535.0
        arr = np.clip(arr, 0.0, 1.0)
        rgb = np.repeat(arr[:, :, None], 3, axis=2)
    elif mode == "F":
        arr = np.asarray(img, dtype=np.float32)
        rgb = np.repeat(arr[:, :, None], 3, axis=2)
    else:
        if mode != "RGB":
            if mode == "P" and "transparency" in img.info:
                img = img.convert("RGBA")
            img = img.convert("RGB")
        rgb = np.asarray(img, dtype=np.float32) / 255.0
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise InputError(f"{path}: expected a colour or grey image, found shape {rgb.shape}")
    return np.ascontiguousarray(rgb, dtype=np.float32)


def read_disparity_map(
    path: str | os.PathLike, scale: float = 1.0, invalid_zero: bool = False
) -> np.ndarray:
    """Read a disparity map as float32 ``[H, W]``, multiplied by ``scale``.

    PFM and NPY files give their float values; PGM, PNG and other image files give their raw
    integer values (e.g. Middlebury Tsukuba: ``scale=1/16``). With ``invalid_zero`` zeros mean
    "unknown" and become NaN.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".pfm":
        arr = read_pfm(path)
    elif suffix == ".npy":
        if not path.is_file():
            raise InputError(f"{path}: disparity file not found")
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise InputError(f"{path}: not a readable .npy array ({exc})") from exc
        if not np.issubdtype(arr.dtype, np.number):
            raise InputError(f"{path}: expected a numeric array, found dtype {arr.dtype}")
    else:
        img = _open_image(path)
        if img.mode in ("RGB", "RGBA", "P", "CMYK", "LA"):
            raise InputError(
                f"{path}: expected a single-channel disparity image, found mode {img.mode}"
            )
        arr = np.asarray(img)
    arr = np.asarray(arr, dtype=np.float32)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim != 2:
        raise InputError(
            f"{path}: expected a single-channel [H, W] disparity map, found shape {arr.shape}"
        )
    arr = arr * np.float32(scale)
    if invalid_zero:
        arr[arr == 0] = np.nan
    return np.ascontiguousarray(arr, dtype=np.float32)
