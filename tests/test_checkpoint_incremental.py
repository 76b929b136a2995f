"""Incremental checkpoints of keyed state: deltas on a full table, compaction, fallback, recovery."""

from __future__ import annotations

import json
import logging

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dstreams import ManualClock, SparkConf, SparkContext, StateSpec, StreamingContext, codec, pairs
from dstreams.checkpoint import manifest as manifests
from dstreams.checkpoint.recovery import load_latest
from dstreams.checkpoint.snapshots import parquet_bytes, read_snapshot, write_snapshot
from dstreams.checkpoint.store import CheckpointDir
from dstreams.state import DeltaChain, PendingTable, StateDelta, StateSnapshot, apply_deltas

OUT: list = []


def record(t, rdd) -> None:  # module-level: the pickled graph of a checkpoint refers to it by name
    OUT.append((t.second, sorted(rdd.collect())))


@pytest.fixture(autouse=True)
def _clean():
    OUT.clear()  # the active context is stopped by conftest's _no_context_left_active


def context(**conf: str) -> StreamingContext:
    spark_conf = SparkConf().set("dstreams.checkpoint.fsync", "false")
    spark_conf.set("dstreams.checkpoint.incremental.minKeys", "1")  # tiny states: deltas all the same
    spark_conf.set("dstreams.checkpoint.incremental.maxFraction", "100")
    for key, value in conf.items():
        spark_conf.set(key, value)
    return StreamingContext(SparkContext("local[1]", "inc", conf=spark_conf), 1, clock=ManualClock())


def run(directory, setup, batches: int, graceful: bool = False) -> StreamingContext:
    ssc = StreamingContext.getOrCreate(str(directory), setup)
    ssc.start()
    for _ in range(batches):
        ssc.clock.advance(1)
    ssc.stop(stopGraceFully=graceful)
    return ssc


def entries(directory) -> list[dict]:
    """The state entry of every manifest, oldest first."""
    d = CheckpointDir(str(directory))
    found = []
    for _, _, _, name in manifests.manifest_names(d):
        states = manifests.read(d, name).body["states"]
        if states:
            found.append(next(iter(states.values())))
    return found


def restored(directory) -> list[dict]:
    """The state the newest readable checkpoint gives back, sorted by key."""
    _, snapshots, _ = load_latest(CheckpointDir(str(directory)))
    table = next(iter(snapshots.values())).tables["state"]
    rows = codec.to_elements(table.select(["key", "value"]), "pair") if table.num_rows else []
    return sorted(rows, key=repr)


# Batches where keys change, stay, are deleted (a total of 0 removes the key) and come back.
BATCHES = [
    [("a", 1), ("b", 1), ("c", 1), ("d", 1)],
    [("a", 1)],
    [("b", -1)],  # b -> 0: deleted
    [],
    [("e", 5), ("c", 2)],
    [("b", 7)],  # b comes back
    [("a", -2), ("f", 1)],  # a deleted
    [("a", 3)],  # a comes back
    [("g", 1)],
    [("c", -3), ("h", 1)],  # c deleted
    [("d", 0), ("c", 1)],  # c comes back
    [("a", 1)],
]


def update(new, old):  # not a recognised running sum: called per key, compared column by column
    total = sum(new) + (old or 0)
    return total if total != 0 else None


def counting_app(**conf: str):
    def setup():
        ssc = context(**conf)
        totals = ssc.queueStream([list(b) for b in BATCHES]).updateStateByKey(update).checkpoint(2)
        totals.foreachRDD(record)
        return ssc

    return setup


@pytest.mark.parametrize("box", [lambda v: {v}, lambda v: (v, "x")], ids=["pickled", "struct"])
def test_apply_deltas_deletes_then_upserts_in_order_and_keeps_the_schema(box):
    base = pairs.from_items([(k, box(v)) for k, v in [("a", 1), ("b", 2), ("c", 3), ("d", 4)]])
    assert codec.is_pickled(base.schema.field("value"))  # Python objects: sets, or tuples as structs

    def delta(upserts, deleted):
        return StateDelta(
            pairs.from_items([(k, box(v)) for k, v in upserts]).cast(base.schema), _keys(deleted), "key"
        )

    d1 = delta([("b", 20), ("e", 5)], ["c"])
    d2 = delta([("c", 30)], ["e", "a"])
    d3 = delta([("a", 9)], ["a", "d"])  # a deleted and set again in one delta: set
    out = apply_deltas(base, [d1, d2, d3])
    assert out.schema == base.schema
    assert codec.to_elements(out, "pair") == [("a", box(9)), ("b", box(20)), ("c", box(30))]
    assert apply_deltas(base, []) is base


