"""Reading and writing files: ``spark.read`` (``DataFrameReader``) and ``df.write`` (``DataFrameWriter``).

Both go through DuckDB: reads are lazy relations over the files, writes stream the query's result
to Parquet or CSV without materialising it in Python.

>>> df.write.mode("overwrite").parquet("out/counts")
>>> spark.read.parquet("out/counts").show()
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import duckdb

from dstreams.errors import ConfigurationError, NotSupportedError

from .dataframe import DataFrame, _flatten
from .errors import AnalysisException, translate

if TYPE_CHECKING:
    from .session import SparkSession


class DataFrameWriter:
    """``df.write``: ``mode(...)``, ``partitionBy(...)``, ``parquet(path)`` / ``csv(path)``.

    Writes a directory as Spark does: ``part-00000-<uuid>.<ext>`` files and ``_SUCCESS``. Modes:
    ``error``/``errorifexists`` (default) fails if the path exists, ``overwrite`` replaces it
    (the new directory is complete before the old one goes), ``append`` adds a part file,
    ``ignore`` does nothing if it exists.
    """

    _MODES = ("error", "errorifexists", "overwrite", "append", "ignore")

    def __init__(self, df: DataFrame):
        self._df = df
        self._mode = "error"
        self._format = "parquet"
        self._partition_by: list[str] = []
        self._options: dict[str, Any] = {}

    def mode(self, saveMode: str | None) -> DataFrameWriter:
        mode = (saveMode or "error").lower()
        if mode not in self._MODES:
            raise ConfigurationError(f"unknown save mode {saveMode!r}: use one of {self._MODES}")
        self._mode = mode
        return self

    def format(self, source: str) -> DataFrameWriter:
        if source.lower() not in ("parquet", "csv"):
            raise NotSupportedError(f"write format {source!r}: dstreams.sql writes parquet and csv")
        self._format = source.lower()
        return self

    def option(self, key: str, value: Any) -> DataFrameWriter:
        self._options[key] = value
        return self

    def options(self, **options: Any) -> DataFrameWriter:
        self._options.update(options)
        return self

    def partitionBy(self, *cols: str | Sequence[str]) -> DataFrameWriter:
        self._partition_by = _flatten(cols)
        return self

    def parquet(
        self, path: str, mode: str | None = None, partitionBy: Any = None, compression: str | None = None
    ):
        """Write Parquet files under ``path`` (a directory), as Spark does."""
        if mode is not None:
            self.mode(mode)
        if partitionBy:
            self.partitionBy(partitionBy)
        if compression:
            self._options["compression"] = compression
        self._format = "parquet"
        self.save(path)

    def csv(self, path: str, mode: str | None = None, header: bool | None = None, sep: str | None = None):
        if mode is not None:
            self.mode(mode)
        if header is not None:
            self._options["header"] = header
        if sep is not None:
            self._options["sep"] = sep
        self._format = "csv"
        self.save(path)

    def save(self, path: str, format: str | None = None, mode: str | None = None) -> None:
        if format:
            self.format(format)
        if mode:
            self.mode(mode)
        exists = os.path.exists(path)
        if exists and self._mode in ("error", "errorifexists"):
            raise AnalysisException(
                f"path {path} already exists; use mode('overwrite'), 'append' or 'ignore'"
            )
        if exists and self._mode == "ignore":
            return
        parent, name = os.path.split(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        target = (
            path
            if (self._mode == "append" and exists)
            else os.path.join(parent, f".{name}.tmp-{uuid.uuid4().hex[:8]}")
        )
        os.makedirs(target, exist_ok=True)
        try:
            self._write_files(target)
            if target != path:
                with open(os.path.join(target, "_SUCCESS"), "wb"):
                    pass
                if exists:  # overwrite: the new directory is complete before the old one goes
                    old = os.path.join(parent, f".{name}.old-{uuid.uuid4().hex[:8]}")
                    os.rename(path, old)
                    os.rename(target, path)
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    os.rename(target, path)
        except BaseException:
            if target != path:
                shutil.rmtree(target, ignore_errors=True)
            raise

    def _write_files(self, directory: str) -> None:
        ext = "snappy.parquet" if self._format == "parquet" else "csv"
        file = os.path.join(directory, f"part-00000-{uuid.uuid4()}.c000.{ext}")
        df = self._df
        with df._session._connection():
            rel = df._relation()
            try:
                if self._format == "parquet":
                    kwargs: dict[str, Any] = {"compression": self._options.get("compression", "snappy")}
                    if self._partition_by:
                        rel.write_parquet(
                            directory, partition_by=self._partition_by, overwrite=True, **kwargs
                        )
                    else:
                        rel.write_parquet(file, **kwargs)
                else:
                    header = str(self._options.get("header", False)).lower() == "true"
                    rel.write_csv(file, header=header, sep=self._options.get("sep", ","))
            except duckdb.Error as error:
                raise translate(error, None, f"write.{self._format}") from error


class DataFrameReader:
    """``spark.read``: ``parquet(*paths)``, ``csv(path, header=True)``, ``json(path)``."""

    def __init__(self, session: SparkSession):
        self._session = session
        self._format = "parquet"
        self._options: dict[str, Any] = {}

    def format(self, source: str) -> DataFrameReader:
        self._format = source.lower()
        return self

    def option(self, key: str, value: Any) -> DataFrameReader:
        self._options[key] = value
        return self

    def options(self, **options: Any) -> DataFrameReader:
        self._options.update(options)
        return self

    def schema(self, schema: Any) -> DataFrameReader:
        raise NotSupportedError(
            "read.schema(): DuckDB infers the schema; cast columns with selectExpr afterwards"
        )

    def load(self, path: str | None = None, format: str | None = None, **options: Any) -> DataFrame:
        fmt = (format or self._format).lower()
        self._options.update(options)
        if fmt == "parquet":
            return self.parquet(path)  # type: ignore[arg-type]
        if fmt == "csv":
            return self.csv(path)  # type: ignore[arg-type]
        if fmt == "json":
            return self.json(path)  # type: ignore[arg-type]
        raise NotSupportedError(f"read format {fmt!r}: dstreams.sql reads parquet, csv and json")

    def _read(self, what: str, build) -> DataFrame:
        with self._session._connection() as con:
            try:
                rel = build(con)
            except duckdb.Error as error:
                raise translate(error, None, what) from error
        return DataFrame(self._session, rel)

    def parquet(self, *paths: str) -> DataFrame:
        """Parquet files or Spark output directories (``key=value`` folders become columns)."""
        files = [_dataset_glob(p, "parquet") for p in paths]
        hive = any(os.path.isdir(p) for p in paths)
        return self._read(
            f"read.parquet({', '.join(paths)})", lambda con: con.read_parquet(files, hive_partitioning=hive)
        )

    def csv(
        self, path: str, header: bool | None = None, sep: str | None = None, inferSchema: Any = None
    ) -> DataFrame:
        has_header = (
            header if header is not None else str(self._options.get("header", False)).lower() == "true"
        )
        delimiter = sep or self._options.get("sep") or self._options.get("delimiter") or ","
        target = _dataset_glob(path, "csv")
        return self._read(
            f"read.csv({path})", lambda con: con.read_csv(target, header=has_header, sep=delimiter)
        )

    def json(self, path: str) -> DataFrame:
        target = _dataset_glob(path, "json")
        return self._read(f"read.json({path})", lambda con: con.read_json(target))

    def table(self, tableName: str) -> DataFrame:
        return self._session.table(tableName)


def _dataset_glob(path: str, ext: str) -> str:
    """A Spark output directory reads as the files in it (hidden and ``_`` files skipped)."""
    if os.path.isdir(path):
        return os.path.join(path, f"**/*.{ext}") if ext != "parquet" else os.path.join(path, "**/*.parquet")
    return path
