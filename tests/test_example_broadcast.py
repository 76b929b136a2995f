"""examples/broadcast_accumulators.py: broadcast and accumulator made lazily, so a restored run works.

The example runs in subprocesses, as a user runs it twice on one checkpoint directory; the kept
words and the dropped count are checked against a plain computation over the lines of its text.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

from test_examples import run as run_example

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "broadcast_accumulators.py"


def run(checkpoint: Path, batches: int) -> list[str]:
    """The lines the example prints for one run of ``batches`` batches; fails unless it exits 0 cleanly."""
    proc = run_example([str(EXAMPLE), "--checkpoint", str(checkpoint), "--batches", str(batches)])
    assert "Warning" not in proc.stderr, proc.stderr  # a ported program prints no fallback noise
    return proc.stdout.splitlines()


def example():
    spec = importlib.util.spec_from_file_location("broadcast_accumulators", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def expected_lines(seconds: range) -> list[str]:
    """What the example prints for the batches of ``seconds``, the dropped count starting at 0."""
    module = example()
    lines, dropped = [], 0
    for second in seconds:
        counts = Counter(module.TEXT[second - 1].split(" "))
        kept = sorted((w, n) for w, n in counts.items() if w not in module.EXCLUDED)
        dropped += sum(n for w, n in counts.items() if w in module.EXCLUDED)
        words = ", ".join(f"{w}={n}" for w, n in kept)
        lines.append(f"00:00:{second:02d}  {words}  | dropped so far: {dropped}")
    return lines


def test_a_restored_run_recreates_the_broadcast_and_the_accumulator(tmp_path):
    checkpoint = tmp_path / "checkpoint"
    first = run(checkpoint, 3)
    assert first == [
        "no checkpoint yet: starting from the first line",
        "creating the exclude list broadcast",
        *expected_lines(range(1, 4)),
    ]
    assert first[-1] == "00:00:03  dog=1, park=1, ran=1  | dropped so far: 9"

    second = run(checkpoint, 3)  # build_context is not called: the graph comes from the checkpoint
    assert second == ["creating the exclude list broadcast", *expected_lines(range(4, 7))]
