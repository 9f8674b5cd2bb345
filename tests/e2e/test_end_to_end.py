"""End to end: real scheduler, dag-processor, triggerer and api-server (`airflow standalone`)
running the example DAG and failure cases against the real Milvus server."""

from __future__ import annotations

import base64
import re
import time
from datetime import timedelta

import pendulum
import pytest

from airflow_provider_milvus.hooks.milvus import MilvusHook
from harness.airflow import trigger_log_times
from harness.milvus import tso
from harness.processes import wait_until
from tests.e2e.helpers import (
    ASSET_DAGS,
    EXAMPLE_DAG,
    HAS_TASK_STATE_STORE,
    RUN_TIMEOUT,
    SECRET_PASSWORD,
    SECRET_TOKEN,
    TEST_TIMEOUT,
    flush_when_deferred,
    run,
    trigger_logs,
    wait_deferred,
)
from tests.integration.helpers import make_collection, row_count, vectors, write_json, write_parquet

pytestmark = pytest.mark.timeout(TEST_TIMEOUT)


def test_bulk_load_example_succeeds_with_deferred_sensors(stack, milvus_client):
    collection = "e2e_bulk_load"
    # 4,500 rows of the example's 32-dim vectors make three file groups of about 256 KiB.
    state, tasks = run(stack, EXAMPLE_DAG, {"collection": collection, "rows": 4500})
    assert state == "success", {k: v.state for k, v in tasks.items()}
    assert all(t.state == "success" for t in tasks.values())
    assert row_count(milvus_client, collection) == 4500
    sensors = [t for (task_id, _), t in tasks.items() if task_id == "wait_for_import"]
    assert len(sensors) == 3
    for sensor in sensors:
        # Deferred to the triggerer, unless the import was already complete at the sensor's first poke.
        assert sensor.trigger_seconds is not None or "ImportCompleted" in sensor.log
        if sensor.trigger_seconds is not None:
            assert "Trigger fired event" in sensor.log


def test_writing_a_collection_triggers_the_dag_scheduled_on_its_asset(stack, milvus_client):
    """The example pair: the flush updates the collection's asset with what it did; the scheduler
    then runs the DAG scheduled on it, which searches and sees that extra."""
    writer, reader = ASSET_DAGS
    assert not stack.runs(reader)
    state, tasks = run(stack, writer, {})
    assert state == "success", {k: v.state for k, v in tasks.items()}
    [triggered] = wait_until(f"a run of {reader}", lambda: stack.runs(reader), RUN_TIMEOUT, 2)
    assert stack.wait_run(reader, triggered["run_id"], RUN_TIMEOUT) == "success"
    [search] = stack.task_results(reader, triggered["run_id"])
    assert "Triggered by [{'flush_ts': {'airflow_assets_example': " in search.log and "'flushed': True" in search.log
    assert "nearest: ['doc " in search.log


def test_sensor_really_waits_in_the_triggerer(stack, milvus_client):
    collection = make_collection(milvus_client, rows=100)
    segments = MilvusHook().flush(collection)["collections"][collection]["segment_ids"]
    # Flushed only once a checkpoint passes a moment after now, which takes another flush: the
    # sensor has to defer, and its trigger sees it flushed once the test flushes again.
    conf = {"collection": collection, "segment_ids": segments, "flush_ts": tso(time.time() + 1)}
    state, tasks = run(
        stack,
        "e2e_flush_wait",
        conf,
        lambda run_id: flush_when_deferred(stack, "e2e_flush_wait", run_id, collection, milvus_client),
    )
    wait = tasks[("wait", -1)]
    assert state == "success" and wait.state == "success"
    assert wait.trigger_seconds is not None and wait.trigger_seconds > 0
    assert "Trigger fired event" in wait.log


def test_broken_import_file_fails_with_milvus_reason(stack, milvus_client, import_dir):
    collection = make_collection(milvus_client)
    broken = write_json(import_dir, [{"id": 1, "no_such_field": [0.5]}])
    state, tasks = run(stack, "e2e_bulk_insert", {"collection": collection, "files": [broken]})
    task = tasks[("bulk_insert", -1)]
    assert state == "failed" and task.state == "failed"
    assert "ImportFailed" in task.log
    reason = MilvusHook().list_import_tasks(collection)[0]["failed_reason"]
    assert reason and reason in task.log


