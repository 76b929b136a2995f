"""The receiver crash test's application: ``python receiver_crash_app.py <work> <first ms> <spacing ms>
<end ms>``.

Reads ``<work>/records.txt`` through a reliable receiver with the write-ahead log on, writes
``<work>/out``, checkpoints to ``<work>/checkpoint`` and resumes from it (``getOrCreate``) when
restarted. After ``ssc.start()`` it writes its pid to ``<work>/pid`` (the test kills that process). It
stops gracefully, exit status 0, once it has processed the batch at ``<end ms>``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import receiver_crash_graph as graph

from dstreams import SparkConf, SparkContext, StreamingContext

work = sys.argv[1]
first_ms, spacing_ms, end_ms = (int(a) for a in sys.argv[2:5])


def create():
    conf = SparkConf().set("spark.streaming.receiver.writeAheadLog.enable", "true")
    # SIGKILL ends the process, not the machine: what was written survives without fsync, and the
    # moment between a chunk reaching the log and its acknowledgement (see the graph) stays tiny.
    conf.set("dstreams.checkpoint.fsync", "false")
    ssc = StreamingContext(SparkContext("local[1]", "receiver-crash-test", conf=conf), graph.BATCH)
    graph.build(ssc, work, first_ms, spacing_ms)
    return ssc


ssc = StreamingContext.getOrCreate(os.path.join(work, "checkpoint"), create)
ssc.start()
with open(os.path.join(work, "pid.tmp"), "w") as fh:
    fh.write(str(os.getpid()))
os.replace(os.path.join(work, "pid.tmp"), os.path.join(work, "pid"))
while graph.LAST[0] < end_ms:
    ssc.awaitTerminationOrTimeout(0.05)
ssc.stop(stopGraceFully=True)
