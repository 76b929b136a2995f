"""rdd.toDF(names) and the DataFrame API inside foreachRDD: filter, groupBy, orderBy, show, collect."""

# oracle: ordered (ORDER BY makes the tables' row order defined)

import sys

from _harness import run, streaming_context
from pyspark import SparkContext
from pyspark.sql import SparkSession

sc = SparkContext(sys.argv[1], "oracle-sql-todf")
ssc = streaming_context(sc, 1)
sales = ssc.queueStream([[("ann", 3), ("bob", 5), ("ann", 4)], [("cid", 1)], []])


def process(time, rdd):
    print(f"========= {time} =========")
    if rdd.isEmpty():
        return
    SparkSession.builder.getOrCreate()  # toDF needs a session, as in PySpark
    frame = rdd.toDF(["name", "amount"])
    frame.printSchema()
    totals = frame.filter(frame.amount > 1).groupBy("name").sum("amount").orderBy("name")
    totals.show()
    print(sorted(tuple(row) for row in frame.collect()))
    print(frame.count(), frame.columns)


sales.foreachRDD(process)
run(ssc, 3)
