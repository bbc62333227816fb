"""Charts as server-rendered SVG, inline in the page: no script, no image requests, and
allowed by the pages' Content-Security-Policy (no style attributes: colours are SVG
presentation attributes). Every label is escaped here. Pure.

Sizes are in the viewBox's units; the SVG scales to the width of its container (the
page's CSS: ``width:100%; height:auto``), so it never makes a phone scroll sideways."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

# About a phone's width in CSS pixels, so that text is readable there at scale ~0.85.
WIDTH: Final = 420
HEIGHT: Final = 220
LEFT, RIGHT, TOP, BOTTOM = 34, 16, 12, 28  # room for the axis and the last label
FONT: Final = 15
MUTED: Final = "#4a5561"
GRID: Final = "#d5dbe1"


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    colour: str


@dataclass(frozen=True)
class Column:
    label: str  # under the bar, e.g. "W11"
    title: str  # its full name, e.g. "2026-W11 (from 9 March)"
    values: Mapping[str, int]


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, ... at least ``value``: a round
    axis end that leaves little empty space above the highest bar."""
    if value <= 1:
        return 1
    power = int(10 ** (len(str(value)) - 1))  # exact for ints, unlike log10
    for step in (1, 2, 3, 4, 5, 6, 8):
        if step * power >= value:
            return step * power
    return 10 * power


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def stacked_bars(
    columns: Sequence[Column],
    series: Sequence[Series],
    *,
    title: str,
    description: str,
    svg_id: str = "chart",
) -> str:
    """Bars stacked by ``series``, one per column, with a y axis at 0, the middle and
    the top. Every ``step``-th column is labelled, counted back from the last, so that
    the latest is always named and labels never overlap, however many weeks there are."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = nice_ceiling(max((sum(c.values.values()) for c in columns), default=0))
    slot = plot_w / max(len(columns), 1)
    bar = max(slot * 0.72, 1.0)
    step = max(1, math.ceil(len(columns) * 48 / plot_w))  # ~48 units per label
    parts = [
        f'<svg class="chart" id="{_e(svg_id)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{_e(svg_id)}-title {_e(svg_id)}-desc" '
        f'font-family="system-ui, sans-serif" font-size="{FONT}">',
        f'<title id="{_e(svg_id)}-title">{_e(title)}</title>',
        f'<desc id="{_e(svg_id)}-desc">{_e(description)}</desc>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        y = TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_fmt(y)}" y2="{_fmt(y)}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        if (top * fraction) % 1:
            continue  # no half counts on the axis
        parts.append(
            f'<text x="{LEFT - 5}" y="{_fmt(y + FONT * 0.35)}" text-anchor="end" '
            f'fill="{MUTED}">{_fmt(top * fraction)}</text>'
        )
    for index, column in enumerate(columns):
        x = LEFT + slot * index + (slot - bar) / 2
        base = float(TOP + plot_h)
        for item in series:
            count = column.values.get(item.key, 0)
            if count <= 0:
                continue
            height = plot_h * count / top
            base -= height
            parts.append(
                f'<rect x="{_fmt(x)}" y="{_fmt(base)}" width="{_fmt(bar)}" '
                f'height="{_fmt(height)}" fill="{_e(item.colour)}">'
                f"<title>{_e(column.title)}: {count} {_e(item.label)}</title></rect>"
            )
        if (len(columns) - 1 - index) % step == 0:  # counted back from the latest
            parts.append(
                f'<text x="{_fmt(x + bar / 2)}" y="{HEIGHT - 8}" text-anchor="middle" '
                f'fill="{MUTED}">{_e(column.label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def sparkline(values: Sequence[int], *, label: str, colour: str = "#0b5cad") -> str:
    """A row's weeks as tiny bars, for a table cell; ``label`` says what it shows."""
    count = max(len(values), 1)
    top = max(max(values, default=0), 1)
    width, height = count * 4, 20
    bars = "".join(
        f'<rect x="{i * 4}" y="{_fmt(height - height * v / top)}" width="3" '
        f'height="{_fmt(height * v / top)}" fill="{_e(colour)}"/>'
        for i, v in enumerate(values)
        if v > 0
    )
    return (
        f'<svg viewBox="0 0 {width} {height}" preserveAspectRatio="none" role="img" '
        f'aria-label="{_e(label)}"><title>{_e(label)}</title>'
        f'<line x1="0" x2="{width}" y1="{height - 0.5}" y2="{height - 0.5}" stroke="{GRID}" '
        f'stroke-width="1"/>{bars}</svg>'
    )


def swatch(colour: str) -> str:
    """A small square in a legend."""
    return (
        f'<svg class="swatch" viewBox="0 0 10 10" aria-hidden="true">'
        f'<rect width="10" height="10" rx="2" fill="{_e(colour)}"/></svg>'
    )
