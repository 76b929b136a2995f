"""``dstreams.sql``: Spark SQL's DataFrame API and SQL over every micro-batch, on DuckDB.

Two ways in:

* **PySpark style**, inside ``foreachRDD``: ``spark = SparkSession.builder.getOrCreate()``,
  ``rdd.toDF()`` / ``spark.createDataFrame(rdd)``, ``createOrReplaceTempView``, ``spark.sql(...)``,
  ``show()``. Port a PySpark program by replacing ``pyspark.sql`` with ``dstreams.sql``.
* **Stream SQL**: ``stream.sql("SELECT value AS word, count(*) AS n FROM batch GROUP BY value")``
  returns a DStream; ``ssc.sql(query, clicks=s1, views=s2)`` joins several streams;
  ``ssc.register_table(name, source)`` adds static (refreshable) tables; ``stream.to_duckdb(...)``
  writes each batch to a DuckDB table exactly once.

Queries are DuckDB SQL (close to Spark SQL; see the DuckDB docs for functions). Batches are
registered as Arrow tables and scanned in place.
"""

from dstreams.row import Row

from . import functions, types
from .column import Column
from .dataframe import DataFrame, GroupedData
from .errors import AnalysisException, ParseException, QueryError
from .io import DataFrameReader, DataFrameWriter
from .session import SparkSession

__all__ = [
    "AnalysisException",
    "Column",
    "DataFrame",
    "DataFrameReader",
    "DataFrameWriter",
    "GroupedData",
    "ParseException",
    "QueryError",
    "Row",
    "SparkSession",
    "functions",
    "types",
]
