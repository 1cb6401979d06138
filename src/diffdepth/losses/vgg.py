"""The first VGG16 block (conv1_1, ReLU, conv1_2, ReLU) as a frozen feature extractor.

The weights ship with the package (`diffdepth/data/vgg16_conv1.npz`, see
`diffdepth/data/PROVENANCE.md`) and are read with numpy: nothing is downloaded.

Input: RGB in 0..1, [B, 3, H, W]. It is normalised as torchvision's VGG expects, with the
ImageNet mean (0.485, 0.456, 0.406) and standard deviation (0.229, 0.224, 0.225). Both
convolutions are 3x3 with zero padding 1, so the output keeps the input size: [B, 64, H, W].
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

WEIGHTS_FILE = "vgg16_conv1.npz"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: pixels (evenly strided) from which `feature_basis` estimates the principal axes
PCA_SAMPLES = 65536


@lru_cache(maxsize=1)
def load_vgg16_conv1_weights() -> dict[str, np.ndarray]:
    """The bundled arrays: conv1_1_weight [64,3,3,3], conv1_1_bias [64], conv1_2_weight
    [64,64,3,3], conv1_2_bias [64] (float32, OIHW)."""
    path = resources.files("diffdepth") / "data" / WEIGHTS_FILE
    with path.open("rb") as f, np.load(f) as npz:
        arrays = {k: np.asarray(npz[k], dtype=np.float32) for k in npz.files}
    expected = {
        "conv1_1_weight": (64, 3, 3, 3),
        "conv1_1_bias": (64,),
        "conv1_2_weight": (64, 64, 3, 3),
        "conv1_2_bias": (64,),
    }
    for name, shape in expected.items():
        if name not in arrays or arrays[name].shape != shape:
            found = arrays[name].shape if name in arrays else "nothing"
            raise RuntimeError(f"{path}: expected {name} of shape {shape}, found {found}")
    return arrays


class VGGConv1(nn.Module):
    """conv1_1 -> ReLU -> conv1_2 -> ReLU of ImageNet VGG16, weights frozen.

    forward(x: [B, 3, H, W] RGB in 0..1) -> [B, 64, H, W], non-negative.
    The weights are buffers, not parameters: optimisers never see them, `.to()` moves them.
    """

    def __init__(self) -> None:
        super().__init__()
        w = load_vgg16_conv1_weights()
        for name, arr in w.items():
            self.register_buffer(name, torch.from_numpy(arr.copy()))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"VGGConv1 expects RGB images [B, 3, H, W], got {tuple(x.shape)}")
        x = (x - self.mean) / self.std
        x = F.relu(F.conv2d(x, self.conv1_1_weight, self.conv1_1_bias, padding=1))
        return F.relu(F.conv2d(x, self.conv1_2_weight, self.conv1_2_bias, padding=1))


def feature_basis(features: Tensor, channels: int) -> Tensor:
    """A fixed projection of 64 VGG channels onto ``channels``: P ``[channels, 64]``.

    features: ``[64, H, W]`` (the reference view's).  channels == 64: the identity (every
    channel kept as it is).  Fewer: the principal axes of the features over the pixels (largest
    variance first; estimated from about PCA_SAMPLES evenly strided pixels), times one scale c
    chosen so that the projected features of the reference vary as much in mean absolute value
    as the 64 channels do,
    ``mean_n |P (f - mu)| = mean_c |f - mu|`` (mean over channels and pixels), so that an error
    through the projection has the size of the 64-channel error and the weights of the other
    loss terms keep their meaning.  The eigenvectors' signs are irrelevant: the distance
    compares projections.
    """
    c64 = features.shape[0]
    if not 1 <= channels <= c64:
        raise ValueError(f"VGG feature channels must be in 1..{c64}, got {channels}")
    if channels == c64:
        return torch.eye(c64, dtype=features.dtype, device=features.device)
    X = features.reshape(c64, -1)
    X = X[:, :: max(1, X.shape[1] // PCA_SAMPLES)].to(torch.float64)  # [64, <= 2 PCA_SAMPLES]
    Xc = X - X.mean(1, keepdim=True)
    cov = Xc @ Xc.T / max(Xc.shape[1], 1)
    _, vec = torch.linalg.eigh(cov)  # ascending eigenvalues
    P = vec[:, -channels:].flip(1).T  # [channels, 64], largest variance first
    scale = Xc.abs().mean() / (P @ Xc).abs().mean().clamp_min(1e-12)
    return (P * scale).to(features.dtype)


@torch.no_grad()
def warpable_features(
    ref: Tensor, views: Tensor, channels: int = 16, chunk: int = 4
) -> tuple[Tensor, Tensor]:
    """VGG conv1 features of the reference and of every view, computed once, projected
    (`feature_basis` of the reference's features) and laid out channel-last for warping.

    ref: ``[H, W, 3]``, views ``[K, H, W, 3]`` RGB in 0..1 (channel-last, as the photo layer)
    -> (``[H, W, channels]``, ``[K, H, W, channels]``) in ref's dtype.  chunk: views per VGG
    pass (bounds the memory of the 64-channel activations).  The features of a view warped
    through a disparity map stand in for the features of the warped view: bilinear warping
    commutes with the projection, not with the convolutions, so the two differ where the
    warp stretches or folds the image (occlusion edges, slanted surfaces).
    """
    if ref.dim() != 3 or views.dim() != 4 or views.shape[1:] != ref.shape or ref.shape[2] != 3:
        raise ValueError(
            "warpable_features expects ref [H, W, 3] and views [K, H, W, 3], got "
            f"{tuple(ref.shape)} and {tuple(views.shape)}"
        )
    net = VGGConv1().to(device=ref.device, dtype=ref.dtype)
    ref_f = net(ref.permute(2, 0, 1)[None])[0]  # [64, H, W]
    P = feature_basis(ref_f, channels)  # [channels, 64]
    K, H, W, _ = views.shape
    out = views.new_empty(K, H, W, channels)
    for start in range(0, K, max(int(chunk), 1)):
        f = net(views[start : start + chunk].permute(0, 3, 1, 2))  # [k, 64, H, W]
        out[start : start + chunk] = torch.einsum("nc,kchw->khwn", P, f)
    ref_p = torch.einsum("nc,chw->hwn", P, ref_f).contiguous()
    return ref_p, out
