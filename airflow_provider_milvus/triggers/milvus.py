"""Triggers that wait in the triggerer for a Milvus flush or import to finish.

Their kwargs are JSON primitives only (a connection ID, never a secret) and carry an absolute
deadline (or take Airflow's trigger timeout as one), so a trigger rebuilt after a triggerer restart
keeps the original deadline.

On Airflow 3.3+ a trigger given ``end_task`` ends its task itself: it pushes the task's XComs
through the triggerer and succeeds, fails or skips the task, so no worker resumes it.
"""

from __future__ import annotations

import asyncio
import importlib
from abc import abstractmethod
from collections.abc import AsyncIterator
from typing import Any

import pendulum
from airflow.triggers.base import BaseTrigger, TaskFailedEvent, TaskSkippedEvent, TaskSuccessEvent, TriggerEvent

from airflow_provider_milvus import DEFAULT_CONN_ID
from airflow_provider_milvus.exceptions import MilvusConfigError, MilvusError, MilvusWaitFailed, MilvusWaitTimeout
from airflow_provider_milvus.types import FlushTarget, TaskEnd
from airflow_provider_milvus.utils.import_resume import interrupted_by_restart
from airflow_provider_milvus.utils.rest_import import import_target
from airflow_provider_milvus.validation import (
    is_template,
    validate_collection_names,
    validate_import_task_id,
    validate_name,
    validate_positive,
    validate_rest_job_id,
)
from airflow_provider_milvus.wait import (
    FlushStateTarget,
    IndexStateTarget,
    LoadTarget,
    WaitTarget,
    wait_async,
)

# A task's own deadline (the sensor's timeout, the operator's wait_timeout) is enforced by its
# trigger, which reports it clearly and honours soft_fail; the trigger timeout given to Airflow is
# this much later, only a backstop should the trigger never report.
DEFER_GRACE_SECONDS = 60
HOOK_MODULE = "airflow_provider_milvus.hooks.milvus"


def _parse_deadline(deadline: Any) -> pendulum.DateTime | None:
    if deadline is None:
        return None
    try:
        parsed = pendulum.parse(deadline) if isinstance(deadline, str) else None
    except (ValueError, pendulum.parsing.exceptions.ParserError):
        parsed = None
    if not isinstance(parsed, pendulum.DateTime):
        raise MilvusConfigError(f"deadline must be an ISO 8601 date and time, got {deadline!r}")
    return parsed


