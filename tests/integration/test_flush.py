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
