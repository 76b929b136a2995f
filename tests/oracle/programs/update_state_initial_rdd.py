"""updateStateByKey with an initial state RDD."""

import sys
import tempfile

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-updatestate-initial")
ssc = streaming_context(sc, 1)
ssc.checkpoint(tempfile.mkdtemp(prefix="oracle-"))
initial = sc.parallelize([("a", 100), ("z", 7)])
words = ssc.queueStream([["a", "b"], [], ["z", "b"]])


def update(new_values, total):
    return sum(new_values) + (total or 0)


words.map(lambda w: (w, 1)).updateStateByKey(update, initialRDD=initial).pprint()
run(ssc, 4)
