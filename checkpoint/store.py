"""Where checkpoints live: a local directory or any ``pyarrow.fs`` URI, written without overwriting.

Two ways to write a file, and the rules that make a crash at any moment harmless:

* :meth:`CheckpointDir.write_file` for data files: every name is unique (a UUID in it), so a live
  file is never overwritten; a file cut short by a crash is simply never referenced.
* :meth:`CheckpointDir.publish` for manifests, written last: on local disk the bytes go to a
  temporary file in the same directory, are fsynced and renamed into place (then the directory is
  fsynced), so a reader sees the whole manifest or none. Object stores (``s3://``, ``gs://``...)
  have no atomic rename: there the manifest name is unique and written once, and a reader that
  finds it truncated (it does not parse, or its checksum fails) skips it.

Local paths use ``os`` directly (fsync is not available through ``pyarrow.fs``); anything with a
scheme goes through ``pyarrow.fs.FileSystem.from_uri``.

>>> d = CheckpointDir("/tmp/app-checkpoint")
>>> d.ensure_writable()
>>> d.write_file("state/a-1f2e.parquet", b"...")
"""

from __future__ import annotations

import contextlib
import os
import uuid
from typing import Any

import pyarrow.fs as pafs

from dstreams.privatefiles import make_private_dirs, open_private, private_temp

from .errors import CheckpointError, CheckpointUnwritableError


