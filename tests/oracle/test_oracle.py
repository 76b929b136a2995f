"""The oracle: every program of ``programs/`` prints under dstreams what it printed under real PySpark.

The goldens were written by ``regenerate.py`` (PySpark in its own venv; see README.md): this test
never needs PySpark. Each program's imports are rewritten to dstreams and it runs in this process on
a ``ManualClock``; both outputs are compared in the canonical form of ``oracle_output.py``.

``DIFFERENCES`` lists the programs where dstreams does not (yet) print what PySpark printed, each
with its first differing line: they are strict xfails, so a fix shows up as an XPASS to remove here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from oracle_output import is_ordered, normalize
from oracle_port import port, run_ported

HERE = Path(__file__).resolve().parent
PROGRAMS = HERE / "programs"
GOLDENS = HERE / "goldens"
MASTERS = ("local[1]", "local[2]")
NAMES = sorted(p.stem for p in PROGRAMS.glob("*.py") if not p.name.startswith("_"))

SHOW_N = "show(1): dstreams prints a blank line after 'only showing top 1 row', PySpark does not"

# (program, master) -> the first line where dstreams differs from PySpark (dstreams vs PySpark)
DIFFERENCES: dict[tuple[str, str], str] = {
    ("sql_show_formats", "local[1]"): SHOW_N,
    ("sql_show_formats", "local[2]"): SHOW_N,
}


def cases() -> list:
    params = []
    for name in NAMES:
        for master in MASTERS:
            reason = DIFFERENCES.get((name, master))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(pytest.param(name, master, marks=marks, id=f"{name}-{master}"))
    return params


@pytest.mark.filterwarnings("ignore")  # fallback and checkpoint warnings are not part of the output
@pytest.mark.parametrize(("name", "master"), cases())
def test_prints_what_pyspark_printed(name, master):
    program = PROGRAMS / f"{name}.py"
    golden = GOLDENS / f"{name}.{master}.txt"
    if not golden.exists():  # e.g. PySpark's regeneration failed for it (see README: known gaps)
        pytest.skip(f"no golden for {name} on {master}: run tests/oracle/regenerate.py {name}")
    out = run_ported(program, master)
    ordered = is_ordered(program.read_text(encoding="utf-8"), master)
    assert normalize(out, ordered) == golden.read_text(encoding="utf-8")


def test_there_are_enough_programs_and_every_golden_has_one():
    assert len(NAMES) >= 40
    stale = sorted(p.name for p in GOLDENS.glob("*.txt") if p.name.split(".")[0] not in NAMES)
    assert not stale, f"goldens without a program (delete them): {stale}"
    unknown = sorted(key for key in DIFFERENCES if key[0] not in NAMES or key[1] not in MASTERS)
    assert not unknown, f"DIFFERENCES names programs that do not exist: {unknown}"


def test_the_port_rewrites_imports_only():
    source = (
        "import pyspark\n"
        "from pyspark import SparkContext\n"
        "from pyspark.streaming import StreamingContext\n"
        "from pyspark.sql.functions import col\n"
        'print("pyspark stays in strings")\n'
    )
    assert port(source) == (
        "import dstreams\n"
        "from dstreams import SparkContext\n"
        "from dstreams import StreamingContext\n"
        "from dstreams.sql.functions import col\n"
        'print("pyspark stays in strings")\n'
    )


RAW = """\
setup line
-------------------------------------------
Time: 2026-12-08 01:39:27
-------------------------------------------
('b', 1)
('a', 2)

batch 2026-12-08 01:39:28 z
y
-------------------------------------------
Time: 2026-12-08 01:39:29
-------------------------------------------
late

[oracle] end of run: 2 batches of 1 s from 2026-12-08 01:39:27
after 2026-12-08 01:39:28
"""


def test_normalize_numbers_batches_and_drops_the_ones_after_the_run():
    assert normalize(RAW, ordered=True) == (
        "setup line\n"
        "-------------------------------------------\n"
        "Time: <batch 1>\n"
        "-------------------------------------------\n"
        "('b', 1)\n"
        "('a', 2)\n"
        "\n"
        "batch <batch 2> z\n"
        "y\n"
        "[oracle] end of run: 2 batches\n"
        "after <batch 2>\n"
    )


def test_normalize_sorts_each_batch_where_the_order_is_not_defined():
    lines = normalize(RAW, ordered=False).splitlines()
    assert lines[4:7] == ["('a', 2)", "('b', 1)", ""]
    assert lines[:4] == ["setup line", "-" * 43, "Time: <batch 1>", "-" * 43]


def test_a_run_that_did_not_end_keeps_its_output():
    out = normalize("line\n[oracle] the program raised KeyError: 'x'\n", ordered=True)
    assert out.endswith("KeyError: 'x'\n[oracle] the run did not end (no end-of-run line)\n")
