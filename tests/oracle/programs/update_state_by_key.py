"""updateStateByKey: a running word count across batches."""

import sys
import tempfile

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-updatestatebykey")
ssc = streaming_context(sc, 1)
ssc.checkpoint(tempfile.mkdtemp(prefix="oracle-"))
words = ssc.queueStream([["a", "b", "a"], ["b", "c"], [], ["a"]])


def update(new_values, total):
    return sum(new_values) + (total or 0)


words.map(lambda w: (w, 1)).updateStateByKey(update).pprint()
run(ssc, 5)