def test_good_import_through_the_triggerer(stack, milvus_client, import_dir):
    collection = make_collection(milvus_client)
    state, tasks = run(
        stack, "e2e_bulk_insert", {"collection": collection, "files": [write_json(import_dir, vectors(800))]}
    )
    assert state == "success"
    assert tasks[("bulk_insert", -1)].trigger_seconds is not None
    assert row_count(milvus_client, collection) == 800


def test_worker_killed_mid_import_retry_reconnects_to_its_import(stack, milvus_client, import_dir, legacy_milvus):
    """A real retry: the worker running the first try is SIGKILLed while it waits for its import;
    Airflow retries the task, and the retry finds that import in the task state store (Airflow
    3.3+) or, before 3.3, by its files in Milvus's import listing (Milvus 2.2/2.3)."""
    if not HAS_TASK_STATE_STORE and not legacy_milvus:
        legacy_milvus.note("a retry without a task state store finds its import only on Milvus 2.2/2.3")
        return
    collection = make_collection(milvus_client)
    rows = 600_000  # an import of some seconds on the embedded server: still running at the retry
    files = [write_parquet(import_dir, vectors(rows))]
    run_id = stack.trigger("e2e_bulk_insert_retry", {"collection": collection, "files": files})
    first_log = (
        stack.home
        / "logs"
        / "dag_id=e2e_bulk_insert_retry"
        / f"run_id={run_id}"
        / "task_id=bulk_insert"
        / "attempt=1.log"
    )
    started = wait_until(
        "the first try to start its import",
        lambda: re.search(r"Started import task (\d+)", first_log.read_text()) if first_log.exists() else None,
        RUN_TIMEOUT,
        0.2,
    )
    import_task_id = int(started[1])
    # Kill between two polls, not during one: Milvus 2.3.5's proxy dereferences a nil answer when a
    # GetImportState is cancelled mid-call (internal/proxy/impl.go:4047, "context canceled" from its
    # rootcoord call) and the whole server panics. The first poll comes at once, the second 5 s or
    # more later (poll_interval=10).
    time.sleep(2)
    stack.kill_task("e2e_bulk_insert_retry", run_id, "bulk_insert")
    assert stack.wait_run("e2e_bulk_insert_retry", run_id, RUN_TIMEOUT) == "success"
    [task] = stack.task_results("e2e_bulk_insert_retry", run_id)
    assert task.state == "success"
    if HAS_TASK_STATE_STORE:
        assert f"Reconnecting to import task {import_task_id} started by an earlier try" in task.log
        assert "found in the task state store" in task.log
    else:
        assert f"Reattaching to import task {import_task_id} started by an earlier try" in task.log
    assert task.log.count("Started import task") == 1
    # One import job in Milvus, and the rows once.
    assert len(MilvusHook().list_import_tasks(collection)) == 1
    assert row_count(milvus_client, collection) == rows


def test_sensor_timeout_while_deferred_fails_or_skips_with_soft_fail(stack, milvus_client):
    collection = make_collection(milvus_client, rows=100)
    segments = MilvusHook().flush(collection)["collections"][collection]["segment_ids"]
    conf = {"collection": collection, "segment_ids": segments, "flush_ts": 2**62}  # never flushed
    # Both runs at once: each waits for its 20 s deadline.
    expected = {"e2e_flush_timeout": ("failed", "failed"), "e2e_flush_timeout_soft_fail": ("success", "skipped")}
    run_ids = {dag_id: stack.trigger(dag_id, conf) for dag_id in expected}
    for dag_id, (run_state, task_state) in expected.items():
        assert stack.wait_run(dag_id, run_ids[dag_id], RUN_TIMEOUT) == run_state
        [wait] = stack.task_results(dag_id, run_ids[dag_id])
        assert wait.state == task_state
        assert wait.trigger_seconds is not None
        assert "Timed out waiting for flush of" in wait.log


