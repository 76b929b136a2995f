"""SQL inside foreachRDD: createDataFrame from Rows, createOrReplaceTempView, spark.sql(...).show()."""

# oracle: ordered (ORDER BY makes the tables' row order defined)

import sys

from _harness import run, streaming_context
from pyspark import SparkContext
from pyspark.sql import Row, SparkSession

sc = SparkContext(sys.argv[1], "oracle-sql-view")
ssc = streaming_context(sc, 1)
lines = ssc.queueStream([["to be or not to be"], ["be quick"], []])
words = lines.flatMap(lambda line: line.split(" "))


def process(time, rdd):
    print(f"========= {time} =========")
    if rdd.isEmpty():
        print("(empty batch)")
        return
    spark = SparkSession.builder.config(conf=rdd.context.getConf()).getOrCreate()
    frame = spark.createDataFrame(rdd.map(lambda w: Row(word=w)))
    frame.createOrReplaceTempView("words")
    spark.sql("SELECT word, count(*) AS total FROM words GROUP BY word ORDER BY total DESC, word").show()


words.foreachRDD(process)
run(ssc, 3)
