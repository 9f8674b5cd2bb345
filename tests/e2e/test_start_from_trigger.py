"""Waits that never touch a worker (Airflow 3.3): sensors the scheduler starts in the triggerer,
and deferred waits whose triggers end their tasks, through a real scheduler and triggerer."""

from __future__ import annotations

import pytest

from airflow_provider_milvus.hooks.milvus import MilvusHook
from tests.e2e.helpers import TEST_TIMEOUT, run
from tests.integration.helpers import make_collection, row_count, vectors, write_json

pytestmark = pytest.mark.timeout(TEST_TIMEOUT)


def test_sensors_started_in_the_triggerer_succeed_without_a_worker(stack, milvus_client, import_dir):
    collection = make_collection(milvus_client)
    files = [write_json(import_dir, vectors(400))]
    more_files = [[write_json(import_dir, vectors(300, start=10_000 * (i + 1)))] for i in range(2)]
    state, tasks = run(
        stack,
        "e2e_start_from_trigger",
        {"collection": collection, "files": files, "more_files": more_files},
    )
    assert state == "success", {k: v.state for k, v in tasks.items()}
    records = stack.task_instances("e2e_start_from_trigger", stack.runs("e2e_start_from_trigger")[-1]["run_id"])
    for task_id in ("wait_by_output", "wait_by_template", "wait_flush"):
        task, record = tasks[(task_id, -1)], records[(task_id, -1)]
        assert task.state == "success"
        # Started and ended by the triggerer: no worker ever ran it.
        assert not record["hostname"] and record["pid"] is None, record
        assert task.worker_runs == 0, task.log
        assert "the task succeeds" in task.log
    # Airflow starts no mapped task in the triggerer: each runs on a worker once, and its trigger ends it.
    for index in (0, 1):
        assert tasks[("wait_mapped", index)].state == "success"
        assert tasks[("wait_mapped", index)].worker_runs == 1
    # A waiting operator runs once on a worker; its trigger ends it.
    for task_id in ("flush_and_wait", "import_and_wait"):
        assert tasks[(task_id, -1)].worker_runs == 1, tasks[(task_id, -1)].log
        assert "the task succeeds" in tasks[(task_id, -1)].log
    # The downstream task got every XCom with its type (it asserts them) and says so.
    assert "XCOMS OK rows=[400, 400, 300, 300, 400]" in tasks[("check_xcoms", -1)].log
    assert row_count(milvus_client, collection) == 400 + 600 + 400


def test_failed_import_fails_the_sensor_in_the_triggerer_with_milvus_reason(stack, milvus_client, import_dir):
    collection = make_collection(milvus_client)
    broken = write_json(import_dir, [{"id": 1, "no_such_field": [0.5]}])
    import_task_id = MilvusHook().bulk_insert(collection, [broken])
    state, tasks = run(stack, "e2e_start_from_trigger_import", {"import_task_id": import_task_id})
    wait = tasks[("wait", -1)]
    assert state == "failed" and wait.state == "failed"
    reason = MilvusHook().get_import_state(import_task_id)["failed_reason"]
    assert reason and reason in wait.log and "ImportFailed" in wait.log
    assert wait.worker_runs == 0


def test_an_input_that_renders_to_no_id_fails_the_sensor_clearly(stack):
    state, tasks = run(stack, "e2e_start_from_trigger_import", {"import_task_id": "not-an-id"})
    wait = tasks[("wait", -1)]
    assert state == "failed" and wait.state == "failed"
    assert "import_task_id must be an integer import task ID, got 'not-an-id'" in wait.log
    assert wait.worker_runs == 0


def test_timeout_with_soft_fail_skips_the_sensor_in_the_triggerer(stack, milvus_client):
    collection = make_collection(milvus_client, rows=100)
    segments = MilvusHook().flush(collection)["collections"][collection]["segment_ids"]
    conf = {"collection": collection, "segment_ids": segments, "flush_ts": 2**62}  # never flushed
    state, tasks = run(stack, "e2e_start_from_trigger_timeout", conf)
    wait = tasks[("wait", -1)]
    assert state == "success" and wait.state == "skipped"
    assert "Timed out waiting for flush of" in wait.log and "skipping the task (soft_fail)" in wait.log
    assert wait.worker_runs == 0
