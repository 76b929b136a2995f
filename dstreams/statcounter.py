"""``StatCounter``: count, mean, variance, min and max of numbers in one pass, mergeable.

``rdd.stats()`` builds one per partition and merges them, as PySpark does, so the figures (and
their last bits of floating-point rounding) are PySpark's. The running mean and the sum of squared
deviations are updated with Welford's method; two counters merge with Chan et al.'s formula.

>>> from dstreams import StatCounter
>>> s = StatCounter([1, 2, 3, 4])
>>> s
(count: 4, mean: 2.5, stdev: 1.118033988749895, max: 4.0, min: 1.0)
>>> s.sampleVariance()
1.6666666666666667
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from typing import Any


class StatCounter:
    """Running statistics of a sequence of numbers (PySpark's ``pyspark.statcounter.StatCounter``)."""

    def __init__(self, values: Iterable[float] | None = None):
        self.n = 0  # how many values
        self.mu = 0.0  # their mean
        self.m2 = 0.0  # sum of squared deviations from the mean
        self.maxValue = float("-inf")
        self.minValue = float("inf")
        if values is not None:
            self._merge_all(values)

    def _merge_all(self, values: Iterable[float]) -> None:
        # merge() for each value, with the fields in locals: the same arithmetic, about 3x faster
        n, mu, m2, high, low = self.n, self.mu, self.m2, self.maxValue, self.minValue
        for value in values:
            delta = value - mu
            n += 1
            mu += delta / n
            m2 += delta * (value - mu)
            if value > high:  # exactly max(high, value) and min(low, value), NaN included
                high = value
            if value < low:
                low = value
        self.n, self.mu, self.m2, self.maxValue, self.minValue = n, mu, m2, high, low

    def merge(self, value: float) -> StatCounter:
        """Add one value; returns self.

        >>> StatCounter().merge(3).merge(5).mean()
        4.0
        """
        delta = value - self.mu
        self.n += 1
        self.mu += delta / self.n
        self.m2 += delta * (value - self.mu)
        self.maxValue = max(self.maxValue, value)
        self.minValue = min(self.minValue, value)
        return self

    def mergeStats(self, other: StatCounter) -> StatCounter:
        """Add every value ``other`` has seen; returns self.

        >>> StatCounter([1, 2]).mergeStats(StatCounter([3, 4])).count()
        4
        """
        if not isinstance(other, StatCounter):
            raise TypeError(f"mergeStats takes a StatCounter, got {type(other).__name__}; use merge(value)")
        if other is self:  # merging with itself: work from a snapshot
            return self.mergeStats(other.copy())
        if self.n == 0:
            self.n, self.mu, self.m2 = other.n, other.mu, other.m2
            self.maxValue, self.minValue = other.maxValue, other.minValue
        elif other.n != 0:
            delta = other.mu - self.mu
            total = self.n + other.n
            # When one side is much larger, update from it: the big mean keeps its precision.
            if other.n * 10 < self.n:
                self.mu = self.mu + (delta * other.n) / total
            elif self.n * 10 < other.n:
                self.mu = other.mu - (delta * self.n) / total
            else:
                self.mu = (self.mu * self.n + other.mu * other.n) / total
            self.m2 += other.m2 + (delta * delta * self.n * other.n) / total
            self.maxValue = max(self.maxValue, other.maxValue)
            self.minValue = min(self.minValue, other.minValue)
            self.n = total
        return self

    def copy(self) -> StatCounter:
        """An independent counter with the same figures.

        >>> StatCounter([1]).copy().count()
        1
        """
        return copy.deepcopy(self)

    def count(self) -> int:
        """How many values were merged.

        >>> StatCounter([7, 8]).count()
        2
        """
        return int(self.n)

    def mean(self) -> float:
        """Their mean (0.0 before any value, as PySpark).

        >>> StatCounter([7, 8]).mean()
        7.5
        """
        return float(self.mu)

    def sum(self) -> float:
        """Their sum, as count times mean (a float).

        >>> StatCounter([7, 8]).sum()
        15.0
        """
        return float(self.n * self.mu)

    def min(self) -> float:
        """The smallest value (inf before any value).

        >>> StatCounter([7, 8]).min()
        7.0
        """
        return float(self.minValue)

    def max(self) -> float:
        """The largest value (-inf before any value).

        >>> StatCounter([7, 8]).max()
        8.0
        """
        return float(self.maxValue)

    def variance(self) -> float:
        """Population variance (divides by n); nan when there are no values.

        >>> StatCounter([1, 3]).variance()
        1.0
        """
        return float("nan") if self.n == 0 else float(self.m2 / self.n)

    def sampleVariance(self) -> float:
        """Sample variance (divides by n - 1); nan for fewer than two values.

        >>> StatCounter([1, 3]).sampleVariance()
        2.0
        """
        return float("nan") if self.n <= 1 else float(self.m2 / (self.n - 1))

    def stdev(self) -> float:
        """Population standard deviation.

        >>> StatCounter([1, 3]).stdev()
        1.0
        """
        return math.sqrt(self.variance())

    def sampleStdev(self) -> float:
        """Sample standard deviation.

        >>> StatCounter([1, 3, 5]).sampleStdev()
        2.0
        """
        return math.sqrt(self.sampleVariance())

    def asDict(self, sample: bool = False) -> dict[str, Any]:
        """The figures as a dict.

        As in PySpark, ``stdev`` and ``variance`` are the *sample* ones (n - 1) by default and the
        population ones (n) with ``sample=True``.

        >>> StatCounter([2, 4]).asDict()["variance"], StatCounter([2, 4]).asDict(sample=True)["variance"]
        (2.0, 1.0)
        """
        return {
            "count": self.count(),
            "mean": self.mean(),
            "sum": self.sum(),
            "min": self.min(),
            "max": self.max(),
            "stdev": self.stdev() if sample else self.sampleStdev(),
            "variance": self.variance() if sample else self.sampleVariance(),
        }

    def __repr__(self) -> str:
        return (
            f"(count: {self.count()}, mean: {self.mean()}, stdev: {self.stdev()}, "
            f"max: {self.max()}, min: {self.min()})"
        )
