"""Printing sections as a plain-text table: median, min and max of the rounds."""

from __future__ import annotations

from collections.abc import Iterable

from .model import Section, Target


def _number(value: float, unit: str) -> str:
    if unit in ("tasks/s", "bytes", "errors"):
        return f"{value:,.0f}"
    if unit == "s":
        return f"{value:.3f}"
    return f"{value:,.1f}"


def format_section(section: Section) -> str:
    lines = [section.title, "-" * len(section.title)]
    if section.rows:
        width = max(len(f"{row.contender}  {row.metric}") for row in section.rows)
        header = f"{'':<{width}}  {'median':>10}  {'min':>10}  {'max':>10}  unit"
        lines.append(header)
        for row in section.rows:
            label = f"{row.contender}  {row.metric}"
            lines.append(
                f"{label:<{width}}  {_number(row.median, row.unit):>10}  "
                f"{_number(min(row.values), row.unit):>10}  "
                f"{_number(max(row.values), row.unit):>10}  {row.unit}"
            )
    for ratio in section.ratios:
        lines.append(
            f"ratio {ratio.label}: {ratio.median:.2f}x "
            f"(rounds {min(ratio.values):.2f}x .. {max(ratio.values):.2f}x)"
        )
    lines += [f"note: {note}" for note in section.notes]
    return "\n".join(lines)


def format_targets(targets: Iterable[Target]) -> str:
    targets = list(targets)
    if not targets:
        return ""
    width = max(len(target.label) for target in targets)
    lines = ["Targets (medians of this run)", "-----------------------------"]
    for target in targets:
        lines.append(
            f"{target.label:<{width}}  {target.measured:>14}  "
            f"goal {target.goal:<34} {target.verdict}"
        )
    return "\n".join(lines)
