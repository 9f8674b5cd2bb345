"""Test setup: a private Airflow home, and the real Milvus server the integration tests use.

Integration tests run against the Milvus standalone server of the ``milvus`` package, started
here on a free port in a temporary data dir, or against ``MILVUS_URI`` when that is set. If the
server cannot start, those tests error: they are never skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

# Airflow reads its configuration at import: point it at a private home before anything imports it.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="airflow-home-"))
TESTS_DIR = Path(__file__).parent
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # dag.test() wants the DAG file inside the dags folder; the tests build their DAGs here.
        "AIRFLOW__CORE__DAGS_FOLDER": str(TESTS_DIR / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        # dag.test() runs every task in this process; Airflow 2 still checks that its default
        # executor could share the SQLite database (Airflow's own tests skip that check the same way).
        "_AIRFLOW__SKIP_DATABASE_EXECUTOR_COMPATIBILITY_CHECK": "1",
    }
)

import pytest  # noqa: E402

from harness.milvus import EmbeddedMilvus  # noqa: E402
from harness.processes import port_open  # noqa: E402


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory):
    """The URI of a running Milvus, and the directory it can import files from."""
    external = os.environ.get("MILVUS_URI")
    if external:
        import_dir = os.environ.get("MILVUS_IMPORT_DIR")
        if not import_dir:
            raise RuntimeError(
                "MILVUS_URI is set but MILVUS_IMPORT_DIR is not: name a directory the server reads import "
                "files from (a local path it shares with this machine)"
            )
        yield {"uri": external, "import_dir": Path(import_dir), "server": None}
        return
    server = EmbeddedMilvus(tmp_path_factory.mktemp("milvus-data"))
    server.start()
    _SHARED_SERVERS.append(server)
    try:
        import_dir = server.data_dir / "imports"
        import_dir.mkdir(exist_ok=True)
        yield {"uri": server.uri, "import_dir": import_dir, "server": server}
    finally:
        _SHARED_SERVERS.remove(server)
        server.stop()


@pytest.fixture(scope="session")
def s3_milvus(tmp_path_factory):
    """A Milvus whose storage is an S3 bucket, as production Milvus runs with MinIO or S3: moto's S3
    server and the Milvus server on loopback ports of their own, Milvus's data under ``files/`` in
    the bucket. Yields ``{"uri", "server", "s3"}``; both servers stop with the session."""
    from harness.s3 import S3Server

    root = tmp_path_factory.mktemp("s3-milvus")
    s3 = S3Server(root / "s3").start()
    server = EmbeddedMilvus(root / "milvus", server_args=s3.milvus_args(root_path="files"))
    try:
        server.start()
        _SHARED_SERVERS.append(server)
        yield {"uri": server.uri, "server": server, "s3": s3}
    finally:
        if server in _SHARED_SERVERS:
            _SHARED_SERVERS.remove(server)
        server.stop()
        s3.stop()


# A server that dies mid-run fails every later test with "connection refused"; say once, at the end
# of the run (where a CI log's tail shows it), after which test it was found gone, and why.
_SHARED_SERVERS: list[EmbeddedMilvus] = []
_SERVER_EXITS: list[str] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item):
    yield
    for server in _SHARED_SERVERS:
        if _SERVER_EXITS or server.process is None:
            continue
        code = server.process.poll()
        if code is not None or not port_open(server.port):
            _SERVER_EXITS.append(
                f"The Milvus server the tests share is gone (wrapper exit code {code}); found after {item.nodeid}.\n"
                f"{server.log_tail(60)}"
            )


@pytest.fixture
def milvus_uri(milvus_server, monkeypatch) -> str:
    """The server's URI, also set as the ``milvus_default`` connection."""
    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_DEFAULT", milvus_server["uri"].replace("http://", "milvus://", 1))
    return milvus_server["uri"]


@pytest.fixture
def import_dir(milvus_server) -> Path:
    return milvus_server["import_dir"]


@pytest.fixture
def milvus_client(milvus_uri):
    from pymilvus import MilvusClient

    client = MilvusClient(uri=milvus_uri)
    yield client
    client.close()


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata database, migrated once (dag.test() needs it)."""
    subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return _AIRFLOW_HOME


# --- Milvus versions -------------------------------------------------------------------------------
# The suite also runs against someone's Milvus (MILVUS_URI). A check of behaviour only Milvus 2.2/2.3
# have (the import task framework they share: task IDs in states, files in task listings) runs only
# there; elsewhere the test says what it did not check, in the summary at the end of the run.
_UNCHECKED: list[str] = []


@pytest.fixture(scope="session")
def milvus_version(milvus_server) -> tuple[int, int]:
    """(major, minor) of the server the integration tests use, from GetVersion."""
    import grpc
    from pymilvus.grpc_gen import milvus_pb2, milvus_pb2_grpc

    address = milvus_server["uri"].split("://", 1)[1]
    with grpc.insecure_channel(address) as channel:
        version = milvus_pb2_grpc.MilvusServiceStub(channel).GetVersion(milvus_pb2.GetVersionRequest(), timeout=10)
    major, minor = version.version.lstrip("v").split(".")[:2]
    return int(major), int(minor)


@pytest.fixture
def legacy_milvus(milvus_version, request):
    """Whether the server is Milvus 2.2/2.3 (the import task framework, answers named as 2.3 names them).

    Call ``legacy_milvus.note(what)`` for a check skipped on a newer server.
    """

    class Legacy:
        def __bool__(self) -> bool:
            return milvus_version < (2, 4)

        def note(self, what: str) -> None:
            _UNCHECKED.append(
                f"{request.node.nodeid}: on Milvus {milvus_version[0]}.{milvus_version[1]}, not checked: {what}"
            )

    return Legacy()


def pytest_terminal_summary(terminalreporter):
    for text in _SERVER_EXITS:
        terminalreporter.section("the shared Milvus server exited mid-run")
        terminalreporter.write_line(text)
    if _UNCHECKED:
        terminalreporter.section("checks of Milvus 2.2/2.3-only behaviour not made on this server")
        for line in _UNCHECKED:
            terminalreporter.write_line(line)
