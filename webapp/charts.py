"""Charts drawn on the server as SVG images (pygal): no JavaScript, no CDN."""

from __future__ import annotations

import re

import pygal
from pygal.style import Style

from indexer.search import StatsRow

_STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#1f2933",
    foreground_strong="#1f2933",
    foreground_subtle="#9aa5b1",
    colors=("#3e7cb1", "#d64545"),  # upheld blue, overturned red (the badges' colours)
    font_family="system-ui, sans-serif",
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=13,
    value_font_size=11,
)


def _render(chart) -> str:
    # Served as an image (<img src=...svg>): no script in it runs, and its own styles apply.
    chart.config.js = []
    return re.sub(r"<script\b.*?</script>", "", chart.render(is_unicode=True), flags=re.S)


def decisions_by_value(rows: list[StatsRow], label: str) -> str:
    """Horizontal stacked bars of upheld and overturned items per value."""
    chart = pygal.HorizontalStackedBar(
        style=_STYLE,
        width=720,
        height=max(160, 34 * len(rows) + 90),
        legend_at_bottom=True,
        print_values=False,
        show_y_guides=False,
        explicit_size=False,
        title=f"Items by {label.lower()}",
    )
    values = [r.value for r in reversed(rows)]
    chart.x_labels = values
    chart.add("Upheld", [r.upheld for r in reversed(rows)])
    chart.add("Overturned", [r.overturned for r in reversed(rows)])
    return _render(chart)


def decisions_over_time(rows: list[StatsRow]) -> str:
    """Stacked bars of upheld and overturned items per month of decision."""
    chart = pygal.StackedBar(
        style=_STYLE,
        width=720,
        height=300,
        legend_at_bottom=True,
        x_label_rotation=-30,
        show_x_guides=False,
        explicit_size=False,
        title="Decisions over time",
    )
    chart.x_labels = [r.value for r in rows]
    chart.add("Upheld", [r.upheld for r in rows])
    chart.add("Overturned", [r.overturned for r in rows])
    return _render(chart)
