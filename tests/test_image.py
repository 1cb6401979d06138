"""The image toolkit: known answers, and the sampler against grid_sample."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from diffdepth.image import gaussian_blur, grey, rgb_to_lab, sample_bilinear, sobel_magnitude


def test_lab_of_known_colours():
    rgb = torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]], dtype=torch.float64)
    lab = rgb_to_lab(rgb.reshape(3, 1, 3))[:, 0].T  # pixels: white, black, red
    assert torch.allclose(lab[0], torch.tensor([100.0, 0.0, 0.0], dtype=torch.float64), atol=0.05)
    assert torch.allclose(lab[1], torch.zeros(3, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(
        lab[2], torch.tensor([53.24, 80.09, 67.20], dtype=torch.float64), atol=0.1
    )


def test_sobel_of_a_ramp_and_grey():
    # grey = mean of the channels; a ramp of slope 1 px^-1 in x gives |Sobel| = 8 inside
    xx = np.tile(np.arange(9.0), (7, 1))
    img = np.stack([xx, 2 * xx, 0 * xx], axis=-1)
    np.testing.assert_allclose(grey(img), xx)
    mag = sobel_magnitude(img)
    np.testing.assert_allclose(mag[:, 1:-1], 8.0)
    np.testing.assert_allclose(mag[:, 0], 4.0)  # the border pixel repeated: half a step


def test_sobel_backends_agree():
    img = np.random.default_rng(2).random((17, 23, 3))
    chw = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
    np.testing.assert_allclose(sobel_magnitude(chw).numpy(), sobel_magnitude(img), atol=1e-12)
    f32 = sobel_magnitude(chw.float())
    assert f32.dtype == torch.float32
    np.testing.assert_allclose(f32.numpy(), sobel_magnitude(img), rtol=1e-5, atol=1e-5)


def test_blur_keeps_constants_and_sums():
    img = torch.zeros(1, 1, 21, 21, dtype=torch.float64)
    img[0, 0, 10, 10] = 1.0
    out = gaussian_blur(img, 1.5)
    assert float(out.sum()) == pytest.approx(1.0)
    assert float(out[0, 0, 10, 10]) < 0.1 and torch.equal(out, out.flip(-1))
    flat = torch.full((2, 3, 5, 6), 0.25)
    torch.testing.assert_close(gaussian_blur(flat, 0.85), flat)


def test_sampler_matches_grid_sample_values_and_gradients():
    g = torch.Generator().manual_seed(0)
    n, h, w, c = 3, 9, 13, 2
    images = torch.rand(n, h, w, c, generator=g, dtype=torch.float64, requires_grad=True)
    x = (torch.rand(n, 5, 7, generator=g, dtype=torch.float64) * (w + 3) - 1.5).requires_grad_()
    y = (torch.rand(n, 5, 7, generator=g, dtype=torch.float64) * (h + 3) - 1.5).requires_grad_()
    index = torch.arange(n).view(n, 1, 1)
    got, inside = sample_bilinear(images, x, y, index)  # [n, 5, 7, c]
    grid = torch.stack([x * 2 / (w - 1) - 1, y * 2 / (h - 1) - 1], -1)
    want = F.grid_sample(
        images.permute(0, 3, 1, 2), grid, align_corners=True, padding_mode="border"
    ).permute(0, 2, 3, 1)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    cot = torch.randn(got.shape, generator=g, dtype=torch.float64)
    for a, b in zip(
        torch.autograd.grad(got, (images, x, y), cot),
        torch.autograd.grad(want, (images, x, y), cot),
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
    assert not inside.all() and inside.any()


def test_sampler_inside_rule_and_linear_ramps():
    h, w = 6, 7
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = torch.from_numpy(np.stack([xx, yy, xx + 2 * yy], axis=-1)[None])  # [1, H, W, 3]
    x = torch.tensor([0.25, 3.5, 5.9, 6.0, -2.0, -0.25, 6.01])
    y = torch.tensor([1.75, 0.0, 4.2, 5.0, 2.0, 1.0, 1.0])
    out, inside = sample_bilinear(img, x, y)
    xc = x.clamp(0, w - 1)
    assert torch.allclose(out[:, 0], xc) and torch.allclose(out[:, 1], y)
    assert torch.allclose(out[:, 2], xc + 2 * y)
    # inside: within the grid of pixel centres, 0 <= x <= W - 1 and 0 <= y <= H - 1
    assert inside.tolist() == [True, True, True, True, False, False, False]


def test_colour_sobel_sees_edges_between_colours_of_one_grey():
    import numpy as np
    import torch

    from diffdepth.image import sobel_magnitude

    img = np.zeros((8, 10, 3))
    img[:, :5] = (0.6, 0.3, 0.3)  # grey 0.4
    img[:, 5:] = (0.3, 0.3, 0.6)  # grey 0.4
    assert sobel_magnitude(img).max() < 1e-12
    edge = sobel_magnitude(img, colour=True)
    assert edge[:, 4:6].min() > 0.5 and edge[:, :3].max() < 1e-12
    t = torch.from_numpy(img.transpose(2, 0, 1).copy())
    torch.testing.assert_close(sobel_magnitude(t, colour=True), torch.from_numpy(edge))
    grey = np.repeat(np.random.default_rng(0).random((8, 10, 1)), 3, axis=2)
    np.testing.assert_allclose(sobel_magnitude(grey, colour=True), sobel_magnitude(grey))
