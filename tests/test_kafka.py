"""Kafka direct stream: exact offset ranges per batch, columns, rate limits, offsets kept by the engine.

Fast tests use an in-memory fake consumer on the manual clock; the integration tests use librdkafka's
in-process mock cluster (the real Kafka protocol, see ``_servers.kafka_bootstrap``).
"""

from __future__ import annotations

import datetime
import threading
import time
from types import SimpleNamespace

import pyarrow as pa
import pytest
from _servers import kafka_bootstrap  # noqa: F401 - fixture

from dstreams import BatchError, ManualClock, SparkConf, SparkContext, StreamingContext
from dstreams.receivers import kafka
from dstreams.receivers.kafka import (
    KafkaSourceError,
    KafkaUtils,
    OffsetRange,
    TopicAndPartition,
    offset_ranges,
)


# -- an in-memory stand-in for confluent_kafka.Consumer ------------------------------------------------
class FakeMessage:
    def __init__(self, topic, partition, offset, key, value, headers=None, timestamp=(1, 1_000)):
        self._m = (topic, partition, offset, key, value, headers, timestamp)

    def topic(self):
        return self._m[0]

    def partition(self):
        return self._m[1]

    def offset(self):
        return self._m[2]

    def key(self):
        return self._m[3]

    def value(self):
        return self._m[4]

    def headers(self):
        return self._m[5]

    def timestamp(self):
        return self._m[6]

    def error(self):
        return None


class FakeCluster:
    """Topics of partitions; each partition a log whose first offset is ``low``."""

    def __init__(self, **topics: int):
        self.logs = {(t, p): [] for t, n in topics.items() for p in range(n)}
        self.low = dict.fromkeys(self.logs, 0)

    def produce(self, topic, value, key=None, partition=0, headers=None, timestamp=(1, 1_000)):
        log = self.logs[(topic, partition)]
        offset = self.low[(topic, partition)] + len(log)
        log.append(FakeMessage(topic, partition, offset, key, value, headers, timestamp))

    def add_partition(self, topic):
        p = max(q for t, q in self.logs if t == topic) + 1
        self.logs[(topic, p)] = []
        self.low[(topic, p)] = 0

    def delete_before(self, topic, partition, offset):
        """Retention: messages before ``offset`` are gone."""
        key = (topic, partition)
        self.logs[key] = self.logs[key][offset - self.low[key] :]
        self.low[key] = offset


class FakeConsumer:
    """The methods of KafkaConsumerLike. ``per_call``: messages per partition per consume() call
    (small values interleave partitions); ``stalled``: consume() returns nothing."""

    def __init__(self, cluster: FakeCluster, per_call: int = 1_000):
        self.cluster = cluster
        self.pos: dict = {}
        self.paused: set = set()
        self.per_call = per_call
        self.stalled = False
        self.closed = False
        self.calls = {"seek": 0, "pause": 0, "resume": 0, "assign": 0}

    def list_topics(self, topic=None, timeout=-1):
        names = {t for t, _ in self.cluster.logs}
        topics = {}
        for name in [topic] if topic else sorted(names):
            if name in names:
                parts = {p: None for t, p in self.cluster.logs if t == name}
                topics[name] = SimpleNamespace(partitions=parts, error=None)
            else:
                error = SimpleNamespace(code=lambda: 3, __str__=lambda: "Unknown topic")
                topics[name] = SimpleNamespace(partitions={}, error=error)
        return SimpleNamespace(topics=topics)

    def get_watermark_offsets(self, tp, timeout=-1, cached=False):
        key = (tp.topic, tp.partition)
        return self.cluster.low[key], self.cluster.low[key] + len(self.cluster.logs[key])

    def assign(self, tps):
        self.calls["assign"] += 1
        self.pos = {(tp.topic, tp.partition): tp.offset for tp in tps}
        self.paused = set()

    def seek(self, tp):
        self.calls["seek"] += 1
        self.pos[(tp.topic, tp.partition)] = tp.offset

    def pause(self, tps):
        self.calls["pause"] += 1
        self.paused |= {(tp.topic, tp.partition) for tp in tps}

    def resume(self, tps):
        self.calls["resume"] += 1
        self.paused -= {(tp.topic, tp.partition) for tp in tps}

    def position(self, tps):
        return [
            SimpleNamespace(
                topic=tp.topic, partition=tp.partition, offset=self.pos.get((tp.topic, tp.partition), -1001)
            )
            for tp in tps
        ]

    def consume(self, num_messages=1, timeout=-1):
        if self.stalled:
            time.sleep(min(timeout, 0.01))
            return []
        out = []
        for key in sorted(self.pos):
            if key in self.paused:
                continue
            log, low = self.cluster.logs[key], self.cluster.low[key]
            start = max(self.pos[key], low)
            got = log[start - low : start - low + min(self.per_call, num_messages - len(out))]
            out.extend(got)
            if got:
                self.pos[key] = got[-1].offset() + 1
        return out

    def close(self):
        self.closed = True


