"""Bad input, table-driven, against the real Milvus server: each case fails fast with an error
that names the problem, and bad triggers never disturb a good one running on the same event loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowNotFoundException

from airflow_provider_milvus.exceptions import MilvusConfigError, MilvusError
from airflow_provider_milvus.hooks.milvus import MilvusHook
from airflow_provider_milvus.operators.milvus import MilvusBulkInsertOperator, MilvusFlushOperator
from airflow_provider_milvus.sensors.milvus import MilvusFlushStateSensor, MilvusImportStateSensor
from airflow_provider_milvus.triggers.milvus import MilvusFlushStateTrigger, MilvusImportStateTrigger
from airflow_provider_milvus.wait import deadline_after
from harness.processes import free_port

from .helpers import make_collection, unique

pytestmark = pytest.mark.timeout(120)  # none may hang


@dataclass
class World:
    """What the cases act on: a real collection, the import dir, a closed port."""

    collection: str
    import_dir: Any
    closed_port: int

    def hook(self, conn_id: str = "milvus_default") -> MilvusHook:
        return MilvusHook(conn_id)


def conn_env(monkeypatch, conn_id: str, **conn: Any) -> MilvusHook:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "milvus", **conn}))
    return MilvusHook(conn_id)


# Each case: (id, call(world, monkeypatch), exception type, regex its message must match).
CASES: list[tuple[str, Callable[[World, Any], Any], type[BaseException], str]] = [
    # --- hook arguments (checked before any RPC) ---
    ("flush-empty-list", lambda w, m: w.hook().flush([]), MilvusConfigError, r"collection_names must be .* non-empty"),
    ("flush-blank-name", lambda w, m: w.hook().flush([" "]), MilvusConfigError, r"collection_names must hold non-empty"),
    ("flush-wrong-type", lambda w, m: w.hook().flush(42), MilvusConfigError, r"collection_names must be"),
    ("flush-state-no-segments", lambda w, m: w.hook().get_flush_state([]), MilvusConfigError, r"segment_ids is empty: give segment IDs, or collection_name with flush_ts"),
    ("flush-state-no-segments-no-ts", lambda w, m: w.hook().get_flush_state([], w.collection), MilvusConfigError, r"segment_ids is empty"),
    (
        "flush-state-bad-segment",
        lambda w, m: w.hook().get_flush_state(["seg-1"]),
        MilvusConfigError,
        r"segment_ids must hold integer",
    ),
    ("import-no-files", lambda w, m: w.hook().bulk_insert(w.collection, []), MilvusConfigError, r"files must be"),
    (
        "import-two-json-files",
        lambda w, m: w.hook().bulk_insert(w.collection, ["/a.json", "/b.json"]),
        MilvusConfigError,
        r"one import takes one data file \(JSON, Parquet, CSV, ...\) or a set of .npy files",
    ),
    (
        "import-auto-commit-false",
        lambda w, m: w.hook().bulk_insert(w.collection, ["/a.json"], options={"auto_commit": "false"}),
        MilvusConfigError,
        r"options: auto_commit=false is not supported",
    ),
    ("import-state-bad-id", lambda w, m: w.hook().get_import_state("12a"), MilvusConfigError, r"import_task_id"),
    ("import-state-negative-id", lambda w, m: w.hook().get_import_state(-5), MilvusConfigError, r"import_task_id"),
    # --- things that do not exist: Milvus's own code and reason ---
    (
        "flush-unknown-collection",
        lambda w, m: w.hook().flush(unique("missing")),
        MilvusError,
        r"Milvus Flush failed \(code 100\).*collection not found",
    ),
    (
        "flush-unknown-database",
        lambda w, m: w.hook().flush(w.collection, db_name="nodb_x"),
        MilvusError,
        # Milvus 2.3 names the database in its reason rather than a separate "database not found".
        r"Milvus Flush failed \(code 100\): collection not found\[database=nodb_x\]",
    ),
    # Checked before the Import, which Milvus 2.3 takes about 55 s to refuse.
    (
        "import-unknown-collection",
        lambda w, m: w.hook().bulk_insert("no_such_collection", [str(w.import_dir / "x.json")]),
        MilvusError,
        r"Milvus Import failed \(code 100\): collection not found: 'no_such_collection' in database 'default'",
    ),
    (
        "import-unknown-partition",
        lambda w, m: w.hook().bulk_insert(w.collection, [str(w.import_dir / "x.json")], partition_name="nopart"),
        MilvusError,
        r"Milvus Import failed \(code 200\): partition not found: 'nopart' in collection 'c_\w+' of database 'default'",
    ),
    (
        "import-state-unknown-task",
        lambda w, m: w.hook().get_import_state(987654321),
        MilvusError,
        r"Milvus GetImportState failed",
    ),
    # --- connections ---
    ("conn-missing", lambda w, m: MilvusHook("no_such_conn").get_server_version(), AirflowNotFoundException, r"no_such_conn"),
    (
        "conn-empty-host",
        lambda w, m: conn_env(m, "c_empty", host="").get_server_version(),
        MilvusConfigError,
        r"host is empty",
    ),
    (
        "conn-unknown-scheme",
        lambda w, m: conn_env(m, "c_scheme", host="ftp://127.0.0.1:19530").get_server_version(),
        MilvusConfigError,
        r"unknown URI scheme 'ftp'",
    ),
    (
        "conn-port-not-a-number",
        lambda w, m: conn_env(m, "c_port", host="http://127.0.0.1:port").get_server_version(),
        MilvusConfigError,
        r"port that is not a number",
    ),
    (
        "conn-port-out-of-range",
        lambda w, m: conn_env(m, "c_range", host="127.0.0.1", port=70000).get_server_version(),
        MilvusConfigError,
        r"port must be between 1 and 65535",
    ),
    (
        "conn-missing-tls-file",
        lambda w, m: conn_env(
            m, "c_tls", host="https://127.0.0.1:19530", extra={"ca_pem_path": "/nonexistent/ca.pem"}
        ).get_server_version(),
        MilvusConfigError,
        r"ca_pem_path '/nonexistent/ca.pem' is not a readable file",
    ),
    (
        "conn-half-client-pair",
        lambda w, m: conn_env(
            m, "c_mtls", host="https://127.0.0.1:19530", extra={"client_pem_path": __file__}
        ).get_server_version(),
        MilvusConfigError,
        r"mutual TLS needs both client_pem_path and client_key_path",
    ),
    (
        "conn-timeout-not-a-number",
        lambda w, m: conn_env(m, "c_timeout", host="127.0.0.1", extra={"timeout": "soon"}).get_server_version(),
        MilvusConfigError,
        r"timeout must be a number",
    ),
    (
        "conn-bad-ipv6-host",
        lambda w, m: conn_env(m, "c_ipv6", host="::1::zz").get_server_version(),
        MilvusConfigError,
        r"host '::1::zz' is not a valid hostname or IPv6 address \(write IPv6 as \[::1\]\)",
    ),
    (
        "conn-unbalanced-ipv6-uri",
        lambda w, m: conn_env(m, "c_ipv6_uri", host="http://[::1:19530").get_server_version(),
        MilvusConfigError,
        r"host 'http://\[::1:19530' is not a valid URI",
    ),
    (
        "conn-unreachable-host",
        lambda w, m: conn_env(m, "c_closed", host=f"127.0.0.1:{w.closed_port}").get_server_version(timeout=5),
        MilvusError,
        r"cannot reach Milvus at 127\.0\.0\.1:\d+",
    ),
    (
        # Through pymilvus's MilvusClient (collections, rows): the provider's error, naming the connection.
        "conn-unreachable-client",
        lambda w, m: conn_env(m, "c_closed_client", host=f"127.0.0.1:{w.closed_port}", extra={"timeout": 3}).describe_collection_schema("c"),
        MilvusError,
        r"Milvus connect failed \(code \d+\): cannot connect to Milvus at 127\.0\.0\.1:\d+ \(connection 'c_closed_client'\)",
    ),
    (
        # A typo in the port: the flush is resent while it looks like an outage, then fails naming
        # the connection, host and port (a connection that answered once rides outages out).
        "op-flush-never-answered",
        lambda w, m: (
            conn_env(m, "c_closed_flush", host=f"127.0.0.1:{w.closed_port}"),
            MilvusFlushOperator(task_id="t", collection_names="c", milvus_conn_id="c_closed_flush").execute({}),
        ),
        MilvusError,
        r"Milvus connection 'c_closed_flush' \(host 127\.0\.0\.1, port \d+\) has not answered in \d+s; check the host and port",
    ),
    # --- operators and sensors (checked when the task is built or run, before any RPC) ---
    ("op-zero-interval", lambda w, m: MilvusFlushOperator(task_id="t", collection_names="c", poll_interval=0), MilvusConfigError, r"poll_interval must be a positive"),
    ("op-negative-timeout", lambda w, m: MilvusFlushOperator(task_id="t", collection_names="c", wait_timeout=-1), MilvusConfigError, r"wait_timeout must be a positive"),
    (
        "op-flush-empty-rendered",
        lambda w, m: MilvusFlushOperator(task_id="t", collection_names=[]).execute({}),
        MilvusConfigError,
        r"collection_names must be",
    ),
    (
        "op-import-options-not-dict",
        lambda w, m: MilvusBulkInsertOperator(
            task_id="t", collection_name=w.collection, files=["/a.json"], options="x"
        ).execute({}),
        MilvusConfigError,
        r"options must be a dict",
    ),
    (
        "sensor-import-bad-id",
        lambda w, m: MilvusImportStateSensor(task_id="t", import_task_id="abc").poke({}),
        MilvusConfigError,
        r"import_task_id must be an integer",
    ),
    (
        "sensor-flush-nothing-to-wait-on",
        lambda w, m: MilvusFlushStateSensor(task_id="t").poke({}),
        MilvusConfigError,
        r"segment_ids",
    ),
    (
        "sensor-flush-unknown-collection",
        lambda w, m: MilvusFlushStateSensor(task_id="t", collection_name=unique("gone"), segment_ids=[1]).poke({}),
        MilvusError,
        r"collection not found",
    ),
    # --- triggers given garbage kwargs (as a corrupted row would rebuild them) ---
    ("trigger-no-collections", lambda w, m: MilvusFlushStateTrigger(collections=[]), MilvusConfigError, r"collections must be a non-empty list"),
    ("trigger-entry-not-dict", lambda w, m: MilvusFlushStateTrigger(collections=["c"]), MilvusConfigError, r"collections entries need segment_ids"),
    ("trigger-bad-import-id", lambda w, m: MilvusImportStateTrigger(import_task_id={"id": 1}), MilvusConfigError, r"import_task_id must be an integer"),
    ("trigger-bad-deadline", lambda w, m: MilvusImportStateTrigger(import_task_id=1, deadline="tomorrow"), MilvusConfigError, r"deadline must be an ISO 8601"),
    ("trigger-zero-interval", lambda w, m: MilvusImportStateTrigger(import_task_id=1, poll_interval=0), MilvusConfigError, r"poll_interval must be a positive"),
    ("trigger-no-conn-id", lambda w, m: MilvusImportStateTrigger(import_task_id=1, milvus_conn_id=None), MilvusConfigError, r"milvus_conn_id must be a connection ID"),
]  # fmt: skip


@pytest.fixture(scope="module")
def world(milvus_server) -> World:
    from pymilvus import MilvusClient

    client = MilvusClient(uri=milvus_server["uri"])
    name = make_collection(client, rows=10)
    client.close()
    return World(collection=name, import_dir=milvus_server["import_dir"], closed_port=free_port())


def test_there_are_at_least_25_cases():
    assert len(CASES) >= 25
    assert len({case[0] for case in CASES}) == len(CASES)


# Answers only Milvus 2.2/2.3 give: 2.4+ names a missing database "database not found" (code 800)
# and reports an unknown import job as failed, "import job does not exist".
LEGACY_ONLY = {"flush-unknown-database", "import-state-unknown-task"}


@pytest.mark.parametrize(("call", "error", "pattern"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_bad_input_fails_with_a_clear_error(
    world, milvus_uri, monkeypatch, call, error, pattern, request, legacy_milvus
):
    if request.node.callspec.id in LEGACY_ONLY and not legacy_milvus:
        legacy_milvus.note(f"the error pattern {pattern!r}")
        return
    with pytest.raises(error, match=pattern):
        call(world, monkeypatch)


def test_bad_triggers_do_not_disturb_a_good_one_on_the_same_loop(world, milvus_uri, milvus_client, monkeypatch):
    """What a triggerer does: run many triggers on one loop. The bad ones end in error events."""
    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_CLOSED", f"milvus://127.0.0.1:{world.closed_port}")
    good_collection = make_collection(milvus_client, rows=50)
    flushed = MilvusHook().flush(good_collection)["collections"][good_collection]
    soon = deadline_after(4).isoformat()
    later = deadline_after(90).isoformat()
    good = MilvusFlushStateTrigger(
        collections=[{"collection_name": good_collection, **flushed}], poll_interval=0.5, deadline=later
    )
    bad = {
        "unknown-collection": MilvusFlushStateTrigger(
            collections=[{"collection_name": unique("gone"), "segment_ids": [1], "flush_ts": None}],
            poll_interval=0.5,
            deadline=later,
        ),
        "unknown-import": MilvusImportStateTrigger(import_task_id=987654321, poll_interval=0.5, deadline=later),
        "unreachable": MilvusImportStateTrigger(
            import_task_id=1, milvus_conn_id="milvus_closed", poll_interval=0.5, deadline=soon, rpc_timeout=1
        ),
        "missing-connection": MilvusImportStateTrigger(
            import_task_id=1, milvus_conn_id="no_such_conn", poll_interval=0.5, deadline=later
        ),
    }

    async def first_event(trigger):
        try:
            return (await anext(trigger.run())).payload
        except Exception as err:  # a trigger that raises: Airflow fails that one trigger only
            return {"status": "raised", "message": f"{type(err).__name__}: {err}"}

    async def run_all():
        return await asyncio.gather(first_event(good), *(first_event(t) for t in bad.values()))

    good_event, *bad_events = asyncio.run(run_all())
    assert good_event["status"] == "success", good_event
    results = dict(zip(bad, bad_events, strict=True))
    assert results["unknown-collection"]["status"] == "error"
    assert "collection not found" in results["unknown-collection"]["message"]
    assert results["unknown-import"]["status"] == "error"
    assert results["unreachable"]["status"] == "timeout"
    assert "import task 1" in results["unreachable"]["message"]
    assert results["missing-connection"]["status"] in ("error", "raised")
    assert "no_such_conn" in results["missing-connection"]["message"]
