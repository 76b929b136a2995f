"""The examples and the README's code run as written and print what they should.

Each example runs in a subprocess, as a user would run it, with ``TZ=UTC`` so that batch times
print the same everywhere. Word counts are checked against a plain ``Counter`` over the lines the
generator produces (it is deterministic: batch ``k`` of seed 0 uses seed ``k``).

A ``python`` block of README.md followed directly by a ``text`` block is an example with its
output: the test runs the code and compares what it prints, so the README cannot go stale.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from dstreams.outputs import DASHES
from dstreams.receivers.generator import zipf_lines

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
HEADER = re.compile(rf"^{DASHES}\nTime: (.+)\n{DASHES}\n", re.M)


def run(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``python *args`` from the repository root; fail with its output if it exits non-zero."""
    env = {**os.environ, "TZ": "UTC", "PYTHONWARNINGS": "default"}
    proc = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def pprint_blocks(stdout: str) -> list[tuple[str, list[str]]]:
    """``(time, lines)`` for each ``pprint`` block (lines up to the block's blank line)."""
    starts = list(HEADER.finditer(stdout))
    blocks = []
    for m in starts:
        rest = stdout[m.end() :]
        body = "" if rest.startswith("\n") else rest.split("\n\n", 1)[0]  # an empty batch: just "\n"
        blocks.append((m.group(1), body.splitlines() if body else []))
    return blocks


def generated_counts(batch: int, rate: int) -> Counter:
    """Word counts of the ``batch``-th 1-second batch of ``generatorStream(rate=rate, vocabulary=1000)``."""
    lines = zipf_lines(rate, vocabulary=1000, seed=batch)
    return Counter(word for line in lines for word in line.split(" "))


def ranked(counts: Counter) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda wc: (-wc[1], wc[0]))


# -- demo.py ----------------------------------------------------------------------------------


def test_demo_counts_words_both_ways():
    out = run([str(EXAMPLES / "demo.py"), "--batches", "2", "--rate", "300"]).stdout
    blocks = pprint_blocks(out)
    assert len(blocks) == 2
    for k, (time, lines) in enumerate(blocks):
        top = ranked(generated_counts(k, 300))[:5]
        assert lines == [str(wc) for wc in top] + ["..."]
        clock = time.split(" ")[1][:8]
        expression_line = ", ".join(f"{w}={c}" for w, c in top)
        assert f"expression API, {clock}: {expression_line}\n" in out
    assert "2 batches of 300 lines" in out


def test_demo_rejects_zero_batches():
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "demo.py"), "--batches", "0"], capture_output=True, text=True
    )
    assert proc.returncode == 2 and "--batches must be at least 1" in proc.stderr


# -- wordcount_expressions.py -----------------------------------------------------------------


def test_wordcount_expressions():
    out = run([str(EXAMPLES / "wordcount_expressions.py"), "--seconds", "1.5", "--rate", "300"]).stdout
    blocks = pprint_blocks(out)
    # Each batch prints two blocks (ranked words, then the summary row); 1.5 s holds 1 or 2 batches.
    assert len(blocks) in (2, 4)
    for k in range(len(blocks) // 2):
        counts = generated_counts(k, 300)
        (_, top), (_, summary) = blocks[2 * k], blocks[2 * k + 1]
        want = [f"Row(word='{w}', count={c}, share={round(c / 3000, 3)})" for w, c in ranked(counts)[:5]] + [
            "..."
        ]
        assert top == want
        assert summary == [f"Row(words=3000, distinct_words={len(counts)})"]


# -- queue_of_batches.py ----------------------------------------------------------------------


def load_example(name: str):
    """The example's module, imported without running its ``main``."""
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def hourly_means(hour: int) -> list[str]:
    """What the example prints for one hour: ``(station, (mean, readings))``, sorted by station."""
    readings: dict[str, list[float]] = {}
    for line in load_example("queue_of_batches").hourly_readings(hour):
        station, celsius = line.split()
        readings.setdefault(station, []).append(float(celsius))
    return [f"{(s, (round(sum(t) / len(t), 2), len(t)))}" for s, t in sorted(readings.items())]


def test_queue_of_batches_on_a_manual_clock():
    """One batch per queued RDD, each reduced per station; the same output on every run."""
    out = run([str(EXAMPLES / "queue_of_batches.py"), "--manual-clock"]).stdout
    want = "".join(
        f"{DASHES}\nTime: 1970-01-01 00:00:0{hour + 1}\n{DASHES}\n"
        + "".join(f"{line}\n" for line in hourly_means(hour))
        + "\n"
        for hour in range(4)
    )
    assert out == want
    assert hourly_means(0)[0] == "('airport', (11.83, 6))"


@pytest.mark.parametrize("partitions", [1, 2, 3])
def test_queue_of_batches_partition_count_does_not_change_the_output(partitions):
    args = ["--manual-clock", "--hours", "2", "--partitions", str(partitions)]
    blocks = pprint_blocks(run([str(EXAMPLES / "queue_of_batches.py"), *args]).stdout)
    assert [lines for _, lines in blocks] == [hourly_means(0), hourly_means(1)]


def test_queue_of_batches_rejects_an_empty_queue():
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "queue_of_batches.py"), "--hours", "0"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "--hours must be at least 1" in proc.stderr


@pytest.mark.slow
def test_queue_of_batches_real_clock_stops_when_the_queue_is_used_up():
    out = run([str(EXAMPLES / "queue_of_batches.py"), "--hours", "3"]).stdout
    blocks = pprint_blocks(out)
    assert [lines for _, lines in blocks[:3]] == [hourly_means(hour) for hour in range(3)]
    assert all(lines == [] for _, lines in blocks[3:])  # at most a batch that fell due while stopping
    assert len(blocks) <= 4


# -- README.md --------------------------------------------------------------------------------

FENCE = re.compile(r"^```(\w*)\n(.*?)^```[ \t]*$", re.M | re.S)


def readme_examples() -> list[tuple[str, str]]:
    """``(code, output)`` for each python block followed by nothing but blank lines and a text block."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = list(FENCE.finditer(text))
    return [
        (a.group(2), b.group(2))
        for a, b in itertools.pairwise(blocks)
        if a.group(1) == "python" and b.group(1) == "text" and not text[a.end() : b.start()].strip()
    ]


def test_readme_has_examples():
    assert len(readme_examples()) >= 2


@pytest.mark.parametrize("index", range(len(readme_examples())))
def test_readme_example_prints_what_the_readme_shows(index):
    code, shown = readme_examples()[index]
    assert run(["-c", code]).stdout.rstrip("\n") == shown.rstrip("\n")
