"""The data shapes the provider returns and passes around, by name.

Operators return them as XCom (plain dicts and lists, so they serialize as JSON); trigger kwargs
and events carry them as JSON primitives.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

# Import states by name (Milvus's common_pb2.ImportState). Milvus 2.4+ reports only Pending,
# Started, Completed and Failed; Persisted and FailedAndCleaned are Milvus 2.2/2.3 only.
IMPORT_PENDING = "ImportPending"
IMPORT_STARTED = "ImportStarted"
IMPORT_PERSISTED = "ImportPersisted"
IMPORT_COMPLETED = "ImportCompleted"
IMPORT_FAILED = "ImportFailed"
IMPORT_FAILED_AND_CLEANED = "ImportFailedAndCleaned"

IMPORT_RUNNING_STATES = (IMPORT_PENDING, IMPORT_STARTED, IMPORT_PERSISTED)
IMPORT_FAILED_STATES = (IMPORT_FAILED, IMPORT_FAILED_AND_CLEANED)
# The REST state of a two-phase import (Milvus 3.0, auto_commit="false") waiting for its commit;
# the sensors read it as ImportPersisted (see hooks/milvus_rest.py for every REST state).
REST_UNCOMMITTED = "Uncommitted"


class CollectionFlush(TypedDict):
    """What one Flush reported for one collection."""

    segment_ids: list[int]  # segments this flush sealed (empty if it sealed none)
    flushed_segment_ids: list[int]  # segments already flushed before
    flush_ts: int  # the flush's timestamp: persisted once the channel checkpoints pass it
    seal_time: int


class ChannelCheckpoint(TypedDict):
    timestamp: int


class FlushResult(TypedDict):
    """The return value of ``MilvusHook.flush`` and ``MilvusFlushOperator``."""

    db_name: str
    collections: dict[str, CollectionFlush]
    channel_checkpoints: dict[str, ChannelCheckpoint]
    flushed: NotRequired[bool]  # set (True) by the operator when it waited


class FlushTarget(TypedDict):
    """One question for GetFlushState: segments of a collection, persisted as of a flush."""

    collection_name: str | None
    segment_ids: list[int]  # may be empty when collection_name and flush_ts are known
    flush_ts: int | None


class ImportState(TypedDict):
    """The state of one import (``MilvusHook.get_import_state``, ``MilvusImportStateSensor``)."""

    id: int  # the import task (2.4+: job) ID asked about
    state: str  # one of the IMPORT_* names above
    row_count: int
    id_list: list[int]  # Milvus 2.2/2.3 only
    infos: dict[str, str]  # 2.4+: failed_reason and progress_percent only
    collection_id: int  # Milvus 2.2/2.3 only
    segment_ids: list[int]  # Milvus 2.2/2.3 only
    create_ts: int
    failed_reason: str
    progress: int | None  # percent, when Milvus reports it


class RestImportFile(TypedDict):
    """One source file of an import, as Milvus's REST API reports it (``details`` of describe)."""

    file_name: str  # as Milvus names it: self-hosted Milvus prints the file group, "[imports/a.parquet]"
    file_size: int
    state: str  # the file's task state as Milvus names it (Pending, InProgress, Completed, Failed, ...)
    progress: int  # percent
    imported_rows: int
    total_rows: int
    complete_time: str
    reason: str  # why it failed ("" unless it did)


class RestImportJob(TypedDict):
    """One import job as Milvus's REST API reports it (``/v2/vectordb/jobs/import/describe``).

    ``state`` is one of the IMPORT_* names the sensors return; ``rest_state`` is Milvus's own name
    (see :mod:`airflow_provider_milvus.hooks.milvus_rest` for the mapping)."""

    job_id: str  # a string: Milvus's int64 job ID in decimal, or a Zilliz Cloud job ID
    collection_name: str
    state: str  # one of the IMPORT_* names above
    rest_state: str  # Pending, Importing, Uncommitted, Committing, Completed, Failed, ...
    progress: int  # percent
    imported_rows: int
    total_rows: int
    file_size: int  # bytes, all files together
    complete_time: str
    reason: str  # why it failed ("" unless it did)
    details: list[RestImportFile]


