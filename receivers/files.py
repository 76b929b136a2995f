"""File streams: ``textFileStream``, ``binaryRecordsStream`` and ``fileStream``, read straight into Arrow.

Spark's ``FileInputDStream`` rules, checked each time batch ``t`` is generated:

* ``directory`` is a directory or a glob pattern (``logs/2024-*/``, ``in/*.csv``); files whose
  name starts with ``.`` or ``_`` are ignored (hidden and temporary files);
* only **new** files count: files present when the context starts are never read
  (``newFilesOnly=False`` reads those modified in the last minute);
* a file belongs to the first batch ``t`` with ``mtime <= t``: files of the interval
  ``(t - batch, t]`` go to batch ``t``, a file whose mtime is still in the future waits, and a new file
  with an mtime older than the remember window (``spark.streaming.fileStream.minRememberDuration``,
  60 s) is ignored with a warning, as Spark (``mv`` keeps the mtime: touch old files before moving
  them in);
* a file is read once: **later changes are ignored**. Files must therefore be written elsewhere and
  moved in atomically. A file that changes while being read or within a few batches after it was read
  was not moved in atomically: that is reported as a bad record of the file (see below).

Formats: ``text`` (lines split at ``\\n``, ``\\r\\n`` or ``\\r``, as ``sc.textFile``; one ``value``
column), ``binary`` (``recordLength``-byte ``bytes`` records), ``csv``, ``json`` (one object per
line), ``parquet`` and ``arrow`` (IPC file or stream): columns as read, one row per record (row
layout), each file one partition. ``schema`` (a ``pa.Schema`` or ``{name: pa type}``) fixes names and
types; without it each file's types are inferred (pass one for stable types across files). CSV
options: ``header`` (False; with a schema the header line is skipped and the schema names are used),
``sep`` (``,``), ``quote`` (``"``), ``escape`` (none), ``nullValue`` (``""``); unnamed columns are
``_c0, _c1, ...`` as Spark.

**Malformed records** (a CSV row with the wrong number of columns or a value that does not convert,
a JSON line that does not parse, text that is not UTF-8, a trailing partial binary record, a Parquet
or Arrow file that cannot be read, a file changed after it was read) follow one of two policies:

* ``badRecordsPath=dir``: the record is left out, the batch goes on; each bad record is written to
  ``dir/<batch ms>/bad_records-<stream id>.json`` (JSON lines: ``path``, ``line``, ``record``,
  ``reason``, ``batchTime``) and
  counted in the batch's input metadata (``badRecords``);
* otherwise (fail-fast, the default): generating the batch fails with :class:`BadRecordError`
  naming the file and line (``awaitTermination`` raises it); the bad file is not read again and the
  batch's other new files are read by the next batch.

**Checkpoints** (as Spark's ``FileInputDStream``): the stream's position is the files each batch of
the remember window selected, and the names of files present at the start that are newer than it
(``newFilesOnly``); its data is not journaled. After a restart the batches after the checkpoint list
the directory again and select the same files by the rules above, and files that arrived while the
application was down go to the first batches after it (so a file must stay in place until a
checkpoint after its batch). Files older than the checkpoint's remember window are not read again.

A directory that does not exist is a :class:`~dstreams.errors.ConfigurationError` at
``ssc.start()``. Listing is one ``os.scandir`` per directory per batch; only names not seen before
are stat'ed, so directories with many thousands of files stay cheap.
"""

from __future__ import annotations

import glob
import io
import json
import logging
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from dstreams import codec, ops
from dstreams.batch import Batch
from dstreams.dstream import InputDStream
from dstreams.errors import ConfigurationError, DStreamsError
from dstreams.privatefiles import make_private_dirs, private_temp

from .ratecontrol import duration_ms

if TYPE_CHECKING:
    from dstreams.context import StreamingContext

log = logging.getLogger("dstreams")

FORMATS = ("text", "binary", "csv", "json", "parquet", "arrow")
MIN_REMEMBER = "spark.streaming.fileStream.minRememberDuration"
_CSV_OPTIONS = ("header", "sep", "delimiter", "quote", "escape", "nullValue")
_WATCH_BATCHES = 3  # files read in the last batches are checked for later changes
_SHOWN = 200  # longest record text kept in a bad-record entry or error message


class BadRecordError(DStreamsError):
    """A malformed record in a file stream (fail-fast mode); names the file and the line."""


