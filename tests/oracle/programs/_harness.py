"""How the oracle programs are timed: the only thing they do differently under PySpark and dstreams.

A program builds its context with ``streaming_context(sc, seconds)`` and ends with
``run(ssc, batches)``. Under PySpark both are what a real application does: a context on the wall
clock, started, left running until ``batches`` batches completed, then stopped. Under dstreams
(the program's imports rewritten) the context gets a ``ManualClock`` and ``run`` advances it one
batch at a time, so the same program runs in a few milliseconds. On both sides ``run`` adds one
output operation of its own (on an empty queue stream) that records each batch's time.

``run`` prints one last line, ``[oracle] end of run: <n> batches of <s> s from <first batch time>``.
The comparison uses it to turn batch times into batch numbers and to drop the batches that the wall
clock ran past the declared ``n`` (see ``tests/oracle/oracle_output.py``). A batch error is raised
by ``run``, as ``awaitTermination`` raises it, after the context was stopped.

This module imports neither library at its top: the same file serves both sides.
"""

from __future__ import annotations

import sys
from typing import Any

MARKER = "[oracle] end of run"

# id(ssc) -> (batch seconds, ManualClock or None): what run() needs to know about the context
_contexts: dict[int, tuple[float, Any]] = {}


def _is_dstreams(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] == "dstreams"


def streaming_context(sc: Any, seconds: float) -> Any:
    """``StreamingContext(sc, seconds)`` of ``sc``'s library; a manual clock under dstreams."""
    if _is_dstreams(sc):
        from dstreams import ManualClock, StreamingContext

        clock = ManualClock()
        ssc = StreamingContext(sc, seconds, clock=clock)
        _contexts[id(ssc)] = (seconds, clock)
        return ssc
    from pyspark.streaming import StreamingContext

    ssc = StreamingContext(sc, seconds)
    _contexts[id(ssc)] = (seconds, None)
    return ssc


def run(ssc: Any, batches: int) -> None:
    """Start ``ssc``, let ``batches`` batches complete, stop it (and its SparkContext)."""
    seconds, clock = _contexts[id(ssc)]
    # Spark reports (to listeners too) only the batches that run a job: a window sliding by two
    # batches has none every other batch. An output of our own runs in every batch and records its
    # time, to count batches and to know the first one. It is the graph's last output operation.
    times: list[Any] = []
    ssc.queueStream([[]]).foreachRDD(lambda time, rdd: times.append(time))  # PySpark rejects []
    ssc.start()
    try:
        if clock is not None:
            for _ in range(batches):
                clock.advance(seconds)
            ssc.awaitTerminationOrTimeout(0)  # raises a batch error, as PySpark's wait below does
        else:
            while len(times) < batches:
                if ssc.awaitTerminationOrTimeout(0.1):
                    break
            # Spark reports a failed job just after its batch ends: give the wait time to raise it.
            ssc.awaitTerminationOrTimeout(1.5)
    finally:
        ssc.stop(stopSparkContext=True, stopGraceFully=False)
        sys.stdout.flush()
        first = str(min(times)) if times else "none"
        print(f"{MARKER}: {batches} batches of {seconds} s from {first}", flush=True)
