"""Collection schemas and ingest data are checked before any RPC, each error naming the part."""

from __future__ import annotations

import pytest

from airflow_provider_milvus.exceptions import MilvusConfigError
from airflow_provider_milvus.operators.milvus import MilvusCreateCollectionOperator, MilvusIngestOperator
from airflow_provider_milvus.schema import rows_from, schema_differences, validate_index_params, validate_schema

TYPES = frozenset({"INT64", "VARCHAR", "FLOAT", "FLOAT_VECTOR", "SPARSE_FLOAT_VECTOR", "ARRAY"})
ID = {"name": "id", "type": "int64", "is_primary": True}
VECTOR = {"name": "vector", "type": "FLOAT_VECTOR", "dim": 8}


@pytest.mark.parametrize(
    ("schema", "fragment"),
    [
        ({}, "must be a dict with a non-empty 'fields' list"),
        ({"fields": [ID, VECTOR], "shards": 2}, r"unknown keys \['shards'\]"),
        ({"fields": [VECTOR]}, "exactly one field with is_primary=true, got none"),
        ({"fields": [ID, {**ID, "name": "id2"}, VECTOR]}, r"exactly one field with is_primary=true, got \['id', 'id2'\]"),
        ({"fields": [ID]}, "needs a vector field"),
        ({"fields": [ID, VECTOR, VECTOR]}, r"field names must be unique, \['vector'\] repeat"),
        ({"fields": [ID, {**VECTOR, "dim": 0}]}, r"schema.fields\[1\] \('vector'\): dim must be a positive integer"),
        ({"fields": [ID, {"name": "vector", "type": "FLOAT_VECTOR"}]}, "a FLOAT_VECTOR field needs dim"),
        ({"fields": [ID, VECTOR, {"name": "t", "type": "VARCHAR"}]}, "a VARCHAR field needs max_length"),
        ({"fields": [ID, VECTOR, {"name": "t", "type": "STRNG"}]}, "type 'STRNG' is not a Milvus data type"),
        ({"fields": [ID, VECTOR, {"name": "t", "type": "FLOAT", "size": 3}]}, r"unknown keys \['size'\]"),
        ({"fields": [ID, VECTOR, {"type": "FLOAT"}]}, "needs a name"),
    ],
)  # fmt: skip
def test_bad_schemas(schema, fragment):
    with pytest.raises(MilvusConfigError, match=fragment):
        validate_schema(schema, TYPES)


def test_schema_is_normalized_and_compared_on_what_it_states():
    asked = validate_schema({"fields": [ID, VECTOR, {"name": "s", "type": "SPARSE_FLOAT_VECTOR"}]}, TYPES)
    assert asked["fields"][0]["type"] == "INT64" and asked["enable_dynamic_field"] is False
    existing = {
        "fields": [
            {"name": "id", "type": "INT64", "is_primary": True, "auto_id": False, "nullable": False},
            {"name": "vector", "type": "FLOAT_VECTOR", "is_primary": False, "dim": 8, "nullable": False},
            {"name": "s", "type": "SPARSE_FLOAT_VECTOR", "is_primary": False},
        ],
        "enable_dynamic_field": False,
        "description": "",
    }
    assert schema_differences(asked, existing) == []
    existing["fields"][1]["dim"] = 4
    existing["fields"].append({"name": "extra", "type": "FLOAT", "is_primary": False})
    existing["enable_dynamic_field"] = True
    assert schema_differences(asked, existing) == [
        "field 'vector': dim is 4 in Milvus, 8 asked",
        "Milvus has field 'extra', not asked",
        "enable_dynamic_field is True in Milvus, False asked",
    ]


def test_index_params_name_schema_fields():
    with pytest.raises(MilvusConfigError, match=r"index_params\[0\]: field 'vec' is not in the schema"):
        validate_index_params([{"field_name": "vec", "index_type": "HNSW"}], ["id", "vector"])
    with pytest.raises(MilvusConfigError, match=r"index_params\[0\] has unknown keys \['metric'\]"):
        validate_index_params([{"field_name": "vector", "metric": "L2"}], ["id", "vector"])
    assert validate_index_params(None, ["id"]) == []


def test_rows_from_rows_or_columns():
    assert rows_from({"id": [1, 2], "t": ["a", "b"]}) == [{"id": 1, "t": "a"}, {"id": 2, "t": "b"}]
    assert rows_from([{"id": 1}]) == [{"id": 1}]
    with pytest.raises(MilvusConfigError, match=r"columns must be equally long, got \{'id': 2, 't': 1\}"):
        rows_from({"id": [1, 2], "t": ["a"]})
    with pytest.raises(MilvusConfigError, match=r"data\[1\] must be a dict of field values, got int"):
        rows_from([{"id": 1}, 5])
    with pytest.raises(MilvusConfigError, match="data must be a list of row dicts or a dict of columns, got str"):
        rows_from("rows")


def test_operators_check_their_arguments_before_any_rpc(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_DEFAULT", "milvus://127.0.0.1:1")  # an RPC would fail differently
    with pytest.raises(MilvusConfigError, match="batch_size must be a positive integer, got 0"):
        MilvusIngestOperator(task_id="i", collection_name="c", data=[], batch_size=0)
    with pytest.raises(MilvusConfigError, match="data must be a list of row dicts"):
        MilvusIngestOperator(task_id="i", collection_name="c", data="{{ nothing }}").execute({})
    with pytest.raises(MilvusConfigError, match="collection_name must hold non-empty strings"):
        MilvusIngestOperator(task_id="i", collection_name="", data=[]).execute({})
    with pytest.raises(MilvusConfigError, match="needs a vector field"):
        MilvusCreateCollectionOperator(task_id="c", collection_name="c", schema={"fields": [ID]}).execute({})
