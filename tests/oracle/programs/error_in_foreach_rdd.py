"""A foreachRDD function that raises in the last batch: run() (awaitTermination) raises it."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-error-foreachrdd")
ssc = streaming_context(sc, 1)
numbers = ssc.queueStream([[1, 2], [3], [0]])
numbers.pprint()


def check(rdd):
    for n in rdd.collect():
        print("inverse", 1 / n)


numbers.foreachRDD(check)
try:
    run(ssc, 3)
    print("no error reached the program")
except Exception as error:
    print("the program caught an error; names ZeroDivisionError:", "ZeroDivisionError" in str(error))
