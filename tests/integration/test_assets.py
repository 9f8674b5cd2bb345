"""Milvus collections as assets: the URI scheme, and what the operators attach to asset events
(Airflow 3: dag.test() records the events in the metadata database)."""

from __future__ import annotations

from contextlib import suppress
from urllib.parse import urlsplit

import pytest

from airflow_provider_milvus.assets.milvus import sanitize_uri
from airflow_provider_milvus.hooks.milvus import MilvusHook
from airflow_provider_milvus.schema import validate_schema
from tests.dags.ingest_dags import ASSET_ALIAS, ASSET_COLLECTION, INDEX, SCHEMA

from .helpers import dag, run_dag, task_states, unique, vectors, write_json


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


def test_alias_switch_records_an_event_on_the_alias_asset(airflow_db, milvus_client):
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    first, second = unique("alias_a"), unique("alias_b")
    hook = MilvusHook()
    for name in (first, second):
        hook.create_collection(name, validate_schema(SCHEMA, hook.data_types()), INDEX)
    try:
        runs = [run_dag(dag("switch_alias_asset"), {"collection": name}) for name in (first, second)]
        assert [set(task_states(run).values()) for run in runs] == [{"success"}, {"success"}]
        with create_session() as session:
            events = [
                dict(event.extra)
                for run in runs
                for event in session.query(AssetEvent).filter(AssetEvent.source_run_id == run.run_id)
            ]
        assert [(e["alias"], e["collection_name"], e["previous_collection"]) for e in events] == [
            (ASSET_ALIAS, first, None),
            (ASSET_ALIAS, second, first),
        ]
    finally:
        with suppress(Exception):  # the alias is not there if the first switch failed
            milvus_client.drop_alias(ASSET_ALIAS)
        for name in (first, second):
            milvus_client.drop_collection(name)


def test_hook_lineage_reports_the_collections_written(milvus_uri, milvus_client, import_dir, monkeypatch):
    """With a lineage reader installed, Airflow collects what hooks read and write."""
    from airflow.sdk import lineage, plugins_manager

    from airflow_provider_milvus.operators.milvus import MilvusIngestOperator

    monkeypatch.setattr(plugins_manager, "get_hook_lineage_readers_plugins", lambda: [object()])
    lineage.get_hook_lineage_collector.cache_clear()
    try:
        name = unique("lineage")
        hook = MilvusHook()
        hook.create_collection(name, validate_schema(SCHEMA, hook.data_types()), INDEX)
        MilvusIngestOperator(
            task_id="i", collection_name=name, data=[{"id": 1, "vector": [0.1] * 8, "text": "t"}]
        ).execute({})
        collected = lineage.get_hook_lineage_collector().collected_assets
        address = milvus_uri.removeprefix("http://")
        outputs = {output.asset.uri for output in collected.outputs}
        assert outputs == {f"milvus://{address}/default/{name}"}
        assert {type(output.context).__name__ for output in collected.outputs} == {"MilvusHook"}
    finally:
        lineage.get_hook_lineage_collector.cache_clear()
