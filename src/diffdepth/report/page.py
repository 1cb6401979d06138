"""report.html of one result folder (and its summary.png)."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from urllib.parse import quote

from diffdepth.io.atomic import save_text_atomic
from diffdepth.report import html
from diffdepth.report.folder import ResultFolder, read_result_folder
from diffdepth.report.panels import PanelGroup, panel_groups
from diffdepth.report.summary import write_summary_png

REPORT_NAME = "report.html"
SUMMARY_NAME = "summary.png"

METRIC_NAMES = {
    "mse_x100": "MSE \u00d7 100",
    "mae": "mean absolute error",
    "q25_x100": "Q25 \u00d7 100",
    "badpix_0.01": "BadPix 0.01 (%)",
    "badpix_0.03": "BadPix 0.03 (%)",
    "badpix_0.07": "BadPix 0.07 (%)",
    "pixels": "scored pixels",
    "nonfinite_estimates": "non-finite estimates",
    "nonfinite_error": "error counted per non-finite estimate (px)",
    "reprojection_error_lab": "re-projection error (Lab)",
    "points_initial": "initial points",
    "points_final": "final points",
    "scale_fitted.scale": "fitted scale",
    "scale_fitted.mse": "MSE after the scale fit",
    "scale_fitted.mae": "MAE after the scale fit",
    "scale_fitted.q25": "Q25 after the scale fit",
}


def flatten(d: dict, prefix: str = "") -> dict:
    """Nested dicts as one level with dotted keys."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def metric_rows(metrics: dict) -> list[tuple[str, object, object]]:
    """(key, result value, plain-diffusion value or None): a key ``plain_<k>`` is the plain
    diffusion's value of ``<k>``."""
    flat = flatten(metrics)
    rows = []
    for k, v in flat.items():
        if k.startswith("plain_") and k[len("plain_") :] in flat:
            continue
        rows.append((k, v, flat.get(f"plain_{k}")))
    return rows


def _headline(res: ResultFolder) -> list[tuple[str, str]]:
    m = res.metrics
    items = []
    for key in ("badpix_0.07", "mse_x100", "reprojection_error_lab"):
        if key in m:
            text = html.fmt_value(m[key])
            if f"plain_{key}" in m:
                text += f" <small>(plain {html.fmt_value(m[f'plain_{key}'])})</small>"
            items.append((METRIC_NAMES.get(key, key), text))
    sf = m.get("scale_fitted")
    if isinstance(sf, dict) and "mse" in sf:
        items.append((METRIC_NAMES["scale_fitted.mse"], html.fmt_value(sf["mse"])))
    total = res.config.get("timings", {}).get("total_s")
    if isinstance(total, (int, float)):
        items.append(("run time", f"{total:.1f} s"))
    if res.points_xy is not None:
        items.append(("initial points", f"{len(res.points_xy):,}"))
    return items


def _timing_name(key: str) -> str:
    if key == "peak_rss_mib":
        return "peak memory (MiB)"
    return f"{key[:-2].replace('_', ' ')} (s)" if key.endswith("_s") else key


def _group_html(g: PanelGroup) -> str:
    figs = []
    for p in g.panels:
        fmt = "PNG" if p.is_map else "JPEG"
        src = html.data_uri(html.shrink(p.rgb), fmt)
        figs.append(html.figure(src, escape(p.title), f"{g.title}: {p.title}", p.is_map))
    parts = [f"<h2>{escape(g.title)}</h2>", f'<div class="panels">{"".join(figs)}</div>']
    if g.scale is not None:
        s = g.scale
        parts.append(html.colorbar(s.lo, s.hi, s.cmap, s.label))
    if g.legend:
        parts.append(html.legend(g.legend))
    if g.note:
        parts.append(f'<p class="sub">{escape(g.note)}</p>')
    return "<section>" + "".join(parts) + "</section>"


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f'<td class="num">{c}</td>' for c in r) + "</tr>" for r in rows)
    return f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>'


def report_html(res: ResultFolder, groups: list[PanelGroup], files: list[str]) -> str:
    """The page of one result (everything embedded but the links to the result's files)."""
    h, w = res.result.shape
    kind = "light field" if res.kind == "lightfield" else "multi-view"
    versions = res.config.get("versions", {})
    sub = f"{kind} \u00b7 {res.quantity} map {w} \u00d7 {h} px"
    if "diffdepth" in versions:
        sub += f" \u00b7 diffdepth {escape(str(versions['diffdepth']))}"
    body = [f"<header><h1>{escape(res.title)}</h1><p class='sub'>{sub}</p>"]
    items = "".join(f"<li>{escape(k)}<b>{v}</b></li>" for k, v in _headline(res))
    body.append(f'<ul class="headline">{items}</ul></header>')
    body += [_group_html(g) for g in groups]

    if res.loss is not None and (res.path / "loss.png").is_file():
        src = html.file_data_uri((res.path / "loss.png").read_bytes())
        caption = "loss per iteration, phases shaded by the parameter group they optimise"
        body.append(
            "<section><h2>loss</h2>"
            f'<figure style="max-width:720px">{html.figure(src, caption, "loss curve", False)}'
            "</figure></section>"
        )

    rows = metric_rows(res.metrics)
    if rows:
        has_plain = any(p is not None for _, _, p in rows)
        header = ["metric", "result"] + (["plain diffusion"] if has_plain else [])
        cells = []
        for k, v, p in rows:
            row = [escape(METRIC_NAMES.get(k, k)), html.fmt_value(v)]
            if has_plain:
                row.append("" if p is None else html.fmt_value(p))
            cells.append(row)
        body.append(f"<section><h2>metrics</h2>{_table(header, cells)}</section>")

    run = []
    timings = res.config.get("timings", {})
    if timings:
        cells = [[escape(_timing_name(k)), html.fmt_value(v)] for k, v in timings.items()]
        run.append(_table(["time and memory", ""], cells))
    if versions:
        cells = [[escape(k), escape(str(v))] for k, v in versions.items()]
        run.append(_table(["software", "version"], cells))
    if res.config:
        text = escape(json.dumps(res.config, indent=2, default=str))
        run.append(f"<details><summary>config.json</summary><pre>{text}</pre></details>")
    if run:
        body.append("<section><h2>run</h2>" + "".join(run) + "</section>")

    links = "".join(f'<li><a href="{quote(f)}">{escape(f)}</a></li>' for f in files)
    body.append(f"<section><h2>files</h2><ul>{links}</ul></section>")
    body.append("<footer>diffdepth report: all pictures are embedded in this page.</footer>")
    return html.page(f"diffdepth: {res.title}", "\n".join(body))


def write_report(folder: str | Path) -> Path:
    """Write report.html and summary.png into a result folder, from the files it holds.
    Returns the path of report.html."""
    folder = Path(folder)
    res = read_result_folder(folder)
    groups = panel_groups(res)
    write_summary_png(res, groups, folder / SUMMARY_NAME)
    names = {p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}
    files = sorted(names | {REPORT_NAME, SUMMARY_NAME})
    path = folder / REPORT_NAME
    save_text_atomic(path, report_html(res, groups, files))
    return path
