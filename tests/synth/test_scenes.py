"""The named synthetic scenes and the surface kinds they use: exact ground truth, determinism,
sizes, and each scene's property (thin widths, noise bands, view-dependent highlights)."""

import numpy as np
import pytest

from diffdepth.synth import make_lightfield
from diffdepth.synth.lightfield import Surface, _edge_pixels, _front_most, _hit
from diffdepth.synth.scenes import SCENES, dots, make_scene, specular, thin_structures

# A crop of each scene with objects and depth edges in it (y0, x0, h, w of the 256x256 views).
CROPS = {
    "thin": (40, 8, 64, 72),
    "dots": (150, 100, 64, 64),
    "slanted": (20, 20, 72, 72),
    "lowtex": (150, 10, 64, 96),
    "specular": (40, 20, 72, 72),
    "noisy": (60, 100, 64, 64),
    "clutter": (90, 90, 64, 64),
}


def visible(surfaces, window, u, v, gt):
    """bool [h, w]: the reference pixel and the 4x4 pixels of view (u, v) around
    (x - d u, y - d v) that cubic sampling reads all show the same surface, away from its
    edges (from the ray caster's surface index: exact, not a distance to edges)."""
    y0, x0, h, w = window
    cols = np.arange(x0, x0 + w, dtype=np.float64)[None, :]
    rows = np.arange(y0, y0 + h, dtype=np.float64)[:, None]
    idx_ref = _front_most(surfaces, cols, rows, 0.0, 0.0)[0]
    idx_k = _front_most(surfaces, cols, rows, float(u), float(v))[0]
    pure_k = ~_edge_pixels(idx_k)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    x, y = xx - gt * u, yy - gt * v
    ok = ~_edge_pixels(idx_ref) & (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    ix, iy = np.floor(x).astype(int), np.floor(y).astype(int)
    for dy in (-1, 0, 1, 2):
        for dx in (-1, 0, 1, 2):
            jy, jx = np.clip(iy + dy, 0, h - 1), np.clip(ix + dx, 0, w - 1)
            ok &= (idx_k[jy, jx] == idx_ref) & pure_k[jy, jx]
    return ok


def consistency(lf, surfaces, window, rc, warp):
    """Mean |warp(view rc, gt) - ref| and the same without warping, over the reference pixels
    that view rc sees (see :func:`visible`). Cubic sampling: the stripes of 'lowtex' have a
    period of 7 px, where linear interpolation alone errs by 0.01."""
    r, c = rc
    u, v = c - lf.ref[1], r - lf.ref[0]
    gt = lf.gt.astype(np.float64)
    warped, _ = warp(lf.views[r, c], gt, u, v, order=3)
    unwarped, _ = warp(lf.views[r, c], np.zeros_like(gt), u, v, order=3)
    mask = visible(surfaces, window, u, v, gt)
    assert mask.sum() > 500
    return np.abs(warped - lf.ref_view)[mask].mean(), np.abs(unwarped - lf.ref_view)[mask].mean()


def clean_crop(name, grid=(5, 5), strip_gloss=False):
    """The scene's crop rendered without its sensor noise (and optionally without gloss), and
    its surfaces."""
    spec = SCENES[name](256, 256)
    surfaces = spec.surfaces
    if strip_gloss:
        surfaces = [Surface(s.kind, s.disparity, s.shape, s.contrast, s.color) for s in surfaces]
    return make_lightfield(256, 256, grid, 0, surfaces, window=CROPS[name]), surfaces


@pytest.mark.parametrize("name", [n for n in SCENES if n != "specular"])
def test_views_agree_with_the_ground_truth(name, warp):
    lf, surfaces = clean_crop(name)
    assert np.ptp(lf.gt) > 0.5  # the crop has depth structure
    for rc in [(0, 0), (4, 4), (0, 4), (2, 1)]:
        err, err0 = consistency(lf, surfaces, CROPS[name], rc, warp)
        assert err < 0.0015, (name, rc, err)  # a gt error of 0.05 px gives 0.003-0.011
        assert err < 0.25 * err0, (name, rc, err, err0)


def test_specular_highlights_move_with_the_view(warp):
    matte, surfaces = clean_crop("specular", strip_gloss=True)
    glossy, _ = clean_crop("specular")
    np.testing.assert_array_equal(matte.gt, glossy.gt)
    err_matte, _ = consistency(matte, surfaces, CROPS["specular"], (0, 0), warp)
    err_glossy, _ = consistency(glossy, surfaces, CROPS["specular"], (0, 0), warp)
    assert err_matte < 0.0015
    assert err_glossy > 2 * err_matte  # the highlights do not follow the surface's disparity


def test_glossy_surface_alone():
    # One glossy fronto-parallel plane at integer disparity: the texture moves by d per view
    # step, the highlights by d - shift; so the views are no pure shift of each other.
    plane = [Surface("plane", (1.0, 0.0, 0.0), contrast=0.2, gloss=(0.8, 2.0))]
    lf = make_lightfield(48, 64, (1, 3), surfaces=plane, supersample=1)
    right, ref = lf.views[0, 2], lf.ref_view
    assert np.abs(right[:, :-1] - ref[:, 1:]).max() > 0.2
    matte = make_lightfield(48, 64, (1, 3), surfaces=[Surface("plane", (1.0, 0, 0), (), 0.2)])
    np.testing.assert_allclose(matte.views[0, 2][:, :-1], matte.ref_view[:, 1:], atol=1e-6)


@pytest.mark.parametrize("name", list(SCENES))
def test_determinism_and_sizes(name):
    window = (100, 100, 16, 20)
    a = make_scene(name, grid=(9, 9), window=window)
    b = make_scene(name, grid=(9, 9), window=window)
    c = make_scene(name, grid=(9, 9), window=window, seed=1)
    assert a.views.shape == (9, 9, 16, 20, 3) and a.gt.shape == (16, 20)
    assert a.ref == (4, 4) and a.name == name
    np.testing.assert_array_equal(a.views, b.views)
    np.testing.assert_array_equal(a.gt, c.gt)  # the seed changes textures and noise only
    assert not np.array_equal(a.views, c.views)
    full = make_scene(name, grid=(1, 1))
    assert full.views.shape == (1, 1, 256, 256, 3) and full.gt.shape == (256, 256)
    assert np.isfinite(full.gt).all() and -1.5 <= full.gt.min() and full.gt.max() <= 2.0
    lo, hi = full.disp_range
    assert lo <= full.gt.min() and full.gt.max() <= hi


def test_thin_structures_have_the_stated_widths():
    gt = make_scene("thin", grid=(1, 1)).gt
    row = gt[64]  # upper half: strips in front of the textured background
    strips = [s for s in thin_structures().surfaces if s.kind == "strip"][:8]
    for s in strips:
        width = int(np.sum(row == np.float32(s.disparity[0])))
        assert width == round(2 * s.shape[4]), (s.disparity[0], width)
    # the wedges taper: a wedge 4 px wide at one end is at most 1 px wide at the other
    wedge = [s for s in thin_structures().surfaces if s.kind == "wedge"][0]
    top, bottom = (np.sum(gt[r] == np.float32(wedge.disparity[0])) for r in (12, 243))
    assert top == 4 and bottom <= 1


def test_dots_noise_grows_by_band():
    name, window = "dots", (0, 0, 256, 40)
    noisy = make_scene(name, grid=(1, 1), window=window)
    clean = make_lightfield(256, 256, (1, 1), 0, dots().surfaces, window=window)
    diff = (noisy.ref_view - clean.ref_view).std(axis=(1, 2))  # per row
    bands = [diff[k * 64 + 4 : (k + 1) * 64 - 4].mean() for k in range(4)]
    assert bands[0] == 0.0
    np.testing.assert_allclose(bands[1:], [0.005, 0.01, 0.02], rtol=0.15)


def test_specular_scene_has_glossy_surfaces():
    assert sum(s.gloss is not None for s in specular().surfaces) >= 2


def test_dome_and_pyramid_disparity_is_exact():
    dome = Surface("dome", (0.2, 0.0, 0.0), (30.0, 20.0, 12.0, 1.0))
    pyramid = Surface("pyramid", (0.5, 0.0, 0.0), (30.0, 20.0, 10.0, -0.6))
    for surf, peak in ((dome, 1.2), (pyramid, -0.1)):
        lf = make_lightfield(40, 60, (1, 1), surfaces=[Surface("plane", (-1, 0, 0)), surf])
        assert lf.gt[20, 30] == pytest.approx(peak, abs=1e-6)
        yy, xx = np.mgrid[0:40, 0:60].astype(np.float64)
        inside = surf.contains(xx, yy)
        np.testing.assert_allclose(lf.gt[inside], surf.disparity_at(xx, yy)[inside], atol=1e-6)
        assert np.all(lf.gt[~inside] == -1)
    # a spherical cap: d - a = h (sqrt(R^2 - r^2) - rim) / (R - rim), R = 1.25 x radius
    big, rim = 15.0, 9.0
    r = 6.0
    expected = 0.2 + (np.sqrt(big**2 - r**2) - rim) / (big - rim)
    assert dome.disparity_at(np.array(36.0), np.array(20.0)) == pytest.approx(expected)
    assert dome.disparity_at(np.array(42.0), np.array(20.0)) == pytest.approx(0.2)  # rim


@pytest.mark.parametrize("uv", [(4.0, 4.0), (-4.0, 1.0), (0.0, -3.0)])
def test_curved_ray_cast_solves_the_view_equation(uv):
    u, v = uv
    dome = Surface("dome", (0.3, 0.002, -0.001), (30.0, 25.0, 20.0, 0.6))
    xt, yt = np.meshgrid(np.linspace(0, 60, 31), np.linspace(0, 50, 26))
    x, y, d = _hit(dome, xt.ravel(), yt.ravel(), u, v)
    np.testing.assert_allclose(x - d * u, xt.ravel(), atol=1e-8)
    np.testing.assert_allclose(y - d * v, yt.ravel(), atol=1e-8)
    np.testing.assert_allclose(d, dome.disparity_at(x, y))


def test_wedge_tapers():
    wedge = Surface("wedge", (0.0, 0.0, 0.0), (10.0, 0.0, 10.0, 40.0, 3.0, 0.5))
    assert wedge.contains(np.array([12.9, 13.1]), np.array([0.0, 0.0])).tolist() == [True, False]
    assert wedge.contains(np.array([10.4, 10.6]), np.array([40.0, 40.0])).tolist() == [True, False]


def test_window_is_a_crop_of_the_full_render():
    full = make_lightfield(40, 56, (3, 3), seed=2)
    crop = make_lightfield(40, 56, (3, 3), seed=2, window=(5, 9, 20, 30))
    np.testing.assert_array_equal(crop.views, full.views[:, :, 5:25, 9:39])
    np.testing.assert_array_equal(crop.gt, full.gt[5:25, 9:39])


def test_bad_scene_arguments():
    with pytest.raises(ValueError, match="unknown synthetic scene"):
        make_scene("nope")
    with pytest.raises(ValueError, match="not inside"):
        make_lightfield(20, 20, (1, 1), window=(10, 0, 20, 20))
    with pytest.raises(ValueError, match="noise must be"):
        make_lightfield(20, 20, (1, 1), noise=np.zeros((3, 3)))
    steep = [Surface("plane", (0, 0, 0)), Surface("dome", (0, 0, 0), (10, 10, 5, 2.0))]
    with pytest.raises(ValueError, match="too steep"):
        make_lightfield(20, 20, (3, 3), surfaces=steep)