class MilvusWaitTrigger(BaseTrigger):
    """Polls Milvus with the shared wait mechanism until done, failed, or past the deadline.

    See docs/deferral.md.

    Fires one event: ``{"status": "success", ...}``, or ``{"status": "error" | "timeout",
    "message": ...}``. Subclasses say what is waited on.

    :param milvus_conn_id: Airflow connection of type ``milvus``.
    :param poll_interval: Seconds between polls (spread by a little jitter).
    :param deadline: Absolute deadline, ISO 8601 (UTC); None waits forever.
    :param rpc_timeout: Seconds allowed for each RPC; None uses the connection's timeout.
    :param timeout: Seconds to wait, for a trigger the scheduler starts (no ``deadline`` known
        then): the deadline is Airflow's timeout of this trigger, set when it was created, less
        ``DEFER_GRACE_SECONDS``.
    :param poll_at_once: Poll as soon as the trigger runs (a trigger the scheduler starts). A
        trigger that ends its task polls at once too. Otherwise the first poll comes one interval
        (plus jitter) later: a trigger that resumes its task on a worker within seconds of that
        worker's deferral can get the task marked failed (apache/airflow#71580, #66374: the
        worker's exit is reported after the task was rescheduled); a task the trigger ended is
        past that check.
    :param end_task: End the task here (Airflow 3.3+): see :class:`~airflow_provider_milvus.types.TaskEnd`.
        Used only when the triggerer gives the trigger its task instance.
    """

    def __init__(
        self,
        *,
        milvus_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 5.0,
        deadline: str | None = None,
        rpc_timeout: float | None = None,
        timeout: float | None = None,
        poll_at_once: bool = False,
        end_task: TaskEnd | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(milvus_conn_id, str) or not milvus_conn_id:
            raise MilvusConfigError(f"milvus_conn_id must be a connection ID, got {milvus_conn_id!r}")
        self.milvus_conn_id = milvus_conn_id
        self.poll_interval = validate_positive(poll_interval, "poll_interval")
        self.deadline = deadline
        self._deadline = _parse_deadline(deadline)
        self.rpc_timeout = validate_positive(rpc_timeout, "rpc_timeout", optional=True)
        self.timeout = validate_positive(timeout, "timeout", optional=True)
        self.poll_at_once = bool(poll_at_once)
        if end_task is not None and (not isinstance(end_task, dict) or not isinstance(end_task.get("xcoms"), dict)):
            raise MilvusConfigError(f"end_task must be a dict with xcoms, got {end_task!r}")
        self.end_task = end_task

    @abstractmethod
    def target(self) -> WaitTarget:
        """What this trigger waits on."""

    @abstractmethod
    def target_kwargs(self) -> dict[str, Any]:
        """The subclass's own kwargs, for ``serialize()``."""

    def success_payload(self, result: Any) -> dict[str, Any]:
        return {}

    def resume_on_failure(self, result: Any) -> bool:
        """Whether the task, resumed on a worker, rather than this trigger decides on this failure
        (one a retry can fix: the task raises what Airflow retries)."""
        return False

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                **self.target_kwargs(),
                "milvus_conn_id": self.milvus_conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "rpc_timeout": self.rpc_timeout,
                "timeout": self.timeout,
                "poll_at_once": self.poll_at_once,
                "end_task": self.end_task,
            },
        )

    def _run_deadline(self) -> pendulum.DateTime | None:
        if self._deadline is not None or self.timeout is None:
            return self._deadline
        # Started by the scheduler: Airflow set this trigger's timeout (timeout + grace) when it
        # created it, and keeps it across triggerer restarts.
        timeout_after = getattr(self, "timeout_after", None)
        if timeout_after is not None:
            return pendulum.instance(timeout_after, tz="UTC").subtract(seconds=DEFER_GRACE_SECONDS)
        return pendulum.now("UTC").add(seconds=self.timeout)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        result: Any = None
        description = "Milvus"
        task_instance = getattr(self, "task_instance", None)
        ends_task = self.end_task is not None and task_instance is not None
        try:
            # Inputs rendered in the triggerer (a task started here) are checked only now.
            target = self.target()
            description = target.description
            # The triggerer imports this module on its event loop; the hook's module loads pymilvus
            # (about half a second the first time), so the first trigger imports it off the loop.
            # (In a thread each time: a module another thread is still importing is in sys.modules
            # before its names are; import_module waits for it there, off the loop.)
            hooks = await asyncio.to_thread(importlib.import_module, HOOK_MODULE)
            hook = hooks.MilvusHook(milvus_conn_id=self.milvus_conn_id)
            result = await wait_async(
                hook,
                target,
                poll_interval=self.poll_interval,
                deadline=self._run_deadline(),
                logger=self.log,
                first_poll_after=0.0 if self.poll_at_once or ends_task else self.poll_interval,
            )
        except MilvusWaitTimeout as err:
            payload = {"status": "timeout", "message": str(err)}
        except MilvusWaitFailed as err:
            result = err.result
            payload = {"status": "error", "message": str(err), **self.success_payload(result)}
        except (MilvusError, MilvusConfigError) as err:
            payload = {"status": "error", "message": f"Waiting for {description}: {err}"}
        else:
            payload = {"status": "success", "message": f"{description} done", **self.success_payload(result)}
        if ends_task:
            yield await self._end_task(task_instance, payload, result)
        else:
            yield TriggerEvent(payload)

    async def _end_task(self, task_instance: Any, payload: dict[str, Any], result: Any) -> TriggerEvent:
        """The event that ends the task here as ``end_task`` says, after pushing what it would have pushed."""
        end = self.end_task
        assert end is not None
        status = payload["status"]
        if status == "success":
            self.log.info("%s: the task succeeds", payload["message"])
            xcoms = dict(end["xcoms"])
            if end.get("result_xcom"):
                xcoms[end["result_xcom"]] = result  # type: ignore[index]
            await _push_xcoms(task_instance, xcoms)
            return TaskSuccessEvent()
        if status == "timeout":
            if end.get("on_timeout") == "resume":
                return TriggerEvent(payload)
            if end.get("on_timeout") == "skip":
                self.log.warning("%s: skipping the task (soft_fail)", payload["message"])
                return TaskSkippedEvent()
        if status == "error" and self.resume_on_failure(result):
            self.log.warning("%s: resuming the task on a worker, for its retry", payload["message"])
            return TriggerEvent(payload)
        self.log.error("%s", payload["message"])
        if end.get("failure_xcom") and result is not None:
            await _push_xcoms(task_instance, {end["failure_xcom"]: result})  # type: ignore[dict-item]
        return TaskFailedEvent()


