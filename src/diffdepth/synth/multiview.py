"""A synthetic calibrated multi-view scene with exact depth, rendered by ray casting.

The world is a room corner seen from the front: a textured back wall at z = 10, a textured
floor (y = +1.5, y points down as in the cameras), a box standing in front of the wall (its
faces textured, occluding wall and floor) and a tilted, nearly uniform panel (a texture-poor
surface). Every surface is a flat rectangle with a procedural, view-independent colour
(smooth sums of sinusoids), so warping with the true depth reproduces colours exactly up to
bilinear interpolation, except where a surface is hidden in one view and seen in the other.

Cameras are pinhole, x_cam = R X + t, with camera 0 at the origin. Two layouts:

- ``"ring"``: every camera looks at the point (0, 0, 8), the others on a circle of radius
  ``baseline / 2`` around camera 0 (default baseline 1.0, about a tenth of the scene depth);
- ``"row"``: a rectified row, as a stereo rig gives: identical intrinsics, no rotation (every
  camera looks down +z), camera i at x = i * baseline; reference pixel (x, y) of depth z is seen
  by camera i at (x - i f baseline / z, y).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffdepth.types import MultiViewScene


@dataclass
class _Rect:
    centre: np.ndarray  # [3]
    axis1: np.ndarray  # [3] unit
    axis2: np.ndarray  # [3] unit
    half1: float
    half2: float
    texture: tuple  # (kind, parameters)

    @property
    def normal(self) -> np.ndarray:
        return np.cross(self.axis1, self.axis2)


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def _smooth_texture(rng: np.random.Generator, n_waves: int, min_wavelength: float) -> tuple:
    """Random colour texture: per channel a base colour plus sinusoids of random direction."""
    base = rng.uniform(0.3, 0.7, size=3)
    angles = rng.uniform(0, np.pi, size=n_waves)
    wavelengths = rng.uniform(min_wavelength, 4 * min_wavelength, size=n_waves)
    k = np.stack([np.cos(angles), np.sin(angles)], -1) * (2 * np.pi / wavelengths)[:, None]
    phases = rng.uniform(0, 2 * np.pi, size=n_waves)
    amps = rng.uniform(-1, 1, size=(n_waves, 3))
    amps *= 0.3 / np.abs(amps).sum(0, keepdims=True)
    return ("waves", base, k, phases, amps)


def _shade(texture: tuple, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Colour [..., 3] of a texture at surface coordinates (a, b)."""
    if texture[0] == "flat":
        _, colour, slope = texture
        return colour + slope * (a[..., None] * 0.02)
    _, base, k, phases, amps = texture
    arg = a[..., None] * k[:, 0] + b[..., None] * k[:, 1] + phases  # [..., n_waves]
    return base + np.sin(arg) @ amps


def _box(centre, size, rng, min_wavelength) -> list[_Rect]:
    c = np.asarray(centre, dtype=np.float64)
    half = np.asarray(size, dtype=np.float64) / 2
    eye = np.eye(3)
    faces = []
    for axis in range(3):
        o1, o2 = [i for i in range(3) if i != axis]
        for sign in (-1.0, 1.0):
            tex = _smooth_texture(rng, 6, min_wavelength)
            faces.append(
                _Rect(c + sign * half[axis] * eye[axis], eye[o1], eye[o2], half[o1], half[o2], tex)
            )
    return faces


def _world(rng: np.random.Generator) -> list[_Rect]:
    ex, ey, ez = np.eye(3)
    rects = [
        _Rect(np.array([0.0, 0.0, 10.0]), ex, ey, 9.0, 9.0, _smooth_texture(rng, 8, 0.35)),
        _Rect(np.array([0.0, 1.5, 6.0]), ex, ez, 9.0, 4.0, _smooth_texture(rng, 8, 0.3)),
    ]
    rects += _box([-1.0, 0.6, 6.5], [1.4, 1.8, 1.2], rng, 0.2)
    tilt = np.deg2rad(35.0)
    a1 = _unit([np.cos(tilt), 0.0, -np.sin(tilt)])
    rects.append(
        _Rect(
            np.array([1.6, -0.2, 7.5]),
            a1,
            ey,
            0.8,
            0.9,
            ("flat", np.array([0.75, 0.62, 0.45]), np.array([0.5, 0.4, 0.3])),
        )
    )
    return rects


