"""Starting and ending tasks in the triggerer (Airflow 3.3): what the sensors hand the scheduler,
what the triggers make of it, and the events that end a task. The real scheduler and triggerer
run them in tests/e2e/test_start_from_trigger.py."""

from __future__ import annotations

import asyncio
import datetime
from types import SimpleNamespace

import pendulum
import pytest
from airflow.providers.common.compat.sdk import DAG, AirflowFailException, Asset
from airflow.triggers.base import TaskFailedEvent, TaskSkippedEvent, TaskSuccessEvent, TriggerEvent

from airflow_provider_milvus.exceptions import MilvusConfigError, MilvusImportInterrupted, MilvusWaitFailed
from airflow_provider_milvus.operators.milvus import MilvusBulkInsertOperator
from airflow_provider_milvus.sensors.milvus import MilvusFlushStateSensor, MilvusImportStateSensor
from airflow_provider_milvus.triggers import milvus as triggers
from airflow_provider_milvus.version_compat import TRIGGERER_RUNS_TASKS
from tests.task_context import RecordingTI

airflow_3_3 = pytest.mark.skipif(not TRIGGERER_RUNS_TASKS, reason="Airflow 3.3+; see the test of older ones")

START = pendulum.datetime(2025, 1, 1, tz="UTC")


def dag() -> DAG:
    return DAG("d", schedule=None, start_date=START)


@pytest.mark.skipif(TRIGGERER_RUNS_TASKS, reason="Airflow before 3.3; see the tests of 3.3")
def test_before_airflow_3_3_the_sensor_defers_from_a_worker_and_says_so():
    with dag(), pytest.warns(UserWarning, match="start_from_trigger needs Airflow 3.3"):
        sensor = MilvusImportStateSensor(task_id="wait", import_task_id=1, start_from_trigger=True)
    assert sensor.deferrable and not sensor.start_from_trigger and not sensor.ends_in_triggerer
    assert sensor.build_trigger(sensor.wait_target(), "2030-01-01T00:00:00+00:00").end_task is None


@airflow_3_3
def test_a_task_output_becomes_a_template_the_triggerer_can_render():
    with dag():
        bulk = MilvusBulkInsertOperator(task_id="bulk", collection_name="c", files=["f.json"])
        sensor = MilvusImportStateSensor(
            task_id="wait", import_task_id=bulk.output, timeout=100, start_from_trigger=True
        )
    assert sensor.start_from_trigger and sensor.deferrable
    assert sensor.upstream_task_ids == {"bulk"}  # the dependency stays
    args = sensor.start_trigger_args
    assert args.trigger_cls == "airflow_provider_milvus.triggers.milvus.MilvusImportStateTrigger"
    assert args.next_method == "execute_complete"
    assert args.timeout == datetime.timedelta(seconds=100 + triggers.DEFER_GRACE_SECONDS)
    kwargs = args.trigger_kwargs
    assert kwargs["import_task_id"] == "{{ ti.xcom_pull(task_ids='bulk', key='return_value', map_indexes=-1) }}"
    assert kwargs["poll_at_once"] is True and kwargs["timeout"] == 100 and kwargs["deadline"] is None
    assert kwargs["end_task"] == {
        "xcoms": {},
        "result_xcom": "return_value",
        "failure_xcom": None,
        "on_timeout": "resume",
    }
    # The triggerer builds the trigger from these kwargs before it renders them.
    trigger = triggers.MilvusImportStateTrigger(**kwargs)
    assert trigger.import_task_id == kwargs["import_task_id"]


