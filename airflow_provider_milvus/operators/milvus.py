"""Operators: flush and import (bulk insert), optionally waiting for them; create a collection; ingest rows;
add indexes, load or refresh, release, point an alias, and check a collection's rows."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_milvus.exceptions import (
    MilvusCheckFailed,
    MilvusConfigError,
    MilvusError,
    MilvusImportInterrupted,
    MilvusSchemaConflictError,
    MilvusWaitFailed,
)
from airflow_provider_milvus.hooks.milvus import MilvusHook
from airflow_provider_milvus.hooks.milvus_rest import create_body
from airflow_provider_milvus.schema import rows_from, schema_differences, validate_index_params, validate_schema
from airflow_provider_milvus.storage import FILE_TYPES, rows_from_file, safe_path_part, write_import_files
from airflow_provider_milvus.triggers.milvus import (
    DEFER_GRACE_SECONDS,
    MilvusFlushStateTrigger,
    MilvusImportStateTrigger,
    MilvusIndexStateTrigger,
    MilvusLoadTrigger,
    MilvusWaitTrigger,
)
from airflow_provider_milvus.types import (
    IMPORT_COMPLETED,
    REST_UNCOMMITTED,
    AliasResult,
    CollectionCheckResult,
    CreateCollectionResult,
    CreateIndexResult,
    FlushResult,
    ImportRequest,
    ImportState,
    IngestResult,
    LoadResult,
    TaskEnd,
)
from airflow_provider_milvus.utils.import_resume import (
    ON_UNKNOWN_IMPORT_CHOICES,
    ImportResume,
    OnUnknownImport,
    interrupted_by_restart,
)
from airflow_provider_milvus.utils.mixins import (
    MilvusHookMixin,
    default_deferrable,
    event_result,
)
from airflow_provider_milvus.utils.rest_import import (
    IMPORT_API_CHOICES,
    ImportApi,
    RestImportResume,
    abort_quietly,
    auto_commit_off,
    resolve_import_api,
    rest_transport,
    self_hosted_api,
)
from airflow_provider_milvus.validation import (
    is_sendable,
    is_template,
    parse_rendered_literal,
    validate_collection_names,
    validate_count,
    validate_db_name,
    validate_import_options,
    validate_name,
    validate_optional_name,
    validate_positive,
    validate_vector,
)
from airflow_provider_milvus.wait import (
    FlushStateTarget,
    ImportStateTarget,
    IndexStateTarget,
    LoadTarget,
    RequestTarget,
    RestImportStateTarget,
    WaitTarget,
    deadline_after,
    wait_sync,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

FLUSH_RESULT_KEY = "flush_result"
CREATE_INDEX_RESULT_KEY = "create_index_result"

T = TypeVar("T")


class _MilvusWaitingOperator(MilvusHookMixin, BaseOperator):
    """Shared by the operators: send a request, then optionally wait, in the worker or the triggerer.

    :param wait_for_completion: Wait until Milvus reports the work done.
    :param deferrable: Wait in the triggerer instead of the worker (needs ``wait_for_completion``;
        default: ``[operators] default_deferrable``). On Airflow 3.3+ the trigger also ends the
        task, pushing the XComs the operator would, so no worker resumes it; a task with outlets
        resumes on a worker to record its asset events.
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
        self._set_milvus_arguments(milvus_conn_id, rpc_timeout)
        self.deferrable = deferrable
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

    def _wait(
        self,
        target: WaitTarget,
        trigger_cls: type[MilvusWaitTrigger],
        trigger_kwargs: dict[str, Any],
        end_task: TaskEnd | None = None,
    ) -> Any:
        """Wait for the target here, or defer to the trigger, which ends the task as ``end_task``
        says or resumes it in ``execute_complete``."""
        deadline = deadline_after(self.wait_timeout)
        if self.deferrable:
            self.defer(
                trigger=trigger_cls(
                    **trigger_kwargs,
                    milvus_conn_id=self.milvus_conn_id,
                    poll_interval=self.poll_interval,
                    deadline=deadline.isoformat() if deadline else None,
                    rpc_timeout=self.rpc_timeout,
                    end_task=end_task,
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.wait_timeout + DEFER_GRACE_SECONDS) if self.wait_timeout else None,
            )
        return wait_sync(self.hook, target, poll_interval=self.poll_interval, deadline=deadline, logger=self.log)