def _keys(keys: list[str]) -> pa.Table:
    return pa.table({"key": pa.array(keys, pa.string())})


def test_update_state_by_key_writes_deltas_and_recovers_the_same_state(tmp_path):
    full, inc = tmp_path / "full", tmp_path / "inc"
    run(full, counting_app(**{"dstreams.checkpoint.incremental": "false"}), 11)
    expected = list(OUT)
    OUT.clear()
    run(inc, counting_app(), 11)
    assert OUT == expected
    states = entries(inc)
    assert [len(e.get("deltas") or []) for e in states] == [0, 1, 2, 3, 4]
    assert not any("deltas" in e for e in entries(full))
    newest = states[-1]
    # only changed keys: g (batch 9), h (batch 10) and c, deleted by batch 10
    last = newest["deltas"][-1]
    assert newest["tables"][last["upserts"]]["rows"] == 2
    assert newest["tables"][last["deleted"]]["rows"] == 1
    assert restored(inc) == restored(full)


def test_recovery_reruns_batches_after_a_delta_checkpoint(tmp_path):
    run(tmp_path / "ref", counting_app(), 12)
    expected = OUT[-1]
    OUT.clear()
    run(tmp_path / "cp", counting_app(), 7)  # checkpoints after 2 (full), 4 and 6 (deltas)
    assert len(entries(tmp_path / "cp")[-1]["deltas"]) == 2
    run(tmp_path / "cp", counting_app(), 5)
    assert OUT[-1] == expected
    # the recovered run went on with the same chain: deltas 3 to 5 (after 8, 10, 12) on the same base
    newest = entries(tmp_path / "cp")[-1]
    assert len(newest["deltas"]) == 5
    assert newest["tables"]["state"] == entries(tmp_path / "cp")[0]["tables"]["state"]
    run(tmp_path / "full", counting_app(**{"dstreams.checkpoint.incremental": "false"}), 12)
    assert restored(tmp_path / "cp") == restored(tmp_path / "full")


def test_compaction_after_max_deltas_and_when_deltas_outgrow_the_base(tmp_path):
    run(tmp_path / "n", counting_app(**{"dstreams.checkpoint.incremental.maxDeltas": "2"}), 11)
    assert [len(e.get("deltas") or []) for e in entries(tmp_path / "n")] == [0, 1, 2, 0, 1]
    files = {e["tables"]["state"]["file"] for e in entries(tmp_path / "n")}
    assert len(files) == 2  # two full tables, each with its deltas
    run(tmp_path / "f", counting_app(**{"dstreams.checkpoint.incremental.maxFraction": "0.5"}), 11)
    for e in entries(tmp_path / "f"):
        deltas = e.get("deltas") or []
        rows = sum(e["tables"][d[p]]["rows"] for d in deltas for p in ("upserts", "deleted"))
        assert rows <= 0.5 * e["tables"]["state"]["rows"]
    assert restored(tmp_path / "f") == restored(tmp_path / "n")


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_damaged_delta_falls_back_to_the_previous_complete_checkpoint(tmp_path, caplog, damage):
    run(tmp_path / "ref", counting_app(), 12)
    expected = OUT[-1]
    OUT.clear()
    run(tmp_path / "cp", counting_app(), 9)  # checkpoints 0, 2, 4, 6, 8
    d = CheckpointDir(str(tmp_path / "cp"))
    newest = manifests.manifest_names(d)[-1][3]
    entry = entries(tmp_path / "cp")[-1]
    last = entry["tables"][entry["deltas"][-1]["upserts"]]["file"]
    path = tmp_path / "cp" / last
    if damage == "missing":
        path.unlink()
    else:
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(data)
    with caplog.at_level(logging.WARNING, logger="dstreams"):
        run(tmp_path / "cp", counting_app(), 3)
    assert f"checkpoint {newest} in {tmp_path / 'cp'} is skipped" in caplog.text
    assert "recovering from the older checkpoint" in caplog.text
    assert OUT[-1] == expected  # the older chain (one delta fewer) plus the journal: the same state


