"""The examples and the README's code run as written and print what they should.

Each example runs in a subprocess, as a user would run it, with ``TZ=UTC`` so that batch times
print the same everywhere. Word counts are checked against a plain ``Counter`` over the lines the
generator produces (it is deterministic: batch ``k`` of seed 0 uses seed ``k``).

A ``python`` block of README.md followed directly by a ``text`` block is an example with its
output: the test runs the code and compares what it prints, so the README cannot go stale.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from dstreams import SparkContext
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


# -- queue_stream.py --------------------------------------------------------------------------


def queue_stream_keys() -> list[int]:
    """The key order PySpark prints for Spark's queue_stream example, on the example's parallelism.

    Every input partition holds 100 consecutive ints, so keys first appear as 1..9, 0;
    ``reduceByKey`` puts int key k in partition ``k % parallelism`` and keeps that order there.
    """
    sc = SparkContext(appName="PythonStreamingQueueStream")  # as the example builds it
    n = sc.defaultParallelism
    sc.stop()
    first_seen = [*range(1, 10), 0]
    return [k for p in range(n) for k in first_seen if k % n == p]


def test_queue_stream_keys_follow_pyspark_partitioning():
    """With ``local[2]``, PySpark prints the even keys (partition 0), then the odd ones."""
    sc = SparkContext("local[2]", "check")
    try:
        rdd = sc.parallelize(range(1, 1001), 10).map(lambda x: (x % 10, 1)).reduceByKey(lambda a, b: a + b, 2)
        assert [k for k, _ in rdd.collect()] == [2, 4, 6, 8, 0, 1, 3, 5, 7, 9]
    finally:
        sc.stop()


QUEUE_STREAM_MANUAL = """
import runpy, time
import dstreams.context
from dstreams import ManualClock
clock = ManualClock()
dstreams.context.SystemClock = lambda: clock   # the example's context runs on this clock
time.sleep = clock.advance                      # its time.sleep(6) runs 6 batches at once
runpy.run_path("examples/queue_stream.py", run_name="__main__")
"""


def test_queue_stream_on_a_manual_clock():
    """Spark's example, unchanged, with time driven by its ``time.sleep``: fast and exact."""
    out = run(["-c", QUEUE_STREAM_MANUAL]).stdout
    data = "".join(f"({k}, 100)\n" for k in queue_stream_keys())
    want = "".join(
        f"{DASHES}\nTime: 1970-01-01 00:00:0{s}\n{DASHES}\n{data if s <= 5 else ''}\n" for s in range(1, 7)
    )
    assert out == want


@pytest.mark.slow
def test_queue_stream_real_clock():
    out = run([str(EXAMPLES / "queue_stream.py")]).stdout
    blocks = pprint_blocks(out)
    data = [f"({k}, 100)" for k in queue_stream_keys()]
    assert 5 <= len(blocks) <= 7  # 6 s of 1-second batches, depending on where the first one falls
    assert [lines for _, lines in blocks[:5]] == [data] * 5
    assert all(lines == [] for _, lines in blocks[5:])


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
