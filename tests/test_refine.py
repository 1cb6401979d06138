"""The edge refinement: the compiled aggregation against its numpy definition, known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from diffdepth import _refine_numba as k
from diffdepth.photo import LightFieldProblem
from diffdepth.refine import (
    EdgeRefineConfig,
    adopt_candidates,
    aggregate_reference,
    edge_mask,
    refine_edges,
)


def _crosshair(n=2):
    offs = [(u, 0) for u in range(-n, n + 1) if u] + [(0, v) for v in range(-n, n + 1) if v]
    return np.array(offs, np.float64)


def test_aggregation_matches_reference():
    rng = np.random.default_rng(1)
    h, w, r, gamma = 11, 16, 2, 0.1
    ref = rng.random((h, w, 3)).astype(np.float32)
    costs = rng.random((3, h, w)).astype(np.float32)
    py, px = (a.astype(np.int64) for a in np.nonzero(rng.random((h, w)) < 0.4))
    wts = np.empty((len(px), (2 * r + 1) ** 2), np.float32)
    k.support_weights(ref, py, px, r, 1.0 / gamma, wts)
    out = np.empty(len(px), np.float32)
    k.aggregate_min(costs, wts, py, px, r, out)
    np.testing.assert_allclose(out, aggregate_reference(costs, ref, py, px, r, gamma), rtol=1e-5)


def _two_layer_scene(h=48, w=64, d_fg=2.0, n=2):
    """A textured square at disparity d_fg in front of a textured wall at disparity 0, seen by
    a crosshair of views with integer shifts (exact rendering), and the true map."""
    rng = np.random.default_rng(3)
    wall = ndimage.uniform_filter(rng.random((h, w, 3)), (3, 3, 1))
    tex = ndimage.uniform_filter(rng.random((h, w, 3)), (3, 3, 1))
    inside = np.zeros((h, w), bool)
    inside[14:34, 20:44] = True
    offs = _crosshair(n)
    views = []
    for u, v in offs:
        # view sees reference pixel (x, y) of the square at (x - d u, y - d v)
        s = (int(-d_fg * v), int(-d_fg * u))
        moved = np.roll(inside, s, axis=(0, 1))
        img = wall.copy()
        img[moved] = np.roll(tex, s, axis=(0, 1))[moved]
        views.append(img)
    ref = wall.copy()
    ref[inside] = tex[inside]
    gt = np.where(inside, d_fg, 0.0)
    problem = LightFieldProblem(ref, np.stack(views), offs)
    return problem, gt, inside


def test_halo_beside_an_occluder_is_removed():
    problem, gt, inside = _two_layer_scene()
    halo = ndimage.binary_dilation(inside, iterations=4) & ~inside
    D = np.where(inside | halo, 2.0, 0.0)  # the foreground spread 4 px onto the wall
    out, changed = refine_edges(D, problem)
    assert changed > 0
    wrong_before = (np.abs(D - gt) > 0.07)[halo].mean()
    wrong_after = (np.abs(out - gt) > 0.07)[halo].mean()
    assert wrong_before == 1.0 and wrong_after < 0.1
    assert (np.abs(out - gt) > 0.07)[inside].mean() < 0.05  # the square keeps its value


def test_correct_map_and_smooth_map_are_left_alone():
    problem, gt, _ = _two_layer_scene()
    out, _ = refine_edges(gt, problem)
    assert (np.abs(out - gt) > 0.07).mean() < 0.01
    ramp = np.tile(np.linspace(0.0, 1.0, gt.shape[1]), (gt.shape[0], 1))  # no discontinuity
    assert not edge_mask(ramp, EdgeRefineConfig()).any()
    out, changed = refine_edges(ramp, problem)
    assert changed == 0 and np.array_equal(out, ramp.astype(np.float32))


def test_bad_input_is_rejected():
    problem, gt, _ = _two_layer_scene()
    with pytest.raises(ValueError, match="do not match"):
        refine_edges(gt[:, :-1], problem)
    bad = gt.copy()
    bad[3, 3] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        refine_edges(bad, problem)
    with pytest.raises(ValueError, match="odd"):
        EdgeRefineConfig(window=4)


def test_the_pixels_the_confidence_trusts_keep_their_label():
    """Confidence at or above keep_confidence holds a pixel; the others are refined as before;
    keep_confidence None ignores the confidence."""
    problem, gt, inside = _two_layer_scene()
    halo = ndimage.binary_dilation(inside, iterations=4) & ~inside
    D = np.where(inside | halo, 2.0, 0.0)
    confidence = np.zeros(D.shape, np.float32)
    held = halo.copy()
    held[:, D.shape[1] // 2 :] = False  # the left half of the halo is trusted
    confidence[held] = 0.97
    out, _ = refine_edges(D, problem, EdgeRefineConfig(), confidence)
    assert np.array_equal(out[held], D[held].astype(np.float32))
    free = halo & ~held
    assert (np.abs(out - gt) > 0.07)[free].mean() < 0.1
    free_out, _ = refine_edges(D, problem, EdgeRefineConfig(keep_confidence=None), confidence)
    assert (np.abs(free_out - gt) > 0.07)[halo].mean() < 0.1
    just_below = np.where(held, np.float32(0.94), np.float32(0.0))  # under the 0.95 default
    below_out, _ = refine_edges(D, problem, EdgeRefineConfig(), just_below)
    assert (np.abs(below_out - gt) > 0.07)[held].mean() < 0.1
    with pytest.raises(ValueError, match="confidence"):
        refine_edges(D, problem, EdgeRefineConfig(), confidence[:, :-1])
    with pytest.raises(ValueError, match="keep_confidence"):
        EdgeRefineConfig(keep_confidence=0.0)


def test_a_candidate_is_adopted_where_the_views_prefer_it():
    """The second pass: a textured square labelled 1 px off takes the candidate's right label;
    the wall, whose label is right, keeps it although the candidate is wrong there."""
    problem, gt, inside = _two_layer_scene()
    D = np.where(inside, 1.0, 0.0)  # the square is wrong, the wall right
    candidate = np.where(inside, 2.0, 0.5)  # the square right, the wall wrong
    out, changed = adopt_candidates(D, candidate, problem)
    core = ndimage.binary_erosion(inside, iterations=3)
    wall = ~ndimage.binary_dilation(inside, iterations=6)
    assert (out[core] == 2.0).mean() > 0.95
    assert (out[wall] == 0.0).mean() > 0.95
    assert changed == int((out != D.astype(np.float32)).sum())


def test_a_candidate_the_views_cannot_tell_apart_is_not_adopted():
    """Without texture every label matches as well as any other: the margin keeps the map; a
    margin of None (or a light field of one view) adopts nothing."""
    h, w = 32, 40
    offs = _crosshair(2)
    flat = np.full((h, w, 3), 0.4)
    problem = LightFieldProblem(flat, np.stack([flat] * len(offs)), offs)
    D = np.zeros((h, w))
    out, changed = adopt_candidates(D, D + 0.7, problem)
    assert changed == 0 and np.array_equal(out, D.astype(np.float32))
    textured, gt, inside = _two_layer_scene()
    D = np.where(inside, 1.0, 0.0)
    out, changed = adopt_candidates(D, gt, textured, EdgeRefineConfig(adopt_margin=None))
    assert changed == 0 and np.array_equal(out, D.astype(np.float32))


def test_the_adoption_margin_is_a_margin():
    """A larger margin adopts a subset of what a smaller one adopts, and a candidate equal to
    the map changes nothing."""
    problem, gt, inside = _two_layer_scene()
    rng = np.random.default_rng(5)
    D = gt + rng.normal(0.0, 0.3, gt.shape)
    cand = gt + rng.normal(0.0, 0.2, gt.shape)  # better on the whole, not everywhere
    loose, n_loose = adopt_candidates(D, cand, problem, EdgeRefineConfig(adopt_margin=0.0))
    tight, n_tight = adopt_candidates(D, cand, problem, EdgeRefineConfig(adopt_margin=0.6))
    assert 0 < n_tight < n_loose
    assert np.all((tight != D.astype(np.float32)) <= (loose != D.astype(np.float32)))
    _, same = adopt_candidates(gt, gt, problem)
    assert same == 0


def test_adoption_rejects_bad_input():
    problem, gt, _ = _two_layer_scene()
    with pytest.raises(ValueError, match="do not match"):
        adopt_candidates(gt, gt[:, :-1], problem)
    bad = gt.copy()
    bad[2, 2] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        adopt_candidates(gt, bad, problem)
    for margin in (1.0, -0.1):
        with pytest.raises(ValueError, match="adopt_margin"):
            EdgeRefineConfig(adopt_margin=margin)