def test_small_states_are_written_whole_and_a_failed_delta_is_made_up_next_time(tmp_path, monkeypatch):
    ssc = run(tmp_path / "small", counting_app(**{"dstreams.checkpoint.incremental.minKeys": "100"}), 11)
    assert not any("deltas" in e for e in entries(tmp_path / "small"))
    holder = next(s for s in ssc._graph.streams if getattr(s, "_stateful", False))
    assert not holder._changes.active  # far below minKeys: no tracking cost per batch

    import dstreams.checkpoint.snapshots as snapshots

    real, calls = snapshots._write_tables, []

    def flaky(directory, folder, index, tables):
        calls.append(folder)
        if len(calls) == 3:  # the delta after batch 6 fails: the one after 8 writes it too
            raise OSError("disk full")
        return real(directory, folder, index, tables)

    monkeypatch.setattr(snapshots, "_write_tables", flaky)
    run(tmp_path / "flaky", counting_app(), 11)
    cuts = [(e["batch_time"], len(e.get("deltas") or [])) for e in entries(tmp_path / "flaky")]
    assert cuts == [(2000, 0), (4000, 1), (8000, 3), (10000, 4)]
    monkeypatch.undo()
    OUT.clear()
    run(tmp_path / "flaky", counting_app(), 1)
    run(tmp_path / "ref", counting_app(), 12)
    assert OUT[0] == OUT[-1]


def test_map_with_state_with_a_timeout_checkpoints_incrementally(tmp_path):
    def track(key, value, state):
        if value is None:
            return (key, "timed out")
        if value < 0:
            state.remove()
            return (key, None)
        total = (state.getOption() or 0) + value
        state.update(total)
        return (key, total)

    batches = [[("a", 1), ("b", 1), ("c", 1)], [("a", 1)], [("b", -1)], [("d", 1)], [("b", 2)], []]
    batches += [[("e", 1)], [], [("a", 1)], [], [("f", 1)], []]

    def setup():
        ssc = context()
        mapped = ssc.queueStream([list(b) for b in batches]).mapWithState(
            StateSpec.function(track).timeout(3)
        )
        mapped.checkpoint(2)
        mapped.stateSnapshots().foreachRDD(record)
        return ssc

    run(tmp_path / "ref", setup, 12)
    expected = list(OUT)
    OUT.clear()
    run(tmp_path / "cp", setup, 7)
    assert len(entries(tmp_path / "cp")[-1]["deltas"]) == 2  # cuts 2 (full), 4 and 6 (deltas)
    run(tmp_path / "cp", setup, 5)
    assert OUT[-5:] == expected[-5:]


@pytest.mark.parametrize("key", ["word", ["word", "lang"]])
def test_native_map_with_state_checkpoints_incrementally(tmp_path, caplog, key):
    spec = StateSpec.native(
        key=key,
        agg={"n": pl.len()},
        update={"count": pl.col("count").fill_null(0) + pl.col("n")},
        remove=pl.col("count") > 3,
    ).timeout(4)
    words = [["a", "b", "c"], ["a"], ["a", "d"], [], ["a", "e"], ["b"], [], ["f"], [], ["a"], ["g"], []]

    def setup():
        ssc = context()
        schema = pa.schema([("word", pa.string()), ("lang", pa.string())])
        queue = [pa.table({"word": w, "lang": ["en"] * len(w)}, schema=schema) for w in words]
        counts = ssc.queueStream(queue).mapWithState(spec)
        counts.checkpoint(2)
        counts.stateSnapshots().foreachRDD(record)
        return ssc

    run(tmp_path / "ref", setup, 12)
    expected = list(OUT)
    OUT.clear()
    run(tmp_path / "cp", setup, 9)
    entry = entries(tmp_path / "cp")[-1]
    assert len(entry["deltas"]) == 3
    assert all(entry["tables"][d["upserts"]]["rows"] <= 2 for d in entry["deltas"])
    run(tmp_path / "cp", setup, 3)
    assert OUT[-3:] == expected[-3:]
    assert "failed" not in caplog.text


