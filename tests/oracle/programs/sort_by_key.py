"""sortByKey through transform: ascending, descending, by a key function."""

# oracle: ordered (the order of each batch's lines is defined on every partition count)

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-sortbykey")
ssc = streaming_context(sc, 1)
pairs = ssc.queueStream([[("pear", 3), ("apple", 1), ("fig", 2), ("kiwi", 0)], [("b", 1), ("a", 2)], []])
pairs.transform(lambda rdd: rdd.sortByKey()).pprint()
pairs.transform(lambda rdd: rdd.sortByKey(ascending=False)).pprint()
pairs.transform(lambda rdd: rdd.sortByKey(keyfunc=lambda k: len(k))).map(lambda kv: len(kv[0])).pprint()
pairs.transform(lambda rdd: rdd.sortBy(lambda kv: kv[1])).pprint()
run(ssc, 3)
