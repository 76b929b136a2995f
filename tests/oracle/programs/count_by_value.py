"""countByValue: (element, count) pairs."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-countbyvalue")
ssc = streaming_context(sc, 1)
words = ssc.queueStream([["a", "b", "a", "c", "a"], ["b"], []])
words.countByValue().pprint()
run(ssc, 3)
