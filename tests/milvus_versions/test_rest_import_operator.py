"""The bulk-insert operator over REST (api="rest" or a Zilliz Cloud endpoint), against the fake
server of rest_server.py (which cites handler_v2.go and Zilliz Cloud's docs for each answer)."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

from airflow_provider_milvus import wait
from airflow_provider_milvus.exceptions import (
    MilvusAuthenticationError,
    MilvusConfigError,
    MilvusDuplicateImportError,
    MilvusError,
    MilvusImportUnknownError,
    MilvusWaitFailed,
    MilvusWaitTimeout,
)
from airflow_provider_milvus.operators.milvus import MilvusBulkInsertOperator
from airflow_provider_milvus.sensors.milvus import MilvusImportStateSensor
from airflow_provider_milvus.triggers.milvus import MilvusImportStateTrigger
from airflow_provider_milvus.utils.rest_import import REST_IMPORT_STORE_KEY, resolve_import_api

from ..log_capture import log_messages
from ..task_context import TaskStore, context
from .rest_server import JobAnswer, MilvusRest, RestServer, completed, failed, two_phase

BEARER = "root:Milvus"
FILE = "imports/part-0.parquet"


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    monkeypatch.setattr(wait, "RETRY_BASE_SECONDS", 0.01)


def serve(monkeypatch, milvus: MilvusRest, credentials: str = BEARER) -> RestServer:
    server = RestServer(milvus)
    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_REST", f"milvus://{credentials}@127.0.0.1:{server.port}/db1")
    return server


def operator(**kwargs: object) -> MilvusBulkInsertOperator:
    defaults: dict[str, object] = {
        "task_id": "import",
        "milvus_conn_id": "milvus_rest",
        "collection_name": "docs",
        "files": [FILE],
        "api": "rest",
        "wait_for_completion": True,
        "poll_interval": 0.01,
        "wait_timeout": 30,
    }
    return MilvusBulkInsertOperator(**{**defaults, **kwargs})  # type: ignore[arg-type]


@pytest.mark.parametrize("version", ["2.5", "2.6", "3.0"])
def test_rest_import_completes_with_per_file_progress_in_xcom(monkeypatch, version):
    milvus = MilvusRest(version=version, bearer=BEARER)
    with serve(monkeypatch, milvus):
        ctx = context()
        job_id = operator().execute(ctx)
    assert isinstance(job_id, str) and job_id in milvus.jobs
    state = ctx["ti"].pushed["import_state"]
    assert state["state"] == "ImportCompleted" and state["rest_state"] == "Completed"
    assert state["imported_rows"] == 1000 and state["total_rows"] == 1000
    assert state["details"] and all(f["file_name"] for f in state["details"])
    assert len(milvus.sent("create")) == 1


def test_rest_import_failed_names_milvus_reason(monkeypatch):
    milvus = MilvusRest(version="2.6", bearer=BEARER, next_import=failed("the field 'vector' is missing"))
    with serve(monkeypatch, milvus), pytest.raises(MilvusWaitFailed, match="the field 'vector' is missing") as err:
        ctx = context()
        operator().execute(ctx)
    assert ctx["ti"].pushed["import_state"]["state"] == "ImportFailed"
    assert err.value.result["reason"]


def test_rest_auth_failure_is_named(monkeypatch):
    milvus = MilvusRest(version="2.6", bearer=BEARER)
    with serve(monkeypatch, milvus, credentials="root:wrong"), pytest.raises(MilvusAuthenticationError):
        operator().execute(context())
    assert not milvus.jobs


def test_rate_limited_create_is_sent_again_within_the_deadline(monkeypatch):
    milvus = MilvusRest(version="2.6", bearer=BEARER, faults=["limiter"])
    with serve(monkeypatch, milvus):
        operator(submit_timeout=30).execute(context())
    assert len(milvus.sent("create")) == 2 and len(milvus.jobs) == 1


def test_a_recorded_job_milvus_forgot_is_looked_for_then_imported_anew(monkeypatch):
    milvus = MilvusRest(version="2.6", bearer=BEARER)
    store = TaskStore()
    with serve(monkeypatch, milvus):
        op = operator()
        first = op.execute(context(store=store))
        milvus.jobs.clear()  # the server forgot the job (a restore, another cluster)
        with log_messages() as logged:
            again = op.execute(context(try_number=2, store=store))
    text = "\n".join(logged)
    assert "unknown to Milvus" in text and "No live import job" in text
    assert again != first and len(milvus.sent("create")) == 2 and list(milvus.jobs) == [again]


def test_the_intent_is_recorded_before_the_create_and_the_job_after(monkeypatch):
    milvus = MilvusRest(version="2.6", bearer=BEARER)
    written: list[tuple[object, int]] = []
    store = TaskStore(on_set=lambda key, value: written.append((value["job_id"], len(milvus.jobs))))
    with serve(monkeypatch, milvus):
        job_id = operator(wait_for_completion=False).execute(context(store=store))
    assert written == [(None, 0), (job_id, 1)]


def _lose_the_answer(store: TaskStore) -> None:
    """As if the try died after Milvus created the job and before it recorded the ID."""
    saved = store.values[REST_IMPORT_STORE_KEY]
    store.values[REST_IMPORT_STORE_KEY] = {**saved, "job_id": None}


@pytest.mark.parametrize("with_store", [True, False], ids=["intent-only", "no-store"])
def test_a_retry_without_the_job_id_finds_the_running_job_by_its_files(monkeypatch, with_store):
    """Airflow 3.3+ with only the intent recorded, or before 3.3 with no store at all: REST list
    carries the job IDs, describe the files."""
    milvus = MilvusRest(version="2.5", bearer=BEARER)
    store = TaskStore() if with_store else None
    with serve(monkeypatch, milvus):
        other = operator(files=["imports/other.parquet"], wait_for_completion=False).execute(context())
        first = operator(wait_for_completion=False).execute(context(store=store))
        if store is not None:
            _lose_the_answer(store)
        ctx = context(try_number=2, store=store)
        with log_messages() as logged:
            again = operator().execute(ctx)
    assert again == first != other and len(milvus.sent("create")) == 2
    assert any("found by its files" in message for message in logged)
    assert ctx["ti"].pushed["import_state"]["state"] == "ImportCompleted"


def test_a_retry_that_finds_only_a_completed_job_of_its_files_cannot_tell(monkeypatch):
    """No create time is listed: a completed job of the same files may be an earlier DAG run's."""
    milvus = MilvusRest(version="2.6", bearer=BEARER)
    with serve(monkeypatch, milvus):
        first = operator().execute(context())
        with pytest.raises(MilvusImportUnknownError, match="cannot be told") as err:
            operator().execute(context(try_number=2))
        assert err.value.import_task_ids == [first] and len(milvus.sent("create")) == 1
        again = operator(on_unknown_import="import_anew").execute(context(try_number=2))
    assert again != first and len(milvus.sent("create")) == 2


