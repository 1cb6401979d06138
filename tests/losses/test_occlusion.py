"""occlusion_masks: a near square over a far plane, pixels leaving the image, a plain z-buffer."""

import pytest
import torch

from diffdepth.losses.lightfield import occlusion_masks


def _two_layer(H=40, W=44):
    D = torch.zeros(H, W)
    D[15:25, 18:28] = 2.0  # near square (larger disparity = nearer) over a plane at 0
    return D


def test_background_behind_square_is_hidden_in_a_row_view():
    D = _two_layer()
    M = occlusion_masks(D, [[2.0, 0.0]])[0]
    # the square moves by -4 px in this view and covers target columns 14..23; the background
    # pixels of reference columns 14..17 land there too and are hidden
    assert not M[15:25, 14:18].any()
    assert M[15:25, 18:28].all()  # the square itself is visible
    assert M[15:25, 10:14].all() and M[15:25, 28:40].all()  # beside it
    assert M[:15].all() and M[25:].all()  # other rows


def test_background_behind_square_is_hidden_in_a_column_view():
    D = _two_layer()
    M = occlusion_masks(D, [[0.0, -1.0]])[0]
    # the square moves by +2 rows and hides background rows 25, 26 below it
    assert not M[25:27, 18:28].any()
    assert M[27:, 18:28].all() and M[:25].all()


def test_pixels_leaving_the_image_are_hidden():
    D = torch.full((10, 12), 1.5)
    M = occlusion_masks(D, [[2.0, 0.0], [0.0, -1.0], [1.0, 1.0]])
    assert not M[0, :, :3].any() and M[0, :, 3:].all()  # x - 3 < 0 for x < 3
    assert not M[1, 8:].any() and M[1, :8].all()  # y + 1.5 > 9 for y > 7.5
    assert not M[2, :, :2].any() and not M[2, :2].any() and M[2, 2:, 2:].all()


def test_zero_disparity_and_reference_offset_see_everything():
    D = torch.zeros(8, 9)
    assert occlusion_masks(D, [[1.0, 0.0], [0.0, 0.0], [-1.0, 2.0]]).all()


def test_slanted_plane_is_not_self_occluded():
    # a plane whose disparity grows 0.04 px per column compresses in view u = 3: several
    # pixels round onto one target, all within the margin
    D = torch.arange(50.0).mul(0.04).expand(6, 50).contiguous() - 1.0
    M = occlusion_masks(D, [[3.0, 0.0], [-3.0, 0.0]])
    X = torch.arange(50.0) - D[0] * torch.tensor([[3.0], [-3.0]])
    inside = (X >= 0) & (X <= 49)
    assert torch.equal(M, inside[:, None, :].expand(2, 6, 50))


def _zbuffer_loop(D, offsets, margin):
    """Plain z-buffer, one pixel at a time."""
    H, W = D.shape
    out = torch.zeros(len(offsets), H, W, dtype=torch.bool)
    for k, (u, v) in enumerate(offsets):
        zbuf = {}
        targets = {}
        for y in range(H):
            for x in range(W):
                d = float(D[y, x])
                X, Y = x - d * u, y - d * v
                if 0 <= X <= W - 1 and 0 <= Y <= H - 1:
                    t = (round(Y), round(X))
                    targets[y, x] = t
                    zbuf[t] = max(zbuf.get(t, -1e30), d)
        for (y, x), t in targets.items():
            out[k, y, x] = float(D[y, x]) >= zbuf[t] - margin
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_a_plain_zbuffer(seed):
    g = torch.Generator().manual_seed(seed)
    D = (torch.rand(9, 11, generator=g, dtype=torch.float64) * 3 - 1.5).round(decimals=2)
    D += 0.003  # keep x - D u off the .5 rounding ties
    offsets = [[1.0, 0.0], [-2.0, 0.0], [0.0, 1.0], [0.0, -1.0], [1.0, 1.0], [-1.0, 2.0]]
    torch.testing.assert_close(occlusion_masks(D, offsets, 0.1), _zbuffer_loop(D, offsets, 0.1))


def test_not_differentiated():
    D = torch.zeros(5, 6, requires_grad=True)
    M = occlusion_masks(D, [[1.0, 0.0]])
    assert M.dtype == torch.bool and not M.requires_grad
