"""The bundled VGG16 conv1 weights and the frozen feature extractor."""

from importlib import resources

import numpy as np
import torch

from diffdepth.losses import LightFieldLoss, LossConfig
from diffdepth.losses.vgg import IMAGENET_MEAN, IMAGENET_STD, VGGConv1, load_vgg16_conv1_weights


def test_weight_file_shapes_and_known_values():
    path = resources.files("diffdepth") / "data" / "vgg16_conv1.npz"
    assert 150_000 < path.stat().st_size < 165_000
    w = load_vgg16_conv1_weights()
    assert {k: v.shape for k, v in w.items()} == {
        "conv1_1_weight": (64, 3, 3, 3),
        "conv1_1_bias": (64,),
        "conv1_2_weight": (64, 64, 3, 3),
        "conv1_2_bias": (64,),
    }
    assert all(v.dtype == np.float32 for v in w.values())
    # torchvision's vgg16 features.0: first row of the first filter, first biases
    np.testing.assert_allclose(w["conv1_1_weight"][0, 0, 0], [-0.5537, 0.1427, 0.5290], atol=1e-4)
    np.testing.assert_allclose(w["conv1_1_bias"][:3], [0.4034, 0.3778, 0.4644], atol=1e-4)


def test_constant_image_equals_bias_plus_weight_sums():
    w = {k: v.astype(np.float64) for k, v in load_vgg16_conv1_weights().items()}
    value = np.array([0.2, 0.6, 0.9])
    n = (value - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)  # normalised input
    h1 = np.maximum(w["conv1_1_bias"] + np.einsum("oihw,i->o", w["conv1_1_weight"], n), 0)
    h2 = np.maximum(w["conv1_2_bias"] + np.einsum("oihw,i->o", w["conv1_2_weight"], h1), 0)
    img = torch.tensor(value, dtype=torch.float64).view(1, 3, 1, 1).expand(1, 3, 9, 10)
    out = VGGConv1().double()(img)
    assert out.shape == (1, 64, 9, 10)
    # interior pixels (2 px from the border, beyond the zero padding of both layers)
    # (the module keeps the mean and std as float32 constants: relative 1e-6)
    want = h2[:, None, None] * np.ones((5, 6))
    np.testing.assert_allclose(out[0, :, 2:-2, 2:-2].numpy(), want, rtol=1e-5, atol=1e-7)
    assert not np.allclose(out[0, :, 0, 0].numpy(), h2)  # the zero-padded border differs


def test_features_are_non_negative_and_frozen():
    net = VGGConv1()
    out = net(torch.rand(2, 3, 16, 12, generator=torch.Generator().manual_seed(0)))
    assert out.shape == (2, 64, 16, 12)
    assert (out >= 0).all() and (out == 0).any() and (out > 0).any()
    assert list(net.parameters()) == []


def test_vgg_loss_end_to_end_with_gradients(make_lf, crosshair):
    ref, views, off = make_lf(0.6, crosshair[:4], H=20, W=22, dtype=torch.float32)
    grads = []
    for chunk in (1, 8):
        loss_fn = LightFieldLoss(ref, views, off, LossConfig(distance="vgg", vgg_chunk=chunk))
        vals = {}
        for d in (0.3, 0.6, 0.9):
            D = torch.full((20, 22), d, requires_grad=True)
            loss, parts, E = loss_fn(D)
            loss.backward()
            vals[d] = parts["error"]
            if d == 0.3:
                grads.append(D.grad.clone())
                assert float(D.grad.sum()) < 0  # descending raises d toward 0.6
        assert vals[0.6] < vals[0.3] and vals[0.6] < vals[0.9]
    # chunks with recomputation (checkpointing) give the same gradient as one pass
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-6)
