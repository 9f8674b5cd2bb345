"""Bulk insert: hook, operator, import-state sensor and trigger against the real Milvus server."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pendulum
import pytest

from airflow_provider_milvus.exceptions import MilvusError, MilvusWaitFailed
from airflow_provider_milvus.hooks.milvus import MilvusHook
from airflow_provider_milvus.operators.milvus import MilvusBulkInsertOperator
from airflow_provider_milvus.triggers.milvus import MilvusImportStateTrigger
from airflow_provider_milvus.utils.import_resume import CLOCK_SKEW_SECONDS
from airflow_provider_milvus.wait import ImportStateTarget, deadline_after, wait_sync

from .helpers import (
    dag,
    make_collection,
    row_count,
    run_dag,
    task_states,
    unique,
    vectors,
    write_json,
    write_numpy,
    write_parquet,
    xcom,
)

ROWS = 1000


def wait_for_import(task_id: int) -> dict:
    return wait_sync(MilvusHook(), ImportStateTarget(task_id), poll_interval=0.3, deadline=deadline_after(120))


@pytest.mark.parametrize("fmt", ["json", "parquet", "numpy"])
def test_import_each_format_completes(milvus_client, import_dir, fmt, legacy_milvus):
    name = make_collection(milvus_client)
    rows = vectors(ROWS)
    files = {"json": lambda: [write_json(import_dir, rows)], "parquet": lambda: [write_parquet(import_dir, rows)],
             "numpy": lambda: write_numpy(import_dir, rows)}[fmt]()  # fmt: skip
    hook = MilvusHook()
    task_id = hook.bulk_insert(name, files)
    state = wait_for_import(task_id)
    assert state["state"] == "ImportCompleted"
    assert state["id"] == task_id and state["row_count"] == ROWS
    assert row_count(milvus_client, name) == ROWS
    if legacy_milvus:
        assert state["infos"]["files"] == ",".join(files)
        assert any(t["id"] == task_id for t in hook.list_import_tasks(name))
    else:
        legacy_milvus.note("the import state and task listing report the files and the task ID")


@pytest.mark.parametrize("mode", ["in_worker", "deferred"])
def test_operator_waits_for_completion(airflow_db, milvus_client, import_dir, mode):
    name = make_collection(milvus_client)
    run = run_dag(
        dag(f"bulk_insert_and_wait_{mode}"), {"collection": name, "files": [write_parquet(import_dir, vectors(ROWS))]}
    )
    assert task_states(run) == {"bulk_insert": "success"}
    task_id = xcom(run, "bulk_insert")
    state = xcom(run, "bulk_insert", key="import_state")
    assert isinstance(task_id, int) and state["id"] == task_id
    assert state["state"] == "ImportCompleted" and state["row_count"] == ROWS
    assert row_count(milvus_client, name) == ROWS


@pytest.mark.parametrize("mode", ["poke", "deferrable"])
def test_sensor_waits_for_import(airflow_db, milvus_client, import_dir, mode):
    name = make_collection(milvus_client)
    run = run_dag(
        dag(f"bulk_insert_then_sensor_{mode}"), {"collection": name, "files": [write_json(import_dir, vectors(ROWS))]}
    )
    assert task_states(run) == {"bulk_insert": "success", "wait": "success"}
    state = xcom(run, "wait")
    assert state["state"] == "ImportCompleted" and state["id"] == xcom(run, "bulk_insert")
    assert row_count(milvus_client, name) == ROWS


BAD_FILES = {
    "content does not match the schema": lambda d: [write_json(d, [{"id": 1, "not_a_field": [0.1]}])],
    "missing file": lambda d: [str(d / "does-not-exist.json")],
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_failed_import_fails_with_milvus_reason(milvus_client, import_dir, case):
    name = make_collection(milvus_client)
    task_id = MilvusHook().bulk_insert(name, BAD_FILES[case](import_dir))
    with pytest.raises(MilvusWaitFailed) as err:
        wait_for_import(task_id)
    assert err.value.result["state"] == "ImportFailed"
    reason = err.value.result["failed_reason"]
    assert reason and reason in str(err.value)


@pytest.mark.parametrize("mode", ["in_worker", "deferred"])
@pytest.mark.parametrize("case", BAD_FILES)
def test_failed_import_fails_the_task(airflow_db, milvus_client, import_dir, mode, case):
    name = make_collection(milvus_client)
    run = run_dag(dag(f"bulk_insert_and_wait_{mode}"), {"collection": name, "files": BAD_FILES[case](import_dir)})
    assert task_states(run) == {"bulk_insert": "failed"}
    state = xcom(run, "bulk_insert", key="import_state")
    assert state["state"] == "ImportFailed" and state["failed_reason"]


def test_sensor_fails_at_once_on_failed_import(airflow_db, milvus_client, import_dir):
    name = make_collection(milvus_client)
    run = run_dag(
        dag("bulk_insert_then_sensor_deferrable"), {"collection": name, "files": BAD_FILES["missing file"](import_dir)}
    )
    # The sensor's timeout is 120 s; it fails on ImportFailed instead of waiting for it.
    assert task_states(run) == {"bulk_insert": "success", "wait": "failed"}


def test_milvus_errors_carry_code_and_reason(milvus_client, import_dir, legacy_milvus):
    name = make_collection(milvus_client)
    hook = MilvusHook()
    path = write_json(import_dir, vectors(10))
    with pytest.raises(MilvusError, match=r"code 200\).*partition not found"):
        hook.bulk_insert(name, [path], partition_name="no_such_partition")
    with pytest.raises(MilvusError, match="collection not found"):
        hook.bulk_insert("no_such_collection", [path])
    if legacy_milvus:
        with pytest.raises(MilvusError, match=r"GetImportState failed \(code 1000\).*key not found"):
            hook.get_import_state(123456789)
    else:
        legacy_milvus.note("an unknown import task ID is answered with code 1000 'key not found'")


def test_retried_task_without_task_store_reattaches_by_files(milvus_client, import_dir, legacy_milvus):
    """The fallback for Airflow without a task state store: only Milvus 2.2/2.3 list the files."""
    if not legacy_milvus:
        legacy_milvus.note("a retry without a task state store finds its running import by its files")
        return
    name = make_collection(milvus_client)
    files = [write_json(import_dir, vectors(50_000))]
    first = MilvusHook().bulk_insert(name, files)
    pushed = {}
    context = {"ti": SimpleNamespace(try_number=2, xcom_push=lambda key, value: pushed.__setitem__(key, value))}
    operator = MilvusBulkInsertOperator(
        task_id="bulk_insert", collection_name=name, files=files, wait_for_completion=True, poll_interval=0.3
    )
    assert operator.execute(context) == first
    assert pushed["import_state"]["state"] == "ImportCompleted"
    assert [t["id"] for t in MilvusHook().list_import_tasks(name)] == [first]
    assert row_count(milvus_client, name) == 50_000


def test_retry_without_task_store_takes_a_completed_import_only_from_its_own_run(
    milvus_client, import_dir, legacy_milvus
):
    """The earlier try died just before its import completed: the retry takes that import, not a
    second one. An import of the same files that completed before the run began is another run's."""
    if not legacy_milvus:
        legacy_milvus.note("a retry without a task state store finds its completed import by its files")
        return
    name = make_collection(milvus_client)
    files = [write_json(import_dir, vectors(300))]
    run_started = pendulum.now("UTC").subtract(seconds=2)
    first = MilvusHook().bulk_insert(name, files)
    wait_for_import(first)

    def retry(run_start: pendulum.DateTime) -> int:
        context = {
            "ti": SimpleNamespace(try_number=2, xcom_push=lambda key, value: None),
            "dag_run": SimpleNamespace(start_date=run_start),
        }
        operator = MilvusBulkInsertOperator(
            task_id="bulk_insert", collection_name=name, files=files, wait_for_completion=True, poll_interval=0.3
        )
        return operator.execute(context)

    assert retry(run_started) == first
    assert row_count(milvus_client, name) == 300
    # A later run, retried: the completed import is older than the run (by more than the allowance
    # for clock skew between worker and Milvus), so it imports anew.
    second = retry(pendulum.now("UTC").add(seconds=CLOCK_SKEW_SECONDS + 5))
    assert second != first
    assert sorted(t["id"] for t in MilvusHook().list_import_tasks(name)) == sorted([first, second])


