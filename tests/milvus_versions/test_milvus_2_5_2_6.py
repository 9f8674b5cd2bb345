"""The provider fed the answers of a Milvus 2.5/2.6 proxy (see proxy.py for the source of each).

These complement the real-server tests on 2.3.5: each case here is an answer a 2.4+ server builds
differently, read through the same hook, wait policy, operators and triggers.
"""

from __future__ import annotations

import asyncio

import pendulum
import pytest
from pymilvus.grpc_gen import common_pb2, milvus_pb2

from airflow_provider_milvus.exceptions import MilvusImportUnknownError, MilvusWaitFailed
from airflow_provider_milvus.hooks.milvus import MilvusHook, import_state_dict
from airflow_provider_milvus.operators.milvus import MilvusBulkInsertOperator, MilvusFlushOperator
from airflow_provider_milvus.sensors.milvus import MilvusFlushStateSensor
from airflow_provider_milvus.triggers.milvus import MilvusFlushStateTrigger, MilvusImportStateTrigger
from airflow_provider_milvus.utils.import_resume import IMPORT_STORE_KEY
from airflow_provider_milvus.wait import ImportStateTarget, Outcome
from tests.log_capture import log_messages
from tests.task_context import RecordingTI, TaskStore, context

from .proxy import JobState, Milvus25Proxy, ProxyServer, failed, running_then_completed

CONN_ID = "milvus_25"


@pytest.fixture
def proxy(monkeypatch):
    proxy = Milvus25Proxy()
    with ProxyServer(proxy) as server:
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", f"milvus://127.0.0.1:{server.port}")
        yield proxy


def bulk_insert(**kwargs) -> MilvusBulkInsertOperator:
    return MilvusBulkInsertOperator(
        task_id="t",
        milvus_conn_id=CONN_ID,
        collection_name="docs",
        **{"files": ["/imports/part-0.parquet"], "poll_interval": 0.05, "wait_timeout": 30, **kwargs},
    )


def state_response(state: str, progress: int, rows: int = 0, reason: str = "") -> milvus_pb2.GetImportStateResponse:
    """A GetImportStateResponse as the 2.5/2.6 shim builds it: no id, collection_id, id_list or segments."""
    return milvus_pb2.GetImportStateResponse(
        state=common_pb2.ImportState.Value(state),
        row_count=rows,
        infos=[
            common_pb2.KeyValuePair(key="failed_reason", value=reason),
            common_pb2.KeyValuePair(key="progress_percent", value=str(progress)),
        ],
        create_ts=1_760_000_000,
    )


# --- Reading the answers ---------------------------------------------------------------------------


def test_import_state_reader_keeps_the_task_id_asked_for():
    state = import_state_dict(state_response("ImportStarted", 55, 500), 456_123_000_000_000_001)
    assert state["id"] == 456_123_000_000_000_001  # the answer says 0
    assert state["state"] == "ImportStarted" and state["row_count"] == 500 and state["progress"] == 55
    assert state["failed_reason"] == "" and state["id_list"] == [] and state["segment_ids"] == []
    assert state["collection_id"] == 0 and state["create_ts"] == 1_760_000_000
    # A listing asks for no ID: what Milvus reports stays, 0 on these versions.
    assert import_state_dict(state_response("ImportCompleted", 100, 500))["id"] == 0


@pytest.mark.parametrize(
    ("answer", "outcome", "message"),
    [
        (state_response("ImportPending", 5), Outcome.WAITING, ""),
        (state_response("ImportStarted", 25), Outcome.WAITING, ""),  # pre-importing
        (state_response("ImportStarted", 85, 1000), Outcome.WAITING, ""),  # index building: not done yet
        (state_response("ImportCompleted", 100, 1000), Outcome.DONE, ""),
        (state_response("ImportFailed", 0, reason="failed to parse row 7: field vector dim mismatch"), Outcome.FAILED, "dim mismatch"),
        # A 3.x job waiting for its commit (auto_commit=false) is reported as ImportFailed.
        (state_response("ImportFailed", 99, 1000, reason=""), Outcome.FAILED, "Milvus gave no reason"),
    ],
)  # fmt: skip
def test_import_states_are_classified(answer, outcome, message):
    check = ImportStateTarget(7).check(import_state_dict(answer, 7))
    assert check.outcome is outcome
    assert message in check.message


