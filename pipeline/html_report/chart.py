"""The report page's error chart: one row per artifact, one dot per reference case at its
worst scaled error (over the outputs), on a log scale with the bar drawn across. Plain SVG:
a dot's ``<title>`` is its tooltip, so the page needs no script."""

from __future__ import annotations

import math
from html import escape

LEFT, RIGHT, ROW, TOP = 120, 150, 26, 26  # px: labels, the worst's column, a row, the axis
WIDTH = 900
LOWEST = -12  # the chart's lowest decade; an exact result (error 0) is drawn at its left end
COLORS = {"ok": "#2e7d32", "rule": "#b26a00", "fail": "#c62828"}


def _worst_per_case(comparisons: list[dict]) -> dict[str, dict[str, dict]]:
    """artifact -> case -> the comparison with the largest scaled error, in report order."""
    rows: dict[str, dict[str, dict]] = {}
    for c in comparisons:
        cases = rows.setdefault(c["artifact"], {})
        if c["case"] not in cases or _key(c) > _key(cases[c["case"]]):
            cases[c["case"]] = c
    return rows


def _key(c: dict) -> tuple:
    return (not c["passed"], c["max_rel"])


def _state(c: dict) -> str:
    if not c["passed"]:
        return "fail"
    return "ok" if c["max_rel"] <= c["tol"] else "rule"  # passed by the float64 rule


def _marker(shape: int, x: float, y: float, fill: str, title: str) -> str:
    """A dot of the case's shape (circle, square, diamond, triangle, then circles)."""
    paint = f'fill="{fill}" fill-opacity="0.75"'
    if shape == 1:
        body = f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" {paint}>'
        return body + f"<title>{title}</title></rect>"
    if shape in (2, 3):
        points = (
            f"{x:.1f},{y - 7:.1f} {x + 7:.1f},{y:.1f} {x:.1f},{y + 7:.1f} {x - 7:.1f},{y:.1f}"
            if shape == 2
            else f"{x:.1f},{y - 7:.1f} {x + 7:.1f},{y + 5:.1f} {x - 7:.1f},{y + 5:.1f}"
        )
        return f'<polygon points="{points}" {paint}><title>{title}</title></polygon>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" {paint}><title>{title}</title></circle>'


def chart(comparisons: list[dict], tol: float) -> str:
    """The SVG and its legend, or a sentence when there is nothing to draw."""
    rows = _worst_per_case(comparisons)
    if not rows:
        return "<p>No comparisons were made.</p>"
    errors = [c["max_rel"] for cases in rows.values() for c in cases.values()]
    positive = [e for e in errors if e > 0] or [tol if tol > 0 else 1.0]
    low = max(LOWEST, math.floor(math.log10(min(positive))) - 1)
    high = math.ceil(math.log10(max(positive))) + 1
    if tol > 0:  # (a bar of 0: outputs compared exactly, integers; no line to draw)
        high = max(high, math.ceil(math.log10(tol)) + 2)
    span = WIDTH - LEFT - RIGHT
    cases = list(dict.fromkeys(case for found in rows.values() for case in found))

    def x(value: float) -> float:
        decade = math.log10(value) if value > 0 else low
        return LEFT + span * (max(decade, low) - low) / (high - low)

    height = TOP + ROW * len(rows) + 22
    parts = _axes(x, low, high, tol, height)
    for i, (artifact, found) in enumerate(rows.items()):
        y = TOP + ROW * i + ROW / 2
        parts.append(f'<text x="4" y="{y + 4:.1f}" class="label">{escape(artifact)}</text>')
        for case, c in found.items():
            title = (
                f"{escape(artifact)}, {escape(case)}, {escape(c['output'])}: scaled error "
                f"{_shown(c['max_rel'])} ({_state(c)})"
            )
            shape = cases.index(case)
            parts.append(_marker(shape, x(c["max_rel"]), y, COLORS[_state(c)], title))
        top = max(found.values(), key=_key)
        parts.append(
            f'<text x="{WIDTH - RIGHT + 12}" y="{y + 4:.1f}" class="label">worst '
            f"{_shown(top['max_rel'])}</text>"
        )
    parts.append("</svg>")
    legend = ", ".join(f"{SHAPES[min(i, 4)]}: {escape(case)}" for i, case in enumerate(cases))
    return "".join(parts) + f"<p class='muted'>Cases: {legend}.</p>"


def _axes(x, low: int, high: int, tol: float, height: int) -> list[str]:
    """The SVG's start: the zone over the bar, a tick per decade, the bar's dashed line."""
    span = WIDTH - LEFT - RIGHT
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>Scaled error of each artifact per reference case; the bar is {tol:g}</title>",
    ]
    if tol > 0:
        parts.append(
            f'<rect x="{x(tol):.1f}" y="{TOP - 6}" width="{LEFT + span - x(tol):.1f}" '
            f'height="{height - TOP}" fill="#fdecea"/>'
        )
    for decade in range(low, high + 1, 1 if high - low <= 8 else 2):
        parts.append(
            f'<text x="{x(10.0**decade):.1f}" y="14" class="tick">1e{decade}</text>'
            f'<line x1="{x(10.0**decade):.1f}" x2="{x(10.0**decade):.1f}" y1="{TOP - 6}" '
            f'y2="{height - 2}" class="grid"/>'
        )
    if tol > 0:
        parts.append(
            f'<line x1="{x(tol):.1f}" x2="{x(tol):.1f}" y1="{TOP - 6}" y2="{height - 2}" '
            f'class="bar"/><text x="{x(tol) + 4:.1f}" y="{height - 6}" class="barlabel">'
            f"bar {tol:g}</text>"
        )
    return parts


SHAPES = ("circle", "square", "diamond", "triangle", "circle")


def _shown(error: float) -> str:
    return "0 (exact)" if error == 0 else f"{error:.2e}"