def make_stream(ssc, cluster, topics=("t",), params=None, per_call=1_000, **options):
    consumer = FakeConsumer(cluster, per_call)
    params = {"bootstrap.servers": "fake:9092", **(params or {})}
    stream = KafkaUtils.createDirectStream(ssc, list(topics), params, consumer=consumer, **options)
    return stream, consumer


def collect(ssc, clock, stream, n, before=None):
    """Per batch: (rows as dicts without metadata noise, offset ranges, partition count)."""
    out = []

    def grab(rdd):
        table = rdd.toArrow()
        out.append(
            (
                table.select(["key", "value", "partition", "offset"]).to_pylist(),
                offset_ranges(rdd),
                rdd.getNumPartitions(),
            )
        )

    stream.foreachRDD(grab)
    ssc.start()
    for i in range(n):
        if before is not None:
            before(i)
        try:
            clock.advance(1)
        except BatchError:
            pass  # the test checks it through ssc.awaitTermination*, which raises it again
    ssc.stop(stopSparkContext=False)
    return out


def rows(batch):
    return [(r["partition"], r["offset"], r["value"]) for r in batch[0]]


# -- batches are offset ranges ---------------------------------------------------------------------------
def test_each_batch_reads_the_new_offsets_of_every_partition(ssc, clock):
    cluster = FakeCluster(t=2)
    cluster.produce("t", "old", partition=0)  # before the start: skipped (auto.offset.reset=largest)
    stream, consumer = make_stream(ssc, cluster)

    def produce(i):
        if i == 0:
            cluster.produce("t", "a", key="k", partition=0)
            cluster.produce("t", "b", partition=1)
            cluster.produce("t", "c", partition=0)
        if i == 2:
            cluster.produce("t", "d", partition=1)

    got = collect(ssc, clock, stream, 3, before=produce)
    assert [rows(b) for b in got] == [[(0, 1, "a"), (0, 2, "c"), (1, 0, "b")], [], [(1, 1, "d")]]
    assert got[0][0][0]["key"] == "k" and got[0][0][1]["key"] is None
    assert got[0][1] == [OffsetRange("t", 0, 1, 3), OffsetRange("t", 1, 0, 1)]
    assert got[1][1] == [OffsetRange("t", 0, 3, 3), OffsetRange("t", 1, 1, 1)]
    assert got[2][1] == [OffsetRange("t", 0, 3, 3), OffsetRange("t", 1, 1, 2)]
    assert [b[2] for b in got] == [2, 2, 2]  # one RDD partition per Kafka partition, as Spark
    assert consumer.closed


def test_rows_have_sparks_kafka_columns_and_read_as_key_value_tuples(ssc, clock):
    cluster = FakeCluster(t=1)
    stream, _ = make_stream(ssc, cluster, params={"auto.offset.reset": "smallest"})
    cluster.produce("t", b"v1", key=b"k1", headers=[("h", b"x"), ("n", None)], timestamp=(1, 1_500))
    cluster.produce("t", b"v2", timestamp=(0, -1))  # no timestamp
    tables, values = [], []
    stream.foreachRDD(lambda rdd: tables.append(rdd.toArrow()))
    stream.map(lambda m: m[1]).foreachRDD(lambda rdd: values.append(rdd.collect()))  # PySpark: x[1]
    ssc.start()
    clock.advance(1)
    ssc.stop(stopSparkContext=False)
    table = tables[0]
    assert table.schema.names == [
        "key",
        "value",
        "topic",
        "partition",
        "offset",
        "timestamp",
        "timestampType",
        "headers",
    ]
    assert table.schema.field("timestamp").type == pa.timestamp("ms")
    assert table.schema.field("partition").type == pa.int32()
    got = table.to_pylist()
    assert got[0]["headers"] == [{"key": "h", "value": b"x"}, {"key": "n", "value": None}]
    assert [r["timestampType"] for r in got] == [0, -1]
    assert got[1]["timestamp"] is None and got[1]["headers"] == []
    assert values == [["v1", "v2"]]


