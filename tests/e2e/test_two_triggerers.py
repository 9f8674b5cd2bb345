"""Two triggerers beside one scheduler (Airflow's HA triggerer): 200 waits, one triggerer SIGKILLed
mid-wait; every wait completes exactly once, and deadlines stay the ones set at the start."""

from __future__ import annotations

import json
import shutil
import time
from datetime import timedelta
from pathlib import Path

import pendulum
import pytest

from airflow_provider_milvus.hooks.milvus import MilvusHook
from harness.airflow import AirflowStack, trigger_log_times
from harness.milvus import tso
from harness.processes import wait_until
from tests.e2e.dags.e2e_two_triggerers import DEADLINE_SECONDS, DEADLINE_WAITS, WAITS
from tests.integration.helpers import make_collection, vectors

DAG_ID = "e2e_two_triggerers"
# The first triggerer takes at most this many triggers, so both hold some; the second can take all.
FIRST_CAPACITY = 100


@pytest.fixture(scope="module")
def stack(milvus_server, tmp_path_factory):
    dags = tmp_path_factory.mktemp("dags")
    shutil.copy(Path(__file__).parent / "dags" / "e2e_two_triggerers.py", dags)
    env = {
        "AIRFLOW_CONN_MILVUS_DEFAULT": milvus_server["uri"].replace("http://", "milvus://", 1),
        "AIRFLOW__TRIGGERER__CAPACITY": str(FIRST_CAPACITY),
        # A killed triggerer's triggers go to a live one once its heartbeat is this old: Airflow's
        # default. Shorter, a triggerer busy starting its 100 waits on a loaded machine can miss it
        # while alive, and the other takes its waits before the kill.
        "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "30",
    }
    airflow = AirflowStack(tmp_path_factory.mktemp("airflow-home"), dags, env).start()
    try:
        airflow.start_triggerer({"AIRFLOW__TRIGGERER__CAPACITY": "1000"})
        airflow.wait_parsed([DAG_ID])
        yield airflow
    finally:
        airflow.stop()


def fired(stack: AirflowStack, run_id: str) -> dict[str, list[tuple[pendulum.DateTime, Path]]]:
    """Every 'Trigger fired event' in the run's trigger logs, by task."""
    events: dict[str, list[tuple[pendulum.DateTime, Path]]] = {}
    logs = stack.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}"
    for path in logs.rglob("attempt=*.log.trigger.*.log"):
        task_id = path.parent.name.removeprefix("task_id=")
        for line in path.read_text(errors="replace").splitlines():
            if '"Trigger fired event"' in line:
                events.setdefault(task_id, []).append((pendulum.parse(json.loads(line)["timestamp"]), path))
    return events


# Its stack's start counts too; on a loaded machine the two take more than the suite's 300 s.
@pytest.mark.timeout(900)
def test_two_triggerers_one_killed_every_wait_completes_once(stack, milvus_client):
    collection = make_collection(milvus_client, rows=100)
    MilvusHook().flush(collection)
    # Flushed once a checkpoint passes a moment after now, which takes another flush (made below);
    # the deadline waits ask about a timestamp no checkpoint reaches.
    conf = {"collection": collection, "flush_ts": tso(time.time() + 1), "never": 2**62}
    run_id = stack.trigger(DAG_ID, conf)

    def assigned() -> dict[int, int] | None:
        rows = stack.query(
            "SELECT t.triggerer_id, count(*) FROM trigger t JOIN task_instance ti ON ti.trigger_id = t.id "
            "WHERE ti.dag_id = ? AND ti.run_id = ? AND ti.state = 'deferred' GROUP BY t.triggerer_id",
            DAG_ID,
            run_id,
        )
        counts = {triggerer: n for triggerer, n in rows}
        return counts if sum(counts.values()) == WAITS and None not in counts else None

    counts = wait_until(f"{WAITS} waits deferred and assigned", assigned, 300, 1)
    assert len(counts) == 2, counts  # both triggerers hold waits
    # The first triggerer (airflow standalone's) has the lower job id.
    first_job, second_job = sorted(counts)
    assert counts[first_job] <= FIRST_CAPACITY
    started = {
        task_id: pendulum.parse(start, tz="UTC")
        for task_id, start in stack.query(
            "SELECT task_id, start_date FROM task_instance WHERE dag_id = ? AND run_id = ?", DAG_ID, run_id
        )
    }
    logs = stack.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}"
    wait_until(
        "the first triggerer to run its waits",
        lambda: len(list(logs.glob(f"task_id=*/attempt=1.log.trigger.{first_job}.log"))) == counts[first_job],
        120,
        0.5,
    )
    killed_at = pendulum.now("UTC")
    stack.kill_triggerer()
    # The survivor takes the killed one's waits once its heartbeat is stale.
    wait_until(
        "the surviving triggerer to hold every wait",
        lambda: assigned() == {second_job: WAITS},
        120,
        1,
    )
    milvus_client.insert(collection, vectors(1, start=10**6))
    MilvusHook().flush(collection)
    assert stack.wait_run(DAG_ID, run_id, 300) == "success"

    states = dict(
        stack.query(
            "SELECT task_id, state || '/' || try_number FROM task_instance WHERE dag_id = ? AND run_id = ?",
            DAG_ID,
            run_id,
        )
    )
    expected = {f"wait_{i:03d}": ("skipped/1" if i < DEADLINE_WAITS else "success/1") for i in range(WAITS)}
    assert states == expected  # no lost task, none retried
    events = fired(stack, run_id)
    # One event per wait, none twice (the killed triggerer fired none: nothing was done before it died).
    assert {task_id: len(found) for task_id, found in events.items()} == {task_id: 1 for task_id in expected}
    assert not stack.query("SELECT id FROM trigger")  # nothing left behind
    for i in range(DEADLINE_WAITS):
        task_id = f"wait_{i:03d}"
        [(moment, path)] = events[task_id]
        # Skipped at the deadline set when the scheduler started it, not one restarted by the takeover.
        assert moment - started[task_id] <= timedelta(seconds=DEADLINE_SECONDS + 10), (task_id, moment)
        assert moment - started[task_id] >= timedelta(seconds=DEADLINE_SECONDS - 1), (task_id, moment)
        assert "skipping the task (soft_fail)" in path.read_text()
    assert killed_at - min(started.values()) < timedelta(seconds=DEADLINE_SECONDS)  # the kill came mid-wait
    # Those the killed triggerer ran were started again by the survivor: two trigger logs each.
    taken_over = [d for d in logs.glob("task_id=*") if len(list(d.glob("attempt=1.log.trigger.*.log"))) == 2]
    assert len(taken_over) == counts[first_job]
    for folder in taken_over[:3]:
        first, second = sorted(
            (trigger_log_times(p) for p in folder.glob("attempt=1.log.trigger.*.log")), key=lambda t: t["started"]
        )
        assert "fired" not in first and second["started"] > killed_at
