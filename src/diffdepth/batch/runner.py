"""run_batch: many scenes, each a task with its own whole-or-absent result, on Ray or in-process.

    from diffdepth.batch import run_batch
    from diffdepth.config import LightFieldConfig
    summary = run_batch(["scenes/"], "results/", lightfield=LightFieldConfig(), workers=2)

Resumable: a task whose result folder verifies against its manifest (and was made with the
same settings) is skipped; any other task runs again. A failed task is reported (and retried
when the failure was not bad input) without stopping the others. ``index.html`` and
``summary.csv`` in the output folder say how every task went; they are rewritten as tasks
finish.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from diffdepth.batch.index import write_index
from diffdepth.batch.tasks import Task, plan_tasks
from diffdepth.batch.work import STATE, TaskSettings, fingerprint, run_task
from diffdepth.io.errors import InputError
from diffdepth.io.manifest import read_manifest, verify_manifest
from diffdepth.io.results import record_finished

#: object store of a local Ray: tasks pass only small records (and multi-view scenes)
OBJECT_STORE_BYTES = 128 * 1024 * 1024


@dataclass
class TaskRecord:
    """How one task went: status 'done', 'skipped' (whole from an earlier run), 'failed' or
    'not run' (the batch was interrupted first)."""

    task: Task
    status: str = "not run"
    attempts: int = 0
    time_s: float | None = None
    metrics: dict = field(default_factory=dict)
    error: str | None = None
    threads: int | None = None  # threads the task ran with


@dataclass
class BatchSummary:
    out: Path
    records: list[TaskRecord]
    workers: int
    threads: int
    address: str | None

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.records)

    @property
    def failed(self) -> list[TaskRecord]:
        return [r for r in self.records if r.status == "failed"]


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def _need_ray(why: str) -> None:
    if not ray_available():
        raise InputError(
            f"{why} needs Ray, which is not installed: pip install 'diffdepth[batch]' "
            "(or run with --workers 1, in this process)"
        )


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """Threads each of ``workers`` local workers runs so that workers x threads <= cores."""
    from diffdepth.threads import available_cores

    cores = available_cores() if cores is None else cores
    return max(1, cores // max(1, workers))


# ---- the output folder: lock, leftovers, results of earlier runs ---------------------------


@contextlib.contextmanager
def _locked(out: Path):
    """Hold ``OUT/.batch/lock`` so that two batches never write into one folder at once (the
    lock goes with the process, also when it is killed)."""
    state = out / STATE
    try:
        state.mkdir(parents=True, exist_ok=True)
        handle = open(state / "lock", "a+")
    except OSError as e:
        raise InputError(f"{out}: cannot write the output folder ({e.strerror or e})") from None
    try:
        try:
            import fcntl
        except ImportError:  # not on every platform: no lock there
            fcntl = None
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise InputError(
                    f"{out}: another batch is writing into this folder; wait for it or choose "
                    "another --out"
                ) from None
        yield
    finally:
        handle.close()


def _clear_leftovers(out: Path, log) -> None:
    """Remove staging folders of tasks an earlier, killed run left unfinished.  Run before the
    tasks and again after them: the Ray workers of a killed run outlive it for a moment and can
    stage a task while this run starts."""
    n = 0
    for sub in ("staging", "trash"):
        folder = out / STATE / sub
        if folder.is_dir():
            for p in folder.iterdir():
                shutil.rmtree(p, ignore_errors=True)
                n += sub == "staging"
    if n:
        log(f"{out}: removed {n} unfinished result(s) left by an interrupted run")


def _earlier_metrics(folder: Path) -> tuple[dict, float | None]:
    """Metrics and run time of a finished result, from its metrics.json and config.json."""
    metrics, seconds = {}, None
    with contextlib.suppress(OSError, ValueError, TypeError):
        data = json.loads((folder / "metrics.json").read_text())
        metrics = {k: v for k, v in data.items() if isinstance(v, (int, float))}
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        seconds = float(json.loads((folder / "config.json").read_text())["timings"]["total_s"])
    return metrics, seconds


def _triage(records, settings, out: Path, redo: bool, log) -> list[TaskRecord]:
    """Mark the tasks whose results are whole from an earlier run as skipped; return the rest.
    Refuses to touch a folder that is not a batch result, or (without ``redo``) results made
    with other settings."""
    pending, other_settings = [], []
    for rec in records:
        folder = out / rec.task.name
        if rec.task.error or not folder.exists():
            pending.append(rec)
            continue
        manifest = read_manifest(folder)
        if manifest is None and any(folder.iterdir()):
            raise InputError(
                f"{folder}: exists and is not a diffdepth result (no manifest.json); move it "
                "away or choose another --out"
            )
        problems = verify_manifest(folder) if manifest else ["empty"]
        if problems:
            log(f"{rec.task.name}: earlier result is not whole ({problems[0]}); running again")
            pending.append(rec)
            continue
        if manifest.get("extra", {}).get("fingerprint") != fingerprint(rec.task, settings):
            other_settings.append(rec.task.name)
            if redo:
                pending.append(rec)
            continue
        if redo:
            pending.append(rec)
            continue
        rec.status = "skipped"
        rec.metrics, rec.time_s = _earlier_metrics(folder)
    if other_settings and not redo:
        more = f" and {len(other_settings) - 1} more" if len(other_settings) > 1 else ""
        raise InputError(
            f"{out}: {other_settings[0]}{more} were made with other settings or scenes; use "
            "another --out, or --redo to replace them"
        )
    return pending


# ---- executors: in this process, or on Ray --------------------------------------------------


class _InProcess:
    """Runs each task when asked for the next outcome, one at a time."""

    def __init__(self, settings: TaskSettings, out: Path, scenes: dict):
        self.settings, self.out, self.scenes = settings, out, scenes
        self.queue: deque[Task] = deque()

    def submit(self, task: Task) -> None:
        self.queue.append(task)

    def busy(self) -> bool:
        return bool(self.queue)

    def next_done(self) -> tuple[Task, dict]:
        task = self.queue.popleft()
        scene = self.scenes.get(task.scene)
        return task, run_task(task, self.settings, str(self.out), scene)

    def close(self) -> None:
        pass


def _ray_task(task, settings, out_root, scene):
    if scene is not None:  # arrays from Ray's object store are read-only: a private copy
        scene = copy.deepcopy(scene)
    return run_task(task, settings, out_root, scene)


class _OnRay:
    """Submits tasks to Ray (a local instance started here, or the cluster at ``address``)."""

    def __init__(
        self,
        settings: TaskSettings,
        out: Path,
        scenes: dict,
        workers: int,
        address: str | None,
        log,
    ):
        import ray

        from diffdepth.threads import thread_env

        self.ray = ray
        self.settings, self.out = settings, out
        env = {"env_vars": thread_env(settings.threads)}
        t0 = time.perf_counter()
        if address:
            ray.init(address=address, runtime_env=env, log_to_driver=True, configure_logging=False)
            where = f"Ray cluster at {address}"
        else:
            ray.init(
                num_cpus=workers * settings.threads,
                object_store_memory=OBJECT_STORE_BYTES,
                include_dashboard=False,
                runtime_env=env,
                log_to_driver=True,
                configure_logging=False,
            )
            where = f"local Ray, {workers} worker(s)"
        log(f"{where} x {settings.threads} thread(s), ready in {time.perf_counter() - t0:.1f} s")
        self.remote = ray.remote(_ray_task).options(
            num_cpus=settings.threads, max_retries=0, retry_exceptions=False
        )
        self.scene_refs = {k: ray.put(v) for k, v in scenes.items()}
        self.running: dict = {}

    def submit(self, task: Task) -> None:
        scene = self.scene_refs.get(task.scene)
        ref = self.remote.remote(task, self.settings, str(self.out), scene)
        self.running[ref] = task

    def busy(self) -> bool:
        return bool(self.running)

    def next_done(self) -> tuple[Task, dict]:
        ray = self.ray
        (ref,), _ = ray.wait(list(self.running), num_returns=1)
        task = self.running.pop(ref)
        try:
            return task, ray.get(ref)
        except Exception as e:  # the worker died (killed, out of memory, crashed)
            first = f"{type(e).__name__}: {e}".splitlines()[0]
            return task, {
                "name": task.name,
                "status": "failed",
                "metrics": {},
                "error": first,
                "retry": True,
                "time_s": None,
            }

    def close(self) -> None:
        with contextlib.suppress(Exception):
            for ref in list(self.running):
                self.ray.cancel(ref, force=True)
        self.ray.shutdown()


# ---- the batch ------------------------------------------------------------------------------


def _log_failure(out: Path, task: Task, outcome: dict) -> None:
    tb = outcome.get("traceback")
    if not tb:
        return
    folder = out / STATE / "logs"
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / (task.name.replace("/", "__") + ".log")).write_text(tb)


def _describe(outcome: dict) -> str:
    m = outcome.get("metrics") or {}
    parts = [f"{outcome['time_s']:.1f} s"] if outcome.get("time_s") is not None else []
    for key in ("mse_x100", "badpix_0.07", "reprojection_error_lab"):
        if key in m:
            parts.append(f"{key} {m[key]:.3f}")
    return ", ".join(parts)


def _add_sparse_points(scenes: dict, records: list[TaskRecord], log, seed: int = 0) -> None:
    """Triangulate the sparse points of multi-view scenes that have none, once per scene
    (COLMAP seeded with ``seed``)."""
    for path, scene in list(scenes.items()):
        if scene.points3d is not None and len(scene.points3d):
            continue
        if not any(r.task.scene == path and r.status == "not run" for r in records):
            continue
        from diffdepth.points.colmap import sparse_points

        log(f"{scene.source}: no sparse points; matching and triangulating them (pycolmap)")
        try:
            scenes[path] = sparse_points(scene, seed=seed)
        except InputError as e:
            for r in records:
                if r.task.scene == path:
                    r.task = Task(r.task.name, r.task.kind, r.task.scene, r.task.image, str(e))


def run_batch(
    inputs: list[str],
    out: str | os.PathLike,
    lightfield=None,
    multiview=None,
    multiview_error: str | None = None,
    grid: tuple[int, int] | None = None,
    workers: int = 1,
    threads: int | None = None,
    address: str | None = None,
    retries: int = 1,
    redo: bool = False,
    progress: bool = True,
    log=print,
    warn=None,
) -> BatchSummary:
    """Run every task the inputs name (see diffdepth.batch.tasks) into ``out``.

    lightfield: LightFieldConfig of light-field tasks (default LightFieldConfig.default());
    multiview: MultiViewConfig of multi-view tasks (default MultiViewConfig.default());
    multiview_error: when set, the batch refuses multi-view scenes with this reason (options
    that are light-field only, say). workers: 1 runs the tasks one after the other in this
    process; more start a local Ray with that many workers, each with ``threads`` threads
    (default: the cores divided among the workers). address: an existing Ray cluster instead
    (each task asks it for ``threads`` CPUs, default 1). retries: how often a task that failed
    unexpectedly (not from bad input) is run again. redo: run finished tasks again too. log and
    warn: where messages and the lines of failed tasks go (warn defaults to log).
    """
    from diffdepth.config import LightFieldConfig, MultiViewConfig

    if workers < 1:
        raise InputError(f"--workers must be at least 1, not {workers}")
    if retries < 0:
        raise InputError(f"--retries must be 0 or more, not {retries}")
    if threads is not None and threads < 1:
        raise InputError(f"--threads must be at least 1, not {threads}")
    use_ray = workers > 1 or address is not None
    if use_ray:
        _need_ray("--address" if address else f"--workers {workers}")
    if threads is None:
        threads = 1 if address else threads_per_worker(workers)
    if not address and workers > 1:
        from diffdepth.threads import available_cores

        cores = available_cores()
        if workers * threads > cores:
            log(
                f"note: {workers} worker(s) x {threads} thread(s) is more than the {cores} "
                "core(s) this process may use; the tasks will share them"
            )
    lightfield = LightFieldConfig.default() if lightfield is None else lightfield
    multiview = MultiViewConfig.default() if multiview is None else multiview
    settings = TaskSettings(lightfield, multiview, grid, threads)

    tasks, scenes = plan_tasks([str(i) for i in inputs], log=log)
    if multiview_error and any(t.kind == "multiview" for t in tasks):
        first = next(t for t in tasks if t.kind == "multiview")
        raise InputError(f"{first.scene}: a multi-view scene; {multiview_error}")
    out = Path(out)
    records = [TaskRecord(t) for t in tasks]
    summary = BatchSummary(out, records, workers, threads, address)
    with _locked(out):
        _clear_leftovers(out, log)
        pending = _triage(records, settings, out, redo, log)
        skipped = len(records) - len(pending)
        log(
            f"{len(records)} task(s): {skipped} already done, {len(pending)} to run"
            + (f" on {workers} worker(s) x {threads} thread(s)" if pending else "")
        )
        write_index(summary)
        if not pending:
            return summary
        _add_sparse_points(scenes, records, log, multiview.seed)
        _execute(
            summary,
            pending,
            settings,
            scenes,
            workers,
            address,
            retries,
            progress,
            log,
            warn or log,
        )
        _clear_leftovers(out, log)  # every task of this run is finished: nothing of ours is left
    return summary


def _execute(summary, pending, settings, scenes, workers, address, retries, progress, log, warn):
    from tqdm import tqdm

    out = summary.out
    by_name = {r.task.name: r for r in pending}
    executor = (
        _OnRay(settings, out, scenes, workers, address, log)
        if workers > 1 or address
        else _InProcess(settings, out, scenes)
    )
    bar = tqdm(total=len(pending), unit="task", disable=not progress, dynamic_ncols=True)
    say = tqdm.write if progress else log
    alarm = tqdm.write if progress else warn
    try:
        for rec in pending:
            executor.submit(by_name[rec.task.name].task)
        while executor.busy():
            task, outcome = executor.next_done()
            rec = by_name[task.name]
            rec.attempts += 1
            if outcome["status"] != "done" and outcome.get("retry") and rec.attempts <= retries:
                alarm(f"{task.name}: failed ({outcome['error']}); trying again")
                executor.submit(rec.task)
                continue
            rec.status = outcome["status"]
            rec.time_s, rec.metrics, rec.error = outcome.get("time_s"), outcome["metrics"], None
            rec.threads = outcome.get("threads")
            if rec.status == "done":
                record_finished(out / task.name)
                say(f"{task.name}: done, {_describe(outcome)}")
            else:
                rec.error = outcome["error"]
                _log_failure(out, task, outcome)
                alarm(f"{task.name}: FAILED: {rec.error}")
            bar.update(1)
            bar.set_postfix(failed=summary.count("failed"), refresh=False)
            write_index(summary)
    finally:
        bar.close()
        executor.close()
        write_index(summary)
    return summary
