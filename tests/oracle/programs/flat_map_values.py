"""flatMapValues: one pair per produced value, keys kept."""

# oracle: ordered (the order of each batch's lines is defined on every partition count)

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-flatmapvalues")
ssc = streaming_context(sc, 1)
pairs = ssc.queueStream([[("a", "x y"), ("b", "")], [("c", "p q r")], []])
pairs.flatMapValues(lambda v: v.split(" ")).pprint()
pairs.flatMapValues(lambda v: range(len(v))).pprint()
run(ssc, 3)