def _look_at(centre: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = _unit(target - centre)
    right = _unit(np.cross([0.0, 1.0, 0.0], f))
    down = np.cross(f, right)
    R = np.stack([right, down, f])
    return R, -R @ centre


def ray_cast(
    rects: list[_Rect], K: np.ndarray, R: np.ndarray, t: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Depth float32 [H, W] (camera z; inf where no surface) and colour float32 [H, W, 3]."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    pix = np.stack([xs, ys, np.ones_like(xs)], -1)  # [H, W, 3]
    d_cam = pix @ np.linalg.inv(K).T  # z component 1: the ray parameter is the depth
    d = d_cam @ R  # world direction, R^T d_cam
    c = -R.T @ t
    depth = np.full((h, w), np.inf)
    colour = np.zeros((h, w, 3))
    for rect in rects:
        n = rect.normal
        denom = d @ n
        with np.errstate(divide="ignore", invalid="ignore"):
            s = ((rect.centre - c) @ n) / denom  # inf for rays parallel to the plane
            q = c + s[..., None] * d - rect.centre
            a, b = q @ rect.axis1, q @ rect.axis2
        hit = (s > 1e-6) & (np.abs(a) <= rect.half1) & (np.abs(b) <= rect.half2) & (s < depth)
        depth = np.where(hit, s, depth)
        colour[hit] = _shade(rect.texture, a[hit], b[hit])
    return depth.astype(np.float32), np.clip(colour, 0.0, 1.0).astype(np.float32)


def make_multiview(
    n_views: int = 5,
    height: int = 120,
    width: int = 160,
    seed: int = 0,
    sizes: list[tuple[int, int]] | None = None,
    baseline: float = 1.0,
    n_points: int = 500,
    layout: str = "ring",
) -> tuple[MultiViewScene, list[np.ndarray]]:
    """Render the synthetic scene from ``n_views`` pinhole cameras.

    height, width: image size of every view, unless ``sizes`` gives (H, W) per view
    seed:      the textures and the sparse points
    baseline:  "ring": diameter of the circle of cameras around camera 0 (scene depth 6..10);
               "row": distance between neighbouring cameras
    layout:    "ring" (cameras look at one point) or "row" (rectified, see the module docstring)
    n_points:  number of sparse points sampled on visible surfaces (exact, noise-free), each
               observed in every view that sees it (occlusion tested against the true depth)
    Returns the scene (images float32 [H_i, W_i, 3]; points3d, obs_ids, obs_xy filled in) and the
    true depth (camera z) float32 [H_i, W_i] of every view.
    """
    if n_views < 2:
        raise ValueError(f"make_multiview: need at least 2 views, got {n_views}")
    if layout not in ("ring", "row"):
        raise ValueError(f"make_multiview: layout must be 'ring' or 'row', got {layout!r}")
    sizes = [(height, width)] * n_views if sizes is None else [tuple(s) for s in sizes]
    if len(sizes) != n_views:
        raise ValueError(f"make_multiview: {n_views} views but {len(sizes)} sizes")
    rng = np.random.default_rng(seed)
    rects = _world(rng)
    target = np.array([0.0, 0.0, 8.0])
    Ks, Rs, ts, images, depths = [], [], [], [], []
    for i, (h, w) in enumerate(sizes):
        if layout == "row":
            centre = np.array([i * baseline, 0.0, 0.0])
        elif i == 0:
            centre = np.zeros(3)
        else:
            ang = 2 * np.pi * (i - 1) / (n_views - 1) + 0.3
            centre = 0.5 * baseline * np.array([np.cos(ang), np.sin(ang), 0.0])
        f = 1.0 * w
        K = np.array([[f, 0.0, (w - 1) / 2], [0.0, f, (h - 1) / 2], [0.0, 0.0, 1.0]])
        if layout == "row":
            R, t = np.eye(3), -centre
        else:
            R, t = _look_at(centre, target)
        depth, img = ray_cast(rects, K, R, t, (h, w))
        Ks.append(K)
        Rs.append(R)
        ts.append(t)
        images.append(img)
        depths.append(depth)
    scene = MultiViewScene(
        images,
        [f"view{i:02d}.png" for i in range(n_views)],
        np.array(Ks),
        np.array(Rs),
        np.array(ts),
        source="synthetic multi-view scene",
    )
    # sparse points: random pixels of random views, lifted with the true depth
    src = rng.integers(0, n_views, size=n_points)
    pts = []
    for i in range(n_views):
        k = int((src == i).sum())
        h, w = sizes[i]
        xy = np.stack([rng.uniform(0, w - 1, k), rng.uniform(0, h - 1, k)], -1)
        z = depths[i][np.round(xy[:, 1]).astype(int), np.round(xy[:, 0]).astype(int)]
        ray = np.concatenate([xy, np.ones((k, 1))], 1) @ np.linalg.inv(Ks[i]).T
        pts.append(((ray * z[:, None]) - ts[i]) @ Rs[i])
    points = np.concatenate(pts)
    obs = np.zeros((n_views, len(points)), bool)
    proj = []
    for i in range(n_views):
        xy, z = scene.project(i, points)
        h, w = sizes[i]
        inside = (z > 0) & (xy[:, 0] >= 0) & (xy[:, 0] <= w - 1) & (xy[:, 1] >= 0)
        inside &= xy[:, 1] <= h - 1
        zi = np.full(len(points), np.inf)
        r = np.round(xy[inside]).astype(int)
        zi[inside] = depths[i][r[:, 1], r[:, 0]]
        obs[i] = inside & (np.abs(z - zi) <= 0.01 * z)
        proj.append(xy)
    keep = obs.sum(0) >= 2
    points, obs = points[keep], obs[:, keep]
    scene.points3d = points
    scene.obs_ids = [np.flatnonzero(obs[i]) for i in range(n_views)]
    scene.obs_xy = [proj[i][keep][obs[i]].astype(np.float32) for i in range(n_views)]
    scene.__post_init__()
    return scene, depths
