"""Servers for the source tests: librdkafka's in-process Kafka mock cluster and a real redis-server.

Import the fixtures into a test module (``from _servers import kafka_bootstrap``). Both skip the
test, saying why, when their dependency is missing.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """``bootstrap.servers`` of a 3-broker mock cluster (real Kafka protocol on 127.0.0.1 ports).

    The cluster lives inside the producer that asks for it, so it is kept for the whole session
    and closed last. Topics are created on first use with 4 partitions; ``create_topics`` does not
    work against it (see ``shared/notes/libraries.md`` B.4).
    """
    kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka not installed (dstreams[kafka])")
    holder = kafka.Producer({"test.mock.num.brokers": 3, "log_level": 3})
    metadata = holder.list_topics(timeout=10)
    yield ",".join(f"{b.host}:{b.port}" for b in metadata.brokers.values())
    holder.flush(5)
    del holder


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A ``redis-server`` on 127.0.0.1 with a temporary directory and no snapshots.

    ``stop()`` and ``start()`` again (same port) simulate a server that goes away and comes back;
    its data survives only with ``persistent=True`` (append-only file, fsync'd at every write).
    """

    def __init__(self, persistent: bool = False) -> None:
        self.persistent = persistent
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="dstreams-redis-")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        aof = (
            ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        )
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *aof]
        args += ["--dir", self.dir, "--daemonize", "no", "--loglevel", "warning"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited with code {self.process.returncode} on port {self.port}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not answer on port {self.port} within 10 s")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """A redis-server for the module's tests (tests use their own stream names)."""
    pytest.importorskip("redis", reason="the redis client is not installed (dstreams[redis])")
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not found: `make test` installs it (apt-get install redis-server)")
    server = RedisServer()
    server.start()
    yield server
    server.close()


@pytest.fixture
def own_redis_server() -> Iterator[RedisServer]:
    """A redis-server for one test, which may stop and restart it (its data survives that)."""
    pytest.importorskip("redis", reason="the redis client is not installed (dstreams[redis])")
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not found: `make test` installs it (apt-get install redis-server)")
    server = RedisServer(persistent=True)
    server.start()
    yield server
    server.close()