def test_empty_batches_keep_the_columns(ssc, clock):
    cluster = FakeCluster(t=1)
    stream, _ = make_stream(ssc, cluster)
    schemas = []
    stream.foreachRDD(lambda rdd: schemas.append(rdd.toArrow().schema))
    ssc.start()
    clock.advance(1)
    ssc.stop(stopSparkContext=False)
    assert schemas[0].names[:2] == ["key", "value"] and schemas[0].field("value").type == pa.string()


def test_from_offsets_reads_exactly_those_partitions(ssc, clock):
    cluster = FakeCluster(t=3)
    for p in range(3):
        for i in range(4):
            cluster.produce("t", f"{p}{i}", partition=p)
    stream, _ = make_stream(ssc, cluster, fromOffsets={TopicAndPartition("t", 1): 2, ("t", 2): -2})
    got = collect(ssc, clock, stream, 1)
    assert rows(got[0]) == [
        (1, 2, "12"),
        (1, 3, "13"),
        (2, 0, "20"),
        (2, 1, "21"),
        (2, 2, "22"),
        (2, 3, "23"),
    ]
    assert got[0][1] == [OffsetRange("t", 1, 2, 4), OffsetRange("t", 2, 0, 4)]


# -- rate limits ------------------------------------------------------------------------------------------
def test_max_rate_per_partition_splits_a_backlog_over_batches_without_loss(clock):
    conf = SparkConf().set("spark.streaming.kafka.maxRatePerPartition", "2")
    ssc = StreamingContext(SparkContext(conf=conf), 1, clock=clock)
    try:
        cluster = FakeCluster(t=2)
        for i in range(5):
            cluster.produce("t", f"a{i}", partition=0)
        cluster.produce("t", "b0", partition=1)
        stream, _ = make_stream(ssc, cluster, params={"auto.offset.reset": "earliest"})
        got = collect(ssc, clock, stream, 4)
    finally:
        ssc.stop()
    assert [[v for _, _, v in rows(b)] for b in got] == [["a0", "a1", "b0"], ["a2", "a3"], ["a4"], []]
    assert [r.count() for r in got[0][1]] == [2, 1]


def test_max_rate_keyword_overrides_the_conf(ssc, clock):
    cluster = FakeCluster(t=1)
    for i in range(3):
        cluster.produce("t", str(i))
    stream, _ = make_stream(ssc, cluster, params={"auto.offset.reset": "earliest"}, maxRatePerPartition=1.5)
    got = collect(ssc, clock, stream, 3)
    assert [len(b[0]) for b in got] == [1, 1, 1]  # int(1.5 * 1 s), at least 1


def test_backpressure_initial_rate_is_split_by_lag(clock):
    conf = (
        SparkConf()
        .set("spark.streaming.backpressure.enabled", "true")
        .set("spark.streaming.backpressure.initialRate", "4")
    )
    ssc = StreamingContext(SparkContext(conf=conf), 1, clock=clock)
    try:
        cluster = FakeCluster(t=2)
        for i in range(6):
            cluster.produce("t", f"a{i}", partition=0)
        for i in range(2):
            cluster.produce("t", f"b{i}", partition=1)
        stream, _ = make_stream(ssc, cluster, params={"auto.offset.reset": "earliest"})
        got = collect(ssc, clock, stream, 1)
    finally:
        ssc.stop()
    # lag 6 and 2, rate 4/s: 3 and 1 records (Spark's maxMessagesPerPartition)
    assert [r.count() for r in got[0][1]] == [3, 1]


