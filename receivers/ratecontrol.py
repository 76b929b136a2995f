"""Rate control for sources: a token-bucket rate limiter and Spark's PID rate estimator.

A receiver's ``store()`` asks the :class:`RateLimiter` for permits, one per record, so a receiver
never stores faster than ``spark.streaming.receiver.maxRate`` records per second. With
``spark.streaming.backpressure.enabled`` a :class:`RateController` listens to completed batches and
sets the limiter's rate to what the :class:`PIDRateEstimator` says processing can keep up with.

Both are independent of receivers, so a direct source (Kafka) can use them too::

    estimator = PIDRateEstimator.from_conf(conf, batch_ms=1000)
    new_rate = estimator.compute(time_ms, records, processing_delay_ms, scheduling_delay_ms)

Configuration keys (all optional, Spark's names and defaults):

======================================================= ========= ===============================
key                                                     default   meaning
======================================================= ========= ===============================
``spark.streaming.receiver.maxRate``                    unlimited records/s per receiver
``spark.streaming.backpressure.enabled``                false     adapt the rate to processing
``spark.streaming.backpressure.initialRate``            maxRate   rate before the first estimate
``spark.streaming.backpressure.pid.proportional``       1.0       P gain
``spark.streaming.backpressure.pid.integral``           0.2       I gain (scheduling delay)
``spark.streaming.backpressure.pid.derived``            0.0       D gain
``spark.streaming.backpressure.pid.minRate``            100       lowest rate it will set
======================================================= ========= ===============================
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from dstreams.errors import ConfigurationError

MAX_RATE = "spark.streaming.receiver.maxRate"
BACKPRESSURE = "spark.streaming.backpressure.enabled"
INITIAL_RATE = "spark.streaming.backpressure.initialRate"
_PID = "spark.streaming.backpressure.pid."


class RateLimiter:
    """At most ``rate`` permits per second (``None``: unlimited), as Guava's ``RateLimiter``.

    ``acquire(n)`` returns at once when the limiter was idle and makes the *next* caller wait for
    the ``n`` permits it took ("pay later"), so a bulk store of 1000 records at 100/s returns at
    once and the following store waits 10 s. Up to one second of unused permits is saved for a
    burst, as Guava's ``SmoothBursty``. Time is monotonic real time (rates are per wall second,
    whatever clock drives the batches).

    >>> limiter = RateLimiter(1000)
    >>> limiter.acquire(10)        # returns at once; the next 10 permits are 10 ms away
    """

    def __init__(
        self,
        rate: float | None = None,
        *,
        now: Callable[[], float] = time.monotonic,
        wait: Callable[[float], Any] | None = None,
    ):
        self._now = now
        self._wait = wait if wait is not None else time.sleep
        self._lock = threading.Lock()
        self._rate: float | None = None
        self._next_free = now()  # when the next permit is free
        self._stored = 0.0  # saved permits (at most one second's worth)
        self.set_rate(rate)

    @property
    def rate(self) -> float | None:
        """Permits per second, or None when unlimited."""
        return self._rate

    def set_rate(self, rate: float | None) -> None:
        """Change the rate (``None`` or a value <= 0: unlimited); takes effect for the next permits."""
        with self._lock:
            now = self._now()
            self._resync(now)
            self._rate = float(rate) if rate is not None and rate > 0 and math.isfinite(rate) else None
            if self._rate is None:
                self._stored = 0.0
            else:
                self._stored = min(self._stored, self._rate)

    def reserve(self, permits: int) -> float:
        """Take ``permits`` and return how many seconds the caller must wait before using them."""
        if permits <= 0:
            return 0.0
        with self._lock:
            if self._rate is None:
                return 0.0
            now = self._now()
            self._resync(now)
            wait = max(0.0, self._next_free - now)
            from_stored = min(float(permits), self._stored)
            self._stored -= from_stored
            self._next_free = max(self._next_free, now) + (permits - from_stored) / self._rate
            return wait

    def acquire(self, permits: int = 1, stop: threading.Event | None = None) -> bool:
        """Wait until ``permits`` may be used; False if ``stop`` was set while waiting."""
        wait = self.reserve(permits)
        if wait <= 0:
            return True
        if stop is not None:
            return not stop.wait(wait)
        self._wait(wait)
        return True

    def _resync(self, now: float) -> None:
        if self._rate is not None and now > self._next_free:
            self._stored = min(self._rate, self._stored + (now - self._next_free) * self._rate)
            self._next_free = now
        elif self._rate is None:
            self._next_free = max(self._next_free, now)


class PIDRateEstimator:
    """Spark's ``PIDRateEstimator``: a new ingestion rate from each completed batch.

    ``compute(time, elements, processing_delay, scheduling_delay)`` (ms) returns records/s, or
    None when there is no new estimate: the first batch only seeds the rate, and batches with no
    records, no processing delay or an old time are skipped. As Spark::

        processing_rate = elements / processing_delay * 1000
        error = latest_rate - processing_rate
        historical_error = scheduling_delay * processing_rate / batch_ms
        d_error = (error - latest_error) / seconds_since_last_update
        new_rate = max(min_rate, latest_rate - P * error - I * historical_error - D * d_error)

    >>> est = PIDRateEstimator(batch_ms=1000)
    >>> est.compute(1000, 5000, 500, 0)      # first batch: seeds the rate (10000/s), no estimate
    >>> est.compute(2000, 5000, 1000, 500)   # slower now: 5000/s processing, 0.5 s behind
    4500.0
    """

    def __init__(
        self,
        batch_ms: int,
        proportional: float = 1.0,
        integral: float = 0.2,
        derivative: float = 0.0,
        min_rate: float = 100.0,
    ):
        if batch_ms <= 0:
            raise ConfigurationError(f"PIDRateEstimator: batch interval must be > 0 ms, got {batch_ms}")
        for name, value in (("proportional", proportional), ("integral", integral), ("derived", derivative)):
            if value < 0:
                raise ConfigurationError(f"{_PID}{name} must be >= 0, got {value}")
        if min_rate <= 0:
            raise ConfigurationError(f"{_PID}minRate must be > 0, got {min_rate}")
        self.batch_ms = batch_ms
        self.proportional, self.integral, self.derivative = proportional, integral, derivative
        self.min_rate = min_rate
        self._lock = threading.Lock()
        self._first_run = True
        self._latest_time = -1
        self._latest_rate = -1.0
        self._latest_error = -1.0

    @classmethod
    def from_conf(cls, conf: Any, batch_ms: int) -> PIDRateEstimator:
        """Read the ``spark.streaming.backpressure.pid.*`` keys of a ``SparkConf``."""
        return cls(
            batch_ms,
            proportional=conf_float(conf, _PID + "proportional", 1.0),
            integral=conf_float(conf, _PID + "integral", 0.2),
            derivative=conf_float(conf, _PID + "derived", 0.0),
            min_rate=conf_float(conf, _PID + "minRate", 100.0),
        )

    def compute(
        self, time_ms: int, elements: int, processing_delay: int, scheduling_delay: int
    ) -> float | None:
        with self._lock:
            if not (time_ms > self._latest_time and elements > 0 and processing_delay > 0):
                return None
            since_update = (time_ms - self._latest_time) / 1000.0
            processing_rate = elements / processing_delay * 1000.0
            error = self._latest_rate - processing_rate
            historical_error = scheduling_delay * processing_rate / self.batch_ms
            d_error = (error - self._latest_error) / since_update
            new_rate = max(
                self.min_rate,
                self._latest_rate
                - self.proportional * error
                - self.integral * historical_error
                - self.derivative * d_error,
            )
            self._latest_time = time_ms
            if self._first_run:
                self._latest_rate = processing_rate
                self._latest_error = 0.0
                self._first_run = False
                return None
            self._latest_rate = new_rate
            self._latest_error = error
            return new_rate


class RateController:
    """Feeds completed batches of one input stream to a :class:`PIDRateEstimator` and publishes
    each new rate with ``publish(rate)`` (capped at ``max_rate``).

    It is a :class:`~dstreams.listener.StreamingListener` (only ``onBatchCompleted``): sources add
    it to ``ssc._listeners`` when they start and remove it when they stop. As Spark, the estimate
    uses the batch's processing end time, its records from this stream and its two delays.
    """

    def __init__(
        self,
        stream_id: int,
        estimator: PIDRateEstimator,
        publish: Callable[[float], None],
        max_rate: float | None = None,
    ):
        self.stream_id = stream_id
        self.estimator = estimator
        self._publish = publish
        self._max_rate = max_rate
        self.latest_rate: float | None = None

    def onBatchCompleted(self, batchCompleted: Any) -> None:
        info = batchCompleted.batchInfo()
        inputs = info.stream_inputs.get(self.stream_id)
        if (
            inputs is None
            or info.processing_end_time is None
            or info.processing_delay is None
            or info.scheduling_delay is None
        ):
            return
        rate = self.estimator.compute(
            info.processing_end_time, inputs.num_records, info.processing_delay, info.scheduling_delay
        )
        if rate is not None:
            if self._max_rate is not None:
                rate = min(rate, self._max_rate)
            self.latest_rate = rate
            self._publish(rate)


# -- configuration helpers -------------------------------------------------------------------------
def conf_float(conf: Any, key: str, default: float | None) -> float | None:
    """``conf.get(key)`` as a float (``default`` when unset); a clear error when it is not a number."""
    raw = conf.get(key) if conf is not None else None
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(f"{key} must be a number, got {raw!r}") from None


def conf_bool(conf: Any, key: str, default: bool = False) -> bool:
    raw = conf.get(key) if conf is not None else None
    if raw is None or raw == "":
        return default
    value = str(raw).strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise ConfigurationError(f"{key} must be true or false, got {raw!r}")


_UNITS_MS = {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}


def duration_ms(value: Any, key: str, default_unit: str = "ms") -> int:
    """Spark's time strings: ``"200ms"``, ``"1s"``, ``"2min"``; a bare number is ``default_unit``.

    >>> duration_ms("1.5s", "spark.streaming.blockInterval")
    1500
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return round(value * _UNITS_MS[default_unit])
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-z]*)\s*", str(value).lower())
    if not match or (match.group(2) or default_unit) not in _UNITS_MS:
        raise ConfigurationError(f"{key} must be a duration such as '200ms' or '1s', got {value!r}")
    return round(float(match.group(1)) * _UNITS_MS[match.group(2) or default_unit])


def rate_settings(conf: Any, max_rate: float | None = None) -> tuple[float | None, bool, float | None]:
    """``(max_rate, backpressure, initial_rate)`` from a SparkConf; ``max_rate`` overrides the conf."""
    if max_rate is None:
        max_rate = conf_float(conf, MAX_RATE, None)
    if max_rate is not None and max_rate <= 0:
        max_rate = None  # Spark: 0 or negative means unlimited
    backpressure = conf_bool(conf, BACKPRESSURE, False)
    initial = conf_float(conf, INITIAL_RATE, None) if backpressure else None
    if initial is None or initial <= 0:
        initial = max_rate
    elif max_rate is not None:
        initial = min(initial, max_rate)
    return max_rate, backpressure, initial