def test_a_retry_that_finds_two_running_jobs_of_its_files_names_both(monkeypatch):
    milvus = MilvusRest(version="2.6", bearer=BEARER)
    with serve(monkeypatch, milvus):
        ids = [operator(wait_for_completion=False).execute(context()) for _ in range(2)]
        ctx = context(try_number=2)
        with pytest.raises(MilvusDuplicateImportError) as err:
            operator().execute(ctx)
    assert sorted(err.value.import_task_ids) == sorted(ids) and len(milvus.sent("create")) == 2
    assert sorted(found["id"] for found in ctx["ti"].pushed["duplicate_imports"]) == sorted(ids)


def test_a_recorded_job_that_failed_is_imported_anew(monkeypatch):
    milvus = MilvusRest(version="2.6", bearer=BEARER, next_import=failed("the file is not parquet"))
    store = TaskStore()
    with serve(monkeypatch, milvus):
        with pytest.raises(MilvusWaitFailed):
            operator().execute(context(store=store))
        milvus.next_import = completed(1000)
        again = operator().execute(context(try_number=2, store=store))
    assert len(milvus.sent("create")) == 2 and milvus.jobs[again].answer().state == "Completed"


def test_two_phase_import_commits_then_completes(monkeypatch):
    milvus = MilvusRest(version="3.0", bearer=BEARER, next_import=two_phase(1000))
    with serve(monkeypatch, milvus):
        ctx = context()
        job_id = operator(options={"auto_commit": "false"}).execute(ctx)
    assert [r.body["jobId"] for r in milvus.sent("commit")] == [job_id]
    assert ctx["ti"].pushed["import_state"]["rest_state"] == "Completed"
    assert not milvus.sent("abort")


