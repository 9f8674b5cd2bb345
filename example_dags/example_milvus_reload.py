"""A full reload without downtime: a new collection per run, filled, made searchable, then swapped
in behind an alias that searches use; the collection the alias named before is dropped.

collection_for_run -> create_collection -> write_import_file -> bulk_insert (waits, deferred)
-> wait_for_index -> load -> check -> swap_alias

Searches go through the alias (``params.alias``) and never see a half-loaded collection: until the
swap they reach the previous run's collection, after it this run's, with none failing in between
(AlterAlias is atomic). Import files must be where the Milvus server reads them (see
example_milvus_bulk_load.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_milvus.operators.milvus import (
    MilvusAliasOperator,
    MilvusBulkInsertOperator,
    MilvusCollectionCheckOperator,
    MilvusCreateCollectionOperator,
    MilvusLoadCollectionOperator,
)
from airflow_provider_milvus.sensors.milvus import MilvusIndexStateSensor

DIM = 32

with DAG(
    "example_milvus_reload",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["milvus", "example"],
    params={
        "alias": Param("airflow_reload", type="string"),
        "rows": Param(2000, type="integer", minimum=1),
        "first_id": Param(0, type="integer", minimum=0),
        "import_dir": Param(os.environ.get("MILVUS_IMPORT_DIR", "/tmp/milvus-imports"), type="string"),
    },
    render_template_as_native_obj=True,
):

    @task
    def collection_for_run(params=None, run_id=None) -> str:
        """A collection name of this run's own: the alias, then a digest of the run ID."""
        return f"{params['alias']}_{hashlib.sha1(run_id.encode()).hexdigest()[:12]}"

    collection = collection_for_run()

    @task
    def write_import_file(params=None, run_id=None) -> list[str]:
        """This run's rows as one JSON rows file where Milvus reads imports."""
        rng = random.Random(params["first_id"])
        rows = [
            {"id": params["first_id"] + i, "vector": [rng.random() for _ in range(DIM)]} for i in range(params["rows"])
        ]
        path = Path(params["import_dir"]) / f"reload-{hashlib.sha1(run_id.encode()).hexdigest()[:12]}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"rows": rows}))
        return [str(path)]

    create = MilvusCreateCollectionOperator(
        task_id="create_collection",
        collection_name=collection,
        schema={
            "fields": [
                {"name": "id", "type": "INT64", "is_primary": True},
                {"name": "vector", "type": "FLOAT_VECTOR", "dim": DIM},
            ]
        },
        index_params=[{"field_name": "vector", "index_type": "IVF_FLAT", "metric_type": "L2", "params": {"nlist": 64}}],
    )
    files = write_import_file()
    create >> files

    # [START howto_operator_milvus_reload]
    imported = MilvusBulkInsertOperator(
        task_id="bulk_insert",
        collection_name=collection,
        files=files,
        wait_for_completion=True,
        deferrable=True,
        poll_interval=5,
    )
    wait_for_index = MilvusIndexStateSensor(
        task_id="wait_for_index", collection_name=collection, deferrable=True, poke_interval=5, timeout=600
    )
    load = MilvusLoadCollectionOperator(task_id="load", collection_name=collection, deferrable=True, poll_interval=5)
    check = MilvusCollectionCheckOperator(
        task_id="check", collection_name=collection, expected_count="{{ params.rows }}"
    )
    swap = MilvusAliasOperator(
        task_id="swap_alias", alias="{{ params.alias }}", collection_name=collection, drop_previous=True
    )
    imported >> wait_for_index >> load >> check >> swap
    # [END howto_operator_milvus_reload]
