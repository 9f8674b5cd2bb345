"""DAGs the end-to-end tests run through a real scheduler and triggerer, next to the examples."""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.common.compat.sdk import XComArg, task

from airflow_provider_milvus.operators.milvus import MilvusBulkInsertOperator, MilvusFlushOperator
from airflow_provider_milvus.sensors.milvus import MilvusFlushStateSensor, MilvusImportStateSensor
from harness.dags import manual_dag

with manual_dag("e2e_bulk_insert", {"collection": "c", "files": ["f.json"]}):
    MilvusBulkInsertOperator(
        task_id="bulk_insert",
        collection_name="{{ params.collection }}",
        files="{{ params.files }}",
        wait_for_completion=True,
        deferrable=True,
        poll_interval=10,
        wait_timeout=120,
    )

# Waits in the worker, whose process the test kills mid-wait: the retry must find the import the
# first try started (through the task state store) instead of starting a second one.
with manual_dag("e2e_bulk_insert_retry", {"collection": "c", "files": ["f.json"]}):
    MilvusBulkInsertOperator(
        task_id="bulk_insert",
        collection_name="{{ params.collection }}",
        files="{{ params.files }}",
        wait_for_completion=True,
        deferrable=False,
        poll_interval=10,  # see the test: the worker is killed between two polls
        wait_timeout=300,
        retries=1,
        retry_delay=timedelta(seconds=1),
    )

# Killed 0-50 ms after Milvus logs their Import, as a worker lost to an OOM kill would be: the
# retry must take the import the killed try started, whether it recorded its ID or not.
for dag_id, wait in (("e2e_bulk_insert_killed_waiting", True), ("e2e_bulk_insert_killed", False)):
    with manual_dag(dag_id, {"collection": "c", "files": ["f.json"]}, max_active_runs=32):
        MilvusBulkInsertOperator(
            task_id="bulk_insert",
            collection_name="{{ params.collection }}",
            files="{{ params.files }}",
            wait_for_completion=wait,
            deferrable=True,  # the first poll comes one interval after the Import, in the triggerer
            poll_interval=5,
            wait_timeout=300,
            retries=2,
            retry_delay=timedelta(seconds=1),
        )

# Intervals and timeouts of 5 s and more: a trigger that fires within seconds of its deferral
# can hit an Airflow 3.3 scheduler race (apache/airflow#71580).
for dag_id, poke_interval, timeout, soft_fail in (
    ("e2e_flush_wait", 10, 120, False),
    ("e2e_flush_timeout", 5, 20, False),
    ("e2e_flush_timeout_soft_fail", 5, 20, True),
    ("e2e_flush_deadline", 5, 60, False),  # outlives a triggerer crash
):
    with manual_dag(dag_id, {"collection": "c", "segment_ids": [1], "flush_ts": 1}):
        MilvusFlushStateSensor(
            task_id="wait",
            segment_ids="{{ params.segment_ids }}",
            collection_name="{{ params.collection }}",
            flush_ts="{{ params.flush_ts }}",
            poke_interval=poke_interval,
            timeout=timeout,
            soft_fail=soft_fail,
            deferrable=True,
        )

# Credentials on both paths, worker and triggerer: a password (milvus_password) on the import and
# its trigger, a token (milvus_token) on the flush and its sensor's trigger.
with manual_dag("e2e_secrets", {"collection": "c", "files": ["f.json"]}):
    imported = MilvusBulkInsertOperator(
        task_id="bulk_insert",
        milvus_conn_id="milvus_password",
        collection_name="{{ params.collection }}",
        files="{{ params.files }}",
        wait_for_completion=True,
        deferrable=True,
        poll_interval=5,
        wait_timeout=120,
    )
    flush = MilvusFlushOperator(
        task_id="flush", milvus_conn_id="milvus_token", collection_names="{{ params.collection }}"
    )
    wait = MilvusFlushStateSensor(
        task_id="wait",
        milvus_conn_id="milvus_token",
        flush_result=flush.output,
        poke_interval=5,
        timeout=120,
        deferrable=True,
    )
    imported >> flush >> wait

