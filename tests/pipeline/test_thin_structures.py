"""Known answers for what the map must keep: a strip 2 px wide in front of a plane keeps its
disparity; an untextured region between two textured ones takes values between theirs."""

import numpy as np
import pytest

from diffdepth.config import LightFieldConfig
from diffdepth.pipeline import run_lightfield
from diffdepth.synth import make_lightfield
from diffdepth.synth.lightfield import Surface

H, W = 48, 64


@pytest.fixture(scope="module")
def strip():
    plane = Surface("plane", (-0.3, 0.0, 0.0), color=(0.45, 0.5, 0.55))
    bar = Surface("strip", (1.2, 0.0, 0.0), (32.0, 4.0, 32.0, 44.0, 1.0), color=(0.8, 0.3, 0.2))
    return make_lightfield(height=H, width=W, grid=(9, 9), seed=5, surfaces=[plane, bar])


def _no_optimise(**kw) -> LightFieldConfig:
    return LightFieldConfig(optimize=False, **kw)


def test_a_2px_strip_keeps_its_disparity(strip):
    """The strip's pixels (2 px wide, 40 rows) keep the strip's disparity, not the plane's."""
    result = run_lightfield(strip, config=_no_optimise(), progress=False)
    on_strip = np.abs(strip.gt - 1.2) < 1e-6
    on_strip[:8] = on_strip[-8:] = False
    assert on_strip.sum() >= 60
    err = np.abs(result.disparity - strip.gt)[on_strip]
    assert np.median(err) < 0.07 and np.mean(err < 0.1) > 0.8


def test_with_q_from_grey_the_footprint_decides_it(strip):
    """With Q from the grey reference (which hardly sees this strip's edge), the SPEC's wider
    footprint loses part of the strip and the narrower default keeps it: the model's map, no
    stage after it (the post-filter and the edge refinement mend part of what it loses)."""
    on_strip = np.abs(strip.gt - 1.2) < 1e-6
    on_strip[:8] = on_strip[-8:] = False
    errs = {}
    for sigma in (0.8, 1.3):
        config = _no_optimise(postfilter=False, edge_refine=False)
        config = config.replace(model=config.model.replace(sigma_s=sigma, q_colour=False))
        d = run_lightfield(strip, config=config, progress=False).disparity
        errs[sigma] = np.mean(np.abs(d - strip.gt)[on_strip] > 0.1)
    assert errs[0.8] < errs[1.3]


def test_an_untextured_region_interpolates_between_its_textured_rims():
    """A band without texture between two textured planes (disparities 0.2 above, 0.8 below,
    the band itself at 0.5): every map pixel in the band lies between the rims' values and the
    middle of the band is near their mean."""
    top = Surface("rect", (0.2, 0.0, 0.0), (0.0, 0.0, float(W), 16.0))
    band = Surface("rect", (0.5, 0.0, 0.0), (0.0, 16.0, float(W), 32.0), contrast=0.0)
    bottom = Surface("rect", (0.8, 0.0, 0.0), (0.0, 32.0, float(W), float(H)))
    plane = Surface("plane", (0.0, 0.0, 0.0))
    lf = make_lightfield(
        height=H, width=W, grid=(9, 9), seed=2, surfaces=[plane, top, band, bottom]
    )
    d = run_lightfield(lf, config=_no_optimise(), progress=False).disparity
    inner = d[18:30, 10:-10]
    assert inner.min() > 0.15 and inner.max() < 0.85
    assert abs(np.median(d[23:25, 10:-10]) - 0.5) < 0.15


def test_side_cuts_fill_an_untextured_band_behind_thin_strips_from_its_rims():
    """Strips 2 px wide (disparities 1.2, 0.6, 1.5) in front of a plane (-0.8) that has a band
    without texture (rows 20 to 44): between the strips the band is the plane. Without the
    side cuts it fills from the strips' edges; with them (the strips' outer sides cut) from
    the plane's textured rims above and below."""
    bg = (-0.8, 0.0, 0.0)
    surfaces = [
        Surface("rect", bg, (-40.0, 20.0, 136.0, 44.0), 0.0, (0.5, 0.5, 0.52)),
        Surface("plane", bg),
    ]
    for x, d in ((24.0, 1.2), (48.0, 0.6), (72.0, 1.5)):
        surfaces.append(Surface("strip", (d, 0.0, 0.0), (x, 2.0, x, 62.0, 1.0), 0.3))
    lf = make_lightfield(height=64, width=96, grid=(9, 9), seed=1, surfaces=surfaces)
    band = np.zeros((64, 96), dtype=bool)
    band[22:42, 28:44] = band[22:42, 52:68] = True  # between the strips, 4 px clear of them
    base = LightFieldConfig(optimize=False, densify=False, postfilter=False, edge_refine=False)
    err = {}
    for radius in (0.0, 48.0):
        config = base.replace(model=base.model.replace(side_cut_radius=radius, side_cut_depth=2))
        d = run_lightfield(lf, config=config, progress=False).disparity
        err[radius] = float(np.median(np.abs(d - lf.gt)[band]))
    assert err[48.0] < 0.1 < 0.3 < err[0.0]
