"""Data-aware scheduling on a Milvus collection: one DAG writes rows and flushes, updating the
collection's asset; another is scheduled on that asset and searches what landed.

The asset is ``milvus://<host>:<port>/<database>/<collection>``. Here it is spelled out so that the
DAG files parse without a connection; ``MilvusHook(conn_id).collection_asset(name)`` builds the same
URI from a connection. The operators attach what they did to the asset event (the flush:
``flush_ts`` and ``flushed``; an ingest: ``rows`` and ``mode``; a bulk insert: ``import_task_id`` and
``rows``), which the scheduled DAG reads from its triggering events (Airflow 3:
``triggering_asset_events``; Airflow 2 calls them ``triggering_dataset_events``).
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, Asset, task

from airflow_provider_milvus.assets.milvus import collection_uri
from airflow_provider_milvus.hooks.milvus import MilvusHook
from airflow_provider_milvus.operators.milvus import (
    MilvusCreateCollectionOperator,
    MilvusFlushOperator,
    MilvusIngestOperator,
)

COLLECTION = "airflow_assets_example"
DIM = 8
collection_asset = Asset(collection_uri("localhost:19530", "default", COLLECTION))

with DAG(
    "example_milvus_write_asset",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["milvus", "example"],
):

    @task
    def embed() -> list[dict]:
        """Stand-in for an embedding step: rows with a primary key, a vector and a text."""
        return [
            {"id": i, "vector": [((i * 7 + j) % 10) / 10 for j in range(DIM)], "text": f"doc {i}"} for i in range(300)
        ]

    create = MilvusCreateCollectionOperator(
        task_id="create_collection",
        collection_name=COLLECTION,
        schema={
            "fields": [
                {"name": "id", "type": "INT64", "is_primary": True},
                {"name": "vector", "type": "FLOAT_VECTOR", "dim": DIM},
                {"name": "text", "type": "VARCHAR", "max_length": 256},
            ]
        },
        index_params=[{"field_name": "vector", "index_type": "AUTOINDEX", "metric_type": "L2"}],
    )
    ingest = MilvusIngestOperator(task_id="ingest", collection_name=COLLECTION, data=embed(), upsert=True)
    # [START howto_asset_milvus_collection]
    # The asset is updated once the rows are persisted: that is when searching them makes sense.
    flush = MilvusFlushOperator(
        task_id="flush",
        collection_names=COLLECTION,
        wait_for_completion=True,
        deferrable=True,
        poll_interval=10,
        wait_timeout=600,
        outlets=[collection_asset],
    )
    # [END howto_asset_milvus_collection]
    create >> ingest >> flush

# [START howto_asset_milvus_schedule]
with DAG(
    "example_milvus_search_on_asset",
    schedule=[collection_asset],
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["milvus", "example"],
):

    @task
    def search(triggering_asset_events=None, triggering_dataset_events=None) -> dict:
        """Search the collection the triggering events report as written."""
        # Each Airflow passes the events under its own name (the other stays None).
        triggering = triggering_asset_events or triggering_dataset_events or {}
        extras = [event.extra for events in triggering.values() for event in events]
        client = MilvusHook().get_conn()
        client.load_collection(COLLECTION)
        hits = client.search(COLLECTION, data=[[0.5] * DIM], limit=3, output_fields=["text"])
        found = [hit["entity"]["text"] for hit in hits[0]]
        print(f"Triggered by {extras}; nearest: {found}")
        return {"triggered_by": extras, "nearest": found}

    search()
# [END howto_asset_milvus_schedule]
