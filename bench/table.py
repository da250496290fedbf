"""One row per figure: measured value next to its same-run baseline, the ratio and the target."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Row:
    """A measured figure. `passed` is None when the figure has no target of its own."""

    figure: str
    value: str
    baseline: str = "-"
    ratio: str = "-"
    target: str = "-"
    passed: bool | None = None

    @property
    def verdict(self) -> str:
        return {True: "pass", False: "MISS", None: "-"}[self.passed]


def ms(seconds: float) -> str:
    """Format seconds as milliseconds."""
    return f"{seconds * 1000:.2f} ms" if seconds < 10 else f"{seconds:.1f} s"


def ratio(value: float, baseline: float) -> str:
    """Format value / baseline as 0.93x."""
    return f"{value / baseline:.2f}x" if baseline else "-"


def render(rows: list[Row]) -> str:
    """Return the rows as a Markdown table."""
    header = ("figure", "value", "baseline (same run)", "ratio", "target", "result")
    lines = [header] + [(r.figure, r.value, r.baseline, r.ratio, r.target, r.verdict) for r in rows]
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]

    def fmt(line):
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([fmt(lines[0]), rule, *(fmt(line) for line in lines[1:])])
