"""What the operators and the sensors share: the connection and hook, the deferral settings,
reading rendered template values, and turning a trigger's event into a result or an error.

Operators and sensors both import from here, never from each other.
"""

from __future__ import annotations

import ast
from functools import cached_property
from typing import Any

from airflow.providers.common.compat.sdk import conf

from airflow_provider_milvus.assets.milvus import outlet_collection
from airflow_provider_milvus.exceptions import MilvusWaitFailed, MilvusWaitTimeout
from airflow_provider_milvus.hooks.milvus import MilvusHook
from airflow_provider_milvus.validation import validate_positive

# A task's own deadline (the sensor's timeout, the operator's wait_timeout) is enforced by its
# trigger, which reports it clearly and honours soft_fail; the deferral timeout given to Airflow is
# this much later, only a backstop should the trigger never report.
DEFER_GRACE_SECONDS = 60


def default_deferrable() -> bool:
    """``[operators] default_deferrable``, the default of every ``deferrable`` parameter here."""
    return conf.getboolean("operators", "default_deferrable", fallback=False)


def parse_rendered_literal(value: Any) -> Any:
    """A rendered template value as Python data.

    Without ``render_template_as_native_obj`` a template renders a list, dict or tuple (an XCom,
    a param) as its ``repr``; text that reads as a Python literal of one of those is parsed back.
    Anything else is returned as it is.
    """
    if isinstance(value, str) and value.strip()[:1] in ("[", "{", "("):
        try:
            return ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            return value
    return value


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
