"""Kafka direct stream: every batch reads an exact offset range per partition (``dstreams[kafka]``).

Spark's ``KafkaUtils.createDirectStream`` without a receiver. When the timer generates batch ``t``,
the stream asks each partition for its latest offset, cuts the range ``[next, latest)`` (at most
``maxRatePerPartition * batch seconds`` records per partition), reads exactly those messages and
moves ``next`` on. The batch has one partition per Kafka partition and each row is a message:

>>> from dstreams.receivers.kafka import KafkaUtils, offset_ranges
>>> stream = KafkaUtils.createDirectStream(ssc, ["events"], {"bootstrap.servers": "localhost:9092"})
>>> stream.map(lambda m: m.value).pprint()                 # m: Row(key, value, topic, partition, ...)
>>> stream.foreachRDD(lambda rdd: print(offset_ranges(rdd)))

Columns, named as Spark SQL's Kafka source names them: ``key``, ``value``, ``topic``, ``partition``
(int32), ``offset`` (int64), ``timestamp`` (timestamp[ms], null when the message has none),
``timestampType`` (Kafka's ids: 0 create time, 1 log-append time, -1 none) and ``headers``
(list of ``{key, value}`` structs). Since key and value come first, PySpark code that reads a
message as a ``(key, value)`` tuple (``m[1]``) works unchanged. ``value_format`` says how values
are decoded: ``"utf8"`` (default; invalid UTF-8 is an error naming the offset), ``"bytes"``, or
``"json"`` with ``schema=`` (a ``pyarrow.Schema``): each value must be one JSON object, whose
fields become the leading columns, before ``key``, ``topic``... (converted exactly by Arrow's
JSON reader; a value that does not fit fails the batch, or with ``json_mode="PERMISSIVE"`` gives
nulls plus the text in ``_corrupt_record``). A null value (a tombstone) gives nulls in every schema column.

Offsets belong to the engine, never to Kafka: nothing is committed, so Kafka's group offsets play
no part in what a batch contains. ``stream.state()`` returns the next offsets and the ranges of the
batches generated but not yet processed (plain JSON-able dicts) and ``stream.restore(state)``
(before ``start()``) resumes from them; the ranges of pending batches are read again, each offset
exactly once. With outputs that are idempotent or transactional per batch, this gives exactly-once.

Start offsets: ``fromOffsets`` (``{TopicAndPartition(topic, p): offset}`` or ``{(topic, p): offset}``;
then only those partitions are read, as in Spark), else ``auto.offset.reset`` in ``kafkaParams``
(``"largest"``/``"latest"``, the default, or ``"smallest"``/``"earliest"``). Without
``fromOffsets`` partitions added to a topic later are picked up from their first offset.

A topic that does not exist fails ``createDirectStream`` with :class:`KafkaSourceError`. The stream's
consumer sets ``allow.auto.create.topics=false`` so that looking a topic up never creates it (the
broker's own auto-creation, and librdkafka's mock cluster, would create it with default partitions);
pass ``"allow.auto.create.topics": True`` in ``kafkaParams`` to let Kafka create it.

Rate: ``maxRatePerPartition`` (keyword, else ``spark.streaming.kafka.maxRatePerPartition``; records
per second per partition) caps each range; with ``spark.streaming.backpressure.enabled`` Spark's PID
estimator sets a rate for the whole stream after each batch, split over the partitions by lag (as
Spark's ``maxMessagesPerPartition``; ``spark.streaming.backpressure.initialRate`` until the first
estimate). Data beyond the cap waits in Kafka, not in memory. Each batch's ``StreamInputInfo.metadata``
holds its ``offsets``, a ``Description`` as Spark's, ``records``, ``rateLimit`` and ``lag``.

Failures: a batch whose range cannot be read within ``poll_timeout`` seconds (brokers down), or whose
data does not decode, fails with :class:`KafkaSourceError` naming topic, partition and offsets; the
offsets do not move, so the next batch reads that range too. Nothing is skipped silently.

Any object with the methods of :class:`KafkaConsumerLike` can stand in for the Kafka consumer
(``consumer=``); the tests use an in-memory fake.
"""

from __future__ import annotations

import collections
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.json as pa_json

from dstreams import codec
from dstreams.batch import Batch
from dstreams.codec import PARTITION
from dstreams.dstream import InputDStream
from dstreams.errors import ConfigurationError, DStreamsError
from dstreams.outputs import to_datetime

from .ratecontrol import BACKPRESSURE, INITIAL_RATE, PIDRateEstimator, RateController, conf_bool, conf_float

__all__ = [
    "KafkaConsumerLike",
    "KafkaDirectDStream",
    "KafkaSourceError",
    "KafkaUtils",
    "MessageAndMetadata",
    "OffsetRange",
    "TopicAndPartition",
    "offset_ranges",
]

MAX_RATE_PER_PARTITION = "spark.streaming.kafka.maxRatePerPartition"
_MESSAGE_COLUMNS = ("key", "value", "topic", "partition", "offset", "timestamp", "timestampType", "headers")
_HEADERS = pa.list_(pa.struct([("key", pa.string()), ("value", pa.binary())]))
_FORMATS = ("utf8", "bytes", "json")
_LATEST = {"largest", "latest", "end"}
_EARLIEST = {"smallest", "earliest", "beginning"}
_OFFSET_BEGINNING, _OFFSET_END = -2, -1  # Kafka's logical offsets (confluent_kafka.OFFSET_*)
_PARTITION_EOF = -191  # KafkaError._PARTITION_EOF: only with enable.partition.eof, not an error
_BUFFER_LIMIT = 10_000  # messages held per partition beyond what batches asked for, before pausing it
_CONSUME_MAX = 10_000  # messages per consume() call


