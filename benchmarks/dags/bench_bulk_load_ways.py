"""A bulk-load DAG once per way its sensors can wait, for benchmarks/dag_waits.py: the example DAG's
import and flush steps (three mapped imports and their sensors, a flush and its sensor), the same
tasks in each way but for how the sensors wait.

(The airflow dag-processor parses a file only if it names both "airflow" and "dag".)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_milvus.operators.milvus import (
    MilvusBulkInsertOperator,
    MilvusCreateCollectionOperator,
    MilvusFlushOperator,
)
from airflow_provider_milvus.sensors.milvus import MilvusFlushStateSensor, MilvusImportStateSensor

DIM = 32
FILES = 3
POKE_INTERVAL = 10  # as the example DAG's sensors

# How the sensors wait in each way: poke mode holds a worker slot for the whole wait; deferrable
# sensors start on a worker, wait in the triggerer and resume on a worker; started from the
# trigger, the scheduler starts them in the triggerer, which ends them (Airflow 3.3+).
WAYS: dict[str, dict[str, Any]] = {
    "poke": {"mode": "poke", "deferrable": False},
    "deferrable": {"deferrable": True},
    "start_from_trigger": {"start_from_trigger": True},
}


@task
def write_import_files(params=None) -> list[list[str]]:
    """One Parquet file of ``rows_per_file`` rows per import."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = params["rows_per_file"]
    out = Path(params["import_dir"]) / pendulum.now("UTC").format("YYYYMMDDHHmmssSSS")
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    groups = []
    for part in range(FILES):
        ids = np.arange(part * rows, (part + 1) * rows, dtype=np.int64)
        vectors = rng.random((rows, DIM), dtype=np.float32)
        path = out / f"part-{part}.parquet"
        pq.write_table(pa.table({"id": ids, "vector": pa.array(list(vectors), pa.list_(pa.float32()))}), path)
        groups.append([str(path)])
    return groups


def bulk_load(way: str, wait: dict[str, Any]) -> DAG:
    with DAG(
        dag_id=f"bench_bulk_load_{way}",
        schedule=None,
        start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
        catchup=False,
        params={"collection": Param("bench_bulk_load", type="string"), "rows_per_file": 2000, "import_dir": ""},
    ) as dag:
        collection = "{{ params.collection }}"
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
        files = write_import_files()
        create >> files
        imports = MilvusBulkInsertOperator.partial(task_id="bulk_insert", collection_name=collection).expand(
            files=files
        )
        waits = MilvusImportStateSensor.partial(
            task_id="wait_for_import", poke_interval=POKE_INTERVAL, timeout=600, **wait
        ).expand(import_task_id=imports.output)
        flush = MilvusFlushOperator(task_id="flush", collection_names=collection)
        waits >> flush
        MilvusFlushStateSensor(
            task_id="wait_for_flush", flush_result=flush.output, poke_interval=POKE_INTERVAL, timeout=600, **wait
        )
    return dag


DAGS = {way: bulk_load(way, wait) for way, wait in WAYS.items()}
