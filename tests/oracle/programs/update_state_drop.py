"""updateStateByKey: returning None removes the key; state can be any value (a list here)."""

import sys
import tempfile

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-updatestate-drop")
ssc = streaming_context(sc, 1)
ssc.checkpoint(tempfile.mkdtemp(prefix="oracle-"))
events = ssc.queueStream([[("s1", "login"), ("s2", "login")], [("s1", "click")], [("s1", "logout")], []])


def track(new_events, history):
    history = (history or []) + new_events
    return None if "logout" in history else history


events.updateStateByKey(track).pprint()
run(ssc, 5)
