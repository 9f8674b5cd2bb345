"""What the end-to-end tests share: the DAGs the stack parses, and running and reading them."""

from __future__ import annotations

import threading
import time
from importlib.metadata import version
from pathlib import Path

from packaging.version import Version

from airflow_provider_milvus.hooks.milvus import MilvusHook
from harness.airflow import AirflowStack
from harness.processes import wait_until
from tests.integration.helpers import vectors

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DAG = "example_milvus_bulk_load"
ASSET_DAGS = ["example_milvus_write_asset", "example_milvus_search_on_asset"]
E2E_DAGS = [
    *ASSET_DAGS,
    "e2e_bulk_insert",
    "e2e_bulk_insert_retry",
    "e2e_bulk_insert_killed_waiting",
    "e2e_bulk_insert_killed",
    "e2e_flush_wait",
    "e2e_flush_timeout",
    "e2e_flush_timeout_soft_fail",
    "e2e_flush_deadline",
    "e2e_secrets",
    "e2e_start_from_trigger",
    "e2e_start_from_trigger_import",
    "e2e_start_from_trigger_timeout",
]
# Credentials of the secrets test: Milvus without authorization ignores them, logs must too.
SECRET_PASSWORD = "pw-7f3a9c1e-never-logged"
SECRET_TOKEN = "tok-51d2b8e4-never-logged"
# A guard against a run that hangs, not a measure: a run of the example DAG takes about 90 s on an
# idle machine, and four times that beside the other sessions of the test command.
RUN_TIMEOUT = 600
# pytest-timeout's limit for a test that waits for runs: the stack's start (in the first test's setup)
# and a run, each at its slowest.
TEST_TIMEOUT = RUN_TIMEOUT + 600
# Airflow 3.3+ gives each task a state store: a retried bulk insert finds its import there. Older
# versions fall back to an import of the same files in Milvus's listing (files: Milvus 2.2/2.3 only).
HAS_TASK_STATE_STORE = Version(version("apache-airflow")).release >= (3, 3)


def trigger_logs(stack: AirflowStack, dag_id: str, run_id: str) -> list[Path]:
    return list((stack.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}").rglob("attempt=*.log.trigger.*.log"))


def wait_deferred(stack: AirflowStack, dag_id: str, run_id: str) -> None:
    """Until a task of the run has deferred and its trigger runs in the triggerer."""
    wait_until(f"a trigger of {dag_id} {run_id}", lambda: trigger_logs(stack, dag_id, run_id), RUN_TIMEOUT, 0.5)


def flush_when_deferred(stack: AirflowStack, dag_id: str, run_id: str, collection: str, client) -> threading.Thread:
    """Once the sensor's trigger runs, insert a row and flush: the checkpoint then passes its flush_ts."""

    def work() -> None:
        wait_deferred(stack, dag_id, run_id)
        time.sleep(2)  # let the trigger poll "not flushed" at least once
        client.insert(collection, vectors(1, start=10**6))
        MilvusHook().flush(collection)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def run(stack: AirflowStack, dag_id: str, conf: dict, while_running=None) -> tuple[str, dict]:
    run_id = stack.trigger(dag_id, conf)
    if while_running:
        while_running(run_id)
    state = stack.wait_run(dag_id, run_id, RUN_TIMEOUT)
    return state, {(t.task_id, t.map_index): t for t in stack.task_results(dag_id, run_id)}
