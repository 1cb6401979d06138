"""One task of a batch, as a worker runs it: read, compute, write a whole result or nothing.

The result is written by the pipeline's writers (`diffdepth.io.results`: staged, manifest.json
last, swapped in with one rename), staged under ``OUT/.batch/staging`` (same file system as the
result): at every instant the result folder is absent, or the whole old or new result. A task
never raises: it returns an outcome record.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from diffdepth.batch.tasks import Task
from diffdepth.io.errors import InputError

STATE = ".batch"  # the batch's own folder inside its output folder


@dataclass(frozen=True)
class TaskSettings:
    """What every task of a batch runs with (the configs are the pipeline's own).

    lightfield: diffdepth.config.LightFieldConfig of light-field tasks
    multiview:  diffdepth.config.MultiViewConfig of multi-view tasks
    grid:       (rows, cols) for plain folders of views, or None
    threads:    threads each task uses (torch, numba, BLAS)
    """

    lightfield: object
    multiview: object
    grid: tuple[int, int] | None = None
    threads: int = 1


def fingerprint(task: Task, settings: TaskSettings) -> str:
    """SHA-256 of what determines a task's result: its scene, image and the config of its kind
    (not the thread count). A result made with another fingerprint was made otherwise."""
    config = settings.lightfield if task.kind == "lightfield" else settings.multiview
    record = {
        "kind": task.kind,
        "scene": str(Path(task.scene).resolve()),
        "image": task.image,
        "grid": list(settings.grid) if settings.grid else None,
        "config": dataclasses.asdict(config),
    }
    text = json.dumps(record, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _lightfield(task: Task, settings: TaskSettings, final: Path, write: dict) -> dict:
    from diffdepth.io import read_lightfield, scan_lightfield
    from diffdepth.pipeline import run_lightfield, write_lightfield_outputs
    from diffdepth.pipeline.checks import check_lightfield_run

    layout = scan_lightfield(task.scene, grid=settings.grid)
    name = layout.folder.resolve().name
    config = settings.lightfield
    check_lightfield_run(name, layout.grid, layout.shape, None, config, views_loaded=False)
    lf = read_lightfield(task.scene, layout=layout)
    result = run_lightfield(lf, None, config, progress=False)
    write_lightfield_outputs(result, lf, final, **write)
    metrics = dict(result.metrics or {})
    metrics["points"] = len(result.points_initial)
    return metrics


def _multiview(task: Task, settings: TaskSettings, final: Path, write: dict, scene) -> dict:
    from diffdepth.pipeline.multiview import run_multiview, write_multiview_outputs

    if scene is None:
        from diffdepth.io import read_multiview

        scene = read_multiview(task.scene)
    if task.image not in scene.names:
        raise InputError(f"{task.scene}: no image named {task.image}")
    ref = scene.names.index(task.image)
    result = run_multiview(scene, ref, settings.multiview, progress=False)
    write_multiview_outputs(result, scene, final, **write)
    keep = ("reprojection_error_lab", "plain_reprojection_error_lab", "points_initial")
    return {k: result.metrics[k] for k in keep if k in result.metrics}


def run_task(task: Task, settings: TaskSettings, out_root: str, scene=None) -> dict:
    """Run one task and put its whole result in ``out_root/task.name``.

    Returns {'name', 'status': 'done'|'failed', 'time_s', 'metrics', 'error', 'retry',
    'threads'}: threads is the count the task ran with; retry
    is False for bad input (it would fail again) and True for anything unexpected, whose
    traceback is in 'traceback'."""
    from diffdepth.threads import set_threads

    t0 = time.perf_counter()
    out = Path(out_root)
    final = out / task.name
    write = {
        "manifest_extra": {"task": task.name, "fingerprint": fingerprint(task, settings)},
        "staging_dir": out / STATE / "staging",
    }
    outcome = {"name": task.name, "status": "failed", "metrics": {}, "error": None}
    try:
        if task.error:
            raise InputError(task.error)
        outcome["threads"] = set_threads(settings.threads)
        if task.kind == "lightfield":
            metrics = _lightfield(task, settings, final, write)
        else:
            metrics = _multiview(task, settings, final, write, scene)
        outcome.update(status="done", metrics=metrics, retry=False)
    except InputError as e:
        outcome.update(error=str(e), retry=False)
    except MemoryError:
        outcome.update(error="out of memory", retry=True, traceback=traceback.format_exc())
    except Exception as e:  # any other failure of one task is reported, not fatal to the batch
        first = f"{type(e).__name__}: {e}".splitlines()[0]
        outcome.update(error=first, retry=True, traceback=traceback.format_exc())
    outcome["time_s"] = round(time.perf_counter() - t0, 2)
    return outcome
