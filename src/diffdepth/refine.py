"""Edge refinement: occlusion-aware propagation of the dense map near its depth discontinuities.

Diffusion and the re-projection loss leave one error the points cannot fix: beside an occluding
contour the nearer surface's disparity spreads a few pixels onto the background (a halo), because
the background there has few points (its lines end at the occluder) and the smoothness carries the
foreground across.  Such a pixel's right value is usually already in the map a few pixels away,
on the background.  So, for every pixel within ``radius`` px of a discontinuity of the map (its
range over 3x3 px exceeds ``jump``), the map shifted by each of 8 directions x ``distances`` px
is a candidate; each candidate is scored by photo-consistency, and a pixel takes the candidate of
lowest cost when it costs less than the pixel's current value (``rounds`` times over).  Given the
map's confidence (`diffdepth.confidence`), the pixels trusted at ``keep_confidence`` or more are
left as they are: an accurate point that agrees with the map sits on them (or the views single
their label out), and a shifted copy of a neighbour's label is no better an answer there.

The cost is occlusion-aware, as in the plane sweep of `diffdepth.points.sweep`: the photo layer's
`subset_errors` of the candidate map over `one_sided_subsets` of the views (a background pixel
beside an occluder is hidden only on one side), aggregated over a
``window`` x ``window`` neighbourhood with adaptive support weights exp(-sum_c |I_q - I_p| /
gamma) (so that the window does not reach across the colour edge of the occluder), and the best
subset kept.  This is PatchMatch-style propagation (Bleyer et al., BMVC 2011) with adaptive
support weights (Yoon & Kweon, PAMI 2006), restricted to the neighbourhood of the map's edges.

A second pass (`adopt_candidates`) scores another map of candidates the same way at every pixel
and takes a candidate where it costs less than (1 - ``adopt_margin``) times the pixel's own
label.  The light-field run offers the local orientation of its EPIs
(`diffdepth.points.orientation`): accurate to a few hundredths of a pixel where the views have
texture along a row or column of the grid, where diffusion between sparse points is only as
good as its interpolation (slanted and curved surfaces, weak texture, stripes), and wrong
elsewhere; the margin lets it win only where the views clearly prefer it.

    D_refined, changed = refine_edges(D, problem)
    D_fused, adopted = adopt_candidates(D_refined, candidate, problem)

problem: a `diffdepth.photo.LightFieldProblem` (reference view, views in 0..1, offsets).
`aggregate_reference` is the plain numpy definition the compiled aggregation is tested against.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from diffdepth.config import EdgeRefineConfig
from diffdepth.photo import LightFieldProblem, one_sided_subsets, subset_errors

_DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1))


def aggregate_reference(costs, ref, py, px, radius, gamma) -> np.ndarray:
    """float64 [M]: min over subsets of the support-weighted window mean of costs at the pixels
    (px, py).  Plain numpy, one pixel at a time (the definition of the compiled aggregation)."""
    ref = np.asarray(ref, np.float64)
    S, H, W = costs.shape
    out = np.empty(len(px))
    for m, (x, y) in enumerate(zip(px, py, strict=True)):
        y0, y1 = max(0, y - radius), min(H, y + radius + 1)
        x0, x1 = max(0, x - radius), min(W, x + radius + 1)
        w = np.exp(-np.abs(ref[y0:y1, x0:x1] - ref[y, x]).sum(-1) / gamma)
        out[m] = min((w * costs[s, y0:y1, x0:x1]).sum() / w.sum() for s in range(S))
    return out


def _shifted(D: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """out[y, x] = D[y - dy, x - dx], indices clamped to the image."""
    H, W = D.shape
    rows = np.clip(np.arange(H) - dy, 0, H - 1)
    cols = np.clip(np.arange(W) - dx, 0, W - 1)
    return D[rows][:, cols]


def edge_mask(D: np.ndarray, config: EdgeRefineConfig) -> np.ndarray:
    """bool [H, W]: the pixels within ``radius`` px of a discontinuity of D."""
    rng = ndimage.maximum_filter(D, 3) - ndimage.minimum_filter(D, 3)
    edges = rng > config.jump
    if not edges.any():
        return edges
    return ndimage.distance_transform_edt(~edges) < config.radius


def refine_edges(
    D: np.ndarray,
    problem: LightFieldProblem,
    config: EdgeRefineConfig = EdgeRefineConfig(),  # noqa: B008 (frozen dataclass)
    confidence: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """The map with its pixels near depth discontinuities re-chosen among shifted copies of
    itself by occlusion-aware photo-consistency.  Returns (float32 [H, W], pixels changed).

    confidence: the map's confidence [H, W] in 0..1 (`diffdepth.confidence`); the pixels at or
    above ``config.keep_confidence`` keep their label (None: no pixel is held)."""
    D = np.asarray(D, np.float64)
    if D.shape != problem.shape:
        raise ValueError(f"refine_edges: map {D.shape} and views {problem.shape} do not match")
    return refine_edges_with(D, problem.ref, *_lightfield_costs(problem), config, confidence)


def _lightfield_costs(problem: LightFieldProblem):
    """(map_costs, number of subsets) of a light field for `_scorer`: the photo layer's errors
    of the labels over the one-sided subsets of its views."""
    member = one_sided_subsets(problem.offsets)

    def map_costs(Dm: np.ndarray, need: np.ndarray, out: np.ndarray) -> None:
        subset_errors(problem.ref, problem.views, problem.offsets, member, Dm, need, out=out)

    return map_costs, len(member)


def _scorer(ref_c: np.ndarray, map_costs, n_subsets: int, mask: np.ndarray, config):
    """score(Dm) -> float32 [M]: the occlusion-aware cost of each pixel of ``mask`` (in
    np.nonzero order) at the labels of the map Dm: per view subset the support-weighted mean
    over the ``config.window`` neighbourhood of the subset's error, the best subset kept."""
    from diffdepth import _refine_numba as k

    py, px = (a.astype(np.int64) for a in np.nonzero(mask))
    r = config.window // 2
    need = ndimage.binary_dilation(mask, np.ones((config.window,) * 2, dtype=bool))
    weights = np.empty((len(px), config.window**2), np.float32)
    k.support_weights(ref_c, py, px, r, 1.0 / config.gamma, weights)
    costs = np.empty((n_subsets,) + mask.shape, np.float32)

    def score(Dm: np.ndarray) -> np.ndarray:
        map_costs(Dm, need, costs)
        out = np.empty(len(px), np.float32)
        k.aggregate_min(costs, weights, py, px, r, out)
        return out

    return score


