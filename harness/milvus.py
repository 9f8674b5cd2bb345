"""A real Milvus standalone server on this machine, for the tests, the demo and the benchmarks.

Runs the server shipped by the ``milvus`` PyPI package (Linux x86_64; install the provider's
``test`` extra) on a free loopback port with its data in a directory of your choosing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
from pymilvus.grpc_gen import milvus_pb2, milvus_pb2_grpc

from harness.processes import bindable, free_port, port_open, start_group, stop_group

# The standalone server's components, each registering the address the others dial it on.
_COMPONENTS = ("ROOTCOORD", "PROXY", "QUERYCOORD", "QUERYNODE", "INDEXCOORD", "INDEXNODE", "DATACOORD", "DATANODE")
# The milvus package's flags for the ports those components listen on (the proxy's own is --proxy-port).
_COMPONENT_PORT_FLAGS = (
    "--root-coord-port",
    "--proxy-internal-port",
    "--query-coord-port",
    "--query-node-port",
    "--index-coord-port",
    "--index-node-port",
    "--data-coord-port",
    "--data-node-port",
)

# The milvus package's `milvus-server`, its port checks binding as the server it starts does (Go's
# listeners set SO_REUSEADDR). Its own plain bind fails for a minute after a restart, while the
# stopped server's closed connections sit in TIME_WAIT on its ports, and the package then fails
# ("bind failed") or moves the server to other ports.
_SERVER_MAIN = """
import socket
import milvus

