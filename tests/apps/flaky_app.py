"""For test_supervisor: fails (status 3) until it has been restarted ``argv[2]`` times, then exits 0.

Each run appends its restart count (``DSTREAMS_RESTARTS``) to the file ``argv[1]``. With ``argv[2]``
equal to ``sleep``, it waits for SIGTERM instead and exits with 143 when it comes.
"""

import os
import signal
import sys
import time

restarts = os.environ.get("DSTREAMS_RESTARTS", "?")
with open(sys.argv[1], "a") as fh:
    fh.write(f"{restarts}\n")
if sys.argv[2] == "sleep":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    time.sleep(30)
    sys.exit(0)
sys.exit(0 if int(restarts) >= int(sys.argv[2]) else 3)
