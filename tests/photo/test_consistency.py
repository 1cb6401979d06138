"""The compiled subset-error kernel against its plain torch definition, and the view subsets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffdepth.photo import (
    UNSEEN,
    LightFieldProblem,
    one_sided_subsets,
    subset_errors,
    subset_errors_reference,
)


def _crosshair(n=2):
    offs = [(u, 0) for u in range(-n, n + 1) if u] + [(0, v) for v in range(-n, n + 1) if v]
    return np.array(offs, np.float64)


def _case(shape, channels, dtype=np.float32, seed=0, diagonal=True):
    rng = np.random.default_rng(seed)
    h, w = shape
    offs = _crosshair()
    if diagonal:
        offs = np.concatenate([offs, [[1.0, 1.0], [-2.0, 1.0]]])
    ref = rng.random((h, w, channels)).astype(dtype)
    views = rng.random((len(offs), h, w, channels)).astype(dtype)
    return ref, views, offs


@pytest.mark.parametrize("shape,channels", [((9, 14), 3), ((13, 7), 1), ((1, 12), 3)])
@pytest.mark.parametrize("kind", ["map", "constant", "integer"])
def test_kernel_matches_reference(shape, channels, kind):
    ref, views, offs = _case(shape, channels)
    h, w = shape
    rng = np.random.default_rng(1)
    # samples fall partly outside the image; "integer": whole-pixel shifts (one-axis paths)
    D = {"map": rng.uniform(-1.7, 2.3, (h, w)), "constant": 0.637, "integer": 1.0}[kind]
    member = one_sided_subsets(offs)
    got = subset_errors(ref, views, offs, member, D)
    want = subset_errors_reference(ref, views, offs, member, D).numpy()
    assert got.shape == (len(member), h, w) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert (want == UNSEEN).any() or h == 1  # some pixel is seen by no view of a subset


def test_only_needed_pixels_are_computed():
    ref, views, offs = _case((10, 12), 3)
    member = one_sided_subsets(offs)
    need = np.zeros((10, 12), bool)
    need[2:5, 3:9] = True
    part = subset_errors(ref, views, offs, member, 0.4, need)
    full = subset_errors(ref, views, offs, member, 0.4)
    np.testing.assert_array_equal(part[:, need], full[:, need])
    assert (part[:, ~need] == UNSEEN).all()


@pytest.mark.parametrize("kind", ["map", "constant"])
def test_sensitivity_matches_autograd_of_the_reference(kind):
    ref, views, offs = _case((11, 13), 3, dtype=np.float64, seed=2)
    rng = np.random.default_rng(3)
    # away from whole-pixel samples, where the bilinear derivative is one-sided
    D = rng.uniform(-1.2, 1.4, (11, 13)) + 0.013 if kind == "map" else np.full((11, 13), 0.437)
    member = np.eye(len(offs), dtype=bool)  # per-view errors, as in the loss
    out = np.empty((len(offs), 11, 13))
    sens = np.empty_like(out)
    subset_errors(ref, views, offs, member, D if kind == "map" else 0.437, out=out, sens=sens)
    Dt = torch.tensor(D, requires_grad=True)
    want = subset_errors_reference(ref, views, offs, member, Dt)
    np.testing.assert_allclose(out, want.detach().numpy(), rtol=1e-12, atol=1e-12)
    cot = torch.randn(want.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    (g,) = torch.autograd.grad(want, Dt, cot)
    got = (sens * cot.numpy()).sum(0)
    np.testing.assert_allclose(got, g.numpy(), rtol=1e-10, atol=1e-11)


def test_true_disparity_has_the_lowest_error():
    # a textured plane at disparity 1 seen by the crosshair (whole-pixel shifts: exact views)
    rng = np.random.default_rng(5)
    from scipy import ndimage

    tex = ndimage.uniform_filter(rng.random((40, 60, 3)), (3, 3, 1))
    offs = _crosshair()
    views = np.stack([ndimage.shift(tex, (-v, -u, 0), order=1) for u, v in offs])
    ref = tex.astype(np.float32)
    views = views.astype(np.float32)
    member = one_sided_subsets(offs)
    mean_err = {
        d: float(subset_errors(ref, views, offs, member, d)[:, 8:-8, 8:-8].mean())
        for d in (0.6, 0.8, 1.0, 1.2, 1.4)
    }
    assert min(mean_err, key=mean_err.get) == 1.0 and mean_err[1.0] < 1e-6
    assert min(mean_err[0.8], mean_err[1.2]) > 0.005


def test_one_sided_subsets():
    offs = _crosshair()
    member = one_sided_subsets(offs)
    u, v = offs[:, 0], offs[:, 1]
    assert member.shape == (4, len(offs))
    assert np.array_equal(member[0], (u < 0) | (v < 0))
    row = one_sided_subsets(np.array([[-2.0, 0], [-1, 0], [1, 0], [2, 0]]))
    assert row.tolist() == [[True, True, False, False], [False, False, True, True]]
    assert one_sided_subsets(np.zeros((2, 2))).tolist() == [[True, True]]


def test_bad_input_is_named():
    ref, views, offs = _case((8, 9), 3)
    member = one_sided_subsets(offs)
    with pytest.raises(ValueError, match="offsets"):
        subset_errors(ref, views, offs[:-1], member, 0.1)
    with pytest.raises(ValueError, match="D must be"):
        subset_errors(ref, views, offs, member, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="agree"):
        subset_errors(ref[:, :-1], views, offs, member, 0.1)


def test_problem_from_a_light_field():
    from diffdepth.synth import make_lightfield

    lf = make_lightfield(height=20, width=24, grid=(3, 5))
    cross = LightFieldProblem.from_lightfield(lf)
    every = LightFieldProblem.from_lightfield(lf, "all")
    assert len(cross) == 2 + 4 and len(every) == 14
    assert cross.views.flags.c_contiguous and cross.views.dtype == np.float32
    assert np.array_equal(cross.ref, lf.ref_view) and cross.shape == (20, 24)
    sub = every.crosshair()
    assert np.array_equal(sub.offsets, cross.offsets) and np.array_equal(sub.views, cross.views)
    assert cross.crosshair() is cross
    for view, (u, v) in zip(cross.views, cross.offsets):
        assert np.array_equal(view, lf.views[lf.ref[0] + int(v), lf.ref[1] + int(u)])
    with pytest.raises(ValueError, match="crosshair"):
        LightFieldProblem.from_lightfield(lf, "row")
