"""Milvus goes away mid-wait: triggers on one event loop (as in the triggerer) ride out a real stop
and restart of the server on the same data dir, and a wait whose deadline passes during the outage
ends with a clear timeout; an import Milvus fails across its restart is imported anew by the task's
retry. Uses a server of its own, so the session's server stays up.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from structlog.testing import capture_logs

from airflow_provider_milvus.exceptions import MilvusImportInterrupted
from airflow_provider_milvus.hooks.milvus import MilvusHook
from airflow_provider_milvus.operators.milvus import MilvusBulkInsertOperator
from airflow_provider_milvus.triggers.milvus import MilvusFlushStateTrigger, MilvusImportStateTrigger
from airflow_provider_milvus.utils.import_resume import IMPORT_STORE_KEY
from airflow_provider_milvus.wait import deadline_after
from harness.milvus import EmbeddedMilvus
from harness.processes import wait_until
from tests.log_capture import log_messages
from tests.task_context import TaskStore, context

from .helpers import make_collection, vectors, write_json

OUTAGE_SECONDS = 20


@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    with EmbeddedMilvus(tmp_path_factory.mktemp("milvus-outage")) as server:
        yield server


@pytest.mark.timeout(600)
def test_waits_ride_out_a_milvus_restart_and_a_passed_deadline_times_out(own_server, monkeypatch):
    from pymilvus import MilvusClient

    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_OUTAGE", own_server.uri.replace("http://", "milvus://", 1))
    hook = MilvusHook("milvus_outage")
    client = MilvusClient(uri=own_server.uri)
    name = make_collection(client, rows=200)
    client.close()
    flushed = hook.flush(name)["collections"][name]
    wait_until(
        "flush persisted", lambda: hook.get_flush_state(flushed["segment_ids"], name, flushed["flush_ts"]), 120, 0.5
    )
    import_dir = own_server.data_dir / "imports"
    import_dir.mkdir(exist_ok=True)
    task_id = hook.bulk_insert(name, [write_json(import_dir, vectors(100, start=10_000))])
    wait_until("import completed", lambda: hook.get_import_state(task_id)["state"] == "ImportCompleted", 120, 0.5)
    hook.close()

    # Their first polls come after one interval: by then the server is down.
    collections = [{"collection_name": name, **{k: flushed[k] for k in ("segment_ids", "flush_ts")}}]
    common = {"milvus_conn_id": "milvus_outage", "poll_interval": 2.0, "rpc_timeout": 2.0}
    triggers = {
        "flush": MilvusFlushStateTrigger(collections=collections, deadline=deadline_after(400).isoformat(), **common),
        "import": MilvusImportStateTrigger(import_task_id=task_id, deadline=deadline_after(400).isoformat(), **common),
        "short": MilvusFlushStateTrigger(collections=collections, deadline=deadline_after(15).isoformat(), **common),
    }
    events: dict[str, dict] = {}

    async def first_event(key: str) -> None:
        events[key] = (await anext(triggers[key].run())).payload

    async def run_all() -> None:
        await asyncio.gather(*(first_event(key) for key in triggers))

    loop_thread = threading.Thread(target=asyncio.run, args=(run_all(),), daemon=True)
    with capture_logs() as logs:
        loop_thread.start()
        own_server.stop()
        time.sleep(OUTAGE_SECONDS)
        assert not events.get("flush") and not events.get("import"), events  # still waiting, not failed
        own_server.start()
        loop_thread.join(timeout=400)
    assert not loop_thread.is_alive()

    assert events["flush"]["status"] == "success", events["flush"]
    assert events["import"]["status"] == "success", events["import"]
    assert events["import"]["import_state"]["state"] == "ImportCompleted"
    short = events["short"]
    assert short["status"] == "timeout", short
    assert f"flush of '{name}'" in short["message"]
    assert "waited" in short["message"] and "retried" in short["message"]
    retries = [entry for entry in logs if "Transient Milvus error" in entry["event"]]
    assert any("(retry 1)" in entry["event"] for entry in retries), logs
    assert any(f"import task {task_id}" in entry["event"] for entry in retries), retries
    assert {entry["log_level"] for entry in retries} == {"warning"}


@pytest.mark.timeout(900)
def test_an_import_milvus_fails_across_its_restart_is_imported_anew_by_the_retry(own_server, monkeypatch):
    from airflow.providers.common.compat.sdk import AirflowFailException
    from pymilvus import MilvusClient

    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_OUTAGE", own_server.uri.replace("http://", "milvus://", 1))
    client = MilvusClient(uri=own_server.uri)
    name = make_collection(client)
    client.close()
    import_dir = own_server.data_dir / "imports"
    import_dir.mkdir(exist_ok=True)
    rows = 10_000
    files = [write_json(import_dir, vectors(rows))]
    store = TaskStore()

    def bulk_insert() -> MilvusBulkInsertOperator:
        return MilvusBulkInsertOperator(
            task_id="bulk_insert",
            milvus_conn_id="milvus_outage",
            collection_name=name,
            files=files,
            wait_for_completion=True,
            poll_interval=1,
            wait_timeout=600,
            rpc_timeout=5,
        )

    first: dict[str, BaseException] = {}

    def first_try() -> None:
        try:
            bulk_insert().execute(context(1, store))
        except BaseException as err:
            first["error"] = err

    thread = threading.Thread(target=first_try, daemon=True)
    thread.start()
    hook = MilvusHook("milvus_outage")
    task_id = wait_until(
        "the import's ID recorded", lambda: (store.get(IMPORT_STORE_KEY) or {}).get("import_task_id"), 120, 0.05
    )
    # Milvus 2.3 fails, when it starts, each import a data node was working on (not one still pending).
    state = wait_until(
        "the import under way",
        lambda: (current := hook.get_import_state(task_id)["state"]) != "ImportPending" and current,
        120,
        0.05,
    )
    assert state not in ("ImportCompleted", "ImportFailed", "ImportFailedAndCleaned"), state
    hook.close()
    own_server.stop(timeout=0)  # killed: a graceful stop takes long enough for the import to end
    own_server.start()
    thread.join(timeout=700)
    assert not thread.is_alive()

    error = first.get("error")
    assert isinstance(error, MilvusImportInterrupted), repr(error)
    assert not isinstance(error, AirflowFailException)  # Airflow retries it
    assert "task marked failed as service restarted" in str(error) and "imports its files anew" in str(error)
    assert error.result["id"] == task_id and error.result["state"] in ("ImportFailed", "ImportFailedAndCleaned")

    with log_messages() as logs:
        retried = bulk_insert().execute(context(2, store))
    assert retried != task_id
    assert any(f"Import task {task_id} of an earlier try ended in" in m and "importing anew" in m for m in logs), logs
    client = MilvusClient(uri=own_server.uri)
    try:
        client.refresh_load(name)  # the retry's import into the loaded collection, deterministically
        count = client.query(name, output_fields=["count(*)"], consistency_level="Strong")[0]["count(*)"]
        ids = client.query(name, filter="id >= 0", output_fields=["id"], consistency_level="Strong", limit=16384)
    finally:
        client.close()
    assert (count, len({row["id"] for row in ids})) == (rows, rows)  # each row once: the failed import left none
