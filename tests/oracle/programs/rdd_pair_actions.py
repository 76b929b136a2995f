"""Pair-RDD methods inside foreachRDD: keys, values, collectAsMap, countByKey, lookup, sortByKey."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-rdd-pair-actions")
ssc = streaming_context(sc, 1)
pairs = ssc.queueStream([[("b", 2), ("a", 1), ("b", 5)], [("c", 0)], []])


def describe(time, rdd):
    print(f"--- {time}")
    print("keys", sorted(rdd.keys().collect()), "values", sorted(rdd.values().collect()))
    print("collectAsMap", sorted(rdd.collectAsMap().items()), "countByKey", sorted(rdd.countByKey().items()))
    print("lookup b", sorted(rdd.lookup("b")), "sorted", rdd.sortByKey().collect())


pairs.foreachRDD(describe)
run(ssc, 3)
