"""Files the engine writes for itself: private, never through a symlink, never under a guessable name.

Checkpoints, journals, write-ahead logs, quarantined lines and bad-record files can hold the
application's raw input, and a checkpoint's graph is code. So every directory the engine creates
for itself is ``0700`` and every file ``0600``; files are opened with ``O_NOFOLLOW`` (a symlink planted
where the engine writes is refused, not followed) and new ones with ``O_EXCL``; temporary files get an
unpredictable name from :func:`tempfile.mkstemp` in the target directory. Output files that the
application asked for (``saveAs*``) do not come through here: they keep the umask, as Spark's do.

Before anything is unpickled from a directory, :func:`check_trusted` checks it as ssh checks
``~/.ssh``: owned by this user (or root) and writable by nobody else.

>>> import os, tempfile
>>> base = tempfile.mkdtemp()
>>> d = make_private_dirs(os.path.join(base, "app", "quarantine"))
>>> oct(os.stat(d).st_mode & 0o777)
'0o700'
>>> with open_private(os.path.join(d, "lines.txt"), append=True) as fh:
...     _ = fh.write(b"a bad line\\n")
>>> oct(os.stat(os.path.join(d, "lines.txt")).st_mode & 0o777)
'0o600'
>>> check_trusted(d)
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

from .errors import DStreamsError

DIR_MODE = 0o700
FILE_MODE = 0o600


class UntrustedPathError(DStreamsError, PermissionError):
    """A directory or file that another user could have written: nothing is loaded from it."""


def make_private_dirs(path: str) -> str:
    """Create ``path`` and any missing parents with mode 0700; returns ``path``.

    An existing directory keeps its mode (the application may have chosen it); a symlink in place of
    the last component is refused.
    """
    path = os.path.abspath(path)
    missing = []
    head = path
    while not os.path.lexists(head):
        missing.append(head)
        parent = os.path.dirname(head)
        if parent == head:
            break
        head = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, DIR_MODE)
        except FileExistsError:
            pass  # made by another thread or process meanwhile
        else:
            os.chmod(directory, DIR_MODE)  # the umask may have taken bits away, never adds them
    if os.path.islink(path):
        raise UntrustedPathError(
            f"{path} is a symbolic link; dstreams writes its own files only into real directories: "
            "remove the link or choose another directory"
        )
    return path


def open_private(path: str, *, append: bool = False, exclusive: bool = False) -> BinaryIO:
    """Open ``path`` for writing in binary mode, mode 0600, refusing to follow a symlink.

    ``append``: add to the end of an existing file (created if missing); ``exclusive``: the file
    must not exist yet. Otherwise an existing file is truncated.
    """
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    if append:
        flags |= os.O_APPEND
    elif exclusive:
        flags |= os.O_EXCL
    else:
        flags |= os.O_TRUNC
    try:
        fd = os.open(path, flags, FILE_MODE)
    except OSError as error:
        if os.path.islink(path):
            raise UntrustedPathError(
                f"{path} is a symbolic link (planted by someone?); dstreams does not write through "
                "links: remove it, or choose a directory only this user can write"
            ) from error
        raise
    return os.fdopen(fd, "ab" if append else "wb")


@contextlib.contextmanager
def private_temp(directory: str, name: str) -> Iterator[tuple[BinaryIO, str]]:
    """A new 0600 temporary file next to ``name`` in ``directory``, with an unpredictable name.

    Yields ``(file, temp_path)``; the caller renames it into place. The file is removed if the
    block raises.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    fh = os.fdopen(fd, "wb")
    try:
        yield fh, tmp
    except BaseException:
        fh.close()
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        if not fh.closed:
            fh.close()


def state_dir() -> str:
    """The per-user private directory for files that have no checkpoint directory to live in.

    ``$XDG_STATE_HOME/dstreams``, else ``~/.local/state/dstreams``; never the shared temp directory.
    """
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "dstreams")


def check_trusted(path: str, *, what: str = "checkpoint") -> None:
    """Refuse ``path`` (a directory or file) if a user other than this one (or root) could have written it.

    Checked like ssh checks ``~/.ssh``: the owner is this user or root, and it is not writable by the
    group or others. Raises :class:`UntrustedPathError` saying what to fix.
    """
    if not hasattr(os, "getuid"):  # Windows: no owner/mode model to check
        return
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        st = os.stat(path)  # a link the application made to its own checkpoint is fine; check the target
    me = os.getuid()
    problems = []
    if st.st_uid not in (me, 0):
        problems.append(f"it is owned by uid {st.st_uid}, not by this user (uid {me})")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        who = "group and others" if st.st_mode & stat.S_IWOTH else "its group"
        problems.append(f"it is writable by {who}")
    if problems:
        raise UntrustedPathError(
            f"{what} {path}: {'; '.join(problems)}. Loading it would run code another user could have "
            f"planted. Fix it with `chown {me} {path}` and `chmod go-w {path}`, or, if you trust every "
            "user who can write it, set spark.dstreams.checkpoint.trustAnyOwner=true"
        )
