"""Hypothesis profiles of the pipeline fuzzer (applied to its own tests only, never globally).

``fuzz-ci`` (the default, run by ``make test``): a fixed, derandomized budget, under a minute.
``fuzz-long`` (``make fuzz``, or ``FUZZ_EXAMPLES=n``): ``FUZZ_EXAMPLES`` random pipelines.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_RELAXED = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

settings.register_profile(
    "fuzz-ci",
    max_examples=int(os.environ.get("FUZZ_CI_EXAMPLES", "300")),
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=_RELAXED,
)
settings.register_profile(
    "fuzz-long",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "20000")),
    derandomize=False,
    database=None,
    deadline=None,
    suppress_health_check=_RELAXED,
)

# Failing cases written by ``make fuzz`` are for pasting elsewhere, not for this suite.
collect_ignore = ["found"]
