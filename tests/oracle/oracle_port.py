"""Running an oracle program under dstreams: its imports rewritten, in this process, stdout captured.

The rewrite is the one a user applies to port a program (see ``dstreams/__init__.py``):
``pyspark.streaming`` becomes ``dstreams``, ``pyspark.sql`` becomes ``dstreams.sql``, then any other
``pyspark`` becomes ``dstreams``, on import lines only. The program then runs as ``__main__`` with
``sys.argv == [program, master]``, in this process (a subprocess per program would cost more than the
program), and ``programs/_harness.py`` puts its context on a ``ManualClock``.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
from pathlib import Path

_IMPORT_LINE = re.compile(r"^[ \t]*(?:from|import)[ \t].*$", re.M)
_RENAMES = (
    (re.compile(r"\bpyspark\.streaming\b"), "dstreams"),
    (re.compile(r"\bpyspark\.sql\b"), "dstreams.sql"),
    (re.compile(r"\bpyspark\b"), "dstreams"),
)


def port(source: str) -> str:
    """``source`` with its PySpark imports turned into dstreams imports.

    >>> port("from pyspark.streaming.listener import StreamingListener")
    'from dstreams.listener import StreamingListener'
    >>> port("from pyspark.sql import Row\\nprint('pyspark')")
    "from dstreams.sql import Row\\nprint('pyspark')"
    """

    def rename(match: re.Match) -> str:
        line = match.group()
        for pattern, replacement in _RENAMES:
            line = pattern.sub(replacement, line)
        return line

    return _IMPORT_LINE.sub(rename, source)


def run_ported(path: Path, master: str) -> str:
    """What the ported program at ``path`` prints on ``master``.

    An exception that escapes the program ends the output with one line naming it, so that a
    comparison with the golden shows where and why the run stopped.
    """
    code = compile(port(path.read_text(encoding="utf-8")), str(path), "exec")
    out = io.StringIO()
    old_argv, sys.argv = sys.argv, [str(path), master]
    programs = str(path.parent)
    if programs not in sys.path:
        sys.path.insert(0, programs)  # for programs/_harness.py
    try:
        with contextlib.redirect_stdout(out):
            exec(code, {"__name__": "__main__", "__file__": str(path)})
    except Exception as error:
        message = str(error).strip().splitlines()
        out.write(f"[oracle] the program raised {type(error).__name__}: {message[0] if message else ''}\n")
    finally:
        sys.argv = old_argv
        _stop_leftovers()
    return out.getvalue()


def _stop_leftovers() -> None:
    """Stop what a program that failed half-way left running, so the next program starts clean."""
    from dstreams import StreamingContext
    from dstreams.sql import SparkSession

    active = StreamingContext.getActive()
    if active is not None:
        active.stop(stopSparkContext=True)
    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()
