"""The installed dstreams version: ``dstreams.__version__`` and ``dstreams --version``.

From the package metadata when dstreams is installed (also in editable mode); from the checkout's
``pyproject.toml`` when the package is only on ``sys.path``.

>>> version() == version() and version()[0].isdigit()
True
"""

from __future__ import annotations

import os
import re
from importlib import metadata


def version() -> str:
    """The version string, e.g. ``"0.1.0"``; ``"0+unknown"`` when neither source has one."""
    try:
        return metadata.version("dstreams")
    except metadata.PackageNotFoundError:
        pass
    pyproject = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pyproject.toml")
    try:
        with open(pyproject, encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return "0+unknown"
    project = text.split("[project]", 1)[-1]
    found = re.search(r'^version\s*=\s*"([^"]+)"', project, re.MULTILINE)
    return found.group(1) if found else "0+unknown"