def test_batch_info_has_the_records_offsets_and_lag(ssc, clock):
    cluster = FakeCluster(t=2)
    for i in range(3):
        cluster.produce("t", str(i), partition=0)
    stream, _ = make_stream(ssc, cluster, params={"auto.offset.reset": "earliest"}, maxRatePerPartition=2)
    collect(ssc, clock, stream, 2)
    infos = ssc.batch_infos
    assert [i.numRecords() for i in infos] == [2, 1]
    # Until the scheduler copies _input_metadata into StreamInputInfo, read it from the stream.
    meta = infos[0].stream_inputs[stream._id].metadata or stream._input_metadata(infos[0].batch_time)
    assert meta["offsets"][0] == {"topic": "t", "partition": 0, "from": 0, "until": 2}
    assert meta["Description"].splitlines()[0] == "topic: t\tpartition: 0\toffsets: 0 to 2"
    assert (meta["records"], meta["lag"], meta["maxRatePerPartition"]) == (2, 1, 2.0)


# -- values ---------------------------------------------------------------------------------------------
SCHEMA = pa.schema([("id", pa.int32()), ("name", pa.string()), ("at", pa.timestamp("ms"))])


def json_batches(ssc, clock, values, **options):
    cluster = FakeCluster(t=1)
    for v in values:
        cluster.produce("t", v)
    stream, _ = make_stream(
        ssc, cluster, params={"auto.offset.reset": "earliest"}, value_format="json", schema=SCHEMA, **options
    )
    tables = []
    stream.foreachRDD(lambda rdd: tables.append(rdd.toArrow()))
    ssc.start()
    try:
        clock.advance(1)
    except BatchError:
        pass  # the test checks it through ssc.awaitTermination*, which raises it again
    ssc.stop(stopSparkContext=False)
    return tables


def test_json_values_become_the_schema_columns(ssc, clock):
    values = [b'{"id": 1, "name": "a", "at": "2024-01-02T03:04:05", "extra": [1]}', b'{\n "id": 2\n}', None]
    (table,) = json_batches(ssc, clock, values)
    assert table.schema.names[:5] == ["id", "name", "at", "key", "topic"]
    assert table.schema.field("id").type == pa.int32()
    got = table.select(["id", "name"]).to_pylist()
    assert got == [{"id": 1, "name": "a"}, {"id": 2, "name": None}, {"id": None, "name": None}]
    assert table.column("at")[0].as_py() == datetime.datetime(2024, 1, 2, 3, 4, 5)


def test_json_that_does_not_fit_fails_the_batch_naming_the_offset(ssc, clock):
    json_batches(ssc, clock, [b'{"id": 1}', b'{"id": 1.5}'])
    with pytest.raises(BatchError) as info:
        ssc.awaitTerminationOrTimeout(0)
    cause = info.value.__cause__
    assert isinstance(cause, KafkaSourceError)
    assert "t/0 offset 1" in str(cause) and "PERMISSIVE" in str(cause)


def test_json_permissive_keeps_bad_values_in_corrupt_record(ssc, clock):
    bad = [b"null", b'{"id": 1} {"id": 2}', b"[1]", b"\xff", b'{"id": "x"}', b"{bad"]
    (table,) = json_batches(ssc, clock, [b'{"id": 7}', *bad], json_mode="PERMISSIVE")
    assert table.column("id").to_pylist() == [7, *[None] * len(bad)]
    corrupt = table.column("_corrupt_record").to_pylist()
    assert corrupt[0] is None and corrupt[1:] == [b.decode("utf-8", "replace") for b in bad]


def test_invalid_utf8_is_an_error_and_bytes_format_keeps_it(ssc, clock):
    cluster = FakeCluster(t=1)
    cluster.produce("t", b"\xffbad")
    stream, _ = make_stream(ssc, cluster, params={"auto.offset.reset": "earliest"})
    stream.pprint()
    ssc.start()
    with pytest.raises(BatchError):  # clock.advance raises the first batch error
        clock.advance(1)
    with pytest.raises(BatchError, match="not UTF-8") as info:
        ssc.awaitTerminationOrTimeout(0)
    assert "value_format='bytes'" in str(info.value.__cause__)
    ssc.stop(stopSparkContext=False)