# Sensors the scheduler starts in the triggerer (Airflow 3.3+), with each kind of input: a task's
# output, a template, a mapped task's outputs; and operators whose deferred waits end there. The
# last task checks the XComs they left, value and type, as a downstream task receives them.
with manual_dag("e2e_start_from_trigger", {"collection": "c", "files": ["f.json"], "more_files": [["f.json"]]}):
    started = MilvusBulkInsertOperator(
        task_id="bulk_insert", collection_name="{{ params.collection }}", files="{{ params.files }}"
    )
    waits = {"poke_interval": 5, "timeout": 120, "start_from_trigger": True}
    by_output = MilvusImportStateSensor(task_id="wait_by_output", import_task_id=started.output, **waits)
    by_template = MilvusImportStateSensor(
        task_id="wait_by_template",
        import_task_id="{{ ti.xcom_pull(task_ids='bulk_insert', map_indexes=-1) }}",
        **waits,
    )

    @task
    def more_files(params: dict | None = None) -> list:
        return (params or {})["more_files"]

    started_mapped = MilvusBulkInsertOperator.partial(
        task_id="bulk_insert_mapped", collection_name="{{ params.collection }}"
    ).expand(files=more_files())
    mapped = MilvusImportStateSensor.partial(task_id="wait_mapped", **waits).expand(
        import_task_id=started_mapped.output
    )
    flush = MilvusFlushOperator(task_id="flush", collection_names="{{ params.collection }}")
    wait_flush = MilvusFlushStateSensor(task_id="wait_flush", flush_result=flush.output, **waits)
    flush_and_wait = MilvusFlushOperator(
        task_id="flush_and_wait",
        collection_names="{{ params.collection }}",
        wait_for_completion=True,
        deferrable=True,
        poll_interval=5,
        wait_timeout=120,
    )
    import_and_wait = MilvusBulkInsertOperator(
        task_id="import_and_wait",
        collection_name="{{ params.collection }}",
        files="{{ params.files }}",
        wait_for_completion=True,
        deferrable=True,
        poll_interval=5,
        wait_timeout=120,
    )

    @task
    def check_xcoms(by_output, by_template, mapped, flushed, flush_result, imported, import_state) -> str:
        states = [by_output, by_template, *mapped, import_state]
        assert all(isinstance(s, dict) and s["state"] == "ImportCompleted" for s in states), states
        assert flushed is None, flushed
        assert isinstance(flush_result, dict) and flush_result["flushed"] is True, flush_result
        assert isinstance(imported, int) and imported > 0, imported
        summary = f"XCOMS OK rows={[s['row_count'] for s in states]} imported={imported}"
        print(summary)
        return summary

    started >> by_template  # a template names no upstream task: the dependency is set here
    [by_output, by_template, mapped] >> flush >> wait_flush >> flush_and_wait >> import_and_wait
    check_xcoms(
        by_output.output,
        by_template.output,
        mapped.output,
        wait_flush.output,
        flush_and_wait.output,
        import_and_wait.output,
        XComArg(import_and_wait, key="import_state"),
    )

# A sensor started in the triggerer that must fail (a failed import, an input that does not render
# to an ID) or skip (a timeout with soft_fail), still without a worker.
with manual_dag("e2e_start_from_trigger_import", {"import_task_id": 0}):
    MilvusImportStateSensor(
        task_id="wait",
        import_task_id="{{ params.import_task_id }}",
        poke_interval=5,
        timeout=120,
        start_from_trigger=True,
    )
with manual_dag("e2e_start_from_trigger_timeout", {"collection": "c", "segment_ids": [1], "flush_ts": 1}):
    MilvusFlushStateSensor(
        task_id="wait",
        segment_ids="{{ params.segment_ids }}",
        collection_name="{{ params.collection }}",
        flush_ts="{{ params.flush_ts }}",
        poke_interval=5,
        timeout=20,
        soft_fail=True,
        start_from_trigger=True,
    )
