"""dstreams.sql's Spark SQL surface: SparkSession, DataFrame, show() text as Spark prints it."""

from __future__ import annotations

import datetime as dt
import decimal

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dstreams import NotSupportedError, SchemaError, SparkConf, SparkContext
from dstreams.sql import AnalysisException, ParseException, Row, SparkSession
from dstreams.sql import functions as F
from dstreams.sql import types as T
from dstreams.sql.show import format_table, java_float


@pytest.fixture
def spark():
    session = SparkSession.builder.appName("test").getOrCreate()
    yield session
    session.stop()


def sorted_rows(text: str) -> str:
    """A show() table with its data rows sorted (GROUP BY output order is not defined)."""
    lines = text.split("\n")
    seps = [i for i, line in enumerate(lines) if line.startswith("+")]
    body = sorted(lines[seps[1] + 1 : seps[2]], key=lambda row: row.replace(" ", ""))
    return "\n".join(lines[: seps[1] + 1] + body + lines[seps[2] :])


# -- SparkSession ----------------------------------------------------------------------------------
def test_builder_returns_one_session_until_stopped():
    conf = SparkConf().setAppName("app").set("spark.sql.shuffle.partitions", "4")
    a = SparkSession.builder.config(conf=conf).getOrCreate()
    b = SparkSession.builder.config("k", "v").appName("other").getOrCreate()
    assert a is b
    assert a.conf.get("spark.sql.shuffle.partitions") == "4"
    assert a.conf.get("k") == "v"
    assert isinstance(a.sparkContext, SparkContext)
    a.stop()
    c = SparkSession.builder.getOrCreate()
    assert c is not a
    c.stop()


def test_duckdb_settings_come_from_config(spark):
    spark.stop()
    session = SparkSession.builder.config("duckdb.threads", 1).getOrCreate()
    assert session.sql("SELECT current_setting('threads') AS t").collect() == [Row(t=1)]
    session.stop()


def test_stopped_session_says_what_to_do(spark):
    df = spark.createDataFrame([(1,)])
    spark.stop()
    with pytest.raises(Exception, match="getOrCreate"):
        df.where("_1 > 0").collect()


# -- createDataFrame -------------------------------------------------------------------------------
def test_create_from_rows_tuples_dicts_and_names(spark):
    assert spark.createDataFrame([Row(word="a", n=1)]).columns == ["word", "n"]
    assert spark.createDataFrame([("a", 1)]).columns == ["_1", "_2"]
    assert spark.createDataFrame([("a", 1)], ["w", "n"]).collect() == [Row(w="a", n=1)]
    # dict keys are sorted, as PySpark infers them
    assert spark.createDataFrame([{"z": 1, "a": "x"}]).collect() == [Row(a="x", z=1)]
    assert spark.createDataFrame(["x", "y"]).columns == ["value"]


def test_create_with_ddl_and_struct_type(spark):
    df = spark.createDataFrame([("a", 1)], "word string, n int")
    assert df.dtypes == [("word", "string"), ("n", "int")]
    schema = T.StructType([T.StructField("w", T.StringType()), T.StructField("d", T.DoubleType())])
    df = spark.createDataFrame([("a", 1.5)], schema)
    assert df.schema == schema
    assert spark.createDataFrame([], "w string").count() == 0


def test_create_from_arrow_and_polars_is_zero_copy(spark):
    table = pa.table({"n": pa.array(range(1000), pa.int64())})
    df = spark.createDataFrame(table)
    assert df.toArrow() is table
    frame = pl.DataFrame({"s": ["a", "b"]})
    assert spark.createDataFrame(frame).collect() == [Row(s="a"), Row(s="b")]


