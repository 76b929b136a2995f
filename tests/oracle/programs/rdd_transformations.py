"""RDD transformations inside transform: keyBy, partitionBy, union with a parallelized RDD, cartesian."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-rdd-transformations")
ssc = streaming_context(sc, 1)
numbers = ssc.queueStream([[1, 2, 3, 4], [7], []])
extra = sc.parallelize([100, 200])
numbers.transform(lambda rdd: rdd.keyBy(lambda n: n % 2).partitionBy(2).glom().map(sorted)).pprint()
numbers.transform(lambda rdd: rdd.union(extra)).pprint()
numbers.transform(lambda rdd: rdd.cartesian(sc.parallelize(["x", "y"]))).pprint()
run(ssc, 3)
