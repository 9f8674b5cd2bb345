"""Creating collections and ingesting rows, against the real Milvus, through dag.test()."""

from __future__ import annotations

import pytest

from airflow_provider_milvus.exceptions import MilvusConfigError, MilvusError
from airflow_provider_milvus.operators.milvus import MilvusCreateCollectionOperator, MilvusIngestOperator
from tests.dags.ingest_dags import INDEX, SCHEMA

from .helpers import dag, run_dag, task_states, unique, xcom


def count(client, name: str) -> int:
    """Rows visible to a strongly consistent query (inserted rows, before any flush)."""
    [row] = client.query(name, filter="", output_fields=["count(*)"], consistency_level="Strong")
    return int(row["count(*)"])


def create_loaded_collection(name: str) -> None:
    MilvusCreateCollectionOperator(
        task_id="c", collection_name=name, schema=SCHEMA, index_params=INDEX, load=True
    ).execute({})


def test_ingest_from_xcom_in_batches(airflow_db, milvus_client):
    name = unique("ingest")
    run = run_dag(dag("ingest_from_xcom_insert"), {"collection": name, "rows": 1200})
    assert task_states(run) == {"compute": "success", "create": "success", "ingest": "success"}
    result = xcom(run, "ingest")
    assert result["rows"] == 1200 and result["batches"] == 3 and result["mode"] == "insert"
    assert sorted(result["ids"]) == list(range(1200))
    assert xcom(run, "create") == {"collection_name": name, "created": True, "loaded": True}
    assert count(milvus_client, name) == 1200


def test_upsert_twice_leaves_no_duplicates(airflow_db, milvus_client):
    name = unique("upsert")
    for attempt in (1, 2):
        run = run_dag(dag("ingest_from_xcom_upsert"), {"collection": name, "rows": 700})
        assert task_states(run)["ingest"] == "success", attempt
        assert xcom(run, "ingest")["rows"] == 700
    # The second run found the collection as it had made it.
    assert xcom(run, "create")["created"] is False
    assert count(milvus_client, name) == 700


def test_a_bad_row_fails_its_batch_with_the_reason_and_what_was_written(airflow_db, milvus_client):
    # Row 750 is in batch 2 of 3: batch 1 (500 rows) is written before it fails.
    name = unique("bad_row")
    run = run_dag(dag("ingest_from_xcom_insert"), {"collection": name, "rows": 1200, "bad_row": 750})
    assert task_states(run)["ingest"] == "failed"
    assert count(milvus_client, name) == 500

    name = unique("bad_row")
    create_loaded_collection(name)
    operator = MilvusIngestOperator(
        task_id="i",
        collection_name=name,
        batch_size=500,
        data=[{"id": i, "vector": [0.1] * (3 if i == 750 else 8), "text": "x"} for i in range(1200)],
    )
    with pytest.raises(MilvusError) as err:
        operator.execute({})
    message = str(err.value)
    assert f"batch 2 of 3 (rows 500 to 999) into {name!r} failed, 500 rows written before it" in message
    assert "dim" in message.lower()  # the reason names the vector dimension
    assert count(milvus_client, name) == 500


def test_columns_are_rows_too(milvus_uri, milvus_client):
    name = unique("columns")
    create_loaded_collection(name)
    result = MilvusIngestOperator(
        task_id="i",
        collection_name=name,
        data={"id": [1, 2, 3], "vector": [[0.1] * 8, [0.2] * 8, [0.3] * 8], "text": ["a", "b", "c"]},
    ).execute({})
    assert result["rows"] == 3 and result["batches"] == 1
    assert count(milvus_client, name) == 3


def test_create_collection_is_idempotent_and_refuses_a_different_schema(milvus_uri, milvus_client):
    name = unique("schema")

    def create(schema: dict) -> dict:
        return MilvusCreateCollectionOperator(
            task_id="c", collection_name=name, schema=schema, index_params=INDEX
        ).execute({})

    assert create(SCHEMA)["created"] is True
    assert create(SCHEMA)["created"] is False
    described = milvus_client.describe_collection(name)
    assert [f["name"] for f in described["fields"]] == ["id", "vector", "text"]

    other = {"fields": [dict(field) for field in SCHEMA["fields"]]}
    other["fields"][1]["dim"] = 16
    other["fields"].append({"name": "score", "type": "FLOAT"})
    with pytest.raises(MilvusConfigError) as err:
        create(other)
    assert f"collection {name!r} exists with a different schema" in str(err.value)
    assert "field 'vector': dim is 8 in Milvus, 16 asked" in str(err.value)
    assert "field 'score' is not in Milvus" in str(err.value)
