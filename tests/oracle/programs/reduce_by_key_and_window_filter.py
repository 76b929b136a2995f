"""reduceByKeyAndWindow with invFunc and filterFunc, over a window sliding by 2."""

import sys
import tempfile

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-reducebykeyandwindow-filter")
ssc = streaming_context(sc, 1)
ssc.checkpoint(tempfile.mkdtemp(prefix="oracle-"))
words = ssc.queueStream([["a", "b", "a"], ["b", "c"], [], ["a"], ["c"], []])
pairs = words.map(lambda w: (w, 1))
counts = pairs.reduceByKeyAndWindow(
    lambda a, b: a + b, lambda a, b: a - b, 4, 2, filterFunc=lambda kv: kv[1] > 0
)
counts.pprint()
run(ssc, 8)
