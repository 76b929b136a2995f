"""For test_checkpoint: ``python sigterm_app.py <checkpoint dir> <log file>`` runs until SIGTERM, with
``spark.streaming.stopGracefullyOnShutdown`` on; each processed batch appends its time (ms) to the log."""

import sys

from dstreams import SparkConf, SparkContext, StreamingContext
from dstreams.outputs import to_ms

checkpoint, log = sys.argv[1], sys.argv[2]
conf = SparkConf().set("spark.streaming.stopGracefullyOnShutdown", "true")
ssc = StreamingContext(SparkContext("local[1]", "sigterm", conf=conf), 0.1)
ssc.checkpoint(checkpoint)
counts = ssc.queueStream([], default=[("k", 1)]).updateStateByKey(lambda new, old: sum(new) + (old or 0))


def note(t, rdd):
    with open(log, "a") as fh:
        fh.write(f"{to_ms(t)} {rdd.collect()[0][1]}\n")


counts.foreachRDD(note)
ssc.start()
print("started", flush=True)
ssc.awaitTermination()