def test_uncommitted_job_whose_commit_fails_is_aborted_and_named(monkeypatch):
    milvus = MilvusRest(version="3.0", bearer=BEARER, next_import=two_phase(1000), refuse_commit=True)
    with serve(monkeypatch, milvus), pytest.raises(MilvusError, match="commit failed, the job is aborted"):
        operator(options={"auto_commit": "false"}).execute(context())
    assert len(milvus.sent("abort")) == 1


def test_a_two_phase_job_that_never_reaches_uncommitted_is_aborted_at_the_timeout(monkeypatch):
    milvus = MilvusRest(version="3.0", bearer=BEARER, next_import=[JobAnswer("Importing", 40, 0, 1000)])
    with serve(monkeypatch, milvus), pytest.raises(MilvusWaitTimeout):
        operator(options={"auto_commit": "false"}, wait_timeout=0.5).execute(context())
    [abort] = milvus.sent("abort")
    assert abort.body["jobId"] in milvus.jobs and not milvus.sent("commit")


def test_a_task_killed_while_its_two_phase_job_waits_aborts_the_job(monkeypatch):
    """on_kill, as Airflow calls it when the task is marked failed or cleared while it runs."""
    milvus = MilvusRest(version="3.0", bearer=BEARER, next_import=[JobAnswer("Importing", 40, 0, 1000)])
    op = operator(options={"auto_commit": "false"}, wait_timeout=30, poll_interval=0.05)

    def kill_while_it_waits() -> None:
        deadline = time.monotonic() + 20
        while len(milvus.sent("describe")) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        op.on_kill()

    with serve(monkeypatch, milvus):
        # The task runs here (Airflow 2 runs execute only on the thread that imported it); the kill
        # comes from another thread, as Airflow's signal handler interrupts a running task.
        killer = threading.Thread(target=kill_while_it_waits)
        killer.start()
        with pytest.raises(MilvusWaitFailed):  # the aborted job reads Failed: Milvus's answer ends the wait
            op.execute(context())
        killer.join(timeout=30)
    assert len(milvus.sent("abort")) >= 1 and not milvus.sent("commit")


def test_retry_with_the_store_reconnects_without_a_second_create(monkeypatch):
    milvus = MilvusRest(version="2.6", bearer=BEARER)
    store = TaskStore()
    with serve(monkeypatch, milvus):
        first = operator(wait_for_completion=False).execute(context(store=store))
        again = operator().execute(context(try_number=2, store=store))
    assert first == again and len(milvus.sent("create")) == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"api": "grpc", "object_urls": ["s3://bucket/a.parquet"], "files": None},
        {"api": "grpc", "volume_name": "vol", "data_paths": ["a.parquet"], "files": None},
        {"api": "grpc", "options": {"auto_commit": "false"}},
        {"api": "rest", "object_urls": ["s3://bucket/a.parquet"], "files": None},  # self-hosted reads its bucket
        {"api": "rest", "deferrable": True, "options": {"auto_commit": "false"}},
    ],
)
def test_bad_input_is_named_before_any_request(monkeypatch, kwargs):
    milvus = MilvusRest(version="2.6", bearer=BEARER)
    with serve(monkeypatch, milvus), pytest.raises(MilvusConfigError):
        operator(**kwargs).execute(context())
    assert milvus.requests == []


def test_auto_takes_rest_for_zilliz_cloud_and_rest_only_options_grpc_otherwise():
    assert resolve_import_api("auto", "in01-abc.aws-us-west-2.vectordb.zillizcloud.com:19530", rest_only=[]) == "rest"
    assert resolve_import_api("auto", "127.0.0.1:19530", rest_only=[]) == "grpc"
    assert resolve_import_api("auto", "127.0.0.1:19530", rest_only=["object_urls"]) == "rest"
    assert resolve_import_api("auto", "127.0.0.1:19530", rest_only=["auto_commit=false"]) == "grpc"
    with pytest.raises(MilvusConfigError, match="api must be one of"):
        resolve_import_api("http", "127.0.0.1:19530", rest_only=[])


