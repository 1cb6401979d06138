"""The cheap VGG distance ("vgg_warp"): the views' conv1 features computed once, projected and
warped like colours."""

import numpy as np
import pytest
import torch

from diffdepth.config import LossConfig
from diffdepth.losses import LightFieldLoss
from diffdepth.losses.lightfield import view_errors
from diffdepth.losses.vgg import VGGConv1, feature_basis, warpable_features
from diffdepth.photo import subset_errors_reference


def _features(seed=0, H=20, W=22):
    g = torch.Generator().manual_seed(seed)
    img = torch.rand(1, 3, H, W, generator=g)
    return VGGConv1()(img)[0]  # [64, H, W]


def test_basis_of_64_channels_is_the_identity():
    f = _features()
    assert torch.equal(feature_basis(f, 64), torch.eye(64))


@pytest.mark.parametrize("n", [1, 8, 16])
def test_basis_is_scaled_principal_axes_of_the_features(n):
    f = _features().double()
    P = feature_basis(f, n)
    assert P.shape == (n, 64)
    X = f.reshape(64, -1)
    Xc = X - X.mean(1, keepdim=True)
    # orthogonal rows of one common length (an orthonormal basis times the scale c)
    gram = P @ P.T
    c2 = gram[0, 0]
    torch.testing.assert_close(gram, c2 * torch.eye(n, dtype=gram.dtype), rtol=0, atol=1e-9)
    # the projected features vary as much in mean absolute value as the 64 channels do
    torch.testing.assert_close((P @ Xc).abs().mean(), Xc.abs().mean(), rtol=1e-9, atol=0)
    # the rows span the directions of largest variance, in decreasing order
    var = ((P / c2.sqrt()) @ Xc).pow(2).mean(1)
    assert (var[:-1] >= var[1:] - 1e-9).all()
    evals = torch.linalg.eigvalsh(Xc @ Xc.T / Xc.shape[1]).flip(0)
    torch.testing.assert_close(var, evals[:n], rtol=1e-6, atol=1e-9)


def test_bad_channel_counts_are_refused():
    with pytest.raises(ValueError, match="1..64"):
        feature_basis(_features(), 0)
    with pytest.raises(ValueError, match="vgg_channels"):
        LossConfig(vgg_channels=65)


def test_all_channels_are_the_vgg_features_channel_last(make_lf, crosshair):
    ref, views, _ = make_lf(0.6, crosshair[:3], H=16, W=18, dtype=torch.float32)
    ref_f, views_f = warpable_features(ref, views, channels=64, chunk=2)
    net = VGGConv1()
    torch.testing.assert_close(ref_f, net(ref.permute(2, 0, 1)[None])[0].permute(1, 2, 0))
    torch.testing.assert_close(views_f, net(views.permute(0, 3, 1, 2)).permute(0, 2, 3, 1))


def test_integer_shift_matches_the_vgg_distance_away_from_the_border(make_lf):
    """Where the warp is an integer shift, features of the shifted view = shifted features of
    the view (away from the zero-padded border): vgg_warp with every channel is the paper's
    VGG error there."""
    offsets = [(1.0, 0.0), (-2.0, 0.0), (0.0, 1.0), (0.0, -2.0)]
    H, W = 24, 28
    ref, views, off = make_lf(1.0, offsets, H=H, W=W, dtype=torch.float64)
    views = views + 0.05 * torch.rand(views.shape, generator=torch.Generator().manual_seed(1))
    D = torch.full((H, W), 1.0, dtype=torch.float64)
    cheap = LightFieldLoss(ref, views, off, LossConfig(distance="vgg_warp", vgg_channels=64))
    full = LightFieldLoss(ref, views, off, LossConfig(distance="vgg"))
    _, _, E_cheap = cheap(D)
    _, _, E_full = full(D)
    b = 2 + 2  # shift of at most 2 px plus the two 3x3 convolutions' reach
    inner = (slice(b, H - b), slice(b, W - b))
    torch.testing.assert_close(E_cheap[inner], E_full[inner], rtol=1e-6, atol=1e-6)
    assert float(E_full[inner].mean()) > 0.01  # the views differ from the reference: not 0 = 0


