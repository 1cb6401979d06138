"""The index of a batch: ``summary.csv`` and ``index.html`` beside the task folders.

summary.csv has one row per task: its name, kind, scene, status (done / skipped / failed /
not run), attempts, time, threads and metrics, and the error of a failed task. index.html is
the report's page over many result folders (diffdepth.report.write_index): a card per result
with its map, figures and a link to its report, and the failed tasks with their messages.
Both are written atomically, so a reader never sees half of one.
"""

from __future__ import annotations

import csv
import io

from diffdepth.io.atomic import save_text_atomic

#: metric columns in this order first (the HCI figures, then multi-view), others after
_FIRST = [
    "mse_x100",
    "badpix_0.07",
    "badpix_0.03",
    "badpix_0.01",
    "q25_x100",
    "reprojection_error_lab",
    "plain_reprojection_error_lab",
    "points",
    "points_initial",
]
_BASE = ["task", "kind", "scene", "image", "status", "attempts", "time_s", "threads", "error"]


def metric_columns(records) -> list[str]:
    keys = {k for r in records for k in r.metrics}
    return [k for k in _FIRST if k in keys] + sorted(keys - set(_FIRST))


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def summary_rows(records) -> tuple[list[str], list[list[str]]]:
    """Header and rows of summary.csv."""
    metrics = metric_columns(records)
    rows = []
    for r in records:
        t = r.task
        row = [t.name, t.kind, t.scene, t.image, r.status, r.attempts, r.time_s, r.threads, r.error]
        rows.append([_cell(v) for v in row] + [_cell(r.metrics.get(k)) for k in metrics])
    return _BASE + metrics, rows


def write_index(summary) -> None:
    """Write summary.csv and index.html into the batch's output folder."""
    from diffdepth.report import write_index as write_index_html

    header, rows = summary_rows(summary.records)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    save_text_atomic(summary.out / "summary.csv", buf.getvalue())
    results = [r.task.name for r in summary.records if r.status in ("done", "skipped")]
    failures = {r.task.name: r.error or "" for r in summary.records if r.status == "failed"}
    counts = ", ".join(
        f"{summary.count(s)} {s}"
        for s in ("done", "skipped", "failed", "not run")
        if summary.count(s)
    )
    title = f"diffdepth batch: {len(summary.records)} task(s), {counts}"
    write_index_html(summary.out, results, failures, title)
