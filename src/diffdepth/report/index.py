"""index.html over many result folders (every image of ``run --all``, the tasks of a batch):
one card per result with its map, its key figures and a link to its report; failed tasks with
their message."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from urllib.parse import quote

from diffdepth.io.atomic import save_text_atomic
from diffdepth.report import html
from diffdepth.report.folder import KINDS, result_kind
from diffdepth.report.page import METRIC_NAMES, REPORT_NAME

INDEX_NAME = "index.html"
_CARD_METRICS = ("badpix_0.07", "mse_x100", "reprojection_error_lab")


def _json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _card(out_dir: Path, folder: Path) -> tuple[str, dict]:
    """The card of one result folder and its figures (for the page's summary line)."""
    rel = folder.relative_to(out_dir).as_posix()
    kind = result_kind(folder)
    quantity = KINDS[kind][0] if kind else "map"
    metrics = _json(folder / "metrics.json")
    config = _json(folder / "config.json")
    figures = {k: metrics[k] for k in _CARD_METRICS if isinstance(metrics.get(k), (int, float))}
    lines = []
    for k, v in figures.items():
        text = f"{escape(METRIC_NAMES.get(k, k))}: {html.fmt_value(v)}"
        if isinstance(metrics.get(f"plain_{k}"), (int, float)):
            text += f" (plain {html.fmt_value(metrics[f'plain_{k}'])})"
        lines.append(f"<p>{text}</p>")
    total = config.get("timings", {}).get("total_s")
    if isinstance(total, (int, float)):
        lines.append(f"<p>{total:.1f} s</p>")
    title = str(config.get("reference") or folder.name)
    link = f"{quote(rel)}/{REPORT_NAME}"
    picture = ""
    if (folder / f"{quantity}.png").is_file():
        src = f"{quote(rel)}/{quantity}.png"
        picture = f'<a href="{link}"><img class="map" src="{src}" alt="{escape(title)}"></a>'
    has_report = (folder / REPORT_NAME).is_file()
    name = f'<a href="{link}">{escape(title)}</a>' if has_report else escape(title)
    card = f'<div class="card">{picture}<h3>{name}</h3><p>{escape(rel)}</p>{"".join(lines)}</div>'
    return card, figures


def write_index(
    out_dir: str | Path,
    folders: list[str | Path] | None = None,
    failures: dict[str, str] | None = None,
    title: str | None = None,
) -> Path:
    """Write ``out_dir/index.html`` over result folders (default: every folder under
    ``out_dir`` that holds a result, in name order). failures: {task name: message} of tasks
    that left no result, listed with their message. Returns the path of index.html."""
    out_dir = Path(out_dir)
    if folders is None:
        folders = sorted(p for p in out_dir.iterdir() if p.is_dir() and result_kind(p))
    cards, sums = [], {}
    for f in folders:
        card, figures = _card(out_dir, out_dir / f)
        cards.append(card)
        for k, v in figures.items():
            sums.setdefault(k, []).append(float(v))
    for name, message in (failures or {}).items():
        cards.append(
            f'<div class="card failed"><h3>{escape(name)}</h3>'
            f"<p>failed: {escape(message)}</p></div>"
        )
    title = title or f"diffdepth: results in {out_dir.name or out_dir}"
    n_failed = len(failures or {})
    sub = f"{len(folders)} results" + (f", {n_failed} failed" if n_failed else "")
    means = "".join(
        f"<li>{escape(METRIC_NAMES.get(k, k))} (mean)<b>{sum(v) / len(v):.4g}</b></li>"
        for k, v in sums.items()
    )
    body = (
        f"<header><h1>{escape(title)}</h1><p class='sub'>{escape(sub)}</p>"
        f'<ul class="headline">{means}</ul></header>'
        f'<section><div class="cards">{"".join(cards)}</div></section>'
    )
    path = out_dir / INDEX_NAME
    save_text_atomic(path, html.page(title, body))
    return path
