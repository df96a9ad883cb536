"""Server-drawn SVG charts of the published tables: no script, no inline style.

The Content-Security-Policy forbids style attributes, so geometry goes in presentation
attributes and looks in classes (.chart .bar/.label/.value in exchange.css, the rest in
stats.css). A hidden count ("<3" or "x") is drawn as a short dashed stub of fixed length,
never to scale, so that no bar length gives it away. Each chart is one image to assistive
technology, named by its title and described; the same numbers are in a table beside it.
"""

from __future__ import annotations

import math
import unicodedata

from flask_babel import gettext as _
from markupsafe import Markup, escape

from exchange.stats.report import Row, Table

WIDTH = 640
LABEL_WIDTH = 230
VALUE_WIDTH = 56
ROW_HEIGHT = 24
BAR_HEIGHT = 16
STUB = 8
# Half-width character cells that fit in LABEL_WIDTH at the chart's 12px labels.
LABEL_UNITS = 34

COLUMN_AREA = 150
COLUMN_TOP = 24
MONTH_LABELS_HEIGHT = 56
MAX_MONTH_LABELS = 24
# Room on the left for the first month's label, which is slanted back under it.
COLUMN_LEFT = 44


def _short(label: str) -> str:
    """The label cut to fit left of the bars; full-width characters count double."""
    used, kept = 0, list[str]()
    for character in label:
        used += 2 if unicodedata.east_asian_width(character) in ("W", "F") else 1
        if used > LABEL_UNITS:
            return "".join(kept[:-1]) + "…"
        kept.append(character)
    return label


def _open(table: Table, width: int, height: int, description: str) -> list[str]:
    chart_id = f"chart-{table.dimension}"
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" focusable="false">',
        f'<title id="{chart_id}-title">{escape(table.title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]


def _bar_class(row: Row) -> str:
    return "bar suppressed" if row.shown.hidden else "bar"


def bar_chart(table: Table) -> Markup:
    """Horizontal bars, one per row, with the label on the left and the count at the end."""
    rows = table.rows
    height = max(1, len(rows)) * ROW_HEIGHT + 8
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    parts = _open(
        table,
        WIDTH,
        height,
        _("Bar chart of %(count)d rows; the numbers are in the table below.", count=len(rows)),
    )
    for index, row in enumerate(rows):
        top = 4 + index * ROW_HEIGHT
        middle = top + ROW_HEIGHT / 2
        length: float = 0
        if row.shown.hidden:
            length = STUB
        elif table.scale:
            length = round(span * (row.shown.count or 0) / table.scale, 1)
        parts.append(f"<g><title>{escape(row.label)}: {escape(row.shown.text)}</title>")
        parts.append(
            f'<text class="label" x="{LABEL_WIDTH - 8}" y="{middle}" text-anchor="end" '
            f'dominant-baseline="middle">{escape(_short(row.label))}</text>'
        )
        if length:
            parts.append(
                f'<rect class="{_bar_class(row)}" x="{LABEL_WIDTH}" '
                f'y="{top + (ROW_HEIGHT - BAR_HEIGHT) / 2}" width="{length}" '
                f'height="{BAR_HEIGHT}"></rect>'
            )
        parts.append(
            f'<text class="value" x="{LABEL_WIDTH + length + 6}" y="{middle}" '
            f'dominant-baseline="middle">{escape(row.shown.text)}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped


def column_chart(table: Table) -> Markup:
    """Columns in time order (months), labelled underneath, the count above each."""
    rows = table.rows
    count = max(1, len(rows))
    column = max(8.0, min(44.0, (WIDTH - COLUMN_LEFT - 8) / count))
    width = max(WIDTH, math.ceil(COLUMN_LEFT + 8 + column * count))
    height = COLUMN_TOP + COLUMN_AREA + MONTH_LABELS_HEIGHT
    baseline = COLUMN_TOP + COLUMN_AREA
    # With many months, every n-th is labelled so that the labels stay readable.
    step = math.ceil(count / MAX_MONTH_LABELS)
    show_values = column >= 24
    parts = _open(
        table,
        width,
        height,
        _("Column chart of %(count)d months; the numbers are in the table below.", count=count),
    )
    parts.append(
        f'<line class="axis" x1="{COLUMN_LEFT}" y1="{baseline}" x2="{width - 8}" '
        f'y2="{baseline}"></line>'
    )
    for index, row in enumerate(rows):
        left = COLUMN_LEFT + index * column
        centre = round(left + column / 2, 1)
        if row.shown.hidden:
            length = float(STUB)
        elif table.scale:
            length = round(COLUMN_AREA * (row.shown.count or 0) / table.scale, 1)
        else:
            length = 0.0
        parts.append(f"<g><title>{escape(row.label)}: {escape(row.shown.text)}</title>")
        if length:
            parts.append(
                f'<rect class="{_bar_class(row)}" x="{round(left + column * 0.15, 1)}" '
                f'y="{baseline - length}" width="{round(column * 0.7, 1)}" '
                f'height="{length}"></rect>'
            )
        if show_values or row.shown.hidden:
            parts.append(
                f'<text class="value" x="{centre}" y="{baseline - length - 4}" '
                f'text-anchor="middle">{escape(row.shown.text)}</text>'
            )
        if index % step == 0:
            parts.append(
                f'<text class="label" x="{centre}" y="{baseline + 14}" text-anchor="end" '
                f'transform="rotate(-45 {centre} {baseline + 14})">{escape(row.label)}</text>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped


def chart(table: Table) -> Markup:
    return column_chart(table) if table.dimension == "month" else bar_chart(table)
