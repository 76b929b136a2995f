"""Killing an application at random moments, for the crash tests (``test_recovery_*``)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path


def kill_at_random(
    supervisor: subprocess.Popen,
    pid_file: Path,
    rng: random.Random,
    *,
    first_ms: int,
    stop_ms: int,
    deadline: float,
    max_kills: int,
    pause: tuple[float, float],
) -> list[int]:
    """SIGKILL each new run of the application (its pid is in ``pid_file``) after a random pause,
    until ``max_kills``, ``stop_ms`` (epoch ms) or ``deadline`` (epoch s); returns the kill times in
    ms after ``first_ms``. The supervisor (``dstreams run``) restarts the application each time."""
    kills: list[int] = []
    last_pid = None
    while time.time() < deadline and supervisor.poll() is None and len(kills) < max_kills:
        if not pid_file.exists() or pid_file.read_text() == last_pid:
            time.sleep(0.02)  # the restarted application has not written its pid yet
            continue
        last_pid = pid_file.read_text()
        time.sleep(rng.uniform(*pause))
        if time.time() * 1000 > stop_ms:
            break
        try:
            os.kill(int(last_pid), signal.SIGKILL)
        except ProcessLookupError:
            break
        kills.append(round(time.time() * 1000) - first_ms)
    return kills
