"""The image toolkit of every layer: grey level, Sobel, Gaussian blur, CIE Lab, bilinear sampling.

Conventions: pixel centres at integers, x = column, y = row.  numpy images are [H, W, C] (or
[H, W] grey); torch image stacks are [n, C, H, W] for filtering, channel-last [n, H, W, C] for
sampling (the channels of one pixel are adjacent, so one gather reads them all).

The sampler's inside rule: a sample (x, y) is *inside* an image of W x H pixels when
``0 <= x <= W - 1`` and ``0 <= y <= H - 1``, i.e. it lies within the grid of pixel centres and
bilinear interpolation needs no pixel beyond the border.  Outside, coordinates are clamped to that
range (the border pixels are repeated) and ``inside`` is False.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage


def grey(image: np.ndarray) -> np.ndarray:
    """[H, W, C] or [H, W] -> float64 [H, W]: the mean over the channels."""
    image = np.asarray(image, dtype=np.float64)
    return image.mean(axis=2) if image.ndim == 3 else image


def sobel_magnitude(image, colour: bool = False):
    """|Sobel| of the grey level (the mean over the channels; with ``colour``, the largest
    |Sobel| of any one channel, which sees edges between colours of one grey): the 3x3 Sobel kernels
    (derivative (-1, 0, 1), smoothing (1, 2, 1): sum |k| = 8) with the border pixel repeated,
    and the magnitude sqrt(d/dx^2 + d/dy^2).

    numpy image [H, W, C] or [H, W] -> float64 [H, W] (scipy, separable); torch image
    [C, H, W] or [H, W] -> [H, W] in its dtype and on its device (one 3x3 convolution).  The
    two backends agree to rounding; each result is reproducible, which the noisy-points
    protocol (numpy) and the initial smoothness Q (torch, float32) rely on.
    """
    if colour and image.ndim == 3:
        if isinstance(image, torch.Tensor):
            return torch.stack([sobel_magnitude(c) for c in image]).amax(0)
        return np.max([sobel_magnitude(image[..., c]) for c in range(image.shape[2])], axis=0)
    if isinstance(image, torch.Tensor):
        g = image.mean(0) if image.dim() == 3 else image
        kx = torch.tensor(
            [[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=g.dtype, device=g.device
        )
        k = torch.stack([kx, kx.t()])[:, None]  # [2, 1, 3, 3]
        d = F.conv2d(F.pad(g[None, None], (1, 1, 1, 1), mode="replicate"), k)[0]
        return torch.sqrt(d[0] ** 2 + d[1] ** 2)
    g = grey(image)
    return np.hypot(ndimage.sobel(g, axis=1), ndimage.sobel(g, axis=0))


def gaussian_blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur, radius ceil(3 sigma), border pixels repeated.

    img [n, C, H, W] -> [n, C, H, W]; sigma <= 0 returns img itself."""
    if sigma <= 0:
        return img
    radius = max(1, int(math.ceil(3.0 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=img.dtype, device=img.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    n, c, h, w = img.shape
    x = img.reshape(n * c, 1, h, w)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), k.view(1, 1, -1, 1))
    return x.reshape(n, c, h, w)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """CIE L*a*b* (D65) of sRGB in 0..1: [..., 3, H, W] -> [..., 3, H, W], L* in 0..100."""
    c = rgb.clamp(0.0, 1.0)
    lin = torch.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = torch.tensor(
        [
            [0.4124564, 0.3575761, 0.1804375],
            [0.2126729, 0.7151522, 0.0721750],
            [0.0193339, 0.1191920, 0.9503041],
        ],
        dtype=rgb.dtype,
        device=rgb.device,
    )
    white = torch.tensor([0.95047, 1.0, 1.08883], dtype=rgb.dtype, device=rgb.device)
    xyz = torch.einsum("ij,...jhw->...ihw", m, lin) / white.view(3, 1, 1)
    delta = 6.0 / 29.0
    f = torch.where(
        xyz > delta**3, xyz.clamp_min(1e-12) ** (1.0 / 3.0), xyz / (3 * delta**2) + 4.0 / 29.0
    )
    fx, fy, fz = f.unbind(-3)
    return torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], -3)


def sample_bilinear(
    images: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    index: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Bilinear samples of a channel-last image stack at continuous positions.

    images [n, H, W, C]; x, y float tensors of one shape [...]; index long [...] (which image,
    broadcast against x) or None (image 0).  Returns the samples [..., C] and inside bool [...]
    (the module's inside rule; outside, the coordinates are clamped to the border), in the
    images' dtype.  Differentiable w.r.t. images, x and y (autograd).
    """
    n, h, w, c = images.shape
    inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    x = x.clamp(0, w - 1)
    y = y.clamp(0, h - 1)
    x0 = x.detach().floor().clamp(max=w - 2) if w > 1 else x.detach().floor()
    y0 = y.detach().floor().clamp(max=h - 2) if h > 1 else y.detach().floor()
    fx = (x - x0).unsqueeze(-1).to(images.dtype)
    fy = (y - y0).unsqueeze(-1).to(images.dtype)
    x0 = x0.long()
    y0 = y0.long()
    x1 = (x0 + 1).clamp(max=w - 1)
    y1 = (y0 + 1).clamp(max=h - 1)
    flat = images.reshape(-1, c)
    base = 0 if index is None else index * (h * w)
    r0 = base + y0 * w
    r1 = base + y1 * w
    top = torch.lerp(flat[r0 + x0], flat[r0 + x1], fx)
    bot = torch.lerp(flat[r1 + x0], flat[r1 + x1], fx)
    return torch.lerp(top, bot, fy), inside