# --- The sensor and the trigger --------------------------------------------------------------------


def test_sensor_pokes_a_rest_job_until_completed(monkeypatch):
    milvus = MilvusRest(version="2.6", bearer=BEARER)
    with serve(monkeypatch, milvus):
        job_id = operator(wait_for_completion=False).execute(context())
        sensor = MilvusImportStateSensor(
            task_id="wait", milvus_conn_id="milvus_rest", import_task_id=job_id, api="rest", poke_interval=0.01
        )
        done = False
        for _ in range(20):
            done = sensor.poke(context())
            if done:
                break
    assert done and done.xcom_value["rest_state"] == "Completed" and done.xcom_value["imported_rows"] == 1000


def test_sensor_names_an_unknown_rest_job(monkeypatch):
    milvus = MilvusRest(version="2.6", bearer=BEARER)
    with serve(monkeypatch, milvus), pytest.raises(MilvusError, match="does not exist"):
        MilvusImportStateSensor(task_id="wait", milvus_conn_id="milvus_rest", import_task_id="42", api="rest").poke(
            context()
        )


def test_trigger_waits_for_a_rest_job_after_a_serialize_round_trip(monkeypatch):
    milvus = MilvusRest(version="3.0", bearer=BEARER)
    with serve(monkeypatch, milvus):
        job_id = operator(wait_for_completion=False).execute(context())
        first = MilvusImportStateTrigger(
            import_task_id=job_id, api="rest", db_name="db1", milvus_conn_id="milvus_rest", poll_interval=0.01
        )
        _path, kwargs = first.serialize()
        assert json.loads(json.dumps(kwargs)) == kwargs  # JSON primitives only
        assert kwargs["api"] == "rest" and kwargs["import_task_id"] == job_id
        trigger = MilvusImportStateTrigger(**kwargs)

        async def first_event():
            return await anext(trigger.run())

        event = asyncio.run(first_event())
    assert event.payload["status"] == "success", event.payload
    assert event.payload["import_task_id"] == job_id
    assert event.payload["import_state"]["rest_state"] == "Completed"


def test_trigger_reports_a_failed_rest_job_with_its_reason(monkeypatch):
    milvus = MilvusRest(version="2.6", bearer=BEARER, next_import=failed("no such field 'vector'"))
    with serve(monkeypatch, milvus):
        job_id = operator(wait_for_completion=False).execute(context())
        trigger = MilvusImportStateTrigger(
            import_task_id=job_id, api="rest", milvus_conn_id="milvus_rest", poll_interval=0.01
        )

        async def first_event():
            return await anext(trigger.run())

        event = asyncio.run(first_event())
    assert event.payload["status"] == "error" and "no such field 'vector'" in event.payload["message"]


@pytest.mark.parametrize("version", ["2.6", "zilliz"])
def test_a_deferred_rest_import_waits_in_the_trigger_and_resumes_with_the_job(monkeypatch, version):
    from airflow.providers.common.compat.sdk import TaskDeferred

    milvus = MilvusRest(version=version, bearer=BEARER)
    store = TaskStore()
    server = serve(monkeypatch, milvus)
    with server:
        op = operator(deferrable=True)
        if version == "zilliz":
            monkeypatch.setenv(
                "AIRFLOW_CONN_MILVUS_REST",
                json.dumps(
                    {
                        "conn_type": "milvus",
                        "host": "127.0.0.1",
                        "extra": {
                            "token": BEARER,
                            "cluster_id": "in01-0123456789abcdef",
                            "cloud_api_endpoint": f"http://127.0.0.1:{server.port}",
                        },
                    }
                ),
            )
            op = operator(deferrable=True, files=None, object_urls=["s3://b/docs/part-0.parquet"])
        with pytest.raises(TaskDeferred) as deferred:
            op.execute(context(store=store))
        trigger = deferred.value.trigger
        _path, kwargs = trigger.serialize()
        assert json.loads(json.dumps(kwargs)) == kwargs and kwargs["api"] == "rest"
        [create] = milvus.sent("create")

        async def first_event():
            return await anext(MilvusImportStateTrigger(**kwargs).run())

        event = asyncio.run(first_event())
        ctx = context(store=store)
        job_id = op.execute_complete(ctx, event.payload)
    assert isinstance(job_id, str) and job_id == kwargs["import_task_id"] and job_id in milvus.jobs
    assert ctx["ti"].pushed["import_state"]["rest_state"] == "Completed"
    assert len(milvus.sent("create")) == 1 and create.body.get("clusterId") == (
        "in01-0123456789abcdef" if version == "zilliz" else None
    )


