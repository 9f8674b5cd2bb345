"""DAGs the bulk-insert tests run (with dag.test()); their inputs come from params."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_milvus.operators.milvus import MilvusBulkInsertOperator
from airflow_provider_milvus.sensors.milvus import MilvusImportStateSensor

START = pendulum.datetime(2025, 1, 1, tz="UTC")
DAGS: dict[str, DAG] = {}

for deferrable in (False, True):
    with DAG(
        f"bulk_insert_and_wait_{'deferred' if deferrable else 'in_worker'}",
        schedule=None,
        start_date=START,
        params={"collection": "c", "files": ["f.json"]},
        render_template_as_native_obj=True,
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
    with DAG(
        f"bulk_insert_then_sensor_{mode}",
        schedule=None,
        start_date=START,
        params={"collection": "c", "files": ["f.json"]},
        render_template_as_native_obj=True,
    ) as dag:
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
