"""``socketTextStream``: lines of text from a TCP server, as Spark's ``SocketReceiver``.

The receiver connects **as a client** to ``host:port`` and splits the bytes it reads into lines at
``\\n`` (a ``\\r`` before it is dropped, so ``\\r\\n`` works too). A line is stored when its ``\\n``
arrives, so it lands in the batch whose interval it arrived in; a last line without ``\\n`` is
stored when the server closes the connection. Lines go straight into Arrow strings, a whole
``recv`` at a time.

Connection problems never stop the stream: when the server is not up yet, refuses, or closes the
connection, the receiver reports it (``onReceiverError``) and reconnects after the restart delay
(``restartDelay`` keyword, else ``spark.streaming.receiverRestartDelay``, 2 s), doubling the delay
(up to 16x) while reconnections bring no data.

**Bad lines** (one policy for both cases): a line that is not valid UTF-8, or longer than
``maxLineLength`` bytes (default 1 MiB), is left out of the stream, written with its exact bytes as
one line of a quarantine file, counted (``badLines`` in the stream's input metadata) and reported
to listeners with the file name and the line number in that file. An endless line is written to
the quarantine file as it arrives (memory stays bounded) and reported when it passes the limit. The
quarantine file is ``<quarantinePath>/socket-<stream>-<host>-<port>-<start time>-<random>.txt``;
``quarantinePath`` defaults to ``<checkpoint dir>/quarantine``, else ``quarantine`` in the user's private
state directory (``$XDG_STATE_HOME/dstreams``, else ``~/.local/state/dstreams``); directories are
created 0700, the file 0600 with a random part in its name, and a symlink in its place is refused.

When processing is slower than the server, ``store`` blocks at the stream's buffer bound, the
receiver stops reading and TCP flow control slows the server down: nothing is dropped.

>>> lines = ssc.socketTextStream("localhost", 9999, maxLineLength=65536, restartDelay=0.5)
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from dstreams.errors import ConfigurationError
from dstreams.privatefiles import make_private_dirs, open_private, state_dir

from .receiver import Receiver, ReceiverInputDStream

if TYPE_CHECKING:
    from dstreams.context import StreamingContext

DEFAULT_MAX_LINE = 1 << 20
_RECV_BYTES = 1 << 18
_RECEIVER_OPTIONS = ("maxLineLength", "quarantinePath", "connectTimeout")
_STREAM_OPTIONS = ("maxRate", "blockInterval", "maxBufferedRecords", "restartDelay")


def socket_text_stream(
    ssc: StreamingContext, hostname: str, port: int, storageLevel: Any = None, **options: Any
) -> ReceiverInputDStream:
    """``ssc.socketTextStream``: a :class:`SocketReceiver` behind a receiver stream."""
    unknown = sorted(set(options) - set(_RECEIVER_OPTIONS) - set(_STREAM_OPTIONS))
    if unknown:
        raise ConfigurationError(
            f"socketTextStream: unknown option(s) {unknown}; "
            f"valid: {sorted(_RECEIVER_OPTIONS + _STREAM_OPTIONS)}"
        )
    receiver = SocketReceiver(
        hostname, port, storageLevel, **{k: v for k, v in options.items() if k in _RECEIVER_OPTIONS}
    )
    return ReceiverInputDStream(ssc, receiver, **{k: v for k, v in options.items() if k in _STREAM_OPTIONS})


class SocketReceiver(Receiver):
    """Reads ``\\n``-delimited UTF-8 lines from ``host:port`` (see the module docstring)."""

    def __init__(
        self,
        host: str,
        port: int,
        storageLevel: Any = None,
        *,
        maxLineLength: int = DEFAULT_MAX_LINE,
        quarantinePath: str | None = None,
        connectTimeout: float = 5.0,
    ):
        super().__init__(storageLevel)
        if not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigurationError(f"socketTextStream: port must be an int in 1..65535, got {port!r}")
        if maxLineLength <= 0:
            raise ConfigurationError(f"socketTextStream: maxLineLength must be positive, got {maxLineLength}")
        self.host, self.port = host, port
        self.max_line = int(maxLineLength)
        self._quarantine_dir = quarantinePath
        self._connect_timeout = connectTimeout
        self._quarantine: _Quarantine | None = None
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None

    def __repr__(self) -> str:
        return f"SocketReceiver({self.host}:{self.port})"

    def onStart(self) -> None:
        where = f"{self.host}:{self.port}"
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self._connect_timeout)
        except OSError as error:
            self.restart(f"socketTextStream could not connect to {where}: {error}", error)
            return
        sock.settimeout(None)
        with self._lock:
            self._sock = sock
        try:
            self._receive(sock)
        except OSError as error:
            if not self.isStopped():
                self.restart(f"socketTextStream lost the connection to {where}: {error}", error)
        else:
            if not self.isStopped():
                self.restart(f"{where} closed the connection (socketTextStream reconnects)")
        finally:
            with self._lock:
                self._sock = None
            sock.close()
            if self._quarantine is not None:
                self._quarantine.close()  # reopened (appending) on the next bad line

    def onStop(self) -> None:
        with self._lock:
            sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked recv(); the loop closes it
            except OSError:
                pass

    def _receive(self, sock: socket.socket) -> None:
        splitter = _LineSplitter(self.max_line, self._bad_line)
        while not self.isStopped():
            data = sock.recv(_RECV_BYTES)
            if not data:
                last = splitter.finish()
                if last is not None and len(last):
                    self.store(last)
                return
            lines = splitter.feed(data)
            if lines is not None and len(lines):
                self.store(lines)  # blocks at the buffer bound: we stop reading, TCP slows the server
            if splitter.errors:
                self._report_bad(splitter.errors)
                splitter.errors = []

    # -- bad lines --------------------------------------------------------------------------------
    def _bad_line(self) -> _Quarantine:
        if self._quarantine is None:
            directory = self._quarantine_dir
            if directory is None:
                stream = self._stream
                checkpoint = stream._ssc._checkpoint_dir if stream is not None else None
                # never the shared temp directory: quarantined lines are the application's data
                directory = os.path.join(checkpoint or state_dir(), "quarantine")
            stamp = time.strftime("%Y%m%d-%H%M%S")
            host = "".join(c if c.isalnum() or c in ".-" else "_" for c in self.host)
            token = secrets.token_hex(4)  # an unpredictable name, even in a directory others can see
            name = f"socket-{self.streamId}-{host}-{self.port}-{stamp}-{token}.txt"
            self._quarantine = _Quarantine(os.path.join(directory, name))
        return self._quarantine

    def _report_bad(self, errors: list[str]) -> None:
        self._count("badLines", len(errors))
        where = f"{self.host}:{self.port}"
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        self.reportError(f"socketTextStream {where}: " + "; ".join(errors[:3]) + more)


class _Quarantine:
    """Bad lines, each written with its exact bytes as one line of a file (opened on first use)."""

    def __init__(self, path: str):
        self.path = path
        self.lines = 0
        self._file: Any = None

    def write(self, raw: bytes, *, end: bool = True) -> int:
        """Append ``raw`` (and end the line); returns the 1-based line number in the file."""
        if self._file is None:
            make_private_dirs(os.path.dirname(self.path))
            # private (0600), never through a planted symlink; kept open for the stream's lifetime
            self._file = open_private(self.path, append=True)
        self._file.write(raw)
        if end:
            self._file.write(b"\n")
        self._file.flush()
        line = self.lines + 1
        if end:
            self.lines += 1
        return line

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class _LineSplitter:
    """Bytes in, complete lines out as an Arrow string array; bad lines go to the quarantine.

    ``feed`` returns the lines completed by a chunk; messages about bad lines collect in
    ``errors``. Valid chunks take a vectorised path (one UTF-8 validation and one split in Arrow);
    a chunk with a bad line is split line by line in Python.
    """

    def __init__(self, max_line: int, quarantine: Any):
        self.max_line = max_line
        self._quarantine = quarantine  # a callable returning the _Quarantine (created lazily)
        self._partial = bytearray()  # the start of the current line
        self._overlong = False  # inside a line past max_line: its bytes go to the quarantine
        self.errors: list[str] = []

    def feed(self, data: bytes) -> pa.Array | None:
        start = 0
        if self._overlong:
            newline = data.find(b"\n")
            if newline < 0:
                self._quarantine().write(data, end=False)
                return None
            self._quarantine().write(data[:newline])
            self._overlong = False
            start = newline + 1
        last = data.rfind(b"\n", start)
        if last < 0:
            self._partial += data[start:]
            self._check_partial()
            return None
        chunk = bytes(self._partial) + data[start:last] if self._partial else data[start:last]
        self._partial = bytearray(data[last + 1 :])
        lines = self._split(chunk)
        self._check_partial()
        return lines

    def finish(self) -> pa.Array | None:
        """The connection ended: the last line, if it had no ``\\n``."""
        if self._overlong:
            self._quarantine().write(b"")
            self._overlong = False
            return None
        if not self._partial:
            return None
        chunk, self._partial = bytes(self._partial), bytearray()
        return self._split(chunk)

    def _check_partial(self) -> None:
        if len(self._partial) > self.max_line:
            quarantine = self._quarantine()
            line = quarantine.write(bytes(self._partial), end=False)
            self._partial = bytearray()
            self._overlong = True
            self.errors.append(
                f"a line longer than maxLineLength={self.max_line} bytes was left out of the stream "
                f"and is written to {quarantine.path} (line {line})"
            )

    def _split(self, chunk: bytes) -> pa.Array:
        try:
            text = pa.array([chunk], pa.binary()).cast(pa.string())  # validates UTF-8
        except pa.ArrowInvalid:
            return self._split_slowly(chunk)
        lines = pc.split_pattern(text, "\n").flatten()
        if len(lines) and pc.max(pc.binary_length(lines)).as_py() > self.max_line:
            return self._split_slowly(chunk)
        if b"\r" in chunk:
            lines = pc.replace_substring_regex(lines, "\r$", "")
        return lines

    def _split_slowly(self, chunk: bytes) -> pa.Array:
        good: list[str] = []
        for raw in chunk.split(b"\n"):
            if len(raw) > self.max_line:
                self._quarantined(raw, f"longer than maxLineLength={self.max_line} bytes ({len(raw)})")
                continue
            try:
                good.append(raw.decode("utf-8").removesuffix("\r"))
            except UnicodeDecodeError as error:
                self._quarantined(raw, f"not valid UTF-8 ({error.reason} at byte {error.start})")
        return pa.array(good, pa.string())

    def _quarantined(self, raw: bytes, why: str) -> None:
        quarantine = self._quarantine()
        line = quarantine.write(raw)
        self.errors.append(
            f"a line {why} was left out of the stream and kept in {quarantine.path} (line {line})"
        )
