"""Batches: many scenes (or every image of a multi-view set), each a task with its own whole
or absent result folder, run in this process or on Ray, resumable, with an index.

    from diffdepth.batch import run_batch
    summary = run_batch(["scenes/"], "results/", workers=2)
"""

from diffdepth.batch.runner import BatchSummary, TaskRecord, run_batch, threads_per_worker
from diffdepth.batch.tasks import Task, plan_tasks

__all__ = ["BatchSummary", "Task", "TaskRecord", "plan_tasks", "run_batch", "threads_per_worker"]
