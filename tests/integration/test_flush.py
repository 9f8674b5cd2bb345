"""Flush operator, flush-state sensor and trigger, through dag.test() against real Milvus."""

from __future__ import annotations

import asyncio

import pendulum
import pytest

from airflow_provider_milvus.triggers.milvus import MilvusFlushStateTrigger
from tests.dags import flush_dags  # noqa: F401  (registers the DAGs)

from .helpers import dag, make_collection, row_count, run_dag, task_states, xcom

# A flush timestamp no channel checkpoint will reach while the test runs: never flushed.
FAR_FUTURE_TS = 2**62


@pytest.fixture
def loaded_collection(milvus_client, milvus_uri):
    return make_collection(milvus_client, rows=500)


@pytest.mark.parametrize("mode", ["in_worker", "deferred"])
def test_flush_operator_waits_until_persisted(airflow_db, milvus_client, loaded_collection, mode):
    run = run_dag(dag(f"flush_and_wait_{mode}"), {"collections": [loaded_collection], "db_name": ""})
    assert task_states(run) == {"flush": "success"}
    result = xcom(run, "flush")
    assert result["flushed"] is True
    info = result["collections"][loaded_collection]
    assert info["segment_ids"] and info["flush_ts"] > 0
    # Persisted: the row count is read from the flushed segments.
    assert row_count(milvus_client, loaded_collection) == 500


@pytest.mark.parametrize("mode", ["poke", "reschedule", "deferrable"])
def test_sensor_waits_for_operator_flush(airflow_db, milvus_client, loaded_collection, mode):
    run = run_dag(dag(f"flush_then_sensor_{mode}"), {"collection": loaded_collection})
    assert task_states(run) == {"flush": "success", "wait": "success"}
    assert row_count(milvus_client, loaded_collection) == 500


@pytest.mark.parametrize(
    ("dag_id", "state"), [("flush_sensor_deadline", "failed"), ("flush_sensor_deadline_soft_fail", "skipped")]
)
def test_deadline_shorter_than_flush(airflow_db, milvus_client, loaded_collection, dag_id, state):
    from airflow_provider_milvus.hooks.milvus import MilvusHook

    segments = MilvusHook().flush(loaded_collection)["collections"][loaded_collection]["segment_ids"]
    run = run_dag(dag(dag_id), {"collection": loaded_collection, "segment_ids": segments, "flush_ts": FAR_FUTURE_TS})
    assert task_states(run) == {"wait": state}


