"""flatMap: every element expands to zero or more elements."""

# oracle: ordered (the order of each batch's lines is defined on every partition count)

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-flatmap")
ssc = streaming_context(sc, 1)
lines = ssc.queueStream([["to be or", "not to be"], ["", "one"], ["x y z"]])
lines.flatMap(lambda line: line.split(" ")).pprint()
lines.flatMap(lambda line: [len(line)] * 2).pprint()
run(ssc, 3)
