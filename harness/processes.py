"""Processes and ports: the one way this harness waits for something, stops a process group,
finds processes, and picks free ports."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The `airflow` of this interpreter's environment (the project's virtualenv).
AIRFLOW = str(Path(sys.executable).parent / "airflow")

# Ports the milvus package starts its search for each internal port from; never handed out.
_MILVUS_DEFAULT_PORTS = frozenset({2379, 2380, 13333, 19529, 19530, 19531, 21121, 21122, 21123, 21124, 22930})


def wait_until(what: str, check: Callable[[], Any], timeout: float, interval: float = 1.0) -> Any:
    """Call ``check`` until it returns something true, and return that; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def start_group(args: list[str], log_path: Path, env: dict[str, str]) -> subprocess.Popen:
    """Start a command in a process group of its own (so that :func:`stop_group` ends everything it
    starts), its output appended to ``log_path``."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )


def stop_group(process: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM the process group ``process`` leads (started with ``start_new_session``), SIGKILL it
    if it lingers, and reap the leader."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            process.poll()  # reap the leader so the group can empty
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            continue
        break
    process.wait(timeout=10)


def cmdline(pid: int) -> bytes:
    """A process's command line (NUL-separated), or nothing if it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``, from /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    below: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - below
        below |= frontier
    return below


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = (int(v) for v in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return low, high


def free_port() -> int:
    """A port free on every interface, below the kernel's ephemeral range, and claimed for this process.

    A server is told its port some seconds before it binds it; a port from the ephemeral range can
    be taken meanwhile by any outgoing connection's local end. Below that range only listeners
    compete, and the claim keeps other harness processes on this machine (sessions side by side)
    from being handed the port while this one lives: a server restarted on its ports (a fault test's
    Milvus) finds them free again.
    """
    low, _ = _ephemeral_range()
    if low > 12000:
        for _ in range(400):
            port = random.randint(10000, low - 1)
            if port not in _MILVUS_DEFAULT_PORTS and bindable(port, "0.0.0.0") and bindable(port) and _claim(port):
                return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Ports handed out by free_port, a file each naming the process they are claimed for.
_CLAIMS = Path(tempfile.gettempdir()) / "harness-port-claims"


def _claim(port: int) -> bool:
    """Claim ``port`` for this process, unless a live process holds it (a dead one's claim is void)."""
    _CLAIMS.mkdir(exist_ok=True)
    path = _CLAIMS / str(port)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                owner = int(path.read_text())
            except (OSError, ValueError):
                return False  # being written (or unreadable): leave it
            if owner == os.getpid() or _alive(owner):
                return False
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as claim:
            claim.write(str(os.getpid()))
        return True
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def bindable(port: int, host: str = "127.0.0.1", reuse_address: bool = False) -> bool:
    """Whether a listening socket could bind the port: without SO_REUSEADDR, as Python servers do by
    default, none is left on it, not even a closed connection in TIME_WAIT; with it (as Go's servers
    bind), no other listener holds it."""
    with socket.socket() as sock:
        if reuse_address:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen()
        except OSError:
            return False
        return True


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0