def test_string_views_in_a_sliced_struct_are_written_as_plain_strings():
    keys = pl.DataFrame({"k": [{"w": "a", "l": "en"}, {"w": "b", "l": "en"}]}).filter(
        pl.Series([False, True])
    )
    table = keys.to_arrow(compat_level=pl.CompatLevel.newest())  # pyarrow's Parquet writer refuses this one
    back = pq.read_table(pa.BufferReader(parquet_bytes(table)))
    assert back.to_pylist() == [{"k": {"w": "b", "l": "en"}}]


def test_a_running_sum_tracks_only_the_keys_of_each_batch(tmp_path, both_paths):
    def setup():
        ssc = context()
        batches = [[(f"k{i}", 1) for i in range(50)], [("k1", 1)], [("k2", 5), ("new", 1)], [("k1", 0)]]
        totals = ssc.queueStream(batches).updateStateByKey(lambda new, old: sum(new) + (old or 0))
        totals.checkpoint(2).foreachRDD(lambda rdd: None)
        return ssc

    run(tmp_path, setup, 4)
    entry = entries(tmp_path)[-1]
    (delta,) = entry["deltas"]
    assert entry["tables"]["state"]["rows"] == 50
    # compiled: the keys of the batches (k1, k2, new); row-wise: the keys whose value changed (k2, new)
    assert entry["tables"][delta["upserts"]]["rows"] == (3 if both_paths == "compiled" else 2)
    assert "delta1.deleted" in json.dumps(entry)
    totals = {f"k{i}": 1 for i in range(50)} | {"k1": 2, "k2": 6, "new": 1}
    assert restored(tmp_path) == sorted(totals.items(), key=repr)


def test_snapshots_written_out_of_order_each_give_their_own_state(tmp_path):
    d = CheckpointDir(str(tmp_path))
    base = pairs.from_items([("a", 1), ("b", 2)])
    d2 = StateDelta(pairs.from_items([("c", 3)]), _keys(["a"]), "key")
    d3 = StateDelta(pairs.from_items([("a", 4)]), _keys(["b"]), "key")
    chain = DeltaChain()
    full = PendingTable(base)
    s1 = StateSnapshot(1000, {"state": base}, chain=chain, seq=1, earlier=[(1, full)])
    s2 = StateSnapshot(2000, {}, delta=d2, chain=chain, seq=2, earlier=[(1, full)])
    s3 = StateSnapshot(3000, {}, delta=d3, chain=chain, seq=3, earlier=[(1, full), (2, d2)])
    # a graceful stop writes its final checkpoint while the writer thread still has the earlier ones
    e3 = write_snapshot(d, "state/x3", 0, s3)
    e1 = write_snapshot(d, "state/x1", 0, s1)
    assert full.table is None  # written: let go of
    e2 = write_snapshot(d, "state/x2", 0, s2)
    state = {
        k: codec.to_elements(read_snapshot(d, e).tables["state"], "pair")
        for k, e in [(1, e1), (2, e2), (3, e3)]
    }
    assert state == {
        1: [("a", 1), ("b", 2)],
        2: [("b", 2), ("c", 3)],
        3: [("a", 4), ("c", 3)],
    }  # a keeps its place in the full table
    assert len(e3["deltas"]) == 2 and len(e2["deltas"]) == 1


_KEYS = st.sampled_from([f"k{i}" for i in range(12)])


@settings(max_examples=60, deadline=None)
@given(
    base=st.dictionaries(_KEYS, st.integers(-5, 5), min_size=1),
    steps=st.lists(
        st.tuples(st.dictionaries(_KEYS, st.integers(-5, 5)), st.lists(_KEYS, unique=True)), max_size=4
    ),
)
def test_apply_deltas_equals_applying_the_changes_to_a_dict(base, steps):
    table = pairs.from_items(base.items())
    expected = dict(base)
    deltas = []
    for upserts, deleted in steps:
        for k in deleted:
            expected.pop(k, None)
        expected.update(upserts)
        rows = pairs.from_items(upserts.items()) if upserts else table.slice(0, 0)
        deltas.append(StateDelta(rows.cast(table.schema), _keys(deleted), "key"))
    out = apply_deltas(table, deltas)
    assert out.schema == table.schema
    assert dict(codec.to_elements(out, "pair")) == expected
    assert out.num_rows == len(expected)
    # keys of the base that stay keep their order
    kept = [k for k, _ in codec.to_elements(out, "pair") if k in base]
    assert kept == [k for k in base if k in expected]