def test_credentials_reach_no_log_xcom_or_rendered_field(stack, milvus_client, import_dir):
    collection = make_collection(milvus_client)
    conf = {"collection": collection, "files": [write_json(import_dir, vectors(300))]}
    state, tasks = run(stack, "e2e_secrets", conf)
    assert state == "success", {k: v.state for k, v in tasks.items()}
    assert tasks[("bulk_insert", -1)].trigger_seconds is not None  # the password went through the triggerer
    assert row_count(milvus_client, collection) == 300
    # Everything Airflow wrote: task and trigger logs, the standalone (scheduler, triggerer, API)
    # log, and the metadata database with its XComs and rendered template fields.
    secrets = [SECRET_PASSWORD, SECRET_TOKEN]
    secrets += [base64.b64encode(s.encode()).decode() for s in (f"reader:{SECRET_PASSWORD}", SECRET_TOKEN)]
    written = [p for p in stack.home.rglob("*") if p.is_file()]
    assert any(p.name == "airflow.db" for p in written)
    assert len([p for p in written if ".trigger." in p.name]) >= 2
    leaks = {str(p.relative_to(stack.home)): s for p in written for s in secrets if s.encode() in p.read_bytes()}
    assert not leaks
    xcoms = [tuple(row) for row in stack.query("SELECT task_id, value FROM xcom WHERE dag_id = 'e2e_secrets'")]
    rendered = [
        tuple(row)
        for row in stack.query(
            "SELECT task_id, rendered_fields FROM rendered_task_instance_fields WHERE dag_id = 'e2e_secrets'"
        )
    ]
    assert {task_id for task_id, _ in xcoms} >= {"bulk_insert", "flush"} and rendered
    assert not [row for row in [*xcoms, *rendered] if any(s in str(row) for s in secrets)]


def test_triggerer_killed_mid_wait_resumes_and_keeps_the_original_deadline(stack, milvus_client, import_dir):
    """SIGKILL the triggerer while an import, a flush and a 60 s flush deadline wait, then start a
    new one: every wait completes correctly, the import is not submitted twice, and the deadline
    wait fails at its original deadline rather than 60 s after the restart. Runs last: it replaces
    the stack's triggerer."""
    flushed = make_collection(milvus_client, rows=100)
    segments = MilvusHook().flush(flushed)["collections"][flushed]["segment_ids"]
    never = make_collection(milvus_client, rows=100)
    never_segments = MilvusHook().flush(never)["collections"][never]["segment_ids"]
    imported = make_collection(milvus_client)
    runs = {
        "e2e_flush_deadline": stack.trigger(
            "e2e_flush_deadline", {"collection": never, "segment_ids": never_segments, "flush_ts": 2**62}
        ),
        "e2e_flush_wait": stack.trigger(
            "e2e_flush_wait", {"collection": flushed, "segment_ids": segments, "flush_ts": tso(time.time() + 1)}
        ),
        "e2e_bulk_insert": stack.trigger(
            "e2e_bulk_insert", {"collection": imported, "files": [write_json(import_dir, vectors(700))]}
        ),
    }
    for dag_id, run_id in runs.items():
        wait_deferred(stack, dag_id, run_id)
        if dag_id == "e2e_flush_deadline":
            deferred_at = time.monotonic()
    assert stack.kill_triggerer()
    # Down long enough that a deadline restarted on pickup would land >= 25 s after the original.
    time.sleep(max(0.0, deferred_at + 25 - time.monotonic()))
    stack.start_triggerer()
    wait_until(
        "the new triggerer to take over the flush wait",
        lambda: len(trigger_logs(stack, "e2e_flush_wait", runs["e2e_flush_wait"])) >= 2,
        RUN_TIMEOUT,
        0.5,
    )
    milvus_client.insert(flushed, vectors(1, start=10**6))
    MilvusHook().flush(flushed)

    assert stack.wait_run("e2e_flush_deadline", runs["e2e_flush_deadline"], RUN_TIMEOUT) == "failed"
    [wait] = stack.task_results("e2e_flush_deadline", runs["e2e_flush_deadline"])
    deadline = pendulum.parse(re.search(r"Timed out waiting for flush of .*?: deadline (\S+) passed", wait.log)[1])
    # One trigger log per triggerer that ran the wait: the killed one, then the new one.
    first, second = sorted(
        (trigger_log_times(p) for p in trigger_logs(stack, "e2e_flush_deadline", runs["e2e_flush_deadline"])),
        key=lambda times: times["started"],
    )
    assert second["started"] - first["started"] >= timedelta(seconds=25)
    # The deadline is the one set before the crash (the sensor's 60 s from its start), not 60 s
    # from the new triggerer's start, and the new triggerer honours it.
    assert deadline - first["started"] <= timedelta(seconds=60)
    assert timedelta(0) <= second["fired"] - deadline <= timedelta(seconds=10)
    for dag_id in ("e2e_flush_wait", "e2e_bulk_insert"):
        assert stack.wait_run(dag_id, runs[dag_id], RUN_TIMEOUT) == "success", dag_id
    assert len(MilvusHook().list_import_tasks(imported)) == 1
    assert row_count(milvus_client, imported) == 700