# --- The operators and triggers against a 2.5 proxy -----------------------------------------------


def test_bulk_insert_waits_and_returns_the_submitted_id(proxy):
    ti = RecordingTI()
    task_id = bulk_insert(wait_for_completion=True).execute({"ti": ti})
    [job_id] = proxy.jobs
    assert task_id == job_id
    assert ti.pushed["import_state"]["state"] == "ImportCompleted" and ti.pushed["import_state"]["id"] == job_id
    assert ti.pushed["import_state"]["row_count"] == 1000
    assert [r.task for r in proxy.sent("GetImportState")] == [job_id] * 5


def test_deferred_bulk_insert_returns_the_submitted_id_when_the_state_says_0(proxy):
    """The trigger's event carries the ID it waited on; execute_complete never reads the state's."""
    operator = bulk_insert(wait_for_completion=True)
    job_id = operator.hook.bulk_insert("docs", ["/imports/part-0.parquet"])
    trigger = MilvusImportStateTrigger(
        import_task_id=job_id,
        milvus_conn_id=CONN_ID,
        poll_interval=0.05,
        deadline=pendulum.now("UTC").add(seconds=30).isoformat(),
    )
    event = asyncio.run(asyncio.wait_for(anext(trigger.run()), 30)).payload
    assert event["status"] == "success" and event["import_task_id"] == job_id
    # What a 2.4+ server put in the state, had nothing filled the ID in.
    event["import_state"]["id"] = 0
    ti = RecordingTI()
    assert operator.execute_complete({"ti": ti}, event) == job_id
    assert ti.pushed["import_state"]["state"] == "ImportCompleted"


def test_failed_import_fails_with_the_reason(proxy):
    proxy.next_import = failed("file '/imports/part-0.csv' is not a valid CSV: line 3")
    ti = RecordingTI()
    with pytest.raises(MilvusWaitFailed, match="not a valid CSV: line 3"):
        bulk_insert(files=["/imports/part-0.csv"], wait_for_completion=True).execute({"ti": ti})
    assert ti.pushed["import_state"]["state"] == "ImportFailed"


def test_files_and_options_reach_milvus_unchanged(proxy):
    bulk_insert(files=["/imports/rows.jsonl"], options={"sep": ";", "skip_rows": 1, "backup": False}).execute(context())
    [request] = proxy.sent("Import")
    assert list(request.files) == ["/imports/rows.jsonl"]
    assert {kv.key: kv.value for kv in request.options} == {"sep": ";", "skip_rows": "1", "backup": "false"}


def test_retry_reconnects_through_the_task_store_where_the_listing_cannot_help(proxy):
    """2.4+ lists import jobs with id=0 and no files: only the task store finds the earlier job."""
    proxy.next_import = [JobState(common_pb2.ImportState.ImportStarted, 45)] * 3 + running_then_completed(1000)[-1:]
    store = TaskStore()
    first = bulk_insert(wait_for_completion=True, wait_timeout=0.01)
    with pytest.raises(Exception, match="Timed out waiting for import task"):
        first.execute(context(1, store))
    [job_id] = proxy.jobs
    assert store.values[IMPORT_STORE_KEY]["import_task_id"] == job_id

    retry = bulk_insert(wait_for_completion=True)
    assert retry.execute(context(2, store)) == job_id
    assert len(proxy.sent("Import")) == 1
    assert store.values[IMPORT_STORE_KEY]["import_task_id"] == job_id  # kept for later tries
    listed = MilvusHook(CONN_ID).list_import_tasks("docs")
    assert len(listed) == 1 and all(task["id"] == 0 and "files" not in task["infos"] for task in listed)


