"""reduceByKeyAndWindow without an inverse function: keys of the window only."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-reducebykeyandwindow")
ssc = streaming_context(sc, 1)
words = ssc.queueStream([["a", "b", "a"], ["b", "c"], [], ["a"]])
pairs = words.map(lambda w: (w, 1))
pairs.reduceByKeyAndWindow(lambda a, b: a + b, None, 2, 1).pprint()
run(ssc, 6)
