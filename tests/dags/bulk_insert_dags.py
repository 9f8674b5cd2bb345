"""DAGs the bulk-insert tests run (with dag.test()); their inputs come from params."""

from __future__ import annotations

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_milvus.operators.milvus import MilvusBulkInsertOperator, MilvusFlushOperator
from airflow_provider_milvus.sensors.milvus import MilvusFlushStateSensor, MilvusImportStateSensor
from harness.dags import manual_dag

DAGS: dict[str, DAG] = {}

for deferrable in (False, True):
    with manual_dag(
        f"bulk_insert_and_wait_{'deferred' if deferrable else 'in_worker'}", {"collection": "c", "files": ["f.json"]}
    ) as dag:
        MilvusBulkInsertOperator(
            task_id="bulk_insert",
            collection_name="{{ params.collection }}",
            files="{{ params.files }}",
            wait_for_completion=True,
            deferrable=deferrable,
            poll_interval=0.5,
            wait_timeout=120,
        )
    DAGS[dag.dag_id] = dag

for mode in ("poke", "deferrable"):
    with manual_dag(f"bulk_insert_then_sensor_{mode}", {"collection": "c", "files": ["f.json"]}) as dag:
        bulk_insert = MilvusBulkInsertOperator(
            task_id="bulk_insert", collection_name="{{ params.collection }}", files="{{ params.files }}"
        )
        MilvusImportStateSensor(
            task_id="wait",
            import_task_id=bulk_insert.output,
            poke_interval=0.5,
            timeout=120,
            deferrable=mode == "deferrable",
        )
    DAGS[dag.dag_id] = dag

# The bulk-load pattern wired through segment IDs: right after an import the flush seals no new
# segment (imported segments are born flushed), so the sensor gets an empty list, the collection
# and the flush timestamp, and must ask Milvus rather than refuse.
with manual_dag("bulk_insert_then_flush_sensor_by_segment_ids", {"collection": "c", "files": ["f.json"]}) as dag:
    imported = MilvusBulkInsertOperator(
        task_id="bulk_insert",
        collection_name="{{ params.collection }}",
        files="{{ params.files }}",
        wait_for_completion=True,
        poll_interval=0.5,
        wait_timeout=120,
    )
    flush = MilvusFlushOperator(task_id="flush", collection_names="{{ params.collection }}")
    flushed = "ti.xcom_pull(task_ids='flush')['collections'][params.collection]"
    wait = MilvusFlushStateSensor(
        task_id="wait_for_flush",
        segment_ids="{{ " + flushed + "['segment_ids'] }}",
        collection_name="{{ params.collection }}",
        flush_ts="{{ " + flushed + "['flush_ts'] }}",
        poke_interval=0.5,
        timeout=120,
        deferrable=True,
    )
    imported >> flush >> wait
DAGS[dag.dag_id] = dag


# What a bulk-load DAG does on every supported Airflow: import, wait for it in the triggerer, then
# flush and wait for that in the triggerer too.
with manual_dag("bulk_insert_sensor_then_flush_deferred", {"collection": "c", "files": ["f.json"]}) as dag:
    imported = MilvusBulkInsertOperator(
        task_id="bulk_insert", collection_name="{{ params.collection }}", files="{{ params.files }}"
    )
    waited = MilvusImportStateSensor(
        task_id="wait_for_import", import_task_id=imported.output, poke_interval=0.5, timeout=120, deferrable=True
    )
    flushed = MilvusFlushOperator(
        task_id="flush",
        collection_names="{{ params.collection }}",
        wait_for_completion=True,
        deferrable=True,
        poll_interval=0.5,
        wait_timeout=120,
    )
    imported >> waited >> flushed
DAGS[dag.dag_id] = dag
