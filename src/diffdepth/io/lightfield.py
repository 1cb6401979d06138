"""A reader of light fields (into a `diffdepth.types.LightField`) for the common folder layouts.

Layouts recognised by :func:`read_lightfield`:

(a) HCI benchmark folder: ``input_Cam###.png`` (view k at ``r, c = divmod(k, num_cams_x)``),
    ``parameters.cfg`` (INI; ``[extrinsics] num_cams_x/num_cams_y``, ``[meta] disp_min/disp_max``)
    and optionally ``gt_disp_lowres.pfm``;
(b) grid views named ``<prefix>_RR_CC.<ext>`` (RR = row, CC = column, counted from 1), e.g. a
    Lytro capture ``2067_01_01.png`` .. ``2067_09_09.png``;
(c) any folder of images, taken in natural sort order, row-major, with ``grid=(rows, cols)``.

Other files beside the views are left out and named in a log message (``diffdepth.io``): files
that are not images, images that do not follow the views' naming pattern (ground truth, masks:
Middlebury's ``truedisp.row3.col3.pgm`` beside ``scene1.row3.col1..5.ppm``), and the ``gt``
file. In (c) the views are the images of one naming pattern (names equal up to their numbers)
when the folder holds more images than the grid has views.

Disparity follows the HCI sign: with d the reference view's disparity at (x, y) and view
(r, c) at offset (u, v) = (c - c0, r - r0), ``I_rc(x - d u, y - d v) ~= I_ref(x, y)``.
"""

from __future__ import annotations

import configparser
import logging
import math
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from diffdepth.io.errors import InputError, parameter
from diffdepth.io.images import IMAGE_SUFFIXES, image_size, read_disparity_map, read_image
from diffdepth.types import LightField

_HCI_VIEW = re.compile(r"^input_Cam(\d+)\.(png|jpg|jpeg|ppm|bmp|tif|tiff)$", re.IGNORECASE)
_GRID_VIEW = re.compile(r"^(.*)_(\d+)_(\d+)\.([A-Za-z]+)$")
_HCI_CONFIG = "parameters.cfg"
log = logging.getLogger("diffdepth.io")
_HCI_GT = "gt_disp_lowres.pfm"


