"""Inline SVG bar charts for the HTML report: no script, no external asset, labels legible.

Labels are never drawn on top of each other: a value is written above its bar only when it
fits the bar's slot, day labels are thinned to one every few bars when the days are many, and
categories with long names (decline codes) get a horizontal chart with the names in a column
of their own. Every bar also carries a ``<title>`` (the browser's tooltip) with label and value.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence

__all__ = ["FONT_PX", "bar_chart", "hbar_chart", "text_width"]

#: Chart text size (px); the report's CSS sets the same.
FONT_PX = 12


def text_width(text: str, font_px: int = FONT_PX) -> float:
    """A generous estimate of the width of ``text`` in the report's sans-serif font."""
    return len(text) * font_px * 0.62


def _no_data(title: str, width: int) -> str:
    return (
        f'<svg width="{width}" height="60" role="img" aria-label="{title}">'
        f'<text x="0" y="16" font-weight="bold">{title}</text>'
        f'<text x="0" y="42">no data</text></svg>'
    )


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
    width: int = 600,
    height: int = 240,
    max_value: float | None = None,
) -> str:
    """A labelled vertical bar chart as inline SVG."""
    title_e = html.escape(title)
    if not labels:
        return _no_data(title_e, width)
    top, bottom, left = 28, 24, 8
    plot_h = height - top - bottom
    n = len(labels)
    slot = (width - left * 2) / n
    bar_w = max(2.0, slot * 0.7)
    peak = max_value if max_value is not None else max(max(values), 0) or 1
    widest = max(text_width(str(label)) for label in labels) + 8
    step = max(1, math.ceil(widest / slot))
    parts = [
        f'<svg width="{width}" height="{height}" role="img" aria-label="{title_e}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="16" font-weight="bold">{title_e}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - left}" y2="{top + plot_h}" '
        f'stroke="#9fb3c8"/>',
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = 0.0 if peak <= 0 else plot_h * max(value, 0) / peak
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h - h
        shown = fmt(value)
        tip = html.escape(f"{label}: {shown}")
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
            f'fill="#2f80ed"><title>{tip}</title></rect>'
        )
        if text_width(shown) <= slot - 2:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{max(y - 4, top + 10):.1f}" '
                f'text-anchor="middle">{html.escape(shown)}</text>'
            )
        if i % step == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 16}" '
                f'text-anchor="middle">{html.escape(str(label))}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def hbar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
    width: int = 600,
    row_h: int = 22,
) -> str:
    """A horizontal bar chart: one row per label, the label left of its bar, the value after."""
    title_e = html.escape(title)
    if not labels:
        return _no_data(title_e, width)
    top = 28
    label_w = min(max(text_width(str(label)) for label in labels) + 10, width * 0.45)
    value_w = max(text_width(fmt(v)) for v in values) + 8
    plot_w = max(40.0, width - label_w - value_w)
    peak = max(max(values), 0) or 1
    height = top + row_h * len(labels) + 6
    parts = [
        f'<svg width="{width}" height="{height}" role="img" aria-label="{title_e}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="16" font-weight="bold">{title_e}</text>',
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + i * row_h
        w = plot_w * max(value, 0) / peak
        shown = fmt(value)
        parts.append(
            f'<text x="{label_w - 6:.1f}" y="{y + row_h * 0.68:.1f}" text-anchor="end">'
            f"{html.escape(str(label))}</text>"
            f'<rect x="{label_w:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
            f'fill="#2f80ed"><title>{html.escape(f"{label}: {shown}")}</title></rect>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + row_h * 0.68:.1f}">'
            f"{html.escape(shown)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
