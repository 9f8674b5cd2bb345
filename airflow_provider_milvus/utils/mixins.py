"""What the operators and the sensors share: the connection and hook, the deferral settings,
ending a task in the triggerer, and turning a trigger's event into a result or an error.

Operators and sensors both import from here, never from each other.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Literal

from airflow.providers.common.compat.sdk import conf

from airflow_provider_milvus.assets.milvus import outlet_collection
from airflow_provider_milvus.exceptions import MilvusConfigError, MilvusWaitFailed, MilvusWaitTimeout
from airflow_provider_milvus.hooks.milvus import MilvusHook
from airflow_provider_milvus.types import TaskEnd
from airflow_provider_milvus.validation import validate_positive
from airflow_provider_milvus.version_compat import TRIGGERER_RUNS_TASKS


def default_deferrable() -> bool:
    """``[operators] default_deferrable``, the default of every ``deferrable`` parameter here."""
    return conf.getboolean("operators", "default_deferrable", fallback=False)


def event_result(event: dict[str, Any] | None) -> dict[str, Any]:
    """A trigger's success event; raise what a failed or timed-out one reports."""
    if not isinstance(event, dict) or "status" not in event:
        raise MilvusWaitFailed(f"Unexpected event from the Milvus trigger: {event!r}")
    if event["status"] == "success":
        return event
    if event["status"] == "timeout":
        raise MilvusWaitTimeout(event.get("message", "Timed out waiting for Milvus"))
    raise MilvusWaitFailed(event.get("message", "The Milvus trigger reported an error"), event.get("import_state"))


class MilvusHookMixin:
    """The connection of a Milvus operator or sensor, checked when the task is built, and its hook.

    :param milvus_conn_id: Airflow connection of type ``milvus``.
    :param rpc_timeout: Seconds allowed for each RPC; None uses the connection's timeout.
    """

    milvus_conn_id: str
    rpc_timeout: float | None

    def _set_milvus_arguments(self, milvus_conn_id: str, rpc_timeout: float | None) -> None:
        self.milvus_conn_id = milvus_conn_id
        self.rpc_timeout = validate_positive(rpc_timeout, "rpc_timeout", optional=True)

    @cached_property
    def hook(self) -> MilvusHook:
        return MilvusHook(milvus_conn_id=self.milvus_conn_id)

    def _task_end(
        self,
        *,
        xcoms: dict[str, Any] | None = None,
        result_xcom: str | None = None,
        failure_xcom: str | None = None,
        on_timeout: Literal["fail", "skip", "resume"] = "fail",
    ) -> TaskEnd | None:
        """How a trigger ends this task in the triggerer, pushing what the task would push; None to
        resume it on a worker: before Airflow 3.3, and for a task with outlets (a task ended in the
        triggerer records no asset events)."""
        if not TRIGGERER_RUNS_TASKS or getattr(self, "outlets", None):
            return None
        xcoms = {key: value for key, value in (xcoms or {}).items() if value is not None}
        if not getattr(self, "do_xcom_push", True):
            xcoms.pop("return_value", None)
            result_xcom = None if result_xcom == "return_value" else result_xcom
        return TaskEnd(xcoms=xcoms, result_xcom=result_xcom, failure_xcom=failure_xcom, on_timeout=on_timeout)

    def _report_to_outlets(self, context: Any, collection_names: list[str] | None, extra: dict[str, Any]) -> None:
        """Attach what the task did to the asset events of its ``milvus://`` outlets naming one of
        ``collection_names`` (every ``milvus://`` outlet if None); other outlets are left alone."""
        events = context.get("outlet_events") if hasattr(context, "get") else None
        if events is None:  # (an accessor with no events yet is empty, hence falsy)
            return
        for outlet in getattr(self, "outlets", None) or []:
            collection = outlet_collection(str(getattr(outlet, "uri", "")))
            if collection is not None and (collection_names is None or collection[1] in collection_names):
                events[outlet].extra.update(extra)


def triggerer_input(name: str, value: Any) -> Any:
    """A task input as the triggerer can render it, for a task the scheduler starts there.

    The triggerer renders templates but does not resolve an ``XComArg`` (it would get its repr),
    so ``task.output`` becomes the template that pulls it; and its ``ti.xcom_pull`` needs
    ``map_indexes`` (without it the triggerer's supervisor cannot answer, and the trigger would
    wait forever), so a template without it is refused here, when the DAG is parsed.
    """
    from airflow.sdk.definitions.xcom_arg import PlainXComArg, XComArg

    if isinstance(value, PlainXComArg):
        producer = value.operator
        if getattr(producer, "is_mapped", False):
            raise MilvusConfigError(
                f"{name}: the output of the mapped task {producer.task_id!r} holds one value per map index; map "
                f"the sensor over it (.partial(...).expand({name}={producer.task_id}.output))"
            )
        return f"{{{{ ti.xcom_pull(task_ids={producer.task_id!r}, key={value.key!r}, map_indexes=-1) }}}}"
    if isinstance(value, XComArg):
        raise MilvusConfigError(
            f"{name}: a {type(value).__name__} cannot be resolved in the triggerer; give a task's .output or a template"
        )
    if isinstance(value, str) and "xcom_pull(" in value and "map_indexes" not in value:
        raise MilvusConfigError(
            f"{name}: in the triggerer (start_from_trigger), ti.xcom_pull needs map_indexes, e.g. "
            f"map_indexes=-1 for an unmapped task; got {value!r}"
        )
    return value
