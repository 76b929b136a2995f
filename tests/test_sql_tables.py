"""Enrichment: ssc.register_table(name, source, refresh=...) joined in stream SQL and spark.sql."""

from __future__ import annotations

import os

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import run_batches

from dstreams import ConfigurationError, Row
from dstreams.sql import SparkSession
from dstreams.sql.tables import current


@pytest.fixture(autouse=True)
def fresh_session():
    yield
    SparkSession.builder.getOrCreate().stop()


QUERY = "SELECT e.user, u.country FROM batch e LEFT JOIN users u USING (user) ORDER BY e.user"


def events(ssc, n_batches: int):
    return ssc.queueStream([pa.table({"user": ["u1", "u2"]}) for _ in range(n_batches)])


def write_users(path, country_of_u1: str) -> None:
    tmp = f"{path}.tmp"
    pq.write_table(pa.table({"user": ["u1", "u2"], "country": [country_of_u1, "de"]}), tmp)
    os.replace(tmp, path)  # a reader sees the old file or the new one, never half of one
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # a distinct mtime


@pytest.mark.parametrize(
    "source",
    [
        pa.table({"user": ["u1"], "country": ["fr"]}),
        pl.DataFrame({"user": ["u1"], "country": ["fr"]}),
        pl.LazyFrame({"user": ["u1"], "country": ["fr"]}),
        lambda: pa.table({"user": ["u1"], "country": ["fr"]}),
    ],
    ids=["arrow", "polars", "lazyframe", "function"],
)
def test_sources(ssc, clock, source):
    ssc.register_table("users", source)
    out = events(ssc, 1).sql(QUERY)
    assert run_batches(ssc, clock, out, 1) == [[Row(user="u1", country="fr"), Row(user="u2", country=None)]]


def test_duckdb_relation_and_parquet_sources(ssc, clock, tmp_path):
    rel = duckdb.connect().sql("SELECT 'u2' AS user, 'it' AS country")
    ssc.register_table("users", rel)
    path = tmp_path / "users.parquet"
    write_users(path, "fr")
    ssc.register_table("users_file", str(path))
    both = events(ssc, 1).sql(
        "SELECT e.user, u.country, f.country AS file_country FROM batch e "
        "LEFT JOIN users u USING (user) JOIN users_file f USING (user) ORDER BY e.user"
    )
    assert run_batches(ssc, clock, both, 1) == [
        [Row(user="u1", country=None, file_country="fr"), Row(user="u2", country="it", file_country="de")]
    ]


def test_visible_to_spark_sql_in_foreach_rdd(ssc, clock):
    ssc.register_table("users", pa.table({"user": ["u1"], "country": ["fr"]}))
    seen = []

    def process(rdd):
        spark = SparkSession.builder.getOrCreate()
        rdd.toDF().createOrReplaceTempView("ev")
        seen.append(spark.sql("SELECT u.country FROM ev JOIN users u USING (user)").collect())

    events(ssc, 1).foreachRDD(process)
    ssc.start()
    clock.advance(1)
    ssc.stop(stopSparkContext=False)
    assert seen == [[Row(country="fr")]]


def test_refresh_when_the_file_changes(ssc, clock, tmp_path):
    path = tmp_path / "users.parquet"
    write_users(path, "fr")
    ssc.register_table("users", str(path), refresh="on_change")
    out = []
    events(ssc, 3).sql(QUERY).foreachRDD(lambda rdd: out.append(rdd.collect()[0].country))
    ssc.start()
    clock.advance(1)
    write_users(path, "es")  # seen at the end of batch 2, so batch 3 is the first with it
    clock.advance(1)
    clock.advance(1)
    ssc.stop(stopSparkContext=False)
    assert out == ["fr", "fr", "es"]


def test_refresh_on_a_schedule(ssc, clock):
    versions = iter(["v1", "v2", "v3", "v4"])
    ssc.register_table("users", lambda: pa.table({"user": ["u1"], "country": [next(versions)]}), refresh=2)
    out = []
    events(ssc, 5).sql(QUERY).foreachRDD(lambda rdd: out.append(rdd.collect()[0].country))
    ssc.start()
    for _ in range(5):
        clock.advance(1)
    ssc.stop(stopSparkContext=False)
    # v1 (loaded at registration) serves from time 0, so batch 2 (at 2 s) gets v2, batch 4 v3
    assert out == ["v1", "v2", "v2", "v3", "v3"]


def test_a_failed_refresh_keeps_the_previous_version(ssc, clock, tmp_path, caplog):
    path = tmp_path / "users.parquet"
    write_users(path, "fr")
    ssc.register_table("users", str(path), refresh="on_change")
    out = []
    events(ssc, 4).sql(QUERY).foreachRDD(lambda rdd: out.append(rdd.collect()[0].country))
    ssc.start()
    clock.advance(1)
    path.write_bytes(b"not parquet")  # a writer that rewrites the file in place, caught half-way
    clock.advance(1)
    write_users(path, "es")
    clock.advance(1)
    clock.advance(1)
    ssc.stop(stopSparkContext=False)
    assert out == ["fr", "fr", "fr", "es"]
    assert "keeping the previous version" in caplog.text
    assert current(ssc, "users").column("country").to_pylist() == ["es", "de"]


def test_bad_registrations(ssc, tmp_path):
    with pytest.raises(ConfigurationError, match="no Parquet file"):
        ssc.register_table("users", str(tmp_path / "missing.parquet"))
    with pytest.raises(ConfigurationError, match="cannot change"):
        ssc.register_table("users", pa.table({"a": [1]}), refresh=10)
    with pytest.raises(ConfigurationError, match="watches files"):
        ssc.register_table("users", lambda: pa.table({"a": [1]}), refresh="on_change")
    with pytest.raises(ConfigurationError, match="plain identifier"):
        ssc.register_table("my users", pa.table({"a": [1]}))
    ssc.queueStream([[1]]).sql("SELECT * FROM events", name="events")
    with pytest.raises(ConfigurationError, match="already names a stream"):
        ssc.register_table("events", pa.table({"a": [1]}))
    ssc.register_table("users", pa.table({"a": [1]}))
    with pytest.raises(ConfigurationError, match="register_table"):
        ssc.queueStream([[1]]).sql("SELECT 1", name="users")