def test_bytes_format_and_pyspark_decoders_and_message_handler(clock):
    cluster = FakeCluster(t=1)
    cluster.produce("t", b"\xc3\xa9", key=b"k")
    got = {}

    def keep(name):
        return lambda rdd: got.setdefault(name, rdd.collect())

    for name, options in [
        ("bytes", {"value_format": "bytes"}),
        ("decoder", {"valueDecoder": lambda b: len(b)}),
        ("handler", {"messageHandler": lambda m: (m.topic, m.offset, m.key)}),
    ]:
        ssc = StreamingContext(SparkContext.getOrCreate(), 1, clock=clock)
        stream, _ = make_stream(ssc, cluster, params={"auto.offset.reset": "earliest"}, **options)
        stream.foreachRDD(keep(name))
        ssc.start()
        clock.advance(1)
        ssc.stop(stopSparkContext=False)
    assert got["bytes"][0].value == b"\xc3\xa9"
    assert got["decoder"][0].value == 2 and got["decoder"][0].key == "k"
    assert got["handler"] == [("t", 0, "k")]


def test_json_schema_clashing_with_message_columns_is_refused(ssc):
    cluster = FakeCluster(t=1)
    with pytest.raises(kafka.ConfigurationError, match=r"\['timestamp'\]"):
        make_stream(ssc, cluster, value_format="json", schema=pa.schema([("timestamp", pa.int64())]))
    with pytest.raises(kafka.ConfigurationError, match="needs schema"):
        make_stream(ssc, cluster, value_format="json")


# -- errors -----------------------------------------------------------------------------------------------
def test_a_topic_that_does_not_exist_fails_at_creation(ssc):
    with pytest.raises(KafkaSourceError, match=r"'nope'.*does not exist.*Create the topic"):
        make_stream(ssc, FakeCluster(t=1), topics=["t", "nope"])
    with pytest.raises(KafkaSourceError, match="partition 5 of Kafka topic 't'"):
        make_stream(ssc, FakeCluster(t=1), fromOffsets={("t", 5): 0})


def test_from_offsets_outside_the_log_fail_at_start(ssc):
    cluster = FakeCluster(t=1)
    cluster.produce("t", "x")
    stream, _ = make_stream(ssc, cluster, fromOffsets={("t", 0): 9})
    stream.pprint()
    with pytest.raises(KafkaSourceError, match=r"outside the offsets on the broker \[0, 1\]"):
        ssc.start()


def test_offsets_deleted_by_retention_name_the_way_out(ssc, clock):
    cluster = FakeCluster(t=1)
    stream, _ = make_stream(ssc, cluster, params={"auto.offset.reset": "earliest"}, maxRatePerPartition=1)
    for i in range(3):
        cluster.produce("t", str(i))

    def expire(i):
        if i == 1:
            cluster.delete_before("t", 0, 2)

    collect(ssc, clock, stream, 2, before=expire)
    with pytest.raises(BatchError) as info:
        ssc.awaitTerminationOrTimeout(0)
    assert "offset 1 is no longer on the broker (the oldest is 2" in str(info.value.__cause__)
    assert "fromOffsets={('t', 0): 2}" in str(info.value.__cause__)


def test_offset_ranges_only_on_the_streams_own_batches(ssc, clock):
    stream, _ = make_stream(ssc, FakeCluster(t=1))
    errors = []

    def check(rdd):
        try:
            offset_ranges(rdd)
        except kafka.ConfigurationError as error:
            errors.append(str(error))

    stream.map(lambda m: m.value).foreachRDD(check)
    ssc.start()
    clock.advance(1)
    ssc.stop(stopSparkContext=False)
    assert len(errors) == 1 and "createDirectStream returned" in errors[0]


# -- reading: interleaving, buffering, timeouts ------------------------------------------------------------
def test_messages_past_a_range_wait_for_the_next_batch(ssc, clock):
    """A consumer hands out messages beyond a batch's range (other partitions are still being read):
    they are kept for the next batch, not lost and not read twice."""
    cluster = FakeCluster(t=2)
    for i in range(6):
        cluster.produce("t", f"a{i}", partition=0)
    for i in range(2):
        cluster.produce("t", f"b{i}", partition=1)
    stream, consumer = make_stream(
        ssc, cluster, params={"auto.offset.reset": "earliest"}, per_call=1, maxRatePerPartition=2
    )
    got = collect(ssc, clock, stream, 4)
    assert [[v for _, _, v in rows(b)] for b in got] == [
        ["a0", "a1", "b0", "b1"],
        ["a2", "a3"],
        ["a4", "a5"],
        [],
    ]
    assert consumer.calls["seek"] == 0


