from dataclasses import replace

import numpy as np
import pytest
import torch

from diffdepth.optimize import (
    GROUPS,
    DiffusionModel,
    OptimConfig,
    initial_q,
    optimize,
    snapshot,
)


def _problem(h=20, w=28, seed=0):
    """A slanted plane seen through noisy points; the loss is L1 to the plane."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    gt = 0.5 + 0.03 * xx - 0.02 * yy
    n = 60
    xy = torch.stack(
        [torch.rand(n, generator=g) * (w - 1), torch.rand(n, generator=g) * (h - 1)], 1
    )
    value = 0.5 + 0.03 * xy[:, 0] - 0.02 * xy[:, 1] + 0.2 * torch.randn(n, generator=g)
    image = torch.rand(h, w, 3, generator=g).numpy()
    Q = initial_q(image, 1.0)
    model = DiffusionModel(xy, value, Q)

    def loss_fn(D):
        loss = (D - gt).abs().mean()
        return loss, {"l1": float(loss.detach())}, None

    return model, loss_fn, gt


def test_each_group_moves_only_in_its_own_phase():
    model, loss_fn, _ = _problem()
    config = OptimConfig(passes=2, iters_per_phase=2)
    state = {"prev": snapshot(model)}
    seen = []

    def check(iteration, group, pass_index, loss):
        now = snapshot(model)
        changed = {g for g in GROUPS if not torch.equal(now[g], state["prev"][g])}
        seen.append((group, changed))
        state["prev"] = now

    optimize(model, loss_fn, config, progress=False, callback=check)
    assert len(seen) == 2 * 4 * 2
    for group, changed in seen:
        assert changed == {group}, f"phase {group} changed {changed}"


def test_learning_rate_schedule():
    c = OptimConfig()
    assert c.learning_rate("Q", 0) == pytest.approx(0.015)
    assert c.learning_rate("value", 2) == pytest.approx(0.015 * 0.81)
    assert c.learning_rate("R", 1) == pytest.approx(0.012)
    assert c.learning_rate("xy", 2) == pytest.approx(0.1 * 0.75**2)
    with pytest.raises(ValueError, match="phases"):
        OptimConfig(phases=("Q", "depth"))


def test_optimisation_reduces_error():
    model, loss_fn, gt = _problem()
    with torch.no_grad():
        before = float((model() - gt).abs().mean())
    hist = optimize(model, loss_fn, OptimConfig(passes=3, iters_per_phase=10), progress=False)
    with torch.no_grad():
        after = float((model() - gt).abs().mean())
    assert after < 0.7 * before
    assert len(hist.loss) == 3 * 4 * 10
    assert all(np.isfinite(hist.loss))
    assert all(it >= 0 for it in hist.solver_iters)


def test_positions_stay_near_their_start():
    model, loss_fn, _ = _problem()
    xy0 = model.xy.detach().clone()
    config = OptimConfig(passes=1, iters_per_phase=30, phases=("xy",), lr=(0, 0, 0, 5.0))
    optimize(model, loss_fn, config, progress=False)
    step = (model.xy.detach() - xy0).abs().max()
    assert 0 < step <= config.max_xy_step + 1e-6


def test_initial_q_border_is_max():
    img = np.random.default_rng(0).random((12, 15, 3))
    q = initial_q(img, 6.0)
    assert q.shape == (12, 15)
    assert torch.all(q[0] == q.max()) and torch.all(q[:, -1] == q.max())
    assert q[1:-1, 1:-1].min() >= 0


def test_robust_order_sends_an_outlier_behind_its_neighbours():
    from diffdepth.optimize import robust_order_key

    # five points of one surface (labels ~1.0) and one outlier in front of them (2.0)
    value = torch.tensor([1.00, 1.01, 0.99, 1.02, 0.98, 2.0])
    neighbours = torch.tensor([[1, 2, 3, 4]] * 1 + [[0, 2, 3, 5]] * 5)
    key = robust_order_key(value, neighbours)
    assert int(torch.argmax(key)) == 5  # the outlier is the farthest in the order
    # the SPEC's order puts it first
    assert int(torch.argmin(-value)) == 5


def test_robust_order_keeps_a_true_occlusion():
    # a cluster of near points (label 2) beside far points (label 0): near ones stay in front
    xy = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.5, 0.5]])
    far = xy + torch.tensor([3.0, 0.0])
    pts = torch.cat([xy, far])
    value = torch.cat([torch.full((5,), 2.0), torch.zeros(5)]) + 0.01 * torch.arange(10)
    model = DiffusionModel(pts, value, torch.zeros(8, 8), order="robust", neighbours=4)
    key = model.occlusion_key()
    assert key[:5].max() < key[5:].min()


def test_robust_order_is_kept_within_a_phase_and_refreshed_between():
    model, loss_fn, _ = _problem()
    model = DiffusionModel(model.xy, model.value, model.Q, order="robust", neighbours=4)
    k0 = model.occlusion_key().clone()
    with torch.no_grad():
        model.value.mul_(-1.0)  # reverses every label
    assert torch.equal(model.occlusion_key(), k0)  # same phase: same order
    model.refresh_order()
    assert not torch.equal(model.occlusion_key(), k0)
    seen = []
    orig = model.refresh_order

    def spy():
        seen.append(1)
        orig()

    model.refresh_order = spy
    optimize(model, loss_fn, OptimConfig(passes=1, iters_per_phase=1), progress=False)
    assert len(seen) == len(GROUPS)


def test_occlusion_cuts_between_near_and_far_points():
    from diffdepth.optimize import occlusion_cuts

    xy = np.array([[5.0, 5.0], [8.0, 5.0], [20.0, 5.0], [22.0, 5.0]])
    value = np.array([2.0, 0.0, 1.0, 1.2])  # a near/far pair, and a pair on one surface
    cut = occlusion_cuts(xy, value, (12, 30), radius=4.0, jump=0.5)
    assert cut[5, 5] and cut[5, 6]  # the near point's pixel and its neighbour towards the far
    assert cut.sum() == 2  # nothing at the far point, nothing at the same-surface pair
    assert not occlusion_cuts(xy, value, (12, 30), radius=2.0, jump=0.5).any()
    assert not occlusion_cuts(xy, value, (12, 30), radius=4.0, jump=3.0).any()


def test_side_cuts_mark_the_occluded_side_of_foreground_edges_only():
    from diffdepth.optimize import side_cuts

    # Background points at 0 on a grid; a vertical strip at x = 20 (label 2) whose two edge
    # points per row look left and right across its edges; a texture edge at the background
    # level (x = 40) that also knows a side.
    bg = np.array([[x, y] for x in range(2, 60, 4) for y in range(2, 30, 4)], float)
    rows = np.arange(8, 22, dtype=float)
    left = np.stack([np.full_like(rows, 20.0), rows], 1)
    right = np.stack([np.full_like(rows, 21.0), rows], 1)
    texture = np.stack([np.full_like(rows, 40.0), rows], 1)
    xy = np.concatenate([bg, left, right, texture])
    value = np.concatenate([np.zeros(len(bg)), np.full(2 * len(rows), 2.0), np.zeros(len(rows))])
    sides = np.zeros(len(xy), np.uint8)  # bits of SIDE_STEPS: 1 = -x, 2 = +x
    n0 = len(bg)
    sides[n0 : n0 + len(rows)] = 1  # the left edge's point: the occluded side is on its left
    sides[n0 + len(rows) : n0 + 2 * len(rows)] = 2
    sides[n0 + 2 * len(rows) :] = 2
    cut = side_cuts(xy, value, sides, (32, 64), radius=16.0, jump=0.5, depth=2)
    r = rows.astype(int)
    for x in (18, 19, 20, 21, 22, 23):  # each edge point's pixel and 2 px beyond it
        assert cut[r, x].all()
    assert cut.sum() == 6 * len(rows)  # nothing at the background or the texture edge
    # A point that does not know its side, or a jump too small, cuts nothing.
    assert not side_cuts(xy, value, np.zeros_like(sides), (32, 64), 16.0, 0.5).any()
    assert not side_cuts(xy, value, sides, (32, 64), 16.0, 2.5).any()
    # depth 1: the point's pixel and its neighbour across the edge only.
    assert side_cuts(xy, value, sides, (32, 64), 16.0, 0.5, depth=1).sum() == 4 * len(rows)
    # A point of the strip's surface across its right edge at row 15: no cut on that side in
    # the rows whose walks (3 px wide) meet it first, 14 to 16.
    more = np.concatenate([xy, [[22.0, 15.0]]])
    cut2 = side_cuts(more, np.append(value, 2.0), np.append(sides, 0), (32, 64), 16.0, 0.5, 2)
    assert not cut2[14:17, 22:24].any() and cut2[13, 22:24].all() and cut2[17, 22:24].all()
    assert cut2[15, 18:20].all()


@pytest.mark.parametrize("layout", ["spread", "one_row", "clustered"])
def test_occlusion_cuts_in_groups_equal_all_pairs_at_once(layout):
    """The grouped pair search marks exactly what all pairs at once mark, for points spread
    over the image, on one row (a crowded band) and in clusters."""
    from diffdepth.optimize import occlusion_cuts

    rng = np.random.default_rng(7)
    n, shape = 3000, (60, 90)
    if layout == "spread":
        xy = rng.uniform([0, 0], [89, 59], (n, 2))
    elif layout == "one_row":
        xy = np.stack([rng.uniform(0, 89, n), np.full(n, 30.0)], 1)
    else:
        xy = rng.normal([45, 30], 4.0, (n, 2))
    value = rng.choice([0.0, 2.0], n) + rng.normal(0, 0.1, n)
    whole = occlusion_cuts(xy, value, shape, 5.0, 1.0, group_size=10**9)
    assert whole.sum() > 50
    for size in (100, 257, 1000):
        np.testing.assert_array_equal(occlusion_cuts(xy, value, shape, 5.0, 1.0, size), whole)


def test_anchors_are_added_to_the_loss_and_hold_points_back():
    model_a, loss_fn, _ = _problem(seed=3)
    model_b, _, _ = _problem(seed=3)
    free = OptimConfig(passes=1, iters_per_phase=10, phases=("value",), lr=(0.0, 0.05, 0.0, 0.0))
    held = replace(free, prior_value=1e3)
    v0 = model_a.value.detach().clone()
    h_free = optimize(model_a, loss_fn, free, progress=False)
    h_held = optimize(model_b, loss_fn, held, progress=False)
    assert "prior" not in h_free.parts[0] and h_held.parts[-1]["prior"] > 0
    moved_free = (model_a.value.detach() - v0).abs().mean()
    moved_held = (model_b.value.detach() - v0).abs().mean()
    assert moved_held < 0.5 * moved_free


def test_light_field_presets_and_checks():
    from diffdepth.config import ModelConfig

    m, c = ModelConfig.light_field(), OptimConfig.light_field()
    assert m.order == "robust" and m.cut_radius > 0 and ModelConfig().cut_radius == 0
    assert c.prior_value > 0 and c.lr[1] < OptimConfig().lr[1]
    assert (c.passes, c.iters_per_phase) == (5, 13)
    with pytest.raises(ValueError, match="order"):
        ModelConfig(order="random")
    with pytest.raises(ValueError, match="order"):
        DiffusionModel(torch.zeros(1, 2), torch.zeros(1), torch.zeros(4, 4), order="random")
    with pytest.raises(ValueError, match="prior_xy"):
        OptimConfig(prior_xy=-1.0)


def test_optimise_tol_holds_inside_optimize_only():
    model, loss_fn, _ = _problem(40, 56)
    model = DiffusionModel(model.xy, model.value, model.Q, tol=1e-9, optimise_tol=1e-3)
    seen = []

    def check(iteration, group, pass_index, loss):
        info = model.solver.last_info
        seen.append((info.tol, info.forward_residual))

    optimize(model, loss_fn, OptimConfig(passes=1, iters_per_phase=2), False, callback=check)
    assert seen and all(tol == 1e-3 and res <= 1e-3 for tol, res in seen)
    # the map after the optimisation is solved to tol again, though warm-started
    with torch.no_grad():
        model()
    info = model.solver.last_info
    assert info.tol == 1e-9 and info.forward_warm and info.forward_residual <= 1e-9
    assert model.solver.tol == 1e-9


def test_optimise_tol_restored_when_the_loss_fails():
    model, _, _ = _problem()
    model = DiffusionModel(model.xy, model.value, model.Q, tol=1e-8, optimise_tol=1e-4)

    def bad_loss(D):
        return D.sum() * float("nan"), {}, None

    with pytest.raises(FloatingPointError):
        optimize(model, bad_loss, OptimConfig(passes=1, iters_per_phase=1), progress=False)
    assert model.solver.tol == 1e-8
    with pytest.raises(ValueError, match="optimise_tol"):
        DiffusionModel(model.xy, model.value, model.Q, optimise_tol=0.0)
