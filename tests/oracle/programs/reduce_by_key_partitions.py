"""reduceByKey(func, 3) on int keys: partition p holds the keys k with k % 3 == p."""

# oracle: ordered (the order of each batch's lines is defined on every partition count)

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-reducebykey-partitions")
ssc = streaming_context(sc, 1)
numbers = ssc.queueStream([list(range(1, 13)), [5, 6, 7], []])
pairs = numbers.map(lambda n: (n % 5, n))
pairs.reduceByKey(lambda a, b: a + b, 3).glom().map(sorted).pprint()
run(ssc, 3)
