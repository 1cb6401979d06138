import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from diffdepth.metrics import badpix_map, score_disparity

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


def test_nonfinite_estimate_counts_as_worst():
    gt = np.zeros((40, 40))
    est = gt.copy()
    est[20, 20] = np.nan
    est[21, 21] = 0.5
    s = score_disparity(est, gt)
    assert s["nonfinite_estimates"] == 1
    assert s["badpix_0.07"] == pytest.approx(2 * 100.0 / 100)
    assert s["mse_x100"] == pytest.approx(2 * 0.25 / 100 * 100)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape mismatch"):
        score_disparity(np.zeros((4, 4)), np.zeros((4, 5)))


def test_badpix_map():
    gt = np.array([[0.0, 0.0, np.nan]])
    est = np.array([[0.1, 0.0, 0.0]])
    assert badpix_map(est, gt, 0.07).tolist() == [[True, False, False]]


def test_agrees_with_reference_scorer(tmp_path):
    """Our metrics equal the shared reference scorer's on the same files."""
    if not SCORER.exists():
        pytest.skip(f"reference scorer {SCORER} is absent (../shared is not beside this checkout)")
    if importlib.util.find_spec("PIL") is None:
        pytest.skip("Pillow missing")
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(64, 80)).astype(np.float32)
    gt[5, 30] = np.nan
    est = (gt + rng.normal(scale=0.05, size=gt.shape)).astype(np.float32)
    est[30, 30] = np.inf
    np.save(tmp_path / "gt.npy", gt)
    np.save(tmp_path / "est.npy", est)
    res = subprocess.run(
        [
            sys.executable,
            str(SCORER),
            str(tmp_path / "est.npy"),
            str(tmp_path / "gt.npy"),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    ref = json.loads(res.stdout)
    ours = score_disparity(est, gt)
    for key, value in ref.items():
        assert ours[key] == pytest.approx(value, rel=1e-9), key
