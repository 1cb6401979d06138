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
