"""For test_sigint: ``python sigint_app.py <checkpoint dir> <log file> [timeout]`` runs a stateful count on
a 0.1 s batch until Ctrl-C (SIGINT), blocked in ``awaitTermination()`` (or ``awaitTerminationOrTimeout``
in a loop when a timeout is given). Each batch appends ``<time ms> <count>`` to the log; on
KeyboardInterrupt it prints the context's state and exits 130."""

import sys

from dstreams import SparkContext, StreamingContext

checkpoint, log = sys.argv[1], sys.argv[2]
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else None


def create() -> StreamingContext:
    ssc = StreamingContext(SparkContext("local[1]", "sigint"), 0.1)
    ssc.checkpoint(checkpoint)
    counts = ssc.queueStream([], default=[("k", 1)]).updateStateByKey(lambda new, old: sum(new) + (old or 0))

    def note(rdd):
        with open(log, "a") as fh:
            fh.write(f"{rdd.collect()[0][1]}\n")

    counts.foreachRDD(note)
    return ssc


ssc = StreamingContext.getOrCreate(checkpoint, create)
ssc.start()
print("started", flush=True)
try:
    if timeout is None:
        ssc.awaitTermination()
    else:
        while not ssc.awaitTerminationOrTimeout(timeout):
            pass
except KeyboardInterrupt:
    print("interrupted", ssc.getState(), flush=True)
    sys.exit(130)
