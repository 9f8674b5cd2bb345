"""DAGs the searchable tests run (with dag.test()): import into an indexed, loaded collection, wait
for the index, refresh the load, check the rows; their inputs come from params."""

from __future__ import annotations

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_milvus.operators.milvus import (
    MilvusBulkInsertOperator,
    MilvusCollectionCheckOperator,
    MilvusCreateCollectionOperator,
    MilvusLoadCollectionOperator,
)
from airflow_provider_milvus.sensors.milvus import MilvusIndexStateSensor
from harness.dags import manual_dag
from tests.integration.helpers import DIM

DAGS: dict[str, DAG] = {}

SCHEMA = {
    "fields": [
        {"name": "id", "type": "INT64", "is_primary": True},
        {"name": "vector", "type": "FLOAT_VECTOR", "dim": DIM},
    ]
}
INDEX = {"field_name": "vector", "index_type": "IVF_FLAT", "metric_type": "L2", "params": {"nlist": 16}}

for mode in ("poke", "reschedule", "deferrable"):
    with manual_dag(
        f"import_then_searchable_{mode}", {"collection": "c", "files": ["f.json"], "rows": 0, "probe": [0.0] * DIM}
    ) as dag:
        deferrable = mode == "deferrable"
        create = MilvusCreateCollectionOperator(
            task_id="create", collection_name="{{ params.collection }}", schema=SCHEMA, index_params=[INDEX], load=True
        )
        imported = MilvusBulkInsertOperator(
            task_id="bulk_insert",
            collection_name="{{ params.collection }}",
            files="{{ params.files }}",
            wait_for_completion=True,
            deferrable=deferrable,
            poll_interval=0.5,
        )
        index = MilvusIndexStateSensor(
            task_id="wait_for_index",
            collection_name="{{ params.collection }}",
            poke_interval=0.5,
            timeout=180,
            mode="reschedule" if mode == "reschedule" else "poke",
            deferrable=deferrable,
        )
        refresh = MilvusLoadCollectionOperator(
            task_id="refresh",
            collection_name="{{ params.collection }}",
            refresh=True,
            deferrable=deferrable,
            poll_interval=0.5,
            wait_timeout=180,
        )
        check = MilvusCollectionCheckOperator(
            task_id="check",
            collection_name="{{ params.collection }}",
            expected_count="{{ params.rows }}",
            probe_vector="{{ params.probe }}",
            limit=3,
        )
        create >> imported >> index >> refresh >> check
    DAGS[dag.dag_id] = dag
