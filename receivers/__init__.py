"""Sources: where batches come from (``dstreams.receivers``).

Each source is an ``InputDStream`` whose ``_allocate(t)`` returns the data of the interval
``(t - batch, t]`` when the timer generates batch ``t``.
"""