def _natural_key(name: str) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def _read_hci_config(cfg: Path) -> tuple[tuple[int, int], tuple[float, float] | None]:
    """((rows, cols), disp_range or None) from an HCI parameters.cfg."""
    parser = configparser.ConfigParser()
    try:
        with open(cfg, encoding="utf-8") as f:
            parser.read_file(f)
    except (configparser.Error, UnicodeDecodeError, ValueError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InputError(
            f"{cfg}: unreadable light-field config: expected INI with [extrinsics] "
            f"num_cams_x and num_cams_y, found: {first}"
        ) from exc
    except OSError as exc:
        raise InputError(f"{cfg}: cannot read light-field config ({exc.strerror})") from exc
    try:
        cols = parser.getint("extrinsics", "num_cams_x")
        rows = parser.getint("extrinsics", "num_cams_y")
    except (configparser.Error, ValueError) as exc:
        raise InputError(
            f"{cfg}: malformed light-field config: expected integers num_cams_x and num_cams_y "
            f"in [extrinsics] ({exc})"
        ) from exc
    if not (0 < rows <= 1000 and 0 < cols <= 1000):
        raise InputError(
            f"{cfg}: expected num_cams_x and num_cams_y from 1 to 1000, found {cols} and {rows}"
        )
    disp_range = None
    if parser.has_option("meta", "disp_min") or parser.has_option("meta", "disp_max"):
        try:
            disp_range = (parser.getfloat("meta", "disp_min"), parser.getfloat("meta", "disp_max"))
        except (configparser.Error, ValueError) as exc:
            raise InputError(
                f"{cfg}: malformed light-field config: expected numbers disp_min and disp_max "
                f"in [meta] ({exc})"
            ) from exc
        if not all(math.isfinite(v) for v in disp_range):
            raise InputError(
                f"{cfg}: expected finite numbers disp_min and disp_max in [meta], found "
                f"{disp_range[0]} and {disp_range[1]}"
            )
        if not disp_range[0] <= disp_range[1]:
            raise InputError(f"{cfg}: disp_min {disp_range[0]} is above disp_max {disp_range[1]}")
    return (rows, cols), disp_range


def _check_grid(grid: tuple[int, int] | None) -> tuple[int, int] | None:
    if grid is None:
        return None
    rows, cols = (int(grid[0]), int(grid[1]))
    if rows <= 0 or cols <= 0:
        raise InputError(f"grid must be (rows, cols) with positive entries, got {grid}")
    return rows, cols


def _layout_hci(
    folder: Path, files: list[str], grid: tuple[int, int] | None
) -> tuple[list[list[str]], tuple[float, float] | None]:
    indexed: dict[int, str] = {}
    for name in files:
        m = _HCI_VIEW.match(name)
        if m:
            k = int(m.group(1))
            if k in indexed:
                raise InputError(f"{folder / name}: view {k} appears twice (also {indexed[k]})")
            indexed[k] = name
    disp_range = None
    cfg = folder / _HCI_CONFIG
    whence = ""
    if cfg.exists():
        cfg_grid, disp_range = _read_hci_config(cfg)
        if grid is not None and grid != cfg_grid:
            raise InputError(
                f"{cfg}: says {cfg_grid[0]} x {cfg_grid[1]} views, {parameter('grid', grid)} given"
            )
        grid = cfg_grid
        whence = f" ({_HCI_CONFIG})"
    if grid is None:
        # a square grid: of the views found, or of the largest index when a few are missing
        top = max(indexed) + 1
        side = int(round(np.sqrt(len(indexed))))
        if side * side != len(indexed):
            side = int(round(np.sqrt(top)))
        if side * side not in (len(indexed), top) or top > 2 * len(indexed):
            raise InputError(
                f"{folder}: {len(indexed)} input_Cam views (indices {min(indexed)} .. "
                f"{top - 1}) and no {_HCI_CONFIG}; pass {parameter('grid')}"
            )
        grid = (side, side)
    rows, cols = grid
    width = max(3, *(len(re.match(r"input_Cam(\d+)", n).group(1)) for n in indexed.values()))
    suffix = Path(next(iter(indexed.values()))).suffix
    for k in range(rows * cols):
        if k not in indexed:
            raise InputError(
                f"{folder / f'input_Cam{k:0{width}d}{suffix}'}: view {k} of the {rows} x {cols} "
                f"grid{whence} is missing ({len(indexed)} views found)"
            )
    extra = sorted(k for k in indexed if k >= rows * cols)
    if extra:
        raise InputError(
            f"{folder / indexed[extra[0]]}: view index {extra[0]} is outside the {rows} x {cols} "
            f"grid ({len(indexed)} views found, {rows * cols} expected)"
        )
    paths = [[indexed[r * cols + c] for c in range(cols)] for r in range(rows)]
    return paths, disp_range


def _layout_grid_names(
    folder: Path, matches: list[tuple[str, re.Match]], grid: tuple[int, int] | None
) -> tuple[list[list[str]], list[str]]:
    """The grid of one <prefix>_RR_CC light field, and the names of the others left out: with
    several prefixes, the one whose views make a whole grid (the others are not views)."""
    by_prefix: dict[str, list[tuple[str, re.Match]]] = {}
    for name, m in matches:
        by_prefix.setdefault(m.group(1), []).append((name, m))
    if len(by_prefix) == 1:
        return _grid_of_prefix(folder, matches, grid), []
    whole = {}
    for prefix, group in by_prefix.items():
        try:
            whole[prefix] = _grid_of_prefix(folder, group, grid)
        except InputError:
            continue
    sizes = sorted((len(p) * len(p[0]) for p in whole.values()), reverse=True)
    if whole and (len(sizes) == 1 or sizes[0] > sizes[1]):  # the one largest whole grid
        prefix = max(whole, key=lambda k: len(whole[k]) * len(whole[k][0]))
        paths = whole[prefix]
        return paths, sorted(n for p, g in by_prefix.items() if p != prefix for n, _ in g)
    prefixes = sorted(whole or by_prefix)
    raise InputError(
        f"{folder}: views of several light fields found (prefixes {', '.join(prefixes)}); "
        "expected one <prefix>_RR_CC grid"
    )


def _grid_of_prefix(
    folder: Path, matches: list[tuple[str, re.Match]], grid: tuple[int, int] | None
) -> list[list[str]]:
    prefix = matches[0][1].group(1)
    indexed: dict[tuple[int, int], str] = {}
    for name, m in matches:
        rc = (int(m.group(2)), int(m.group(3)))
        if rc in indexed:
            raise InputError(f"{folder / name}: view {rc} appears twice (also {indexed[rc]})")
        indexed[rc] = name
    base = 0 if any(r == 0 or c == 0 for r, c in indexed) else 1
    if grid is None:
        grid = (max(r for r, _ in indexed) - base + 1, max(c for _, c in indexed) - base + 1)
    rows, cols = grid
    if rows * cols > 4 * len(indexed) + 16:  # numbers that are not view indices
        raise InputError(
            f"{folder}: {len(indexed)} views named {prefix}_RR_CC, and their numbers span a "
            f"{rows} x {cols} grid; pass {parameter('grid')}"
        )
    _, m0 = matches[0]
    w_r, w_c, ext = len(m0.group(2)), len(m0.group(3)), m0.group(4)
    for r in range(rows):
        for c in range(cols):
            if (r + base, c + base) not in indexed:
                missing = f"{prefix}_{r + base:0{w_r}d}_{c + base:0{w_c}d}.{ext}"
                raise InputError(
                    f"{folder / missing}: view (row {r + base}, column {c + base}) of the "
                    f"{rows} x {cols} grid is missing ({len(indexed)} views found)"
                )
    if len(indexed) != rows * cols:
        extra = sorted(
            rc for rc in indexed if not (0 <= rc[0] - base < rows and 0 <= rc[1] - base < cols)
        )
        raise InputError(
            f"{folder / indexed[extra[0]]}: view {extra[0]} is outside the {rows} x {cols} grid "
            f"({len(indexed)} views found, {rows * cols} expected)"
        )
    return [[indexed[(r + base, c + base)] for c in range(cols)] for r in range(rows)]


def name_pattern(name: str) -> str:
    """A file name with every run of digits as '#' (lower case): the views of one light field
    share it (``scene1.row3.col#.ppm``... ``scene#.row#.col#.ppm``)."""
    return re.sub(r"\d+", "#", name.lower())


def _layout_plain(
    folder: Path, images: list[str], grid: tuple[int, int] | None
) -> tuple[list[list[str]], list[str]]:
    """Layout (c): the views in natural order, row-major, and the images left out."""
    if not images:
        raise InputError(f"{folder}: no images found (expected {', '.join(IMAGE_SUFFIXES)} files)")
    groups: dict[str, list[str]] = {}
    for name in images:
        groups.setdefault(name_pattern(name), []).append(name)
    ranked = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))

    def describe() -> str:
        shown = [f"{len(v)} like {k}" for k, v in ranked[:3]]
        more = f", {len(ranked) - 3} more pattern(s)" if len(ranked) > 3 else ""
        return ", ".join(shown) + more

    if grid is None:
        raise InputError(
            f"{folder}: {len(images)} images without a known naming scheme ({describe()}); "
            f"pass {parameter('grid')} to read them in sorted row-major order"
        )
    rows, cols = grid
    n = rows * cols
    views, ignored = images, []
    if len(images) != n:
        fits = [v for _, v in ranked if len(v) == n]
        if len(fits) != 1:
            why = "several naming patterns fit" if len(fits) > 1 else "no naming pattern fits"
            raise InputError(
                f"{folder}: found {len(images)} images ({describe()}), the {rows} x {cols} "
                f"grid needs {n} ({why})"
            )
        views = fits[0]
        ignored = [name for name in images if name not in set(views)]
    return [views[r * cols : (r + 1) * cols] for r in range(rows)], ignored


