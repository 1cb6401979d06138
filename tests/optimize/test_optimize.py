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
    image = torch.rand(3, h, w, generator=g)
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
    with pytest.raises(ValueError, match="unknown parameter groups"):
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
    img = torch.rand(3, 12, 15)
    q = initial_q(img, 6.0)
    assert q.shape == (12, 15)
    assert torch.all(q[0] == q.max()) and torch.all(q[:, -1] == q.max())
    assert q[1:-1, 1:-1].min() >= 0