@dataclass
class _Bad:
    path: str
    line: int | None  # 1-based line (record number for binary files); None: the whole file
    record: str
    reason: str

    def describe(self) -> str:
        where = self.path if self.line is None else f"{self.path}, line {self.line}"
        shown = f": {self.record!r}" if self.record else ""
        return f"{where}: {self.reason}{shown}"


@dataclass
class _File:
    path: str
    size: int
    mtime_ns: int


class FileInputDStream(InputDStream):
    """New files of a directory, one batch per interval (see the module docstring)."""

    def __init__(
        self,
        ssc: StreamingContext,
        directory: str,
        format: str = "text",
        *,
        schema: Any = None,
        recordLength: int | None = None,
        badRecordsPath: str | None = None,
        newFilesOnly: bool = True,
        followSymlinks: bool = False,
        **options: Any,
    ):
        if format not in FORMATS:
            raise ConfigurationError(f"fileStream: format must be one of {list(FORMATS)}, got {format!r}")
        if format == "binary":
            if not isinstance(recordLength, int) or recordLength <= 0:
                raise ConfigurationError(
                    f"binaryRecordsStream: recordLength must be a positive int, got {recordLength!r}"
                )
        elif recordLength is not None:
            raise ConfigurationError(f"recordLength applies to binaryRecordsStream only, not {format!r}")
        allowed = _CSV_OPTIONS if format == "csv" else ()
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise ConfigurationError(
                f"fileStream({format!r}): unknown option(s) {unknown}; valid: {sorted(allowed) or 'none'}"
            )
        if schema is not None and format in ("text", "binary"):
            raise ConfigurationError(f"fileStream: schema does not apply to format {format!r}")
        super().__init__(ssc)
        self.directory = os.fspath(directory)
        self.format = format
        self.schema = _as_schema(schema)
        self.record_length = recordLength
        self.bad_records_path = badRecordsPath
        self.new_files_only = newFilesOnly
        # Anyone who can drop a file into the directory could drop a link to a file only the
        # application may read: links are skipped (reported once each) unless asked for.
        self.follow_symlinks = bool(followSymlinks)
        self._skipped_links: set[str] = set()
        self._options = options
        conf = ssc.sparkContext.getConf()
        min_remember = duration_ms(conf.get(MIN_REMEMBER, "60s"), MIN_REMEMBER, "s")
        batch = self._slide_ms
        self._remember_window = -(-min_remember // batch) * batch  # rounded up to whole batches
        self._seen: set[str] = set()  # files read or ignored (forgotten once deleted)
        # checkpoint position: files selected by the batches of the remember window; files present at
        # the start (newFilesOnly) with an mtime after it; on recovery, older mtimes are skipped
        self._selected: dict[int, list[str]] = {}
        self._ignored: set[str] = set()
        self._start_ms: int | None = None
        self._floor_ms: int | None = None
        self._restored = False
        self._watched: dict[str, tuple[int, int, int]] = {}  # recently read: path -> (size, mtime, t)
        self._metadata: dict[int, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"<fileStream #{self._id} {self.format} {self.directory!r}>"

    # -- engine hooks ------------------------------------------------------------------------------
    def _start(self) -> None:
        base = _glob_base(self.directory)
        if not os.path.isdir(base):
            what = "directory" if base == self.directory else f"base directory {base!r} of pattern"
            raise ConfigurationError(
                f"{self._api()}: {what} {self.directory!r} does not exist; create it before "
                "ssc.start() (only files that appear in it after the start are read)"
            )
        if self._restored:
            # Files with older mtimes were read or ignored before the checkpoint this context was
            # restored from (the batch grid's zero): skip them silently.
            floors = [self._ssc._graph.zero_ms - self._remember_window]
            if self.new_files_only and self._start_ms is not None:
                floors.append(self._start_ms)
            self._floor_ms = max(floors)
            return  # the restored position says what was read
        self._start_ms = self._ssc._graph.zero_ms
        if self.new_files_only:
            self._seen = set()
            # With checkpoints, files newer than the start are remembered by name: after a restart
            # their mtime would not exclude them (a stat each, once; without checkpoints, none).
            check = self._start_ms is not None and self._ssc._checkpoint_dir is not None
            for path, entry in self._list():
                self._seen.add(path)
                if check and entry.stat().st_mtime_ns // 1_000_000 > self._start_ms:
                    self._ignored.add(path)

    _replayable = True  # its batches after a checkpoint are selected again from the directory

    def _checkpoint_state(self) -> dict[str, Any]:
        """The files each batch of the remember window selected (see the module docstring), relative
        to the watched directory (journaled with every batch: kept small)."""
        cut = len(self._prefix())
        return {
            "selected": {str(t): [p[cut:] for p in paths] for t, paths in self._selected.items()},
            "ignored": sorted(p[cut:] for p in self._ignored),
            "start_ms": self._start_ms,
        }

    def _restore_state(self, state: dict[str, Any]) -> None:
        """Recovery: go on after the checkpoint whose position is ``state`` (before ``_start``)."""
        prefix = self._prefix()
        self._selected = {
            int(t): [prefix + p for p in paths] for t, paths in state.get("selected", {}).items()
        }
        self._ignored = {prefix + p for p in state.get("ignored", ())}
        self._start_ms = state.get("start_ms")
        self._seen = self._ignored | {p for paths in self._selected.values() for p in paths}
        self._restored = True

    def _prefix(self) -> str:
        """What every listed path starts with (the same string, so that names compare equal)."""
        base = _glob_base(self.directory)
        return base if base.endswith(os.sep) else base + os.sep

    def _allocate(self, t: int) -> Batch:
        # Files present at the start are excluded by name (_seen), not by mtime: a file written just
        # after the start may carry an mtime slightly before it (file systems use a coarse clock).
        threshold = t - self._remember_window
        new, present, too_old = [], set(), []
        for path, entry in self._list():
            present.add(path)
            if path in self._seen:
                continue
            st = entry.stat()
            mtime_ms = st.st_mtime_ns // 1_000_000
            if mtime_ms > t:
                continue  # modified after this batch's end: a later batch takes it
            if self._floor_ms is not None and mtime_ms <= self._floor_ms:
                self._seen.add(path)  # handled before the checkpoint this context was restored from
                continue
            self._seen.add(path)
            if mtime_ms <= threshold:
                too_old.append(path)
                continue
            new.append(_File(path, st.st_size, st.st_mtime_ns))
        bad = self._changed_since_read(present, t)
        if len(self._seen) > len(present):  # forget deleted files (a new file may reuse the name)
            self._seen &= present
            self._ignored &= present
        for path in too_old:
            log.warning(
                "%r: ignoring new file %s: its modification time is older than the remember window "
                "(%d s); touch it before moving it in",
                self,
                path,
                self._remember_window // 1000,
            )
        new.sort(key=lambda f: f.path)
        tables: list[tuple[pa.Table, str, int]] = []
        read: list[str] = []
        for file in new:
            table, file_bad = self._read(file)
            bad.extend(file_bad)
            if table is not None:
                tables.append((table, codec.layout_of(table) if self.format in _COLUMNAR else "value", 1))
                read.append(file.path)
                self._watched[file.path] = (file.size, file.mtime_ns, t)
        if bad and self.bad_records_path is None:
            failed = {b.path for b in bad}
            for file in new:  # the other files are read by the next batch
                if file.path not in failed:
                    self._seen.discard(file.path)
                    self._watched.pop(file.path, None)
            first = bad[0]
            more = f" ({len(bad) - 1} more bad records)" if len(bad) > 1 else ""
            raise BadRecordError(
                f"{self._api()}: malformed record in {first.describe()}{more}. Fix or remove the "
                f"file, or pass badRecordsPath=<dir> to skip bad records and go on"
            )
        bad_file = self._write_bad_records(t, bad) if bad else None
        if new:
            self._selected[t] = [file.path for file in new]
        for old in [k for k in self._selected if k <= t - self._remember_window]:
            del self._selected[old]
        self._record_metadata(t, read, bad, bad_file, too_old)
        if not tables:
            return Batch.empty(0)
        return Batch(*ops.union(tables))

    def _input_metadata(self, t: int) -> dict[str, Any]:
        """What this stream adds to ``StreamInputInfo.metadata`` of batch ``t``."""
        return self._metadata.pop(t, {})

    # -- listing -----------------------------------------------------------------------------------
    def _list(self) -> Iterator[tuple[str, Any]]:
        """``(path, entry)`` for every candidate file; ``entry.stat()`` is called only when needed."""
        if not glob.has_magic(self.directory):
            yield from _scan(self.directory, self)
            return
        for match in sorted(glob.glob(self.directory)):
            if os.path.isdir(match):
                yield from _scan(match, self)
            elif not os.path.basename(match).startswith((".", "_")) and os.path.isfile(match):
                if os.path.islink(match) and not self.follow_symlinks:
                    self.skipped_link(match)
                    continue
                yield match, _PathEntry(match)

    def skipped_link(self, path: str) -> None:
        """Report a symbolic link in the watched directory once; it is never read (followSymlinks=False)."""
        if path in self._skipped_links:
            return
        self._skipped_links.add(path)
        log.warning(
            "%r: skipping %s: it is a symbolic link (to %s); a watched directory is read for regular "
            "files only. Move the file itself in, or pass followSymlinks=True if every user who can "
            "write the directory may make the application read any file it can read",
            self,
            path,
            os.path.realpath(path),
        )

    def _changed_since_read(self, present: set[str], t: int) -> list[_Bad]:
        bad = []
        for path, (size, mtime_ns, read_at) in list(self._watched.items()):
            if t - read_at > _WATCH_BATCHES * self._slide_ms or path not in present:
                del self._watched[path]
                continue
            try:
                st = os.stat(path)
            except OSError:
                continue
            if (st.st_size, st.st_mtime_ns) != (size, mtime_ns):
                del self._watched[path]
                bad.append(
                    _Bad(
                        path,
                        None,
                        "",
                        f"file changed after batch {read_at} ms read it ({size} -> {st.st_size} bytes); "
                        "the change is ignored: write files elsewhere and move them in atomically",
                    )
                )
        return bad

    # -- reading -----------------------------------------------------------------------------------
    def _read(self, file: _File) -> tuple[pa.Table | None, list[_Bad]]:
        try:
            data, st = _read_file(file.path, follow=self.follow_symlinks)
        except OSError as error:
            if not self.follow_symlinks and os.path.islink(file.path):
                self.skipped_link(file.path)  # replaced by a link after it was listed
                return None, []
            return None, [_Bad(file.path, None, "", f"could not be read: {error}")]
        if (st.st_size, st.st_mtime_ns) != (file.size, file.mtime_ns) or data.size != st.st_size:
            return None, [
                _Bad(
                    file.path,
                    None,
                    "",
                    "file changed while it was being read (still being written?): write files "
                    "elsewhere and move them in atomically",
                )
            ]
        if not data.size:
            log.warning(
                "%r: file %s has no data in it; file streams only read files that were moved into "
                "the directory atomically",
                self,
                file.path,
            )
        reader = getattr(self, f"_read_{self.format}")
        try:
            return reader(file.path, data)
        except (pa.ArrowException, OSError, ValueError) as error:
            return None, [_Bad(file.path, None, "", f"cannot be read as {self.format}: {error}")]

    # Readers get the file's bytes as a pa.Buffer; bad-record paths copy them to Python bytes.
    def _read_text(self, path: str, data: pa.Buffer) -> tuple[pa.Table, list[_Bad]]:
        lines, bad = _text_lines(path, data)
        return pa.table({"value": lines}), bad

    def _read_binary(self, path: str, data: pa.Buffer) -> tuple[pa.Table, list[_Bad]]:
        size = self.record_length
        n, rest = divmod(data.size, size)
        records = pa.FixedSizeBinaryArray.from_buffers(pa.binary(size), n, [None, data])
        bad = []
        if rest:
            bad.append(
                _Bad(
                    path,
                    n + 1,
                    data.slice(n * size).to_pybytes()[:_SHOWN].hex(),
                    f"partial record: the file has {data.size} bytes, not a multiple of "
                    f"recordLength={size} (record {n + 1} has {rest} bytes)",
                )
            )
        return pa.table({"value": records.cast(pa.binary())}), bad

    def _read_csv(self, path: str, data: pa.Buffer) -> tuple[pa.Table, list[_Bad]]:
        o = self._options
        header = bool(o.get("header", False))
        names = self.schema.names if self.schema is not None else None
        read = pa_csv.ReadOptions(
            column_names=names,
            autogenerate_column_names=not header and names is None,
            skip_rows=1 if header and names is not None else 0,
        )
        invalid: list[str] = []

        def on_invalid(row: Any) -> str:
            invalid.append(row.text)
            return "skip"

        delimiter = o.get("sep", o.get("delimiter", ","))
        quote = o.get("quote", '"')
        parse = pa_csv.ParseOptions(
            delimiter=delimiter,
            quote_char=quote if quote else False,
            escape_char=o.get("escape") or False,
            invalid_row_handler=on_invalid,
        )
        types = dict(zip(self.schema.names, self.schema.types)) if self.schema is not None else None
        nulls = [o.get("nullValue", "")]
        unterminated: list[_Bad] = []
        if quote:
            escape = o.get("escape") or None
            raw_bytes = data.to_pybytes()
            if escape or raw_bytes.count(quote.encode()) % 2:
                index = _csv_unterminated_quote(raw_bytes, quote.encode(), escape and escape.encode())
                if index is not None:
                    kept = _LINE_END.split(raw_bytes)
                    unterminated.append(
                        _Bad(
                            path,
                            index + 1,
                            _shown(kept[index]),
                            f"unterminated quote ({quote}): the line is left out",
                        )
                    )
                    ends = [m.end() for m in _LINE_END.finditer(raw_bytes)]
                    start = ends[index - 1] if index else 0
                    stop = ends[index] if index < len(ends) else len(raw_bytes)
                    data = pa.py_buffer(raw_bytes[:start] + raw_bytes[stop:])
                    if header and index == 0:
                        raise pa.ArrowInvalid(f"the header line has an unterminated quote ({quote})")
        table, bad = _read_csv_rows(path, data, header, names, read, parse, types, nulls, invalid)
        if unterminated:  # lines from the removed one on are one further down in the file
            for b in bad:
                if b.line is not None and b.line >= unterminated[0].line:
                    b.line += 1
        return table, sorted(unterminated + bad, key=lambda b: (b.line is None, b.line or 0))

    def _read_json(self, path: str, data: pa.Buffer) -> tuple[pa.Table, list[_Bad]]:
        parse = pa_json.ParseOptions(
            explicit_schema=self.schema,
            unexpected_field_behavior="ignore" if self.schema is not None else "infer",
        )
        whole_file_error: Exception | None = None
        # pyarrow 26's JSON reader crashes the process (SIGSEGV) on a line that is just `null`:
        # such files take the line-by-line path, which never hands pyarrow a non-object line.
        if not _NULL_LINE.search(data.to_pybytes()):
            try:
                return pa_json.read_json(pa.BufferReader(data), parse_options=parse), []
            except pa.ArrowInvalid as error:
                whole_file_error = error
        # Find the lines that are not JSON objects, then read the others.
        good, bad = [], []
        for number, line in enumerate(data.to_pybytes().split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as error:
                bad.append(_Bad(path, number, _shown(line), f"not valid JSON ({error})"))
                continue
            if isinstance(value, dict):
                good.append((number, line))
            else:
                bad.append(_Bad(path, number, _shown(line), f"a JSON {type(value).__name__}, not an object"))
        if not good:
            return _empty_like(self.schema), bad
        if whole_file_error is None:
            try:
                return pa_json.read_json(
                    pa.BufferReader(b"\n".join(line for _, line in good)), parse_options=parse
                ), bad
            except pa.ArrowInvalid:
                pass
        # Each line parses, but not together: some values do not fit the column's type. Keep every
        # line that fits, report each one that does not (see _json_fitting_lines).
        table, misfits = _json_fitting_lines(path, good, self.schema)
        return table, sorted(bad + misfits, key=lambda b: b.line or 0)

    def _read_parquet(self, path: str, data: pa.Buffer) -> tuple[pa.Table, list[_Bad]]:
        columns = self.schema.names if self.schema is not None else None
        table = pq.read_table(pa.BufferReader(data), columns=columns)
        return _conform(table, self.schema), []

    def _read_arrow(self, path: str, data: pa.Buffer) -> tuple[pa.Table, list[_Bad]]:
        try:
            table = pa.ipc.open_file(pa.BufferReader(data)).read_all()
        except pa.ArrowInvalid:
            table = pa.ipc.open_stream(pa.BufferReader(data)).read_all()
        if self.schema is not None:
            table = table.select(self.schema.names)
        return _conform(table, self.schema), []

    # -- bad records and metrics -------------------------------------------------------------------
    def _write_bad_records(self, t: int, bad: list[_Bad]) -> str:
        directory = make_private_dirs(os.path.join(self.bad_records_path, str(t)))
        target = os.path.join(directory, f"bad_records-{self._id}.json")
        # the records are the application's data: a private file with an unpredictable temp name
        with private_temp(directory, os.path.basename(target)) as (raw, tmp):
            fh = io.TextIOWrapper(raw, encoding="utf-8")
            for b in bad:
                entry = {
                    "path": b.path,
                    "line": b.line,
                    "record": b.record,
                    "reason": b.reason,
                    "batchTime": t,
                }
                fh.write(json.dumps(entry) + "\n")
            fh.close()
            os.replace(tmp, target)
        log.warning("%r: %d bad record(s) in batch %d skipped, written to %s", self, len(bad), t, target)
        return target

    def _record_metadata(self, t: int, read: list[str], bad: list[_Bad], bad_file, too_old) -> None:
        self._metadata[t] = {
            "Description": "\n".join(read),
            "files": read,
            "badRecords": len(bad),
            "badRecordsFile": bad_file,
            "ignoredFiles": list(too_old),
        }
        while len(self._metadata) > 100:  # kept until the scheduler reads them (if it does)
            self._metadata.pop(next(iter(self._metadata)))

    def _api(self) -> str:
        name = {"text": "textFileStream", "binary": "binaryRecordsStream"}.get(self.format)
        return name or f"fileStream({self.format!r})"


_COLUMNAR = ("csv", "json", "parquet", "arrow")


def _read_file(path: str, *, follow: bool) -> tuple[pa.Buffer, os.stat_result]:
    """The file's bytes in Arrow memory (no Python bytes copy) and its stat, from one open file:
    without ``follow`` a symbolic link is refused at open (``O_NOFOLLOW``), not checked beforehand."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | (0 if follow else getattr(os, "O_NOFOLLOW", 0))
    fd = os.open(path, flags)
    with io.FileIO(fd, "rb", closefd=True) as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{path} is not a regular file")
        buffer = pa.allocate_buffer(st.st_size)
        view, done = memoryview(buffer), 0
        while done < st.st_size:
            n = fh.readinto(view[done:])
            if not n:
                break  # cut short while being read: the size check of the caller reports it
            done += n
        return (buffer if done == st.st_size else buffer.slice(0, done)), st


class _PathEntry:
    """A DirEntry-like object for a glob match."""

    def __init__(self, path: str):
        self.path = path

    def stat(self) -> os.stat_result:
        return os.stat(self.path)


def _scan(directory: str, stream: FileInputDStream) -> Iterator[tuple[str, Any]]:
    try:
        entries = os.scandir(directory)
    except FileNotFoundError:
        raise DStreamsError(
            f"{stream._api()}: directory {directory!r} disappeared; recreate it (new files are read "
            "once it is back)"
        ) from None
    with entries:
        for entry in entries:
            name = entry.name
            if name.startswith((".", "_")):
                continue
            try:
                if entry.is_symlink() and not stream.follow_symlinks:
                    if entry.is_file():
                        stream.skipped_link(entry.path)
                    continue
                if not entry.is_file():
                    continue
            except OSError:
                continue
            yield entry.path, entry


def _glob_base(pattern: str) -> str:
    """The directory a glob pattern starts from (the pattern itself when it has no magic)."""
    if not glob.has_magic(pattern):
        return pattern
    parts = []
    for part in pattern.split(os.sep):
        if glob.has_magic(part):
            break
        parts.append(part)
    return os.sep.join(parts) or "."


def _as_schema(schema: Any) -> pa.Schema | None:
    if schema is None or isinstance(schema, pa.Schema):
        return schema
    try:
        return pa.schema(schema)
    except (TypeError, ValueError, pa.ArrowException) as error:
        raise ConfigurationError(
            f"fileStream: schema must be a pyarrow.Schema or a {{name: pyarrow type}} dict, got {schema!r}"
        ) from error


def _conform(table: pa.Table, schema: pa.Schema | None) -> pa.Table:
    return table if schema is None else table.cast(schema)


def _empty_like(schema: pa.Schema | None) -> pa.Table:
    return schema.empty_table() if schema is not None else pa.table({})


_NULL_LINE = re.compile(rb"(?m)^\s*null\s*$")


def _shown(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else raw
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


_LINE_END = re.compile(rb"\r\n|\r|\n")
_CR = re.compile(rb"\r")


def _text_lines(path: str, data: pa.Buffer) -> tuple[pa.Array, list[_Bad]]:
    """Lines of a UTF-8 file as Hadoop reads them; lines that are not UTF-8 are bad records."""
    size = data.size
    if not size:
        return pa.array([], pa.string()), []
    offsets = pa.array([0, size], pa.int64()).buffers()[1]
    whole = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, data])
    try:
        text = whole.cast(pa.large_string())  # validates UTF-8
    except pa.ArrowInvalid:
        return _text_lines_slowly(path, data.to_pybytes())
    if _CR.search(memoryview(data)):  # a byte search over the buffer: 5x faster than a string kernel
        lines = pc.split_pattern_regex(text, r"\r\n|\r|\n").flatten()
    else:
        lines = pc.split_pattern(text, "\n").flatten()
    if data.slice(size - 1).to_pybytes() in (b"\n", b"\r"):
        lines = lines.slice(0, len(lines) - 1)  # a final line end ends the last line
    return (lines.cast(pa.string()) if size < 2**31 else lines), []


def _text_lines_slowly(path: str, data: bytes) -> tuple[pa.Array, list[_Bad]]:
    pieces = _LINE_END.split(data)
    if data.endswith((b"\n", b"\r")):
        pieces.pop()
    good, bad = [], []
    for number, raw in enumerate(pieces, start=1):
        try:
            good.append(raw.decode("utf-8"))
        except UnicodeDecodeError as error:
            bad.append(
                _Bad(path, number, _shown(raw), f"not valid UTF-8 ({error.reason} at byte {error.start})")
            )
    return pa.array(good, pa.string()), bad


def _json_fitting_lines(
    path: str, lines: list[tuple[int, bytes]], schema: pa.Schema | None
) -> tuple[pa.Table, list[_Bad]]:
    """Read JSON object lines whose values may not fit one type per column, losing only the misfits.

    With a schema, a line whose value does not convert to its column's type is bad. Without one, a
    column takes the type of its first non-null value in the file, and a later line with a value of
    another type is bad (reported, not widened: a column's type never depends on what came later).
    Chunks that read cleanly are kept whole; a failing chunk is halved until the failing lines are
    alone, so a file with few bad lines costs a few reads more than a good one.
    """
    bad: list[_Bad] = []
    tables: list[pa.Table] = []
    known = schema  # without a schema: the types established by the lines read so far

    def read(chunk: list[tuple[int, bytes]]) -> pa.Table:
        parse = pa_json.ParseOptions(
            explicit_schema=known,
            unexpected_field_behavior="ignore" if schema is not None else "infer",
        )
        return pa_json.read_json(pa.BufferReader(b"\n".join(line for _, line in chunk)), parse_options=parse)

    pending = [lines]
    while pending:
        chunk = pending.pop()
        try:
            table = read(chunk)
        except pa.ArrowInvalid as error:
            if len(chunk) == 1:
                number, line = chunk[0]
                why = str(error).splitlines()[0]
                bad.append(
                    _Bad(path, number, _shown(line), f"a value does not fit its column's type ({why})")
                )
            else:
                half = len(chunk) // 2
                pending += [chunk[half:], chunk[:half]]  # the first half is read first
            continue
        tables.append(table)
        if schema is None:  # all-null columns stay open: their type comes from a later value
            known = pa.schema([f for f in table.schema if not pa.types.is_null(f.type)]) or None
            if known is not None and not len(known):
                known = None
    if not tables:
        return _empty_like(schema), bad
    return pa.concat_tables(tables, promote_options="default"), bad


def _read_csv_rows(
    path: str,
    data: pa.Buffer,
    header: bool,
    names: Any,
    read: Any,
    parse: Any,
    types: Any,
    nulls: Any,
    invalid: list[str],
) -> tuple[pa.Table, list[_Bad]]:
    """Read CSV ``data``; rows of the wrong width (collected in ``invalid``) and values that do not
    convert are bad records with their line numbers."""
    convert = pa_csv.ConvertOptions(column_types=types, null_values=nulls, strings_can_be_null=True)
    try:
        table = pa_csv.read_csv(pa.BufferReader(data), read, parse, convert)
    except pa.ArrowInvalid as error:
        if types is None or "conversion error" not in str(error):
            raise
        table, conversion, invalid = _csv_convert_rows(data, read, parse, types, nulls)
        return table, _csv_bad_lines(path, data.to_pybytes(), header, parse, conversion, invalid)
    if not header and names is None:
        table = table.rename_columns([f"_c{i}" for i in range(table.num_columns)])
    bad = _csv_bad_lines(path, data.to_pybytes(), header, parse, [], invalid) if invalid else []
    return table, bad


def _csv_unterminated_quote(data: bytes, quote: bytes, escape: bytes | None) -> int | None:
    """The 0-based index of the line where a quote opens and is never closed, or None.

    pyarrow reads everything after such a quote as one field (good rows swallowed, nothing said):
    the caller reports that line and reads the rest without it. Quoted line breaks that are closed
    later are fine. Only called when the file's quote count is odd (or an escape char is set).
    """
    opened_at: int | None = None
    inside = False
    line = 0
    i, n = 0, len(data)
    q = quote[0]
    e = escape[0] if escape else -1
    while i < n:
        c = data[i]
        if c == e:
            i += 2
            continue
        if c == q:
            inside = not inside
            if inside:
                opened_at = line
        elif c == 10 or (c == 13 and (i + 1 >= n or data[i + 1] != 10)):
            line += 1
        i += 1
    return opened_at if inside else None


def _csv_bad_lines(
    path: str,
    data: bytes,
    header: bool,
    parse: Any,
    conversion: list[tuple[int, str, str]],
    wrong_width: list[str],
) -> list[_Bad]:
    """Line numbers of bad CSV rows (pyarrow does not give them): rows are matched to lines, one
    record per line; a row spanning lines (quoted newline) is reported without a line number."""
    lines = [raw.decode("utf-8", "replace") for raw in _LINE_END.split(data)]
    if data.endswith((b"\n", b"\r")):
        lines.pop()
    first = 1 if header else 0
    widths = {}
    for text in wrong_width:
        widths[text] = widths.get(text, 0) + 1
    bad: list[_Bad] = []
    data_lines = []  # line numbers of rows that were read (not blank, not of the wrong width)
    for number, text in enumerate(lines[first:], start=first + 1):
        if widths.get(text):
            widths[text] -= 1
            fields = len(text.split(parse.delimiter))
            bad.append(_Bad(path, number, _shown(text), f"wrong number of columns ({fields})"))
        elif text.strip():
            data_lines.append(number)
    for text, left in widths.items():
        bad.extend(_Bad(path, None, _shown(text), "wrong number of columns") for _ in range(left))
    for index, row, reason in conversion:
        line = data_lines[index] if index < len(data_lines) else None
        bad.append(_Bad(path, line, _shown(row), reason))
    bad.sort(key=lambda b: (b.line is None, b.line or 0))
    return bad


def _csv_convert_rows(
    data: bytes, read: Any, parse: Any, types: dict, nulls: list[str]
) -> tuple[pa.Table, list[tuple[int, str, str]], list[str]]:
    """Values that do not convert: read as text, convert column by column, drop failing rows."""
    invalid: list[str] = []

    def on_invalid(row: Any) -> str:
        invalid.append(row.text)
        return "skip"

    parse = pa_csv.ParseOptions(
        delimiter=parse.delimiter,
        quote_char=parse.quote_char,
        escape_char=parse.escape_char,
        invalid_row_handler=on_invalid,
    )
    as_text = {name: pa.string() for name in types}
    raw = pa_csv.read_csv(
        pa.BufferReader(data),
        read,
        parse,
        pa_csv.ConvertOptions(column_types=as_text, null_values=nulls, strings_can_be_null=True),
    )
    schema = pa.schema([pa.field(n, t) for n, t in types.items()])
    reasons: dict[int, str] = {}  # row index -> why (first failing column)
    for name, kind in types.items():
        column = raw.column(name)
        try:
            pc.cast(column, kind)
            continue
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        failing = []  # cast each distinct value to find the ones that fail
        for value in pc.unique(column).to_pylist():
            try:
                pa.array([value], pa.string()).cast(kind)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                failing.append(value)
        mask = pc.is_in(column, value_set=pa.array(failing, pa.string()))
        for index in pc.indices_nonzero(mask).to_pylist():
            reasons.setdefault(
                index, f"value {column[index].as_py()!r} of column {name!r} is not a valid {kind}"
            )
    indices = sorted(reasons)
    rows = raw.take(pa.array(indices, pa.int64())).to_pylist() if indices else []
    bad_rows = [
        (i, ",".join("" if v is None else str(v) for v in row.values()), reasons[i])
        for i, row in zip(indices, rows)
    ]
    keep = pa.array([i not in reasons for i in range(raw.num_rows)], pa.bool_())
    return raw.filter(keep).cast(schema), bad_rows, invalid
