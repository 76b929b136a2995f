"""Safe by default, tested as another local user and as a careless producer would attack it.

Files the engine writes for itself are private and never written through a planted symlink; nothing
is unpickled from a checkpoint another user could have written; a watched directory is read for
regular files only; one bad line of input costs only itself; a write failure names its path.
Tests that need a second user (a file owned by ``nobody``) run as root only and say why otherwise.
"""

from __future__ import annotations

import errno
import json
import os
import stat

import pytest

from dstreams import BatchError, ManualClock, SparkConf, SparkContext, StreamingContext
from dstreams.checkpoint import CheckpointCorruptError
from dstreams.checkpoint.wal import WriteAheadLog
from dstreams.privatefiles import UntrustedPathError, make_private_dirs, open_private, state_dir

root_only = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="needs root to make files owned by another user (chown nobody)",
)

OUT: list = []


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def record(t, rdd):
    OUT.append((t.second, sorted(rdd.collect())))


def setup() -> StreamingContext:
    conf = SparkConf().set("dstreams.checkpoint.fsync", "false")
    ssc = StreamingContext(SparkContext("local[1]", "security", conf=conf), 1, clock=ManualClock())
    pairs = ssc.queueStream([["a"], ["a", "b"], ["b"], ["c"], ["a"]]).map(lambda w: (w, 1))
    pairs.updateStateByKey(lambda new, old: sum(new) + (old or 0)).foreachRDD(record)
    return ssc


def run(directory, batches: int, *, upgrade: bool = False) -> StreamingContext:
    ssc = StreamingContext.getOrCreate(str(directory), setup, upgrade=upgrade)
    ssc.start()
    for _ in range(batches):
        ssc.clock.advance(1)
    ssc.stop(stopGraceFully=True)
    return ssc


@pytest.fixture(autouse=True)
def _clean():
    OUT.clear()
    yield
    active = StreamingContext.getActive()
    if active is not None:
        active.stop()


# -- 1. private files ---------------------------------------------------------------------------
def test_checkpoint_files_and_directories_are_private(tmp_path):
    run(tmp_path / "cp", 3)
    for folder, dirs, files in os.walk(tmp_path / "cp"):
        assert mode(folder) == 0o700, folder
        for name in files:
            assert mode(os.path.join(folder, name)) == 0o600, name
            assert not name.endswith(".tmp"), "no temporary file is left behind"