def test_a_partition_far_ahead_is_paused_to_bound_memory(ssc, clock, monkeypatch):
    monkeypatch.setattr(kafka, "_BUFFER_LIMIT", 3)
    cluster = FakeCluster(t=2)
    for i in range(20):
        cluster.produce("t", f"a{i}", partition=0)
    for i in range(10):
        cluster.produce("t", f"b{i}", partition=1)
    stream, consumer = make_stream(
        ssc, cluster, params={"auto.offset.reset": "earliest"}, per_call=2, maxRatePerPartition=5
    )
    got = collect(ssc, clock, stream, 5)
    values = [v for b in got for _, _, v in rows(b)]
    assert sorted(values) == sorted([f"a{i}" for i in range(20)] + [f"b{i}" for i in range(10)])
    assert len(values) == 30  # nothing read twice
    assert consumer.calls["pause"] > 0 and consumer.calls["resume"] > 0


def test_a_read_that_times_out_skips_the_batch_and_the_next_one_reads_its_range(ssc, clock):
    cluster = FakeCluster(t=1)
    stream, consumer = make_stream(ssc, cluster, poll_timeout=0.05)

    def step(i):
        if i == 0:
            cluster.produce("t", "x")
            consumer.stalled = True
        if i == 1:
            consumer.stalled = False
            cluster.produce("t", "y")

    got = collect(ssc, clock, stream, 2, before=step)
    assert len(got) == 1 and rows(got[0]) == [(0, 0, "x"), (0, 1, "y")]
    assert got[0][1] == [OffsetRange("t", 0, 0, 2)]
    with pytest.raises(BatchError, match="timed out at offset 0"):
        ssc.awaitTerminationOrTimeout(0)


def test_partitions_added_later_are_read_from_their_start(ssc, clock):
    cluster = FakeCluster(t=1)
    stream, _ = make_stream(ssc, cluster)

    def grow(i):
        if i == 1:
            cluster.add_partition("t")
            cluster.produce("t", "new", partition=1)
            cluster.produce("t", "old-p", partition=0)

    got = collect(ssc, clock, stream, 2, before=grow)
    assert rows(got[1]) == [(0, 0, "old-p"), (1, 0, "new")]
    assert got[1][2] == 2


# -- offsets are the engine's: state and restore -----------------------------------------------------------
@pytest.mark.parametrize("restart_clock", ["later", "behind"])
def test_state_and_restore_read_every_offset_exactly_once(clock, restart_clock):
    """The pending batch is read again first, whether the new context's batch times come after
    the pending batch's time or (a clock set back) before it."""
    cluster = FakeCluster(t=2)
    for i in range(3):
        cluster.produce("t", f"a{i}", partition=0)
    cluster.produce("t", "b0", partition=1)
    params = {"auto.offset.reset": "earliest"}
    first = StreamingContext(SparkContext.getOrCreate(), 1, clock=clock)
    stream, _ = make_stream(first, cluster, params=params, maxRatePerPartition=1)
    seen, states = [], []

    def crash_after_reading(rdd):  # the process dies during batch 2, before its output is done
        if len(seen) == 1:
            states.append(stream.state())
            return
        seen.append([(r.partition, r.value) for r in rdd.collect()])

    stream.foreachRDD(crash_after_reading)
    first.start()
    clock.advance(1)
    clock.advance(1)
    first.stop(stopSparkContext=False)
    state = states[0]
    assert state["offsets"] == [
        {"topic": "t", "partition": 0, "offset": 2},
        {"topic": "t", "partition": 1, "offset": 1},
    ]
    (pending,) = state["batches"].values()
    assert pending == [
        {"topic": "t", "partition": 0, "from": 1, "until": 2},
        {"topic": "t", "partition": 1, "from": 1, "until": 1},
    ]

    cluster.produce("t", "b1", partition=1)
    second = StreamingContext(
        SparkContext.getOrCreate(),
        1,
        clock=ManualClock(clock.now_ms() + 10_000 if restart_clock == "later" else 0),
    )
    try:
        again, _ = make_stream(second, cluster, params=params, maxRatePerPartition=1)
        again.restore(state)
        got = collect(second, second.clock, again, 3)
    finally:
        second.stop()
    assert seen == [[(0, "a0"), (1, "b0")]]
    assert [[(p, v) for p, _, v in rows(b)] for b in got] == [[(0, "a1")], [(0, "a2"), (1, "b1")], []]
    assert got[0][1] == [OffsetRange("t", 0, 1, 2), OffsetRange("t", 1, 1, 1)]


