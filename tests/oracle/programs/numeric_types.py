"""Element types survive the batch: ints, floats, None, tuples, lists, dicts, bools, big ints."""

# oracle: ordered (the order of each batch's lines is defined on every partition count)

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-types")
ssc = streaming_context(sc, 1)
values = ssc.queueStream([[1, 2.5, None, (1, "a"), [1, 2], {"k": 1}, True, 2**70, "s"], [b"bytes"]])
values.map(lambda v: (type(v).__name__, v)).pprint(20)
run(ssc, 2)
