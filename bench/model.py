"""What a case produces: rows of per-round values, ratios and targets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .stats import median

#: One round of one contender: metric name -> value.
Measure = Callable[[], dict[str, float]]


@dataclass
class Row:
    """One metric of one contender, one value per round."""

    contender: str
    metric: str
    unit: str
    values: list[float]

    @property
    def median(self) -> float:
        return median(self.values)


@dataclass
class Ratio:
    """A ratio computed round by round from values measured in the same round."""

    label: str
    values: list[float]

    @property
    def median(self) -> float:
        return median(self.values)


@dataclass
class Target:
    """A goal of the project and whether this run's median meets it; for a goal
    that names a minimum too ("<= 100 µs (at most 200)"), whether that is met."""

    label: str
    measured: str
    goal: str
    met: bool
    minimum_met: bool | None = None

    @property
    def verdict(self) -> str:
        if self.met:
            return "met"
        return "minimum met" if self.minimum_met else "MISSED"


@dataclass
class Section:
    title: str
    rows: list[Row] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self, contender: str, metric: str) -> Row:
        for row in self.rows:
            if row.contender == contender and row.metric == metric:
                return row
        raise KeyError((contender, metric))

    def ratio(self, label: str, numerator: Row, denominator: Row) -> Ratio:
        """Add numerator / denominator, round by round, and return it."""
        ratio = Ratio(
            label,
            [a / b for a, b in zip(numerator.values, denominator.values, strict=True)],
        )
        self.ratios.append(ratio)
        return ratio


def alternate(
    rounds: int, contenders: dict[str, Measure]
) -> dict[str, dict[str, list[float]]]:
    """Run every contender once per round, rotating who goes first each round.

    Alternating spreads the machine's drifting load (other processes, CPU
    frequency) evenly over the contenders, so the ratios of one round compare
    like with like. Returns contender -> metric -> one value per round.
    """
    names = list(contenders)
    results: dict[str, dict[str, list[float]]] = {name: {} for name in names}
    for number in range(rounds):
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            for metric, value in contenders[name]().items():
                results[name].setdefault(metric, []).append(value)
    return results
