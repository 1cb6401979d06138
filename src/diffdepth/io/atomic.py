"""Atomic file output: a result file is either complete or absent, never half written."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

from diffdepth.io.errors import InputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; move it onto ``path`` on success.

    The data is flushed and fsync'ed before ``os.replace``, so readers see either the old file
    or the complete new one. If the body raises, the temporary file is removed and ``path`` is
    left untouched. ``mode`` is "wb" (binary) or "w" (UTF-8 text).

    Raises InputError naming the folder when it is missing or not writable.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise InputError(f"cannot write {path.name}: output folder {folder} {what}")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise InputError(
            f"cannot write {path.name}: output folder {folder} is not writable ({exc.strerror})"
        ) from exc
    tmp = Path(tmp_name)
    try:
        if mode == "wb":
            handle = os.fdopen(fd, "wb")
        else:
            handle = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600; give the result the permissions a plain open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def save_npy_atomic(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` as a .npy file, atomically (no pickles)."""
    with atomic_write(path, "wb") as f:
        np.save(f, np.asarray(array), allow_pickle=False)


def save_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` as a UTF-8 file, atomically."""
    with atomic_write(path, "w") as f:
        f.write(text)
