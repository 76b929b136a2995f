"""A queue of prepared RDDs fed to a stream one per batch, each reduced per key with map/reduceByKey.

``ssc.queueStream(rdds)`` is the way to test a streaming job on data you already hold: every batch
interval takes the next RDD of the list, and once the list is used up the batches are empty. Here
each RDD is one hour of readings from three weather stations (text lines ``"<station> <celsius>"``,
in several partitions); the job parses them with ``map``, sums them per station with
``reduceByKey`` and prints each station's mean and number of readings for the hour, sorted by
station. The program stops by itself once every queued hour has been processed.

Run it with::

    .venv/bin/python examples/queue_of_batches.py                  # 1-second batches, real time
    .venv/bin/python examples/queue_of_batches.py --manual-clock   # no waiting, same output every run

With ``--manual-clock`` the context runs on a :class:`dstreams.ManualClock` that starts at the
epoch, so the batch times printed are ``1970-01-01 00:00:01``, ``00:00:02``... (local time).
"""

from __future__ import annotations

import argparse
import threading

from dstreams import ManualClock, SparkContext, StreamingContext, StreamingListener

STATIONS = {"airport": 11.0, "harbour": 13.5, "hill": 8.0}  # each station's base temperature


def hourly_readings(hour: int) -> list[str]:
    """The text lines one hour brings: six readings per station, drifting a little within the hour.

    The numbers are made up but fixed, so every run prints the same means.

    >>> hourly_readings(0)[:2]
    ['airport 11.0', 'harbour 13.5']
    """
    lines = []
    for minute in range(0, 60, 10):
        for station, base in STATIONS.items():
            drift = ((minute // 10) * (hour + 1) % 5) * 0.5 - hour * 0.25
            lines.append(f"{station} {base + drift:.1f}")
    return lines


def parse(line: str) -> tuple[str, tuple[float, int]]:
    """A reading, and a count of one to sum alongside it.

    >>> parse("hill 8.5")
    ('hill', (8.5, 1))
    """
    station, celsius = line.split(" ")
    return station, (float(celsius), 1)


def add_up(a: tuple[float, int], b: tuple[float, int]) -> tuple[float, int]:
    """Sum of temperatures and number of readings, combined pairwise by ``reduceByKey``.

    >>> add_up((8.5, 1), (9.0, 2))
    (17.5, 3)
    """
    return a[0] + b[0], a[1] + b[1]


def mean_and_count(total: tuple[float, int]) -> tuple[float, int]:
    """The mean of an hour's readings (2 decimals) and how many there were.

    >>> mean_and_count((17.5, 3))
    (5.83, 3)
    """
    celsius, readings = total
    return round(celsius / readings, 2), readings


class CountBatches(StreamingListener):
    """Sets ``done`` when ``n`` batches have completed."""

    def __init__(self, n: int):
        self.n = n
        self.completed = 0
        self.done = threading.Event()

    def onBatchCompleted(self, batchCompleted) -> None:
        self.completed += 1
        if self.completed >= self.n:
            self.done.set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=int, default=4, help="how many RDDs (hours of readings) to queue (4)")
    parser.add_argument("--partitions", type=int, default=3, help="partitions of each queued RDD (3)")
    parser.add_argument("--manual-clock", action="store_true", help="run on a ManualClock: no waiting")
    args = parser.parse_args(argv)
    if args.hours < 1:
        parser.error("--hours must be at least 1")

    sc = SparkContext("local[2]", "queue-of-batches")
    ssc = StreamingContext(sc, 1, clock=ManualClock() if args.manual_clock else None)

    # The queue: one RDD per batch, built before the stream starts.
    queue = [sc.parallelize(hourly_readings(hour), args.partitions) for hour in range(args.hours)]
    readings = ssc.queueStream(queue)

    per_station = readings.map(parse).reduceByKey(add_up).mapValues(mean_and_count)
    per_station.transform(lambda rdd: rdd.sortByKey()).pprint()

    if args.manual_clock:
        ssc.start()
        ssc.clock.advance(args.hours)  # returns once all the hours' batches are processed
        ssc.stop()
        return 0

    finished = CountBatches(args.hours)
    ssc.addStreamingListener(finished)
    ssc.start()
    try:
        while not finished.done.is_set():
            ssc.awaitTerminationOrTimeout(0.1)  # re-raises a failed batch's error
    finally:
        ssc.stop(stopGraceFully=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
