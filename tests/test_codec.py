"""Python elements -> Arrow columns -> Python elements: equal values of the same types come back."""

from __future__ import annotations

import datetime as dt
import decimal
import math

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dstreams import Row, codec
from dstreams.batch import Batch


def same(got, want) -> bool:
    """Equal *and* of the same type all the way down; nan equals nan, -0.0 differs from 0.0."""
    if type(got) is not type(want):
        return False
    if isinstance(want, (list, tuple)):
        return len(got) == len(want) and all(map(same, got, want))
    if isinstance(want, dict):
        return list(got) == list(want) and all(same(got[k], want[k]) for k in want)
    if isinstance(want, float):
        return repr(got) == repr(want)
    return got == want


def round_trip(elements):
    table, layout = codec.from_elements(elements)
    return codec.to_elements(table, layout), table, layout


def assert_round_trip(elements):
    back, table, _ = round_trip(elements)
    assert same(back, elements), (elements, back, table.schema)
    return table


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # unbounded: beyond 64 bits too
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.binary(max_size=4),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=2), inner, max_size=3),
        st.tuples(inner, inner),
        st.lists(inner, max_size=3).map(tuple),
    ),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(values, max_size=6))
def test_any_column_round_trips(elements):
    assert_round_trip(elements)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(values, values), min_size=1, max_size=5))
def test_pairs_round_trip_in_the_pair_layout(elements):
    back, table, layout = round_trip(elements)
    assert layout == "pair" and table.column_names == ["key", "value"]
    assert same(back, elements)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(
        [scalars, st.integers(-(2**63), 2**63 - 1), st.text(), st.floats(), st.booleans()]
    ).flatmap(lambda s: st.lists(s, max_size=6))
)
def test_one_type_columns_round_trip(elements):
    assert_round_trip(elements)


@settings(max_examples=100, deadline=None)
@given(st.lists(values, max_size=6))
def test_native_columns_survive_polars(elements):
    """What compiled plans pass through Polars untouched comes back the same."""
    table, layout = codec.from_elements(elements)
    if any(codec.is_pickled(f) for f in table.schema):
        return
    back = pl.from_arrow(table).to_arrow(compat_level=pl.CompatLevel.newest())
    assert same(codec.to_elements(back, layout), elements)


@pytest.mark.parametrize(
    "elements",
    [
        [2**63, -(2**63) - 1, 2**200],
        [2**63 - 1, -(2**63)],
        [float("nan"), -0.0, 0.0, float("inf"), -float("inf")],
        ["", "é", "日本", "\U0001f600", "\ud800"],  # a lone surrogate cannot be UTF-8: pickled
        [True, False, None],
        [b"", b"\x00\xff", None],
        [None, None],
        [],
        [1, True, 1.0, "1", b"1", None],
        [[1, 2], [], None, [3]],
        [[1, 2.5]],
        [["x", b"\xfe"]],  # Arrow infers list<string> and takes the bytes, but cannot give them back
        [{"a": ["", b"nr4\xfe"]}],
        [[(1, 2)]],
        [{"a": 1}, {"a": None}, None],
        [{"a": 1}, {"b": 1}],
        [{1: "int key"}],
        [{}],
        [(1, "a"), (2, None), None],
        [(1, 2, 3), (4, 5, 6)],
        [(1,), ()],
        [((1, 2), (3, (4, "x")))],
        [(1, 2), [1, 2]],
        [{1, 2}, frozenset({3})],
        [bytearray(b"x")],
        [dt.date(2024, 2, 29), dt.datetime(2024, 1, 1, 12, 30, 0, 5), dt.time(1, 2), dt.timedelta(days=-1)],
        [dt.datetime(2024, 1, 1, tzinfo=dt.UTC)],
        [decimal.Decimal("1.10"), decimal.Decimal("-2.5")],
        [Row(a=1, b="x")],
        [complex(1, 2)],
    ],
)
def test_edge_values_round_trip(elements):
    assert_round_trip(elements)


def test_types_are_kept():
    back, _, _ = round_trip([1, True, 1.0])
    assert [type(v) for v in back] == [int, bool, float]
    back, _, _ = round_trip([(1, 2), (3, 4)])
    assert back == [(1, 2), (3, 4)] and type(back[0]) is tuple
    back, _, _ = round_trip([("k", (1, "v"))])
    assert type(back[0][1]) is tuple


def test_native_types_where_arrow_has_an_exact_one():
    def column_type(elements):
        table, _ = codec.from_elements(elements)
        return table.schema.field("value").type, codec.is_pickled(table.schema.field("value"))

    assert column_type([1, None]) == (pa.int64(), False)
    assert column_type([1.5]) == (pa.float64(), False)
    assert column_type(["a"]) == (pa.string(), False)
    assert column_type([True]) == (pa.bool_(), False)
    assert column_type([b"x"]) == (pa.binary(), False)
    assert column_type([[1]]) == (pa.list_(pa.int64()), False)
    assert column_type([1, "a"])[1] is True
    assert column_type([2**64])[1] is True
    assert column_type([[1, "a"]])[1] is True


def test_tuples_are_structs_marked_as_tuples():
    table, _ = codec.from_elements([(1, "a", 0.5), None])
    f = table.schema.field("value")
    assert f.type == pa.struct([("_0", pa.int64()), ("_1", pa.string()), ("_2", pa.float64())])
    assert codec.is_tuples(f) and codec.is_pickled(f)  # not for Polars or SQL as they are
    table, layout = codec.from_elements([("k", (1, 2.5))])
    assert layout == "pair" and codec.is_tuples(table.schema.field("value"))
    # a tuple with a position that needs pickling is pickled whole
    table, _ = codec.from_elements([(1, "a", 0), ("b", 2, 0)])
    assert table.schema.field("value").type == pa.binary()


def test_mark_tuples_turns_a_struct_column_into_tuples():
    table = pa.table({"value": pa.array([{"_0": 1, "_1": "x"}, None])})
    assert codec.to_elements(codec.mark_tuples(table, "value"), "value") == [(1, "x"), None]


def test_partition_column_is_hidden():
    table, layout = codec.from_elements([1, 2, 3], [1, 2])
    assert table.column_names == ["value", codec.PARTITION]
    assert codec.to_elements(table, layout) == [1, 2, 3]
    assert Batch(table).partitions() == [[1], [2, 3]]


def test_row_layout_gives_rows():
    table = pa.table({"word": ["a", "b"], "n": [1, 2]})
    assert codec.layout_of(table) == "row"
    rows = codec.to_elements(table, "row")
    assert rows == [Row(word="a", n=1), Row(word="b", n=2)]
    assert rows[0].word == "a" and rows[1].asDict() == {"word": "b", "n": 2}


def test_layout_of_columns():
    assert codec.layout_of_columns(["value"]) == "value"
    assert codec.layout_of_columns(["key", "value", codec.PARTITION]) == "pair"
    assert codec.layout_of_columns(["value", "key"]) == "row"


def test_concat_unifies_a_null_column_with_a_typed_one():
    a, _ = codec.from_elements([None])
    b, _ = codec.from_elements([1])
    assert codec.concat([a, b]).column("value").to_pylist() == [None, 1]


def test_nan_and_negative_zero_stay_apart():
    back, _, _ = round_trip([float("nan"), -0.0])
    assert math.isnan(back[0]) and math.copysign(1.0, back[1]) == -1.0
