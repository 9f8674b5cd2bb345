"""Sensors that wait for a Milvus flush or import, in poke, reschedule or deferrable mode."""

from __future__ import annotations

import warnings
from abc import abstractmethod
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pendulum
from airflow.providers.common.compat.sdk import AirflowSensorTimeout, BaseSensorOperator, PokeReturnValue
from airflow.triggers.base import StartTriggerArgs

from airflow_provider_milvus.exceptions import MilvusConfigError, MilvusWaitTimeout
from airflow_provider_milvus.hooks.milvus import MilvusHook
from airflow_provider_milvus.triggers.milvus import (
    DEFER_GRACE_SECONDS,
    MilvusFlushStateTrigger,
    MilvusImportStateTrigger,
    MilvusIndexStateTrigger,
    MilvusWaitTrigger,
)
from airflow_provider_milvus.utils.mixins import (
    MilvusHookMixin,
    default_deferrable,
    event_result,
    triggerer_input,
)
from airflow_provider_milvus.utils.rest_import import IMPORT_API_CHOICES, ImportApi, import_target
from airflow_provider_milvus.validation import validate_positive, validate_sensor_seconds
from airflow_provider_milvus.version_compat import TRIGGERER_RUNS_TASKS
from airflow_provider_milvus.wait import (
    FlushStateTarget,
    ImportStateTarget,
    IndexStateTarget,
    RestImportStateTarget,
    WaitTarget,
    poll_once,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class MilvusWaitSensor(MilvusHookMixin, BaseSensorOperator):
    """Base for the Milvus sensors: one poll per poke, or the same wait in the triggerer.

    See docs/deferral.md for the ways a sensor waits.

    :param milvus_conn_id: Airflow connection of type ``milvus``.
    :param rpc_timeout: Seconds allowed for each RPC; None uses the connection's timeout.
    :param deferrable: Wait in the triggerer, freeing the worker slot (default: ``[operators]
        default_deferrable``). ``poke_interval`` is then the poll interval and ``timeout`` an
        absolute deadline kept by the trigger.
    :param start_from_trigger: Airflow 3.3+: the scheduler starts the wait in the triggerer and
        the trigger ends the task there (success with the sensor's XCom, failure with Milvus's
        reason, a skip for a timeout with ``soft_fail``), so no worker runs it; the first poll
        comes at once. Inputs may be literals, templates (a ``ti.xcom_pull`` with
        ``map_indexes``) or a task's ``.output``. A sensor with outlets resumes on a worker to
        record its asset events; a mapped one starts on a worker (Airflow starts no mapped task
        in the triggerer) and still ends in the triggerer. Before Airflow 3.3 the sensor defers
        from a worker instead (with a warning).
    """

    #: XCom key of the wait's result when the trigger ends the task (None: the sensor returns None).
    result_xcom: str | None = None

    def __init__(
        self,
        *,
        milvus_conn_id: str = MilvusHook.default_conn_name,
        rpc_timeout: float | None = None,
        deferrable: bool = default_deferrable(),
        start_from_trigger: bool = False,
        **kwargs: Any,
    ) -> None:
        if "poke_interval" in kwargs:
            validate_sensor_seconds(kwargs["poke_interval"], "poke_interval")
        if "timeout" in kwargs and kwargs["timeout"] is None:
            # Airflow 3.3 reads None as [sensors] default_timeout; before it, None is refused.
            del kwargs["timeout"]
        if "timeout" in kwargs:
            validate_sensor_seconds(kwargs["timeout"], "timeout", allow_zero=True)
        super().__init__(**kwargs)
        self._set_milvus_arguments(milvus_conn_id, rpc_timeout)
        self.deferrable = deferrable or start_from_trigger
        validate_positive(self.poke_interval, "poke_interval")
        self.ends_in_triggerer = start_from_trigger and TRIGGERER_RUNS_TASKS
        if start_from_trigger and not TRIGGERER_RUNS_TASKS:
            warnings.warn(
                "start_from_trigger needs Airflow 3.3+; the sensor defers from a worker instead",
                UserWarning,
                stacklevel=3,
            )

    def _start_from_trigger(self, trigger_cls: type[MilvusWaitTrigger], inputs: dict[str, Any]) -> None:
        """Have the scheduler start the trigger with the sensor's inputs (rendered in the triggerer);
        called by each sensor once its inputs are set."""
        if not self.ends_in_triggerer:
            return
        self.start_from_trigger = True
        self.start_trigger_args = StartTriggerArgs(
            trigger_cls=f"{trigger_cls.__module__}.{trigger_cls.__qualname__}",
            trigger_kwargs={
                **{name: triggerer_input(name, value) for name, value in inputs.items()},
                **self._trigger_kwargs(None),
                "timeout": self.timeout,
                "poll_at_once": True,
            },
            next_method="execute_complete",
            next_kwargs=None,
            timeout=timedelta(seconds=self.timeout + DEFER_GRACE_SECONDS),
        )

    @abstractmethod
    def wait_target(self) -> WaitTarget:
        """What is waited on, from the rendered arguments (validated here, before any RPC)."""

    @abstractmethod
    def build_trigger(self, target: Any, deadline: str) -> MilvusWaitTrigger:
        """The trigger that waits for ``target`` in the triggerer until ``deadline`` (ISO 8601)."""

    @abstractmethod
    def xcom_value(self, result: Any) -> Any:
        """What the sensor returns, from a poll's result or a trigger's success event."""

    def on_done(self, context: Context, value: Any) -> None:
        """Called with the sensor's XCom value once Milvus reports done (the asset events)."""

    def poke(self, context: Context) -> bool | PokeReturnValue:
        done = self._poke(self.wait_target())
        if done:
            self.on_done(context, done.xcom_value)  # type: ignore[union-attr]
        return done

    def _poke(self, target: WaitTarget) -> bool | PokeReturnValue:
        done, result = poll_once(self.hook, target, logger=self.log)
        return PokeReturnValue(is_done=True, xcom_value=self.xcom_value(result)) if done else False

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        # Ask once here: what is already done needs no trip through the triggerer.
        target = self.wait_target()
        done = self._poke(target)
        if done:
            self.on_done(context, done.xcom_value)  # type: ignore[union-attr]
            return done.xcom_value  # type: ignore[union-attr]
        deadline = pendulum.now("UTC").add(seconds=self.timeout)
        self.defer(
            trigger=self.build_trigger(target, deadline.isoformat()),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout + DEFER_GRACE_SECONDS),
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        try:
            event = event_result(event)
        except MilvusWaitTimeout as err:
            raise AirflowSensorTimeout(str(err)) from None
        self.log.info("%s", event.get("message", "Milvus reports done"))
        value = self.xcom_value(event)
        self.on_done(context, value)
        return value

    def _trigger_kwargs(self, deadline: str | None) -> dict[str, Any]:
        return {
            "milvus_conn_id": self.milvus_conn_id,
            "poll_interval": self.poke_interval,
            "deadline": deadline,
            "rpc_timeout": self.rpc_timeout,
            "end_task": self._task_end(result_xcom=self.result_xcom, on_timeout="skip" if self.soft_fail else "resume")
            if self.ends_in_triggerer
            else None,
        }


class MilvusFlushStateSensor(MilvusWaitSensor):
    """Waits until flushed segments are persisted (Milvus GetFlushState).

    See docs/operators/flush.md.

    Give either ``segment_ids`` (with ``collection_name`` and ``flush_ts`` to wait for exactly
    that flush), or the whole result of :class:`~airflow_provider_milvus.operators.milvus.MilvusFlushOperator`
    as ``flush_result``, e.g. ``flush_result=flush.output``.

    Milvus reports segment IDs it does not know as flushed, so a wrong ID succeeds at once; and
    Milvus 2.4+ checks ``flush_ts`` only when the collection is named.

    :param segment_ids: Segment IDs to wait for (templated; an XCom-rendered list works). May be
        empty with ``collection_name`` and ``flush_ts``: a flush that sealed no new segment (after
        deletes only, or right after an import) is persisted once Milvus's checkpoints pass it.
    :param collection_name: Collection of the segments (templated).
    :param flush_ts: Flush timestamp from the Flush RPC (templated).
    :param db_name: Database; None uses the connection's (templated).
    :param flush_result: The flush operator's return value (templated).

    And those of every Milvus sensor: ``milvus_conn_id``, ``rpc_timeout``, ``deferrable`` (see
    :class:`MilvusWaitSensor`), and Airflow's ``poke_interval``, ``timeout``, ``mode``, ``soft_fail``.
    """

    template_fields: Sequence[str] = ("segment_ids", "collection_name", "flush_ts", "db_name", "flush_result")

    def __init__(
        self,
        *,
        segment_ids: list[int] | str | None = None,
        collection_name: str | None = None,
        flush_ts: int | str | None = None,
        db_name: str | None = None,
        flush_result: dict[str, Any] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (segment_ids is None) == (flush_result is None):
            raise MilvusConfigError("give exactly one of segment_ids or flush_result")
        self.segment_ids = segment_ids
        self.collection_name = collection_name
        self.flush_ts = flush_ts
        self.db_name = db_name
        self.flush_result = flush_result
        self._start_from_trigger(
            MilvusFlushStateTrigger,
            {name: getattr(self, name) for name in self.template_fields},
        )

    def wait_target(self) -> FlushStateTarget:
        return FlushStateTarget.from_inputs(
            segment_ids=self.segment_ids,
            collection_name=self.collection_name,
            flush_ts=self.flush_ts,
            db_name=self.db_name,
            flush_result=self.flush_result,
            rpc_timeout=self.rpc_timeout,
        )

    def build_trigger(self, target: FlushStateTarget, deadline: str) -> MilvusFlushStateTrigger:
        return MilvusFlushStateTrigger(
            collections=target.collections, db_name=target.db_name, **self._trigger_kwargs(deadline)
        )

    def xcom_value(self, result: Any) -> Any:
        return None


class MilvusImportStateSensor(MilvusWaitSensor):
    """Waits until an import (bulk insert) task reaches ImportCompleted (Milvus GetImportState).

    See docs/operators/bulk-insert.md.

    Fails at once, with Milvus's ``failed_reason``, if the import ends in ImportFailed or
    ImportFailedAndCleaned. Returns the final import state dict as its XCom.

    :param import_task_id: The import task ID (templated), e.g. ``bulk_insert.output``: an int
        for a gRPC import, the REST job ID (a string) for a REST one.
    :param api: ``"grpc"``, ``"rest"`` or ``"auto"`` (the default: gRPC for an integer ID, REST
        for a Zilliz Cloud ``job-...`` ID, any other refused; a sensor the scheduler starts in the
        triggerer takes gRPC under ``"auto"``).
    :param db_name: Database of a REST job; None uses the connection's (templated).

    And those of every Milvus sensor: ``milvus_conn_id``, ``rpc_timeout``, ``deferrable`` (see
    :class:`MilvusWaitSensor`), and Airflow's ``poke_interval``, ``timeout``, ``mode``, ``soft_fail``.
    """

    template_fields: Sequence[str] = ("import_task_id", "db_name")
    result_xcom = "return_value"

    def __init__(
        self, *, import_task_id: int | str, api: ImportApi = "auto", db_name: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if api not in IMPORT_API_CHOICES:
            raise MilvusConfigError(f"api must be one of {list(IMPORT_API_CHOICES)}, got {api!r}")
        self.import_task_id = import_task_id
        self.api = api
        self.db_name = db_name
        self._start_from_trigger(
            MilvusImportStateTrigger,
            {"import_task_id": import_task_id, "api": "rest" if api == "rest" else "grpc", "db_name": db_name},
        )

    def _api(self) -> str:
        if self.api != "auto":
            return self.api
        # "auto" goes by the ID, without reading the connection: an integer is a gRPC import task
        # (Milvus 2.4+ answers GetImportState for a REST job's ID too), and a Zilliz Cloud job ID
        # reads "job-...". Any other text is named here, before any request.
        given = self.import_task_id
        text = str(given).strip() if isinstance(given, (int, str)) and not isinstance(given, bool) else ""
        if text.lstrip("-").isdigit():
            return "grpc"
        if text.startswith("job-"):
            return "rest"
        raise MilvusConfigError(
            f"import_task_id must be an integer task ID or a Zilliz Cloud job ID (job-...), got {given!r}; "
            "give api='rest' for another REST job ID"
        )

    def wait_target(self) -> WaitTarget:
        return import_target(self._api(), self.import_task_id, db_name=self.db_name, rpc_timeout=self.rpc_timeout)

    def build_trigger(self, target: WaitTarget, deadline: str) -> MilvusImportStateTrigger:
        if isinstance(target, RestImportStateTarget):
            return MilvusImportStateTrigger(
                import_task_id=target.job_id, api="rest", db_name=target.db_name, **self._trigger_kwargs(deadline)
            )
        assert isinstance(target, ImportStateTarget)
        return MilvusImportStateTrigger(import_task_id=target.import_task_id, **self._trigger_kwargs(deadline))

    def xcom_value(self, result: Any) -> Any:
        # From a poll, the state dict; from a trigger event, the state inside it.
        return result.get("import_state", result)

    def on_done(self, context: Context, value: Any) -> None:
        if "job_id" in value:  # a REST job
            extra = {"import_task_id": value["job_id"], "state": value["state"], "rows": value["imported_rows"]}
        else:
            extra = {"import_task_id": value["id"], "state": value["state"], "rows": value["row_count"]}
        self._report_to_outlets(context, None, extra)


class MilvusIndexStateSensor(MilvusWaitSensor):
    """Waits until a collection's indexes are built for all its rows (Milvus DescribeIndex).

    See docs/operators/index-and-load.md.

    Done when every index waited for has ``indexed_rows == total_rows`` and no pending rows (an
    index's state alone can read Finished before that). Fails at once with Milvus's reason when a
    build fails, and on an unknown collection or index. Returns, per index, ``{"index_name",
    "field_name", "indexed_rows", "total_rows", "pending_index_rows", "state", "fail_reason"}``.

    :param collection_name: The collection (templated).
    :param index_name: An index name or a list of them (templated); None for every index of the
        collection (or of ``field_name``).
    :param field_name: Only the indexes of this field (templated).
    :param db_name: Database; None uses the connection's (templated).

    And those of every Milvus sensor: ``milvus_conn_id``, ``rpc_timeout``, ``deferrable``,
    ``start_from_trigger`` (see :class:`MilvusWaitSensor`), and Airflow's ``poke_interval``,
    ``timeout``, ``mode``, ``soft_fail``.
    """

    template_fields: Sequence[str] = ("collection_name", "index_name", "field_name", "db_name")
    result_xcom = "return_value"

    def __init__(
        self,
        *,
        collection_name: str,
        index_name: str | list[str] | None = None,
        field_name: str | None = None,
        db_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.collection_name = collection_name
        self.index_name = index_name
        self.field_name = field_name
        self.db_name = db_name
        self._start_from_trigger(
            MilvusIndexStateTrigger,
            {
                "collection_name": collection_name,
                "index_names": index_name,
                "field_name": field_name,
                "db_name": db_name,
            },
        )

    def wait_target(self) -> IndexStateTarget:
        return IndexStateTarget.from_inputs(
            collection_name=self.collection_name,
            index_name=self.index_name,
            field_name=self.field_name,
            db_name=self.db_name,
            rpc_timeout=self.rpc_timeout,
        )

    def build_trigger(self, target: IndexStateTarget, deadline: str) -> MilvusIndexStateTrigger:
        return MilvusIndexStateTrigger(
            collection_name=target.collection_name,
            index_names=target.index_names,
            field_name=target.field_name,
            db_name=target.db_name,
            **self._trigger_kwargs(deadline),
        )

    def xcom_value(self, result: Any) -> Any:
        # From a poll, the list of indexes; from a trigger event, the list inside it.
        return result.get("indexes", result) if isinstance(result, dict) else result
