"""The confidence map: photo-consistency and point support, each on known answers."""

import numpy as np
import pytest

from diffdepth.confidence import disparity_confidence, photo_confidence, point_support
from diffdepth.config import ConfidenceConfig
from diffdepth.photo import LightFieldProblem
from diffdepth.synth import make_lightfield
from diffdepth.synth.lightfield import Surface
from diffdepth.types import PointSet

CFG = ConfidenceConfig()


def _problem(contrast: float, d: float = 0.6) -> tuple[LightFieldProblem, np.ndarray]:
    lf = make_lightfield(
        height=40,
        width=48,
        grid=(9, 9),
        seed=3,
        surfaces=[Surface("plane", (d, 0.0, 0.0), contrast=contrast, color=(0.5, 0.4, 0.3))],
        supersample=1,
    )
    return LightFieldProblem.from_lightfield(lf, "crosshair"), lf.gt


def test_a_textured_surface_is_trusted_at_its_disparity_and_not_elsewhere():
    problem, gt = _problem(contrast=1.0)
    inner = (slice(8, -8), slice(8, -8))
    right = np.median(photo_confidence(problem, gt, CFG)[inner])
    near = np.median(photo_confidence(problem, gt + 0.1, CFG)[inner])
    wrong = np.median(photo_confidence(problem, gt + 0.5, CFG)[inner])
    assert right > 0.35 and near < right / 2 and wrong < 0.02


def test_a_surface_without_texture_is_not_trusted_by_photo_consistency():
    problem, gt = _problem(contrast=0.0)
    assert photo_confidence(problem, gt, CFG)[8:-8, 8:-8].max() < 0.05


def test_points_support_the_pixels_around_them_when_they_agree():
    disparity = np.full((30, 40), 1.0, np.float32)
    points = PointSet(np.array([[10.0, 12.0], [30.0, 12.0]]), np.array([1.02, 1.5]))
    s = point_support(points, disparity, CFG)
    assert s[12, 10] == pytest.approx(1.0)
    assert s[12, 10 + int(CFG.radius)] == pytest.approx(np.exp(-0.5), rel=1e-6)
    assert s[12, 30] < 1e-3  # the second point disagrees with the map by 0.5: no support
    assert s[0, 39] < 1e-6


def test_the_two_kinds_of_evidence_combine_as_independent():
    problem, gt = _problem(contrast=0.0)  # photo-consistency says nothing here
    points = PointSet(np.array([[24.0, 20.0]]), np.array([float(gt[20, 24])]))
    conf = disparity_confidence(problem, gt, points, CFG)
    photo = photo_confidence(problem, gt, CFG)
    support = point_support(points, gt, CFG)
    np.testing.assert_allclose(conf, 1 - (1 - photo) * (1 - support), atol=1e-6)
    assert conf[20, 24] > 0.99 and conf[5, 5] < 0.05
    assert conf.dtype == np.float32 and conf.min() >= 0 and conf.max() <= 1
