"""Colour images and disparity maps from files."""

from __future__ import annotations

import math
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


def is_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a file; InputError naming it when it cannot even be looked up (a
    name too long, a loop of links, a folder without permission)."""
    try:
        return Path(path).is_file()
    except OSError as e:
        raise InputError(f"{str(path)[:200]}: cannot read it ({e.strerror or e})") from None


def _open_image(path: Path) -> Image.Image:
    """Open and fully decode an image, turning every failure into an InputError."""
    if not is_file(path):
        if path.is_dir():
            raise InputError(f"{path}: expected an image file, found a folder")
        raise InputError(f"{path}: image file not found")
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
    except Image.DecompressionBombError as exc:
        raise InputError(f"{path}: {_too_large(exc)}") from exc
    except _PIL_ERRORS as exc:
        if img is not None:
            img.close()
        raise InputError(f"{path}: corrupt or truncated image ({_first_line(exc)})") from exc
    return img


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def _too_large(exc: BaseException) -> str:
    return (
        f"image too large to read safely ({_first_line(exc)}); crop or downscale it "
        f"(at most {Image.MAX_IMAGE_PIXELS * 2} pixels)"
    )


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(height, width) of an image file from its header, without decoding the pixels."""
    path = Path(path)
    if not is_file(path):
        raise InputError(f"{path}: image file not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                width, height = img.size
    except UnidentifiedImageError as exc:
        raise InputError(f"{path}: not a readable image (unknown or damaged format)") from exc
    except PermissionError as exc:
        raise InputError(f"{path}: cannot read image (permission denied)") from exc
    except Image.DecompressionBombError as exc:
        raise InputError(f"{path}: {_too_large(exc)}") from exc
    except _PIL_ERRORS as exc:
        raise InputError(f"{path}: corrupt or truncated image ({_first_line(exc)})") from exc
    if width < 1 or height < 1:
        raise InputError(f"{path}: expected an image with pixels, found {width} x {height}")
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


def _read_npy(path: Path) -> np.ndarray:
    """A numeric .npy array; its header is checked against the file's size and the memory
    available before anything is allocated (no pickles)."""
    from diffdepth.io.memory import check_memory

    if not is_file(path):
        raise InputError(
            f"{path}: disparity file not found"
            if not path.exists()
            else f"{path}: expected a .npy file, found a folder"
        )
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
            offset = f.tell()
        size = os.path.getsize(path) - offset
    except (OSError, ValueError, EOFError, SyntaxError, TypeError) as exc:
        raise InputError(f"{path}: not a readable .npy array ({_first_line(exc)})") from exc
    if dtype.hasobject or not (np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.bool_)):
        raise InputError(f"{path}: expected a numeric array, found dtype {dtype}")
    count = math.prod(int(n) for n in shape)
    if count * dtype.itemsize > size:
        raise InputError(
            f"{path}: truncated .npy: its header says {' x '.join(map(str, shape))} of "
            f"{dtype}, {count * dtype.itemsize} bytes, the file holds {max(size, 0)}"
        )
    check_memory(count * 16, f"{path}: a {' x '.join(map(str, shape))} map", "use a smaller map")
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"{path}: not a readable .npy array ({_first_line(exc)})") from exc
    if np.iscomplexobj(arr):
        raise InputError(f"{path}: expected a real-valued array, found dtype {arr.dtype}")
    return arr


def read_disparity_map(
    path: str | os.PathLike, scale: float = 1.0, invalid_zero: bool = False
) -> np.ndarray:
    """Read a disparity map as float32 ``[H, W]``, multiplied by ``scale``.

    PFM and NPY files give their float values; PGM, PNG and other image files give their raw
    integer values (e.g. Middlebury Tsukuba: ``scale=1/16``). With ``invalid_zero`` zeros mean
    "unknown" and become NaN.
    """
    path = Path(path)
    if not math.isfinite(scale) or scale == 0:
        raise InputError(f"{path}: the scale must be a finite, non-zero number, not {scale}")
    suffix = path.suffix.lower()
    if suffix == ".pfm":
        arr = read_pfm(path)
    elif suffix == ".npy":
        arr = _read_npy(path)
    else:
        img = _open_image(path)
        if len(img.getbands()) != 1 or img.mode == "P":
            raise InputError(
                f"{path}: expected a single-channel disparity image, found mode {img.mode}"
            )
        arr = np.asarray(img)
    with np.errstate(over="ignore", invalid="ignore"):
        arr = np.asarray(arr, dtype=np.float32)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim != 2 or arr.size == 0:
        raise InputError(
            f"{path}: expected a single-channel [H, W] disparity map, found shape {arr.shape}"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        arr = arr * np.float32(scale)
    if invalid_zero:
        arr[arr == 0] = np.nan
    return np.ascontiguousarray(arr, dtype=np.float32)