@pytest.mark.filterwarnings("ignore::dstreams.FallbackWarning")  # Row(word=w) runs row-wise, as expected
def test_create_from_rdd_and_to_df():
    sc = SparkContext.getOrCreate()
    spark = SparkSession.builder.getOrCreate()
    try:
        rows = sc.parallelize(["a", "b"]).map(lambda w: Row(word=w))
        assert spark.createDataFrame(rows).collect() == [Row(word="a"), Row(word="b")]
        assert sc.parallelize([("a", 1)]).toDF().columns == ["_1", "_2"]
        assert sc.parallelize([("a", 1)]).toDF("w", "n").collect() == [Row(w="a", n=1)]
        assert sc.parallelize([{"b": 1, "a": 2}]).toDF().collect() == [Row(a=2, b=1)]
    finally:
        spark.stop()


def test_create_errors_are_clear(spark):
    with pytest.raises(SchemaError, match="empty dataset"):
        spark.createDataFrame([])
    with pytest.raises(SchemaError, match="no single SQL type"):
        spark.createDataFrame([(1,), ("a",)])
    with pytest.raises(SchemaError, match="2 column names"):
        spark.createDataFrame([(1,)], ["a", "b"])


# -- show() ----------------------------------------------------------------------------------------
def test_show_matches_spark_layout(spark, capsys):
    spark.createDataFrame([("hello", 2), ("a", 10)], ["word", "total"]).show()
    assert capsys.readouterr().out == (
        "+-----+-----+\n| word|total|\n+-----+-----+\n|hello|    2|\n|    a|   10|\n+-----+-----+\n\n"
    )


def test_show_truncates_and_counts_rows(spark, capsys):
    df = spark.createDataFrame([("x" * 25, None), ("y", 1.5)], "s string, d double")
    df.show(1)
    assert capsys.readouterr().out == (
        "+--------------------+----+\n"
        "|                   s|   d|\n"
        "+--------------------+----+\n"
        "|xxxxxxxxxxxxxxxxx...|NULL|\n"
        "+--------------------+----+\n"
        "only showing top 1 row\n"
        "\n"
    )
    df.show(truncate=False)
    assert capsys.readouterr().out == (
        "+-------------------------+----+\n"
        "|s                        |d   |\n"
        "+-------------------------+----+\n"
        "|xxxxxxxxxxxxxxxxxxxxxxxxx|NULL|\n"
        "|y                        |1.5 |\n"
        "+-------------------------+----+\n"
        "\n"
    )
    df.show(truncate=5)
    assert "|xx...|" in capsys.readouterr().out


def test_show_vertical_and_empty(spark, capsys):
    spark.createDataFrame([("a", 1)], ["word", "n"]).show(vertical=True)
    assert capsys.readouterr().out == "-RECORD 0---\n word | a   \n n    | 1   \n\n"
    spark.createDataFrame([], "word string").show()
    assert capsys.readouterr().out == "+----+\n|word|\n+----+\n+----+\n\n"


def test_show_cells_as_spark_writes_them():
    types = [pa.bool_(), pa.float64(), pa.float32(), pa.decimal128(5, 2), pa.date32(), pa.timestamp("us")]
    row = (
        True,
        1e7,
        0.1,
        decimal.Decimal("1.50"),
        dt.date(2024, 1, 2),
        dt.datetime(2024, 1, 2, 3, 4, 5, 500000),
    )
    text = format_table(list("abcdef"), types, [row], 20, 30)
    assert text.split("\n")[3] == "|true|1.0E7|0.1|1.50|2024-01-02|2024-01-02 03:04:05.5|"
    nested = [
        pa.list_(pa.int64()),
        pa.struct([("x", pa.int64()), ("y", pa.string())]),
        pa.map_(pa.string(), pa.int64()),
        pa.binary(),
    ]
    row = ([1, None], {"x": 1, "y": "a"}, [("k", 2)], b"\x01\xff")
    text = format_table(list("abcd"), nested, [row], 20, 20)
    assert text.split("\n")[3] == "|[1, NULL]|{1, a}|{k -> 2}|[01 FF]|"


