"""200 waits at once for the two-triggerer test: flush sensors the scheduler starts in the triggerer
(no worker runs), most waiting for a flush the test makes, some for a deadline."""

from __future__ import annotations

from airflow_provider_milvus.sensors.milvus import MilvusFlushStateSensor
from harness.dags import manual_dag

WAITS = 200
DEADLINE_WAITS = 10  # the first ones: they wait for a flush that never comes, until their timeout
# Past the kill and the takeover (a 30 s stale heartbeat) on a loaded machine.
DEADLINE_SECONDS = 90

with manual_dag("e2e_two_triggerers", {"collection": "c", "flush_ts": 1, "never": 1}, max_active_tasks=WAITS):
    for i in range(WAITS):
        deadline_wait = i < DEADLINE_WAITS
        MilvusFlushStateSensor(
            task_id=f"wait_{i:03d}",
            segment_ids=[],
            collection_name="{{ params.collection }}",
            flush_ts="{{ params.never }}" if deadline_wait else "{{ params.flush_ts }}",
            poke_interval=5,
            timeout=DEADLINE_SECONDS if deadline_wait else 600,
            soft_fail=deadline_wait,
            start_from_trigger=True,
        )
