"""Output folders that hold complete results or nothing.

Every file of a result is written into a hidden staging folder inside the output folder and
moved into place (``os.replace``, atomic per file) only after all of them were written, so an
interrupted run leaves no half-written file and no partial set of new files.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from diffdepth.io.errors import InputError
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


def prepare_out_dir(out_dir: str | Path) -> Path:
    """Create ``out_dir`` if needed and check that it is writable (InputError otherwise)."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".probe-"):
            pass
    except OSError as e:
        raise InputError(f"{out}: cannot write the output folder ({e.strerror or e})") from None
    return out


@contextmanager
def staged_outputs(out_dir: str | Path) -> Iterator[Path]:
    """Yield a staging folder; on success move its files into ``out_dir``, else drop them."""
    out = prepare_out_dir(out_dir)
    stage = Path(tempfile.mkdtemp(prefix=".partial-", dir=out))
    try:
        yield stage
        for f in sorted(stage.rglob("*")):  # files of sub-folders too, merged into existing ones
            target = out / f.relative_to(stage)
            if f.is_dir():
                target.mkdir(exist_ok=True)
            else:
                os.replace(f, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


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
    run's config and timings, then ``info``, then the software versions).  ``result`` is a
    light-field or multi-view result."""
    from diffdepth import viz
    from diffdepth.io import write_points_csv

    write_points_csv(stage / "points_initial.csv", result.points_initial, value_name)
    write_points_csv(stage / "points_final.csv", result.points_final, value_name)
    write_loss_csv(stage / "loss.csv", result.history)
    viz.save_loss_png(stage / "loss.png", result.history.loss, result.history.group)
    record = {"config": result.config.to_dict(), "timings": result.timings, **info}
    record["versions"] = software_versions()
    (stage / "config.json").write_text(json.dumps(record, indent=2, default=str))
