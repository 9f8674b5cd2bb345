"""A gRPC server that answers the provider's RPCs the way the proxy of Milvus 2.4+ builds them.

Milvus 2.4 and later cannot run here, so these tests feed the provider the protobuf answers those
versions send, over real gRPC, and check what the provider makes of them. Each answer below is
built after Milvus's own code (milvus-io/milvus, branches 2.5 and 2.6):

- ``Import``, ``GetImportState``, ``ListImportTasks``: ``internal/proxy/impl.go`` serves them as
  shims over import jobs. ``Import`` answers ``tasks=[jobID]``. ``GetImportState`` maps the job
  state (Pending -> ImportPending, Importing -> ImportStarted, Completed -> ImportCompleted,
  Failed and any other -> ImportFailed), sets ``row_count`` (imported rows), ``infos`` with only
  ``failed_reason`` and ``progress_percent``, and ``create_ts``; it leaves ``id``,
  ``collection_id``, ``id_list`` and ``segment_ids`` unset. ``ListImportTasks`` answers each job of
  the collection from its state, reason and progress only (so ``id``, ``row_count`` and
  ``create_ts`` are 0) and ignores ``limit``. Progress bands come from
  ``internal/datacoord/import_util.go`` ``GetJobProgress`` (pending 0-10, pre-import 10-40,
  import 40-70, sort 70-80, index 80-90, done 100).
- ``Flush``: ``coll_segIDs``, ``flush_coll_segIDs``, ``coll_seal_times``, ``coll_flush_ts`` and
  ``channel_cps`` per collection (``internal/proxy/impl.go`` Flush). From 2.4.5 the rate
  limiter rejects a second Flush of a collection within 10 s (``quotaAndLimits.flushRate``, on by
  default at 0.1/s): status code 8, error code RateLimit (49), "rate limit exceeded[rate=0.1]"
  (``internal/proxy/rate_limit_interceptor.go``; the same answer measured on 2.3.5 with the limit
  switched on).
- ``GetFlushState``: without a collection name it answers ``flushed=true`` without looking at
  ``flush_ts`` (kept for old clients); with one, only once every channel checkpoint passes
  ``flush_ts`` (``internal/proxy/impl.go`` GetFlushState, ``internal/datacoord/services.go``).
"""

from __future__ import annotations

import threading
import time
from concurrent import futures
from dataclasses import dataclass, field

import grpc
from pymilvus.grpc_gen import common_pb2, milvus_pb2, milvus_pb2_grpc, schema_pb2

from harness.processes import free_port

OK = common_pb2.Status(code=0, error_code=common_pb2.ErrorCode.Success)
FLUSH_RATE_LIMITED = common_pb2.Status(
    code=8,
    error_code=common_pb2.ErrorCode.RateLimit,
    reason="request is rejected by grpc RateLimiter middleware, please retry later: rate limit exceeded[rate=0.1]",
)
# 0.1 flush per second per collection: one flush each 10 s.
FLUSH_INTERVAL_SECONDS = 10.0


@dataclass
class JobState:
    """One answer of GetImportState for a job, as the 2.5/2.6 shim reports it."""

    state: int
    progress: int
    row_count: int = 0
    reason: str = ""