def test_a_symlink_planted_where_the_engine_writes_is_refused(tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(b"root only")
    os.chmod(secret, 0o600)
    d = make_private_dirs(str(tmp_path / "q"))
    os.symlink(secret, os.path.join(d, "lines.txt"))
    with pytest.raises(UntrustedPathError, match="symbolic link"):
        open_private(os.path.join(d, "lines.txt"), append=True)
    assert secret.read_bytes() == b"root only"


def test_the_default_quarantine_is_private_and_never_in_the_shared_temp_dir(ssc, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    quarantine = ssc.socketTextStream("127.0.0.1", 9).receiver._bad_line()
    assert quarantine.path.startswith(os.path.join(state_dir(), "quarantine"))
    assert str(tmp_path / "state") in quarantine.path
    assert quarantine.write(b"\xff not utf-8") == 1
    assert mode(quarantine.path) == 0o600
    assert mode(os.path.dirname(quarantine.path)) == 0o700
    other = ssc.socketTextStream("127.0.0.1", 9).receiver._bad_line()
    assert other.path != quarantine.path, "a random part: the name cannot be guessed in advance"
    quarantine.close()


def test_bad_record_files_are_private(ssc, clock, tmp_path):
    watched = tmp_path / "in"
    watched.mkdir()
    bad_dir = tmp_path / "bad"
    ssc.fileStream(str(watched), "json", badRecordsPath=str(bad_dir)).foreachRDD(lambda rdd: None)
    ssc.start()
    put(watched, "a.json", b'{"id": 1}\nnot json\n', 0.5)
    clock.advance(1)
    (batch_dir,) = bad_dir.iterdir()
    (bad_file,) = batch_dir.iterdir()
    assert mode(batch_dir) == 0o700 and mode(bad_file) == 0o600
    assert [e["line"] for e in map(json.loads, bad_file.read_text().splitlines())] == [2]


# -- 2. nothing is unpickled from a checkpoint someone else could write ------------------------
def test_a_world_writable_checkpoint_is_not_loaded(tmp_path):
    run(tmp_path / "cp", 2)
    os.chmod(tmp_path / "cp", 0o777)
    with pytest.raises(UntrustedPathError, match=r"writable by group and others.*chmod go-w"):
        StreamingContext.getOrCreate(str(tmp_path / "cp"), setup)


def test_a_replaced_group_writable_graph_file_is_not_loaded(tmp_path):
    run(tmp_path / "cp", 2)
    for name in os.listdir(tmp_path / "cp" / "graph"):
        os.chmod(tmp_path / "cp" / "graph" / name, 0o664)
    with pytest.raises(UntrustedPathError, match="graph file"):
        StreamingContext.getOrCreate(str(tmp_path / "cp"), setup)


@root_only
def test_a_checkpoint_owned_by_another_user_is_not_loaded_unless_trusted(tmp_path, monkeypatch):
    run(tmp_path / "cp", 2)
    nobody = 65534
    for folder, _, files in os.walk(tmp_path / "cp"):
        os.chown(folder, nobody, nobody)
        for name in files:
            os.chown(os.path.join(folder, name), nobody, nobody)
    with pytest.raises(UntrustedPathError, match="owned by uid 65534"):
        StreamingContext.getOrCreate(str(tmp_path / "cp"), setup)
    monkeypatch.setenv("DSTREAMS_CHECKPOINT_TRUST_ANY_OWNER", "true")  # the explicit opt-out
    run(tmp_path / "cp", 1)
    assert OUT[-1] == (3, [("a", 2), ("b", 2)])


def test_upgrade_mode_never_reads_the_saved_graph(tmp_path):
    run(tmp_path / "cp", 2)
    for name in os.listdir(tmp_path / "cp" / "graph"):
        (tmp_path / "cp" / "graph" / name).write_bytes(b"not a pickle: must never be loaded")
    os.chmod(tmp_path / "cp" / "graph", 0o777)  # even untrusted: upgrade mode loads data only
    run(tmp_path / "cp", 1, upgrade=True)
    assert OUT[-1] == (3, [("a", 2), ("b", 2)])


# -- 5. a damaged graph file costs at most one copy ---------------------------------------------
def test_one_damaged_graph_copy_costs_nothing(tmp_path):
    run(tmp_path / "cp", 2)
    first = sorted(os.listdir(tmp_path / "cp" / "graph"))[0]
    (tmp_path / "cp" / "graph" / first).write_bytes(b"damaged")
    run(tmp_path / "cp", 1)
    assert OUT[-1] == (3, [("a", 2), ("b", 2)])


def test_every_graph_copy_damaged_suggests_upgrade_mode(tmp_path):
    run(tmp_path / "cp", 2)
    for name in os.listdir(tmp_path / "cp" / "graph"):
        (tmp_path / "cp" / "graph" / name).write_bytes(b"damaged")
    with pytest.raises(CheckpointCorruptError, match="upgrade=True"):
        StreamingContext.getOrCreate(str(tmp_path / "cp"), setup)
    run(tmp_path / "cp", 1, upgrade=True)
    assert OUT[-1] == (3, [("a", 2), ("b", 2)])


# -- 3. watched directories: regular files only -------------------------------------------------
def put(directory, name, content: bytes, mtime: float):
    staging = directory.parent / ".staging"
    staging.mkdir(exist_ok=True)
    tmp = staging / name
    tmp.write_bytes(content)
    os.utime(tmp, (mtime, mtime))
    os.replace(tmp, directory / name)


def test_symlinks_in_a_watched_directory_are_skipped_and_reported_once(ssc, clock, tmp_path, caplog):
    watched = tmp_path / "in"
    watched.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("private data\n")
    out: list = []
    ssc.textFileStream(str(watched)).foreachRDD(lambda rdd: out.append(rdd.collect()))
    ssc.start()
    os.symlink(secret, watched / "link.txt")
    os.utime(watched / "link.txt", (0.5, 0.5), follow_symlinks=False)
    put(watched, "real.txt", b"public\n", 0.5)
    clock.advance(1)
    clock.advance(1)
    assert out == [["public"], []]
    assert sum("symbolic link" in r.getMessage() for r in caplog.records) == 1


def test_follow_symlinks_opts_in(ssc, clock, tmp_path):
    watched = tmp_path / "in"
    watched.mkdir()
    target = tmp_path / "shared.txt"
    target.write_text("linked\n")
    os.utime(target, (0.5, 0.5))
    out: list = []
    ssc.textFileStream(str(watched), followSymlinks=True).foreachRDD(lambda rdd: out.append(rdd.collect()))
    ssc.start()
    os.symlink(target, watched / "link.txt")
    clock.advance(1)
    assert out == [["linked"]]


# -- 4. one bad line costs only itself ----------------------------------------------------------
def file_stream(ssc, tmp_path, fmt, **options):
    watched = tmp_path / "in"
    watched.mkdir()
    out: list = []
    stream = ssc.fileStream(str(watched), fmt, badRecordsPath=str(tmp_path / "bad"), **options)
    stream.foreachRDD(lambda rdd: out.append(rdd.collect()))
    return watched, out


def bad_lines(tmp_path) -> list[tuple[int, str]]:
    entries = []
    for folder, _, files in sorted(os.walk(tmp_path / "bad")):
        for name in files:
            with open(os.path.join(folder, name)) as fh:
                entries += [json.loads(line) for line in fh]
    return [(e["line"], e["record"]) for e in entries]


def test_json_a_wrong_typed_value_costs_only_its_line(ssc, clock, tmp_path):
    import pyarrow as pa

    watched, out = file_stream(ssc, tmp_path, "json", schema={"id": pa.int64()})
    ssc.start()
    put(watched, "a.json", b'{"id": 1}\n{"id": 2}\n{"id": "three"}\n{"id": 4}\n', 0.5)
    clock.advance(1)
    assert [r.id for r in out[0]] == [1, 2, 4]
    assert bad_lines(tmp_path) == [(3, '{"id": "three"}')]


def test_json_mixed_types_without_a_schema_keep_the_first_type(ssc, clock, tmp_path):
    watched, out = file_stream(ssc, tmp_path, "json")
    ssc.start()
    put(watched, "a.json", b'{"id": 1}\n{"id": "two"}\n{"id": 3}\n{"id": null}\n', 0.5)
    clock.advance(1)
    assert [r.id for r in out[0]] == [1, 3, None]
    assert bad_lines(tmp_path) == [(2, '{"id": "two"}')]


def test_csv_an_unterminated_quote_does_not_swallow_later_rows(ssc, clock, tmp_path):
    watched, out = file_stream(ssc, tmp_path, "csv")
    ssc.start()
    put(watched, "a.csv", b'5,e\n6,"unterminated\n7,g\n8,h\n', 0.5)
    clock.advance(1)
    assert [(r._c0, r._c1) for r in out[0]] == [(5, "e"), (7, "g"), (8, "h")]
    assert bad_lines(tmp_path) == [(2, '6,"unterminated')]


def test_csv_quoted_line_breaks_that_close_are_still_one_value(ssc, clock, tmp_path):
    watched, out = file_stream(ssc, tmp_path, "csv")
    ssc.start()
    put(watched, "a.csv", b'1,"two\nlines"\n2,x\n', 0.5)
    clock.advance(1)
    assert [(r._c0, r._c1) for r in out[0]] == [(1, "two\nlines"), (2, "x")]
    assert bad_lines(tmp_path) == []


# -- 6. write failures name the path ------------------------------------------------------------
def test_a_full_disk_while_journaling_names_the_journal_not_the_source(tmp_path, monkeypatch):
    ssc = StreamingContext.getOrCreate(str(tmp_path / "cp"), setup)
    errors: list = []

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    ssc.start()
    monkeypatch.setattr(WriteAheadLog, "append", full)
    try:
        ssc.clock.advance(1)
    except BatchError as error:  # a manual clock raises the batch's error (when it does)
        errors.append(error)
    monkeypatch.undo()
    try:
        ssc.stop()
    except BatchError as error:
        errors.append(error)
    text = " ".join(str(e) for e in errors) or " ".join(str(e) for e in _reported(ssc))
    assert "input journal" in text and str(tmp_path / "cp") in text
    assert "queueStream" not in text.split("journal")[0]


def _reported(ssc) -> list:
    error = getattr(ssc, "_error", None)
    return [error] if error is not None else []
