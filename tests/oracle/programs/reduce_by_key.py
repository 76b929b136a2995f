"""reduceByKey: the word count."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-reducebykey")
ssc = streaming_context(sc, 1)
lines = ssc.queueStream([["to be or not to be"], ["that is", "the question is"], []])
words = lines.flatMap(lambda line: line.split(" "))
words.map(lambda w: (w, 1)).reduceByKey(lambda a, b: a + b).pprint()
run(ssc, 3)