def test_feature_errors_match_the_photo_reference_forward_and_backward():
    """view_errors (the compiled kernel) on 16 feature channels against the plain torch
    definition, with random cotangents, and gradcheck in float64."""
    g = torch.Generator().manual_seed(2)
    K, H, W, C = 4, 9, 11, 16
    views = torch.rand(K, H, W, C, generator=g, dtype=torch.float64) * 5
    ref = torch.rand(H, W, C, generator=g, dtype=torch.float64) * 5
    offsets = [[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [1.0, -1.0]]
    D = (torch.rand(H, W, generator=g, dtype=torch.float64) * 0.8 + 0.1).requires_grad_(True)
    fast = view_errors(ref, views, offsets, D, backend="numba")
    slow = subset_errors_reference(ref, views, offsets, np.eye(K, dtype=bool), D)
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-12)
    cot = torch.randn(fast.shape, generator=g, dtype=torch.float64)
    (g_fast,) = torch.autograd.grad(fast, D, cot)
    (g_slow,) = torch.autograd.grad(slow, D, cot)
    torch.testing.assert_close(g_fast, g_slow, rtol=0, atol=1e-10)
    # away from integer sample positions the error is smooth in D
    D0 = torch.full((5, 6), 0.3, dtype=torch.float64)
    D0 += torch.linspace(0, 0.05, 30, dtype=torch.float64).view(5, 6)
    D0.requires_grad_(True)
    r, v = ref[:5, :6].contiguous(), views[:, :5, :6].contiguous()
    assert torch.autograd.gradcheck(lambda d: view_errors(r, v, offsets, d, backend="numba"), (D0,))


def test_vgg_warp_loss_lowest_at_the_true_disparity(make_lf, crosshair):
    ref, views, off = make_lf(0.6, crosshair[:4], H=20, W=22, dtype=torch.float32)
    loss_fn = LightFieldLoss(ref, views, off, LossConfig(distance="vgg_warp", vgg_channels=8))
    assert loss_fn._warpable[1].shape == (4, 20, 22, 8)
    vals = {}
    for d in (0.3, 0.6, 0.9):
        D = torch.full((20, 22), d, requires_grad=True)
        loss, parts, _ = loss_fn(D)
        loss.backward()
        vals[d] = parts["error"]
        if d == 0.3:
            assert float(D.grad.sum()) < 0  # descending raises d toward 0.6
        if d == 0.9:
            assert float(D.grad.sum()) > 0
    assert vals[0.6] < vals[0.3] and vals[0.6] < vals[0.9]


def test_cli_flag_selects_vgg_warp(tmp_path):
    from diffdepth.cli import _run_config, build_parser

    args = build_parser().parse_args(
        ["run", str(tmp_path), "--out", str(tmp_path / "out"), "--distance", "vgg_warp"]
    )
    assert _run_config(args).loss.distance == "vgg_warp"


def test_memory_estimate_counts_the_kept_feature_channels():
    from diffdepth.config import LightFieldConfig
    from diffdepth.pipeline.checks import lightfield_peak_bytes

    def peak(**loss):
        config = LightFieldConfig()
        config = config.replace(loss=config.loss.replace(**loss))
        return lightfield_peak_bytes((9, 9), (512, 512), 50000, config)

    rgb, cheap8, cheap16 = (
        peak(),
        peak(distance="vgg_warp", vgg_channels=8),
        peak(distance="vgg_warp", vgg_channels=16),
    )
    # 16 views of 512x512 float32 features: 8 more channels are 128 MiB more
    assert rgb < cheap8 < cheap16
    assert cheap16 - cheap8 >= 16 * 512 * 512 * 8 * 4
