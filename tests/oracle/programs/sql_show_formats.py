"""DataFrame.show with several column types, truncation and n."""

# oracle: ordered (ORDER BY makes the tables' row order defined)

import sys

from _harness import run, streaming_context
from pyspark import SparkContext
from pyspark.sql import Row, SparkSession

sc = SparkContext(sys.argv[1], "oracle-sql-show")
ssc = streaming_context(sc, 1)
rows = ssc.queueStream([[("short", 1, 1.5, True), ("a rather long string value here", -2, 0.25, False)], []])


def process(time, rdd):
    print(f"========= {time} =========")
    if rdd.isEmpty():
        return
    spark = SparkSession.builder.getOrCreate()
    frame = spark.createDataFrame(rdd.map(lambda r: Row(text=r[0], n=r[1], x=r[2], flag=r[3])))
    frame.orderBy("n").show()
    frame.orderBy("n").show(truncate=False)
    frame.orderBy("n").show(1)


rows.foreachRDD(process)
run(ssc, 2)
