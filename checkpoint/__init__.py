"""Checkpoints and recovery for applications that run 24/7 (``dstreams.checkpoint``).

Use it as in PySpark::

    def create_context():
        ssc = StreamingContext(sc, 1)
        lines = ssc.textFileStream("/data/in")
        counts = lines.flatMap(str.split).map(lambda w: (w, 1)).updateStateByKey(add_counts)
        counts.saveAsParquetFiles("/data/out/counts")
        ssc.checkpoint("/data/checkpoint")          # or "s3://bucket/app" (any pyarrow.fs URI)
        return ssc

    ssc = StreamingContext.getOrCreate("/data/checkpoint", create_context)
    ssc.start()
    ssc.awaitTermination()

and run it under ``dstreams run app.py`` (``python -m dstreams run``), which restarts it with backoff
when it dies; each restart resumes from the checkpoint.

**What is written** (:mod:`.manager`): for every batch, before it runs, the sources' positions and,
only for sources that cannot give the same batch again by themselves (receivers without the
write-ahead log), its data (the *journal*, :mod:`.journal`); files, Kafka, queues, the generator and
receivers with the write-ahead log (:mod:`.receiver_log`) journal positions only. Every checkpoint
interval, the state of every stateful stream and window goes to Parquet files, then a small JSON
manifest naming them (:mod:`.manifest`). The
interval is Spark's (the smallest multiple of the slide of at least 10 s, or
``stream.checkpoint(seconds)``); the last 10 checkpoints are kept (``dstreams.checkpoint.retained``).
Large keyed states (``updateStateByKey``, ``mapWithState``) are written incrementally: only the keys
whose state changed since the last checkpoint, as a delta on the last full table, compacted into a
new full table after ``dstreams.checkpoint.incremental.maxDeltas`` (10) deltas or when they reach
``...maxFraction`` (0.3) of its rows; states under ``...minKeys`` (100,000) are written whole, and
``dstreams.checkpoint.incremental=false`` turns deltas off.
A file is never overwritten: damaged or truncated checkpoints are skipped with a warning and the
previous one is used.

**How recovery works** (:mod:`.recovery`): the newest readable checkpoint, taken after batch ``C``,
gives each stream its state back; the batches after ``C`` run again with exactly the data they had
(from the journal, or from the source moved back to its position at ``C``): those that had
completed before the crash only to rebuild the state (their outputs are not run again), the others
and the batches of the down time in full. So nothing is lost or computed twice; what reaches
outputs is exactly once with the idempotent outputs below, at least once (only the batches in
flight at the crash) for a plain ``foreachRDD``.

**The graph is code.** As Spark, the checkpoint holds the pickled graph (cloudpickle) and
``getOrCreate`` runs it without calling ``setupFunc``: only use checkpoint directories you trust as
much as your application. After changing the code, use ``getOrCreate(path, setupFunc, upgrade=True)``:
the graph is built from the new code and the saved state is given to streams of the same names
(``stream.setName("totals")``, or derived: ``updateStateByKey#0``...), with a
:class:`GraphMismatchError` listing what does not fit. A graph that cannot be pickled (it holds a
network consumer, an open file...) is rebuilt that way too, with a warning at start.

**Exactly-once outputs.** ``saveAsTextFiles``, ``saveAsParquetFiles`` and ``to_duckdb`` write each
batch time once (a batch that runs again is skipped). For your own sink, key every write by the
batch time, and by partition when you write partitions separately, and commit it with that key
(or skip it when the key is already there)::

    from dstreams.outputs import to_ms

    def save(time, rdd):
        batch = to_ms(time)                                 # the same on every run of the batch
        for index, rows in enumerate(rdd.glom().collect()):
            store.put_if_absent(key=f"{batch}-{index}", rows=rows)   # or one transaction per batch

    counts.foreachRDD(save)

``dstreams.sql.sink.write_batch`` does exactly this for any DuckDB connection.

**Receivers' write-ahead log** (``spark.streaming.receiver.writeAheadLog.enable``): what a
receiver stores is fsynced to the checkpoint directory before ``store`` returns and replayed after a
crash (:mod:`.receiver_log`). **Graceful stop**: ``stop(stopGraceFully=True)`` and, with
``spark.streaming.stopGracefullyOnShutdown``, SIGTERM (:mod:`.shutdown`) process the generated
batches and write a final checkpoint. **Sources** keep positions through a two-method protocol
(:mod:`.sources`).

Not restored (as Spark): listeners, accumulators, the ``ssc.remember``/``slice`` history, and tables
registered with ``ssc.register_table`` (register them after ``getOrCreate`` and before ``start()``, so
that a restored context has them too).
"""

from .errors import (
    CheckpointCorruptError,
    CheckpointError,
    CheckpointUnwritableError,
    GraphMismatchError,
)

__all__ = ["CheckpointCorruptError", "CheckpointError", "CheckpointUnwritableError", "GraphMismatchError"]