def _resolve_gt(folder: Path, gt: str | os.PathLike) -> Path:
    gt = Path(gt)
    if not gt.is_absolute() and not gt.exists() and (folder / gt).exists():
        return folder / gt
    return gt


@dataclass
class LightFieldLayout:
    """What a light-field folder holds, read from names and image headers (no pixels).

    folder:     the folder
    paths:      [U][V] file names of the views (relative to folder)
    shape:      (H, W) of every view
    disp_range: (lo, hi) from parameters.cfg, or None
    gt_path:    ground-truth file (given, or the HCI folder's), or None
    ignored:    names of the files beside the views that were left out
    """

    folder: Path
    paths: list[list[str]]
    shape: tuple[int, int]
    disp_range: tuple[float, float] | None
    gt_path: Path | None
    ignored: list[str]

    @property
    def grid(self) -> tuple[int, int]:
        return len(self.paths), len(self.paths[0])

    def views_bytes(self) -> int:
        """Memory of the decoded views (float32 RGB)."""
        rows, cols = self.grid
        return rows * cols * self.shape[0] * self.shape[1] * 3 * 4


def _list_files(folder: Path) -> list[str]:
    try:
        return sorted((p.name for p in folder.iterdir() if p.is_file()), key=_natural_key)
    except OSError as e:
        raise InputError(
            f"{folder}: cannot list the light-field folder ({e.strerror or e})"
        ) from None


