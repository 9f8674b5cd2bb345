"""DAGs the end-to-end tests run through a real scheduler and triggerer, next to the examples."""

from __future__ import annotations

from datetime import timedelta

from airflow_provider_milvus.operators.milvus import MilvusBulkInsertOperator, MilvusFlushOperator
from airflow_provider_milvus.sensors.milvus import MilvusFlushStateSensor
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
        poll_interval=1,
        wait_timeout=300,
        retries=1,
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