async def _push_xcoms(task_instance: Any, xcoms: dict[str, Any]) -> None:
    """Push XComs of the trigger's task through the triggerer's supervisor (Airflow 3.3+). (The
    ``xcoms`` of a TaskSuccessEvent reach the database encoded twice: a string arrives quoted.)"""
    from airflow.sdk.execution_time.xcom import XCom

    for key, value in xcoms.items():
        await XCom.aset(
            key,
            value,
            dag_id=task_instance.dag_id,
            task_id=task_instance.task_id,
            run_id=task_instance.run_id,
            map_index=task_instance.map_index if task_instance.map_index is not None else -1,
        )


class MilvusFlushStateTrigger(MilvusWaitTrigger):
    """Waits until the segments of one or more flushed collections are persisted.

    See docs/operators/flush.md.

    Give ``collections``, or (for a sensor the scheduler starts here) the flush sensor's own inputs,
    ``flush_result`` or ``segment_ids`` with ``collection_name`` and ``flush_ts``, which the
    triggerer renders before the trigger runs.

    :param collections: ``[{"collection_name": str | None, "segment_ids": [int], "flush_ts": int |
        None}]``, one entry per collection of the flush (``collection_name`` may be None when only
        segment IDs are known; ``segment_ids`` may be empty when the collection and ``flush_ts``
        are known).
    :param db_name: Database of the collections; None uses the connection's.
    """

    def __init__(
        self,
        *,
        collections: list[FlushTarget] | list[dict[str, Any]] | None = None,
        db_name: str | None = None,
        segment_ids: Any = None,
        collection_name: Any = None,
        flush_ts: Any = None,
        flush_result: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.db_name = db_name
        self.segment_ids = segment_ids
        self.collection_name = collection_name
        self.flush_ts = flush_ts
        self.flush_result = flush_result
        self.collections: list[FlushTarget] | None = None
        if collections is not None:
            if not isinstance(collections, list) or not collections:
                raise MilvusConfigError(f"collections must be a non-empty list, got {collections!r}")
            for entry in collections:
                if not isinstance(entry, dict) or "segment_ids" not in entry:
                    raise MilvusConfigError(f"collections entries need segment_ids, got {entry!r}")
            self.collections = FlushStateTarget(collections, where="collections entry").collections
        elif not any(is_template(value) for value in self._inputs().values()):
            self.target()  # checked now when there is nothing left to render

    def _inputs(self) -> dict[str, Any]:
        return {
            "segment_ids": self.segment_ids,
            "collection_name": self.collection_name,
            "flush_ts": self.flush_ts,
            "db_name": self.db_name,
            "flush_result": self.flush_result,
        }

    def target(self) -> FlushStateTarget:
        if self.collections is not None:
            return FlushStateTarget(self.collections, db_name=self.db_name, rpc_timeout=self.rpc_timeout)
        return FlushStateTarget.from_inputs(**self._inputs(), rpc_timeout=self.rpc_timeout)

    def target_kwargs(self) -> dict[str, Any]:
        if self.collections is not None:
            return {"collections": self.collections, "db_name": self.db_name}
        return self._inputs()

    def success_payload(self, result: Any) -> dict[str, Any]:
        return {"flushed": bool(result)}


class MilvusImportStateTrigger(MilvusWaitTrigger):
    """Waits until an import (bulk insert) task reaches ImportCompleted; fails on ImportFailed.

    See docs/operators/bulk-insert.md.

    :param import_task_id: The import task ID returned by the Import RPC, or with ``api="rest"``
        the REST job ID (a string); or, for a sensor the scheduler starts here, a template the
        triggerer renders to it.
    :param api: ``"grpc"`` (GetImportState) or ``"rest"`` (the REST job's describe).
    :param db_name: Database of a REST job; None uses the connection's.
    """

    def __init__(
        self, *, import_task_id: int | str, api: str = "grpc", db_name: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if api not in ("grpc", "rest"):
            raise MilvusConfigError(f"api must be 'grpc' or 'rest', got {api!r}")
        self.api = api
        self.db_name = db_name
        if is_template(import_task_id):
            self.import_task_id = import_task_id
        elif api == "rest":
            self.import_task_id = validate_rest_job_id(import_task_id)
        else:
            self.import_task_id = validate_import_task_id(import_task_id)

    def target(self) -> WaitTarget:
        return import_target(self.api, self.import_task_id, db_name=self.db_name, rpc_timeout=self.rpc_timeout)

    def target_kwargs(self) -> dict[str, Any]:
        return {"import_task_id": self.import_task_id, "api": self.api, "db_name": self.db_name}

    def success_payload(self, result: Any) -> dict[str, Any]:
        # The ID comes from the trigger, never from the state: Milvus 2.4+ reports id=0 there.
        task_id: int | str = (
            validate_rest_job_id(self.import_task_id)
            if self.api == "rest"
            else validate_import_task_id(self.import_task_id)
        )
        return {"import_task_id": task_id, "import_state": result}

    def resume_on_failure(self, result: Any) -> bool:
        # An import Milvus failed because it restarted: a bulk-insert task's retry imports anew.
        return self.api == "grpc" and interrupted_by_restart(result)


class MilvusIndexStateTrigger(MilvusWaitTrigger):
    """Waits until a collection's indexes are built for all its rows; fails when a build fails.

    See docs/operators/index-and-load.md.

    :param collection_name: The collection (or, for a sensor the scheduler starts here, a template).
    :param index_names: Indexes to wait for; None or empty for every index of the collection (or
        of ``field_name``).
    :param field_name: Only the indexes of this field.
    :param db_name: Database; None uses the connection's.
    """

    def __init__(
        self,
        *,
        collection_name: str,
        index_names: list[str] | str | None = None,
        field_name: str | None = None,
        db_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.collection_name = collection_name
        self.index_names = index_names
        self.field_name = field_name
        self.db_name = db_name
        if not any(is_template(value) for value in self.target_kwargs().values()):
            self.target()  # checked now when there is nothing left to render

    def target(self) -> IndexStateTarget:
        return IndexStateTarget.from_inputs(
            collection_name=self.collection_name,
            index_name=self.index_names,
            field_name=self.field_name,
            db_name=self.db_name,
            rpc_timeout=self.rpc_timeout,
        )

    def target_kwargs(self) -> dict[str, Any]:
        return {
            "collection_name": self.collection_name,
            "index_names": self.index_names,
            "field_name": self.field_name,
            "db_name": self.db_name,
        }

    def success_payload(self, result: Any) -> dict[str, Any]:
        return {"indexes": result}


class MilvusLoadTrigger(MilvusWaitTrigger):
    """Waits until a collection (or some of its partitions) is loaded for search, or refreshed.

    See docs/operators/index-and-load.md.

    :param collection_name: The collection.
    :param partition_names: Only these partitions; None or empty for the whole collection.
    :param refresh: Wait for a refresh (``refresh_progress``), not only the load.
    :param db_name: Database; None uses the connection's.
    """

    def __init__(
        self,
        *,
        collection_name: str,
        partition_names: list[str] | None = None,
        refresh: bool = False,
        db_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.collection_name = validate_name(collection_name, "collection_name")
        self.partition_names = validate_collection_names(partition_names, "partition_names") if partition_names else []
        self.refresh = bool(refresh)
        self.db_name = db_name

    def target(self) -> LoadTarget:
        return LoadTarget(
            self.collection_name,
            self.partition_names,
            refresh=self.refresh,
            db_name=self.db_name,
            rpc_timeout=self.rpc_timeout,
        )

    def target_kwargs(self) -> dict[str, Any]:
        return {
            "collection_name": self.collection_name,
            "partition_names": self.partition_names,
            "refresh": self.refresh,
            "db_name": self.db_name,
        }

    def success_payload(self, result: Any) -> dict[str, Any]:
        return {"load_progress": result}
