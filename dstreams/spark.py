"""Light local stand-ins for ``pyspark.SparkContext``, ``SparkConf`` and ``StorageLevel``.

They exist so that a PySpark streaming program ports by changing imports. There is no cluster:
``master`` is accepted; ``local[n]`` sets ``defaultParallelism`` to n, as in Spark.
Storage levels are accepted everywhere and have no effect (batches live in memory for as long as
an operator needs them; state is persisted by checkpoints, not by storage levels).
"""

from __future__ import annotations

import glob
import os
import pickle
import re
import threading
import time
from collections.abc import Iterable
from typing import Any, TypeVar

from . import logs
from .accumulators import Accumulator, AccumulatorParam, new_accumulator
from .broadcast import Broadcast
from .errors import ConfigurationError

T = TypeVar("T")


class SparkConf:
    """Key/value settings, as ``pyspark.SparkConf`` (``set`` chains)."""

    def __init__(self, loadDefaults: bool = True, _pairs: dict[str, str] | None = None):
        self._conf: dict[str, str] = dict(_pairs or {})

    def set(self, key: str, value: Any) -> SparkConf:
        self._conf[key] = str(value)
        return self

    def setIfMissing(self, key: str, value: Any) -> SparkConf:
        self._conf.setdefault(key, str(value))
        return self

    def setAll(self, pairs: Iterable[tuple[str, Any]]) -> SparkConf:
        for k, v in pairs:
            self.set(k, v)
        return self

    def setMaster(self, value: str) -> SparkConf:
        return self.set("spark.master", value)

    def setAppName(self, value: str) -> SparkConf:
        return self.set("spark.app.name", value)

    def get(self, key: str, defaultValue: str | None = None) -> str | None:
        return self._conf.get(key, defaultValue)

    def contains(self, key: str) -> bool:
        return key in self._conf

    def getAll(self) -> list[tuple[str, str]]:
        return list(self._conf.items())

    def toDebugString(self) -> str:
        return "\n".join(f"{k}={v}" for k, v in self._conf.items())

    def __repr__(self) -> str:
        return f"SparkConf({self._conf!r})"


class StorageLevel:
    """Accepted for compatibility; no effect (see the module docstring)."""

    def __init__(
        self, useDisk: bool, useMemory: bool, useOffHeap: bool, deserialized: bool, replication: int = 1
    ):
        self.useDisk, self.useMemory, self.useOffHeap = useDisk, useMemory, useOffHeap
        self.deserialized, self.replication = deserialized, replication

    def __repr__(self) -> str:
        return (
            f"StorageLevel({self.useDisk}, {self.useMemory}, {self.useOffHeap}, "
            f"{self.deserialized}, {self.replication})"
        )


StorageLevel.DISK_ONLY = StorageLevel(True, False, False, False)  # type: ignore[attr-defined]
StorageLevel.DISK_ONLY_2 = StorageLevel(True, False, False, False, 2)  # type: ignore[attr-defined]
StorageLevel.MEMORY_ONLY = StorageLevel(False, True, False, False)  # type: ignore[attr-defined]
StorageLevel.MEMORY_ONLY_2 = StorageLevel(False, True, False, False, 2)  # type: ignore[attr-defined]
StorageLevel.MEMORY_AND_DISK = StorageLevel(True, True, False, False)  # type: ignore[attr-defined]
StorageLevel.MEMORY_AND_DISK_2 = StorageLevel(True, True, False, False, 2)  # type: ignore[attr-defined]
StorageLevel.OFF_HEAP = StorageLevel(True, True, True, False, 1)  # type: ignore[attr-defined]
StorageLevel.MEMORY_AND_DISK_DESER = StorageLevel(True, True, False, True)  # type: ignore[attr-defined]


