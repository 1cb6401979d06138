"""splat: known answers from SPEC section 3."""

import math

import pytest
import torch

from diffdepth.render import KAPPA, SIGMA_LAM, SIGMA_S, splat

BACKENDS = ["numba", "torch"]
F64 = torch.float64


def _one(x, y, d=1.0, w=1.0):
    return (
        torch.tensor([[x, y]], dtype=F64),
        torch.tensor([d], dtype=F64),
        torch.tensor([w], dtype=F64),
        torch.zeros(1, dtype=F64),
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_point_footprint(backend):
    x, y, d, w = 4.3, 5.2, 2.0, 0.7
    S, lam = splat(*_one(x, y, d, w), (11, 12), backend=backend)
    for qy in range(11):
        for qx in range(12):
            r2 = (qx - x) ** 2 + (qy - y) ** 2
            inside = abs(qx - 4) <= 3 and abs(qy - 5) <= 3
            a = 1 - math.exp(-KAPPA * math.exp(-r2 / (2 * SIGMA_S**2))) if inside else 0.0
            lam_q = w * math.exp(-((r2 / (2 * SIGMA_LAM**2)) ** 2)) if inside else 0.0
            assert S[qy, qx].item() == pytest.approx(d * a, rel=1e-12, abs=1e-15)
            assert lam[qy, qx].item() == pytest.approx(lam_q, rel=1e-12, abs=1e-17)


@pytest.mark.parametrize("backend", BACKENDS)
def test_lam_falloff(backend):
    shape = (11, 11)
    _, lam = splat(*_one(5.0, 5.0), shape, backend=backend)
    assert lam[5, 5].item() == pytest.approx(1.0, abs=1e-2)  # r = 0
    assert lam[5, 6].item() == pytest.approx(0.374, abs=1e-2)  # r = 1 (SPEC: about 0.36)
    assert lam[5, 7].item() == pytest.approx(0.0, abs=1e-2)  # r = 2
    _, lam = splat(*_one(5.2, 5.1), shape, backend=backend)
    assert lam[6, 4].item() == pytest.approx(0.006, abs=1e-2)  # dx -1.2, dy 0.9: r = 1.5
    assert lam[6, 4].item() > 1e-3


@pytest.mark.parametrize("backend", BACKENDS)
def test_nearer_point_hides_farther(backend):
    xy = torch.tensor([[5.0, 5.0], [8.0, 5.0]], dtype=F64)
    value = torch.tensor([1.0, 3.0], dtype=F64)
    weight = torch.tensor([1.0, 2.0], dtype=F64)
    shape = (11, 14)
    S, lam = splat(xy, value, weight, torch.tensor([0.0, 1.0], dtype=F64), shape, backend=backend)
    # where the near point is opaque, the far point does not show
    assert S[5, 5].item() == pytest.approx(1.0, abs=1e-6)
    assert lam[5, 5].item() == pytest.approx(1.0, abs=1e-6)
    # beyond the near point's window the far point shows alone
    a_far = 1 - math.exp(-KAPPA * math.exp(-4 / (2 * SIGMA_S**2)))
    assert S[5, 10].item() == pytest.approx(3.0 * a_far, rel=1e-12)
    # at the far point's centre the near point is partly transparent: a blend
    a_near = 1 - math.exp(-KAPPA * math.exp(-9 / (2 * SIGMA_S**2)))
    a_far0 = 1 - math.exp(-KAPPA)  # the far point's own opacity at its centre
    assert S[5, 8].item() == pytest.approx(a_near + 3.0 * a_far0 * (1 - a_near), rel=1e-9)
    assert lam[5, 8].item() == pytest.approx(2.0 * (1 - a_near), rel=1e-9)
    # swap the depths: now the far point wins at its own centre
    S2, lam2 = splat(xy, value, weight, torch.tensor([1.0, 0.0], dtype=F64), shape, backend=backend)
    assert S2[5, 8].item() == pytest.approx(3.0, abs=1e-5)
    assert lam2[5, 8].item() == pytest.approx(2.0, abs=1e-5)
    a_near1 = 1 - math.exp(-KAPPA * math.exp(-1 / (2 * SIGMA_S**2)))
    assert S2[5, 4].item() == pytest.approx(a_near1, rel=1e-12)  # outside the far window


@pytest.mark.parametrize("backend", BACKENDS)
def test_plane_splats_to_plane(backend):
    shape = (40, 52)
    gy, gx = torch.meshgrid(torch.arange(2, 40, 4.0), torch.arange(1, 52, 4.0), indexing="ij")
    xy = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1).to(F64)

    def plane(x, y):
        return 0.7 + 0.01 * x - 0.02 * y

    value = plane(xy[:, 0], xy[:, 1])
    gen = torch.Generator().manual_seed(0)
    depth = torch.rand(xy.shape[0], generator=gen, dtype=F64)
    S, lam = splat(xy, value, torch.ones_like(value), depth, shape, backend=backend)
    qy, qx = torch.meshgrid(torch.arange(40.0), torch.arange(52.0), indexing="ij")
    want = plane(qx, qy).to(F64)
    significant = lam > 0.3
    # each point's pixel and the 4-neighbours where no nearer window reaches
    assert significant.sum() >= 2 * xy.shape[0]
    # at a significant pixel the label is that of a point within about 1 px
    err = (S - want).abs()[significant]
    assert err.max() <= 0.03 * 1.0 + 1e-6
    # exactly the plane at the points themselves
    cols, rows = xy[:, 0].long(), xy[:, 1].long()
    torch.testing.assert_close(S[rows, cols], want[rows, cols], rtol=0, atol=1e-6)
