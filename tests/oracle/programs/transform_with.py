"""transformWith: a function of two RDDs, with and without the batch time."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-transformwith")
ssc = streaming_context(sc, 1)
orders = ssc.queueStream([[("apple", 2), ("pear", 1)], [("fig", 5)], []])
prices = ssc.queueStream([[("apple", 0.5), ("fig", 3.0)], [("fig", 2.0)], [("kiwi", 1.0)]])
orders.transformWith(lambda a, b: a.join(b).mapValues(lambda qp: qp[0] * qp[1]), prices).pprint()
orders.transformWith(lambda t, a, b: a.union(b).map(lambda kv: (kv[0], t.year > 1900)), prices).pprint()
run(ssc, 3)
