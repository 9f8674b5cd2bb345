"""End to end: real scheduler, dag-processor, triggerer and api-server (`airflow standalone`)
running the example DAG and failure cases against the real Milvus server."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from airflow_provider_milvus.hooks.milvus import MilvusHook
from demo.stack import AirflowStack
from tests.integration.helpers import make_collection, row_count, vectors, write_json

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DAG = "example_milvus_bulk_load"
E2E_DAGS = ["e2e_bulk_insert", "e2e_flush_wait", "e2e_flush_timeout", "e2e_flush_timeout_soft_fail"]
RUN_TIMEOUT = 180


def tso(seconds_from_now: float) -> int:
    """A Milvus hybrid timestamp: physical milliseconds shifted past 18 logical bits."""
    return int((time.time() + seconds_from_now) * 1000) << 18


def flush_when_deferred(stack: AirflowStack, dag_id: str, run_id: str, collection: str, client) -> threading.Thread:
    """Once the sensor's trigger runs, insert a row and flush: the checkpoint then passes its flush_ts."""

    def work() -> None:
        logs = stack.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline and not list(logs.rglob("attempt=*.log.trigger.*.log")):
            time.sleep(0.5)
        time.sleep(2)  # let the trigger poll "not flushed" at least once
        client.insert(collection, vectors(1, start=10**6))
        MilvusHook().flush(collection)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="module")
def stack(milvus_server, tmp_path_factory):
    dags = tmp_path_factory.mktemp("dags")
    for dag_file in [*(ROOT / "example_dags").glob("*.py"), Path(__file__).parent / "dags" / "e2e_dags.py"]:
        shutil.copy(dag_file, dags)
    env = {
        "AIRFLOW_CONN_MILVUS_DEFAULT": milvus_server["uri"].replace("http://", "milvus://"),
        "MILVUS_IMPORT_DIR": str(milvus_server["import_dir"]),
    }
    airflow = AirflowStack(tmp_path_factory.mktemp("airflow-home"), dags, env).start()
    try:
        airflow.wait_parsed([EXAMPLE_DAG, *E2E_DAGS])
        yield airflow
    finally:
        airflow.stop()


def run(stack: AirflowStack, dag_id: str, conf: dict, while_running=None) -> tuple[str, dict]:
    run_id = stack.trigger(dag_id, conf)
    if while_running:
        while_running(run_id)
    state = stack.wait_run(dag_id, run_id, RUN_TIMEOUT)
    return state, {(t.task_id, t.map_index): t for t in stack.task_results(dag_id, run_id)}


def test_bulk_load_example_succeeds_with_deferred_sensors(stack, milvus_client):
    collection = "e2e_bulk_load"
    state, tasks = run(stack, EXAMPLE_DAG, {"collection": collection, "rows_per_file": 1500})
    assert state == "success", {k: v.state for k, v in tasks.items()}
    assert all(t.state == "success" for t in tasks.values())
    assert row_count(milvus_client, collection) == 3 * 1500
    sensors = [t for (task_id, _), t in tasks.items() if task_id == "wait_for_import"]
    assert len(sensors) == 3
    for sensor in sensors:
        # Deferred to the triggerer, unless the import was already complete at the sensor's first poke.
        assert sensor.trigger_seconds is not None or "ImportCompleted" in sensor.log
        if sensor.trigger_seconds is not None:
            assert "Trigger fired event" in sensor.log


def test_sensor_really_waits_in_the_triggerer(stack, milvus_client):
    collection = make_collection(milvus_client, rows=100)
    segments = MilvusHook().flush(collection)["collections"][collection]["segment_ids"]
    # Flushed only once a checkpoint passes a moment after now, which takes another flush: the
    # sensor has to defer, and its trigger sees it flushed once the test flushes again.
    conf = {"collection": collection, "segment_ids": segments, "flush_ts": tso(1)}
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
