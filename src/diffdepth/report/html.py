"""Pieces of the report pages: the page frame and its style sheet, embedded pictures, colour
bars drawn in CSS. The pages use no script and load nothing from the network."""

from __future__ import annotations

import base64
import io
import math
from html import escape

import matplotlib
import numpy as np
from PIL import Image

PANEL_MAX_SIDE = 720  # px: larger pictures are shrunk before they are embedded

CSS = """
:root { --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg2: #f6f8fa; --accent: #0b5cad; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 16px; }
h1 { font-size: 1.5em; margin: 0.2em 0; overflow-wrap: anywhere; }
h2 { font-size: 1.15em; margin: 1.4em 0 0.5em; border-bottom: 1px solid var(--line); }
a { color: var(--accent); }
.sub { color: var(--muted); margin: 0 0 0.6em; overflow-wrap: anywhere; }
.headline { display: flex; flex-wrap: wrap; gap: 8px; margin: 10px 0; padding: 0; }
.headline li { list-style: none; background: var(--bg2); border: 1px solid var(--line);
  border-radius: 6px; padding: 6px 10px; }
.headline b { display: block; font-size: 1.2em; }
.panels { display: grid; gap: 12px;
  grid-template-columns: repeat(auto-fill, minmax(min(100%, 200px), 1fr)); }
figure { margin: 0; min-width: 0; }
figure img { display: block; width: 100%; height: auto; border: 1px solid var(--line); }
img.map { image-rendering: pixelated; }
figcaption { font-size: 13px; color: var(--muted); margin-top: 3px; }
.cbar { max-width: 520px; margin: 12px 18px 6px; }
.cbar .grad { height: 14px; border: 1px solid #777; }
.cbar .ticks { position: relative; height: 18px; font-size: 12px; }
.cbar .ticks span { position: absolute; top: 1px; transform: translateX(-50%);
  white-space: nowrap; }
.cbar .label { font-size: 13px; color: var(--muted); text-align: center; }
.legend { display: flex; flex-wrap: wrap; gap: 14px; font-size: 13px; margin: 10px 0; }
.legend i { display: inline-block; width: 12px; height: 12px; border: 1px solid #555;
  vertical-align: -1px; margin-right: 5px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 14px; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.num { font-variant-numeric: tabular-nums; }
pre { background: var(--bg2); padding: 8px; overflow-x: auto; font-size: 12px; }
.cards { display: grid; gap: 14px;
  grid-template-columns: repeat(auto-fill, minmax(min(100%, 260px), 1fr)); }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px; min-width: 0; }
.card img { display: block; width: 100%; height: auto; }
.card h3 { font-size: 1em; margin: 6px 0 2px; overflow-wrap: anywhere; }
.card p { margin: 2px 0; font-size: 13px; color: var(--muted); }
.failed { border-color: #cf222e; background: #fff5f5; }
footer { color: var(--muted); font-size: 12px; margin: 2em 0 1em; }
@media (max-width: 600px) {
  body { font-size: 14px; } main { padding: 10px; }
  .panels { grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 8px; }
}
"""


def page(title: str, body: str) -> str:
    """A whole HTML document around ``body`` (already HTML)."""
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def shrink(rgb: np.ndarray, max_side: int = PANEL_MAX_SIDE) -> np.ndarray:
    """rgb uint8 [H, W, 3] reduced (area average) so that its longer side is <= max_side."""
    h, w = rgb.shape[:2]
    k = math.ceil(max(h, w) / max_side)
    if k <= 1:
        return rgb
    img = Image.fromarray(rgb).resize((max(1, w // k), max(1, h // k)), Image.Resampling.BOX)
    return np.asarray(img)


def data_uri(rgb: np.ndarray, fmt: str = "PNG") -> str:
    """The picture as a data: URI (PNG, or JPEG for photographs)."""
    buf = io.BytesIO()
    # PNG at the default level: the optimiser's search costs 5x the time for 6 % of the size
    kwargs = {"quality": 90} if fmt == "JPEG" else {}
    Image.fromarray(rgb).save(buf, format=fmt, **kwargs)
    mime = "image/png" if fmt == "PNG" else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"


def file_data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def figure(src: str, caption: str, alt: str, is_map: bool = True) -> str:
    cls = ' class="map"' if is_map else ""
    return (
        f'<figure><img{cls} src="{escape(src)}" alt="{escape(alt)}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    """Round tick values inside [lo, hi]."""
    from matplotlib.ticker import MaxNLocator

    vals = MaxNLocator(nbins=n).tick_values(lo, hi)
    span = hi - lo
    return [float(v) for v in vals if lo - 1e-9 * span <= v <= hi + 1e-9 * span]


def _tick_text(v: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 2
    if step > 0 and abs(step / 10**-decimals - round(step / 10**-decimals)) > 1e-6:
        decimals += 1  # steps of 2.5 x 10^k
    text = f"{v:.{decimals}f}"
    return "0" if float(text) == 0 else text.replace("-", "\u2212")


def colorbar(lo: float, hi: float, cmap: str, label: str, note: str = "") -> str:
    """A horizontal colour bar in HTML: a CSS gradient of ``cmap`` over [lo, hi], tick labels,
    and the quantity with its unit."""
    cm = matplotlib.colormaps[cmap]
    stops = ", ".join(
        f"rgb({r * 255:.0f},{g * 255:.0f},{b * 255:.0f}) {100 * t:.0f}%"
        for t in np.linspace(0, 1, 17)
        for r, g, b, _ in [cm(t)]
    )
    vals = ticks(lo, hi)
    step = vals[1] - vals[0] if len(vals) > 1 else abs(hi - lo)
    spans = "".join(
        f'<span style="left:{100 * (v - lo) / (hi - lo):.2f}%">{_tick_text(v, step)}</span>'
        for v in vals
    )
    extra = f" {escape(note)}" if note else ""
    return (
        f'<div class="cbar" role="img" aria-label="{escape(label)} from {lo:.4g} to {hi:.4g}">'
        f'<div class="grad" style="background: linear-gradient(to right, {stops})"></div>'
        f'<div class="ticks">{spans}</div><div class="label">{escape(label)}{extra}</div></div>'
    )


def legend(entries: list[tuple[tuple[float, float, float], str]]) -> str:
    items = "".join(
        f'<span><i style="background: rgb({r * 255:.0f},{g * 255:.0f},{b * 255:.0f})"></i>'
        f"{escape(text)}</span>"
        for (r, g, b), text in entries
    )
    return f'<div class="legend">{items}</div>'


def fmt_value(v) -> str:
    """A metric for a table cell."""
    if isinstance(v, bool) or v is None:
        return escape(str(v))
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if not math.isfinite(v):
            return escape(str(v))
        return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3e}"
    return escape(str(v))
