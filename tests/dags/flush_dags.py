"""DAGs the flush tests run (with dag.test()); their inputs come from params."""

from __future__ import annotations

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_milvus.operators.milvus import MilvusFlushOperator
from airflow_provider_milvus.sensors.milvus import MilvusFlushStateSensor
from harness.dags import manual_dag

DAGS: dict[str, DAG] = {}

for deferrable in (False, True):
    with manual_dag(
        f"flush_and_wait_{'deferred' if deferrable else 'in_worker'}", {"collections": ["c"], "db_name": ""}
    ) as dag:
        MilvusFlushOperator(
            task_id="flush",
            collection_names="{{ params.collections }}",
            db_name="{{ params.db_name }}",
            wait_for_completion=True,
            deferrable=deferrable,
            poll_interval=0.5,
            wait_timeout=120,
        )
    DAGS[dag.dag_id] = dag

for mode in ("poke", "reschedule", "deferrable"):
    with manual_dag(f"flush_then_sensor_{mode}", {"collection": "c"}, native=False) as dag:
        flush = MilvusFlushOperator(task_id="flush", collection_names="{{ params.collection }}")
        MilvusFlushStateSensor(
            task_id="wait",
            flush_result=flush.output,
            poke_interval=0.5,
            timeout=120,
            mode="reschedule" if mode == "reschedule" else "poke",
            deferrable=mode == "deferrable",
        )
    DAGS[dag.dag_id] = dag

for soft_fail in (False, True):
    with manual_dag(
        f"flush_sensor_deadline{'_soft_fail' if soft_fail else ''}",
        {"collection": "c", "segment_ids": [1], "flush_ts": 1},
        native=False,
    ) as dag:
        # Templates render lists as text ("[1, 2]"); the sensor reads them back as lists.
        MilvusFlushStateSensor(
            task_id="wait",
            segment_ids="{{ params.segment_ids }}",
            collection_name="{{ params.collection }}",
            flush_ts="{{ params.flush_ts }}",
            poke_interval=0.5,
            timeout=2,
            soft_fail=soft_fail,
            deferrable=True,
        )
    DAGS[dag.dag_id] = dag
