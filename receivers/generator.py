"""``generatorStream``: a built-in source that needs no server (the demo and benchmarks use it).

``kind="words"`` produces lines of words drawn from a Zipf distribution over a fixed vocabulary
(``w0`` is the most frequent), ``kind="events"`` produces rows ``(user, amount, ts)``. Output is
deterministic for a seed, and each batch holds ``rate * batch_seconds`` lines/rows.
"""

from __future__ import annotations

import random
from bisect import bisect
from itertools import accumulate

import pyarrow as pa

from dstreams.batch import Batch
from dstreams.dstream import InputDStream
from dstreams.errors import ConfigurationError


def zipf_lines(
    n_lines: int, *, vocabulary: int = 100_000, words_per_line: int = 10, seed: int = 0, exponent: float = 1.0
) -> list[str]:
    """``n_lines`` lines of ``words_per_line`` Zipf-distributed words ``w<rank>``."""
    rng = random.Random(seed)
    weights = list(accumulate(1.0 / (r**exponent) for r in range(1, vocabulary + 1)))
    total = weights[-1]
    words = [f"w{r}" for r in range(vocabulary)]
    rand = rng.random
    return [
        " ".join(words[bisect(weights, rand() * total)] for _ in range(words_per_line))
        for _ in range(n_lines)
    ]


class GeneratorInputDStream(InputDStream):
    def __init__(
        self,
        ssc,
        kind: str = "words",
        rate: int = 1000,
        *,
        vocabulary: int = 1000,
        words_per_line: int = 10,
        seed: int = 0,
    ):
        super().__init__(ssc)
        if kind not in ("words", "events"):
            raise ConfigurationError(f"generatorStream kind must be 'words' or 'events', got {kind!r}")
        if rate < 0:
            raise ConfigurationError(f"generatorStream rate must be >= 0 lines per second, got {rate}")
        self._kind, self._rate = kind, rate
        self._vocabulary, self._words_per_line = vocabulary, words_per_line
        self._seed, self._batches = seed, 0

    def _allocate(self, t: int) -> Batch:
        n = round(self._rate * self._slide_ms / 1000)
        seed = self._seed * 1_000_003 + self._batches
        self._batches += 1
        if self._kind == "words":
            lines = zipf_lines(n, vocabulary=self._vocabulary, words_per_line=self._words_per_line, seed=seed)
            return Batch(pa.table({"value": pa.array(lines, pa.string())}), "value", 1)
        rng = random.Random(seed)
        users = [f"u{rng.randrange(100)}" for _ in range(n)]
        amounts = [round(rng.uniform(1, 100), 2) for _ in range(n)]
        ts = [t - self._slide_ms + (i * self._slide_ms) // max(n, 1) for i in range(n)]
        table = pa.table({"user": users, "amount": amounts, "ts": pa.array(ts, pa.timestamp("ms"))})
        return Batch(table, "row", 1)