def scan_lightfield(
    path: str | os.PathLike,
    grid: tuple[int, int] | None = None,
    gt: str | os.PathLike | None = None,
) -> LightFieldLayout:
    """The layout of a light-field folder (see the module's text) from its file names and
    image headers, without decoding a pixel: which files are the views, their size, the
    ground-truth file, what was left out. InputError for anything that is not a light field."""
    folder = Path(path)
    try:
        exists, is_dir = folder.exists(), folder.is_dir()
    except OSError as e:
        raise InputError(
            f"{folder}: cannot read the light-field folder ({e.strerror or e})"
        ) from None
    if not exists:
        raise InputError(f"{folder}: light-field folder not found")
    if not is_dir:
        raise InputError(f"{folder}: expected a folder of light-field views, found a file")
    grid = _check_grid(grid)
    gt_path = _resolve_gt(folder, gt) if gt is not None else None

    files = _list_files(folder)
    images = [n for n in files if Path(n).suffix.lower() in IMAGE_SUFFIXES]
    ignored = [n for n in files if n not in set(images)]
    if gt_path is not None and gt_path.parent.resolve() == folder.resolve():
        images = [n for n in images if n != gt_path.name]

    disp_range = None
    hci = [n for n in images if _HCI_VIEW.match(n)]
    grid_named = [(n, m) for n in images if (m := _GRID_VIEW.match(n))]
    if hci:
        paths, disp_range = _layout_hci(folder, hci, grid)
        if gt_path is None and (folder / _HCI_GT).exists():
            gt_path = folder / _HCI_GT
    elif grid_named:
        paths, _ = _layout_grid_names(folder, grid_named, grid)
    else:
        paths, _ = _layout_plain(folder, images, grid)
    views = {name for row in paths for name in row}
    left = [n for n in images if n not in views]
    ignored = sorted(set(ignored + left) - {gt_path.name if gt_path else ""}, key=_natural_key)
    if left:
        shown = ", ".join(left[:4]) + (f" and {len(left) - 4} more" if len(left) > 4 else "")
        hint = "" if gt_path is not None else f" (ground truth? pass it with {parameter('gt')})"
        log.info(f"{folder}: left out {len(left)} image(s) that are not views: {shown}{hint}")

    # Sizes from the headers first, so a mismatch is reported before decoding everything.
    flat = [name for row in paths for name in row]
    sizes = [image_size(folder / name) for name in flat]
    expected, _ = Counter(sizes).most_common(1)[0]
    for name, size in zip(flat, sizes):
        if size != expected:
            raise InputError(
                f"{folder / name}: view is {size[1]} x {size[0]} (W x H), the other views are "
                f"{expected[1]} x {expected[0]}"
            )
    return LightFieldLayout(folder, paths, expected, disp_range, gt_path, ignored)


