"""Sparse points as CSV: header ``x,y,disparity`` (or ``value`` / ``inverse_depth``) and an
optional ``confidence`` column; x = column, y = row of the reference view, in pixels."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from diffdepth.io.atomic import save_text_atomic
from diffdepth.io.errors import InputError
from diffdepth.types import PointSet

#: Accepted names of the label column, in order of preference.
VALUE_NAMES = ("disparity", "value", "inverse_depth")
#: the largest magnitude of a coordinate, value or confidence (beyond it a number is no pixel
#: position or label, and float32 would round it to infinity)
MAX_MAGNITUDE = 1e9


def read_points_csv(path: str | os.PathLike) -> PointSet:
    """Read points from a CSV file with header ``x,y,<value>[,confidence]``.

    ``<value>`` is one of ``disparity``, ``value``, ``inverse_depth``; column order is free and
    other columns are ignored. Blank lines and lines starting with ``#`` are skipped. Raises
    InputError naming the file (and the line) for a missing file, missing columns, a
    non-numeric, NaN or infinite entry, a short row, or no points at all.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise InputError(f"{path}: points file not found") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{path}: expected a CSV points file, found a folder") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read points file as UTF-8 text ({exc})") from exc

    from diffdepth.io.memory import check_memory

    # parsing keeps every field as a Python float and string for a moment: ~30 bytes per byte
    check_memory(30 * len(text), f"{path}: reading {len(text)} bytes of points", "fewer points")
    if "\x00" in text:
        raise InputError(f"{path}: expected CSV text, found NUL bytes (a binary file?)")
    try:
        parsed = list(enumerate(csv.reader(io.StringIO(text)), start=1))
    except csv.Error as exc:
        raise InputError(f"{path}: not a readable CSV file ({exc})") from None
    rows = (
        (lineno, row)
        for lineno, row in parsed
        if row and any(f.strip() for f in row) and not row[0].lstrip().startswith("#")
    )
    header_line = next(rows, None)
    if header_line is None:
        raise InputError(f"{path}: empty points file: expected a header x,y,disparity")
    header_no, header = header_line
    names = [h.strip().lower() for h in header]
    value_name = next((n for n in VALUE_NAMES if n in names), None)
    missing = [n for n in ("x", "y") if n not in names] + ([] if value_name else ["disparity"])
    if missing:
        raise InputError(
            f"{path}: line {header_no}: missing column(s) {', '.join(missing)}: expected a header "
            f"x,y,disparity (or value / inverse_depth) [,confidence], found "
            f"{','.join(header)[:80]!r}"
        )
    wanted = ["x", "y", value_name] + (["confidence"] if "confidence" in names else [])
    cols = [names.index(n) for n in wanted]
    need = max(cols) + 1

    data: list[list[float]] = []
    for lineno, row in rows:
        if len(row) < need:
            raise InputError(
                f"{path}: line {lineno}: expected at least {need} fields, found {len(row)}"
            )
        values = []
        for name, col in zip(wanted, cols):
            field = row[col].strip()
            try:
                v = float(field)
            except ValueError:
                raise InputError(
                    f"{path}: line {lineno}: column {name}: expected a number, found {field[:40]!r}"
                ) from None
            if not np.isfinite(v):
                raise InputError(
                    f"{path}: line {lineno}: column {name}: expected a finite number, "
                    f"found {field[:40]!r}"
                )
            if abs(v) > MAX_MAGNITUDE:
                raise InputError(
                    f"{path}: line {lineno}: column {name}: expected a number from "
                    f"-{MAX_MAGNITUDE:g} to {MAX_MAGNITUDE:g}, found {field[:40]!r}"
                )
            values.append(v)
        data.append(values)
    if not data:
        raise InputError(f"{path}: no points: the file has a header but no data rows")
    arr = np.asarray(data, dtype=np.float64)
    conf = arr[:, 3] if len(wanted) == 4 else None
    return PointSet(arr[:, :2], arr[:, 2], conf)


def write_points_csv(
    path: str | os.PathLike, points: PointSet, value_name: str = "disparity"
) -> None:
    """Write ``points`` as CSV (``x,y,<value_name>[,confidence]``), atomically.

    Values are written with 9 significant digits, so float32 data reads back exactly.
    """
    if value_name not in VALUE_NAMES:
        raise ValueError(f"value_name must be one of {VALUE_NAMES}, got {value_name!r}")
    columns = [points.xy[:, 0], points.xy[:, 1], points.value]
    header = ["x", "y", value_name]
    if points.confidence is not None:
        columns.append(points.confidence)
        header.append("confidence")
    buf = io.StringIO()
    buf.write(",".join(header) + "\n")
    if len(points):
        np.savetxt(buf, np.stack(columns, axis=1).astype(np.float64), fmt="%.9g", delimiter=",")
    save_text_atomic(path, buf.getvalue())
