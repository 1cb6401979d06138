"""Depth maps and point clouds in the formats other tools read.

- 16-bit PNG (Open3D / TUM RGB-D convention): ``uint16 = round(depth * scale)``, 0 where the
  depth is unknown; a reader divides by the scale (Open3D's ``depth_scale``, TUM's 5000). The
  scale is chosen per map as the largest power of ten that keeps the deepest valid pixel below
  65535, and is returned so that it can be written down beside the file.
- COLMAP dense depth map (``stereo/depth_maps/NAME.geometric.bin``, read by COLMAP's fusion and
  by its ``read_array``): the ASCII header ``width&height&channels&`` followed by float32
  values, little-endian, x fastest, then y, then channel (a [H, W] map in C order); 0 where the
  depth is unknown.
- PLY (binary little-endian): vertices with x, y, z (float32), optional nx, ny, nz (float32),
  red, green, blue (uint8) and an optional per-point ``confidence`` (float32).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from diffdepth.io.atomic import atomic_write


def png16_scale(depth: np.ndarray, valid: np.ndarray) -> float:
    """Largest power of ten s with max(depth[valid]) * s <= 65535 (1 when nothing is valid)."""
    d = np.asarray(depth, np.float64)[valid & np.isfinite(depth)]
    if d.size == 0 or not d.max() > 0:
        return 1.0
    return float(10.0 ** np.floor(np.log10(65535.0 / d.max())))


def write_depth_png16(path, depth: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Write depth [H, W] as a 16-bit PNG (0 outside ``valid`` and where not finite or <= 0);
    returns the scale (depth = value / scale)."""
    depth = np.asarray(depth, np.float64)
    ok = np.isfinite(depth) & (depth > 0)
    if valid is not None:
        ok &= np.asarray(valid, bool)
    scale = png16_scale(depth, ok)
    u16 = np.zeros(depth.shape, np.uint16)
    u16[ok] = np.clip(np.round(depth[ok] * scale), 1, 65535).astype(np.uint16)
    import io

    buf = io.BytesIO()
    Image.fromarray(u16).save(buf, format="PNG")
    with atomic_write(path) as f:
        f.write(buf.getvalue())
    return scale


def write_colmap_depth(path, depth: np.ndarray, valid: np.ndarray | None = None) -> None:
    """Write depth [H, W] as a COLMAP depth map (0 outside ``valid`` and where not finite)."""
    depth = np.asarray(depth, np.float64)
    ok = np.isfinite(depth) & (depth > 0)
    if valid is not None:
        ok &= np.asarray(valid, bool)
    h, w = depth.shape
    data = np.where(ok, depth, 0.0).astype("<f4")
    with atomic_write(path) as f:
        f.write(f"{w}&{h}&1&".encode("ascii"))
        f.write(np.ascontiguousarray(data).tobytes())


def write_ply(
    path,
    xyz: np.ndarray,
    rgb: np.ndarray,
    normals: np.ndarray | None = None,
    confidence: np.ndarray | None = None,
) -> None:
    """Binary little-endian PLY of points xyz [M, 3] with colours uint8 [M, 3], optional unit
    normals [M, 3] and confidence [M]."""
    fields = [("p", "<f4", 3)]
    props = "property float x\nproperty float y\nproperty float z\n"
    if normals is not None:
        fields.append(("n", "<f4", 3))
        props += "property float nx\nproperty float ny\nproperty float nz\n"
    fields.append(("c", "u1", 3))
    props += "property uchar red\nproperty uchar green\nproperty uchar blue\n"
    if confidence is not None:
        fields.append(("q", "<f4"))
        props += "property float confidence\n"
    rec = np.zeros(len(xyz), dtype=fields)
    rec["p"], rec["c"] = xyz, rgb
    if normals is not None:
        rec["n"] = normals
    if confidence is not None:
        rec["q"] = confidence
    header = f"ply\nformat binary_little_endian 1.0\nelement vertex {len(xyz)}\n{props}end_header\n"
    with atomic_write(Path(path)) as f:
        f.write(header.encode("ascii"))
        f.write(rec.tobytes())