class KafkaSourceError(DStreamsError):
    """Kafka could not give a batch its data: unknown topic, unreachable broker, bad record, timeout."""


@dataclass(frozen=True)
class TopicAndPartition:
    """A partition of a topic (PySpark's ``TopicAndPartition``); a key of ``fromOffsets``."""

    topic: str
    partition: int


@dataclass(frozen=True)
class OffsetRange:
    """The messages ``[fromOffset, untilOffset)`` of one partition read by one batch (PySpark's names).

    >>> OffsetRange("events", 0, 10, 15).count()
    5
    """

    topic: str
    partition: int
    fromOffset: int
    untilOffset: int

    def count(self) -> int:
        return self.untilOffset - self.fromOffset

    def topicAndPartition(self) -> TopicAndPartition:
        return TopicAndPartition(self.topic, self.partition)

    def as_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "from": self.fromOffset,
            "until": self.untilOffset,
        }

    def __str__(self) -> str:
        return (
            f"OffsetRange(topic: {self.topic}, partition: {self.partition}, "
            f"range: [{self.fromOffset} -> {self.untilOffset}])"
        )


@dataclass(frozen=True)
class MessageAndMetadata:
    """What PySpark's ``messageHandler`` receives: ``key`` and ``message`` decoded by the decoders."""

    topic: str
    partition: int
    offset: int
    key: Any
    message: Any


class KafkaConsumerLike(Protocol):
    """The part of ``confluent_kafka.Consumer`` the stream uses (a fake with these methods will do).

    Partition arguments are ``TopicPartition``-like objects with ``topic``, ``partition`` and
    ``offset``; ``consume`` returns message objects with confluent-kafka's accessor methods
    (``topic() partition() offset() key() value() headers() timestamp() error()``).
    """

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> Any: ...

    def get_watermark_offsets(self, partition: Any, timeout: float = -1, cached: bool = False) -> Any: ...

    def assign(self, partitions: list[Any]) -> None: ...

    def seek(self, partition: Any) -> None: ...

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Any]: ...

    def pause(self, partitions: list[Any]) -> None: ...

    def resume(self, partitions: list[Any]) -> None: ...

    def position(self, partitions: list[Any]) -> list[Any]: ...

    def close(self) -> None: ...


def offset_ranges(rdd: Any) -> list[OffsetRange]:
    """The offset ranges of a batch of the Kafka stream (PySpark's ``rdd.offsetRanges()``).

    Only the stream returned by ``createDirectStream`` carries them, as in Spark: call this in
    ``foreachRDD`` or ``transform`` on that stream, before ``map`` and the like.

    >>> stream.foreachRDD(lambda rdd: print([r.untilOffset for r in offset_ranges(rdd)]))
    """
    batch = getattr(rdd, "_batch", rdd)
    ranges = getattr(batch, "offset_ranges", None)
    if ranges is None:
        raise ConfigurationError(
            "offset_ranges(rdd): this RDD does not come straight from a Kafka direct stream; call it in "
            "foreachRDD/transform on the stream that KafkaUtils.createDirectStream returned, before any "
            "map, filter or window"
        )
    return list(ranges)


class _KafkaBatch(Batch):
    """A batch of the Kafka stream: also knows the offset ranges it holds."""

    __slots__ = ("offset_ranges",)


class KafkaUtils:
    """PySpark's ``pyspark.streaming.kafka.KafkaUtils`` (the direct stream)."""

    @staticmethod
    def createDirectStream(
        ssc: Any,
        topics: Sequence[str],
        kafkaParams: Mapping[str, Any],
        fromOffsets: Mapping[Any, int] | None = None,
        keyDecoder: Callable[[bytes | None], Any] | None = None,
        valueDecoder: Callable[[bytes | None], Any] | None = None,
        messageHandler: Callable[[MessageAndMetadata], Any] | None = None,
        **options: Any,
    ) -> KafkaDirectDStream:
        """A stream reading ``topics`` batch by batch by offset ranges; see the module docs.

        ``options``: ``key_format``/``value_format`` (``"utf8"``, ``"bytes"``, ``"json"``), ``schema``,
        ``json_mode``, ``maxRatePerPartition``, ``poll_timeout`` (seconds to read one batch's ranges),
        ``consumer`` (a ready consumer object). PySpark's ``keyDecoder``/``valueDecoder`` (functions
        of the raw bytes) and ``messageHandler`` (elements become its results) work too, in Python.

        >>> KafkaUtils.createDirectStream(ssc, ["events"], {"metadata.broker.list": "host:9092"})
        """
        return KafkaDirectDStream(
            ssc,
            topics,
            kafkaParams,
            fromOffsets,
            keyDecoder=keyDecoder,
            valueDecoder=valueDecoder,
            messageHandler=messageHandler,
            **options,
        )


