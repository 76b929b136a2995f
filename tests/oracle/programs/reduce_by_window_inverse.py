"""reduceByWindow with an inverse function (incremental window; needs a checkpoint directory)."""

import sys
import tempfile

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-reducebywindow-inv")
ssc = streaming_context(sc, 1)
ssc.checkpoint(tempfile.mkdtemp(prefix="oracle-"))
numbers = ssc.queueStream([[1, 2], [3], [], [10]])
numbers.reduceByWindow(lambda a, b: a + b, lambda a, b: a - b, 2, 1).pprint()
run(ssc, 6)