def test_trigger_roundtrip_and_run(milvus_client, import_dir):
    name = make_collection(milvus_client)
    task_id = MilvusHook().bulk_insert(name, [write_json(import_dir, vectors(ROWS))])
    _, kwargs = MilvusImportStateTrigger(import_task_id=task_id, poll_interval=0.3).serialize()
    event = asyncio.run(asyncio.wait_for(anext(MilvusImportStateTrigger(**kwargs).run()), 90))
    assert event.payload["status"] == "success"
    assert event.payload["import_state"]["state"] == "ImportCompleted"
    assert event.payload["import_state"]["row_count"] == ROWS


def test_file_type_is_judged_by_the_server(milvus_client, import_dir, milvus_version):
    """No client-side list of formats: 2.5 imports CSV, 2.6 JSONL; older servers fail the task."""
    name = make_collection(milvus_client)
    path = import_dir / f"{unique('rows')}.csv"
    path.write_text("id,vector\n" + "".join(f'{r["id"]},"{r["vector"]}"\n' for r in vectors(20)))
    task_id = MilvusHook().bulk_insert(name, [str(path)])  # accepted as a request
    if milvus_version >= (2, 5):
        assert wait_for_import(task_id)["row_count"] == 20
        return
    with pytest.raises(MilvusWaitFailed, match="unsupported file type") as err:
        wait_for_import(task_id)
    assert str(path) in err.value.result["failed_reason"]


def test_import_sensor_and_flush_in_one_dag(airflow_db, milvus_client, import_dir):
    name = make_collection(milvus_client)
    run = run_dag(
        dag("bulk_insert_sensor_then_flush_deferred"),
        {"collection": name, "files": [write_parquet(import_dir, vectors(ROWS))]},
    )
    assert task_states(run) == {"bulk_insert": "success", "wait_for_import": "success", "flush": "success"}
    assert xcom(run, "wait_for_import")["state"] == "ImportCompleted"
    assert xcom(run, "flush")["flushed"] is True
    assert row_count(milvus_client, name) == ROWS
