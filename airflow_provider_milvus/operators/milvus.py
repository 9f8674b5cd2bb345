"""Operators that start a Milvus flush or import (bulk insert), and optionally wait for it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, conf

from airflow_provider_milvus.hooks.milvus import MilvusHook
from airflow_provider_milvus.sensors.milvus import DEFER_GRACE_SECONDS, native
from airflow_provider_milvus.triggers.milvus import (
    MilvusFlushStateTrigger,
    MilvusImportStateTrigger,
    MilvusWaitTrigger,
    raise_for_event,
)
from airflow_provider_milvus.validation import (
    MilvusConfigError,
    validate_collection_names,
    validate_import_files,
    validate_positive,
)
from airflow_provider_milvus.wait import (
    FlushStateTarget,
    ImportStateTarget,
    MilvusWaitFailed,
    WaitTarget,
    deadline_after,
    wait_sync,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

RUNNING_IMPORT_STATES = ("ImportPending", "ImportStarted", "ImportPersisted")
FLUSH_RESULT_KEY = "flush_result"


class _MilvusWaitingOperator(BaseOperator):
    """Shared by the operators: the connection, and waiting in the worker or the triggerer."""

    def __init__(
        self,
        *,
        milvus_conn_id: str = MilvusHook.default_conn_name,
        wait_for_completion: bool = False,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 5.0,
        wait_timeout: float | None = None,
        rpc_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.milvus_conn_id = milvus_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = validate_positive(poll_interval, "poll_interval")
        self.wait_timeout = validate_positive(wait_timeout, "wait_timeout", optional=True)
        self.rpc_timeout = validate_positive(rpc_timeout, "rpc_timeout", optional=True)

    @cached_property
    def hook(self) -> MilvusHook:
        return MilvusHook(milvus_conn_id=self.milvus_conn_id)

    def _wait(self, target: WaitTarget, trigger_cls: type[MilvusWaitTrigger], trigger_kwargs: dict) -> Any:
        """Wait for the target here, or defer to the trigger (resuming in ``execute_complete``)."""
        deadline = deadline_after(self.wait_timeout)
        if self.deferrable:
            self.defer(
                trigger=trigger_cls(
                    **trigger_kwargs,
                    milvus_conn_id=self.milvus_conn_id,
                    poll_interval=self.poll_interval,
                    deadline=deadline.isoformat() if deadline else None,
                    rpc_timeout=self.rpc_timeout,
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.wait_timeout + DEFER_GRACE_SECONDS) if self.wait_timeout else None,
            )
        return wait_sync(self.hook, target, poll_interval=self.poll_interval, deadline=deadline, logger=self.log)


class MilvusFlushOperator(_MilvusWaitingOperator):
    """Flushes one or more collections (Milvus Flush); with ``wait_for_completion``, waits until
    the flushed segments are persisted, like Node's ``flushSync`` or Go's ``FlushTask.Await``.

    Returns ``{"db_name", "collections": {name: {"segment_ids", "flushed_segment_ids", "flush_ts",
    "seal_time"}}, "channel_checkpoints": {channel: {"timestamp"}}}``, with ``"flushed": True``
    added when it waited. Feed it to :class:`~airflow_provider_milvus.sensors.milvus.MilvusFlushStateSensor`
    as ``flush_result`` to wait in a separate task.

    :param collection_names: A collection name or a list of them (templated).
    :param db_name: Database; None uses the connection's (templated).
    :param wait_for_completion: Wait until the data is persisted.
    :param deferrable: Wait in the triggerer instead of the worker (needs ``wait_for_completion``).
    :param poll_interval: Seconds between GetFlushState polls.
    :param wait_timeout: Total seconds to wait; None waits without limit.
    :param rpc_timeout: Seconds allowed for each RPC; None uses the connection's timeout.
    :param milvus_conn_id: Airflow connection of type ``milvus``.
    """

    template_fields: Sequence[str] = ("collection_names", "db_name")

    def __init__(self, *, collection_names: str | list[str], db_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.collection_names = collection_names
        self.db_name = db_name

    def execute(self, context: Context) -> dict[str, Any]:
        names = validate_collection_names(native(self.collection_names))
        result = self.hook.flush(names, db_name=self.db_name or None, timeout=self.rpc_timeout)
        for name, info in result["collections"].items():
            self.log.info("Flushed %r: segments %s, flush_ts %s", name, info["segment_ids"], info["flush_ts"])
        if not self.wait_for_completion:
            return result
        # Kept for execute_complete: resuming from the triggerer starts a fresh operator.
        context["ti"].xcom_push(key=FLUSH_RESULT_KEY, value=result)
        target = FlushStateTarget.from_flush_result(result, rpc_timeout=self.rpc_timeout)
        self._wait(target, MilvusFlushStateTrigger, {"collections": target.collections, "db_name": target.db_name})
        return {**result, "flushed": True}

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        raise_for_event(event)
        ti = context["ti"]
        flush_result = ti.xcom_pull(task_ids=ti.task_id, key=FLUSH_RESULT_KEY, map_indexes=ti.map_index)
        return {**flush_result, "flushed": True}


class MilvusBulkInsertOperator(_MilvusWaitingOperator):
    """Starts an import (bulk insert) of files into a collection (Milvus Import).

    ``files`` are paths in Milvus's object storage, as the server sees them: one row-based JSON
    file, one Parquet file, or one ``.npy`` file per field. For a server with local storage (like
    the embedded one) these are absolute local paths; for MinIO/S3, object keys in its bucket.

    Returns the import task ID. With ``wait_for_completion`` it waits for ImportCompleted, logs
    progress as it changes, pushes the final state under the XCom key ``import_state``, and fails
    with Milvus's ``failed_reason`` if the import fails. A retried task reattaches to an import
    it already started for the same collection, partition and files, if that is still running,
    instead of submitting it again.

    :param collection_name: Target collection (templated).
    :param files: List of file paths (templated).
    :param partition_name: Target partition; None for the default one (templated).
    :param db_name: Database; None uses the connection's (templated).
    :param options: Import options passed to Milvus as strings, e.g. ``{"sep": "\\t"}`` (templated).
    """

    template_fields: Sequence[str] = ("collection_name", "files", "partition_name", "db_name", "options")

    def __init__(
        self,
        *,
        collection_name: str,
        files: list[str] | str,
        partition_name: str | None = None,
        db_name: str | None = None,
        options: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.collection_name = collection_name
        self.files = files
        self.partition_name = partition_name
        self.db_name = db_name
        self.options = options

    def execute(self, context: Context) -> int:
        collection = validate_collection_names(self.collection_name, "collection_name")[0]
        files = validate_import_files(native(self.files))
        options = native(self.options)
        if options is not None and not isinstance(options, dict):
            raise MilvusConfigError(f"options must be a dict of strings, got {self.options!r}")
        task_id = self._running_import(context, collection, files)
        if task_id is None:
            task_id = self.hook.bulk_insert(
                collection,
                files,
                partition_name=self.partition_name or None,
                db_name=self.db_name or None,
                options=options,
                timeout=self.rpc_timeout,
            )
            self.log.info("Started import task %s of %s into %r", task_id, files, collection)
        if not self.wait_for_completion:
            return task_id
        target = ImportStateTarget(task_id, rpc_timeout=self.rpc_timeout)
        try:
            state = self._wait(target, MilvusImportStateTrigger, {"import_task_id": task_id})
        except MilvusWaitFailed as err:
            context["ti"].xcom_push(key="import_state", value=err.result)
            raise
        context["ti"].xcom_push(key="import_state", value=state)
        return task_id

    def execute_complete(self, context: Context, event: dict[str, Any]) -> int:
        if isinstance(event, dict) and event.get("import_state"):
            context["ti"].xcom_push(key="import_state", value=event["import_state"])
        return raise_for_event(event)["import_state"]["id"]

    def _running_import(self, context: Context, collection: str, files: list[str]) -> int | None:
        """On a retry, the import an earlier try started for the same input, if still running.

        Milvus 2.2/2.3 report the files, collection and partition of each task; later versions
        do not, and there a retry submits the import again.
        """
        if context["ti"].try_number <= 1:
            return None
        partition = self.partition_name or "_default"
        for task in self.hook.list_import_tasks(collection, db_name=self.db_name or None, timeout=self.rpc_timeout):
            infos = task["infos"]
            if (
                task["state"] in RUNNING_IMPORT_STATES
                and infos.get("collection") == collection
                and infos.get("partition", "_default") == partition
                and infos.get("files") == ",".join(files)
            ):
                self.log.info("Reattaching to import task %s started by an earlier try (%s)", task["id"], task["state"])
                return task["id"]
        return None
