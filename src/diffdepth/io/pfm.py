"""PFM (portable float map) reading and writing in the HCI benchmark's convention.

The header is ``Pf`` (one channel) or ``PF`` (three channels), then ``width height``, then a
scale whose sign gives the byte order (negative = little-endian), each followed by one
whitespace byte; the float32 rows follow, stored bottom-to-top.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from diffdepth.io.atomic import atomic_write
from diffdepth.io.errors import InputError

_MAX_HEADER = 256


def _header_tokens(path: Path, data: bytes) -> tuple[list[bytes], int]:
    """The four header tokens (magic, width, height, scale) and the offset of the pixel data."""
    tokens: list[bytes] = []
    i, n = 0, min(len(data), _MAX_HEADER)
    while len(tokens) < 4:
        while i < n and data[i : i + 1].isspace():
            i += 1
        if i < n and data[i : i + 1] == b"#":  # comment line
            while i < n and data[i : i + 1] not in (b"\n", b"\r"):
                i += 1
            continue
        start = i
        while i < n and not data[i : i + 1].isspace():
            i += 1
        if i >= n or start == i:
            raise InputError(
                f"{path}: not a PFM file: expected a header 'Pf' or 'PF', width, height and "
                f"scale, found {data[:40]!r}"
            )
        tokens.append(data[start:i])
    return tokens, i + 1  # exactly one whitespace byte ends the header


def read_pfm(path: str | os.PathLike) -> np.ndarray:
    """Read a PFM file.

    Returns float32 ``[H, W]`` for ``Pf`` or ``[H, W, 3]`` for ``PF``, top row first
    (the file's bottom-to-top rows are flipped). Raises InputError naming the file for a
    missing, malformed or truncated file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise InputError(f"{path}: PFM file not found") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{path}: expected a PFM file, found a folder") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read PFM file ({exc.strerror})") from exc
    tokens, offset = _header_tokens(path, data)
    magic, width_s, height_s, scale_s = tokens
    if magic == b"Pf":
        channels = 1
    elif magic == b"PF":
        channels = 3
    else:
        raise InputError(f"{path}: not a PFM file: expected header 'Pf' or 'PF', found {magic!r}")
    try:
        width, height = int(width_s), int(height_s)
    except ValueError as exc:
        raise InputError(
            f"{path}: malformed PFM header: expected integer width and height, "
            f"found {width_s!r} {height_s!r}"
        ) from exc
    try:
        scale = float(scale_s)
    except ValueError as exc:
        raise InputError(
            f"{path}: malformed PFM header: expected a scale (negative = little-endian), "
            f"found {scale_s!r}"
        ) from exc
    if width <= 0 or height <= 0 or scale == 0 or not np.isfinite(scale):
        raise InputError(
            f"{path}: malformed PFM header: expected positive width and height and a non-zero "
            f"scale, found {width} x {height}, scale {scale_s.decode(errors='replace')}"
        )
    count = width * height * channels
    available = len(data) - offset
    if available < 4 * count:
        raise InputError(
            f"{path}: truncated PFM: expected {4 * count} bytes of float32 data for "
            f"{width} x {height} x {channels}, found {max(available, 0)}"
        )
    dtype = "<f4" if scale < 0 else ">f4"
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    shape = (height, width) if channels == 1 else (height, width, 3)
    return np.ascontiguousarray(arr.reshape(shape)[::-1], dtype=np.float32)


def write_pfm(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write float32 ``[H, W]`` (``Pf``) or ``[H, W, 3]`` (``PF``) as little-endian PFM, rows
    bottom-to-top (HCI convention), atomically."""
    arr = np.asarray(array)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)) or arr.size == 0:
        raise ValueError(
            f"write_pfm: expected a non-empty [H, W] or [H, W, 3] array, got shape {arr.shape}"
        )
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"write_pfm: expected a numeric array, got dtype {arr.dtype}")
    height, width = arr.shape[:2]
    magic = b"Pf" if arr.ndim == 2 else b"PF"
    body = np.ascontiguousarray(arr[::-1], dtype="<f4").tobytes()
    with atomic_write(path, "wb") as f:
        f.write(magic + b"\n" + f"{width} {height}\n-1\n".encode("ascii"))
        f.write(body)
