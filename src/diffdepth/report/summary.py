"""summary.png: the report's pictures on one figure, each group of maps with its one scale."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import numpy as np

from diffdepth.io.atomic import atomic_write
from diffdepth.report.folder import ResultFolder
from diffdepth.report.panels import PanelGroup

matplotlib.use("Agg")

MAX_COLUMNS = 5  # a group with more panels takes more rows (and repeats its scale)
PANEL_INCHES = 3.0


def summary_figure(res: ResultFolder, groups: list[PanelGroup]):
    """A matplotlib figure: one row (or more) per panel group with its colour bar or legend,
    the loss curve last."""
    import matplotlib.pyplot as plt

    h, w = res.result.shape
    columns = min(MAX_COLUMNS, max(len(g.panels) for g in groups))
    rows = []  # (group, panels of this row)
    for g in groups:
        for start in range(0, len(g.panels), columns):
            rows.append((g, g.panels[start : start + columns]))
    n_rows = len(rows) + (1 if res.loss is not None else 0)
    panel_h = PANEL_INCHES * min(h / w, 1.5)
    heights = [panel_h] * len(rows) + ([2.2] if res.loss is not None else [])
    fig = plt.figure(
        figsize=(columns * PANEL_INCHES + 1.4, sum(heights) + 0.45 * n_rows + 0.6),
        dpi=100,
        layout="constrained",
    )
    fig.suptitle(res.title, fontsize=12)
    # one sub-figure per row, so that one row's colour bar does not push another row's panels
    subs = np.atleast_1d(fig.subfigures(n_rows, 1, height_ratios=heights))
    for sub, (group, panels) in zip(subs, rows):
        axes = sub.subplots(1, columns, squeeze=False)[0]
        for ax in axes[len(panels) :]:
            ax.set_visible(False)
        used = list(axes[: len(panels)])
        for ax, p in zip(used, panels):
            ax.imshow(p.rgb, interpolation="nearest")
            ax.set_title(p.title, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        if group.scale is not None:
            s = group.scale
            sm = matplotlib.cm.ScalarMappable(
                norm=matplotlib.colors.Normalize(s.lo, s.hi), cmap=matplotlib.colormaps[s.cmap]
            )
            bar = sub.colorbar(sm, ax=used, shrink=0.9, extend="both", pad=0.01)
            bar.set_label(s.label, fontsize=8)
            bar.ax.tick_params(labelsize=7)
        elif group.legend:
            handles = [
                matplotlib.patches.Patch(facecolor=c, edgecolor="k", label=t)
                for c, t in group.legend
            ]
            used[-1].legend(handles=handles, loc="upper right", fontsize=7, framealpha=0.9)
    if res.loss is not None:
        ax = subs[-1].subplots()
        loss = res.loss["loss"]
        ax.plot(np.arange(1, len(loss) + 1), loss, lw=1, color="k")
        ax.set_xlabel("iteration", fontsize=8)
        ax.set_ylabel("loss", fontsize=8)
        ax.set_title("loss", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    return fig


def write_summary_png(res: ResultFolder, groups: list[PanelGroup], path: str | Path) -> None:
    import matplotlib.pyplot as plt

    fig = summary_figure(res, groups)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    with atomic_write(path) as f:
        f.write(buf.getvalue())
