"""``dstreams run app.py [args...]``: run a streaming application and restart it when it fails.

The way a cluster manager restarts a Spark driver: the application runs as a child process; when it
exits with a non-zero status or is killed, it is started again after a wait that doubles from
``--backoff`` up to ``--max-backoff`` seconds (a run longer than ``--reset-after`` seconds resets the
wait). An application that exits with status 0 has finished and is not restarted. Written with
``StreamingContext.getOrCreate(checkpoint_dir, create_context)``, each restart resumes from the
checkpoint.

SIGTERM or SIGINT to the supervisor is passed on to the application as SIGTERM (with
``spark.streaming.stopGracefullyOnShutdown=true`` it then stops gracefully), and the supervisor
exits with the application's status without restarting it. The application sees how many times it
was restarted in the environment variable ``DSTREAMS_RESTARTS``.

::

    dstreams run app.py --input /data/in            # or: python -m dstreams run app.py ...
    dstreams run --max-restarts 5 --backoff 2 app.py
    dstreams --version
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from .version import version

RESTARTS_ENV = "DSTREAMS_RESTARTS"


class Supervisor:
    """Runs ``command`` until it exits with 0, restarting it with backoff (see the module docstring)."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        reset_after: float = 60.0,
        max_restarts: int | None = None,
    ):
        self.command = list(command)
        self.backoff, self.max_backoff, self.reset_after = backoff, max_backoff, reset_after
        self.max_restarts = max_restarts
        self.restarts = 0
        self._child: subprocess.Popen | None = None
        self._stopping = threading.Event()

    def run(self) -> int:
        """Supervise until the application finishes, gives up or is stopped; returns the exit status."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            return self._loop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _loop(self) -> int:
        delay = self.backoff
        while True:
            env = dict(os.environ, **{RESTARTS_ENV: str(self.restarts)})
            started = time.monotonic()
            self._child = subprocess.Popen(self.command, env=env)
            status = _status(self._child.wait())
            ran = time.monotonic() - started
            if self._stopping.is_set():
                _say(f"stopped; the application exited with status {status}")
                return status
            if status == 0:
                _say("the application finished (status 0)")
                return 0
            if self.max_restarts is not None and self.restarts >= self.max_restarts:
                _say(f"the application failed (status {status}); giving up after {self.restarts} restart(s)")
                return status
            if ran >= self.reset_after:
                delay = self.backoff
            _say(
                f"the application failed ({_describe(status)}) after {ran:.1f} s; "
                f"restart {self.restarts + 1} in {delay:g} s"
            )
            if self._stopping.wait(delay):
                return status
            delay = min(delay * 2, self.max_backoff)
            self.restarts += 1

    def _on_signal(self, signum: int, frame: Any) -> None:
        self._stopping.set()
        child = self._child
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)


def _status(returncode: int) -> int:
    """A child killed by signal N (Popen: -N) reports 128 + N, as a shell does."""
    return 128 - returncode if returncode < 0 else returncode


def _describe(status: int) -> str:
    if status > 128:
        try:
            return f"killed by {signal.Signals(status - 128).name}"
        except ValueError:
            pass
    return f"status {status}"


def _say(message: str) -> None:
    print(f"dstreams run: {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dstreams", description="dstreams command line")
    parser.add_argument("--version", action="version", version=f"dstreams {version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="run a streaming application, restarting it with backoff when it fails",
        description=__doc__.split("\n\n")[1],
    )
    run.add_argument("--backoff", type=float, default=1.0, help="first wait before a restart (s; default 1)")
    run.add_argument("--max-backoff", type=float, default=60.0, help="longest wait (s; default 60)")
    run.add_argument("--reset-after", type=float, default=60.0, help="a run this long resets the wait (s)")
    run.add_argument("--max-restarts", type=int, default=None, help="give up after this many restarts")
    run.add_argument("app", help="the application's Python script")
    run.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the application")
    options = parser.parse_args(argv)
    supervisor = Supervisor(
        [sys.executable, options.app, *options.args],
        backoff=options.backoff,
        max_backoff=options.max_backoff,
        reset_after=options.reset_after,
        max_restarts=options.max_restarts,
    )
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
