"""The ingest DAG of the fault campaign (benchmarks/chaos.py): rows computed in a task, upserted in
batches (a retried ingest writes its batches again, and an upsert replaces rows by primary key, as
docs/operators/ingest.md advises), flushed, and waited for in the triggerer.

(The airflow dag-processor parses a file only if it names both "airflow" and "dag".)
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_milvus.operators.milvus import (
    MilvusCreateCollectionOperator,
    MilvusFlushOperator,
    MilvusIngestOperator,
)
from airflow_provider_milvus.sensors.milvus import MilvusFlushStateSensor

DIM = 8

with DAG(
    dag_id="chaos_ingest",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=8,
    params={"collection": Param("chaos_ingest", type="string"), "rows": Param(3000, type="integer")},
) as dag:
    collection = "{{ params.collection }}"

    @task
    def compute(params=None) -> list[dict]:
        return [{"id": i, "vector": [(i % 97) / 97 + j / 100 for j in range(DIM)]} for i in range(params["rows"])]

    create = MilvusCreateCollectionOperator(
        task_id="create_collection",
        collection_name=collection,
        schema={
            "fields": [
                {"name": "id", "type": "INT64", "is_primary": True},
                {"name": "vector", "type": "FLOAT_VECTOR", "dim": DIM},
            ]
        },
        index_params=[{"field_name": "vector", "index_type": "AUTOINDEX", "metric_type": "L2"}],
        load=True,
    )
    ingest = MilvusIngestOperator(
        task_id="ingest", collection_name=collection, data=compute(), upsert=True, batch_size=500
    )
    create >> ingest
    flush = MilvusFlushOperator(task_id="flush", collection_names=collection)
    ingest >> flush
    MilvusFlushStateSensor(
        task_id="wait_for_flush", flush_result=flush.output, poke_interval=5, timeout=600, deferrable=True
    )
