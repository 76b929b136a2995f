"""Errors of checkpointing and recovery (all are :class:`~dstreams.errors.DStreamsError`)."""

from __future__ import annotations

from dstreams.errors import ConfigurationError, DStreamsError


class CheckpointError(DStreamsError):
    """A checkpoint could not be written or read (the message names the directory and the file)."""


class CheckpointUnwritableError(CheckpointError, ConfigurationError):
    """The checkpoint directory cannot be created or written (raised by ``ssc.start()``)."""


class CheckpointCorruptError(CheckpointError):
    """Checkpoints exist but none of them can be read: recovery would lose state, so it stops."""


class GraphMismatchError(CheckpointError, ConfigurationError):
    """The saved state does not fit the graph that ``setupFunc`` built (upgrade mode)."""
