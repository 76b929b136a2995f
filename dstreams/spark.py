"""Light local stand-ins for ``pyspark.SparkContext``, ``SparkConf`` and ``StorageLevel``.

They exist so that a PySpark streaming program ports by changing imports. There is no cluster:
``master`` is accepted; ``local[n]`` sets ``defaultParallelism`` to n, as in Spark.
Storage levels are accepted everywhere and have no effect (batches live in memory for as long as
an operator needs them; state is persisted by checkpoints, not by storage levels).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from typing import Any

from .errors import ConfigurationError


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
        self.master = self._conf.get("spark.master", "local[*]")
        self.appName = self._conf.get("spark.app.name", "dstreams")
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

    def getConf(self) -> SparkConf:
        return SparkConf(_pairs=dict(self._conf.getAll()))

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
        """Lines of a text file (or of every file in a directory), UTF-8."""
        paths = (
            sorted(os.path.join(name, f) for f in os.listdir(name) if not f.startswith((".", "_")))
            if os.path.isdir(name)
            else [name]
        )
        lines: list[str] = []
        for path in paths:
            with open(path, encoding="utf-8") as fh:
                lines.extend(fh.read().splitlines())
        return self.parallelize(lines, minPartitions or 1)

    def union(self, rdds):
        out = rdds[0]
        for rdd in rdds[1:]:
            out = out.union(rdd)
        return out

    def setCheckpointDir(self, dirName: str) -> None:
        self._checkpoint_dir = dirName

    def setLogLevel(self, logLevel: str) -> None:
        """Accepted; dstreams logs through the ``logging`` module (logger ``dstreams``)."""

    def stop(self) -> None:
        self._stopped = True
        with SparkContext._lock:
            if SparkContext._active is self:
                SparkContext._active = None

    def __enter__(self) -> SparkContext:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