API_KEY = "zc-api-key-0123"
ACCESS_KEY, SECRET_KEY = "AKIAEXAMPLEKEY", "s3-secret-example-value"


def serve_cloud(monkeypatch, milvus: MilvusRest, **extra: str) -> RestServer:
    """A Zilliz Cloud connection: the API key as its token, the cluster ID and the import API (here,
    the loopback server answering as Zilliz Cloud) in its extras."""
    server = RestServer(milvus)
    fields = {"token": API_KEY, "cluster_id": "in01-0123456789abcdef", **extra}
    fields.setdefault("cloud_api_endpoint", f"http://127.0.0.1:{server.port}")
    monkeypatch.setenv(
        "AIRFLOW_CONN_MILVUS_CLOUD",
        json.dumps({"conn_type": "milvus", "host": "127.0.0.1", "port": 19530, "extra": fields}),
    )
    return server


def test_a_zilliz_cloud_connection_imports_object_urls_with_the_aws_connection_keys(monkeypatch, capsys):
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_SOURCE",
        json.dumps({"conn_type": "aws", "login": ACCESS_KEY, "password": SECRET_KEY}),
    )
    milvus = MilvusRest(version="zilliz", bearer=API_KEY)
    with serve_cloud(monkeypatch, milvus), log_messages() as logged:
        ctx = context()
        job_id = operator(
            milvus_conn_id="milvus_cloud",
            api="auto",  # the connection names a cluster: REST
            files=None,
            object_urls=["s3://source-bucket/docs/part-0.parquet"],
            aws_conn_id="aws_source",
        ).execute(ctx)
    [create] = milvus.sent("create")
    assert create.body["clusterId"] == "in01-0123456789abcdef"
    assert create.body["objectUrls"] == [["s3://source-bucket/docs/part-0.parquet"]]
    assert (create.body["accessKey"], create.body["secretKey"]) == (ACCESS_KEY, SECRET_KEY)
    assert create.headers["authorization"] == f"Bearer {API_KEY}"
    assert ctx["ti"].pushed["import_state"]["state"] == "ImportCompleted" and job_id in milvus.jobs
    shown = "\n".join(logged) + capsys.readouterr().out + json.dumps(ctx["ti"].pushed, default=str)
    assert "Started import job" in shown
    assert SECRET_KEY not in shown and ACCESS_KEY not in shown and API_KEY not in shown


def test_a_zilliz_cloud_connection_refuses_server_files_before_any_request(monkeypatch):
    milvus = MilvusRest(version="zilliz", bearer=API_KEY)
    with serve_cloud(monkeypatch, milvus), pytest.raises(MilvusConfigError, match="object_urls"):
        operator(milvus_conn_id="milvus_cloud", api="auto").execute(context())
    assert milvus.requests == []


def test_a_cloud_api_endpoint_without_a_cluster_id_is_named_before_any_request(monkeypatch):
    milvus = MilvusRest(version="zilliz", bearer=API_KEY)
    with serve_cloud(monkeypatch, milvus, cluster_id=""), pytest.raises(MilvusConfigError, match="cluster_id"):
        operator(milvus_conn_id="milvus_cloud", files=None, object_urls=["s3://b/k.parquet"]).execute(context())
    assert milvus.requests == []


def test_aws_conn_id_without_object_urls_is_named():
    with pytest.raises(MilvusConfigError, match="aws_conn_id"):
        operator(aws_conn_id="aws_source").execute(context())
