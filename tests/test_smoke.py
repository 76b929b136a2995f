from conftest import run_batches


def test_word_count(ssc, clock, both_paths):
    lines = ssc.queueStream([["hello hello again", "hello world"], ["hello"], []])
    counts = lines.flatMap(lambda line: line.split(" ")).map(lambda w: (w, 1)).reduceByKey(lambda a, b: a + b)
    assert run_batches(ssc, clock, counts, 4) == [
        [("hello", 3), ("again", 1), ("world", 1)],
        [("hello", 1)],
        [],
        [],
    ]