def test_trigger_run_yields_success(milvus_client, loaded_collection):
    from airflow_provider_milvus.hooks.milvus import MilvusHook

    info = MilvusHook().flush(loaded_collection)["collections"][loaded_collection]
    trigger = MilvusFlushStateTrigger(
        collections=[
            {"collection_name": loaded_collection, "segment_ids": info["segment_ids"], "flush_ts": info["flush_ts"]}
        ],
        poll_interval=0.5,
        deadline=pendulum.now("UTC").add(seconds=60).isoformat(),
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_milvus.triggers.milvus.MilvusFlushStateTrigger"
    rebuilt = MilvusFlushStateTrigger(**kwargs)

    async def first_event():
        return await anext(rebuilt.run())

    event = asyncio.run(asyncio.wait_for(first_event(), 90))
    assert event.payload["status"] == "success" and event.payload["flushed"] is True


def test_trigger_reports_timeout_and_missing_collection(milvus_client, loaded_collection):
    def first_event(trigger):
        return asyncio.run(asyncio.wait_for(anext(trigger.run()), 60)).payload

    never = MilvusFlushStateTrigger(
        collections=[{"collection_name": loaded_collection, "segment_ids": [1], "flush_ts": FAR_FUTURE_TS}],
        poll_interval=0.2,
        deadline=pendulum.now("UTC").add(seconds=1).isoformat(),
    )
    event = first_event(never)
    assert event["status"] == "timeout" and loaded_collection in event["message"]

    missing = MilvusFlushStateTrigger(
        collections=[{"collection_name": "no_such_collection", "segment_ids": [1], "flush_ts": 1}], poll_interval=0.2
    )
    event = first_event(missing)
    assert event["status"] == "error"
    assert "code 100" in event["message"] and "collection not found" in event["message"]


def record_flush_state_answers(monkeypatch) -> list[tuple[dict, bool]]:
    """Every GetFlushState the provider sends (worker or trigger) with the real server's answer."""
    from airflow_provider_milvus.hooks.milvus import MilvusHook

    answers: list[tuple[dict, bool]] = []
    sync, asynchronous = MilvusHook.get_flush_state, MilvusHook.aget_flush_state

    def asked(segment_ids, collection_name, flush_ts) -> dict:
        return {"segment_ids": list(segment_ids), "collection_name": collection_name, "flush_ts": flush_ts}

    def get_flush_state(self, segment_ids, collection_name=None, flush_ts=None, **kwargs):
        flushed = sync(self, segment_ids, collection_name, flush_ts, **kwargs)
        answers.append((asked(segment_ids, collection_name, flush_ts), flushed))
        return flushed

    async def aget_flush_state(self, segment_ids, collection_name=None, flush_ts=None, **kwargs):
        flushed = await asynchronous(self, segment_ids, collection_name, flush_ts, **kwargs)
        answers.append((asked(segment_ids, collection_name, flush_ts), flushed))
        return flushed

    monkeypatch.setattr(MilvusHook, "get_flush_state", get_flush_state)
    monkeypatch.setattr(MilvusHook, "aget_flush_state", aget_flush_state)
    return answers


@pytest.mark.parametrize("mode", ["in_worker", "deferred"])
def test_delete_only_flush_is_flushed_only_when_milvus_says_so(airflow_db, milvus_client, monkeypatch, mode):
    """Deletes seal no segment: Flush answers an empty segment list, and Milvus has the deletes
    persisted only once its checkpoints pass flush_ts (about 0.8 s later on 2.3.5)."""
    from airflow_provider_milvus.hooks.milvus import MilvusHook
    from airflow_provider_milvus.wait import FlushStateTarget, deadline_after, wait_sync

    name = make_collection(milvus_client, rows=200)
    first = MilvusHook().flush(name)
    wait_sync(MilvusHook(), FlushStateTarget.from_flush_result(first), poll_interval=0.3, deadline=deadline_after(60))
    milvus_client.delete(name, ids=list(range(50)))
    answers = record_flush_state_answers(monkeypatch)

    run = run_dag(dag(f"flush_and_wait_{mode}"), {"collections": [name], "db_name": ""})
    assert task_states(run) == {"flush": "success"}
    result = xcom(run, "flush")
    info = result["collections"][name]
    assert info["segment_ids"] == [] and info["flush_ts"] > first["collections"][name]["flush_ts"]
    assert result["flushed"] is True
    # Asked with the collection and this flush's timestamp, and done only on Milvus's True.
    assert answers, "the operator reported flushed without asking Milvus"
    assert all(
        asked == {"segment_ids": [], "collection_name": name, "flush_ts": info["flush_ts"]} for asked, _ in answers
    )
    assert answers[-1][1] is True and all(flushed is False for _, flushed in answers[:-1])


def test_sensor_with_empty_segment_ids_after_import(airflow_db, milvus_client, import_dir, legacy_milvus):
    from .helpers import vectors, write_json

    name = make_collection(milvus_client)
    run = run_dag(
        dag("bulk_insert_then_flush_sensor_by_segment_ids"),
        {"collection": name, "files": [write_json(import_dir, vectors(300))]},
    )
    assert task_states(run) == {"bulk_insert": "success", "flush": "success", "wait_for_flush": "success"}
    if legacy_milvus:
        assert xcom(run, "flush")["collections"][name]["segment_ids"] == []
    else:
        legacy_milvus.note("a flush right after an import seals no new segment")


def test_sensor_after_a_delete_only_flush_asks_milvus(airflow_db, milvus_client, monkeypatch):
    """The sensor, given a flush result that sealed no segment, asks with the collection and
    flush_ts and succeeds only on Milvus's True."""
    from airflow_provider_milvus.hooks.milvus import MilvusHook
    from airflow_provider_milvus.wait import FlushStateTarget, deadline_after, wait_sync

    name = make_collection(milvus_client, rows=200)
    first = MilvusHook().flush(name)
    wait_sync(MilvusHook(), FlushStateTarget.from_flush_result(first), poll_interval=0.3, deadline=deadline_after(60))
    milvus_client.delete(name, ids=list(range(30)))
    answers = record_flush_state_answers(monkeypatch)

    run = run_dag(dag("flush_then_sensor_deferrable"), {"collection": name})
    assert task_states(run) == {"flush": "success", "wait": "success"}
    info = xcom(run, "flush")["collections"][name]
    assert info["segment_ids"] == []
    assert answers and all(
        asked == {"segment_ids": [], "collection_name": name, "flush_ts": info["flush_ts"]} for asked, _ in answers
    )
    assert answers[-1][1] is True
