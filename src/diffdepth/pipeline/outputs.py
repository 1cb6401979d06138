"""What every result folder holds besides its maps: the loss table, JSON records, the versions
of the software and the peak memory. The folder itself is written whole or not at all by
`diffdepth.io.results`."""

from __future__ import annotations

import json
import math
import platform
from pathlib import Path

from diffdepth.optimize import History


def peak_rss_mib() -> float | None:
    """Peak resident memory of this process so far (MiB), where the platform reports it.

    Linux's VmHWM first: getrusage's ru_maxrss of a process started by fork and exec carries
    the peak of the parent it was forked from (a benchmark driver, say), VmHWM does not."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # not on every platform
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def software_versions() -> dict[str, str]:
    """Versions of diffdepth, Python and the packages a result depends on (pycolmap only when
    it is installed), as recorded in every ``config.json``."""
    from importlib import metadata

    import numpy
    import torch

    import diffdepth

    versions = {
        "diffdepth": diffdepth.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
    }
    try:
        versions["pycolmap"] = metadata.version("pycolmap")  # read without importing it
    except metadata.PackageNotFoundError:
        pass
    return versions


def _finite_json(value):
    """JSON-able ``value`` with every non-finite float as None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_json(v) for v in value]
    return value


def write_json(path: Path, data: dict) -> None:
    """``data`` as indented, standard JSON (non-finite numbers as null)."""
    path.write_text(json.dumps(_finite_json(data), indent=2, default=str, allow_nan=False) + "\n")


def write_loss_csv(path: Path, history: History) -> None:
    """iteration, pass, group, loss, solver iterations and every loss part, one row each."""
    keys = sorted({k for p in history.parts for k in p})
    lines = [",".join(["iteration", "pass", "group", "loss", "solver_iterations", *keys])]
    for i, loss in enumerate(history.loss):
        parts = history.parts[i]
        row = [str(i + 1), str(history.pass_index[i] + 1), history.group[i], f"{loss:.8g}"]
        row.append(str(history.solver_iters[i]))
        row += [f"{parts.get(k, float('nan')):.8g}" for k in keys]
        lines.append(",".join(row))
    path.write_text("\n".join(lines) + "\n")


def write_run_record(stage: Path, result, value_name: str, info: dict) -> None:
    """The files of every run in the folder ``stage``: points_initial.csv and points_final.csv
    (``value_name`` names the label column), loss.csv and loss.png, and config.json (the
    run's config, its kind and timings, then ``info``, then the software versions).  ``result`` is a
    light-field or multi-view result."""
    from diffdepth import viz
    from diffdepth.io import write_points_csv

    write_points_csv(stage / "points_initial.csv", result.points_initial, value_name)
    write_points_csv(stage / "points_final.csv", result.points_final, value_name)
    write_loss_csv(stage / "loss.csv", result.history)
    viz.save_loss_png(stage / "loss.png", result.history.loss, result.history.group)
    record = {
        "config": result.config.to_dict(),
        "config_kind": type(result.config).__name__,  # what `diffdepth run --config` replays
        "timings": result.timings,
        **info,
    }
    record["versions"] = software_versions()
    write_json(stage / "config.json", record)