@airflow_3_3
def test_flush_sensor_hands_over_its_inputs_and_skips_on_timeout_with_soft_fail():
    with dag():
        sensor = MilvusFlushStateSensor(
            task_id="wait",
            segment_ids="{{ params.ids }}",
            collection_name="c",
            flush_ts="{{ params.ts }}",
            soft_fail=True,
            start_from_trigger=True,
        )
    kwargs = sensor.start_trigger_args.trigger_kwargs
    assert {name: kwargs[name] for name in sensor.template_fields} == {
        "segment_ids": "{{ params.ids }}",
        "collection_name": "c",
        "flush_ts": "{{ params.ts }}",
        "db_name": None,
        "flush_result": None,
    }
    assert kwargs["end_task"]["on_timeout"] == "skip" and kwargs["end_task"]["result_xcom"] is None
    trigger = triggers.MilvusFlushStateTrigger(**kwargs)
    # As the triggerer renders them, then what is waited on.
    trigger.segment_ids, trigger.flush_ts = "[7, 8]", "99"
    assert trigger.target().collections == [{"collection_name": "c", "segment_ids": [7, 8], "flush_ts": 99}]


@airflow_3_3
@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("{{ ti.xcom_pull(task_ids='bulk') }}", "ti.xcom_pull needs map_indexes"),
        ("mapped", "output of the mapped task 'bulk' holds one value per map index"),
    ],
)
def test_inputs_the_triggerer_cannot_resolve_are_refused_when_the_dag_is_parsed(value, fragment):
    with dag(), pytest.raises(MilvusConfigError, match=fragment):
        if value == "mapped":
            value = (
                MilvusBulkInsertOperator.partial(task_id="bulk", collection_name="c").expand(files=[["a.json"]]).output
            )
        MilvusImportStateSensor(task_id="wait", import_task_id=value, start_from_trigger=True)


def test_an_input_rendered_to_garbage_ends_the_wait_with_an_error_naming_it():
    trigger = triggers.MilvusImportStateTrigger(import_task_id="{{ params.id }}", poll_at_once=True)
    trigger.import_task_id = "None"  # what the triggerer rendered

    async def first_event():
        return await anext(trigger.run())

    event = asyncio.run(first_event())
    assert event.payload["status"] == "error"
    assert "import_task_id must be an integer import task ID, got 'None'" in event.payload["message"]


@airflow_3_3
def test_a_sensor_with_outlets_resumes_on_a_worker_to_record_its_asset_events():
    with dag():
        sensor = MilvusImportStateSensor(
            task_id="wait", import_task_id=1, start_from_trigger=True, outlets=[Asset("milvus://h:19530/default/c")]
        )
    assert sensor.start_trigger_args.trigger_kwargs["end_task"] is None


def test_started_trigger_takes_its_deadline_from_airflows_trigger_timeout():
    trigger = triggers.MilvusImportStateTrigger(import_task_id=1, timeout=100)
    timeout_after = datetime.datetime(2030, 1, 1, 0, 2, tzinfo=datetime.UTC)
    trigger.timeout_after = timeout_after  # set by the triggerer, kept in the database
    assert trigger._run_deadline() == pendulum.datetime(2030, 1, 1, 0, 1, tz="UTC")
    # A worker's deferral gives the deadline itself.
    given = triggers.MilvusImportStateTrigger(import_task_id=1, deadline="2031-01-01T00:00:00+00:00", timeout=5)
    given.timeout_after = timeout_after
    assert given._run_deadline() == pendulum.datetime(2031, 1, 1, tz="UTC")


@airflow_3_3
@pytest.mark.parametrize(
    ("payload", "end", "expected", "pushed"),
    [
        (
            {"status": "success", "message": "import task 5 done"},
            {"xcoms": {"return_value": 5}, "result_xcom": "import_state", "failure_xcom": None, "on_timeout": "fail"},
            TaskSuccessEvent,
            {"return_value": 5, "import_state": {"state": "ImportCompleted"}},
        ),
        (
            {"status": "error", "message": "ImportFailed: bad file"},
            {"xcoms": {"return_value": 5}, "result_xcom": None, "failure_xcom": "import_state", "on_timeout": "fail"},
            TaskFailedEvent,
            {"import_state": {"state": "ImportCompleted"}},
        ),
        ({"status": "timeout", "message": "late"}, {"xcoms": {}, "on_timeout": "skip"}, TaskSkippedEvent, {}),
        ({"status": "timeout", "message": "late"}, {"xcoms": {}, "on_timeout": "fail"}, TaskFailedEvent, {}),
        ({"status": "timeout", "message": "late"}, {"xcoms": {}, "on_timeout": "resume"}, TriggerEvent, {}),
    ],
)
def test_how_a_trigger_ends_its_task(monkeypatch, payload, end, expected, pushed):
    seen: dict = {}

    async def push(task_instance, xcoms):
        seen.update(xcoms)

    monkeypatch.setattr(triggers, "_push_xcoms", push)
    trigger = triggers.MilvusImportStateTrigger(import_task_id=5, end_task=end)
    ti = SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=-1)
    event = asyncio.run(trigger._end_task(ti, payload, {"state": "ImportCompleted"}))
    assert type(event) is expected
    if expected is TriggerEvent:
        assert event.payload == payload  # resumed on a worker, which fails it as the sensor does
    assert seen == pushed


