"""Bulk-load embeddings into Milvus, wait for them without holding worker slots, then search.

embed -> create_collection -> write_import_files (file groups checked against the collection's
schema) -> bulk_insert (one mapped task per file group) -> wait_for_import (deferrable, one per
import) -> flush -> wait_for_flush (started and ended in the triggerer on Airflow 3.3+) ->
wait_for_index -> refresh (the load, so the imported rows are searchable now) -> check (the row
count the imports reported, and a probe search)

Runs against the ``milvus_default`` connection: the embedded server of ``make demo``, or your own
Milvus. The import files go where the server reads them:

- a Milvus with MinIO or S3 storage: its bucket, named by the connection's ``bucket_name`` extra,
  written with the connection's ``storage_*`` extras (or pass ``aws_conn_id``); leave
  ``import_dir`` empty (``make demo DEMO_ARGS=--s3`` runs it so);
- a Milvus with local storage (the embedded one, a single-node Docker with a shared volume): a
  directory it reads, ``import_dir`` below.
"""

from __future__ import annotations

import os

import pendulum
from airflow.providers.common.compat.sdk import Param, dag, task

from airflow_provider_milvus.operators.milvus import (
    MilvusBulkInsertOperator,
    MilvusBulkWriteOperator,
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


@dag(
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["milvus", "example"],
    params={
        "collection": Param("airflow_bulk_load", type="string"),
        "rows": Param(6000, type="integer", minimum=1),
        # A directory the Milvus server reads, for a server with local storage; empty for MinIO/S3.
        "import_dir": Param(os.environ.get("MILVUS_IMPORT_DIR", "/tmp/milvus-imports"), type="string"),
    },
)
def example_milvus_bulk_load():
    @task
    def embed(params=None) -> dict[str, list]:
        """Stand-in for an embedding step: columns of IDs and vectors."""
        import numpy as np

        rng = np.random.default_rng(7)
        rows = params["rows"]
        return {"id": list(range(rows)), "vector": rng.random((rows, DIM)).round(4).tolist()}

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

    # [START howto_operator_milvus_bulk_write]
    # Files of about 256 KiB each (a few thousand rows here; pymilvus's default is 128 MiB).
    write = MilvusBulkWriteOperator(
        task_id="write_import_files",
        collection_name=collection,
        data=embed(),
        local_path="{{ params.import_dir }}",
        chunk_size=256 * 1024,
    )
    # [END howto_operator_milvus_bulk_write]
    create_collection >> write

    # [START howto_operator_milvus_bulk_insert]
    imports = MilvusBulkInsertOperator.partial(task_id="bulk_insert", collection_name=collection).expand(
        files=write.output
    )
    # [END howto_operator_milvus_bulk_insert]
    # [START howto_sensor_milvus_import_state]
    # Mapped tasks start on a worker: these defer from there (on Airflow 3.3, their triggers end them).
    waits = MilvusImportStateSensor.partial(
        task_id="wait_for_import", poke_interval=10, timeout=600, deferrable=True
    ).expand(import_task_id=imports.output)
    # [END howto_sensor_milvus_import_state]

    # [START howto_operator_milvus_flush]
    flush = MilvusFlushOperator(task_id="flush", collection_names=collection)
    # [END howto_operator_milvus_flush]
    # [START howto_sensor_milvus_flush_state]
    # Started in the triggerer (Airflow 3.3+; before, it defers from a worker).
    wait_for_flush = MilvusFlushStateSensor(
        task_id="wait_for_flush", flush_result=flush.output, poke_interval=10, timeout=600, start_from_trigger=True
    )
    # [END howto_sensor_milvus_flush_state]
    waits >> flush

    # Persisted is not yet searchable: wait for the index, refresh the load, then check.
    # [START howto_sensor_milvus_index_state]
    wait_for_index = MilvusIndexStateSensor(
        task_id="wait_for_index", collection_name=collection, poke_interval=10, timeout=600, start_from_trigger=True
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


example_milvus_bulk_load()
