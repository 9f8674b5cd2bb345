"""Milvus collections as assets: the URI scheme, and what the operators attach to asset events
(Airflow 3: dag.test() records the events in the metadata database)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from airflow_provider_milvus.assets.milvus import sanitize_uri
from airflow_provider_milvus.hooks.milvus import MilvusHook
from tests.dags.ingest_dags import ASSET_COLLECTION

from .helpers import dag, run_dag, task_states, vectors, write_json


def test_uri_normalized_and_built_for_a_connection(monkeypatch):
    def normalized(uri: str) -> str:
        return sanitize_uri(urlsplit(uri)).geturl()

    assert normalized("milvus://milvus.local/docs") == "milvus://milvus.local:19530/default/docs"
    assert normalized("milvus://[::1]:1234/db1/docs") == "milvus://[::1]:1234/db1/docs"
    for bad in ("milvus:///default/docs", "milvus://h:1/a/b/c", "milvus://h:1/"):
        with pytest.raises(ValueError, match="URI format milvus://"):
            normalized(bad)
    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_ASSETS", "milvus://10.1.2.3:19531?db_name=analytics")
    assert MilvusHook("milvus_assets").collection_asset("docs").uri == "milvus://10.1.2.3:19531/analytics/docs"


def test_operators_attach_what_they_did_to_asset_events(airflow_db, milvus_client, import_dir):
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    if milvus_client.has_collection(ASSET_COLLECTION):
        milvus_client.drop_collection(ASSET_COLLECTION)
    rows = [{**row, "text": "imported"} for row in vectors(40)]
    run = run_dag(dag("write_to_collection_asset"), {"files": [write_json(import_dir, rows)]})
    assert set(task_states(run).values()) == {"success"}
    with create_session() as session:
        events = {
            event.source_task_id: dict(event.extra)
            for event in session.query(AssetEvent).filter(AssetEvent.source_run_id == run.run_id)
        }
    assert set(events) == {"bulk_insert", "ingest", "flush"}
    assert events["bulk_insert"]["rows"] == 40 and events["bulk_insert"]["state"] == "ImportCompleted"
    assert isinstance(events["bulk_insert"]["import_task_id"], int)
    assert events["ingest"] == {"rows": 5, "mode": "insert"}
    assert events["flush"]["flushed"] is True and events["flush"]["flush_ts"][ASSET_COLLECTION] > 0
