"""DAGs the ingest and collection tests run (with dag.test()); their inputs come from params."""

from __future__ import annotations

from airflow.providers.common.compat.sdk import DAG, Asset, task

from airflow_provider_milvus.assets.milvus import collection_uri
from airflow_provider_milvus.operators.milvus import (
    MilvusAliasOperator,
    MilvusBulkInsertOperator,
    MilvusCreateCollectionOperator,
    MilvusFlushOperator,
    MilvusIngestOperator,
)
from harness.dags import manual_dag

DAGS: dict[str, DAG] = {}

SCHEMA = {
    "fields": [
        {"name": "id", "type": "INT64", "is_primary": True},
        {"name": "vector", "type": "FLOAT_VECTOR", "dim": 8},
        {"name": "text", "type": "VARCHAR", "max_length": 64},
    ],
}
INDEX = [{"field_name": "vector", "index_type": "AUTOINDEX", "metric_type": "L2"}]

# Rows computed in a task, written in batches of 500 through its XCom.
for mode in ("insert", "upsert"):
    with manual_dag(f"ingest_from_xcom_{mode}", {"collection": "c", "rows": 10, "bad_row": -1}) as dag:

        @task
        def compute(params=None) -> list[dict]:
            rows = [
                {"id": i, "vector": [float(i % 7) / 7 + j / 100 for j in range(8)], "text": f"row {i}"}
                for i in range(int(params["rows"]))
            ]
            if params["bad_row"] >= 0:  # a vector of the wrong dimension
                rows[params["bad_row"]]["vector"] = [0.5] * 3
            return rows

        create = MilvusCreateCollectionOperator(
            task_id="create", collection_name="{{ params.collection }}", schema=SCHEMA, index_params=INDEX, load=True
        )
        ingest = MilvusIngestOperator(
            task_id="ingest",
            collection_name="{{ params.collection }}",
            data=compute(),
            batch_size=500,
            upsert=mode == "upsert",
        )
        create >> ingest
    DAGS[dag.dag_id] = dag

# Outlets: the collection as an asset; the bulk insert, ingest and flush attach what they did.
ASSET_COLLECTION = "assets_collection"
with manual_dag("write_to_collection_asset", {"files": ["f.json"]}) as dag:
    # The asset of a collection as MilvusHook.collection_asset builds it (the host does not matter here).
    collection_asset = Asset(collection_uri("milvus.example:19530", "default", ASSET_COLLECTION))
    create = MilvusCreateCollectionOperator(
        task_id="create", collection_name=ASSET_COLLECTION, schema=SCHEMA, index_params=INDEX
    )
    imported = MilvusBulkInsertOperator(
        task_id="bulk_insert",
        collection_name=ASSET_COLLECTION,
        files="{{ params.files }}",
        wait_for_completion=True,
        poll_interval=0.5,
        outlets=[collection_asset],
    )
    ingested = MilvusIngestOperator(
        task_id="ingest",
        collection_name=ASSET_COLLECTION,
        data=[{"id": 10_000 + i, "vector": [0.5] * 8, "text": "ingested"} for i in range(5)],
        outlets=[collection_asset],
    )
    flushed = MilvusFlushOperator(
        task_id="flush",
        collection_names=ASSET_COLLECTION,
        wait_for_completion=True,
        poll_interval=0.5,
        outlets=[collection_asset],
    )
    create >> imported >> ingested >> flushed
DAGS[dag.dag_id] = dag

ASSET_ALIAS = "assets_alias"
with manual_dag("switch_alias_asset", {"collection": "c"}) as dag:
    # An alias is an asset like a collection: the switch records an event on it.
    alias_asset = Asset(collection_uri("milvus.example:19530", "default", ASSET_ALIAS))
    MilvusAliasOperator(
        task_id="switch_alias",
        alias=ASSET_ALIAS,
        collection_name="{{ params.collection }}",
        outlets=[alias_asset],
    )
DAGS[dag.dag_id] = dag