def test_show_escapes_control_characters_and_counts_wide_characters():
    text = format_table(["s"], [pa.string()], [("a\tb",), ("日本",)], 20, 20)
    assert text.split("\n")[3:5] == ["|a\\tb|", "|日本|"]
    assert text.split("\n")[0] == "+----+"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1.0"),
        (0.001, "0.001"),
        (1e-4, "1.0E-4"),
        (1e7, "1.0E7"),
        (123456.789, "123456.789"),
        (-2.5e-10, "-2.5E-10"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
        (-0.0, "-0.0"),
    ],
)
def test_doubles_print_as_java(value, text):
    assert java_float(value) == text


# -- queries ---------------------------------------------------------------------------------------
def test_temp_view_and_sql(spark, capsys):
    words = spark.createDataFrame([Row(word=w) for w in "a b a c a".split()])
    words.createOrReplaceTempView("words")
    counts = spark.sql("select word, count(*) as total from words group by word")
    counts.show()
    assert sorted_rows(capsys.readouterr().out) == (
        "+----+-----+\n|word|total|\n+----+-----+\n|   a|    3|\n|   b|    1|\n|   c|    1|\n+----+-----+\n\n"
    )
    assert counts.count() == 3
    assert counts.columns == ["word", "total"]
    assert counts.dtypes == [("word", "string"), ("total", "bigint")]
    # replacing the view: the next query sees the new data
    spark.createDataFrame([Row(word="z")]).createOrReplaceTempView("words")
    assert spark.sql("select word from words").collect() == [Row(word="z")]


def test_dataframe_methods(spark):
    df = spark.createDataFrame([("a", 1), ("b", 2), ("a", 3), (None, 4)], ["word", "n"])
    assert df.select("n").where("n > 2").collect() == [Row(n=3), Row(n=4)]
    assert df.filter(F.col("n") < 2).select(F.col("word")).collect() == [Row(word="a")]
    assert df.orderBy("word").select("n").collect() == [Row(n=4), Row(n=1), Row(n=3), Row(n=2)]
    assert df.orderBy("n", ascending=False).limit(2).select("n").collect() == [Row(n=4), Row(n=3)]
    assert df.orderBy(F.desc("word")).first() == Row(word="b", n=2)
    grouped = df.groupBy("word").count().orderBy("word").collect()
    assert grouped == [Row(word=None, count=1), Row(word="a", count=2), Row(word="b", count=1)]
    agg = df.groupBy("word").agg(F.sum("n"), F.max("n").alias("top")).orderBy("word").collect()
    assert agg[1] == Row(word="a", **{"sum(n)": 4}, top=3)
    assert df.groupBy("word").agg({"n": "avg"}).columns == ["word", "avg(n)"]
    assert df.agg(F.count("*")).collect() == [Row(**{"count(1)": 4})]
    assert df.selectExpr("n * 10 AS m").where("m > 30").collect() == [Row(m=40)]
    assert df.withColumn("m", F.col("n") + 1).columns == ["word", "n", "m"]
    assert df.withColumnRenamed("n", "k").drop("word").count() == 4
    assert df.select("word").distinct().count() == 3
    assert df.toDF("a", "b").columns == ["a", "b"]
    assert df.take(1) == [Row(word="a", n=1)]
    assert df.isEmpty() is False


def test_joins_and_unions(spark):
    left = spark.createDataFrame([(1, "a"), (2, "b")], ["id", "x"])
    right = spark.createDataFrame([(1, "A")], ["id", "y"])
    assert left.join(right, "id").collect() == [Row(id=1, x="a", y="A")]
    assert left.join(right, "id", "left").orderBy("id").collect()[1] == Row(id=2, x="b", y=None)
    assert left.join(right, left.id == right.id, "anti").collect() == [Row(id=2, x="b")]
    assert left.union(left).count() == 4
    assert left.unionByName(left.select("x", "id")).count() == 4


def test_conversions(spark):
    df = spark.createDataFrame([("a", 1)], ["w", "n"]).where("n > 0")
    assert df.toArrow().to_pylist() == [{"w": "a", "n": 1}]
    assert df.toPolars().to_dicts() == [{"w": "a", "n": 1}]
    assert df.rdd.map(lambda r: r.w).collect() == ["a"]
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(NotSupportedError, match="pip install pandas"):
            df.toPandas()