def test_retry_without_the_store_cannot_tell_and_says_so(proxy):
    """Airflow < 3.3 on 2.4+: a completed import of the collection since the run began may be the
    earlier try's, and the listing names no files: the retry fails saying so, importing nothing,
    unless the task asks to import anew."""
    run_start = pendulum.now("UTC").subtract(seconds=5)
    bulk_insert(wait_for_completion=True).execute(context(1, run_start=run_start))
    with pytest.raises(MilvusImportUnknownError, match=r"cannot be told.*on_unknown_import='import_anew'"):
        bulk_insert(wait_for_completion=True).execute(context(2, run_start=run_start))
    assert len(proxy.sent("Import")) == 1
    with log_messages() as logs:
        bulk_insert(wait_for_completion=True, on_unknown_import="import_anew").execute(context(2, run_start=run_start))
    assert len(proxy.sent("Import")) == 2
    assert any("importing anew, as on_unknown_import='import_anew' asks" in m for m in logs)


def test_retry_with_only_the_intent_on_2_5(proxy):
    """The try was lost between the Import and the record of its ID. 2.4+ lists no files: with no
    running or completed import of the collection since the request, nothing of it took effect
    (import); with one, the retry cannot tell whether it is the lost try's (fail, or import anew)."""
    store = TaskStore()
    intent = {
        "request": {
            "db_name": "",
            "collection": "docs",
            "partition": "",
            "files": ["/imports/part-0.parquet"],
            "options": {},
        },
        "submitted_at": pendulum.now("UTC").timestamp(),
        "import_task_id": None,
    }
    store.set(IMPORT_STORE_KEY, dict(intent))
    job_id = bulk_insert(wait_for_completion=True).execute(context(2, store))
    assert len(proxy.sent("Import")) == 1

    # The same intent again, with that job (created since) now in Milvus's listing.
    store.set(IMPORT_STORE_KEY, dict(intent))
    with pytest.raises(MilvusImportUnknownError, match="may have started an import") as err:
        bulk_insert(wait_for_completion=True).execute(context(3, store))
    assert len(proxy.sent("Import")) == 1 and err.value.import_task_ids == []  # 2.4+ lists id=0
    assert bulk_insert(wait_for_completion=True, on_unknown_import="import_anew").execute(context(3, store)) != job_id
    assert len(proxy.sent("Import")) == 2


def test_retry_after_a_failed_import_or_changed_input_imports_anew(proxy):
    store = TaskStore()
    proxy.next_import = failed("bad file")
    with pytest.raises(MilvusWaitFailed):
        bulk_insert(wait_for_completion=True).execute(context(1, store))
    proxy.next_import = running_then_completed(10)
    bulk_insert(wait_for_completion=True).execute(context(2, store))
    assert len(proxy.sent("Import")) == 2
    # A stored import of other files is not this task's import any more.
    store.set(IMPORT_STORE_KEY, {"import_task_id": next(iter(proxy.jobs)), "request": {"files": ["other"]}})
    bulk_insert(wait_for_completion=True).execute(context(3, store))
    assert len(proxy.sent("Import")) == 3


def test_a_recorded_job_milvus_no_longer_knows_is_searched_for(proxy):
    """2.4+ answers an unknown job ID with a Failed state, "import job does not exist": not a failed
    import of ours (which would be imported anew blindly) but one to look for in the listing."""
    store = TaskStore()
    job_id = bulk_insert(wait_for_completion=True).execute(context(1, store))
    proxy.jobs.clear()  # forgotten (Milvus keeps finished jobs for a while)
    with log_messages() as logs:
        bulk_insert(wait_for_completion=True).execute(context(2, store))
    assert any(
        f"Import task {job_id} of an earlier try is unknown to Milvus (import job does not exist" in m for m in logs
    )
    assert len(proxy.sent("Import")) == 2  # nothing live in the listing: imported anew


def test_rate_limited_flush_is_sent_again_and_the_retry_logged(proxy):
    flush = MilvusFlushOperator(task_id="t", milvus_conn_id=CONN_ID, collection_names="docs", submit_timeout=60)
    flush.execute(context())
    with log_messages() as logs:
        result = flush.execute(context())  # within 10 s of the first: rejected, then accepted
    assert result["collections"]["docs"]["flush_ts"] > 0
    assert len(proxy.sent("Flush")) >= 3
    retries = [message for message in logs if "Transient Milvus error" in message]
    assert retries and "(retry 1)" in retries[0] and "rate limit exceeded" in retries[0]


