"""Operators that start a Milvus flush or import (bulk insert), and optionally wait for it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_milvus.exceptions import MilvusError, MilvusWaitFailed
from airflow_provider_milvus.hooks.milvus import MilvusHook
from airflow_provider_milvus.triggers.milvus import (
    MilvusFlushStateTrigger,
    MilvusImportStateTrigger,
    MilvusWaitTrigger,
)
from airflow_provider_milvus.types import IMPORT_COMPLETED, IMPORT_RUNNING_STATES, FlushResult, ImportState
from airflow_provider_milvus.utils.mixins import (
    DEFER_GRACE_SECONDS,
    MilvusHookMixin,
    default_deferrable,
    event_result,
    parse_rendered_literal,
)
from airflow_provider_milvus.validation import (
    validate_collection_names,
    validate_import_files,
    validate_import_options,
    validate_import_task_id,
    validate_positive,
)
from airflow_provider_milvus.wait import (
    FlushStateTarget,
    ImportStateTarget,
    RequestTarget,
    WaitTarget,
    deadline_after,
    wait_sync,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

FLUSH_RESULT_KEY = "flush_result"
# Where a bulk insert keeps the import it started, in Airflow's task state store (Airflow 3.3+),
# so that a retry reconnects to it instead of starting a second one.
IMPORT_STORE_KEY = "milvus_import"

T = TypeVar("T")


class _MilvusWaitingOperator(MilvusHookMixin, BaseOperator):
    """Shared by the operators: send a request, then optionally wait, in the worker or the triggerer.

    :param wait_for_completion: Wait until Milvus reports the work done.
    :param deferrable: Wait in the triggerer instead of the worker (needs ``wait_for_completion``;
        default: ``[operators] default_deferrable``).
    :param poll_interval: Seconds between polls while waiting.
    :param wait_timeout: Total seconds to wait; None waits without limit. Enforced as an absolute
        deadline, in the triggerer too.
    :param rpc_timeout: Seconds allowed for each RPC; None uses the connection's timeout.
    :param submit_timeout: Seconds to keep resending the request while Milvus answers with a
        transient error (rate limited, not ready, unreachable); each retry is logged.
    :param milvus_conn_id: Airflow connection of type ``milvus``.
    """

    def __init__(
        self,
        *,
        milvus_conn_id: str = MilvusHook.default_conn_name,
        wait_for_completion: bool = False,
        deferrable: bool = default_deferrable(),
        poll_interval: float = 5.0,
        wait_timeout: float | None = None,
        rpc_timeout: float | None = None,
        submit_timeout: float = 120.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._set_milvus_arguments(milvus_conn_id, rpc_timeout, deferrable)
        self.wait_for_completion = wait_for_completion
        self.poll_interval = validate_positive(poll_interval, "poll_interval")
        self.wait_timeout = validate_positive(wait_timeout, "wait_timeout", optional=True)
        self.submit_timeout = validate_positive(submit_timeout, "submit_timeout")

    def _send(self, description: str, request: Callable[[], T], *, idempotent: bool) -> T:
        """Send a request, again while Milvus turns it away as transient, for ``submit_timeout``.

        Milvus 2.4.5+ rate-limits Flush by default (0.1/s per collection): a second flush of a
        collection within ~10 s is answered "rate limit exceeded" (code 8) and succeeds later.
        """
        target = RequestTarget(description, request, idempotent=idempotent)
        return wait_sync(
            self.hook, target, poll_interval=1.0, deadline=deadline_after(self.submit_timeout), logger=self.log
        )

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
    :param submit_timeout: Seconds to keep resending the Flush while Milvus answers with a
        transient error (rate limited, not ready, unreachable); each retry is logged.
    :param milvus_conn_id: Airflow connection of type ``milvus``.
    """

    template_fields: Sequence[str] = ("collection_names", "db_name")

    def __init__(self, *, collection_names: str | list[str], db_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.collection_names = collection_names
        self.db_name = db_name

    def execute(self, context: Context) -> FlushResult:
        names = validate_collection_names(parse_rendered_literal(self.collection_names))
        # Flushing twice is harmless, so any transient error is retried.
        result = self._send(
            f"Milvus to accept the Flush of {names}",
            lambda: self.hook.flush(names, db_name=self.db_name or None, timeout=self.rpc_timeout),
            idempotent=True,
        )
        for name, info in result["collections"].items():
            self.log.info("Flushed %r: segments %s, flush_ts %s", name, info["segment_ids"], info["flush_ts"])
        if not self.wait_for_completion:
            return result
        # Kept for execute_complete: resuming from the triggerer starts a fresh operator.
        context["ti"].xcom_push(key=FLUSH_RESULT_KEY, value=result)
        target = FlushStateTarget.from_flush_result(result, rpc_timeout=self.rpc_timeout)
        self._wait(target, MilvusFlushStateTrigger, {"collections": target.collections, "db_name": target.db_name})
        return {**result, "flushed": True}

    def execute_complete(self, context: Context, event: dict[str, Any]) -> FlushResult:
        event_result(event)
        ti = context["ti"]
        flush_result: FlushResult = ti.xcom_pull(task_ids=ti.task_id, key=FLUSH_RESULT_KEY, map_indexes=ti.map_index)
        return {**flush_result, "flushed": True}


class MilvusBulkInsertOperator(_MilvusWaitingOperator):
    """Starts an import (bulk insert) of files into a collection (Milvus Import).

    ``files`` are paths in Milvus's object storage, as the server sees them: one data file (JSON
    rows, Parquet; CSV from Milvus 2.5, JSONL from 2.6) or one ``.npy`` file per field. For a server
    with local storage (like the embedded one) these are absolute local paths; for MinIO/S3, object
    keys in its bucket. The server judges the format: one it cannot read fails the import with
    Milvus's reason.

    Returns the import task ID (the ID Milvus returned when the import was submitted). With
    ``wait_for_completion`` it waits for ImportCompleted, logs progress as it changes, pushes the
    final state under the XCom key ``import_state``, and fails with Milvus's ``failed_reason`` if the
    import fails.

    A retried task does not import twice. On Airflow 3.3+ the operator records the import it
    started in the task state store; a retry reconnects to that import while it runs, returns it
    if it completed, and submits again only if it failed (or the inputs changed). On older Airflow,
    a retry looks for a running import of the same files, which only Milvus 2.2/2.3 report; on
    Milvus 2.4+ there it submits again. The record is removed when the task succeeds.

    :param collection_name: Target collection (templated).
    :param files: List of file paths (templated).
    :param partition_name: Target partition; None for the default one (templated).
    :param db_name: Database; None uses the connection's (templated).
    :param options: Import options passed to Milvus as strings, e.g. ``{"sep": "\\t"}`` (templated).
        ``auto_commit=false`` is refused before any request: the import would wait for a commit.
    :param wait_for_completion: Wait until the import completes (ImportCompleted).
    :param deferrable: Wait in the triggerer instead of the worker (needs ``wait_for_completion``).
    :param poll_interval: Seconds between GetImportState polls.
    :param wait_timeout: Total seconds to wait; None waits without limit.
    :param rpc_timeout: Seconds allowed for each RPC; None uses the connection's timeout.
    :param submit_timeout: Seconds to keep resending the Import while Milvus turns it away
        (rate limited, not ready, unreachable). An error after which the import may exist (a
        deadline passed while Milvus handled it) is never resent.
    :param milvus_conn_id: Airflow connection of type ``milvus``.
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
        files = validate_import_files(parse_rendered_literal(self.files))
        options = validate_import_options(parse_rendered_literal(self.options))
        request: dict[str, Any] = {
            "db_name": self.db_name or "",
            "collection": collection,
            "partition": self.partition_name or "",
            "files": files,
            "options": options,
        }
        task_id = self._earlier_import(context, request)
        if task_id is None:
            task_id = self._send(
                f"Milvus to accept the Import of {files} into {collection!r}",
                lambda: self.hook.bulk_insert(
                    collection,
                    files,
                    partition_name=self.partition_name or None,
                    db_name=self.db_name or None,
                    options=options,
                    timeout=self.rpc_timeout,
                ),
                idempotent=False,
            )
            self.log.info("Started import task %s of %s into %r", task_id, files, collection)
            if self.wait_for_completion and (store := context.get("task_state_store")) is not None:
                store.set(IMPORT_STORE_KEY, {"import_task_id": task_id, "request": request})
        if not self.wait_for_completion:
            return task_id
        target = ImportStateTarget(task_id, rpc_timeout=self.rpc_timeout)
        try:
            state = self._wait(target, MilvusImportStateTrigger, {"import_task_id": task_id})
        except MilvusWaitFailed as err:
            context["ti"].xcom_push(key="import_state", value=err.result)
            raise
        return self._completed(context, task_id, state)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> int:
        if isinstance(event, dict) and event.get("import_state"):
            context["ti"].xcom_push(key="import_state", value=event["import_state"])
        event = event_result(event)
        # The submitted ID, carried by the trigger: Milvus 2.4+ reports id=0 in the state.
        return self._completed(context, int(event.get("import_task_id") or event["import_state"]["id"]), None)

    def _completed(self, context: Context, task_id: int, state: ImportState | None) -> int:
        if state is not None:
            context["ti"].xcom_push(key="import_state", value=state)
        # Done: a later run of this task (a clear) imports anew.
        if (store := context.get("task_state_store")) is not None:
            store.delete(IMPORT_STORE_KEY)
        return task_id

    def _earlier_import(self, context: Context, request: dict[str, Any]) -> int | None:
        """The import an earlier try of this task started for the same request, to reconnect to.

        From the task state store (Airflow 3.3+): that import while it runs or once it completed;
        None if it failed or Milvus no longer knows it. Without the store, on a retry: a running
        import of the same files, which only Milvus 2.2/2.3 report.
        """
        store = context.get("task_state_store")
        if store is not None:
            saved = store.get(IMPORT_STORE_KEY)
            if not isinstance(saved, dict) or saved.get("request") != request:
                return None
            task_id = validate_import_task_id(saved.get("import_task_id"), "the stored import_task_id")
            try:
                state = self.hook.get_import_state(task_id, timeout=self.rpc_timeout)
            except MilvusError as err:
                if err.transient:
                    raise
                self.log.warning(
                    "Import task %s of an earlier try is unknown to Milvus (%s): importing anew", task_id, err
                )
                return None
            if state["state"] in (*IMPORT_RUNNING_STATES, IMPORT_COMPLETED):
                self.log.info(
                    "Reconnecting to import task %s started by an earlier try (%s), found in the task state store",
                    task_id,
                    state["state"],
                )
                return task_id
            self.log.warning(
                "Import task %s of an earlier try ended in %s (%s): importing anew",
                task_id,
                state["state"],
                state["failed_reason"] or "no reason given",
            )
            return None
        if context["ti"].try_number <= 1:
            return None
        partition = request["partition"] or "_default"
        for task in self.hook.list_import_tasks(
            request["collection"], db_name=self.db_name or None, timeout=self.rpc_timeout
        ):
            infos = task["infos"]
            if (
                task["state"] in IMPORT_RUNNING_STATES
                and infos.get("collection") == request["collection"]
                and infos.get("partition", "_default") == partition
                and infos.get("files") == ",".join(request["files"])
            ):
                self.log.info("Reattaching to import task %s started by an earlier try (%s)", task["id"], task["state"])
                return task["id"]
        return None
