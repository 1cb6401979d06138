"""splat: argument checks, empty input, dtype and backend selection."""

import pytest
import torch

from diffdepth.render import KAPPA, SIGMA_LAM, SIGMA_S, WINDOW_RADIUS, splat


def _args(n=4):
    return (
        torch.rand(n, 2) * 5,
        torch.rand(n),
        torch.rand(n),
        torch.rand(n),
    )


def test_constants():
    assert (SIGMA_S, SIGMA_LAM, KAPPA, WINDOW_RADIUS) == (1.3, 0.71, 15.5, 3)


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_empty_gives_zeros_and_empty_gradients(backend):
    xy = torch.zeros(0, 2, requires_grad=True)
    value = torch.zeros(0, requires_grad=True)
    weight = torch.zeros(0, requires_grad=True)
    S, lam = splat(xy, value, weight, torch.zeros(0), (3, 5), backend=backend)
    assert S.shape == lam.shape == (3, 5)
    assert S.abs().sum() == 0 and lam.abs().sum() == 0
    (S.sum() + lam.sum()).backward()
    assert xy.grad.shape == (0, 2) and value.grad.shape == (0,)


@pytest.mark.parametrize(
    "index, bad, name, count",
    [
        (0, torch.tensor([[0.0, float("nan")], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]), "xy", 1),
        (1, torch.tensor([float("inf"), 0.0, float("nan"), 1.0]), "value", 2),
        (2, torch.tensor([float("nan"), 0.0, 0.0, 1.0]), "weight", 1),
        (3, torch.tensor([0.0, float("-inf"), 0.0, 1.0]), "depth", 1),
    ],
)
def test_non_finite_inputs_are_named(index, bad, name, count):
    args = list(_args())
    args[index] = bad
    with pytest.raises(ValueError, match=rf"{name} has {count} non-finite"):
        splat(*args, (8, 8))


def test_negative_weight():
    xy, value, _, depth = _args()
    with pytest.raises(ValueError, match="2 entries are negative"):
        splat(xy, value, torch.tensor([0.5, -1.0, -0.1, 0.0]), depth, (8, 8))


@pytest.mark.parametrize(
    "args, match",
    [
        ((torch.rand(4, 3), torch.rand(4), torch.rand(4), torch.rand(4)), r"xy must have shape"),
        ((torch.rand(4, 2), torch.rand(3), torch.rand(4), torch.rand(4)), r"value must have"),
        ((torch.rand(4, 2), torch.rand(4), torch.rand(4, 1), torch.rand(4)), r"weight must"),
        ((torch.rand(4, 2), torch.rand(4), torch.rand(4), torch.rand(5)), r"depth must have"),
        ((torch.rand(4, 2), torch.arange(4), torch.rand(4), torch.rand(4)), r"floating-point"),
    ],
)
def test_bad_shapes_and_dtypes(args, match):
    with pytest.raises(ValueError, match=match):
        splat(*args, (8, 8))


@pytest.mark.parametrize("shape", [(0, 4), (4,), (2.5, 3), "ab", (3, -1)])
def test_bad_image_shape(shape):
    with pytest.raises(ValueError, match="shape"):
        splat(*_args(), shape)


def test_bad_backend():
    with pytest.raises(ValueError, match="backend"):
        splat(*_args(), (8, 8), backend="cuda")


def test_integer_depth_and_mixed_dtypes():
    xy, value, weight, _ = _args()
    S, lam = splat(xy, value.double(), weight, torch.tensor([3, 1, 2, 0]), (8, 8))
    assert S.dtype == lam.dtype == torch.float64
    S32, _ = splat(xy, value, weight, torch.tensor([3, 1, 2, 0]), (8, 8), backend="torch")
    torch.testing.assert_close(S32.double(), S, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_inputs(dtype):
    xy = torch.tensor([[3.2, 4.1], [5.0, 4.0]])
    value = torch.tensor([1.0, 2.0])
    weight = torch.tensor([1.0, 0.5])
    depth = torch.tensor([0.5, 0.25])
    want_s, want_l = splat(xy, value, weight, depth, (8, 9))
    leaf = xy.to(dtype).requires_grad_()
    S, lam = splat(leaf, value.to(dtype), weight.to(dtype), depth.to(dtype), (8, 9))
    assert S.dtype == lam.dtype == dtype
    torch.testing.assert_close(S.float(), want_s, rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(lam.float(), want_l, rtol=2e-2, atol=2e-2)
    S.sum().backward()
    assert leaf.grad.dtype == dtype and torch.isfinite(leaf.grad.float()).all()
