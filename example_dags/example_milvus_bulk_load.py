"""Bulk-load embeddings into Milvus, wait for them without holding worker slots, then search.

create_collection -> write_import_files -> bulk_insert (one mapped task per file)
-> wait_for_import (deferrable, one per import) -> flush -> wait_for_flush (started and ended in
the triggerer on Airflow 3.3+) -> wait_for_index -> refresh (the load, so the imported rows are
searchable now) -> check (the row count the imports reported, and a probe search)

Runs against the ``milvus_default`` connection: the embedded server of ``make demo``, or your own
Milvus. Import files must be where the Milvus server can read them:

- a Milvus with local storage (the embedded one, a single-node Docker with a shared volume): write
  them to a directory it can read and pass absolute paths (``import_dir`` below);
- a Milvus with MinIO or S3: upload each file to the bucket Milvus uses (e.g. with the Amazon
  provider's ``S3Hook.load_file``) and pass the object keys (``"imports/part-0.parquet"``) as
  ``files`` instead of local paths.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import Param, dag, task

from airflow_provider_milvus.operators.milvus import (
    MilvusBulkInsertOperator,
    MilvusCollectionCheckOperator,
    MilvusCreateCollectionOperator,
    MilvusFlushOperator,
    MilvusLoadCollectionOperator,
)
from airflow_provider_milvus.sensors.milvus import (
    MilvusFlushStateSensor,
    MilvusImportStateSensor,
    MilvusIndexStateSensor,
)

DIM = 32


def bulk_load_dag(dag_id: str, *, import_wait: dict[str, Any], flush_wait: dict[str, Any]):
    """The bulk-load DAG, its sensors waiting as ``import_wait`` / ``flush_wait`` say (the
    benchmark of ways to wait builds it with each)."""

    @dag(
        dag_id=dag_id,
        schedule=None,
        start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
        catchup=False,
        tags=["milvus", "example"],
        params={
            "collection": Param("airflow_bulk_load", type="string"),
            "rows_per_file": Param(2000, type="integer", minimum=1),
            # Must be readable by the Milvus server (see the module docstring for MinIO/S3).
            "import_dir": Param(os.environ.get("MILVUS_IMPORT_DIR", "/tmp/milvus-imports"), type="string"),
        },
    )
    def bulk_load():
        @task
        def write_import_files(params=None) -> list[list[str]]:
            """Generate vectors into one Parquet file, one JSON file and one set of NumPy files."""
            import numpy as np
            import pyarrow as pa
            import pyarrow.parquet as pq

            rows = params["rows_per_file"]
            out = Path(params["import_dir"]) / pendulum.now("UTC").format("YYYYMMDDHHmmss")
            out.mkdir(parents=True, exist_ok=True)
            rng = np.random.default_rng(7)

            def batch(part: int) -> tuple[np.ndarray, np.ndarray]:
                ids = np.arange(part * rows, (part + 1) * rows, dtype=np.int64)
                return ids, rng.random((rows, DIM), dtype=np.float32)

            ids, vecs = batch(0)
            parquet = out / "part-0.parquet"
            pq.write_table(pa.table({"id": ids, "vector": pa.array(list(vecs), pa.list_(pa.float32()))}), parquet)

            ids, vecs = batch(1)
            json_file = out / "part-1.json"
            json_file.write_text(
                json.dumps({"rows": [{"id": int(i), "vector": v.tolist()} for i, v in zip(ids, vecs, strict=True)]})
            )

            ids, vecs = batch(2)
            np.save(out / "id.npy", ids)
            np.save(out / "vector.npy", vecs)
            return [[str(parquet)], [str(json_file)], [str(out / "id.npy"), str(out / "vector.npy")]]

        collection = "{{ params.collection }}"
        # [START howto_operator_milvus_create_collection]
        # The collection with a vector index; a run that finds it as declared here goes on.
        create_collection = MilvusCreateCollectionOperator(
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
        # [END howto_operator_milvus_create_collection]
        files = write_import_files()
        create_collection >> files

        # [START howto_operator_milvus_bulk_insert]
        imports = MilvusBulkInsertOperator.partial(task_id="bulk_insert", collection_name=collection).expand(
            files=files
        )
        # [END howto_operator_milvus_bulk_insert]
        # [START howto_sensor_milvus_import_state]
        waits = MilvusImportStateSensor.partial(
            task_id="wait_for_import", poke_interval=10, timeout=600, **import_wait
        ).expand(import_task_id=imports.output)
        # [END howto_sensor_milvus_import_state]

        # [START howto_operator_milvus_flush]
        flush = MilvusFlushOperator(task_id="flush", collection_names=collection)
        # [END howto_operator_milvus_flush]
        # [START howto_sensor_milvus_flush_state]
        wait_for_flush = MilvusFlushStateSensor(
            task_id="wait_for_flush", flush_result=flush.output, poke_interval=10, timeout=600, **flush_wait
        )
        # [END howto_sensor_milvus_flush_state]
        waits >> flush

        # Persisted is not yet searchable: wait for the index, refresh the load, then check.
        # [START howto_sensor_milvus_index_state]
        wait_for_index = MilvusIndexStateSensor(
            task_id="wait_for_index", collection_name=collection, poke_interval=10, timeout=600, **flush_wait
        )
        # [END howto_sensor_milvus_index_state]
        # [START howto_operator_milvus_load_refresh]
        refresh = MilvusLoadCollectionOperator(
            task_id="refresh", collection_name=collection, refresh=True, deferrable=True, poll_interval=5
        )
        # [END howto_operator_milvus_load_refresh]
        # [START howto_operator_milvus_collection_check]
        check = MilvusCollectionCheckOperator(
            task_id="check",
            collection_name=collection,
            import_states=waits.output,
            probe_vector=[0.5] * DIM,
            limit=3,
        )
        # [END howto_operator_milvus_collection_check]
        wait_for_flush >> wait_for_index >> refresh >> check

    return bulk_load()


# The import sensors are mapped, one per file: Airflow starts mapped tasks on a worker, so they
# defer from there (and, on Airflow 3.3, their triggers end them). The flush sensor starts in the
# triggerer (Airflow 3.3+; before, it defers from a worker).
example_milvus_bulk_load = bulk_load_dag(
    "example_milvus_bulk_load",
    import_wait={"deferrable": True},
    flush_wait={"start_from_trigger": True},
)