def test_restore_rejects_what_is_not_a_state(ssc):
    stream, _ = make_stream(ssc, FakeCluster(t=1))
    with pytest.raises(kafka.ConfigurationError, match="not a state"):
        stream.restore({"nope": 1})


# -- librdkafka's mock cluster: the real protocol ----------------------------------------------------------
def produce(bootstrap, topic, n, start=0):
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    for i in range(start, start + n):
        producer.produce(topic, key=f"k{i}", value=f"v{i}", partition=i % 4, headers=[("i", str(i).encode())])
    assert producer.flush(10) == 0


def test_mock_cluster_batches_read_each_message_once(ssc, clock, kafka_bootstrap):  # noqa: F811
    topic = "orders-manual"
    produce(kafka_bootstrap, topic, 8)  # creates the topic (4 partitions)
    stream = KafkaUtils.createDirectStream(
        ssc,
        [topic],
        {"metadata.broker.list": kafka_bootstrap, "auto.offset.reset": "smallest"},
        maxRatePerPartition=1,
    )
    batches = []
    stream.foreachRDD(lambda rdd: batches.append((rdd.toArrow().to_pylist(), offset_ranges(rdd))))
    ssc.start()
    clock.advance(1)
    produce(kafka_bootstrap, topic, 4, start=8)
    for _ in range(3):
        clock.advance(1)
    ssc.stop(stopSparkContext=False)
    values = [[r["value"] for r in b] for b, _ in batches]
    assert values == [["v0", "v1", "v2", "v3"], ["v4", "v5", "v6", "v7"], ["v8", "v9", "v10", "v11"], []]
    assert batches[0][1] == [OffsetRange(topic, p, 0, 1) for p in range(4)]
    first = batches[0][0][1]
    assert (first["key"], first["partition"], first["offset"], first["headers"]) == (
        "k1",
        1,
        0,
        [{"key": "i", "value": b"1"}],
    )
    assert first["timestampType"] == 0 and first["timestamp"] is not None


def test_mock_cluster_unknown_topic_is_not_created(ssc, kafka_bootstrap):  # noqa: F811
    with pytest.raises(KafkaSourceError, match=r"'never-made'.*does not exist"):
        KafkaUtils.createDirectStream(ssc, ["never-made"], {"bootstrap.servers": kafka_bootstrap})


@pytest.mark.slow
def test_mock_cluster_real_clock_end_to_end(kafka_bootstrap):  # noqa: F811
    """A producer writes for ~2 s while 0.5 s batches read: every message exactly once, in order."""
    topic = "orders-realtime"
    produce(kafka_bootstrap, topic, 4)
    ssc = StreamingContext(SparkContext.getOrCreate(), 0.5)
    stream = KafkaUtils.createDirectStream(
        ssc, [topic], {"bootstrap.servers": kafka_bootstrap, "auto.offset.reset": "earliest"}
    )
    got, lock = [], threading.Lock()

    def keep(rdd):
        with lock:
            got.extend((r.partition, r.offset, r.value) for r in rdd.collect())

    stream.foreachRDD(keep)
    ssc.start()
    try:
        for i in range(20):
            produce(kafka_bootstrap, topic, 10, start=4 + 10 * i)
            time.sleep(0.1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with lock:
                if len(got) >= 204:
                    break
            time.sleep(0.1)
    finally:
        ssc.stop(stopSparkContext=False)
    assert sorted(v for _, _, v in got) == sorted(f"v{i}" for i in range(204))
    for p in range(4):
        offsets = [o for q, o, _ in got if q == p]
        assert offsets == list(range(51))
