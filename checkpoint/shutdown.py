"""``spark.streaming.stopGracefullyOnShutdown``: SIGTERM stops the active context gracefully.

With the key set to ``true`` in the context's SparkConf, the first ``ssc.start()`` on the main
thread installs a SIGTERM handler. On SIGTERM the active context stops as ``stop(stopGraceFully=True)``
does (the generated batches are processed and a final checkpoint is written), then the process
exits with status 143 (128 + SIGTERM), the way a JVM shutdown hook runs before the JVM exits. When
no context is active, or the key is off, SIGTERM does what it did before.

>>> conf = SparkConf().set("spark.streaming.stopGracefullyOnShutdown", "true")
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dstreams.context import StreamingContext

log = logging.getLogger("dstreams")

KEY = "spark.streaming.stopGracefullyOnShutdown"
EXIT_STATUS = 128 + signal.SIGTERM

_installed = False
_previous: Any = signal.SIG_DFL


def enabled(ssc: StreamingContext) -> bool:
    return str(ssc.sparkContext.getConf().get(KEY, "false")).lower() == "true"


def install(ssc: StreamingContext) -> None:
    """Install the handler once per process (only possible on the main thread)."""
    global _installed, _previous
    if _installed or not enabled(ssc):
        return
    if threading.current_thread() is not threading.main_thread():
        log.warning("%s is set but ssc.start() runs outside the main thread: SIGTERM is not handled", KEY)
        return
    _previous = signal.signal(signal.SIGTERM, _on_sigterm)
    _installed = True


def _on_sigterm(signum: int, frame: Any) -> None:
    from dstreams.context import StreamingContext

    active = StreamingContext.getActive()
    if active is None or not enabled(active):
        _fall_through(signum, frame)
        return
    log.warning("SIGTERM: stopping the streaming context gracefully (%s)", KEY)
    active.stop(stopSparkContext=True, stopGraceFully=True)
    raise SystemExit(EXIT_STATUS)


def _fall_through(signum: int, frame: Any) -> None:
    if callable(_previous):
        _previous(signum, frame)
    elif _previous != signal.SIG_IGN:
        raise SystemExit(EXIT_STATUS)