class RestImportSummary(TypedDict):
    """One import job of a REST listing (``/v2/vectordb/jobs/import/list``): unlike the gRPC
    listing, it carries the job ID."""

    job_id: str
    collection_name: str
    state: str  # one of the IMPORT_* names above
    rest_state: str
    progress: int
    reason: str


class ImportRequest(TypedDict):
    """What a bulk-insert task asks Milvus to import: a retry reconnects only to the same request."""

    db_name: str  # "" for the connection's database
    collection: str
    partition: str  # "" for the default partition
    files: list[str]
    options: dict[str, str]


class ImportRecord(TypedDict):
    """What a bulk-insert task keeps in Airflow's task state store (Airflow 3.3+) for its retries."""

    request: ImportRequest
    # When an earlier try first sent this request (Unix seconds, the worker's clock): written before
    # the Import, so a try lost before it recorded the ID leaves its retry a time to search from.
    submitted_at: float
    import_task_id: int | None  # None until Milvus answered the Import


class IngestResult(TypedDict):
    """The return value of ``MilvusIngestOperator``."""

    collection_name: str
    mode: str  # "insert" or "upsert"
    rows: int  # rows Milvus reports written
    batches: int
    ids: list[int | str]  # primary keys Milvus returned (generated ones with auto_id)


class CreateCollectionResult(TypedDict):
    """The return value of ``MilvusCreateCollectionOperator``."""

    collection_name: str
    created: bool  # False: it existed with the same schema
    loaded: bool


# Index build states by name (Milvus's common_pb2.IndexState).
INDEX_FINISHED = "Finished"
INDEX_FAILED = "Failed"


class IndexState(TypedDict):
    """One index of a collection as DescribeIndex reports it (``MilvusIndexStateSensor``'s XCom).

    ``state`` can read Finished while rows are still unindexed (milvus#40580): an index is built
    for the rows there are only when ``indexed_rows == total_rows`` and ``pending_index_rows == 0``.
    """

    index_name: str
    field_name: str
    indexed_rows: int
    total_rows: int
    pending_index_rows: int
    state: str  # IndexStateNone, Unissued, InProgress, Finished, Failed, Retry
    fail_reason: str  # Milvus's index_state_fail_reason ("" unless Failed)


class LoadProgress(TypedDict):
    """What GetLoadingProgress reports for a collection (or some of its partitions), in percent."""

    progress: int
    refresh_progress: int


class CreateIndexResult(TypedDict):
    """The return value of ``MilvusCreateIndexOperator``."""

    collection_name: str
    created: list[str]  # index names created by this task
    existing: list[str]  # index names that existed with the same types
    indexes: list[IndexState]  # their states once built (when the task waited), else []


class LoadResult(TypedDict):
    """The return value of ``MilvusLoadCollectionOperator``."""

    collection_name: str
    partition_names: list[str]  # [] for the whole collection
    refresh: bool  # True if loaded segments were refreshed (the collection was loaded already)
    loaded: bool  # Milvus reported it loaded (False only when the task did not wait)


class AliasResult(TypedDict):
    """The return value of ``MilvusAliasOperator``."""

    alias: str
    collection_name: str
    previous_collection: str | None  # where the alias pointed before (None: it was created)
    dropped_collection: str | None  # the previous collection, if the task dropped it


class CollectionCheckResult(TypedDict):
    """The return value of ``MilvusCollectionCheckOperator``."""

    collection_name: str
    count: int  # rows matching the filter, at Strong consistency
    hits: list[dict[str, Any]]  # the probe search's hits ({"id", "distance", ...}); [] without one


class TaskEnd(TypedDict):
    """How a trigger ends its task in the triggerer (Airflow 3.3+), instead of resuming it on a
    worker: what the task would have pushed as XCom, and what a timeout means for it."""

    xcoms: dict[str, Any]  # pushed as they are on success (the task's return value, say)
    result_xcom: str | None  # key under which the wait's result (an import state) is pushed on success
    failure_xcom: str | None  # key under which the wait's result is pushed on failure
    on_timeout: Literal["fail", "skip", "resume"]  # "resume": on a worker, which fails it as the task would
