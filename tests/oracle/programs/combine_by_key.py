"""combineByKey: a per-key (sum, count) average."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-combinebykey")
ssc = streaming_context(sc, 1)
scores = ssc.queueStream([[("ann", 4), ("bob", 2), ("ann", 6)], [("bob", 1), ("bob", 3)], []])
sums = scores.combineByKey(
    lambda v: (v, 1),
    lambda acc, v: (acc[0] + v, acc[1] + 1),
    lambda a, b: (a[0] + b[0], a[1] + b[1]),
)
sums.mapValues(lambda sc: sc[0] / sc[1]).pprint()
run(ssc, 3)
