"""How a program behaves around its batches: errors reported once and never lost, logging, checkpoint
directory, input info, version."""

from __future__ import annotations

import logging
import os
import re
import stat
import subprocess
import sys
import textwrap
import time
from importlib import metadata

import pytest

import dstreams
from dstreams import BatchError, ConfigurationError, ManualClock, SparkContext, StreamingContext, logs
from dstreams.listener import Time


def _run_script(source: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)], capture_output=True, text=True, timeout=60
    )


# -- a batch error is reported once -------------------------------------------------------------------


def test_a_batch_error_is_one_log_record_with_one_traceback(ssc, clock, caplog):
    ssc.queueStream([["1", "x"]]).map(lambda s: int(s) * 2).pprint()
    ssc.start()
    with caplog.at_level(logging.ERROR, logger="dstreams"):
        with pytest.raises(BatchError, match="invalid literal for int"):
            clock.advance(1)
        with pytest.raises(BatchError):
            ssc.awaitTerminationOrTimeout(0)  # raised again, not logged again
    (record,) = [r for r in caplog.records if r.name == "dstreams"]
    text = logging.Formatter().format(record)
    assert text.count("Traceback (most recent call last)") == 1
    assert "The above exception" not in text and "During handling" not in text
    assert "test_behaviour.py" in text  # the user's frame is kept
    assert len(text.splitlines()) < 12


def test_clock_advance_raises_the_first_error_after_running_every_batch(ssc, clock):
    seen = []
    ssc.queueStream([[1], [0], [0], [4]]).map(lambda x: 4 // x).foreachRDD(
        lambda rdd: seen.append(rdd.collect())
    )
    ssc.start()
    with pytest.raises(BatchError) as failure:
        clock.advance(4)
    assert failure.value.batch_time == 2000  # the first failure, not the second
    assert isinstance(failure.value.__cause__, ZeroDivisionError)
    assert seen == [[4], [1]]  # batch 4 still ran
    clock.advance(1)  # nothing new failed: nothing raised
    ssc.stop()  # the error was raised already: stop does not raise it again


def test_stop_raises_an_error_that_nothing_raised_yet():
    ssc = StreamingContext(SparkContext("local[1]", "stop"), 0.05)  # the real clock: no advance()
    ssc.queueStream([[0]]).map(lambda x: 1 // x).pprint()
    ssc.start()
    deadline = time.monotonic() + 10
    while not any(info.failed for info in ssc.batch_infos) and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(BatchError, match="ZeroDivisionError"):
        ssc.stop()
    ssc.stop()  # idempotent, and the error was raised once


def test_a_script_that_fails_a_batch_does_not_exit_0():
    done = _run_script(
        """
        from dstreams import ManualClock, StreamingContext
        clock = ManualClock()
        ssc = StreamingContext(batchDuration=1, clock=clock)
        ssc.queueStream([["1", "x"]]).map(lambda s: int(s) + 1).pprint()
        ssc.start()
        clock.advance(1)
        ssc.stop()
        """
    )
    assert done.returncode == 1
    first = done.stderr.splitlines()[0]
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ERROR dstreams: batch 1970-01-01 00:00:01", first)
    # one traceback in the log record; then Python prints the raised error with its cause
    assert done.stderr.count("Traceback (most recent call last)") == 3


# -- logging ------------------------------------------------------------------------------------------


def test_records_carry_time_and_level_without_touching_the_root_logger():
    done = _run_script(
        """
        import logging
        import dstreams
        assert logging.getLogger().handlers == []  # the root logger is the application's
        logging.getLogger("dstreams").warning("on its own")
        logging.basicConfig(format="APP %(levelname)s %(message)s")
        logging.getLogger("dstreams").warning("configured")
        """
    )
    lines = done.stderr.splitlines()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING dstreams: on its own", lines[0])
    assert lines[1:] == ["APP WARNING configured"]  # once: only the application's handler prints it


def test_set_level_takes_sparks_level_names():
    logger = logging.getLogger("dstreams")
    old = logger.level
    try:
        for name, level in [("ERROR", logging.ERROR), ("warn", logging.WARNING), ("FATAL", logging.CRITICAL)]:
            logs.set_level(name)
            assert logger.level == level
        logs.set_level("OFF")
        assert not logger.isEnabledFor(logging.CRITICAL)
        logs.set_level("ALL")
        assert logger.isEnabledFor(logs.TRACE)
        with pytest.raises(ConfigurationError, match="ALL, TRACE, DEBUG, INFO, WARN, ERROR, FATAL, OFF"):
            logs.set_level("LOUD")
    finally:
        logger.setLevel(old)


# -- smaller differences from PySpark -----------------------------------------------------------------


def test_checkpoint_creates_the_directory_at_once_private(tmp_path):
    ssc = StreamingContext(batchDuration=1, clock=ManualClock())
    path = tmp_path / "app" / "ck"
    ssc.checkpoint(str(path))
    assert path.is_dir()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700


def test_queue_stream_reports_no_input_info(ssc, clock):
    ssc.queueStream([[1, 2, 3]]).pprint()
    ssc.start()
    clock.advance(1)
    (info,) = ssc.batch_infos
    assert info.streamIdToInputInfo() == {} and info.numRecords() == 0


def test_batch_infos_use_sparks_time(ssc, clock):
    ssc.queueStream([[1]]).pprint()
    ssc.start()
    clock.advance(1)
    (info,) = ssc.batch_infos
    assert isinstance(info.batch_time, Time) and info.batch_time == 1000
    assert info.batchTime().milliseconds() == 1000
    assert info.batchTime().datetime() == info.batch_time.datetime()
    assert info.batchTime().datetime().year == 1970


def test_version_from_the_package_metadata():
    assert dstreams.__version__ == metadata.version("dstreams")
    done = subprocess.run(
        [sys.executable, "-m", "dstreams", "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.strip() == f"dstreams {dstreams.__version__}"
