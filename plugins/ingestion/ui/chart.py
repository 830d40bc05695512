"""The entity page's chart: rows landed (bars) and seconds taken (a line) per run, oldest on the left, as inline SVG
(no script, no library: the page is served as it is)."""

from __future__ import annotations

from html import escape
from typing import Any

WIDTH, HEIGHT, PAD = 640, 160, 28


def runs_chart(runs: list[dict[str, Any]]) -> str:
    """`runs` newest first, as data.entity_page lists them. Empty string when there is no run to draw."""
    if not runs:
        return ""
    ordered = list(reversed(runs))
    rows = [int(r["rows_landed"]) for r in ordered]
    seconds = [float(r["seconds_total"]) for r in ordered]
    top_rows, top_seconds = max(rows) or 1, max(seconds) or 1.0
    step = (WIDTH - 2 * PAD) / len(ordered)
    inner = HEIGHT - 2 * PAD
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        'xmlns="http://www.w3.org/2000/svg">',
        "<title>Rows landed (bars) and seconds (line) per run, oldest first</title>",
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" class="axis"/>',
    ]
    points = []
    for i, (run, count, took) in enumerate(zip(ordered, rows, seconds, strict=True)):
        x = PAD + i * step
        height = inner * count / top_rows
        label = escape(f"{run['run_id']}: {count:,} rows, {took:.1f} s")
        parts.append(
            f'<rect class="rows" x="{x + step * 0.15:.1f}" y="{HEIGHT - PAD - height:.1f}" '
            f'width="{step * 0.7:.1f}" height="{height:.1f}"><title>{label}</title></rect>'
        )
        points.append(f"{x + step / 2:.1f},{HEIGHT - PAD - inner * took / top_seconds:.1f}")
    parts.append(f'<polyline class="seconds" fill="none" points="{" ".join(points)}"/>')
    parts.append(f'<text x="{PAD}" y="{PAD - 10}" class="legend rows-legend">rows (max {top_rows:,})</text>')
    parts.append(
        f'<text x="{WIDTH - PAD}" y="{PAD - 10}" text-anchor="end" class="legend seconds-legend">'
        f"seconds (max {top_seconds:.1f})</text>"
    )
    parts.append("</svg>")
    return "".join(parts)
