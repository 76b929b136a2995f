"""``dstreams run``: restarts a failing application with backoff, stops on status 0 or a signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from dstreams.__main__ import Supervisor, main

APP = str(Path(__file__).parent / "apps" / "flaky_app.py")


def runs(path: Path) -> list[str]:
    return path.read_text().split()


def test_restarts_until_the_application_succeeds(tmp_path):
    log = tmp_path / "runs.txt"
    supervisor = Supervisor([sys.executable, APP, str(log), "2"], backoff=0.01)
    assert supervisor.run() == 0
    assert runs(log) == ["0", "1", "2"]
    assert supervisor.restarts == 2


def test_gives_up_after_max_restarts_with_the_last_status(tmp_path, capsys):
    log = tmp_path / "runs.txt"
    assert main(["run", "--backoff", "0.01", "--max-restarts", "1", APP, str(log), "5"]) == 3
    assert runs(log) == ["0", "1"]
    err = capsys.readouterr().err
    assert "restart 1 in 0.01 s" in err and "giving up after 1 restart(s)" in err


def test_backoff_doubles_up_to_the_maximum(tmp_path, monkeypatch):
    waits = []
    supervisor = Supervisor([sys.executable, APP, str(tmp_path / "r"), "4"], backoff=0.01, max_backoff=0.03)
    monkeypatch.setattr(supervisor._stopping, "wait", lambda delay: waits.append(delay) or False)
    assert supervisor.run() == 0
    assert waits == [0.01, 0.02, 0.03, 0.03]


def test_sigterm_is_passed_on_and_nothing_restarts(tmp_path):
    log = tmp_path / "runs.txt"
    supervisor = Supervisor([sys.executable, APP, str(log), "sleep"], backoff=0.01)

    def terminate():
        while not log.exists():
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=terminate, daemon=True).start()
    assert supervisor.run() == 143
    assert runs(log) == ["0"]


def test_command_line_entry_point(tmp_path):
    log = tmp_path / "runs.txt"
    done = subprocess.run(
        [sys.executable, "-m", "dstreams", "run", "--backoff", "0.01", APP, str(log), "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert runs(log) == ["0", "1"]
    assert "the application finished" in done.stderr
