"""The ``dstreams`` logger: where its records go, and Spark's level names for it.

When the application has not configured logging, dstreams prints its own records on stderr with
their time and level::

    2026-01-02 03:04:05,678 ERROR dstreams: batch 1970-01-01 00:00:01 (1000 ms), output pprint: ...

As soon as the application configures logging (a handler on the root logger, e.g.
``logging.basicConfig(...)``, or one of its own on the ``dstreams`` logger), its handlers alone print
them: dstreams never touches the root logger. ``set_level`` is what ``sc.setLogLevel`` calls.

>>> import logging
>>> set_level("ERROR")
>>> logging.getLogger("dstreams").level == logging.ERROR
True
>>> set_level("WARN")
"""

from __future__ import annotations

import logging
import sys

from .errors import ConfigurationError

LOGGER_NAME = "dstreams"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
TRACE = 5  # below DEBUG, as log4j's TRACE

# Spark's (log4j's) level names, as sc.setLogLevel takes them.
LEVELS = {
    "ALL": 1,
    "TRACE": TRACE,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.CRITICAL,
    "OFF": logging.CRITICAL + 10,
}


class DefaultHandler(logging.StreamHandler):
    """Prints on stderr only while the application has no logging of its own.

    The records also propagate to the root logger, so once the application adds a root handler,
    printing here too would show every line twice: this handler then stays silent.
    """

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(FORMAT))

    @property
    def stream(self):  # the current sys.stderr (tests and notebooks replace it)
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns it
        pass

    def emit(self, record: logging.LogRecord) -> None:
        if logging.getLogger().handlers or any(
            not isinstance(h, DefaultHandler) for h in logging.getLogger(LOGGER_NAME).handlers
        ):
            return  # the application configured logging: its handlers print the record
        super().emit(record)


def install() -> logging.Logger:
    """Give the ``dstreams`` logger its default handler (once); returns the logger.

    >>> install().name
    'dstreams'
    """
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(h, DefaultHandler) for h in logger.handlers):
        logger.addHandler(DefaultHandler())
    return logger


def set_level(name: str) -> None:
    """Set the ``dstreams`` logger's level from one of Spark's names (any case): ALL, TRACE, DEBUG,
    INFO, WARN, ERROR, FATAL or OFF, as ``sc.setLogLevel`` takes them.

    >>> set_level("off"); set_level("WARN")
    """
    level = LEVELS.get(str(name).upper()) if isinstance(name, str) else None
    if level is None:
        raise ConfigurationError(
            f"unknown log level {name!r}: use one of {', '.join(LEVELS)} (as sc.setLogLevel in Spark)"
        )
    install().setLevel(level)


logging.addLevelName(TRACE, "TRACE")
