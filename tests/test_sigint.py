"""Ctrl-C in a program blocked in awaitTermination*: a subprocess (tests/apps/sigint_app.py) sent SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

APP = os.path.join(os.path.dirname(__file__), "apps", "sigint_app.py")


def _start(tmp_path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, APP, str(tmp_path / "cp"), str(tmp_path / "counts.txt"), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _counts(tmp_path) -> list[int]:
    path = tmp_path / "counts.txt"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def _interrupt_after(child: subprocess.Popen, tmp_path, batches: int) -> float:
    """Wait for ``batches`` batches, send SIGINT; returns seconds until the app said it was interrupted."""
    try:
        assert child.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 30
        while len(_counts(tmp_path)) < batches and time.monotonic() < deadline:
            time.sleep(0.02)
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        line = child.stdout.readline().strip()
        took = time.monotonic() - sent
        assert line == "interrupted STOPPED", child.stderr.read()
        assert child.wait(timeout=30) == 130
        return took
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


@pytest.mark.parametrize("timeout", [None, "5"], ids=["awaitTermination", "awaitTerminationOrTimeout"])
def test_ctrl_c_interrupts_await_termination_and_stops_the_context(tmp_path, timeout):
    child = _start(tmp_path, *([timeout] if timeout else []))
    took = _interrupt_after(child, tmp_path, 3)
    print(f"SIGINT to KeyboardInterrupt: {took:.3f} s")
    assert took < 0.5
    assert "Ctrl-C" in child.stderr.read()  # the warning that the context stops


@pytest.mark.slow
def test_after_ctrl_c_the_checkpoint_resumes_the_count(tmp_path):
    _interrupt_after(_start(tmp_path), tmp_path, 3)
    before = _counts(tmp_path)
    child = _start(tmp_path)  # getOrCreate: recovers from the checkpoint the interrupted run left
    try:
        assert child.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 30
        while len(_counts(tmp_path)) < len(before) + 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        child.send_signal(signal.SIGINT)
        child.wait(timeout=30)
    after = _counts(tmp_path)[len(before) :]
    assert before == list(range(1, len(before) + 1))
    assert after[:2] == [len(before) + 1, len(before) + 2]  # no batch lost, none counted twice