@airflow_3_3
def test_an_import_failed_by_a_milvus_restart_resumes_the_bulk_insert_for_its_retry(monkeypatch):
    """Ended here it would fail for good (TaskFailedEvent is not retried); on the worker the operator
    raises what Airflow retries, and the retry imports anew."""
    monkeypatch.setattr(triggers, "_push_xcoms", lambda *args: pytest.fail("nothing is pushed here"))
    # As Milvus 2.3 reports an import that ran when its root coordinator started (import_manager.go).
    state = {"id": 5, "state": "ImportFailed", "failed_reason": "task marked failed as service restarted"}
    end = {"xcoms": {"return_value": 5}, "result_xcom": None, "failure_xcom": "import_state", "on_timeout": "fail"}
    trigger = triggers.MilvusImportStateTrigger(import_task_id=5, end_task=end)
    payload = {
        "status": "error",
        "message": "import task 5 failed: ImportFailed: ...",
        **trigger.success_payload(state),
    }
    ti = SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=-1)
    event = asyncio.run(trigger._end_task(ti, payload, state))
    assert type(event) is TriggerEvent and event.payload == payload

    recording = RecordingTI()
    operator = MilvusBulkInsertOperator(task_id="t", collection_name="c", files=["a.json"], wait_for_completion=True)
    with pytest.raises(MilvusImportInterrupted, match="a retry of this task imports its files anew") as err:
        operator.execute_complete({"ti": recording}, event.payload)
    assert not isinstance(err.value, AirflowFailException) and err.value.result == state
    assert recording.pushed["import_state"] == state

    other = {**state, "failed_reason": "file 'a.json' is not valid JSON"}
    assert not trigger.resume_on_failure(other)  # ended here, failed for good
    with pytest.raises(MilvusWaitFailed):
        operator.execute_complete({"ti": RecordingTI()}, {**payload, "import_state": other})


@pytest.mark.parametrize(
    ("end_task", "task_instance", "poll_at_once", "first_poll_after"),
    [
        (None, None, False, 5.0),  # resumes on a worker (or dag.test()): after one interval
        ({"xcoms": {}, "result_xcom": None, "failure_xcom": None, "on_timeout": "fail"}, "ti", False, 0.0),
        ({"xcoms": {}, "result_xcom": None, "failure_xcom": None, "on_timeout": "fail"}, None, False, 5.0),
        (None, "ti", True, 0.0),  # started by the scheduler
    ],
)
def test_which_triggers_poll_at_once(monkeypatch, end_task, task_instance, poll_at_once, first_poll_after):
    seen = {}

    async def wait(hook, target, **kwargs):
        seen.update(kwargs)
        return {"state": "ImportCompleted"}

    async def push(task_instance, xcoms):
        pass

    monkeypatch.setattr(triggers, "wait_async", wait)
    monkeypatch.setattr(triggers, "_push_xcoms", push)
    trigger = triggers.MilvusImportStateTrigger(
        import_task_id=5, poll_interval=5, end_task=end_task, poll_at_once=poll_at_once
    )
    if task_instance:
        trigger.task_instance = SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=-1, task=None)

    async def first_event():
        return await anext(trigger.run())

    asyncio.run(first_event())
    assert seen["first_poll_after"] == first_poll_after
