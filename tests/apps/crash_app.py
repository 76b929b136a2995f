"""The crash test's application: ``python crash_app.py <work dir> <end ms>``.

Reads ``<work>/in``, writes ``<work>/out``, checkpoints to ``<work>/checkpoint`` and resumes from it
(``getOrCreate``) when restarted. After ``ssc.start()`` it writes its pid to ``<work>/pid`` (the test
kills that process); a fresh start also writes the batch grid's zero time to ``<work>/zero``. It
stops gracefully, exit status 0, once it has processed the batch at ``<end ms>``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import crash_graph

from dstreams import SparkContext, StreamingContext

work, end_ms = sys.argv[1], int(sys.argv[2])
fresh = []


def create():
    fresh.append(1)
    ssc = StreamingContext(SparkContext("local[1]", "crash-test"), crash_graph.BATCH)
    crash_graph.build(ssc, os.path.join(work, "in"), os.path.join(work, "out"))
    return ssc


ssc = StreamingContext.getOrCreate(os.path.join(work, "checkpoint"), create)
ssc.start()
if fresh:
    with open(os.path.join(work, "zero.tmp"), "w") as fh:
        fh.write(str(ssc._graph.zero_ms))
    os.replace(os.path.join(work, "zero.tmp"), os.path.join(work, "zero"))
with open(os.path.join(work, "pid.tmp"), "w") as fh:
    fh.write(str(os.getpid()))
os.replace(os.path.join(work, "pid.tmp"), os.path.join(work, "pid"))
while crash_graph.LAST[0] < end_ms:
    ssc.awaitTerminationOrTimeout(0.05)
ssc.stop(stopGraceFully=True)
