"""examples/stateful_wordcount.py: a second run on the same checkpoint continues the first one's counts.

The example runs in subprocesses, as a user runs it twice; its totals are checked against a plain
``Counter`` over the first lines of its text, and against one uninterrupted run.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections import Counter
from pathlib import Path

from test_examples import run as run_example

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "stateful_wordcount.py"


def run(checkpoint: Path, batches: int) -> list[str]:
    """The lines the example prints for one run of ``batches`` batches; fails unless it exits 0 cleanly."""
    proc = run_example([str(EXAMPLE), "--checkpoint", str(checkpoint), "--batches", str(batches)])
    return proc.stdout.splitlines()


def text() -> list[str]:
    spec = importlib.util.spec_from_file_location("stateful_wordcount", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TEXT


def expected_line(second: int) -> str:
    """What the example prints after ``second`` batches, one line of its text each."""
    totals = Counter(word for line in text()[:second] for word in line.split(" "))
    leaders = sorted(totals.items(), key=lambda wc: (-wc[1], wc[0]))[:4]
    shown = ", ".join(f"{w}={c}" for w, c in leaders)
    return f"00:00:{second:02d}  {len(totals)} distinct words; most frequent: {shown}"


def test_second_run_continues_the_counts_of_the_first(tmp_path):
    checkpoint = tmp_path / "checkpoint"
    first = run(checkpoint, 3)
    assert first == [
        "no checkpoint yet: starting from the first line",
        *(expected_line(s) for s in (1, 2, 3)),
    ]
    assert first[-1] == "00:00:03  11 distinct words; most frequent: black=2, green=2, tea=2, and=1"

    second = run(checkpoint, 3)
    assert second == [
        f"restored from {checkpoint}: continuing after the batch of second 3",
        *(expected_line(s) for s in (4, 5, 6)),
    ]
    # the same as one run without a restart
    assert run(tmp_path / "uninterrupted", 6)[1:] == first[1:] + second[1:]


def test_totals_stay_once_the_text_is_used_up(tmp_path):
    checkpoint = tmp_path / "checkpoint"
    n = len(text())
    run(checkpoint, n)
    after = run(checkpoint, 2)
    last = expected_line(n).split("  ", 1)[1]
    assert [line.split("  ", 1)[1] for line in after[1:]] == [last, last]


def test_rejects_zero_batches(tmp_path):
    args = [sys.executable, str(EXAMPLE), "--checkpoint", str(tmp_path), "--batches", "0"]
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode == 2 and "--batches must be at least 1" in proc.stderr