def test_rate_limited_flush_gives_up_at_its_budget_with_milvus_reason(proxy):
    flush = MilvusFlushOperator(task_id="t", milvus_conn_id=CONN_ID, collection_names="docs", submit_timeout=1)
    flush.execute(context())
    with pytest.raises(Exception, match=r"code 8\): request is rejected by grpc RateLimiter"):
        flush.execute(context())


def test_flush_wait_always_names_the_collection(proxy):
    """2.4+ answers GetFlushState without a collection as flushed without checking flush_ts."""
    proxy.flush_rate_limit = False
    ti = RecordingTI()
    result = MilvusFlushOperator(
        task_id="t", milvus_conn_id=CONN_ID, collection_names=["a", "b"], wait_for_completion=True, poll_interval=0.05
    ).execute({"ti": ti})
    assert result["flushed"] is True
    assert result["collections"]["a"]["segment_ids"] == []
    asked = proxy.sent("GetFlushState")
    assert asked and all(r.collection_name in ("a", "b") and r.flush_ts > 0 for r in asked)
    # Flushed only after Milvus said so: two "not yet" answers per collection, then one "yes".
    assert len(asked) == 2 * (proxy.flush_polls_before_flushed + 1)


def test_flush_trigger_and_sensor_with_empty_segment_ids(proxy):
    proxy.flush_rate_limit = False
    info = MilvusHook(CONN_ID).flush("docs")["collections"]["docs"]
    entry = {"collection_name": "docs", "segment_ids": [], "flush_ts": info["flush_ts"]}
    trigger = MilvusFlushStateTrigger(collections=[entry], milvus_conn_id=CONN_ID, poll_interval=0.05)
    _, kwargs = trigger.serialize()
    event = asyncio.run(asyncio.wait_for(anext(MilvusFlushStateTrigger(**kwargs).run()), 30)).payload
    assert event == {"status": "success", "message": "flush of 'docs' done", "flushed": True}

    sensor = MilvusFlushStateSensor(
        task_id="s",
        milvus_conn_id=CONN_ID,
        segment_ids="[]",
        collection_name="docs",
        flush_ts=str(info["flush_ts"] + 1),
    )
    assert not sensor.poke({})  # Milvus: not yet
    assert not sensor.poke({})
    assert sensor.poke({})


def test_bulk_insert_into_a_missing_collection_fails_before_the_import(proxy):
    proxy.missing_collections = {"docs"}
    with pytest.raises(Exception, match=r"code 100\): collection not found: 'docs' in database 'default'"):
        bulk_insert().execute(context())
    assert not proxy.sent("Import")


def test_auto_asks_a_2_5_server_for_rest_and_imports_over_grpc_where_it_answers_none(proxy):
    """``api="auto"`` on Milvus 2.4+: GetVersion says REST may be served; this proxy answers no
    HTTP on its port (as with ``proxy.http.enabled=false``), so the import goes over gRPC."""
    ctx = context()
    with log_messages() as logged:
        task_id = bulk_insert(wait_for_completion=False).execute(ctx)
    assert isinstance(task_id, int)
    assert [name for name, _ in proxy.requests if name in ("GetVersion", "Import")] == ["GetVersion", "Import"]
    assert any("answers no REST import API" in message for message in logged), logged


def test_auto_imports_over_rest_where_a_2_5_server_serves_it(proxy, monkeypatch):
    """Milvus 2.4+ serves REST on its gRPC port; here the REST answers come from the loopback REST
    server (rest_server.py) and the gRPC ones from the proxy, each on a port of its own."""
    from airflow_provider_milvus.hooks.milvus_rest import MilvusRestTransport, RestTarget

    from .rest_server import MilvusRest, RestServer

    milvus = MilvusRest(version="2.5", bearer=None)
    with RestServer(milvus) as server:
        operator = bulk_insert(wait_for_completion=True)
        operator.hook.rest = MilvusRestTransport(RestTarget(server.url))
        ctx = context()
        job_id = operator.execute(ctx)
    assert isinstance(job_id, str) and job_id in milvus.jobs and len(milvus.sent("create")) == 1
    assert proxy.sent("GetVersion") and not proxy.sent("Import")
    assert ctx["ti"].pushed["import_state"]["rest_state"] == "Completed"
