"""filter keeps the elements a predicate accepts; count() of the result."""

# oracle: ordered (the order of each batch's lines is defined on every partition count)

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-filter")
ssc = streaming_context(sc, 1)
numbers = ssc.queueStream([[1, 2, 3, 4, 5, 6], [7, 9], [10]])
evens = numbers.filter(lambda n: n % 2 == 0)
evens.pprint()
evens.count().pprint()
run(ssc, 3)
