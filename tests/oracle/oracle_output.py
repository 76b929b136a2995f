"""What an oracle program printed, made comparable across runs: the canonical form of the goldens.

Standard library only: ``regenerate.py`` uses it under the PySpark venv, ``test_oracle.py`` under
dstreams's.

* The last line of a run, ``[oracle] end of run: <n> batches of <s> s from <time>`` (printed by
  ``programs/_harness.py``), gives the first batch's time: every timestamp printed (``pprint``'s
  ``Time:`` header, a ``foreachRDD`` time) becomes ``<batch k>``, k counted from 1.
* Output is cut into blocks, one starting at each line that holds a timestamp. Blocks of batches
  after the n-th are dropped: on the wall clock PySpark may start one more before it stops.
* Where the order of a block's lines is not defined (several partitions, and the program does not
  say ``# oracle: ordered``), its lines are sorted, so they compare as a multiset.
* Lines before the first block and after the end of the run are the program's own (driver) prints:
  kept as they are.
"""

from __future__ import annotations

import datetime
import re

MARKER = "[oracle] end of run"
_END = re.compile(rf"^{re.escape(MARKER)}: (\d+) batches of ([\d.]+) s from (.+)$")
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?")
ORDERED_DIRECTIVE = "# oracle: ordered"


def is_ordered(source: str, master: str) -> bool:
    """Whether the order of lines within a batch is defined: one partition, or the program says so."""
    return master in ("local", "local[1]") or ORDERED_DIRECTIVE in source


def normalize(stdout: str, ordered: bool) -> str:
    """The canonical form of ``stdout`` (see the module docstring)."""
    lines = stdout.splitlines()
    end = next((i for i, line in enumerate(lines) if _END.match(line)), None)
    if end is None:  # the program did not get through run(): keep everything, times unresolved
        return "\n".join([*lines, "[oracle] the run did not end (no end-of-run line)"]) + "\n"
    batches_s, seconds_s, first_s = _END.match(lines[end]).groups()
    batches, seconds = int(batches_s), float(seconds_s)
    stamps = [_parse(m.group()) for line in lines[:end] for m in _TIMESTAMP.finditer(line)]
    first = _parse(first_s) if first_s != "none" else min(stamps, default=None)

    def index(stamp: str) -> int:
        if first is None:
            return 0
        return round((_parse(stamp) - first).total_seconds() / seconds) + 1

    def label(line: str) -> str:
        return _TIMESTAMP.sub(lambda m: f"<batch {index(m.group())}>", line)

    blocks: list[tuple[int, list[str]]] = [(0, [])]  # the driver's prints before the first batch
    for line in lines[:end]:
        stamp = _TIMESTAMP.search(line)
        if stamp:
            previous = blocks[-1][1]
            # pprint's header starts with a line of dashes above the time: it opens the new block
            head = [previous.pop()] if previous and set(previous[-1]) == {"-"} else []
            blocks.append((index(stamp.group()), [*head, label(line)]))
        else:
            blocks[-1][1].append(label(line))
    out: list[str] = []
    for k, block in blocks:
        if k > batches:
            continue
        if not ordered and k > 0:
            head = 3 if set(block[0]) == {"-"} else 1  # pprint's three header lines stay on top
            body = block[head:]
            block = block[:head] + sorted(line for line in body if line) + [line for line in body if not line]
        out += block
    out.append(f"{MARKER}: {batches} batches")
    out += [label(line) for line in lines[end + 1 :]]
    return "\n".join(out) + "\n"


def _parse(stamp: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(stamp)
