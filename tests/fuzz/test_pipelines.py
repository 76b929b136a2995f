"""Whole pipelines give the same batches compiled and in Python (differential fuzzing).

Hypothesis draws a pipeline (``pipelines.gen_pipeline``: sources, operators, lambdas as text),
``differential.check`` runs it with compilation on and off on one and two partitions, and any
difference fails with the pipeline printed as a ready-to-paste pytest test. The budget comes from
the ``fuzz-ci`` profile (``tests/fuzz/conftest.py``); ``make fuzz`` runs long ones (``run.py``).
"""

from __future__ import annotations

import os

from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

from . import differential
from .pipelines import HypothesisChooser, Pipeline, Source, gen_pipeline

# A known cause (a name from differential.KNOWN_CAUSES) that reproduces while someone fixes it may
# be excluded here, each with a TODO naming its issue; none of issue 10's four reproduces any more.
EXCLUDED_CAUSES: frozenset[str] = frozenset()

PROFILE = os.environ.get("FUZZ_PROFILE", "fuzz-long" if "FUZZ_EXAMPLES" in os.environ else "fuzz-ci")


def _fail_or_exclude(p: Pipeline, outcome: differential.Outcome) -> None:
    diff = outcome.diff
    if diff is None:
        return
    cause, _ = differential.classify(p, diff)
    assume(cause not in EXCLUDED_CAUSES)
    test = differential.as_test(p, diff, cause, "fuzz_" + cause.replace("-", "_"))
    raise AssertionError(f"{diff.describe()}\ncause: {cause}\n\n{test}")


@settings(settings.get_profile(PROFILE))
@given(st.data())
def test_compiled_and_python_pipelines_agree(data):
    p = gen_pipeline(HypothesisChooser(data))
    note(p.code())
    _fail_or_exclude(p, differential.check(p))


def test_the_harness_sees_a_difference_of_sign_type_and_exception():
    """The comparison is strict where it must be: -0.0 vs 0.0, 1 vs 1.0 vs True, the exception type."""
    p = Pipeline([Source("q0", "int", ["[1]"])], ["s = q0"])
    same = differential.compare_batch(p, 1, 0, ("ok", [1]), ("ok", [1]))
    assert same is None
    assert differential.compare_batch(p, 1, 0, ("ok", [-0.0]), ("ok", [0.0])).kind == "zero-sign"
    assert differential.compare_batch(p, 1, 0, ("ok", [1.0]), ("ok", [1])).kind == "type"
    assert differential.compare_batch(p, 1, 0, ("ok", [True]), ("ok", [1])).kind == "type"
    assert differential.compare_batch(p, 1, 0, ("ok", [2, 1]), ("ok", [1, 2])).kind == "order"
    raised = ("raise", "ZeroDivisionError", "")
    assert differential.compare_batch(p, 1, 0, ("ok", [2]), raised).kind == "raises-only-python"
    assert differential.compare_batch(p, 1, 0, ("raise", "ValueError", ""), raised).kind == "exception"


def test_a_batch_error_is_recorded_with_the_users_exception():
    p = Pipeline(
        [Source("q0", "int", ["[1, 0]", "[2]"])], ["s = q0", "s = s.map(lambda x: 1 // x)"], extra_batches=0
    )
    for compiled in (True, False):
        batches = differential.run(p, 1, compiled).batches
        assert batches[0][:2] == ("raise", "ZeroDivisionError")
        assert batches[1] == ("ok", [0])


def test_a_failing_pipeline_prints_as_a_test_that_runs(tmp_path):
    p = Pipeline(
        [Source("q0", "int", ["[1, 0]"])], ["s = q0", "s = s.map(lambda x: (x, x * 2))"], extra_batches=1
    )
    diff = differential.Diff(1, 0, "value", [1], [2])
    text = differential.as_test(p, diff, "example", "example")
    namespace: dict = {}
    exec(compile(text, str(tmp_path / "test_example.py"), "exec"), namespace)
    namespace["test_example"]()  # both paths agree on this one, so the pasted test passes
