"""N deferrable flush sensors at once, for the in-triggerer run of benchmarks/triggerer_scale.py."""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import dag, task

from airflow_provider_milvus.sensors.milvus import MilvusFlushStateSensor


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_tasks=2000,
    params={"n": 100, "collections": [], "segment_ids": {}, "flush_ts": 0, "poll_interval": 5},
)
def bench_triggerer_waits():
    @task
    def targets(params=None) -> list[dict]:
        names = params["collections"]
        return [
            {"collection_name": names[i % len(names)], "segment_ids": params["segment_ids"][names[i % len(names)]]}
            for i in range(int(params["n"]))
        ]

    MilvusFlushStateSensor.partial(
        task_id="wait_for_flush",
        deferrable=True,
        flush_ts="{{ params.flush_ts }}",
        poke_interval=5,
        timeout=1800,
    ).expand_kwargs(targets())


bench_triggerer_waits()
