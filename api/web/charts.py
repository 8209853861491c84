"""Server-rendered horizontal bar charts as inline SVG (no script, no CDN; readable at phone width).

Horizontal bars because the labels are long Chinese names (38 districts): they read left to right
without rotation. The SVG scales to its container (``viewBox``, width 100%).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

ROW = 26
LABEL_W = 112
BAR_W = 220
VALUE_W = 68


def number(value: float) -> str:
    """A count with thousands separators; an amount in 万 when large."""
    if abs(value) >= 1e6:
        return f"{value / 1e4:,.0f}万"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def bar_chart(rows: Sequence[tuple[str, float]], *, title: str, empty: str, other: str = "其他", limit: int = 12
              ) -> Markup:
    """A titled chart of ``(label, value)`` rows, largest first, at most ``limit`` bars (the rest summed).

    Rows with value 0 are left out; with none left the chart is the ``empty`` text.
    """
    shown = sorted(((label, v) for label, v in rows if v), key=lambda r: -r[1])
    grouped = len(shown) > limit
    if grouped:
        rest = sum(v for _, v in shown[limit - 1:])
        shown = [*shown[:limit - 1], (f"{other} ({len(shown) - limit + 1})", rest)]
    if not shown:
        return Markup(f'<figure class="chart"><figcaption>{escape(title)}</figcaption>'
                      f'<p class="empty">{escape(empty)}</p></figure>')
    top = max(v for _, v in shown)
    height = ROW * len(shown) + 8
    width = LABEL_W + BAR_W + VALUE_W
    parts = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(title)}" '
             f'preserveAspectRatio="xMinYMin meet">']
    for i, (label, value) in enumerate(shown):
        y = 4 + i * ROW
        bar = "bar other" if grouped and i == len(shown) - 1 else "bar"
        w = max(2.0, BAR_W * value / top)
        short = label if len(label) <= 8 else label[:7] + "…"
        parts.append(f'<text x="{LABEL_W - 8}" y="{y + 17}" text-anchor="end" class="lbl">'
                     f'<title>{escape(label)}</title>{escape(short)}</text>'
                     f'<rect x="{LABEL_W}" y="{y + 4}" width="{w:.1f}" height="{ROW - 8}" rx="3" class="{bar}"/>'
                     f'<text x="{LABEL_W + w + 6:.1f}" y="{y + 17}" class="val">{escape(number(value))}</text>')
    parts.append("</svg>")
    return Markup(f'<figure class="chart"><figcaption>{escape(title)}</figcaption>{"".join(parts)}</figure>')