class KafkaDirectDStream(InputDStream):
    """The direct stream; build it with :meth:`KafkaUtils.createDirectStream`."""

    def __init__(
        self,
        ssc: Any,
        topics: Sequence[str],
        kafkaParams: Mapping[str, Any],
        fromOffsets: Mapping[Any, int] | None = None,
        *,
        key_format: str = "utf8",
        value_format: str = "utf8",
        schema: pa.Schema | None = None,
        json_mode: str = "FAILFAST",
        maxRatePerPartition: float | None = None,
        poll_timeout: float = 10.0,
        consumer: KafkaConsumerLike | None = None,
        keyDecoder: Callable[[bytes | None], Any] | None = None,
        valueDecoder: Callable[[bytes | None], Any] | None = None,
        messageHandler: Callable[[MessageAndMetadata], Any] | None = None,
    ):
        if isinstance(topics, str):
            topics = [topics]
        self._topics = list(dict.fromkeys(topics))
        self._from_offsets = _parse_from_offsets(fromOffsets)
        if not self._topics and not self._from_offsets:
            raise ConfigurationError("createDirectStream: give at least one topic, e.g. ['events']")
        self._decoding = _Decoding(key_format, value_format, schema, json_mode, keyDecoder, valueDecoder)
        self._handler = messageHandler
        params = _consumer_params(kafkaParams)
        self._reset = _offset_reset(params.pop("auto.offset.reset", "largest"))
        conf = ssc.sparkContext.getConf()
        self._max_rate = _max_rate_per_partition(conf, maxRatePerPartition)
        self._backpressure = conf_bool(conf, BACKPRESSURE, False)
        self._pid = PIDRateEstimator.from_conf(conf, ssc._batch_ms) if self._backpressure else None
        self._controller: RateController | None = None
        # records/s for the whole stream, set by backpressure (Spark's initialRate until the first estimate)
        self._rate_limit: float | None = conf_float(conf, INITIAL_RATE, None) if self._backpressure else None
        if poll_timeout <= 0:
            raise ConfigurationError(
                f"createDirectStream: poll_timeout must be > 0 seconds, got {poll_timeout}"
            )
        self._poll_timeout = float(poll_timeout)
        self._where = params.get("bootstrap.servers", "the given consumer")
        self._consumer = consumer if consumer is not None else _new_consumer(params)
        # Offsets and metadata come from a second consumer that never fetches: a broker answers a
        # connection's requests in order, so on the reading consumer every ListOffsets would wait
        # behind a long-polling Fetch (fetch.wait.max.ms, 500 ms per partition on the mock cluster).
        self._meta = consumer if consumer is not None else _new_consumer(params)
        self._tp = _topic_partition_type()
        self._lock = threading.Lock()
        self._next: dict[tuple[str, int], int] = {}  # the offset each partition's next batch starts at
        self._batches: dict[int, list[OffsetRange]] = {}  # ranges of batches not yet processed
        self._replay: dict[int, list[OffsetRange]] = {}  # restored pending batches, read again
        self._restored: dict[tuple[str, int], int] | None = None
        self._reader: _RangeReader | None = None
        self._metadata: dict[int, dict[str, Any]] = {}
        self._lag: int | None = None
        self._started = False
        try:
            self._partitions = self._lookup_partitions()
        except BaseException:
            self._close_consumer()
            raise
        super().__init__(ssc)

    # -- offsets: what a checkpoint stores --------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The next offsets and the ranges of generated but unprocessed batches (JSON-able).

        >>> stream.state()
        {'offsets': [{'topic': 'events', 'partition': 0, 'offset': 42}], 'batches': {'1000': [...]}}
        """
        with self._lock:
            offsets = self._next if self._started else (self._restored or self._next)
            return {
                "offsets": [
                    {"topic": t, "partition": p, "offset": o} for (t, p), o in sorted(offsets.items())
                ],
                "batches": {
                    str(t): [r.as_dict() for r in ranges]
                    for t, ranges in sorted({**self._replay, **self._batches}.items())
                },
            }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Resume from :meth:`state` (before ``start()``): pending batches are read again, then the rest.

        A restored pending batch is read again by the batch with the same time, or by the first batch
        after that time (several due at once are merged); no new offset is read before the pending
        ones, even when the new batch times are earlier. Every offset is read exactly once.
        """
        if self._started:
            raise ConfigurationError("KafkaDirectDStream.restore(state) must be called before ssc.start()")
        try:
            offsets = {(str(o["topic"]), int(o["partition"])): int(o["offset"]) for o in state["offsets"]}
            replay = {
                int(t): [
                    OffsetRange(str(r["topic"]), int(r["partition"]), int(r["from"]), int(r["until"]))
                    for r in rs
                ]
                for t, rs in state.get("batches", {}).items()
            }
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigurationError(
                f"KafkaDirectDStream.restore: not a state returned by stream.state(): {error!r}"
            ) from error
        with self._lock:
            self._restored, self._replay = offsets, replay

    # -- checkpoints (dstreams.checkpoint.sources) ---------------------------------------------------
    _replayable = True  # the batches after a checkpoint read their offset ranges again: no journaled data

    def _checkpoint_state(self) -> dict[str, Any]:
        """After batch ``t``: the next offsets and ``t``'s own ranges (journaled with ``t``)."""
        with self._lock:
            offsets = self._next if self._started else (self._restored or self._next)
            last = max(self._batches) if self._batches else None
            return {
                "offsets": [
                    {"topic": t, "partition": p, "offset": o} for (t, p), o in sorted(offsets.items())
                ],
                "batches": {} if last is None else {str(last): [r.as_dict() for r in self._batches[last]]},
            }

    def _restore_state(self, state: Mapping[str, Any]) -> None:
        """Recovery: go on after the checkpoint's batch (its ranges were processed: not read again)."""
        self.restore({"offsets": state["offsets"], "batches": {}})

    def _restore_batches(self, later: Mapping[int, Mapping[str, Any]]) -> None:
        """Recovery: the batches generated after the checkpoint (``later``: their positions, as
        journaled) read their own offset ranges again, so they are the same batches, with the same
        ``offset_ranges``; new offsets start after the last of them."""
        if not later:
            return
        last = later[max(later)]
        batches = {t: position.get("batches", {}).get(str(t), []) for t, position in later.items()}
        self.restore({"offsets": last["offsets"], "batches": batches})

    # -- life cycle -------------------------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            starts = self._start_offsets(self._partitions)
            self._next = starts
            self._reader = _RangeReader(self._consumer, self._tp)
            self._reader.assign(starts)
            self._started = True
        if self._pid is not None:
            self._controller = RateController(self._id, self._pid, self._publish_rate)
            self._ssc._listeners.add(self._controller)

    def _stop(self) -> None:
        if self._controller is not None:
            self._ssc._listeners.remove(self._controller)
        self._close_consumer()

    def _close_consumer(self) -> None:
        consumers = {id(c): c for c in (self._consumer, self._meta) if c is not None}
        self._consumer = self._meta = None
        for consumer in consumers.values():
            try:
                consumer.close()
            except Exception:  # closing twice or after a broker error must not fail stop()
                pass

    def _forget_before(self, t: int) -> None:
        super()._forget_before(t)
        with self._lock:
            for done in [k for k in self._batches if k <= t]:
                del self._batches[done]

    def _input_metadata(self, t: int) -> dict[str, Any]:
        """What this stream adds to ``StreamInputInfo.metadata`` of batch ``t`` (once)."""
        with self._lock:
            return self._metadata.pop(t, {})

    def _batch_metadata(self, ranges: list[OffsetRange], lag: int | None) -> dict[str, Any]:
        """As Spark's (``offsets`` and a ``Description`` of them), plus the rate and the lag."""
        lines = [
            f"topic: {r.topic}\tpartition: {r.partition}\toffsets: {r.fromOffset} to {r.untilOffset}"
            for r in ranges
        ]
        return {
            "offsets": [r.as_dict() for r in ranges],
            "Description": "\n".join(lines),
            "records": sum(r.count() for r in ranges),
            "rateLimit": self._rate_limit,
            "maxRatePerPartition": self._max_rate,
            "lag": lag,  # records on the brokers after this batch's ranges (None: a replayed batch)
        }

    # -- batches ----------------------------------------------------------------------------------
    def _allocate(self, t: int) -> Batch:
        # Runs on the timer thread, the only one that reads Kafka or changes the offsets after
        # start(); the lock guards what state() and _forget_before() (other threads) look at, and is
        # not held while reading, so a slow broker never blocks the runner.
        if self._consumer is None or self._reader is None:
            raise KafkaSourceError(
                f"the Kafka stream for {self._topics} is stopped; batch {t} cannot be read"
            )
        replayed = self._due_replays(t)
        ranges, advance = self._replay_ranges(replayed) if replayed else self._plan(t)
        deadline = time.monotonic() + self._poll_timeout
        messages = self._reader.read(ranges, deadline, self._describe_batch(t))
        batch = self._build(ranges, messages, t)
        with self._lock:
            for k in replayed:  # only now: a failed read leaves them for the next batch
                del self._replay[k]
            self._next.update(advance)
            self._batches[t] = ranges
            self._metadata[t] = self._batch_metadata(ranges, self._lag)
            while len(self._metadata) > 100:  # nobody collected them
                self._metadata.pop(next(iter(self._metadata)))
        return batch

    def _due_replays(self, t: int) -> list[int]:
        """Restored pending batches this batch reads again: those due by ``t``, else the oldest one
        (new offsets are never read before the pending ones, even if the clock is behind them)."""
        if not self._replay:
            return []
        return sorted(k for k in self._replay if k <= t) or [min(self._replay)]

    def _replay_ranges(self, times: list[int]) -> tuple[list[OffsetRange], dict[tuple[str, int], int]]:
        """The ranges of restored pending batches, merged per partition if several are due at once."""
        merged: dict[tuple[str, int], list[int]] = {}
        for k in times:
            for r in self._replay[k]:
                span = merged.setdefault((r.topic, r.partition), [r.fromOffset, r.untilOffset])
                span[0], span[1] = min(span[0], r.fromOffset), max(span[1], r.untilOffset)
        self._lag = None
        return [OffsetRange(tp[0], tp[1], a, b) for tp, (a, b) in sorted(merged.items())], {}

    def _plan(self, t: int) -> tuple[list[OffsetRange], dict[tuple[str, int], int]]:
        """This batch's ranges, and the next offsets once it is read."""
        if not self._from_offsets:
            self._discover_partitions()
        latest = {}
        for key in sorted(self._next):
            start = self._next[key]
            low, high = self._watermarks(key)
            if start < low:
                raise KafkaSourceError(
                    f"Kafka {key[0]}/{key[1]}: offset {start} is no longer on the broker (the oldest is "
                    f"{low}; retention deleted the rest) at batch {to_datetime(t)}; restart the stream with "
                    f"fromOffsets={{('{key[0]}', {key[1]}): {low}}} to skip the lost messages"
                )
            latest[key] = max(high, start)
        limits = self._limits({key: latest[key] - self._next[key] for key in latest})
        ranges, advance = [], {}
        for key, high in latest.items():
            start = self._next[key]
            until = high if limits is None else min(high, start + limits[key])
            ranges.append(OffsetRange(key[0], key[1], start, until))
            advance[key] = until
        self._lag = sum(latest[key] - advance[key] for key in latest)
        return ranges, advance

    def _limits(self, lags: dict[tuple[str, int], int]) -> dict[tuple[str, int], int] | None:
        """Most records each partition may give this batch (None: no limit), as Spark's
        ``maxMessagesPerPartition``: the backpressure rate is split by lag, capped by
        ``maxRatePerPartition``, and every partition may give at least one record."""
        rate = self._rate_limit
        per_second: dict[tuple[str, int], float]
        if rate is not None and rate > 0:
            total = sum(lags.values())
            per_second = {key: (lag / total * rate if total else 0.0) for key, lag in lags.items()}
            if self._max_rate is not None:
                per_second = {key: min(r, self._max_rate) for key, r in per_second.items()}
        elif self._max_rate is not None:
            per_second = dict.fromkeys(lags, self._max_rate)
        else:
            return None
        if sum(per_second.values()) <= 0:
            return None
        seconds = self._slide_ms / 1000
        return {key: max(int(seconds * r), 1) for key, r in per_second.items()}

    def _publish_rate(self, rate: float) -> None:
        self._rate_limit = rate

    def _build(self, ranges: list[OffsetRange], messages: list[list[Any]], t: int) -> Batch:
        sizes = [len(m) for m in messages]
        if self._handler is not None:
            where = self._describe_batch(t)
            elements = [
                self._handler(self._decoding.message_and_metadata(m, where))
                for part in messages
                for m in part
            ]
            table, layout = codec.from_elements(elements, sizes)
        else:
            table = self._decoding.table(ranges, messages, self._describe_batch(t))
            if len(ranges) > 1:
                ids = pa.array([i for i, n in enumerate(sizes) for _ in range(n)], pa.int32())
                table = table.append_column(pa.field(PARTITION, pa.int32()), ids)
            layout = "row"
        batch = _KafkaBatch(table, layout, max(1, len(ranges)))
        batch.offset_ranges = tuple(ranges)
        return batch

    def _describe_batch(self, t: int) -> str:
        topics = self._topics or sorted({k[0] for k in self._from_offsets})
        return f"batch {to_datetime(t)} of the Kafka stream {topics}"

    # -- Kafka metadata ---------------------------------------------------------------------------
    def _lookup_partitions(self) -> list[tuple[str, int]]:
        """The partitions to read; a topic or partition that does not exist is an error now."""
        topics = self._topics if not self._from_offsets else sorted({k[0] for k in self._from_offsets})
        found = {topic: self._topic_partitions(topic) for topic in topics}
        if not self._from_offsets:
            return sorted((topic, p) for topic, parts in found.items() for p in parts)
        for topic, p in self._from_offsets:
            if p not in found[topic]:
                raise KafkaSourceError(
                    f"fromOffsets names partition {p} of Kafka topic {topic!r}, which has partitions "
                    f"{sorted(found[topic])}; fix fromOffsets"
                )
        return sorted(self._from_offsets)

    def _topic_partitions(self, topic: str) -> list[int]:
        try:
            metadata = self._meta.list_topics(topic, timeout=self._poll_timeout)
        except Exception as error:
            raise KafkaSourceError(
                f"cannot read the metadata of Kafka topic {topic!r} from {self._where}: {error}; "
                "check bootstrap.servers and that the brokers are up"
            ) from error
        info = metadata.topics.get(topic)
        error = None if info is None else info.error
        if info is None or error is not None or not info.partitions:
            reason = (
                "it does not exist"
                if info is None or _is_unknown_topic(error)
                else f"the broker says {error}"
            )
            raise KafkaSourceError(
                f"Kafka topic {topic!r} cannot be read from {self._where}: {reason}. Create the topic first "
                "(dstreams never creates it), or fix the name"
            )
        return sorted(info.partitions)

    def _discover_partitions(self) -> None:
        """Partitions added to the topics since the start are read from their first offset."""
        new = []
        for topic in self._topics:
            for p in self._topic_partitions(topic):
                if (topic, p) not in self._next:
                    new.append((topic, p))
        if new:
            firsts = {key: self._watermarks(key)[0] for key in new}
            with self._lock:
                self._next.update(firsts)
                self._partitions = sorted(self._next)
            self._reader.assign(dict(self._next))

    def _watermarks(self, key: tuple[str, int]) -> tuple[int, int]:
        try:
            low, high = self._meta.get_watermark_offsets(
                self._tp(key[0], key[1], _OFFSET_END), timeout=self._poll_timeout, cached=False
            )
        except Exception as error:
            raise KafkaSourceError(
                f"cannot read the offsets of Kafka {key[0]}/{key[1]} from {self._where}: {error}; "
                "the brokers may be down (the batch is skipped; the next batch reads its range too)"
            ) from error
        return int(low), int(high)

    def _start_offsets(self, partitions: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        starts = {}
        for key in partitions:
            if self._restored is not None and key in self._restored:
                starts[key] = self._restored[key]
                continue
            wanted = self._from_offsets.get(key)
            if self._restored is not None and wanted is None:
                wanted = _OFFSET_BEGINNING  # a partition new since the checkpoint: all of it is new
            low, high = self._watermarks(key)
            if wanted is None:
                wanted = _OFFSET_END if self._reset == "latest" else _OFFSET_BEGINNING
            if wanted == _OFFSET_END:
                starts[key] = high
            elif wanted == _OFFSET_BEGINNING:
                starts[key] = low
            elif low <= wanted <= high:
                starts[key] = wanted
            else:
                raise KafkaSourceError(
                    f"fromOffsets starts Kafka {key[0]}/{key[1]} at {wanted}, outside the offsets on the "
                    f"broker [{low}, {high}]; pick an offset in that range"
                )
        return starts


class _RangeReader:
    """Reads exact offset ranges from one consumer that has every partition of the stream assigned.

    Every message the consumer hands out is kept in a per-partition buffer until a range takes it,
    so a batch that fails (timeout) loses nothing: the next read finds the messages there. A
    partition whose buffer grows past ``_BUFFER_LIMIT`` unneeded messages is paused, which bounds
    memory when one partition is far ahead of another.
    """

    def __init__(self, consumer: KafkaConsumerLike, tp: Callable[..., Any]):
        self._consumer = consumer
        self._tp = tp
        self._pos: dict[tuple[str, int], int] = {}  # the next offset the consumer hands out
        self._buffer: dict[tuple[str, int], collections.deque] = {}
        self._paused: set[tuple[str, int]] = set()

    def assign(self, offsets: Mapping[tuple[str, int], int]) -> None:
        self._consumer.assign([self._tp(t, p, o) for (t, p), o in sorted(offsets.items())])
        paused = [key for key in self._paused if key in offsets]
        self._pos = dict(offsets)
        self._buffer = {key: collections.deque() for key in offsets}
        self._paused = set(paused)
        self._set_paused(paused, pause=False)  # a new assignment starts fetching everything

    def read(self, ranges: list[OffsetRange], deadline: float, where: str) -> list[list[Any]]:
        needed = {(r.topic, r.partition): r for r in ranges if r.untilOffset > r.fromOffset}
        for key, r in needed.items():
            self._align(key, r.fromOffset)
        self._set_paused([k for k in self._paused if k in needed], pause=False)
        while True:
            waiting = {k: r for k, r in needed.items() if self._pos[k] < r.untilOffset}
            if not waiting:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                key, r = next(iter(waiting.items()))
                raise KafkaSourceError(
                    f"{where}: reading Kafka {key[0]}/{key[1]} offsets [{r.fromOffset}, {r.untilOffset}) "
                    f"timed out at offset {self._pos[key]}; the brokers may be slow or down (raise "
                    "poll_timeout); the batch is skipped and the next batch reads this range too"
                )
            remaining = sum(r.untilOffset - self._pos[k] for k, r in waiting.items())
            got = self._consumer.consume(num_messages=min(remaining, _CONSUME_MAX), timeout=min(left, 0.1))
            if not got:
                self._skip_gaps(waiting)
                continue
            for message in got:
                self._take(message, where)
            self._pause_overfull(needed)
        return [self._cut((r.topic, r.partition), r.fromOffset, r.untilOffset) for r in ranges]

    def _align(self, key: tuple[str, int], start: int) -> None:
        """Make the buffer plus the consumer deliver ``start`` next (seek when they cannot)."""
        buffer = self._buffer.setdefault(key, collections.deque())
        first = buffer[0].offset() if buffer else self._pos.get(key)
        if first is not None and first <= start <= self._pos[key]:
            return
        try:
            self._consumer.seek(self._tp(key[0], key[1], start))
        except Exception:  # librdkafka refuses seeks on partitions not fetching yet: re-assign instead
            starts = {k: (b[0].offset() if b else self._pos[k]) for k, b in self._buffer.items()}
            starts[key] = start
            self.assign(starts)
            return
        buffer.clear()
        self._pos[key] = start

    def _take(self, message: Any, where: str) -> None:
        error = message.error()
        if error is not None:
            if _error_code(error) == _PARTITION_EOF:
                return
            raise KafkaSourceError(
                f"{where}: Kafka reported an error on {message.topic()}/{message.partition()}: {error}"
            )
        key = (message.topic(), message.partition())
        pos = self._pos.get(key)
        offset = message.offset()
        if pos is None or offset < pos:  # not ours, or delivered before a seek
            return
        self._buffer[key].append(message)
        self._pos[key] = offset + 1

    def _skip_gaps(self, waiting: Mapping[tuple[str, int], OffsetRange]) -> None:
        """Offsets with no message (transaction markers, compaction): trust the consumer's position."""
        try:
            positions = self._consumer.position([self._tp(t, p, -1001) for t, p in waiting])
        except Exception:
            return
        for tp in positions:
            key = (tp.topic, tp.partition)
            if key in self._pos and tp.offset is not None and tp.offset > self._pos[key]:
                self._pos[key] = tp.offset

    def _pause_overfull(self, needed: Mapping[tuple[str, int], OffsetRange]) -> None:
        full = []
        for key, buffer in self._buffer.items():
            if key in self._paused or len(buffer) <= _BUFFER_LIMIT:
                continue
            r = needed.get(key)
            if r is None or self._pos[key] >= r.untilOffset:
                full.append(key)
        self._set_paused(full, pause=True)

    def _set_paused(self, keys: list[tuple[str, int]], *, pause: bool) -> None:
        if not keys:
            return
        tps = [self._tp(t, p, self._pos[(t, p)]) for t, p in keys]
        if pause:
            self._consumer.pause(tps)
            self._paused.update(keys)
        else:
            self._consumer.resume(tps)
            self._paused.difference_update(keys)

    def _cut(self, key: tuple[str, int], start: int, until: int) -> list[Any]:
        buffer = self._buffer.get(key)
        out: list[Any] = []
        while buffer and buffer[0].offset() < until:
            message = buffer.popleft()
            if message.offset() >= start:
                out.append(message)
        return out


class _Decoding:
    """Messages -> an Arrow table with the stream's columns."""

    def __init__(
        self,
        key_format: str,
        value_format: str,
        schema: pa.Schema | None,
        json_mode: str,
        key_decoder: Callable | None,
        value_decoder: Callable | None,
    ):
        for what, fmt in (("key_format", key_format), ("value_format", value_format)):
            if fmt not in _FORMATS:
                raise ConfigurationError(f"createDirectStream: {what} must be one of {_FORMATS}, got {fmt!r}")
        if key_format == "json":
            raise ConfigurationError(
                "createDirectStream: key_format='json' is not supported; use 'utf8' or 'bytes'"
            )
        if value_format == "json":
            if not isinstance(schema, pa.Schema):
                raise ConfigurationError(
                    "createDirectStream: value_format='json' needs schema=pa.schema([...]) naming the fields "
                    "to read from each JSON value"
                )
            clash = sorted(
                set(schema.names) & set(_MESSAGE_COLUMNS) - {"value"} | ({PARTITION} & set(schema.names))
            )
            if clash:
                raise ConfigurationError(
                    f"createDirectStream: JSON fields {clash} have the names of message columns; rename "
                    "them in the schema (and read them by that name) or use value_format='utf8' and parse "
                    "in Python"
                )
        elif schema is not None:
            raise ConfigurationError("createDirectStream: schema= is only used with value_format='json'")
        mode = json_mode.upper()
        if mode not in ("FAILFAST", "PERMISSIVE"):
            raise ConfigurationError(
                f"createDirectStream: json_mode must be 'FAILFAST' or 'PERMISSIVE', got {json_mode!r}"
            )
        self.key_format, self.value_format, self.schema, self.mode = key_format, value_format, schema, mode
        self.key_decoder, self.value_decoder = key_decoder, value_decoder

    def message_and_metadata(self, m: Any, where: str) -> MessageAndMetadata:
        try:
            key = self.key_decoder(m.key()) if self.key_decoder else _utf8_decoder(m.key())
            value = self.value_decoder(m.value()) if self.value_decoder else _utf8_decoder(m.value())
        except Exception as error:
            raise KafkaSourceError(
                f"{where}: decoding {_at(m)} failed: {type(error).__name__}: {error}; pass keyDecoder/"
                "valueDecoder functions that accept these bytes"
            ) from error
        return MessageAndMetadata(m.topic(), m.partition(), m.offset(), key, value)

    def table(self, ranges: list[OffsetRange], parts: list[list[Any]], where: str) -> pa.Table:
        """``parts[i]``: the messages of ``ranges[i]`` (whose topic and partition every one has)."""
        messages = [m for part in parts for m in part]
        # one comprehension per accessor: about twice as fast as one loop appending to eight lists
        keys = [m.key() for m in messages]
        values = [m.value() for m in messages]
        stamps = [m.timestamp() for m in messages]
        headers = [m.headers() or [] for m in messages]
        meta = {
            "topic": pa.array([r.topic for r, part in zip(ranges, parts) for _ in part], pa.string()),
            "partition": pa.array([r.partition for r, part in zip(ranges, parts) for _ in part], pa.int32()),
            "offset": pa.array([m.offset() for m in messages], pa.int64()),
            "timestamp": pa.array([ms if kind else None for kind, ms in stamps], pa.timestamp("ms")),
            # confluent's 0/1/2 -> Kafka's -1 (none) / 0 (create time) / 1 (log-append time)
            "timestampType": pa.array([kind - 1 for kind, _ in stamps], pa.int32()),
            "headers": pa.array(headers, _HEADERS),
        }
        fields: list[pa.Field] = []
        arrays: list[pa.Array] = []

        def add(name: str, array: pa.Array, mark: bytes | None = None) -> None:
            fields.append(codec.field(name, array, mark))
            arrays.append(array)

        key = self._column(keys, self.key_format, self.key_decoder, "key", messages, where)
        if self.value_format == "json" and self.value_decoder is None:
            for name, array in self._json(values, messages, where):  # the data first, then the metadata
                add(name, array)
            add("key", *key)
        else:
            add("key", *key)
            add(
                "value",
                *self._column(values, self.value_format, self.value_decoder, "value", messages, where),
            )
        for name, array in meta.items():
            add(name, array)
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))

    def _column(
        self, raw: list[Any], fmt: str, decoder: Callable | None, what: str, messages: list[Any], where: str
    ) -> tuple[pa.Array, bytes | None]:
        if decoder is not None:
            return codec.to_array([decoder(v) for v in raw])
        array = pa.array(raw, pa.binary())
        if fmt == "bytes":
            return array, None
        try:
            return array.cast(pa.string()), None
        except pa.ArrowInvalid:
            for m, v in zip(messages, raw):
                if v is not None and not _is_utf8(v):
                    raise KafkaSourceError(
                        f"{where}: the {what} of {_at(m)} is not UTF-8 ({v[:40]!r}); read it with "
                        f"{what}_format='bytes'"
                    ) from None
            raise

    def _json(
        self, values: list[bytes | None], messages: list[Any], where: str
    ) -> list[tuple[str, pa.Array]]:
        """One JSON object per value -> the schema's columns (Arrow's JSON reader converts exactly)."""
        lines: list[bytes] = []
        bad: list[int] = []
        for i, v in enumerate(values):
            line = _json_object_line(v)
            if line is None:
                bad.append(i)
                line = b"{}"
            lines.append(line)
        if bad and self.mode == "FAILFAST":
            raise self._bad_json(bad[0], values, messages, where)
        try:
            table = _read_json_lines(lines, self.schema)  # values that are not objects are {} by now
        except pa.ArrowInvalid:
            # a value Arrow cannot convert to the schema (1.5 for an int): find which, one by one
            for i, line in enumerate(lines):
                if not _converts(line, self.schema):
                    if self.mode == "FAILFAST":
                        raise self._bad_json(i, values, messages, where) from None
                    bad.append(i)
                    lines[i] = b"{}"
            table = _read_json_lines(lines, self.schema)
        columns = [(name, table.column(name).combine_chunks()) for name in self.schema.names]
        if self.mode == "PERMISSIVE":
            bad_set = set(bad)
            corrupt = [
                (values[i] or b"").decode("utf-8", "replace") if i in bad_set else None
                for i in range(len(values))
            ]
            columns.append(("_corrupt_record", pa.array(corrupt, pa.string())))
        return columns

    def _bad_json(
        self, i: int, values: list[bytes | None], messages: list[Any], where: str
    ) -> KafkaSourceError:
        return KafkaSourceError(
            f"{where}: the value of {_at(messages[i])} is not a JSON object matching the schema "
            f"({(values[i] or b'')[:60]!r}); fix the producer, or pass json_mode='PERMISSIVE' to get nulls "
            "and the text in _corrupt_record"
        )