class CheckpointDir:
    """One checkpoint directory; every path argument is relative to it, ``/``-separated."""

    def __init__(self, location: str, filesystem: pafs.FileSystem | None = None):
        self.location = str(location)
        if filesystem is not None:  # an explicit pyarrow filesystem (tests: the mock filesystem)
            self._fs: pafs.FileSystem | None = filesystem
            self._root = self.location.rstrip("/")
        elif "://" in self.location and not self.location.startswith("file://"):
            try:
                self._fs, self._root = pafs.FileSystem.from_uri(self.location)
            except Exception as error:
                raise CheckpointUnwritableError(
                    f"checkpoint directory {self.location!r}: pyarrow.fs cannot open it: {error}"
                ) from error
            self._root = self._root.rstrip("/")
        else:
            path = self.location[len("file://") :] if self.location.startswith("file://") else self.location
            self._fs = None
            self._root = os.path.abspath(os.path.expanduser(path))

        self._made: set[str] = set()  # parent directories already created (pyarrow filesystems)

    @property
    def is_local(self) -> bool:
        """True on local disk, where files can be appended to, fsynced and renamed atomically."""
        return self._fs is None

    def path(self, rel: str) -> str:
        """The full path of ``rel`` (a local path, or a path inside the pyarrow filesystem)."""
        if not rel:
            return self._root
        if self._fs is None:
            return os.path.join(self._root, *rel.split("/"))
        return f"{self._root}/{rel}"

    def __repr__(self) -> str:
        return f"CheckpointDir({self.location!r})"

    # -- checks ----------------------------------------------------------------------------------
    def ensure_writable(self) -> None:
        """Create the directory and write, read and delete a probe file; a clear error otherwise."""
        probe = f".probe-{uuid.uuid4().hex[:12]}"
        try:
            self.makedirs("")
            self.write_file(probe, b"dstreams", sync=False)
            if self.read_bytes(probe) != b"dstreams":
                raise OSError("a probe file read back different bytes")
            self.delete(probe)
        except (OSError, CheckpointError) as error:
            raise CheckpointUnwritableError(
                f"checkpoint directory {self.location!r} is not writable: {error}. Give the process write "
                "access, or pass another directory to ssc.checkpoint(...) / getOrCreate(...)"
            ) from error

    # -- writing ---------------------------------------------------------------------------------
    def makedirs(self, rel: str) -> None:
        """Create a directory of the checkpoint (local: mode 0700, as every file in it is private)."""
        if self._fs is None:
            make_private_dirs(self.path(rel))
        else:
            self._fs.create_dir(self.path(rel), recursive=True)

    def write_file(self, rel: str, data: bytes | memoryview, *, sync: bool = True) -> int:
        """Write a new file (a unique name: never an existing one); returns its size in bytes."""
        with self._naming_failures(rel):
            return self._write_file(rel, data, sync=sync)

    @contextlib.contextmanager
    def _naming_failures(self, rel: str):
        # "No space left on device" alone does not say which disk: name the file and what to do.
        try:
            yield
        except OSError as error:
            raise CheckpointError(
                f"cannot write {self.path(rel)} in checkpoint directory {self.location}: "
                f"{error.strerror or error}. Free space on that disk or fix its permissions; the "
                "previous checkpoint stays valid"
            ) from error

    def _write_file(self, rel: str, data: bytes | memoryview, *, sync: bool) -> int:
        full = self.path(rel)
        if self._fs is None:
            parent = os.path.dirname(full)
            make_private_dirs(parent)
            # exclusive: an existing file is a bug (or a planted link), never overwritten
            with open_private(full, exclusive=True) as fh:
                fh.write(data)
                if sync:
                    fh.flush()
                    os.fsync(fh.fileno())
            if sync:
                fsync_dir(parent)
        else:
            self._remote_parent(rel)
            with self._fs.open_output_stream(full) as out:
                out.write(data)
        return len(data)

    def publish(self, rel: str, data: bytes) -> None:
        """Write a small file so that readers see all of it or nothing (see the module docstring)."""
        with self._naming_failures(rel):
            self._publish(rel, data)

    def _publish(self, rel: str, data: bytes) -> None:
        full = self.path(rel)
        if self._fs is None:
            parent, name = os.path.split(full)
            make_private_dirs(parent)
            with private_temp(parent, name) as (fh, tmp):
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
                fh.close()
                os.replace(tmp, full)
            fsync_dir(parent)
        else:
            if self.size(rel) is not None:
                raise CheckpointError(f"{self.location}: {rel} already exists; manifests are written once")
            self._remote_parent(rel)
            with self._fs.open_output_stream(full) as out:
                out.write(data)

    def _remote_parent(self, rel: str) -> None:
        # Some filesystems (local-like ones, the mock) need the parent; object stores do not care.
        parent = rel.rpartition("/")[0]
        if parent not in self._made:
            assert self._fs is not None
            self._fs.create_dir(self.path(parent), recursive=True)
            self._made.add(parent)

    # -- reading ---------------------------------------------------------------------------------
    def read_bytes(self, rel: str) -> bytes:
        full = self.path(rel)
        if self._fs is None:
            with open(full, "rb") as fh:
                return fh.read()
        with self._fs.open_input_stream(full) as stream:
            return stream.read()

    def size(self, rel: str) -> int | None:
        """The file's size, or None when it does not exist."""
        full = self.path(rel)
        if self._fs is None:
            try:
                return os.stat(full).st_size
            except FileNotFoundError:
                return None
        info = self._fs.get_file_info(full)
        return info.size if info.type == pafs.FileType.File else None

    def listdir(self, rel: str) -> list[str]:
        """Names directly in ``rel`` (files and directories), sorted; [] when it does not exist."""
        full = self.path(rel)
        if self._fs is None:
            try:
                return sorted(os.listdir(full))
            except (FileNotFoundError, NotADirectoryError):
                return []
        infos = self._fs.get_file_info(pafs.FileSelector(full, allow_not_found=True))
        return sorted(info.base_name for info in infos)

    # -- deleting --------------------------------------------------------------------------------
    def delete(self, rel: str) -> None:
        """Delete a file (missing is fine)."""
        full = self.path(rel)
        try:
            if self._fs is None:
                os.unlink(full)
            else:
                self._fs.delete_file(full)
        except FileNotFoundError:
            pass

    def delete_tree(self, rel: str) -> None:
        """Delete a directory and everything in it (missing is fine)."""
        full = self.path(rel)
        if self._fs is None:
            import shutil

            shutil.rmtree(full, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError, OSError):
                self._fs.delete_dir(full)


def fsync_dir(path: str) -> None:
    """Make a rename or a new name in ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def resolve(location: Any) -> CheckpointDir:
    """A :class:`CheckpointDir` for a path, URI or an existing CheckpointDir."""
    if isinstance(location, CheckpointDir):
        return location
    return CheckpointDir(os.fspath(location))
