"""Redis Streams as a reliable receiver: consumer-group reads, acknowledged once stored (``dstreams[redis]``).

>>> from dstreams.receivers.redis_streams import RedisStreams
>>> events = RedisStreams.createStream(ssc, "events", group="billing", url="redis://localhost:6379/0")
>>> events.filter(pl.col("kind") == "click").count().pprint()

Each entry becomes a row: ``_stream`` (the stream's key), ``_id`` (the entry id, e.g.
``"1700000000000-0"``: Redis' own offset) and one column per field, strings by default
(``value_format="bytes"`` keeps the raw bytes); a field an entry lacks is null. Fields named
``_stream`` or ``_id`` get a trailing ``_``. Cast types natively (``pl.col("amount").cast(...)``).

How it reads, in order, every time the receiver (re)starts:

1. ``XGROUP CREATE <stream> <group> <start_id> MKSTREAM`` (an existing group is kept; ``start_id``
   ``"0"``, the default, makes a new group read the whole stream, ``"$"`` only new entries).
2. Its own pending entries (``XREADGROUP ... 0``): read before a crash or a lost connection, never
   acknowledged, so read again.
3. Pending entries of other consumers idle for ``claim_min_idle`` seconds (a consumer that crashed):
   claimed with ``XAUTOCLAIM``; this is repeated every ``claim_min_idle`` seconds while running.
4. New entries: ``XREADGROUP ... >`` (``count`` at a time, blocking ``block`` seconds).

Every set of entries read is stored with the receiver's reliable ``store(table)``, which returns
once the rows are in the engine, and only then acknowledged (``XACK``); an entry is never
acknowledged before it is stored, so a crash loses nothing (entries read but not stored are pending
and read again: at-least-once across crashes). Within one process an entry is stored once: ids
stored but not yet acknowledged when the connection broke are acknowledged first on reconnection.

A server that is down or goes away never stops the stream: the receiver reports the error
(``onReceiverError``) and reconnects after the restart delay (``restartDelay`` keyword, else
``spark.streaming.receiverRestartDelay``), doubling it (up to 16x) while reconnections store nothing.
The input metadata of each batch counts ``acked``, ``claimed`` and ``redelivered`` entries.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from dstreams.errors import ConfigurationError

from .receiver import Receiver, ReceiverInputDStream, ReceiverStoppedError

if TYPE_CHECKING:
    from dstreams.context import StreamingContext

__all__ = ["RedisStreamReceiver", "RedisStreams"]

_STREAM_OPTIONS = ("maxRate", "blockInterval", "maxBufferedRecords", "restartDelay")
_META = ("_stream", "_id")


class RedisStreams:
    """Entry point, in the style of PySpark's ``KafkaUtils``."""

    @staticmethod
    def createStream(
        ssc: StreamingContext,
        streams: str | Sequence[str],
        group: str,
        *,
        url: str = "redis://localhost:6379/0",
        consumer: str | None = None,
        start_id: str = "0",
        count: int = 1000,
        block: float = 0.5,
        claim_min_idle: float = 60.0,
        value_format: str = "utf8",
        **options: Any,
    ) -> ReceiverInputDStream:
        """A reliable receiver stream reading ``streams`` (one key or several) as consumer ``group``.

        ``options`` go to the receiver stream: ``maxRate``, ``blockInterval``, ``maxBufferedRecords``,
        ``restartDelay`` (see :class:`~dstreams.receivers.receiver.ReceiverInputDStream`).

        >>> RedisStreams.createStream(ssc, ["clicks", "views"], group="app", url="redis://cache:6379/0")
        """
        unknown = sorted(set(options) - set(_STREAM_OPTIONS))
        if unknown:
            raise ConfigurationError(
                f"RedisStreams.createStream: unknown option(s) {unknown}; receiver stream options are "
                f"{list(_STREAM_OPTIONS)}"
            )
        receiver = RedisStreamReceiver(
            streams,
            group,
            url=url,
            consumer=consumer,
            start_id=start_id,
            count=count,
            block=block,
            claim_min_idle=claim_min_idle,
            value_format=value_format,
        )
        return ssc.receiverStream(receiver, **options)