def _json_object_line(value: bytes | None) -> bytes | None:
    """``value`` as one line holding one JSON object, or None when it is not exactly that.

    Checked with Python's strict parser first: pyarrow 26's JSON reader crashes the process on a
    top-level ``null`` and reads ``{..} {..}`` as two rows, so only single objects reach it.
    """
    if value is None:
        return b"{}"  # a tombstone: every field null
    try:
        if not isinstance(json.loads(value), dict):
            return None
    except (ValueError, UnicodeDecodeError):
        return None
    if b"\n" in value or b"\r" in value:
        # strict JSON has no raw line breaks inside strings, so these are whitespace between tokens
        value = value.replace(b"\r", b" ").replace(b"\n", b" ")
    return value


def _read_json_lines(lines: list[bytes], schema: pa.Schema) -> pa.Table:
    if not lines:
        return schema.empty_table()
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    return pa_json.read_json(pa.BufferReader(b"\n".join(lines)), parse_options=options)


def _converts(line: bytes, schema: pa.Schema) -> bool:
    try:
        _read_json_lines([line], schema)
    except pa.ArrowInvalid:
        return False
    return True


def _utf8_decoder(raw: bytes | None) -> str | None:
    """PySpark's default decoder."""
    return None if raw is None else raw.decode("utf-8")


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _at(m: Any) -> str:
    return f"Kafka {m.topic()}/{m.partition()} offset {m.offset()}"


