"""The data every layer shares: point sets, light fields, calibrated multi-view scenes.

Plain containers (numpy arrays and their shapes), below every other module: readers in `io`,
point sources in `points`, the photo-consistency layer and the pipeline all speak them.
Conventions: pixel centres at integers, x = column, y = row; disparity in px per view step with
the HCI sign (view (r, c) sees reference pixel (x, y) at (x - d (c - c0), y - d (r - r0))).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# The pixel steps (dx, dy) of the bits of `PointSet.sides`: bit k is the neighbour at SIDE_STEPS[k].
SIDE_STEPS: tuple[tuple[int, int], ...] = ((-1, 0), (1, 0), (0, -1), (0, 1))


@dataclass
class PointSet:
    """Sparse labelled points in the reference view.

    xy:         float32 [N, 2], x = column, y = row, pixels (pixel centres at integers)
    value:      float32 [N], the label: disparity (px per view step, HCI sign) on a light
                field, inverse depth on multi-view input
    confidence: float32 [N] in 0..1, or None when the source gives none
    sides:      uint8 [N], per point the sides of its pixel across the image edges it lies
                on that it does not belong to (the occluded sides where an edge is a depth
                edge): bit k set for the neighbour at SIDE_STEPS[k] (-x, +x, -y, +y); 0
                where unknown; None when the source does not know (EPI points know it)
    """

    xy: np.ndarray
    value: np.ndarray
    confidence: np.ndarray | None = None
    sides: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.xy = np.asarray(self.xy, dtype=np.float32).reshape(-1, 2)
        self.value = np.asarray(self.value, dtype=np.float32).reshape(-1)
        if self.confidence is not None:
            self.confidence = np.asarray(self.confidence, dtype=np.float32).reshape(-1)
        if self.sides is not None:
            self.sides = np.asarray(self.sides, dtype=np.uint8).reshape(-1)
        n = len(self.xy)
        if len(self.value) != n or (self.confidence is not None and len(self.confidence) != n):
            raise ValueError(
                f"PointSet: xy has {n} rows but value has {len(self.value)}"
                + ("" if self.confidence is None else f" and confidence {len(self.confidence)}")
            )
        if self.sides is not None and len(self.sides) != n:
            raise ValueError(f"PointSet: xy has {n} rows but sides has {len(self.sides)}")

    def __len__(self) -> int:
        return len(self.xy)

    def subset(self, mask: np.ndarray) -> PointSet:
        """The points where mask (bool [N] or index array) selects."""
        conf = None if self.confidence is None else self.confidence[mask]
        sides = None if self.sides is None else self.sides[mask]
        return PointSet(self.xy[mask], self.value[mask], conf, sides)


@dataclass
class LightField:
    """A regular grid of views of one scene.

    views:      float32 [U, V, H, W, 3] in 0..1; U rows, V columns of views
    ref:        (r0, c0), grid position of the reference view
    gt:         float32 [H, W] disparity of the reference view (px per view step, HCI sign;
                NaN = unknown), or None
    disp_range: (lo, hi) disparity range of the scene, or None when unknown
    name:       short scene name
    paths:      [U][V] file names of the views, or None for a synthetic light field
    """

    views: np.ndarray
    ref: tuple[int, int]
    gt: np.ndarray | None = None
    disp_range: tuple[float, float] | None = None
    name: str = ""
    paths: list[list[str]] | None = None

    def __post_init__(self) -> None:
        self.views = np.asarray(self.views, dtype=np.float32)
        if self.views.ndim != 5 or self.views.shape[-1] != 3:
            raise ValueError(f"LightField: views must be [U, V, H, W, 3], got {self.views.shape}")
        rows, cols = self.grid
        r0, c0 = (int(self.ref[0]), int(self.ref[1]))
        if not (0 <= r0 < rows and 0 <= c0 < cols):
            raise ValueError(f"LightField: ref {self.ref} outside the {rows} x {cols} grid")
        self.ref = (r0, c0)
        if self.gt is not None:
            self.gt = np.asarray(self.gt, dtype=np.float32)
            if self.gt.shape != self.shape:
                raise ValueError(
                    f"LightField: gt has shape {self.gt.shape}, the views are {self.shape}"
                )
        if self.disp_range is not None:
            self.disp_range = (float(self.disp_range[0]), float(self.disp_range[1]))

    @property
    def grid(self) -> tuple[int, int]:
        """(U, V): number of rows and columns of views."""
        return int(self.views.shape[0]), int(self.views.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of each view."""
        return int(self.views.shape[2]), int(self.views.shape[3])

    @property
    def ref_view(self) -> np.ndarray:
        """The reference view, float32 [H, W, 3]."""
        return self.views[self.ref]

    def offsets(self) -> np.ndarray:
        """int [U, V, 2]: (r - r0, c - c0) of every view."""
        rows, cols = self.grid
        r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
        return np.stack([r - self.ref[0], c - self.ref[1]], axis=-1)

    def _select(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mask = mask.copy()
        mask[self.ref] = False
        rr, cc = np.nonzero(mask)  # row-major order
        views = self.views[rr, cc]  # [K, H, W, 3]
        uv = np.stack([cc - self.ref[1], rr - self.ref[0]], axis=-1).astype(np.float32)
        return views, uv  # uv [K, 2] = (u, v) = (c - c0, r - r0)

    def crosshair(self) -> tuple[np.ndarray, np.ndarray]:
        """Views of the reference row and column, without the reference.

        Returns views float32 [K, H, W, 3] and offsets float32 [K, 2] as (u, v) = (c - c0, r - r0).
        """
        rows, cols = self.grid
        r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
        return self._select((r == self.ref[0]) | (c == self.ref[1]))

    def all_views(self) -> tuple[np.ndarray, np.ndarray]:
        """Every view but the reference: views [K, H, W, 3], offsets [K, 2] as (u, v)."""
        return self._select(np.ones(self.grid, dtype=bool))


@dataclass
class MultiViewScene:
    """Calibrated photographs of one scene, with an optional sparse point cloud.

    images:       n float32 arrays [H_i, W_i, 3] in 0..1 (sizes may differ)
    names:        n image file names (relative to the image folder)
    K:            float64 [n, 3, 3] pinhole intrinsics (pixel centres at integers)
    R:            float64 [n, 3, 3] world-to-camera rotations
    t:            float64 [n, 3] world-to-camera translations (x_cam = R X + t)
    points3d:     float64 [M, 3] sparse world points, or None
    obs_ids:      per image, int64 [m_i] rows of points3d that image sees, or None
    obs_xy:       per image, float32 [m_i, 2] where it sees them (x = col, y = row), or None
    point_colors: uint8 [M, 3] colours of the points, or None
    source:       where the scene was read from (for messages)
    """

    images: list[np.ndarray]
    names: list[str]
    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    points3d: np.ndarray | None = None
    obs_ids: list[np.ndarray] | None = None
    obs_xy: list[np.ndarray] | None = None
    point_colors: np.ndarray | None = None
    source: str = field(default="")

    def __post_init__(self) -> None:
        n = len(self.images)
        self.K = np.asarray(self.K, dtype=np.float64).reshape(n, 3, 3)
        self.R = np.asarray(self.R, dtype=np.float64).reshape(n, 3, 3)
        self.t = np.asarray(self.t, dtype=np.float64).reshape(n, 3)
        if len(self.names) != n:
            raise ValueError(f"MultiViewScene: {n} images but {len(self.names)} names")
        if self.points3d is not None:
            self.points3d = np.asarray(self.points3d, dtype=np.float64).reshape(-1, 3)
            if self.obs_ids is None:
                self.obs_ids = [np.zeros(0, np.int64) for _ in range(n)]
                self.obs_xy = [np.zeros((0, 2), np.float32) for _ in range(n)]
            self.obs_ids = [np.asarray(o, dtype=np.int64).reshape(-1) for o in self.obs_ids]
            self.obs_xy = [np.asarray(o, dtype=np.float32).reshape(-1, 2) for o in self.obs_xy]
            if len(self.obs_ids) != n or len(self.obs_xy) != n:
                raise ValueError("MultiViewScene: need one observation list per image")
            m = len(self.points3d)
            for ids, xy in zip(self.obs_ids, self.obs_xy):
                if len(ids) != len(xy) or (len(ids) and (ids.min() < 0 or ids.max() >= m)):
                    raise ValueError("MultiViewScene: observation ids do not match points3d")
            if self.point_colors is not None:
                self.point_colors = np.asarray(self.point_colors, dtype=np.uint8).reshape(m, 3)

    def __len__(self) -> int:
        return len(self.images)

    def shape(self, i: int) -> tuple[int, int]:
        """(H, W) of image i."""
        return self.images[i].shape[:2]

    def centre(self, i: int) -> np.ndarray:
        """Camera centre of image i in world coordinates, [3]."""
        return -self.R[i].T @ self.t[i]

    def project(self, i: int, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project world points X [M, 3] into image i: pixel xy [M, 2] and depth z [M]."""
        Xc = np.asarray(X, dtype=np.float64) @ self.R[i].T + self.t[i]
        p = Xc @ self.K[i].T
        z = p[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            xy = p[:, :2] / z[:, None]
        return xy, z

    def num_observations(self) -> np.ndarray:
        """How many sparse points each image sees, int64 [n] (zeros without points)."""
        if self.obs_ids is None:
            return np.zeros(len(self), np.int64)
        return np.array([len(o) for o in self.obs_ids], np.int64)

    def default_ref(self) -> int:
        """The image that sees the most sparse points (the first one when there are none)."""
        return int(np.argmax(self.num_observations())) if len(self) else 0

    def visible_points(self, ref: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The sparse points image ``ref`` sees, projected into it.

        Returns xy float32 [m, 2] (projections of the 3D points), depth float32 [m] (> 0) and
        ids int64 [m] (rows of points3d); points behind the camera or outside the image are left
        out.
        """
        if self.points3d is None or self.obs_ids is None:
            raise ValueError(f"{self.source or 'scene'}: the scene has no sparse 3D points")
        ids = np.unique(self.obs_ids[ref])
        xy, z = self.project(ref, self.points3d[ids])
        h, w = self.shape(ref)
        keep = (
            (z > 0)
            & np.isfinite(xy).all(1)
            & (xy[:, 0] >= -0.5)
            & (xy[:, 0] <= w - 0.5)
            & (xy[:, 1] >= -0.5)
            & (xy[:, 1] <= h - 0.5)
        )
        return xy[keep].astype(np.float32), z[keep].astype(np.float32), ids[keep]
