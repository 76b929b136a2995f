"""pprint(num): at most num elements, then '...' when there are more."""

# oracle: ordered (the order of each batch's lines is defined on every partition count)

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-pprint-num")
ssc = streaming_context(sc, 1)
numbers = ssc.queueStream([list(range(15)), [1, 2, 3], list(range(4))])
numbers.pprint()
numbers.pprint(3)
numbers.map(lambda n: {"n": n, "s": str(n), "f": n / 2}).pprint(2)
run(ssc, 3)