def _error_code(error: Any) -> Any:
    code = getattr(error, "code", None)
    return code() if callable(code) else code


def _is_unknown_topic(error: Any) -> bool:
    return _error_code(error) in (3, -188)  # UNKNOWN_TOPIC_OR_PART, _UNKNOWN_TOPIC


def _parse_from_offsets(from_offsets: Mapping[Any, int] | None) -> dict[tuple[str, int], int]:
    parsed = {}
    for key, offset in (from_offsets or {}).items():
        if isinstance(key, TopicAndPartition):
            topic, partition = key.topic, key.partition
        elif isinstance(key, tuple) and len(key) == 2:
            topic, partition = key
        else:
            raise ConfigurationError(
                "fromOffsets keys must be TopicAndPartition(topic, partition) or (topic, partition), "
                f"got {key!r}"
            )
        parsed[(str(topic), int(partition))] = int(offset)
    return parsed


def _consumer_params(kafka_params: Mapping[str, Any]) -> dict[str, Any]:
    """librdkafka settings from Spark-style ``kafkaParams`` (``metadata.broker.list`` works too)."""
    params = {str(k): v for k, v in kafka_params.items()}
    if "metadata.broker.list" in params:
        params.setdefault("bootstrap.servers", params.pop("metadata.broker.list"))
    params.setdefault("group.id", f"dstreams-{uuid.uuid4().hex[:12]}")  # required by librdkafka; never used
    params["enable.auto.commit"] = False  # offsets are the engine's
    params.setdefault("enable.auto.offset.store", False)
    params.setdefault("allow.auto.create.topics", False)
    return params