def _reference_colours(ref: np.ndarray) -> np.ndarray:
    ref_c = np.ascontiguousarray(ref, dtype=np.float32)
    return ref_c[..., None] if ref_c.ndim == 2 else ref_c


def refine_edges_with(
    D: np.ndarray,
    ref: np.ndarray,
    map_costs,
    n_subsets: int,
    config: EdgeRefineConfig = EdgeRefineConfig(),  # noqa: B008 (frozen dataclass)
    confidence: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """`refine_edges` for any camera model: ``map_costs(Dm, need, out)`` writes into out
    float32 [n_subsets, H, W] the error of every view subset at each pixel's own label Dm[y, x]
    (only where need[y, x]; UNSEEN where no view of the subset sees the pixel). D [H, W] is in
    the units of ``config.jump`` and ``config.min_change``; ref [H, W, C]; confidence as in
    `refine_edges`."""
    D = np.array(D, np.float64)  # a private copy, updated in place
    ref_c = _reference_colours(ref)
    if not np.isfinite(D).all():
        raise ValueError("refine_edges: the map has non-finite values")
    start = D.copy()
    mask = edge_mask(D, config)
    if confidence is not None and config.keep_confidence is not None:
        confidence = np.asarray(confidence)
        if confidence.shape != D.shape:
            raise ValueError(
                f"refine_edges: confidence {confidence.shape} and map {D.shape} do not match"
            )
        mask &= ~(confidence >= config.keep_confidence)  # NaN confidence holds nothing
    if config.rounds == 0 or not mask.any():
        return D.astype(np.float32), 0
    py, px = (a.astype(np.int64) for a in np.nonzero(mask))
    score = _scorer(ref_c, map_costs, n_subsets, mask, config)
    shifts = [
        (dx * s, dy * s)
        for dist in config.distances
        for dx, dy in _DIRECTIONS
        for s in [max(1, int(round(dist / np.hypot(dx, dy))))]
    ]

    for _ in range(config.rounds):
        best = score(D)
        best_d = D[py, px].copy()
        for dx, dy in shifts:
            cand = _shifted(D, dx, dy)
            c = score(cand)
            cv = cand[py, px]
            better = (c < best) & (np.abs(cv - D[py, px]) > config.min_change)
            best = np.where(better, c, best)
            best_d = np.where(better, cv, best_d)
        D[py, px] = best_d  # every candidate of this round was taken from the map before
    changed = int((D != start).sum())
    return D.astype(np.float32), changed


def adopt_candidates(
    D: np.ndarray,
    candidate: np.ndarray,
    problem: LightFieldProblem,
    config: EdgeRefineConfig = EdgeRefineConfig(),  # noqa: B008 (frozen dataclass)
) -> tuple[np.ndarray, int]:
    """The map with each pixel replaced by the candidate map's label where the views match that
    label clearly better: its occlusion-aware cost (as in `refine_edges`) is below
    (1 - ``config.adopt_margin``) times that of the pixel's own label.  Every pixel is tried
    (None margin: none).  Returns (float32 [H, W], pixels changed).

    Where the views cannot tell the labels apart (no texture, or a candidate as good as the
    map) the margin keeps the map: the candidate has to earn each pixel."""
    D = np.array(D, np.float64)
    candidate = np.asarray(candidate, np.float64)
    if D.shape != problem.shape or candidate.shape != problem.shape:
        raise ValueError(
            f"adopt_candidates: map {D.shape}, candidate {candidate.shape} and views "
            f"{problem.shape} do not match"
        )
    if not (np.isfinite(D).all() and np.isfinite(candidate).all()):
        raise ValueError("adopt_candidates: the maps have non-finite values")
    if config.adopt_margin is None or len(problem) == 0:
        return D.astype(np.float32), 0
    mask = np.ones(D.shape, bool)
    score = _scorer(_reference_colours(problem.ref), *_lightfield_costs(problem), mask, config)
    take = score(candidate) < (1.0 - config.adopt_margin) * score(D)
    take = take.reshape(D.shape) & (candidate != D)
    D[take] = candidate[take]
    return D.astype(np.float32), int(take.sum())