def running_then_completed(rows: int) -> list[JobState]:
    """A job going through the bands of GetJobProgress to completion."""
    return [
        JobState(common_pb2.ImportState.ImportPending, 5),
        JobState(common_pb2.ImportState.ImportStarted, 25),  # pre-importing
        JobState(common_pb2.ImportState.ImportStarted, 55, rows // 2),  # importing
        JobState(common_pb2.ImportState.ImportStarted, 85, rows),  # building the index
        JobState(common_pb2.ImportState.ImportCompleted, 100, rows),
    ]


def failed(reason: str) -> list[JobState]:
    return [
        JobState(common_pb2.ImportState.ImportPending, 5),
        JobState(common_pb2.ImportState.ImportFailed, 0, 0, reason),
    ]


@dataclass
class Job:
    script: list[JobState]
    create_ts: int
    polls: int = 0

    def answer(self) -> JobState:
        state = self.script[min(self.polls, len(self.script) - 1)]
        self.polls += 1
        return state


@dataclass
class Milvus25Proxy(milvus_pb2_grpc.MilvusServiceServicer):
    """Answers as a Milvus 2.5/2.6 proxy does; records every request it gets."""

    version: str = "v2.5.4"
    # What the next Import's job will report, poll by poll (the last answer repeats).
    next_import: list[JobState] = field(default_factory=lambda: running_then_completed(1000))
    # GetFlushState polls (with a collection) answered False before the checkpoints pass flush_ts.
    flush_polls_before_flushed: int = 2
    flush_rate_limit: bool = True
    missing_collections: set[str] = field(default_factory=set)
    requests: list[tuple[str, object]] = field(default_factory=list)
    jobs: dict[int, Job] = field(default_factory=dict)
    _next_job_id: int = 456_123_000_000_000_001
    _last_flush: dict[str, float] = field(default_factory=dict)
    _flush_polls: dict[tuple[str, int], int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def sent(self, rpc: str) -> list:
        return [request for name, request in self.requests if name == rpc]

    def _record(self, rpc: str, request: object) -> None:
        with self._lock:
            self.requests.append((rpc, request))

    def GetVersion(self, request, context):
        self._record("GetVersion", request)
        return milvus_pb2.GetVersionResponse(status=OK, version=self.version)

    def ShowCollections(self, request, context):
        self._record("ShowCollections", request)
        return milvus_pb2.ShowCollectionsResponse(status=OK)

    def HasCollection(self, request, context):
        # internal/proxy/impl.go HasCollection: a BoolResponse, value false for an unknown name.
        self._record("HasCollection", request)
        return milvus_pb2.BoolResponse(status=OK, value=request.collection_name not in self.missing_collections)

    def HasPartition(self, request, context):
        self._record("HasPartition", request)
        return milvus_pb2.BoolResponse(status=OK, value=True)

    def Import(self, request, context):
        self._record("Import", request)
        with self._lock:
            job_id = self._next_job_id
            self._next_job_id += 1
            self.jobs[job_id] = Job(list(self.next_import), create_ts=int(time.time()))
        return milvus_pb2.ImportResponse(status=OK, tasks=[job_id])

    def _state(self, job: Job) -> milvus_pb2.GetImportStateResponse:
        answer = job.answer()
        return milvus_pb2.GetImportStateResponse(
            status=OK,
            state=answer.state,
            row_count=answer.row_count,
            infos=[
                common_pb2.KeyValuePair(key="failed_reason", value=answer.reason),
                common_pb2.KeyValuePair(key="progress_percent", value=str(answer.progress)),
            ],
            create_ts=job.create_ts,
        )

    def GetImportState(self, request, context):
        self._record("GetImportState", request)
        job = self.jobs.get(request.task)
        if job is None:
            # GetJobProgress of a job it does not have: Failed, with this reason.
            return milvus_pb2.GetImportStateResponse(
                status=OK,
                state=common_pb2.ImportState.ImportFailed,
                infos=[
                    common_pb2.KeyValuePair(
                        key="failed_reason", value=f"import job does not exist, jobID={request.task}"
                    ),
                    common_pb2.KeyValuePair(key="progress_percent", value="0"),
                ],
            )
        return self._state(job)

    def ListImportTasks(self, request, context):
        self._record("ListImportTasks", request)
        # convertToV1ListImportResponse (internal/proxy/impl.go, 2.5 and master) builds each entry from
        # state, reason and progress only: id, row_count and create_ts are 0.
        tasks = []
        for job in self.jobs.values():
            entry = self._state(job)
            entry.row_count = 0
            entry.create_ts = 0
            tasks.append(entry)
        return milvus_pb2.ListImportTasksResponse(status=OK, tasks=tasks)

    def Flush(self, request, context):
        self._record("Flush", request)
        now = time.monotonic()
        with self._lock:
            if self.flush_rate_limit and any(
                now - self._last_flush.get(name, -1e9) < FLUSH_INTERVAL_SECONDS for name in request.collection_names
            ):
                return milvus_pb2.FlushResponse(status=FLUSH_RATE_LIMITED)
            for name in request.collection_names:
                self._last_flush[name] = now
        flush_ts = int(time.time() * 1000) << 18
        return milvus_pb2.FlushResponse(
            status=OK,
            db_name=request.db_name or "default",
            coll_segIDs={name: schema_pb2.LongArray(data=[]) for name in request.collection_names},
            flush_coll_segIDs={
                name: schema_pb2.LongArray(data=[457000000000000001]) for name in request.collection_names
            },
            coll_seal_times={name: int(time.time()) for name in request.collection_names},
            coll_flush_ts={name: flush_ts for name in request.collection_names},
        )

    def GetFlushState(self, request, context):
        self._record("GetFlushState", request)
        if not request.collection_name:
            return milvus_pb2.GetFlushStateResponse(status=OK, flushed=True)
        key = (request.collection_name, request.flush_ts)
        with self._lock:
            polls = self._flush_polls[key] = self._flush_polls.get(key, 0) + 1
        return milvus_pb2.GetFlushStateResponse(status=OK, flushed=polls > self.flush_polls_before_flushed)


class ProxyServer:
    """Serves a :class:`Milvus25Proxy` on a free loopback port."""

    def __init__(self, proxy: Milvus25Proxy) -> None:
        self.proxy = proxy
        self.port = free_port()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        milvus_pb2_grpc.add_MilvusServiceServicer_to_server(proxy, self.server)
        self.server.add_insecure_port(f"127.0.0.1:{self.port}")

    def __enter__(self) -> ProxyServer:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop(grace=None).wait(5)
