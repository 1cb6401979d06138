import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from diffdepth.metrics import badpix_map, score_disparity
from diffdepth.metrics.disparity import NONFINITE_ERROR

SCORER = Path(__file__).resolve().parents[3] / "shared" / "tools" / "score_disparity.py"


def test_known_answers():
    gt = np.zeros((40, 50))
    est = gt.copy()
    est[20, 20] = 0.05  # inside the border: one bad pixel at 0.03, not at 0.07
    est[0, 0] = 9.0  # inside the 15 px border: ignored
    s = score_disparity(est, gt)
    n = (40 - 30) * (50 - 30)
    assert s["pixels"] == n
    assert s["badpix_0.03"] == pytest.approx(100.0 / n)
    assert s["badpix_0.07"] == 0.0
    assert s["mse_x100"] == pytest.approx(0.05**2 / n * 100)


def test_a_nonfinite_estimate_counts_with_the_fixed_large_error():
    gt = np.zeros((40, 40))
    est = gt.copy()
    est[20, 20] = np.nan
    est[21, 21] = 0.5
    est[22, 22] = -np.inf
    s = score_disparity(est, gt)
    assert s["nonfinite_estimates"] == 2 and s["nonfinite_error"] == NONFINITE_ERROR == 100.0
    n = 10 * 10
    assert s["badpix_0.07"] == pytest.approx(3 * 100.0 / n)
    assert s["mse_x100"] == pytest.approx((2 * NONFINITE_ERROR**2 + 0.25) / n * 100)
    assert s["mae"] == pytest.approx((2 * NONFINITE_ERROR + 0.5) / n)


def test_an_estimate_that_is_nan_almost_everywhere_scores_as_bad_as_it_is():
    """The worst finite error of such a map is 0 (its one finite pixel is exact): the shared
    scorer's rule would report a perfect score; ours cannot be fooled that way."""
    gt = np.full((40, 40), 0.3)
    est = np.full_like(gt, np.nan)
    est[20, 20] = 0.3
    s = score_disparity(est, gt)
    for t in ("0.01", "0.03", "0.07"):
        assert s[f"badpix_{t}"] == pytest.approx(99.0)
    assert s["mse_x100"] == pytest.approx(0.99 * NONFINITE_ERROR**2 * 100)
    assert s["q25_x100"] == pytest.approx(NONFINITE_ERROR * 100)
    inf = score_disparity(np.full_like(gt, np.inf), gt)
    assert inf["badpix_0.07"] == 100.0 and inf["mae"] == NONFINITE_ERROR


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape mismatch"):
        score_disparity(np.zeros((4, 4)), np.zeros((4, 5)))


def test_badpix_map():
    gt = np.array([[0.0, 0.0, np.nan]])
    est = np.array([[0.1, 0.0, 0.0]])
    assert badpix_map(est, gt, 0.07).tolist() == [[True, False, False]]


def test_agrees_with_reference_scorer(tmp_path):
    """Our metrics equal the shared reference scorer's on the same files where the estimate
    is finite; where it is not, they differ exactly by the rule for non-finite estimates."""
    if not SCORER.exists():
        pytest.skip(f"reference scorer {SCORER} is absent (../shared is not beside this checkout)")
    if importlib.util.find_spec("PIL") is None:
        pytest.skip("Pillow missing")
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(64, 80)).astype(np.float32)
    gt[5, 30] = np.nan
    est = (gt + rng.normal(scale=0.05, size=gt.shape)).astype(np.float32)
    np.save(tmp_path / "gt.npy", gt)

    def reference(est):
        np.save(tmp_path / "est.npy", est)
        res = subprocess.run(
            [sys.executable, str(SCORER), str(tmp_path / "est.npy"), str(tmp_path / "gt.npy")]
            + ["--json"],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(res.stdout)

    ref, ours = reference(est), score_disparity(est, gt)
    for key, value in ref.items():
        assert ours[key] == pytest.approx(value, rel=1e-9), key
    est[30, 30] = np.inf
    ref, ours = reference(est), score_disparity(est, gt)
    for key in ("pixels", "nonfinite_estimates", "badpix_0.07", "badpix_0.03", "badpix_0.01"):
        assert ours[key] == ref[key], key  # the pixel is bad under both rules
    # the reference counts the pixel with the largest finite error, we with NONFINITE_ERROR
    e = np.abs(est.astype(np.float64) - gt)[15:-15, 15:-15]
    worst = np.nanmax(np.where(np.isfinite(e), e, np.nan))
    n = ours["pixels"]
    assert ours["mse_x100"] - ref["mse_x100"] == pytest.approx(
        (NONFINITE_ERROR**2 - worst**2) / n * 100, rel=1e-6
    )
