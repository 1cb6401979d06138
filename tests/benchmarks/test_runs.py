"""The benchmarks score with the shared reference scorer only maps on which it and diffdepth's
own scoring agree (finite ones)."""

import numpy as np
import pytest

from diffdepth.io import write_pfm
from diffdepth.metrics import score_disparity

_runs = pytest.importorskip("benchmarks._runs", reason="run from the repository root")


def test_finite_maps_are_scored_alike_and_nonfinite_ones_refused(tmp_path):
    if not _runs.SCORER.exists():
        pytest.skip(f"reference scorer {_runs.SCORER} is absent (../shared is not beside this)")
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(40, 50)).astype(np.float32)
    est = gt + rng.normal(scale=0.05, size=gt.shape).astype(np.float32)
    write_pfm(tmp_path / "gt.pfm", gt)
    write_pfm(tmp_path / "est.pfm", est)
    ref = _runs.score(tmp_path / "est.pfm", tmp_path / "gt.pfm")
    ours = score_disparity(est, gt)
    for key in ("mse_x100", "badpix_0.07", "badpix_0.01", "q25_x100", "mae", "pixels"):
        assert ours[key] == pytest.approx(ref[key], rel=1e-6), key
    est[20, 20] = np.nan
    write_pfm(tmp_path / "est.pfm", est)
    with pytest.raises(RuntimeError, match="non-finite"):
        _runs.score(tmp_path / "est.pfm", tmp_path / "gt.pfm")