class MilvusFlushOperator(_MilvusWaitingOperator):
    """Flushes one or more collections (Milvus Flush), optionally waiting until they are persisted.

    See docs/operators/flush.md. With ``wait_for_completion`` it waits until the flushed segments
    are persisted, like Node's ``flushSync`` or Go's ``FlushTask.Await``.

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
        db_name = validate_db_name(self.db_name, "db_name")
        # Flushing twice is harmless, so any transient error is retried.
        result = self._send(
            f"Milvus to accept the Flush of {names}",
            lambda: self.hook.flush(names, db_name=db_name, timeout=self.rpc_timeout),
            idempotent=True,
        )
        for name, info in result["collections"].items():
            self.log.info("Flushed %r: segments %s, flush_ts %s", name, info["segment_ids"], info["flush_ts"])
        if not self.wait_for_completion:
            self._report_flush(context, result, flushed=False)
            return result
        # Kept for execute_complete: resuming from the triggerer starts a fresh operator.
        context["ti"].xcom_push(key=FLUSH_RESULT_KEY, value=result)
        target = FlushStateTarget.from_flush_result(result, rpc_timeout=self.rpc_timeout)
        self._wait(
            target,
            MilvusFlushStateTrigger,
            {"collections": target.collections, "db_name": target.db_name},
            self._task_end(xcoms={"return_value": {**result, "flushed": True}}),
        )
        self._report_flush(context, result, flushed=True)
        return {**result, "flushed": True}

    def execute_complete(self, context: Context, event: dict[str, Any]) -> FlushResult:
        event_result(event)
        ti = context["ti"]
        flush_result: FlushResult = ti.xcom_pull(task_ids=ti.task_id, key=FLUSH_RESULT_KEY, map_indexes=ti.map_index)
        self._report_flush(context, flush_result, flushed=True)
        return {**flush_result, "flushed": True}

    def _report_flush(self, context: Context, result: FlushResult, *, flushed: bool) -> None:
        collections = result["collections"]
        flush_ts = {name: info["flush_ts"] for name, info in collections.items()}
        self._report_to_outlets(context, list(collections), {"flush_ts": flush_ts, "flushed": flushed})


class MilvusBulkInsertOperator(_MilvusWaitingOperator):
    """Starts an import (bulk insert) of files into a collection (Milvus Import).

    See docs/operators/bulk-insert.md.

    ``files`` are paths in Milvus's storage, as the server sees them: one data file (JSON rows,
    Parquet; CSV from Milvus 2.5, JSONL from 2.6) or one ``.npy`` file per field. For a server with
    local storage (like the embedded one) these are absolute local paths; for MinIO/S3, object keys
    in its bucket, from the bucket's root, or ``s3://`` URIs and ``ObjectStoragePath`` objects of that
    bucket (the connection's ``bucket_name``), turned into keys before any request.
    :class:`MilvusBulkWriteOperator` writes them and returns them grouped for this operator. The
    server judges the format: one it cannot read fails the import with Milvus's reason.

    Returns the import task ID (the ID Milvus returned when the import was submitted). With
    ``wait_for_completion`` it waits for ImportCompleted, logs progress as it changes, pushes the
    final state under the XCom key ``import_state``, and fails with Milvus's ``failed_reason`` if the
    import fails.

    A retried task does not import twice. Each try records its request in Airflow's task state store
    (Airflow 3.3+) before it sends the Import, and the import's ID once Milvus answers; a retry
    reconnects to that import while it runs or once it completed, and imports anew only if it
    failed. A try lost between the Import and the record leaves its retry the request: the retry
    finds the import by its files in Milvus's listing (Milvus 2.2/2.3). On Milvus 2.4+, whose
    listing names no files and no create times, it imports if Milvus lists no running or completed
    import of the collection, and otherwise fails saying it cannot tell, unless
    ``on_unknown_import="import_anew"``.
    Without a task state store (Airflow before 3.3) a retry searches the listing from the start of
    the DAG run the same way. Several imports of the request fail the task, listed under the XCom
    key ``duplicate_imports``. The record outlives the task, as Airflow's resumable jobs' do: a
    cleared task that succeeded returns its import again; set ``[state_store] clear_on_success`` to
    import anew on a clear. See docs/reliability.md.

    :param collection_name: Target collection (templated).
    :param files: List of file paths, object keys, ``s3://`` URIs or ``ObjectStoragePath`` objects (templated).
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
    :param on_unknown_import: What a retry does when it cannot tell whether an earlier try's
        import reached Milvus: ``"fail"`` (the default: fail saying so, since importing again could
        load the rows twice) or ``"import_anew"`` (import again; for collections that deduplicate,
        or data loaded into a fresh collection per run).
    :param api: ``"grpc"`` (Milvus's Import RPC), ``"rest"`` (the REST Import V2 API of Milvus 2.4+
        and Zilliz Cloud; its job ID, a string, is returned) or ``"auto"`` (the default: REST for
        Zilliz Cloud or REST-only options, and for a Milvus 2.4+ that answers REST on the
        connection's port; gRPC otherwise). See docs/operators/bulk-insert.md.
    :param object_urls: Zilliz Cloud: object URLs to import (REST only; templated).
    :param volume_name: Zilliz Cloud: the volume ``data_paths`` are in (REST only; templated).
    :param data_paths: Zilliz Cloud: paths in ``volume_name`` (REST only; templated).
    :param aws_conn_id: Zilliz Cloud: an Airflow AWS connection whose keys Zilliz Cloud reads
        ``object_urls`` with; None uses the Milvus connection's ``storage_access_key`` and
        ``storage_secret_key``, if set. Never logged, nor kept in XCom or the task state store.
    :param milvus_conn_id: Airflow connection of type ``milvus``.
    """

    template_fields: Sequence[str] = (
        "collection_name",
        "files",
        "partition_name",
        "db_name",
        "options",
        "object_urls",
        "volume_name",
        "data_paths",
    )

    def __init__(
        self,
        *,
        collection_name: str,
        files: list[str] | str | None = None,
        partition_name: str | None = None,
        db_name: str | None = None,
        options: dict[str, str] | None = None,
        on_unknown_import: OnUnknownImport = "fail",
        api: ImportApi = "auto",
        object_urls: list[str] | str | None = None,
        volume_name: str | None = None,
        data_paths: list[str] | str | None = None,
        aws_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if api not in IMPORT_API_CHOICES:
            raise MilvusConfigError(f"api must be one of {list(IMPORT_API_CHOICES)}, got {api!r}")
        self.api = api
        self.object_urls = object_urls
        self.volume_name = volume_name
        self.data_paths = data_paths
        self.aws_conn_id = aws_conn_id
        if on_unknown_import not in ON_UNKNOWN_IMPORT_CHOICES:
            raise MilvusConfigError(
                f"on_unknown_import must be one of {list(ON_UNKNOWN_IMPORT_CHOICES)}, got {on_unknown_import!r}"
            )
        self.collection_name = collection_name
        self.files = files
        self.partition_name = partition_name
        self.db_name = db_name
        self.options = options
        self.on_unknown_import = on_unknown_import

    def execute(self, context: Context) -> int | str:
        collection = validate_name(self.collection_name, "collection_name")
        raw_options = validate_import_options(parse_rendered_literal(self.options), two_phase=True)
        object_urls = parse_rendered_literal(self.object_urls)
        data_paths = parse_rendered_literal(self.data_paths)
        rest_only = [
            name
            for name, given in (
                ("object_urls", object_urls),
                ("volume_name", self.volume_name),
                ("data_paths", data_paths),
                ("auto_commit=false", auto_commit_off(raw_options)),
            )
            if given
        ]
        if self.aws_conn_id and not object_urls:
            raise MilvusConfigError("aws_conn_id gives the keys Zilliz Cloud reads object_urls with: give object_urls")
        settings = self.hook.settings
        api = resolve_import_api(self.api, settings.address, rest_only=rest_only, cluster_id=settings.cluster_id)
        if api == "rest":
            return self._execute_rest(context, collection, raw_options, object_urls, data_paths)
        files = self.hook.import_file_keys(parse_rendered_literal(self.files))
        options = validate_import_options(parse_rendered_literal(self.options))
        db_name = validate_db_name(self.db_name, "db_name")
        partition_name = validate_optional_name(self.partition_name, "partition_name")
        # The inputs are checked: now "auto" may ask the server which API it serves (GetVersion is
        # resent while Milvus is unreachable or busy, as the Import is).
        if self.api == "auto":
            version = self._send(
                "Milvus to answer GetVersion", lambda: self.hook.get_server_version(self.rpc_timeout), idempotent=True
            )
            if self_hosted_api(self.hook, version, collection, db_name, self.rpc_timeout, self.log) == "rest":
                return self._execute_rest(context, collection, raw_options, object_urls, data_paths)
        request: ImportRequest = {
            "db_name": db_name or "",
            "collection": collection,
            "partition": partition_name or "",
            "files": files,
            "options": options,
        }
        resume = ImportResume(
            self.hook,
            context,
            request,
            on_unknown_import=self.on_unknown_import,
            rpc_timeout=self.rpc_timeout,
            log=self.log,
        )
        task_id = resume.earlier_import()
        if task_id is None:
            resume.record_intent()
            task_id = self._send(
                f"Milvus to accept the Import of {files} into {collection!r}",
                lambda: self.hook.bulk_insert(
                    collection,
                    files,
                    partition_name=partition_name,
                    db_name=db_name,
                    options=options,
                    timeout=self.rpc_timeout,
                ),
                idempotent=False,
            )
            resume.record_import(task_id)
            self.log.info("Started import task %s of %s into %r", task_id, files, collection)
        if not self.wait_for_completion:
            self._report_to_outlets(context, [collection], {"import_task_id": task_id, "files": files})
            return task_id
        target = ImportStateTarget(task_id, rpc_timeout=self.rpc_timeout)
        try:
            state = self._wait(
                target,
                MilvusImportStateTrigger,
                {"import_task_id": task_id},
                self._task_end(
                    xcoms={"return_value": task_id}, result_xcom="import_state", failure_xcom="import_state"
                ),
            )
        except MilvusWaitFailed as err:
            self._import_failed(context, err)
        return self._completed(context, task_id, state, state["row_count"] if state else None)

    @staticmethod
    def _import_failed(context: Context, err: MilvusWaitFailed) -> NoReturn:
        """Push the failed import's state; fail for good, or (Milvus restarted under it) for a retry."""
        context["ti"].xcom_push(key="import_state", value=err.result)
        if interrupted_by_restart(err.result):
            raise MilvusImportInterrupted(f"{err}; a retry of this task imports its files anew", err.result) from err
        raise err

    def _execute_rest(
        self,
        context: Context,
        collection: str,
        options: dict[str, str],
        object_urls: Any,
        data_paths: Any,
    ) -> str:
        """The import over REST: create (or reconnect to the recorded job), wait, commit a two-phase job."""
        two_phase = auto_commit_off(options)
        if self.deferrable and two_phase:
            raise MilvusConfigError(
                "a two-phase import (auto_commit=false) is committed from the worker: set deferrable=False"
            )
        files = self.hook.import_file_keys(parse_rendered_literal(self.files)) if self.files else None
        db_name = validate_db_name(self.db_name, "db_name")
        partition_name = validate_optional_name(self.partition_name, "partition_name")
        volume_name = validate_optional_name(self.volume_name, "volume_name")
        rest = rest_transport(self.hook)
        create = {
            "partition_name": partition_name,
            "db_name": db_name,
            "options": options,
            "object_urls": object_urls,
            "volume_name": volume_name or "",
            "data_paths": data_paths,
        }
        # The request is built once here, so that what it lacks is named before anything is read or sent.
        create_body(rest.target, collection, files, **create)
        request = {
            "db_name": db_name or "",
            "collection": collection,
            "partition": partition_name or "",
            "files": files or object_urls or data_paths,
            "volume_name": volume_name or "",
            "options": options,
        }
        # Never in the request record, which goes to the task state store.
        credentials = self.hook.object_url_credentials(self.aws_conn_id) if object_urls else {}
        resume = RestImportResume(
            rest,
            context,
            request,
            on_unknown_import=self.on_unknown_import,
            db_name=db_name,
            rpc_timeout=self.rpc_timeout,
            log=self.log,
        )
        job_id = resume.earlier_job()
        if job_id is None:
            resume.record_intent()
            job_id = self._send(
                f"Milvus to accept the REST import into {collection!r}",
                lambda: rest.create_import(collection, files, timeout=self.rpc_timeout, **create, **credentials),
                idempotent=False,
            )
            resume.record_job(job_id)
            self.log.info("Started import job %s into %r", job_id, collection)
        if not self.wait_for_completion and not two_phase:
            self._report_to_outlets(context, [collection], {"import_task_id": job_id})
            return job_id
        if self.deferrable:
            # Only the deferral returns here: a wait in the worker goes on below.
            self._wait(
                RestImportStateTarget(job_id, db_name, self.rpc_timeout),
                MilvusImportStateTrigger,
                {"import_task_id": job_id, "api": "rest", "db_name": db_name},
                self._task_end(xcoms={"return_value": job_id}, result_xcom="import_state", failure_xcom="import_state"),
            )
        deadline = deadline_after(self.wait_timeout)
        # What on_kill aborts, while a two-phase job waits for its commit.
        self._uncommitted_job = (job_id, db_name) if two_phase else None
        try:
            job = wait_sync(
                self.hook,
                RestImportStateTarget(job_id, db_name, self.rpc_timeout, until_uncommitted=two_phase),
                poll_interval=self.poll_interval,
                deadline=deadline,
                logger=self.log,
            )
            if two_phase and job["rest_state"] == REST_UNCOMMITTED:
                try:
                    rest.commit_import(job_id, db_name=db_name, timeout=self.rpc_timeout)
                except MilvusError as err:
                    raise err.with_context(f"import job {job_id}: commit failed, the job is aborted") from err
                self.log.info("Committed import job %s", job_id)
                job = wait_sync(
                    self.hook,
                    RestImportStateTarget(job_id, db_name, self.rpc_timeout),
                    poll_interval=self.poll_interval,
                    deadline=deadline,
                    logger=self.log,
                )
        except MilvusWaitFailed as err:
            context["ti"].xcom_push(key="import_state", value=err.result)
            raise
        except BaseException:
            if two_phase:
                abort_quietly(rest, job_id, db_name, self.log)
            raise
        finally:
            self._uncommitted_job = None
        context["ti"].xcom_push(key="import_state", value=job)
        self.log.info(
            "Import job %s: %s, %s/%s rows; files: %s",
            job_id,
            job["rest_state"],
            job["imported_rows"],
            job["total_rows"],
            [(f["file_name"], f["progress"]) for f in job["details"]],
        )
        self._report_to_outlets(
            context, [collection], {"import_task_id": job_id, "state": IMPORT_COMPLETED, "rows": job["imported_rows"]}
        )
        return job_id

    def on_kill(self) -> None:
        """A task killed while its two-phase job waits for the commit aborts the job (a second abort
        of it, by the wait's own handler, is a no-op in Milvus)."""
        job = getattr(self, "_uncommitted_job", None)
        if job is not None:
            abort_quietly(rest_transport(self.hook), job[0], job[1], self.log)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> int | str:
        try:
            done = event_result(event)
        except MilvusWaitFailed as err:
            if err.result:  # the failed import's state, which the trigger carried
                self._import_failed(context, err)
            raise
        state: dict[str, Any] | None = done.get("import_state")
        if state is not None and "rest_state" in state:  # a REST job (RestImportJob): its ID is a string
            return self._completed(context, str(done["import_task_id"]), state, state["imported_rows"])
        # The submitted ID, carried by the trigger: Milvus 2.4+ reports id=0 in the state.
        task_id = int(done.get("import_task_id") or done["import_state"]["id"])
        return self._completed(context, task_id, state, state["row_count"] if state else None)

    def _completed(self, context: Context, task_id: T, state: Any, rows: int | None) -> T:
        if state is not None:
            context["ti"].xcom_push(key="import_state", value=state)
        extra = {"import_task_id": task_id, "state": IMPORT_COMPLETED, **({"rows": rows} if rows is not None else {})}
        self._report_to_outlets(context, [str(self.collection_name)], extra)
        return task_id


class MilvusBulkWriteOperator(MilvusHookMixin, BaseOperator):
    """Writes rows as import files where Milvus reads them, checked against the collection's schema.

    See docs/operators/bulk-write.md.

    Rows come from ``data`` (a list of row dicts or a dict of equally long columns, from XCom or a
    template) or from ``source`` (a Parquet or CSV file, an ``ObjectStoragePath`` or a local path).
    pymilvus's bulk writer checks each row against the collection's schema and writes Milvus-ready
    files of about ``chunk_size`` bytes each. For a Milvus with MinIO/S3 storage (the connection's
    ``bucket_name`` extra) they are uploaded to its bucket under ``remote_path``, with the endpoint
    and keys of ``aws_conn_id`` or of the connection's ``storage_*`` extras; for a Milvus with local
    storage, written under ``local_path``, a directory the server reads.

    Returns the file groups, one import each, ready for
    ``MilvusBulkInsertOperator.partial(...).expand(files=...)``. Each try writes under a prefix of
    its own task instance (``<remote_path>/<dag_id>/<run_id>/<task_id>[/<map_index>]``) and first
    removes what an earlier try left there, so a retry returns, and leaves, only its own files.

    :param collection_name: The collection whose schema the rows must fit (templated).
    :param data: Rows, or columns (templated).
    :param source: A Parquet or CSV file of rows (templated); CSV holds vectors as JSON text.
    :param file_type: ``"parquet"`` (the default), ``"json"``, or ``"csv"`` (Milvus 2.5+).
    :param chunk_size: About how many bytes each file group holds (pymilvus's default: 128 MiB).
    :param remote_path: Key prefix in the bucket (templated).
    :param local_path: Directory the server reads import files from, for a server with local
        storage (templated).
    :param aws_conn_id: Airflow connection (e.g. ``aws_default``) with the keys (login and password)
        and ``endpoint_url`` extra to write to the bucket with; None uses the Milvus connection's.
    :param milvus_conn_id: Airflow connection of type ``milvus``.
    :param rpc_timeout: Seconds allowed for each RPC; None uses the connection's timeout.
    """

    template_fields: Sequence[str] = ("collection_name", "data", "source", "remote_path", "local_path")

    def __init__(
        self,
        *,
        collection_name: str,
        data: Any = None,
        source: Any = None,
        file_type: str = "parquet",
        chunk_size: int = 128 * 1024 * 1024,
        remote_path: str = "bulk_imports",
        local_path: str | None = None,
        aws_conn_id: str | None = None,
        milvus_conn_id: str = MilvusHook.default_conn_name,
        rpc_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._set_milvus_arguments(milvus_conn_id, rpc_timeout)
        if (data is None) == (source is None):
            raise MilvusConfigError("give either data (rows or columns) or source (a Parquet or CSV file), not both")
        if file_type not in FILE_TYPES:
            raise MilvusConfigError(f"file_type must be one of {list(FILE_TYPES)}, got {file_type!r}")
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size <= 0:
            raise MilvusConfigError(f"chunk_size must be a positive number of bytes, got {chunk_size!r}")
        self.collection_name = collection_name
        self.data = data
        self.source = source
        self.file_type = file_type
        self.chunk_size = chunk_size
        self.remote_path = remote_path
        self.local_path = local_path
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Context) -> list[list[str]]:
        collection = validate_name(self.collection_name, "collection_name")
        # Rows given as data are checked now, before any request; a source file is read against the schema.
        rows: Iterable[dict[str, Any]] | None = (
            rows_from(parse_rendered_literal(self.data)) if self.source is None else None
        )
        remote_path = str(self.remote_path or "").strip("/")
        if not remote_path or remote_path.startswith(".") or "//" in remote_path:
            raise MilvusConfigError(f"remote_path must be a key prefix like 'bulk_imports', got {self.remote_path!r}")
        destination = self.hook.storage_destination(self.aws_conn_id)
        if destination is not None and self.local_path:
            raise MilvusConfigError(
                f"local_path: the Milvus connection {self.milvus_conn_id!r} names bucket "
                f"{destination.bucket_name!r}, where Milvus reads import files; leave local_path out"
            )
        if destination is None and not self.local_path:
            raise MilvusConfigError(
                f"local_path: the Milvus connection {self.milvus_conn_id!r} names no bucket_name, so Milvus reads "
                "import files from its own disk: give a directory it reads, or set bucket_name for MinIO/S3 storage"
            )
        schema = self.hook.collection_schema(collection, timeout=self.rpc_timeout)
        ti = context["ti"]
        parts = [
            ti.dag_id,
            ti.run_id,
            ti.task_id,
            *([str(ti.map_index)] if ti.map_index is not None and ti.map_index >= 0 else []),
        ]
        prefix = "/".join([remote_path, *(safe_path_part(str(part)) for part in parts)])
        if rows is None:
            rows = rows_from_file(self.source, schema)
        groups = write_import_files(
            schema,
            rows,
            prefix=prefix,
            destination=destination,
            local_dir=self.local_path,
            file_type=self.file_type,
            chunk_size=self.chunk_size,
        )
        where = f"bucket {destination.bucket_name!r}" if destination else repr(self.local_path)
        self.log.info(
            "Wrote %d file group(s) for %r under %s in %s: %s", len(groups), collection, prefix, where, groups
        )
        return groups


class MilvusCreateCollectionOperator(MilvusHookMixin, BaseOperator):
    """Creates a collection from a declarative schema, with its indexes, and optionally loads it.

    See docs/operators/create-collection.md.

    Idempotent: if the collection exists with the same schema (as far as the schema given states
    it), nothing is created; if it exists with a different one, the task fails naming each
    difference. Returns ``{"collection_name", "created", "loaded"}``.

    :param collection_name: The collection (templated).
    :param schema: ``{"fields": [...], "enable_dynamic_field": bool, "description": str}``; each field
        ``{"name", "type", "is_primary", "auto_id", "dim", "max_length", "element_type",
        "max_capacity", "nullable", "is_partition_key", "description"}`` with Milvus type names
        (``INT64``, ``VARCHAR``, ``FLOAT_VECTOR``, ...) (templated). See :mod:`airflow_provider_milvus.schema`.
    :param index_params: ``[{"field_name", "index_type", "metric_type", "params"}]``, created with
        the collection (templated). Milvus loads only collections whose vector fields are indexed.
    :param load: Load the collection for search once it exists.
    :param milvus_conn_id: Airflow connection of type ``milvus``.
    :param rpc_timeout: Seconds allowed for each RPC; None uses the connection's timeout.
    """

    template_fields: Sequence[str] = ("collection_name", "schema", "index_params")

    def __init__(
        self,
        *,
        collection_name: str,
        schema: dict[str, Any] | str,
        index_params: list[dict[str, Any]] | str | None = None,
        load: bool = False,
        milvus_conn_id: str = MilvusHook.default_conn_name,
        rpc_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._set_milvus_arguments(milvus_conn_id, rpc_timeout)
        self.collection_name = collection_name
        self.schema = schema
        self.index_params = index_params
        self.load = load

    def execute(self, context: Context) -> CreateCollectionResult:
        name = validate_name(self.collection_name, "collection_name")
        schema = validate_schema(parse_rendered_literal(self.schema), self.hook.data_types())
        index_params = validate_index_params(
            parse_rendered_literal(self.index_params), [field["name"] for field in schema["fields"]]
        )
        existing = self.hook.describe_collection_schema(name, timeout=self.rpc_timeout)
        if existing is None:
            self.hook.create_collection(name, schema, index_params, timeout=self.rpc_timeout)
            self.log.info("Created collection %r with fields %s", name, [field["name"] for field in schema["fields"]])
        else:
            differences = schema_differences(schema, existing)
            if differences:
                raise MilvusSchemaConflictError(
                    f"collection {name!r} exists with a different schema: " + "; ".join(differences)
                )
            self.log.info("Collection %r exists with this schema; nothing to create", name)
        if self.load:
            self.hook.load_collection(name, timeout=self.rpc_timeout)
            self.log.info("Loaded collection %r", name)
        return {"collection_name": name, "created": existing is None, "loaded": self.load}


class MilvusIngestOperator(MilvusHookMixin, BaseOperator):
    """Inserts or upserts rows computed in a task (a templated or XCom value) in batches.

    See docs/operators/ingest.md.

    For the common small case, thousands of rows; for millions of rows in files,
    :class:`MilvusBulkInsertOperator` is the better tool (the log says so past
    ``BULK_INSERT_ADVISED_ROWS``). Returns ``{"collection_name", "mode", "rows", "batches", "ids"}``.

    A failing batch fails the task with Milvus's reason, its batch number and how many rows were
    written before it. A retried task writes every batch again: with ``upsert=True`` that rewrites
    the same primary keys (no duplicates); plain inserts may duplicate rows, so use upsert for
    tasks with retries.

    :param collection_name: The collection (templated).
    :param data: A list of row dicts, or a dict of equally long columns (templated, e.g.
        ``compute.output`` or ``"{{ ti.xcom_pull('compute') }}"``).
    :param upsert: Upsert (insert or replace by primary key) instead of insert.
    :param batch_size: Rows per request.
    :param partition_name: Target partition; None for the default one (templated).
    :param milvus_conn_id: Airflow connection of type ``milvus``.
    :param rpc_timeout: Seconds allowed for each RPC; None uses the connection's timeout.
    """

    template_fields: Sequence[str] = ("collection_name", "data", "partition_name")
    # Past this many rows, files and a bulk insert load faster and cheaper than row requests.
    BULK_INSERT_ADVISED_ROWS = 100_000

    def __init__(
        self,
        *,
        collection_name: str,
        data: list[dict[str, Any]] | dict[str, list[Any]] | str,
        upsert: bool = False,
        batch_size: int = 1000,
        partition_name: str | None = None,
        milvus_conn_id: str = MilvusHook.default_conn_name,
        rpc_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._set_milvus_arguments(milvus_conn_id, rpc_timeout)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise MilvusConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.collection_name = collection_name
        self.data = data
        self.upsert = upsert
        self.batch_size = batch_size
        self.partition_name = partition_name

    def execute(self, context: Context) -> IngestResult:
        name = validate_name(self.collection_name, "collection_name")
        rows = rows_from(parse_rendered_literal(self.data))
        partition_name = validate_optional_name(self.partition_name, "partition_name")
        mode = "upsert" if self.upsert else "insert"
        if len(rows) > self.BULK_INSERT_ADVISED_ROWS:
            self.log.warning(
                "%d rows: for more than %d rows, files and MilvusBulkInsertOperator load faster",
                len(rows),
                self.BULK_INSERT_ADVISED_ROWS,
            )
        batches = (len(rows) + self.batch_size - 1) // self.batch_size
        written, ids = 0, []
        for number, start in enumerate(range(0, len(rows), self.batch_size), 1):
            batch = rows[start : start + self.batch_size]
            try:
                count, batch_ids = self.hook.write_rows(
                    name, batch, upsert=self.upsert, partition_name=partition_name, timeout=self.rpc_timeout
                )
            except MilvusError as err:
                raise err.with_context(
                    f"batch {number} of {batches} (rows {start} to {start + len(batch) - 1}) into {name!r} failed, "
                    f"{written} rows written before it"
                ) from None
            written += count
            ids.extend(batch_ids)
            self.log.info(
                "%s batch %d of %d: %d rows (%d of %d done)", mode, number, batches, count, written, len(rows)
            )
        if not rows:
            self.log.info("No rows to %s into %r", mode, name)
        self._report_to_outlets(context, [name], {"rows": written, "mode": mode})
        return {"collection_name": name, "mode": mode, "rows": written, "batches": batches, "ids": ids}


# --- Searchable: indexes, loading, aliases, and the check a load ends with -------------------------


class MilvusCreateIndexOperator(_MilvusWaitingOperator):
    """Adds indexes to an existing collection, optionally waiting until they are built.

    See docs/operators/index-and-load.md.

    Idempotent: an index that exists by its name (Milvus names an index after its field by
    default) with the same index and metric type is left alone; one with other types fails the task
    naming them. With ``wait_for_completion`` it waits, in the worker or deferred, until each index
    is built for all rows, as :class:`~airflow_provider_milvus.sensors.milvus.MilvusIndexStateSensor`
    does. Returns ``{"collection_name", "created", "existing", "indexes"}`` (``indexes``: the
    built indexes' states when it waited, else []).

    :param collection_name: The collection (templated).
    :param index_params: ``[{"field_name", "index_type", "metric_type", "params", "index_name"}]``
        (templated), as for :class:`MilvusCreateCollectionOperator`.

    And those of the waiting operators: ``wait_for_completion``, ``deferrable``, ``poll_interval``,
    ``wait_timeout``, ``rpc_timeout``, ``submit_timeout``, ``milvus_conn_id`` (see
    :class:`MilvusFlushOperator`).
    """

    template_fields: Sequence[str] = ("collection_name", "index_params")

    def __init__(self, *, collection_name: str, index_params: list[dict[str, Any]] | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.collection_name = collection_name
        self.index_params = index_params

    def execute(self, context: Context) -> CreateIndexResult:
        name = validate_name(self.collection_name, "collection_name")
        schema = self.hook.describe_collection_schema(name, timeout=self.rpc_timeout)
        if schema is None:
            raise MilvusError("CreateIndex", 100, f"collection not found: {name!r}")
        specs = validate_index_params(
            parse_rendered_literal(self.index_params), [field["name"] for field in schema["fields"]]
        )
        if not specs:
            raise MilvusConfigError("index_params must name at least one index")
        existing = {index["index_name"]: index for index in self.hook.describe_index_params(name, self.rpc_timeout)}
        created, kept = [], []
        for spec in specs:
            index_name = spec.get("index_name") or spec["field_name"]
            have = existing.get(index_name)
            if have is None:
                self._send(
                    f"Milvus to accept index {index_name!r} of {name!r}",
                    functools.partial(self.hook.create_index, name, spec, timeout=self.rpc_timeout),
                    idempotent=True,
                )
                created.append(index_name)
                continue
            differences = [
                f"{key} {have.get(key)!r}, not {spec[key]!r}"
                for key in ("field_name", "index_type", "metric_type")
                if spec.get(key)
                and str(have.get(key, "")).upper() != str(spec[key]).upper()
                and not (key == "index_type" and str(spec[key]).upper() == "AUTOINDEX")
            ]
            if differences:
                raise MilvusSchemaConflictError(
                    f"index {index_name!r} of collection {name!r} exists with " + ", ".join(differences)
                )
            kept.append(index_name)
        self.log.info("Collection %r: created indexes %s, kept existing %s", name, created, kept)
        result: CreateIndexResult = {"collection_name": name, "created": created, "existing": kept, "indexes": []}
        if not self.wait_for_completion:
            return result
        context["ti"].xcom_push(key=CREATE_INDEX_RESULT_KEY, value=result)
        target = IndexStateTarget(name, [*created, *kept], rpc_timeout=self.rpc_timeout)
        indexes = self._wait(
            target,
            MilvusIndexStateTrigger,
            {"collection_name": name, "index_names": target.index_names},
            self._task_end(xcoms={"return_value": result}, result_xcom=None),
        )
        return {**result, "indexes": indexes}

    def execute_complete(self, context: Context, event: dict[str, Any]) -> CreateIndexResult:
        indexes = event_result(event)["indexes"]
        ti = context["ti"]
        result: CreateIndexResult = ti.xcom_pull(
            task_ids=ti.task_id, key=CREATE_INDEX_RESULT_KEY, map_indexes=ti.map_index
        )
        return {**result, "indexes": indexes}


class MilvusLoadCollectionOperator(_MilvusWaitingOperator):
    """Loads a collection for search, or refreshes a loaded one, and waits until Milvus reports it done.

    See docs/operators/index-and-load.md.

    Rows imported into a loaded collection become searchable only once Milvus loads their segments:
    on its own after some seconds, or at once with ``refresh=True``, the maintainers' advice after a
    bulk insert (milvus#21091, #31123). A refresh of a collection that is not loaded loads it (the
    log says so). Returns ``{"collection_name", "partition_names", "refresh", "loaded"}``.

    :param collection_name: The collection (templated).
    :param refresh: Pick up segments added since it was loaded (an import's).
    :param replica_number: In-memory replicas (1 or more); None keeps Milvus's default.
    :param resource_groups: Resource groups to load the replicas in.
    :param load_fields: Only these fields (Milvus 2.5+).
    :param partition_names: Only these partitions (templated).
    :param wait_for_completion: Wait until Milvus reports it loaded (default True).

    And those of the waiting operators: ``deferrable``, ``poll_interval``, ``wait_timeout``,
    ``rpc_timeout``, ``submit_timeout``, ``milvus_conn_id`` (see :class:`MilvusFlushOperator`).
    """

    template_fields: Sequence[str] = ("collection_name", "partition_names")

    def __init__(
        self,
        *,
        collection_name: str,
        refresh: bool = False,
        replica_number: int | None = None,
        resource_groups: list[str] | None = None,
        load_fields: list[str] | None = None,
        partition_names: list[str] | str | None = None,
        wait_for_completion: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(wait_for_completion=wait_for_completion, **kwargs)
        if replica_number is not None and (
            isinstance(replica_number, bool) or not isinstance(replica_number, int) or replica_number < 1
        ):
            raise MilvusConfigError(f"replica_number must be a whole number of at least 1, got {replica_number!r}")
        self.collection_name = collection_name
        self.refresh = bool(refresh)
        self.replica_number = replica_number
        self.resource_groups = (
            validate_collection_names(resource_groups, "resource_groups") if resource_groups else None
        )
        self.load_fields = validate_collection_names(load_fields, "load_fields") if load_fields else None
        self.partition_names = partition_names

    def execute(self, context: Context) -> LoadResult:
        name = validate_name(self.collection_name, "collection_name")
        partitions = parse_rendered_literal(self.partition_names)
        partitions = validate_collection_names(partitions, "partition_names") if partitions else []
        refresh = self.refresh
        if refresh:
            state = self.hook.get_load_state(name, partitions, timeout=self.rpc_timeout)
            if state != "LoadStateLoaded":
                self.log.info("Collection %r is not loaded (%s): loading it instead of refreshing", name, state)
                refresh = False
        self._send(
            f"Milvus to accept the {'refresh' if refresh else 'load'} of {name!r}",
            lambda: self.hook.start_load(
                name,
                partition_names=partitions,
                refresh=refresh,
                replica_number=self.replica_number,
                resource_groups=self.resource_groups,
                load_fields=self.load_fields,
                timeout=self.rpc_timeout,
            ),
            idempotent=True,
        )
        result: LoadResult = {
            "collection_name": name,
            "partition_names": partitions,
            "refresh": refresh,
            "loaded": False,
        }
        if not self.wait_for_completion:
            return result
        result = {**result, "loaded": True}
        target = LoadTarget(name, partitions, refresh=refresh, rpc_timeout=self.rpc_timeout)
        self._wait(
            target,
            MilvusLoadTrigger,
            {"collection_name": name, "partition_names": partitions, "refresh": refresh},
            self._task_end(xcoms={"return_value": result}),
        )
        self.log.info("Collection %r %s", name, "refreshed" if refresh else "loaded")
        return result

    def execute_complete(self, context: Context, event: dict[str, Any]) -> LoadResult:
        event_result(event)
        partitions = parse_rendered_literal(self.partition_names) or []
        refresh = bool(self.refresh and event.get("message", "").startswith("refresh"))
        return {
            "collection_name": str(self.collection_name),
            "partition_names": list(partitions) if not isinstance(partitions, str) else [partitions],
            "refresh": refresh,
            "loaded": True,
        }


class MilvusReleaseCollectionOperator(MilvusHookMixin, BaseOperator):
    """Releases a collection (or some of its partitions) from memory.

    See docs/operators/index-and-load.md.

    :param collection_name: The collection (templated).
    :param partition_names: Only these partitions (templated).
    :param milvus_conn_id: Airflow connection of type ``milvus``.
    :param rpc_timeout: Seconds allowed for each RPC; None uses the connection's timeout.
    """

    template_fields: Sequence[str] = ("collection_name", "partition_names")

    def __init__(
        self,
        *,
        collection_name: str,
        partition_names: list[str] | str | None = None,
        milvus_conn_id: str = MilvusHook.default_conn_name,
        rpc_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._set_milvus_arguments(milvus_conn_id, rpc_timeout)
        self.collection_name = collection_name
        self.partition_names = partition_names

    def execute(self, context: Context) -> None:
        name = validate_name(self.collection_name, "collection_name")
        partitions = parse_rendered_literal(self.partition_names)
        partitions = validate_collection_names(partitions, "partition_names") if partitions else []
        self.hook.release(name, partitions, timeout=self.rpc_timeout)
        self.log.info("Released %r%s", name, f" partitions {partitions}" if partitions else "")


class MilvusAliasOperator(MilvusHookMixin, BaseOperator):
    """Points an alias at a collection: creates it, or switches it atomically (zero-downtime reload).

    See docs/operators/alias.md.

    Searches through the alias go to the old collection until the switch and to the new one after
    it, with none failing in between (AlterAlias). With ``drop_previous``, the collection the alias
    pointed at before is dropped after the switch, unless another alias still names it. Returns
    ``{"alias", "collection_name", "previous_collection", "dropped_collection"}``. An outlet
    ``milvus://`` asset naming the alias records the switch.

    :param alias: The alias (templated).
    :param collection_name: The collection it is to point at (templated).
    :param drop_previous: Drop the collection it pointed at before, once the switch is done.
    :param drop_grace_period: Seconds between the switch and the drop: a search sent to the previous
        collection just before the switch answers empty if the collection is dropped under it.
    :param db_name: Database; None uses the connection's (templated).
    :param milvus_conn_id: Airflow connection of type ``milvus``.
    :param rpc_timeout: Seconds allowed for each RPC; None uses the connection's timeout.
    """

    template_fields: Sequence[str] = ("alias", "collection_name", "db_name")

    def __init__(
        self,
        *,
        alias: str,
        collection_name: str,
        drop_previous: bool = False,
        drop_grace_period: float = 10.0,
        db_name: str | None = None,
        milvus_conn_id: str = MilvusHook.default_conn_name,
        rpc_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._set_milvus_arguments(milvus_conn_id, rpc_timeout)
        self.alias = alias
        self.collection_name = collection_name
        self.drop_previous = bool(drop_previous)
        if drop_grace_period != 0:
            validate_positive(drop_grace_period, "drop_grace_period")
        self.drop_grace_period = float(drop_grace_period)
        self.db_name = db_name

    def execute(self, context: Context) -> AliasResult:
        alias = validate_name(self.alias, "alias")
        name = validate_name(self.collection_name, "collection_name")
        if alias == name:
            raise MilvusConfigError(f"alias {alias!r} is the collection_name itself; give the alias another name")
        db, timeout = validate_db_name(self.db_name, "db_name"), self.rpc_timeout
        previous = self.hook.describe_alias(alias, db, timeout)
        # (HasCollection answers True for an alias too: only a name that is no alias is a collection.)
        if previous is None and self.hook.has_collection(alias, db, timeout):
            raise MilvusConfigError(
                f"alias {alias!r} is the name of an existing collection; an alias needs its own name"
            )
        if previous == name:
            self.log.info("Alias %r already points at %r; nothing to switch", alias, name)
        else:
            self.hook.point_alias(alias, name, exists=previous is not None, db_name=db, timeout=timeout)
            self.log.info("Alias %r now points at %r (before: %s)", alias, name, previous or "no collection")
        dropped = None
        if self.drop_previous and previous and previous != name:
            others = self.hook.list_aliases(previous, db, timeout)
            if others:
                self.log.warning("Not dropping %r: aliases %s still name it", previous, others)
            else:
                self.log.info("Dropping %r in %.0fs, once searches sent to it finish", previous, self.drop_grace_period)
                time.sleep(self.drop_grace_period)
                self.hook.drop_collection(previous, db, timeout)
                self.log.info("Dropped %r, which %r pointed at before", previous, alias)
                dropped = previous
        result: AliasResult = {
            "alias": alias,
            "collection_name": name,
            "previous_collection": previous,
            "dropped_collection": dropped,
        }
        self._report_to_outlets(context, [alias], dict(result))
        return result


class MilvusCollectionCheckOperator(MilvusHookMixin, BaseOperator):
    """Checks a loaded collection's row count, and optionally a probe search, as a load's last step.

    See docs/operators/index-and-load.md.

    Counts rows with ``count(*)`` at Strong consistency (every acknowledged write, in the segments
    loaded for search), optionally with a filter, and fails
    (:class:`~airflow_provider_milvus.exceptions.MilvusCheckFailed`) when the count is not
    ``expected_count``, below ``min_count``, or below the rows the upstream imports reported
    (``import_states``: the import sensors' XComs). With ``probe_vector`` it also runs one search
    and fails when it finds nothing in a collection that has rows. Returns
    ``{"collection_name", "count", "hits"}``.

    :param collection_name: The collection or alias (templated).
    :param filter: A Milvus filter expression the counted rows match (templated).
    :param expected_count: The exact count expected.
    :param min_count: The least count expected.
    :param import_states: Import states (templated; e.g. the mapped import sensors' output):
        the count must be at least the sum of their ``row_count``.
    :param probe_vector: A vector to search with (templated).
    :param anns_field: The vector field to search; None lets Milvus pick the only one.
    :param limit: Hits the probe search returns.
    :param output_fields: Fields the hits carry.
    :param milvus_conn_id: Airflow connection of type ``milvus``.
    :param rpc_timeout: Seconds allowed for each RPC; None uses the connection's timeout.
    """

    template_fields: Sequence[str] = (
        "collection_name",
        "filter",
        "expected_count",
        "min_count",
        "import_states",
        "probe_vector",
    )

    def __init__(
        self,
        *,
        collection_name: str,
        filter: str = "",
        expected_count: int | str | None = None,
        min_count: int | str | None = None,
        import_states: list[ImportState] | str | None = None,
        probe_vector: list[float] | str | None = None,
        anns_field: str | None = None,
        limit: int = 10,
        output_fields: list[str] | None = None,
        milvus_conn_id: str = MilvusHook.default_conn_name,
        rpc_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._set_milvus_arguments(milvus_conn_id, rpc_timeout)
        for value, param in ((expected_count, "expected_count"), (min_count, "min_count")):
            if not is_template(value):
                validate_count(value, param)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise MilvusConfigError(f"limit must be a whole number of at least 1, got {limit!r}")
        self.collection_name = collection_name
        self.filter = filter
        self.expected_count = expected_count
        self.min_count = min_count
        self.import_states = import_states
        self.probe_vector = probe_vector
        self.anns_field = anns_field
        self.limit = limit
        self.output_fields = output_fields

    def _imported_rows(self) -> int | None:
        states = parse_rendered_literal(self.import_states)
        if states is None:
            return None
        if isinstance(states, dict):
            states = [states]
        elif not isinstance(states, str) and hasattr(states, "__iter__"):
            states = list(states)  # a mapped task's output resolves to a lazy sequence
        if not isinstance(states, list) or not all(
            isinstance(s, dict)
            and isinstance(s.get("row_count"), int)
            and not isinstance(s["row_count"], bool)
            and s["row_count"] >= 0
            for s in states
        ):
            raise MilvusConfigError(f"import_states must be import states with a row_count, got {states!r}")
        return sum(int(s["row_count"]) for s in states)

    def execute(self, context: Context) -> CollectionCheckResult:
        name = validate_name(self.collection_name, "collection_name")
        if not isinstance(self.filter, str) or not is_sendable(self.filter):
            raise MilvusConfigError(
                f"filter must be a Milvus filter expression (a string of valid Unicode), got {self.filter!r}"
            )
        expected_count = validate_count(self.expected_count, "expected_count")
        min_count = validate_count(self.min_count, "min_count")
        imported = self._imported_rows()
        vector = validate_vector(self.probe_vector, "probe_vector")
        count = self.hook.count_rows(name, self.filter, timeout=self.rpc_timeout)
        where = f"{name!r}" + (f" where {self.filter}" if self.filter else "")
        self.log.info("%s has %d rows", where, count)
        failures = []
        if expected_count is not None and count != expected_count:
            failures.append(f"{count} rows, expected {expected_count}")
        if min_count is not None and count < min_count:
            failures.append(f"{count} rows, expected at least {min_count}")
        if imported is not None and count < imported:
            failures.append(f"{count} rows, fewer than the {imported} the imports reported")
        hits: list[dict[str, Any]] = []
        if vector is not None:
            hits = self.hook.search(
                name,
                vector,
                anns_field=self.anns_field,
                limit=self.limit,
                filter=self.filter,
                output_fields=self.output_fields,
                timeout=self.rpc_timeout,
            )
            self.log.info("Probe search of %s: %d hits", where, len(hits))
            if count and not hits:
                failures.append("the probe search found nothing")
        if failures:
            raise MilvusCheckFailed(f"check of {where} failed: " + "; ".join(failures))
        return {"collection_name": name, "count": count, "hits": hits}
