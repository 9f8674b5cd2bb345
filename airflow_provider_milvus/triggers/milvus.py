"""Triggers that wait in the triggerer for a Milvus flush or import to finish.

Their kwargs are JSON primitives only (a connection ID, never a secret) and carry an absolute
deadline, so a trigger rebuilt after a triggerer restart keeps the original deadline.
"""

from __future__ import annotations

import asyncio
import importlib
from abc import abstractmethod
from collections.abc import AsyncIterator
from typing import Any

import pendulum
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_milvus import DEFAULT_CONN_ID
from airflow_provider_milvus.exceptions import MilvusConfigError, MilvusError, MilvusWaitFailed, MilvusWaitTimeout
from airflow_provider_milvus.types import FlushTarget
from airflow_provider_milvus.validation import (
    validate_flush_target,
    validate_import_task_id,
    validate_positive,
)
from airflow_provider_milvus.wait import (
    FlushStateTarget,
    ImportStateTarget,
    WaitTarget,
    wait_async,
)


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

    Fires one event: ``{"status": "success", ...}``, or ``{"status": "error" | "timeout",
    "message": ...}``. Subclasses say what is waited on.

    :param milvus_conn_id: Airflow connection of type ``milvus``.
    :param poll_interval: Seconds between polls (spread by a little jitter).
    :param deadline: Absolute deadline, ISO 8601 (UTC); None waits forever.
    :param rpc_timeout: Seconds allowed for each RPC; None uses the connection's timeout.
    """

    def __init__(
        self,
        *,
        milvus_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 5.0,
        deadline: str | None = None,
        rpc_timeout: float | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(milvus_conn_id, str) or not milvus_conn_id:
            raise MilvusConfigError(f"milvus_conn_id must be a connection ID, got {milvus_conn_id!r}")
        self.milvus_conn_id = milvus_conn_id
        self.poll_interval = validate_positive(poll_interval, "poll_interval")
        self.deadline = deadline
        self._deadline = _parse_deadline(deadline)
        self.rpc_timeout = validate_positive(rpc_timeout, "rpc_timeout", optional=True)

    @abstractmethod
    def target(self) -> WaitTarget:
        """What this trigger waits on."""

    @abstractmethod
    def target_kwargs(self) -> dict[str, Any]:
        """The subclass's own kwargs, for ``serialize()``."""

    def success_payload(self, result: Any) -> dict[str, Any]:
        return {}

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                **self.target_kwargs(),
                "milvus_conn_id": self.milvus_conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "rpc_timeout": self.rpc_timeout,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        target = self.target()
        try:
            # The triggerer imports this module on its event loop; the hook's module loads pymilvus
            # (about half a second the first time), so it is imported off the loop.
            hooks = await asyncio.to_thread(importlib.import_module, "airflow_provider_milvus.hooks.milvus")
            hook = hooks.MilvusHook(milvus_conn_id=self.milvus_conn_id)
            # The task asked Milvus just before deferring: the first poll here waits one interval.
            # (That also keeps clear of an Airflow 3.3 race, apache/airflow#71580, in which a
            # trigger firing within seconds of the deferral can get its task marked failed.)
            result = await wait_async(
                hook,
                target,
                poll_interval=self.poll_interval,
                deadline=self._deadline,
                logger=self.log,
                first_poll_after=self.poll_interval,
            )
        except MilvusWaitTimeout as err:
            yield TriggerEvent({"status": "timeout", "message": str(err)})
        except MilvusWaitFailed as err:
            yield TriggerEvent({"status": "error", "message": str(err), **self.success_payload(err.result)})
        except (MilvusError, MilvusConfigError) as err:
            yield TriggerEvent({"status": "error", "message": f"Waiting for {target.description}: {err}"})
        else:
            yield TriggerEvent(
                {"status": "success", "message": f"{target.description} done", **self.success_payload(result)}
            )


class MilvusFlushStateTrigger(MilvusWaitTrigger):
    """Waits until the segments of one or more flushed collections are persisted.

    :param collections: ``[{"collection_name": str | None, "segment_ids": [int], "flush_ts": int |
        None}]``, one entry per collection of the flush (``collection_name`` may be None when only
        segment IDs are known; ``segment_ids`` may be empty when the collection and ``flush_ts``
        are known).
    :param db_name: Database of the collections; None uses the connection's.
    """

    def __init__(
        self, *, collections: list[FlushTarget] | list[dict[str, Any]], db_name: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(collections, list) or not collections:
            raise MilvusConfigError(f"collections must be a non-empty list, got {collections!r}")
        for entry in collections:
            if not isinstance(entry, dict) or "segment_ids" not in entry:
                raise MilvusConfigError(f"collections entries need segment_ids, got {entry!r}")
        self.collections = [
            validate_flush_target(c["segment_ids"], c.get("collection_name"), c.get("flush_ts"), "collections entry")
            for c in collections
        ]
        self.db_name = db_name

    def target(self) -> FlushStateTarget:
        return FlushStateTarget(self.collections, db_name=self.db_name, rpc_timeout=self.rpc_timeout)

    def target_kwargs(self) -> dict[str, Any]:
        return {"collections": self.collections, "db_name": self.db_name}

    def success_payload(self, result: Any) -> dict[str, Any]:
        return {"flushed": bool(result)}


class MilvusImportStateTrigger(MilvusWaitTrigger):
    """Waits until an import (bulk insert) task reaches ImportCompleted; fails on ImportFailed.

    :param import_task_id: The import task ID returned by the Import RPC.
    """

    def __init__(self, *, import_task_id: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.import_task_id = validate_import_task_id(import_task_id)

    def target(self) -> ImportStateTarget:
        return ImportStateTarget(self.import_task_id, rpc_timeout=self.rpc_timeout)

    def target_kwargs(self) -> dict[str, Any]:
        return {"import_task_id": self.import_task_id}

    def success_payload(self, result: Any) -> dict[str, Any]:
        # The ID comes from the trigger, never from the state: Milvus 2.4+ reports id=0 there.
        return {"import_task_id": self.import_task_id, "import_state": result}