def _offset_reset(value: Any) -> str:
    text = str(value).lower()
    if text in _LATEST:
        return "latest"
    if text in _EARLIEST:
        return "earliest"
    raise ConfigurationError(
        f"kafkaParams auto.offset.reset must be 'largest'/'latest' or 'smallest'/'earliest', got {value!r}"
    )


def _max_rate_per_partition(conf: Any, rate: float | None) -> float | None:
    if rate is None:
        rate = conf_float(conf, MAX_RATE_PER_PARTITION, 0.0)
    if rate < 0:
        raise ConfigurationError(f"maxRatePerPartition must be >= 0 records per second, got {rate}")
    return float(rate) if rate > 0 else None  # Spark: 0 means no limit


def _new_consumer(params: dict[str, Any]) -> Any:
    try:
        from confluent_kafka import Consumer
    except ImportError:
        raise ConfigurationError(
            "the Kafka stream needs confluent-kafka: pip install 'dstreams[kafka]' (or pass consumer=)"
        ) from None
    if "bootstrap.servers" not in params:
        raise ConfigurationError(
            "createDirectStream: kafkaParams needs 'bootstrap.servers' (or Spark's 'metadata.broker.list'), "
            "e.g. {'bootstrap.servers': 'localhost:9092'}"
        )
    try:
        return Consumer(params)
    except Exception as error:
        raise ConfigurationError(f"createDirectStream: Kafka rejected kafkaParams: {error}") from error


@dataclass
class _TopicPartition:
    topic: str
    partition: int
    offset: int = -1001


def _topic_partition_type() -> Callable[..., Any]:
    try:
        from confluent_kafka import TopicPartition
    except ImportError:
        return _TopicPartition
    return TopicPartition
