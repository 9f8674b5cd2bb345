"""Operators and sensors reject bad arguments before any RPC (the connection here is unreachable)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from airflow_provider_milvus.exceptions import MilvusConfigError
from airflow_provider_milvus.operators.milvus import MilvusBulkInsertOperator, MilvusFlushOperator
from airflow_provider_milvus.sensors.milvus import MilvusFlushStateSensor, MilvusImportStateSensor
from airflow_provider_milvus.validation import parse_rendered_literal


@pytest.fixture(autouse=True)
def unreachable_milvus(monkeypatch):
    # Port 1 on loopback: were an RPC sent, the error would be about the network, not the argument.
    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_DEFAULT", "milvus://127.0.0.1:1")


CONTEXT = {"ti": SimpleNamespace(try_number=1, xcom_push=lambda **kw: None)}


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda: MilvusFlushOperator(task_id="t", collection_names="c", poll_interval=-1), "poll_interval"),
        (lambda: MilvusFlushOperator(task_id="t", collection_names="c", poll_interval=0), "poll_interval"),
        (lambda: MilvusFlushOperator(task_id="t", collection_names="c", wait_timeout=-5), "wait_timeout"),
        (lambda: MilvusBulkInsertOperator(task_id="t", collection_name="c", files=["a.json"], rpc_timeout="x"), "rpc_timeout"),
        (lambda: MilvusFlushStateSensor(task_id="t"), "exactly one of segment_ids or flush_result"),
        (lambda: MilvusFlushStateSensor(task_id="t", segment_ids=[1], flush_result={}), "exactly one"),
        (lambda: MilvusImportStateSensor(task_id="t", import_task_id=1, rpc_timeout=0), "rpc_timeout"),
    ],
)  # fmt: skip
def test_bad_constructor_arguments(build, fragment):
    with pytest.raises(MilvusConfigError, match=fragment):
        build()


@pytest.mark.parametrize(
    ("operator", "fragment"),
    [
        (MilvusFlushOperator(task_id="t", collection_names=[]), "collection_names must be"),
        (MilvusFlushOperator(task_id="t", collection_names=["ok", ""]), "non-empty strings"),
        (MilvusBulkInsertOperator(task_id="t", collection_name="c", files=[]), "files must be a non-empty list"),
        (MilvusBulkInsertOperator(task_id="t", collection_name="c", files="a.json"), "files must be a non-empty list"),
        (MilvusBulkInsertOperator(task_id="t", collection_name="c", files=["a.json", "b.json"]), "one data file"),
        (MilvusBulkInsertOperator(task_id="t", collection_name="c", files=["a.csv"], options={"auto_commit": "false"}), "auto_commit=false is not supported"),
        (MilvusBulkInsertOperator(task_id="t", collection_name="c", files=["a.csv"], options={"auto_commit": False}), "auto_commit=false is not supported"),
        (MilvusBulkInsertOperator(task_id="t", collection_name="c", files=["a.csv"], options={"sep": None}), r"options\['sep'\] must be a string"),
        (MilvusBulkInsertOperator(task_id="t", collection_name="", files=["a.json"]), "collection_name"),
        (MilvusBulkInsertOperator(task_id="t", collection_name="c", files=["a.json"], options="x"), "options must be"),
        (MilvusFlushStateSensor(task_id="t", segment_ids=[]), "segment_ids is empty: give segment IDs, or collection_name with flush_ts"),
        (MilvusFlushStateSensor(task_id="t", segment_ids="[]", collection_name="c"), "segment_ids is empty"),
        (MilvusFlushStateSensor(task_id="t", segment_ids=[], flush_ts=5), "segment_ids is empty"),
        (MilvusFlushStateSensor(task_id="t", segment_ids="oops"), "segment_ids must be a non-empty list"),
        (MilvusFlushStateSensor(task_id="t", segment_ids="[1, 'x']"), "integer segment IDs"),
        (MilvusFlushStateSensor(task_id="t", segment_ids=[1], flush_ts="soon"), "flush_ts must be an integer"),
        (MilvusFlushStateSensor(task_id="t", flush_result="{'collections': {}}"), "flush_result must be"),
        (MilvusImportStateSensor(task_id="t", import_task_id="abc"), "import_task_id must be an integer"),
        (MilvusImportStateSensor(task_id="t", import_task_id=None), "import_task_id must be an integer"),
    ],
)  # fmt: skip
def test_bad_rendered_arguments_fail_before_any_rpc(operator, fragment):
    with pytest.raises(MilvusConfigError, match=fragment):
        operator.execute(CONTEXT)


def test_rendered_lists_and_dicts_are_read_back():
    assert parse_rendered_literal("[1, 2]") == [1, 2]
    assert parse_rendered_literal("{'collections': {'c': {}}}") == {"collections": {"c": {}}}
    assert parse_rendered_literal("plain") == "plain"
    assert parse_rendered_literal("[not python") == "[not python"