def try_bind_port(self, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        return sock
    except OSError:
        sock.close()
        return None

milvus.MilvusServerConfig.try_bind_port = try_bind_port
milvus.main()
"""


class EmbeddedMilvus:
    """Starts and stops one Milvus standalone server process (and its child) by process group.

    :param data_dir: Where the server keeps its data, logs and config. Reusing it after a stop
        restarts the server on the same data.
    :param port: gRPC port on 127.0.0.1; a free one by default.
    :param server_args: Further ``milvus-server`` flags, e.g. ``["--authorization-enabled", "true"]``.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike,
        port: int | None = None,
        server_args: list[str] | None = None,
        startup_timeout: float = 180.0,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.port = port or free_port()
        self.server_args = list(server_args or [])
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "milvus-server.log"

    def _executable(self) -> list[str]:
        return [sys.executable, "-c", _SERVER_MAIN]

    @property
    def etcd_config_path(self) -> Path:
        return self.data_dir / "embedded-etcd.yaml"

    def _etcd_ports(self) -> tuple[int, int]:
        """The embedded etcd's client and peer ports: chosen once per data dir, kept across restarts.

        Left to the milvus package, the peer port is always 2380, so two servers on one machine
        would collide; an etcd config file (ETCD_CONFIG_PATH) moves both ports.
        """
        path = self.etcd_config_path
        if path.exists():
            urls = dict(line.split(": ", 1) for line in path.read_text().splitlines() if ": " in line)
            return int(urls["listen-client-urls"].rsplit(":", 1)[1]), int(urls["listen-peer-urls"].rsplit(":", 1)[1])
        client, peer = free_port(), free_port()
        path.write_text(
            f"name: default\n"
            f"listen-client-urls: http://127.0.0.1:{client}\n"
            f"advertise-client-urls: http://127.0.0.1:{client}\n"
            f"listen-peer-urls: http://127.0.0.1:{peer}\n"
            f"initial-advertise-peer-urls: http://127.0.0.1:{peer}\n"
            f"initial-cluster: default=http://127.0.0.1:{peer}\n"
        )
        return client, peer

    def _component_ports(self) -> dict[str, int]:
        """The components' ports (root coordinator, query node, ...): chosen once per data dir, kept
        across restarts, each a ``milvus-server`` flag.

        Left to the milvus package, each is its default (53100, 19531, ...) or the next free one when
        the server starts: a server restarted while another session's Milvus started on this machine
        finds its old ports taken and moves, and the first ones sit inside the ephemeral range, where
        a client connection's local end can take one between the package's check and the bind.
        """
        path = self.data_dir / "embedded-ports.json"
        if path.exists():
            return json.loads(path.read_text())
        ports = {flag: free_port() for flag in _COMPONENT_PORT_FLAGS}
        path.write_text(json.dumps(ports))
        return ports

    def _server_env(self) -> dict[str, str]:
        # Milvus components register the machine's first non-loopback address and dial each other
        # there; pinned to loopback, the server's traffic stays on 127.0.0.1 (and survives a change
        # of the machine's address). Milvus reads <COMPONENT>_IP as <component>.ip.
        env = {f"{component}_IP": "127.0.0.1" for component in _COMPONENTS}
        env["ETCD_CONFIG_PATH"] = str(self.etcd_config_path)
        return env

    def _config_ports(self) -> list[int]:
        """The ports of the config the last start on this data dir wrote (none before a first start)."""
        try:
            text = (self.data_dir / "configs" / "milvus.yaml").read_text()
        except OSError:
            return []
        return [int(m) for m in re.findall(r"^\s+(?:port|internalPort): (\d+)\s*$", text, re.MULTILINE)]

    def _wait_bindable(self, ports: list[int], timeout: float = 30.0) -> None:
        """Wait for a stopped server's listeners to close: the milvus package moves to the next port
        when a bind fails, and a server on another port than before is not the one clients
        reconnect to."""
        deadline = time.monotonic() + timeout
        for port in ports:
            while not bindable(port, reuse_address=True):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Cannot start Milvus: port {port} on 127.0.0.1 stays in use")
                time.sleep(1)

    def start(self) -> EmbeddedMilvus:
        # One start at a time on this machine: the milvus package picks the port of its health and
        # metrics server as "the next free one" from 9091 when it starts, so two servers starting
        # together can pick the same port and one of them fails to bind it. Once a server is up, its
        # port is taken and the next start picks another.
        with _machine_lock("embedded-milvus-start"):
            return self._start()

    def _start(self) -> EmbeddedMilvus:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        etcd_client, etcd_peer = self._etcd_ports()
        for port, what in (
            (self.port, "the gRPC port asked for"),
            (etcd_client, "its embedded etcd's client port"),
            (etcd_peer, "its embedded etcd's peer port"),
        ):
            if port_open(port):
                raise RuntimeError(
                    f"Cannot start Milvus: port {port} on 127.0.0.1 ({what}) is already in use; "
                    f"is a Milvus server already running on {self.data_dir}?"
                )
        component_ports = self._component_ports()
        self._wait_bindable([self.port, *component_ports.values()])
        # Its own process group: the wrapper starts a `milvus` child that must stop with it.
        self.process = start_group(
            [
                *self._executable(),
                "--data",
                str(self.data_dir),
                "--proxy-port",
                str(self.port),
                "--etcd-port",
                str(etcd_client),
                *(arg for flag, port in component_ports.items() for arg in (flag, str(port))),
                *self.server_args,
            ],
            self.log_path,
            {**os.environ, **self._server_env()},
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        started = time.time() - 1
        try:
            log_offset = (self.data_dir / "logs" / "milvus-stdout.log").stat().st_size
        except OSError:
            log_offset = 0
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"Milvus exited during startup; last log lines:\n{self.log_tail()}")
            if port_open(self.port) and self._healthy(log_offset):
                return
            config = self.data_dir / "configs" / "milvus.yaml"
            if config.exists() and config.stat().st_mtime >= started and self.port not in self._config_ports():
                raise RuntimeError(f"Milvus did not get port {self.port} (the milvus package moved to another)")
            time.sleep(0.5)
        raise RuntimeError(f"Milvus did not become healthy in {self.startup_timeout:.0f}s:\n{self.log_tail()}")

    def _tls(self) -> bool:
        args = self.server_args
        return "--tls-mode" in args and args[args.index("--tls-mode") + 1] not in ("0", "")

    def _healthy(self, log_offset: int) -> bool:
        if self._tls():
            # A TLS server refuses a plaintext probe (and a mutual-TLS one any probe without a
            # client certificate): rely on the proxy's own "started" line, written after it has
            # waited for every coordinator to be healthy.
            try:
                with open(self.data_dir / "logs" / "milvus-stdout.log", "rb") as log:
                    log.seek(log_offset)
                    return b"start Proxy server done" in log.read()
            except OSError:
                return False
        with grpc.insecure_channel(f"127.0.0.1:{self.port}") as channel:
            try:
                reply = milvus_pb2_grpc.MilvusServiceStub(channel).CheckHealth(
                    milvus_pb2.CheckHealthRequest(), timeout=2
                )
            except grpc.RpcError as err:
                # Authentication on: the server answers, it only refuses the anonymous probe.
                return err.code() == grpc.StatusCode.UNAUTHENTICATED
            return reply.isHealthy or reply.status.code in (1800, 1400)

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is not None:
            stop_group(self.process, timeout)
            self.process = None

    def log_tail(self, lines: int = 20) -> str:
        tails = []
        for path in (
            self.log_path,
            self.data_dir / "logs" / "milvus-stdout.log",
            self.data_dir / "logs" / "milvus-stderr.log",
        ):
            try:
                tail = path.read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                continue
            tails.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(tails) or "(no log)"

    def __enter__(self) -> EmbeddedMilvus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def tso(unix_seconds: float) -> int:
    """A Milvus hybrid timestamp: physical milliseconds shifted past 18 logical bits."""
    return int(unix_seconds * 1000) << 18


@contextlib.contextmanager
def _machine_lock(name: str) -> Iterator[None]:
    """An exclusive lock shared by every process on this machine (a locked file in the temp dir)."""
    with open(Path(tempfile.gettempdir()) / f"{name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
