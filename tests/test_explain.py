"""``explain()`` and the fallback setting: silent by default, warnings at the user's line, or errors."""

from __future__ import annotations

import inspect
import warnings

import pytest

from dstreams import (
    BatchError,
    FallbackError,
    FallbackWarning,
    ManualClock,
    Row,
    SparkConf,
    SparkContext,
    StreamingContext,
    set_fallback,
)


def count_chars(word):
    total = 0
    for _ in word:  # a loop: the tracer refuses it
        total += 1
    return total


COUNT_CHARS_LINE = count_chars.__code__.co_firstlineno


def context(mode: str | None = None, conf_mode: str | None = None, **kw) -> StreamingContext:
    conf = SparkConf()
    if conf_mode is not None:
        conf.set("spark.dstreams.fallback", conf_mode)
    sc = SparkContext("local[1]", "explain", conf=conf)
    return StreamingContext(sc, 1, clock=ManualClock(), fallback=mode, **kw)


def run(ssc: StreamingContext, stream, batches: int = 1) -> list:
    out: list = []
    stream.foreachRDD(lambda rdd: out.append(rdd.collect()))
    ssc.start()
    try:
        ssc.clock.advance(batches)
    finally:
        ssc.stop(stopSparkContext=False)
    return out


def test_explain_a_compiled_chain_shows_the_polars_plan(capsys):
    ssc = context()
    counts = (
        ssc.queueStream([["a b a"]])
        .flatMap(lambda line: line.split(" "))
        .map(lambda w: (w, 1))
        .reduceByKey(lambda a, b: a + b)
    )
    text = counts.explain()
    assert capsys.readouterr().out.strip() == text.strip()
    lines = text.splitlines()
    assert lines[0] == "source queueStream <QueueInputDStream #0>"
    assert [line.split()[0] for line in lines[1:4]] == [
        "flatMap(<lambda>",
        "map(<lambda>",
        "reduceByKey(<lambda>",
    ]
    assert all(line.endswith("compiled") for line in lines[1:4])
    assert lines[4].startswith("Polars plan of flatMap(")
    assert "AGGREGATE" in text and "str.split" in text


def test_explain_a_python_operator_gives_the_reason_and_the_faster_form():
    ssc = context()
    words = ssc.queueStream([["ab c"]]).flatMap(lambda line: line.split(" "))
    words.map(count_chars).pprint()
    words.map(lambda w: Row(word=w)).pprint()
    text = ssc.explain()  # both outputs
    (loop,) = [line for line in text.splitlines() if line.startswith("map(count_chars")]
    assert f"map(count_chars at test_explain.py:{COUNT_CHARS_LINE})" in loop
    assert "Python: the tracer could not compile count_chars (test_explain.py:" in loop
    assert "for String input: it has a loop or a comprehension" in loop
    (row,) = [line for line in text.splitlines() if "Row" in line and "Python" in line]
    assert 'Faster: .select(pl.col("value").alias("word"))' in row
    assert text.count("pprint  (output)") == 2


def test_explain_without_a_sample_says_the_types_are_not_known_yet():
    ssc = context()
    text = ssc.socketTextStream("localhost", 9).map(count_chars).explain()
    assert "column types unknown until its first batch" in text
    assert "compiles if its input types allow" in text


def test_by_default_ported_programs_print_nothing_about_fallbacks(recwarn):
    ssc = context()
    lines = ssc.queueStream([["1 2", "3"]])
    words = lines.flatMap(lambda line: line.split(" "))
    words.map(int).pprint()
    words.map(count_chars).pprint()
    words.map(lambda w: (w, [w])).mapValues(list).pprint()
    words.map(lambda w: Row(word=w)).pprint()
    words.transform(lambda rdd: rdd.keyBy(count_chars)).pprint()
    ssc.start()
    ssc.clock.advance(1)
    ssc.stop(stopSparkContext=False)
    assert [w for w in recwarn if issubclass(w.category, FallbackWarning)] == []


def test_warn_mode_points_at_the_line_where_the_function_was_defined():
    ssc = context(conf_mode="warn")  # SparkConf().set("spark.dstreams.fallback", "warn")
    stream = ssc.queueStream([["ab", "c"]]).map(count_chars)
    with pytest.warns(FallbackWarning) as caught:
        assert run(ssc, stream) == [[2, 1]]
    (warning,) = caught
    assert warning.filename == __file__ and warning.lineno == COUNT_CHARS_LINE
    assert "map(count_chars at test_explain.py:" in str(warning.message)
    assert "it has a loop" in str(warning.message)


def test_warn_mode_blames_the_users_line_for_a_builtin():
    ssc = context(mode="warn")  # the StreamingContext keyword
    line = inspect.currentframe().f_lineno + 1
    stream = ssc.queueStream([[("a", "xy")]]).mapValues(list)
    with pytest.warns(FallbackWarning, match=r"mapValues\(list\) runs row-wise in Python") as caught:
        assert run(ssc, stream) == [[("a", ["x", "y"])]]
    assert (caught[0].filename, caught[0].lineno) == (__file__, line)


def test_key_by_names_the_users_key_function():
    ssc = context(mode="warn")
    stream = ssc.queueStream([["ab"]]).transform(lambda rdd: rdd.keyBy(count_chars))
    with pytest.warns(FallbackWarning, match=r"keyBy\(count_chars at test_explain\.py:\d+\)") as caught:
        assert run(ssc, stream) == [[(2, "ab")]]
    assert (caught[0].filename, caught[0].lineno) == (__file__, COUNT_CHARS_LINE)


def test_error_mode_fails_the_first_batch_naming_the_function():
    ssc = context(mode="error")
    stream = ssc.queueStream([["ab"], ["c"]]).map(count_chars)
    with pytest.raises(BatchError) as failure:
        run(ssc, stream, 2)
    cause = failure.value.__cause__
    assert isinstance(cause, FallbackError)
    assert f"count_chars (test_explain.py:{COUNT_CHARS_LINE})" in str(cause)
    assert "spark.dstreams.fallback is 'error'" in str(cause)


def test_the_process_wide_setting_and_a_context_that_overrides_it():
    old = set_fallback("warn")
    try:
        ssc = context()
        with pytest.warns(FallbackWarning):
            run(ssc, ssc.queueStream([["ab"]]).map(count_chars))
        ssc = context(mode="ignore")  # the context's own setting wins
        with warnings.catch_warnings():
            warnings.simplefilter("error", FallbackWarning)
            assert run(ssc, ssc.queueStream([["ab"]]).map(count_chars)) == [[2]]
    finally:
        set_fallback(old)


def test_a_wrong_mode_says_which_ones_exist():
    with pytest.raises(ValueError, match="ignore, warn, error"):
        context(mode="loud")


def test_warn_mode_for_a_reduction_suggests_the_compiled_forms():
    def larger(a, b):
        return a if a > b else b

    ssc = context(mode="warn")
    stream = ssc.queueStream([[("a", 1), ("a", 3), ("b", 2)]]).reduceByKey(larger)
    with pytest.warns(FallbackWarning, match=r"reduceByKey\(larger at test_explain\.py:\d+\)") as caught:
        assert run(ssc, stream) == [[("a", 3), ("b", 2)]]
    assert "max(a, b)" in str(caught[0].message)
    assert (caught[0].filename, caught[0].lineno) == (__file__, larger.__code__.co_firstlineno)
