"""Write rows computed in a task into Milvus, in batches: the small case (thousands of rows), where
a bulk insert from files is more than needed.

create_collection -> create_index (waits until built) -> load -> embed (rows as XCom) -> ingest
(upsert: a re-run replaces the rows, never duplicates them)
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_milvus.operators.milvus import (
    MilvusCreateCollectionOperator,
    MilvusCreateIndexOperator,
    MilvusIngestOperator,
    MilvusLoadCollectionOperator,
)

DIM = 8

with DAG(
    "example_milvus_ingest",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["milvus", "example"],
    params={"collection": Param("airflow_ingest", type="string"), "rows": Param(100, type="integer", minimum=1)},
    render_template_as_native_obj=True,
):
    create = MilvusCreateCollectionOperator(
        task_id="create_collection",
        collection_name="{{ params.collection }}",
        schema={
            "fields": [
                {"name": "id", "type": "INT64", "is_primary": True},
                {"name": "vector", "type": "FLOAT_VECTOR", "dim": DIM},
                {"name": "text", "type": "VARCHAR", "max_length": 256},
            ]
        },
    )

    # [START howto_operator_milvus_create_index]
    create_index = MilvusCreateIndexOperator(
        task_id="create_index",
        collection_name="{{ params.collection }}",
        index_params=[{"field_name": "vector", "index_type": "AUTOINDEX", "metric_type": "L2"}],
        wait_for_completion=True,
    )
    load = MilvusLoadCollectionOperator(task_id="load", collection_name="{{ params.collection }}")
    # [END howto_operator_milvus_create_index]

    @task
    def embed(params=None) -> list[dict]:
        """Stands in for a model: one vector per document."""
        return [
            {"id": i, "vector": [((i + j) % 10) / 10 for j in range(DIM)], "text": f"document {i}"}
            for i in range(params["rows"])
        ]

    rows = embed()
    create >> create_index >> load >> rows

    # [START howto_operator_milvus_ingest]
    MilvusIngestOperator(
        task_id="ingest",
        collection_name="{{ params.collection }}",
        data=rows,
        upsert=True,
        batch_size=500,
    )
    # [END howto_operator_milvus_ingest]