class RedisStreamReceiver(Receiver):
    """The receiver behind :meth:`RedisStreams.createStream` (see the module docs).

    ``last_ids`` maps each stream to the highest id stored so far (its offset). The default consumer
    name is ``<host>-<pid>``: a restarted process then gets the entries its previous run left
    pending by claiming them after ``claim_min_idle``; give a stable ``consumer=`` (one per running
    instance) to read them again at once.
    """

    def __init__(
        self,
        streams: str | Sequence[str],
        group: str,
        *,
        url: str = "redis://localhost:6379/0",
        consumer: str | None = None,
        start_id: str = "0",
        count: int = 1000,
        block: float = 0.5,
        claim_min_idle: float = 60.0,
        value_format: str = "utf8",
    ):
        super().__init__()
        keys = [streams] if isinstance(streams, str) else list(dict.fromkeys(streams))
        if not keys or not all(isinstance(k, str) and k for k in keys):
            raise ConfigurationError(
                f"RedisStreams: streams must be a key or a list of keys, got {streams!r}"
            )
        if not group:
            raise ConfigurationError("RedisStreams: give the consumer group name, e.g. group='app'")
        if count <= 0 or block <= 0 or claim_min_idle <= 0:
            raise ConfigurationError(
                f"RedisStreams: count, block and claim_min_idle must be positive, got {count}, {block}, "
                f"{claim_min_idle}"
            )
        if value_format not in ("utf8", "bytes"):
            raise ConfigurationError(
                f"RedisStreams: value_format must be 'utf8' or 'bytes', got {value_format!r}"
            )
        try:
            import redis
        except ImportError:
            raise ConfigurationError(
                "RedisStreams needs the redis client: pip install 'dstreams[redis]'"
            ) from None
        self._redis = redis
        self.keys = keys
        self.group = group
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.url = url
        self.start_id = start_id
        self.count = int(count)
        self.block_ms = max(1, round(block * 1000))
        self.claim_min_idle_ms = max(1, round(claim_min_idle * 1000))
        self.value_format = value_format
        self.last_ids: dict[str, str] = {}
        self._stored_unacked: dict[str, list[bytes]] = {}  # stored in the engine, XACK not yet sent
        self._client: Any = None
        self._next_claim = 0.0

    def __repr__(self) -> str:
        return f"RedisStreamReceiver({self.keys}, group={self.group!r}, consumer={self.consumer!r})"

    # -- Receiver --------------------------------------------------------------------------------
    def onStart(self) -> None:
        where = f"Redis {self.url} (streams {self.keys}, group {self.group!r})"
        errors = (self._redis.ConnectionError, self._redis.TimeoutError, OSError)
        try:
            client = self._client = self._redis.Redis.from_url(
                self.url, socket_timeout=self.block_ms / 1000 + 10, socket_connect_timeout=5
            )
            for key in self.keys:
                self._create_group(client, key)
            self._ack_stored(client)
            self._read(client, "0")  # our own pending entries first
            self._next_claim = 0.0
            while not self.isStopped():
                if time.monotonic() >= self._next_claim:
                    self._claim(client)
                    self._next_claim = time.monotonic() + self.claim_min_idle_ms / 1000
                self._read(client, ">")
        except ReceiverStoppedError:
            return  # the context stopped: what was read and not stored stays pending in Redis
        except Exception as error:
            if self.isStopped():
                return  # onStop closed the connection under a blocking read (any error may follow)
            if isinstance(error, errors):
                self.restart(f"lost {where}: {type(error).__name__}: {error}", error)
            elif not isinstance(error, self._redis.ResponseError):
                raise
            elif "NOGROUP" in str(error):  # the server came back empty (no persistence): create it again
                self.restart(f"{where}: the consumer group is gone ({error}); creating it again", error)
            else:
                self.stop(f"{where} refused a command: {error}; check the keys are streams", error)
        finally:
            self._close()

    def onStop(self) -> None:
        self._close()  # unblocks a blocking XREADGROUP

    # -- reading ---------------------------------------------------------------------------------
    def _create_group(self, client: Any, key: str) -> None:
        try:
            client.xgroup_create(key, self.group, id=self.start_id, mkstream=True)
        except self._redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    def _read(self, client: Any, start: str) -> None:
        """``start="0"``: our pending entries, until none are left; ``">"``: one read of new entries."""
        while not self.isStopped():
            if start == ">":
                reply = client.xreadgroup(
                    self.group,
                    self.consumer,
                    dict.fromkeys(self.keys, ">"),
                    count=self.count,
                    block=self.block_ms,
                )
            else:
                reply = client.xreadgroup(
                    self.group, self.consumer, dict.fromkeys(self.keys, start), count=self.count
                )
            got = 0
            for key, entries in _by_stream(reply):
                got += len(entries)
                self._store_and_ack(client, key, entries, "redelivered" if start == "0" else None)
            # pending reads (id 0) do not move on by themselves: an acked entry leaves the list
            if start == ">" or got == 0:
                return

    def _claim(self, client: Any) -> None:
        """Take over the entries other consumers read but never acknowledged (they crashed)."""
        for key in self.keys:
            cursor = "0-0"
            while not self.isStopped():
                reply = client.xautoclaim(
                    key, self.group, self.consumer, self.claim_min_idle_ms, start_id=cursor, count=self.count
                )
                cursor, entries = reply[0], reply[1]
                deleted = reply[2] if len(reply) > 2 else []
                if deleted:  # entries deleted from the stream while pending: nothing to store
                    self._count("deletedPending", len(deleted))
                self._store_and_ack(client, key, entries, "claimed")
                if cursor in (b"0-0", "0-0"):
                    break

    def _store_and_ack(self, client: Any, key: str, entries: list[Any], counter: str | None) -> None:
        entries = [(eid, fields) for eid, fields in entries if eid is not None]
        if not entries:
            return
        stored = [(eid, fields) for eid, fields in entries if fields is not None]  # None: deleted since
        if stored:
            self.store(self._table(key, stored))  # reliable: returns once the rows are in the engine
            newest = max((_text(eid) for eid, _ in stored), key=_id_order)
            if key not in self.last_ids or _id_order(newest) > _id_order(self.last_ids[key]):
                self.last_ids[key] = newest
            if counter:
                self._count(counter, len(stored))
        ids = [eid for eid, _ in entries]
        self._stored_unacked.setdefault(key, []).extend(ids)
        client.xack(key, self.group, *ids)
        self._stored_unacked[key] = self._stored_unacked[key][len(ids) :]
        self._count("acked", len(ids))

    def _ack_stored(self, client: Any) -> None:
        """Acknowledge what was stored before the connection broke (so it is not read again)."""
        for key, ids in self._stored_unacked.items():
            if ids:
                client.xack(key, self.group, *ids)
                self._count("acked", len(ids))
        self._stored_unacked.clear()

    def _table(self, key: str, entries: list[tuple[Any, dict[bytes, bytes]]]) -> pa.Table:
        names: dict[bytes, str] = {}
        for _, fields in entries:
            for raw in fields:
                if raw not in names:
                    name = raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else str(raw)
                    names[raw] = name + "_" if name in _META else name
        n = len(entries)
        columns: dict[str, pa.Array] = {
            "_stream": pa.array([key] * n, pa.string()),
            "_id": pa.array([_text(eid) for eid, _ in entries], pa.string()),
        }
        bad: list[str] = []
        for raw, name in names.items():
            values = [fields.get(raw) for _, fields in entries]
            columns[name] = self._column(values, name, entries, bad)
        if bad:
            self._count("badRecords", len(bad))
            more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
            self.reportError(
                f"RedisStreams {key!r}: field values that are not UTF-8 were kept with backslash escapes: "
                + "; ".join(bad[:3])
                + more
                + "; use value_format='bytes' to keep them exact"
            )
        return pa.table(columns)

    def _column(self, values: list[Any], name: str, entries: list[Any], bad: list[str]) -> pa.Array:
        values = [v.encode() if isinstance(v, str) else v for v in values]
        array = pa.array(values, pa.binary())
        if self.value_format == "bytes":
            return array
        try:
            return array.cast(pa.string())
        except pa.ArrowInvalid:
            decoded = []
            for (eid, _), v in zip(entries, values):
                if v is None:
                    decoded.append(None)
                    continue
                try:
                    decoded.append(v.decode("utf-8"))
                except UnicodeDecodeError:
                    bad.append(f"entry {_text(eid)} field {name!r}")
                    decoded.append(v.decode("utf-8", "backslashreplace"))
            return pa.array(decoded, pa.string())

    def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
                client.connection_pool.disconnect()
            except Exception:  # already broken: nothing left to release
                pass


def _by_stream(reply: Any) -> Iterable[tuple[str, list[Any]]]:
    """XREADGROUP's reply (a list of ``[key, entries]``, or a dict with RESP3) as ``(key, entries)``."""
    if not reply:
        return []
    items = reply.items() if isinstance(reply, dict) else reply
    out = []
    for key, entries in items:
        out.append((_text(key), list(entries)))
    return out


def _id_order(entry_id: str) -> tuple[int, int]:
    """Stream ids ``<ms>-<seq>`` in their order."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