def read_lightfield(
    path: str | os.PathLike,
    grid: tuple[int, int] | None = None,
    ref: tuple[int, int] | None = None,
    gt: str | os.PathLike | None = None,
    gt_scale: float = 1.0,
    gt_invalid_zero: bool | None = None,
    layout: LightFieldLayout | None = None,
) -> LightField:
    """Read a light field from a folder of views (layouts (a), (b), (c) in the module doc).

    path:            the folder
    grid:            (rows, cols) of views; required for layout (c), checked against the others
    ref:             (r0, c0) reference view; default the centre (rows // 2, cols // 2)
    gt:              ground-truth disparity file of the reference view (PFM, NPY, PGM/PNG; a
                     name relative to the folder is accepted); default gt_disp_lowres.pfm for HCI
    gt_scale:        factor applied to the gt values (Middlebury PGM: 1/16)
    gt_invalid_zero: zeros in gt mean "unknown" (-> NaN); default True for integer image
                     formats (PGM/PNG), False for PFM/NPY
    layout:          the folder's `scan_lightfield` when already made (else it is made here)

    Every malformed input raises InputError naming the offending file; so does a light field
    whose views would not fit into the memory available (`diffdepth.io.memory`).
    """
    from diffdepth.io.memory import check_memory

    if not math.isfinite(gt_scale) or gt_scale == 0:
        raise InputError(f"gt_scale must be a finite, non-zero number, not {gt_scale}")
    if layout is None:
        layout = scan_lightfield(path, grid, gt)
    folder, paths, gt_path = layout.folder, layout.paths, layout.gt_path
    rows, cols = layout.grid
    if ref is None:
        ref = (rows // 2, cols // 2)
    ref = (int(ref[0]), int(ref[1]))
    if not (0 <= ref[0] < rows and 0 <= ref[1] < cols):
        raise InputError(f"{folder}: reference view {ref} is outside the {rows} x {cols} grid")
    height, width = layout.shape
    check_memory(
        layout.views_bytes() * 1.1,
        f"{folder}: reading {rows} x {cols} views of {width} x {height}",
        "use fewer or smaller views (crop or downscale them)",
    )
    views = np.empty((rows, cols, height, width, 3), dtype=np.float32)
    for r in range(rows):
        for c in range(cols):
            views[r, c] = _view(folder / paths[r][c], (height, width))

    gt_map = None
    if gt_path is not None:
        if gt_invalid_zero is None:
            gt_invalid_zero = gt_path.suffix.lower() not in (".pfm", ".npy")
        gt_map = read_disparity_map(gt_path, scale=gt_scale, invalid_zero=gt_invalid_zero)
        if gt_map.shape != (height, width):
            raise InputError(
                f"{gt_path}: ground truth is {gt_map.shape[1]} x {gt_map.shape[0]} (W x H), "
                f"the views are {width} x {height}"
            )
        if not np.isfinite(gt_map).any():
            zeros = " or zero" if gt_invalid_zero else ""
            raise InputError(
                f"{gt_path}: expected ground truth with valid pixels, found every pixel "
                f"non-finite{zeros}"
            )
    return LightField(
        views=views,
        ref=ref,
        gt=gt_map,
        disp_range=layout.disp_range,
        name=folder.resolve().name,
        paths=[[str(folder / name) for name in row] for row in paths],
    )


def _view(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """A view, decoded; its size checked against the header's (a file may change meanwhile)."""
    img = read_image(path)
    if img.shape[:2] != shape:
        raise InputError(
            f"{path}: view is {img.shape[1]} x {img.shape[0]} (W x H), expected "
            f"{shape[1]} x {shape[0]}"
        )
    if not np.isfinite(img).all():
        raise InputError(f"{path}: expected finite pixel values, found NaN or infinity")
    return img
