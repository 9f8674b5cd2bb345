"""The one wait policy driving a REST import job (RestImportStateTarget), blocking and on the event
loop, against the server answering as Milvus and Zilliz Cloud do (rest_server.py)."""

from __future__ import annotations

import logging

import pendulum
import pytest

from airflow_provider_milvus import wait
from airflow_provider_milvus.exceptions import MilvusWaitFailed, MilvusWaitTimeout
from airflow_provider_milvus.hooks.milvus import MilvusHook
from airflow_provider_milvus.hooks.milvus_rest import MilvusRestTransport, RestTarget
from airflow_provider_milvus.types import IMPORT_COMPLETED, IMPORT_FAILED, IMPORT_PERSISTED
from airflow_provider_milvus.wait import Outcome, RestImportStateTarget, poll_once, wait_async, wait_sync

from .rest_server import JobAnswer, MilvusRest, RestServer, completed, failed, two_phase

FILE = "imports/part-0.parquet"


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(wait, "RETRY_BASE_SECONDS", 0.01)


def serve(monkeypatch, milvus: MilvusRest) -> RestServer:
    server = RestServer(milvus)
    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_REST", f"milvus://root:Milvus@127.0.0.1:{server.port}")
    return server


def deadline(seconds: float = 10) -> pendulum.DateTime:
    return pendulum.now("UTC").add(seconds=seconds)


@pytest.mark.parametrize("version", ["2.5", "2.6", "3.0"])
def test_a_job_is_waited_on_until_completed(monkeypatch, caplog, version):
    milvus = MilvusRest(version=version, bearer="root:Milvus")
    with serve(monkeypatch, milvus):
        hook = MilvusHook("milvus_rest")
        job_id = hook.rest.create_import("docs", [FILE])
        with caplog.at_level(logging.INFO):
            job = wait_sync(hook, RestImportStateTarget(job_id), poll_interval=0.01, deadline=deadline())
        hook.close()
    assert job["state"] == IMPORT_COMPLETED and job["imported_rows"] == job["total_rows"] == 1000
    assert job["details"][0]["file_name"] == f"[{FILE}]"
    # Progress is logged as it changes: Milvus's state, the rows and the percent.
    assert f"import job {job_id}: Importing, 500/1000 rows, 55%" in caplog.text


def test_a_failed_job_fails_the_wait_with_milvus_reason(monkeypatch):
    milvus = MilvusRest(version="2.6", bearer="root:Milvus", next_import=failed("the field 'vector' is missing"))
    with serve(monkeypatch, milvus):
        hook = MilvusHook("milvus_rest")
        job_id = hook.rest.create_import("docs", [FILE])
        with pytest.raises(MilvusWaitFailed, match="Failed: the field 'vector' is missing") as err:
            wait_sync(hook, RestImportStateTarget(job_id), poll_interval=0.01, deadline=deadline())
        hook.close()
    assert err.value.result["state"] == IMPORT_FAILED


def test_a_file_reason_stands_in_when_the_job_gives_none():
    target = RestImportStateTarget("7")
    file = {"file_name": "[a.parquet]", "file_size": 1, "state": "Failed", "progress": 0, "imported_rows": 0}
    job = {
        "job_id": "7",
        "collection_name": "docs",
        "state": IMPORT_FAILED,
        "rest_state": "Failed",
        "progress": 0,
        "imported_rows": 0,
        "total_rows": 0,
        "file_size": 1,
        "complete_time": "",
        "reason": "",
        "details": [{**file, "total_rows": 0, "complete_time": "", "reason": "bad row 7"}],
    }
    check = target.check(job)  # type: ignore[arg-type]
    assert check.outcome is Outcome.FAILED and check.message == "Failed: [a.parquet]: bad row 7"


def test_rate_limits_while_waiting_are_ridden_out(monkeypatch):
    milvus = MilvusRest(version="3.0", bearer="root:Milvus", standard_status=True)
    with serve(monkeypatch, milvus):
        hook = MilvusHook("milvus_rest")
        job_id = hook.rest.create_import("docs", [FILE])
        milvus.faults = ["limiter", "limiter", "limiter"]
        job = wait_sync(hook, RestImportStateTarget(job_id), poll_interval=0.01, deadline=deadline())
        hook.close()
    assert job["state"] == IMPORT_COMPLETED


def test_a_two_phase_job_is_done_at_uncommitted_then_committed(monkeypatch):
    milvus = MilvusRest(version="3.0", bearer="root:Milvus", next_import=two_phase(1000))
    with serve(monkeypatch, milvus):
        hook = MilvusHook("milvus_rest")
        job_id = hook.rest.create_import("docs", [FILE], options={"auto_commit": "false"})
        job = wait_sync(
            hook, RestImportStateTarget(job_id, until_uncommitted=True), poll_interval=0.01, deadline=deadline()
        )
        assert job["rest_state"] == "Uncommitted" and job["state"] == IMPORT_PERSISTED
        # Without until_uncommitted the same job is waited on: it needs a commit from someone.
        done, _ = poll_once(hook, RestImportStateTarget(job_id))
        assert not done
        hook.rest.commit_import(job_id)
        job = wait_sync(hook, RestImportStateTarget(job_id), poll_interval=0.01, deadline=deadline())
        hook.close()
    assert job["state"] == IMPORT_COMPLETED


def test_an_uncommitted_job_nobody_commits_times_out(monkeypatch):
    milvus = MilvusRest(version="3.0", bearer="root:Milvus", next_import=two_phase(10))
    with serve(monkeypatch, milvus):
        hook = MilvusHook("milvus_rest")
        job_id = hook.rest.create_import("docs", [FILE], options={"auto_commit": "false"})
        with pytest.raises(MilvusWaitTimeout, match="waiting for a commit"):
            wait_sync(hook, RestImportStateTarget(job_id), poll_interval=0.01, deadline=deadline(0.5))
        hook.close()


async def test_the_wait_on_the_event_loop(monkeypatch):
    milvus = MilvusRest(
        version="2.6", bearer="root:Milvus", next_import=[*completed(10)[:2], JobAnswer("Completed", 100, 10, 10)]
    )
    with serve(monkeypatch, milvus):
        hook = MilvusHook("milvus_rest")
        job_id = await (await hook.arest()).acreate_import("docs", [FILE])
        milvus.faults = ["limiter"]
        job = await wait_async(hook, RestImportStateTarget(job_id), poll_interval=0.01, deadline=deadline())
    assert job["state"] == IMPORT_COMPLETED and job["total_rows"] == 10


async def test_a_zilliz_cloud_job_through_its_own_transport(monkeypatch):
    milvus = MilvusRest(version="zilliz", bearer="zc-key")
    with RestServer(milvus) as server:
        rest = MilvusRestTransport(RestTarget(server.url, secret="zc-key", cluster_id="in01-0123"))
        job_id = await rest.acreate_import("docs", object_urls=["s3://b/a.parquet"], access_key="AK", secret_key="SK")
        target = RestImportStateTarget(job_id, transport=rest)
        job = await wait_async(None, target, poll_interval=0.01, deadline=deadline())  # type: ignore[arg-type]
        assert job["state"] == IMPORT_COMPLETED
        assert wait_sync(None, target, poll_interval=0.01, deadline=deadline())["total_rows"] == 1000  # type: ignore[arg-type]
        rest.close()
    assert all(r.body["clusterId"] == "in01-0123" for r in milvus.requests)