class SparkContext:
    """A local stand-in for ``pyspark.SparkContext``.

    >>> sc = SparkContext("local[2]", "demo")
    >>> sc.parallelize(range(5), 2).glom().collect()
    [[0, 1], [2, 3, 4]]
    >>> sc.stop()
    """

    _active: SparkContext | None = None
    _lock = threading.Lock()

    def __init__(
        self,
        master: str | None = None,
        appName: str | None = None,
        sparkHome=None,
        pyFiles=None,
        environment=None,
        batchSize=0,
        serializer=None,
        conf: SparkConf | None = None,
        **_: Any,
    ):
        self._conf = conf if conf is not None else SparkConf()
        if master:
            self._conf.set("spark.master", master)
        if appName:
            self._conf.set("spark.app.name", appName)
        # Without a master (spark-submit would give one) batches have one partition, so keyed
        # outputs come in first-appearance order as in PySpark's own tests. Polars and DuckDB
        # still use every core inside a batch.
        self.master = self._conf.get("spark.master", "local[1]")
        self.appName = self._conf.get("spark.app.name", "dstreams")
        self.startTime = int(time.time() * 1000)  # ms since the epoch, as Spark's
        self.applicationId = f"local-{self.startTime}"
        self._checkpoint_dir: str | None = None
        self._stopped = False
        with SparkContext._lock:
            SparkContext._active = self

    @classmethod
    def getOrCreate(cls, conf: SparkConf | None = None) -> SparkContext:
        with cls._lock:
            active = cls._active
        return active if active is not None and not active._stopped else cls(conf=conf)

    # -- properties ------------------------------------------------------------------------------
    @property
    def defaultParallelism(self) -> int:
        """``spark.default.parallelism``, else n of ``local[n]`` (``local[*]``: cores), else 1."""
        configured = self._conf.get("spark.default.parallelism")
        if configured:
            return int(configured)
        match = re.fullmatch(r"local\[(\d+|\*)(?:,\s*\d+)?\]", self.master or "")
        if match:
            return os.cpu_count() or 1 if match.group(1) == "*" else int(match.group(1))
        return 1

    @property
    def defaultMinPartitions(self) -> int:
        """``min(defaultParallelism, 2)``, as Spark's default for file sources.

        >>> sc = SparkContext("local[4]", "min-parts")
        >>> sc.defaultMinPartitions
        2
        >>> sc.stop()
        """
        return min(self.defaultParallelism, 2)

    def getConf(self) -> SparkConf:
        """A copy of the settings (changing it does not change the context's).

        >>> sc = SparkContext("local[2]", "conf-demo")
        >>> sc.getConf().get("spark.app.name")
        'conf-demo'
        >>> sc.stop()
        """
        return SparkConf(_pairs=dict(self._conf.getAll()))

    @property
    def uiWebUrl(self) -> str | None:
        """None: there is no Spark web UI (see ``ssc.batch_infos`` and ``StreamingListener``).

        >>> SparkContext.getOrCreate().uiWebUrl is None
        True
        """
        return None

    def sparkUser(self) -> str:
        """The name of the user running the program.

        >>> isinstance(SparkContext.getOrCreate().sparkUser(), str)
        True
        """
        import getpass

        return getpass.getuser()

    def setLocalProperty(self, key: str, value: str | None) -> None:
        """Set a property for jobs started from this thread (None removes it); kept, no effect.

        >>> sc = SparkContext.getOrCreate()
        >>> sc.setLocalProperty("spark.scheduler.pool", "fast")
        >>> sc.getLocalProperty("spark.scheduler.pool")
        'fast'
        """
        props = self._thread_properties()
        if value is None:
            props.pop(key, None)
        else:
            props[key] = str(value)

    def getLocalProperty(self, key: str) -> str | None:
        """The value :meth:`setLocalProperty` gave ``key`` in this thread, or None.

        >>> SparkContext.getOrCreate().getLocalProperty("never.set") is None
        True
        """
        return self._thread_properties().get(key)

    def _thread_properties(self) -> dict[str, str]:
        local = self.__dict__.setdefault("_local", threading.local())
        if not hasattr(local, "props"):
            local.props = {}
        return local.props

    def setJobGroup(self, groupId: str, description: str, interruptOnCancel: bool = False) -> None:
        """Kept as local properties (Spark's ``spark.jobGroup.id``/``spark.job.description``); no effect.

        >>> sc = SparkContext.getOrCreate()
        >>> sc.setJobGroup("etl", "load the day")
        >>> sc.getLocalProperty("spark.jobGroup.id")
        'etl'
        """
        self.setLocalProperty("spark.jobGroup.id", groupId)
        self.setLocalProperty("spark.job.description", description)

    def setJobDescription(self, value: str) -> None:
        """Kept as the local property ``spark.job.description``; no effect.

        >>> sc = SparkContext.getOrCreate()
        >>> sc.setJobDescription("count words")
        >>> sc.getLocalProperty("spark.job.description")
        'count words'
        """
        self.setLocalProperty("spark.job.description", value)

    @property
    def version(self) -> str:
        from . import __version__

        return __version__

    # -- RDDs ------------------------------------------------------------------------------------
    def parallelize(self, c: Iterable[Any], numSlices: int | None = None):
        """Spark's slicing: partition i gets ``c[i*n//k:(i+1)*n//k]``."""
        from .batch import Batch
        from .rdd import RDD

        n = numSlices if numSlices is not None else self.defaultParallelism
        if n < 1:
            raise ConfigurationError(f"parallelize: numSlices must be at least 1, got {n}")
        return RDD(Batch.from_elements(list(c), n), self)

    def emptyRDD(self):
        """An RDD with no partitions (``count()`` over it emits nothing, as in Spark)."""
        from .batch import Batch
        from .rdd import RDD

        return RDD(Batch.empty(0), self)

    def textFile(self, name: str, minPartitions: int | None = None, use_unicode: bool = True):
        r"""Lines of text files, UTF-8, as Hadoop reads them (``\n``, ``\r`` or ``\r\n`` end a line).

        ``name`` is a file, a directory (its files, skipping names starting with ``.`` or ``_``),
        a glob pattern, or several of these separated by commas.

        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> with open(os.path.join(folder, "a.txt"), "w", newline="") as fh:
        ...     _ = fh.write("one\r\ntwo\n")
        >>> SparkContext.getOrCreate().textFile(os.path.join(folder, "*.txt")).collect()
        ['one', 'two']
        """
        lines: list[str] = []
        for path in _text_paths(name):
            with open(path, encoding="utf-8", newline="") as fh:
                lines.extend(_lines(fh.read()))
        return self.parallelize(lines, minPartitions or 1)

    def union(self, rdds):
        """The elements of every RDD in ``rdds``, in order (their partitions side by side).

        >>> sc = SparkContext.getOrCreate()
        >>> sc.union([sc.parallelize([1]), sc.parallelize([2, 3])]).collect()
        [1, 2, 3]
        """
        if not rdds:
            raise ConfigurationError("union needs at least one RDD; for nothing use sc.emptyRDD()")
        out = rdds[0]
        for rdd in rdds[1:]:
            out = out.union(rdd)
        return out

    def range(self, start: int, end: int | None = None, step: int = 1, numSlices: int | None = None):
        """The ints from ``start`` to ``end`` (exclusive) by ``step``; ``range(n)`` is 0 to n.

        >>> SparkContext.getOrCreate().range(1, 7, 2, numSlices=2).glom().collect()
        [[1], [3, 5]]
        """
        if end is None:
            start, end = 0, start
        return self.parallelize(range(start, end, step), numSlices)

    def wholeTextFiles(self, path: str, minPartitions: int | None = None, use_unicode: bool = True):
        """Pairs ``("file:" + absolute path, whole content)``, one per file (names as :meth:`textFile`).

        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> with open(os.path.join(folder, "a.txt"), "w") as fh:
        ...     _ = fh.write("one line")
        >>> [content for _, content in SparkContext.getOrCreate().wholeTextFiles(folder).collect()]
        ['one line']
        """
        files = []
        for name in _text_paths(path):
            with open(name, "rb") as fh:
                data = fh.read()
            files.append(("file:" + os.path.abspath(name), data.decode("utf-8") if use_unicode else data))
        parts = minPartitions if minPartitions is not None else min(self.defaultParallelism, 2)
        return self.parallelize(files, max(1, min(parts, len(files))))

    def pickleFile(self, name: str, minPartitions: int | None = None):
        """Read back what ``rdd.saveAsPickleFile(name)`` wrote, one partition per file.

        This *unpickles* the files, which runs code they name, as Spark's ``pickleFile`` does:
        only read files that your own application wrote, never files from elsewhere.

        >>> import os, tempfile
        >>> sc = SparkContext.getOrCreate()
        >>> out = os.path.join(tempfile.mkdtemp(), "saved")
        >>> sc.parallelize([1, 2, 3], 2).saveAsPickleFile(out)
        >>> sc.pickleFile(out).glom().collect()
        [[1], [2, 3]]
        """
        from .batch import Batch
        from .rdd import RDD

        partitions = []
        for path in _text_paths(name):
            elements: list[Any] = []
            with open(path, "rb") as fh:
                while True:
                    try:
                        elements.extend(pickle.load(fh))
                    except EOFError:
                        break
            partitions.append(elements)
        if minPartitions is not None and minPartitions > len(partitions):
            flat = [e for part in partitions for e in part]
            return self.parallelize(flat, minPartitions)
        return RDD(Batch.from_partitions(partitions) if partitions else Batch.empty(0), self)

    # -- shared variables ------------------------------------------------------------------------
    def broadcast(self, value: T) -> Broadcast[T]:
        """A :class:`~dstreams.Broadcast` of ``value``, read with ``.value`` in any operator.

        >>> SparkContext.getOrCreate().broadcast({"a": 1}).value["a"]
        1
        """
        return Broadcast(value)

    def accumulator(self, value: T, accum_param: AccumulatorParam[T] | None = None) -> Accumulator[T]:
        """An :class:`~dstreams.Accumulator` starting at ``value``; ints, floats and complex numbers
        add with ``+``, other types need an :class:`~dstreams.AccumulatorParam`.

        >>> counter = SparkContext.getOrCreate().accumulator(0)
        >>> counter += 5
        >>> counter.value
        5
        """
        return new_accumulator(value, accum_param)

    def setCheckpointDir(self, dirName: str) -> None:
        """Where stateful operators checkpoint (as ``ssc.checkpoint(dir)``)."""
        self._checkpoint_dir = dirName

    def getCheckpointDir(self) -> str | None:
        """The directory given to :meth:`setCheckpointDir`, or None."""
        return self._checkpoint_dir

    def setLogLevel(self, logLevel: str) -> None:
        """Set the level of the ``dstreams`` logger with Spark's names: ALL, DEBUG, ERROR, FATAL,
        INFO, OFF, TRACE or WARN (any case); another name raises an error listing these.

        >>> sc = SparkContext.getOrCreate()
        >>> sc.setLogLevel("ERROR")
        >>> sc.setLogLevel("WARN")
        """
        logs.set_level(logLevel)

    def stop(self) -> None:
        self._stopped = True
        with SparkContext._lock:
            if SparkContext._active is self:
                SparkContext._active = None

    def __enter__(self) -> SparkContext:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _text_paths(name: str) -> list[str]:
    paths: list[str] = []
    for part in name.split(","):
        matches = sorted(glob.glob(part)) if any(c in part for c in "*?[") else [part]
        if not matches:
            raise FileNotFoundError(f"textFile: no file matches {part!r}")
        for path in matches:
            if os.path.isdir(path):
                names = sorted(f for f in os.listdir(path) if not f.startswith((".", "_")))
                paths.extend(os.path.join(path, f) for f in names if os.path.isfile(os.path.join(path, f)))
            else:
                paths.append(path)
    return paths


def _lines(text: str) -> list[str]:
    # Not str.splitlines(): it also splits on \v, \f, \x1c-\x1e, \x85, \u2028..., Hadoop does not.
    lines = re.split(r"\r\n|\r|\n", text)
    if lines[-1] == "":
        lines.pop()  # a final line ending ends the last line; it does not start another
    return lines
