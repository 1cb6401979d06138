"""The index of a batch: ``summary.csv`` and ``index.html`` beside the task folders.

One row per task: its name, kind, scene, status (done / skipped / failed / not run), attempts,
time and metrics, and the error of a failed task. Both files are written atomically, so a
reader never sees half of one.
"""

from __future__ import annotations

import csv
import html
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
_PICTURE = {"lightfield": "disparity.png", "multiview": "depth.png"}


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


def _html(summary, header: list[str], rows: list[list[str]]) -> str:
    counts = ", ".join(
        f"{summary.count(s)} {s}"
        for s in ("done", "skipped", "failed", "not run")
        if summary.count(s)
    )
    where = (
        f"Ray cluster {summary.address}"
        if summary.address
        else (f"{summary.workers} worker(s)" if summary.workers > 1 else "in one process")
    )
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ["map", *header])
    body = []
    for rec, row in zip(summary.records, rows):
        name = html.escape(rec.task.name)
        pic = _PICTURE.get(rec.task.kind)
        if rec.status in ("done", "skipped") and pic:
            thumb = f'<a href="{name}/"><img src="{name}/{pic}" alt="{name}" loading="lazy"></a>'
        else:
            thumb = ""
        cells = [f"<td>{thumb}</td>"]
        for h, value in zip(header, row):
            text = html.escape(value)
            if h == "task" and rec.status in ("done", "skipped"):
                text = f'<a href="{name}/">{text}</a>'
            cls = f' class="{html.escape(rec.status.replace(" ", "-"))}"' if h == "status" else ""
            cells.append(f"<td{cls}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>diffdepth batch</title>\n'
        "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 6px;font-size:90%;vertical-align:middle}"
        "img{height:64px}.failed{color:#b00;font-weight:bold}.done{color:#070}"
        ".skipped{color:#555}</style></head><body>\n"
        f"<h1>diffdepth batch</h1>\n<p>{len(summary.records)} task(s): {html.escape(counts)}; "
        f"{html.escape(where)}, {summary.threads} thread(s) each. "
        '<a href="summary.csv">summary.csv</a></p>\n'
        f"<table><tr>{head}</tr>\n" + "\n".join(body) + "\n</table>\n</body></html>\n"
    )


def write_index(summary) -> None:
    """Write summary.csv and index.html into the batch's output folder."""
    header, rows = summary_rows(summary.records)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    save_text_atomic(summary.out / "summary.csv", buf.getvalue())
    save_text_atomic(summary.out / "index.html", _html(summary, header, rows))
