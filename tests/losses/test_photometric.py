"""SSIM and its windowed means."""

import pytest
import torch
import torch.nn.functional as F

from diffdepth.losses.photometric import local_mean, ssim


def _img(seed, shape=(2, 3, 20, 23)):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("window", ["box3", "gauss11"])
def test_ssim_of_an_image_with_itself_is_one(window):
    x = _img(0)
    s = ssim(x, x, window=window)
    assert s.shape == (2, 1, 20, 23)
    torch.testing.assert_close(s, torch.ones_like(s))


@pytest.mark.parametrize("window", ["box3", "gauss11"])
def test_ssim_decreases_with_noise_and_is_symmetric(window):
    x = _img(1)
    noise = _img(2) - 0.5
    means = [float(ssim(x, (x + a * noise).clamp(0, 1), window).mean()) for a in (0.05, 0.2, 0.6)]
    assert 1 > means[0] > means[1] > means[2]
    y = (x + 0.3 * noise).clamp(0, 1)
    torch.testing.assert_close(ssim(x, y, window), ssim(y, x, window))


def test_ssim_matches_the_formula_on_one_window():
    x, y = _img(3, (1, 1, 3, 3)), _img(4, (1, 1, 3, 3))
    mx, my = x.mean(), y.mean()
    vx, vy = x.var(unbiased=False), y.var(unbiased=False)
    cxy = ((x - mx) * (y - my)).mean()
    c1, c2 = 0.01**2, 0.03**2
    want = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    torch.testing.assert_close(ssim(x, y, "box3")[0, 0, 1, 1], want)


def test_local_mean_matches_pooling_with_reflection_and_has_exact_gradients():
    x = _img(5, (2, 3, 14, 15))
    box = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), 3, stride=1)
    torch.testing.assert_close(local_mean(x, "box3"), box)
    r = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-(r**2) / (2 * 1.5**2))
    k = torch.outer(g, g) / g.sum() ** 2
    gauss = F.conv2d(F.pad(x, (5,) * 4, mode="reflect"), k.expand(3, 1, 11, 11), groups=3)
    torch.testing.assert_close(local_mean(x, "gauss11"), gauss)
    xs = _img(6, (1, 2, 7, 12)).requires_grad_(True)
    for window in ("box3", "gauss11"):
        assert torch.autograd.gradcheck(lambda t, w=window: local_mean(t, w), (xs,))
    assert torch.autograd.gradcheck(lambda t: ssim(t, _img(7, (1, 2, 7, 12))), (xs,))


def test_bad_window_and_tiny_image_are_refused():
    with pytest.raises(ValueError, match="box3"):
        ssim(_img(0), _img(1), window="box5")
    with pytest.raises(ValueError, match="larger than 5"):
        ssim(_img(0, (1, 3, 5, 20)), _img(1, (1, 3, 5, 20)), window="gauss11")


@pytest.mark.parametrize("window", ["box3", "gauss11"])
def test_ssim_of_a_shared_reference_equals_the_repeated_one(window):
    g = torch.Generator().manual_seed(3)
    views = torch.rand(4, 3, 20, 24, generator=g, dtype=torch.float64, requires_grad=True)
    ref = torch.rand(1, 3, 20, 24, generator=g, dtype=torch.float64)
    shared = ssim(views, ref, window=window)
    repeated = ssim(views, ref.repeat(4, 1, 1, 1), window=window)
    assert shared.shape == (4, 1, 20, 24)
    assert torch.allclose(shared, repeated, rtol=0, atol=1e-12)
    (gs,) = torch.autograd.grad(shared.sum(), views)
    (gr,) = torch.autograd.grad(repeated.sum(), views)
    assert torch.allclose(gs, gr, rtol=0, atol=1e-12)
    with pytest.raises(RuntimeError):
        ssim(views, torch.rand(2, 3, 20, 24, dtype=torch.float64))