def test_collect_nested_values_as_pyspark(spark):
    row = spark.sql("SELECT {'a': 1} AS s, [1, 2] AS l, map {'k': 2} AS m").collect()[0]
    assert row.s == Row(a=1) and row.l == [1, 2] and row.m == {"k": 2}


def test_print_schema(spark, capsys):
    spark.sql("SELECT 'a' AS word, 1::BIGINT AS n, [1] AS l").printSchema()
    assert capsys.readouterr().out == (
        "root\n |-- word: string (nullable = true)\n |-- n: long (nullable = true)\n"
        " |-- l: array (nullable = true)\n |    |-- element: integer (containsNull = true)\n\n"
    )


def test_cache_keeps_the_result(spark):
    spark.createDataFrame([(1,)], ["n"]).createOrReplaceTempView("v")
    cached = spark.sql("SELECT n FROM v").cache()
    spark.createDataFrame([(2,)], ["n"]).createOrReplaceTempView("v")
    assert cached.collect() == [Row(n=1)]


def test_write_parquet_modes(spark, tmp_path):
    df = spark.createDataFrame([("a", 1)], ["w", "n"])
    out = str(tmp_path / "out")
    df.write.parquet(out)
    assert (tmp_path / "out" / "_SUCCESS").exists()
    assert pq.read_table(out).to_pylist() == [{"w": "a", "n": 1}]
    with pytest.raises(AnalysisException, match="already exists"):
        df.write.parquet(out)
    df.write.parquet(out, mode="append")
    assert pq.read_table(out).num_rows == 2
    df.write.mode("overwrite").parquet(out)
    assert pq.read_table(out).num_rows == 1
    df.write.parquet(out, mode="ignore")
    assert pq.read_table(out).num_rows == 1
    assert spark.read.parquet(out).collect() == [Row(w="a", n=1)]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_sql_errors_are_translated(spark):
    spark.createDataFrame([(1,)], ["n"]).createOrReplaceTempView("t")
    with pytest.raises(ParseException, match="syntax error"):
        spark.sql("SELEC n FROM t")
    with pytest.raises(AnalysisException, match="nope"):
        spark.sql("SELECT nope FROM t")
    with pytest.raises(AnalysisException, match="missing_table"):
        spark.sql("SELECT * FROM missing_table")
    with pytest.raises(AnalysisException):
        spark.createDataFrame([(1,)], ["n"]).where("nope > 1")


def test_unsupported_methods_name_the_alternative(spark):
    df = spark.createDataFrame([(1,)], ["n"])
    with pytest.raises(NotSupportedError, match=r"stream\.sql"):
        df.writeStream
    with pytest.raises(NotSupportedError, match="DuckDB SQL expression"):
        spark.udf
    with pytest.raises(AttributeError, match="columns"):
        df.nothing
    assert df.n.name == "n"


def test_write_partitioned_parquet_and_csv(spark, tmp_path):
    df = spark.createDataFrame([("a", 1), ("b", 2)], ["k", "v"])
    df.write.partitionBy("k").parquet(str(tmp_path / "p"))
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["_SUCCESS", "k=a", "k=b"]
    assert spark.read.parquet(str(tmp_path / "p")).orderBy("v").collect() == [
        Row(v=1, k="a"),
        Row(v=2, k="b"),
    ]
    df.write.csv(str(tmp_path / "c"), header=True)
    assert spark.read.csv(str(tmp_path / "c"), header=True).orderBy("v").collect() == df.collect()


def test_sql_placeholders_take_dataframes(spark):
    import gc

    df = spark.createDataFrame([(1,), (2,)], ["n"])
    result = spark.sql("SELECT sum(n) AS total FROM {t} WHERE n > {low}", t=df, low=0)
    assert result.collect() == [Row(total=3)]
    assert len(spark.catalog.listTables()) == 1  # the placeholder's view lives as long as the result
    del result
    gc.collect()
    assert spark.catalog.listTables() == []
