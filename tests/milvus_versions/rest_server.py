"""An HTTP server on loopback answering Milvus's REST import API as Milvus 2.5, 2.6 and 3.0 and
Zilliz Cloud build their answers.

No Milvus 2.4+ runs here, so the REST transport is fed the bodies those servers send, over real
HTTP. Every answer below says where it was read:

Milvus (``internal/distributed/proxy/httpserver/handler_v2.go``, read on the 2.5 line, the one whose
imports are ``pkg/util/...``; the import handlers are the same on 2.6):

- Routes ``/v2/vectordb/jobs/import/{list,create,get_progress,describe}``; every answer is
  ``{"code": 0, "data": ...}`` with HTTP 200 (``HTTPReturn(c, http.StatusOK, ...)``), and every
  error HTTP 200 with ``{"code": merr.Code(err), "message": err.Error()}`` (``wrapperProxy``).
- ``createImportJob``: ``data = {"jobId": <ImportResponse.jobID, a string>}``.
- ``getImportJobProcess`` (describe): ``jobId``, ``collectionName``, ``completeTime``, ``state``
  (``ImportJobState.String()``), ``progress``, ``importedRows``, ``totalRows``, ``reason`` only
  when not empty, ``fileSize`` (the files' sum) and ``details``: per file ``fileName``,
  ``fileSize``, ``progress``, ``completeTime``, ``state`` (the file's task state, a string),
  ``importedRows``, ``totalRows``, and ``reason`` only when not empty.
- ``listImportJob``: ``data = {"records": [{"jobId", "collectionName", "state", "progress",
  "reason" (only when not empty)}]}``.
- The states and numbers describe reports come from ``GetJobProgress``
  (``internal/datacoord/import_util.go``, 2.6 line): PreImporting, Importing, Sorting and
  IndexBuilding all read ``Importing``; progress bands pending 0-10, pre-import 10-40, import
  40-70, sort 70-80, index 80-90, completed 100; rows 0/0 while pre-importing, imported/total while
  importing, total/total after. ``GetTaskProgresses`` names a file ``fmt.Sprintf("%v", paths)``
  (``[imports/a.parquet]``) and its state by ``ImportTaskStateV2`` (Pending, InProgress, Completed,
  Failed).
- An unknown job: ``GetImportProgress`` (``internal/datacoord/services.go``) answers
  ``merr.WrapErrImportFailed("import job does not exist, jobID=N")``: code 2100, message
  ``"import job does not exist, jobID=N: importing data failed"`` (``errors.Wrap`` puts the
  context first; ``pkg/util/merr/utils.go``).
- An unauthenticated request: ``authenticate`` (``internal/distributed/proxy/service.go``)
  answers HTTP 401 with ``{"code": 1800, "message": "user hasn't authenticated"}``
  (``merr.ErrNeedAuthenticate``).
- The REST layer's limiter: ``wrapperProxyWithLimit`` answers HTTP 200 with code 1807
  (``merr.ErrHTTPRateLimit``, retriable) and ``"request is rejected by limiter, error: ..."``.
- A route a version lacks (commit and abort before 3.0): gin's default, HTTP 404 with the text
  ``404 page not found``.

Milvus 3.0 (the master line, ``pkg/v3`` imports):

- ``GetJobProgress`` reports ``Uncommitted`` and then ``Committing`` for a job created with
  ``options.auto_commit="false"``, at progress 99 with total/total rows, until it is committed
  (``Completed``) or aborted (``Failed``); for an auto-commit job it reports both as Importing.
- ``commit`` and ``abort`` (milvus#48524, ``POST /v2/vectordb/jobs/import/commit|abort`` with
  ``{"jobId"}``) answer ``{"code": 0, "data": {}}`` (pymilvus ``tests/unit/test_bulk_import.py``,
  main, mocks them so). Aborting a job already Failed (other than by an abort), Committing or
  Completed is refused: ``merr.WrapErrImportFailed("job N is in terminal/committed state S, abort
  not allowed")`` (``internal/datacoord/services.go`` AbortImport, as quoted in milvus#50483); an
  abort repeated on an aborted job is a no-op (milvus#50692). The reason an aborted job reads is
  a constant of Milvus's whose text was not read: this server leaves it empty.
- Import orchestration failures (an unknown job among them) carry ``merr.ErrImportSysFailed``,
  code 2101, "importing data failed on server side" (``pkg/util/merr/errors.go``, read on the
  master line; whether 3.0.0 already has it was not read, and 2100 and 2101 are classified alike,
  neither retried). The text of the reason a refused commit carries was not read: this server's
  own, after that code.
- ``standard_status``: the master line's opt-in ``proxy.http.standardErrorStatus`` (milvus#53092,
  ``status_projection.go``), the same bodies under a projected HTTP status: 401/403 for
  authentication, 429 for ``ErrHTTPRateLimit``, 400 for input errors, 500 for the rest; off (the
  default) they stay HTTP 200.

What a 2.4.8 server answered a user for create and get_progress (milvus#35530) has the same shape:
``{"code":0,"data":{"jobId":"451910421389390804"}}`` and ``{"code":0,"data":{"collectionName":
"price","completeTime":"","details":[...``.

Zilliz Cloud (its REST reference, ``https://docs.zilliz.com/reference/restful/``):

- ``create-import-jobs-v2``: ``POST https://api.cloud.zilliz.com/v2/vectordb/jobs/import/create``
  with ``clusterId``, ``collectionName``, ``partitionName`` and ``objectUrl``/``objectUrls`` with
  ``accessKey``/``secretKey`` (or ``volumeName`` and ``dataPaths``); answers
  ``{"code": 0, "data": {"jobId": "448707763884413158"}}``.
- ``get-import-job-progress-v2``: ``{"code": 0, "data": {"jobId", "collectionName", "fileName",
  "fileSize", "state", "progress", "completeTime", "reason", "totalRows", "details": [{"fileName",
  "fileSize", "state", "progress", "completeTime", "reason"}]}}``, states Pending, Importing,
  Completed, Failed; an illegal API key answers ``{"code": 21119, "message": "The apikey is
  illegal."}`` (its response is documented under HTTP 200).
- ``list-import-jobs-v2``: ``{"code": 0, "data": {"count", "currentPage", "pageSize",
  "records": [{"collectionName", "jobId", "state"}]}}``.
"""

from __future__ import annotations

import json
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

IMPORT_API = "/v2/vectordb/jobs/import/"
VERSIONS = ("2.5", "2.6", "3.0", "zilliz")


@dataclass
class JobAnswer:
    """One describe answer of a job: its REST state and numbers, as GetJobProgress reports them."""

    state: str
    progress: int
    imported_rows: int = 0
    total_rows: int = 0
    reason: str = ""
    file_state: str = "InProgress"


def completed(rows: int) -> list[JobAnswer]:
    """A job through the bands of GetJobProgress (2.5/2.6) to Completed."""
    return [
        JobAnswer("Pending", 5, file_state="Pending"),
        JobAnswer("Importing", 25),  # pre-importing: no rows counted yet
        JobAnswer("Importing", 55, rows // 2, rows),  # importing
        JobAnswer("Importing", 85, rows, rows),  # building the index
        JobAnswer("Completed", 100, rows, rows, file_state="Completed"),
    ]


def failed(reason: str) -> list[JobAnswer]:
    return [JobAnswer("Pending", 5, file_state="Pending"), JobAnswer("Failed", 0, reason=reason, file_state="Failed")]


def two_phase(rows: int) -> list[JobAnswer]:
    """A 3.0 job with auto_commit="false": it stops in Uncommitted until committed or aborted."""
    return [
        JobAnswer("Pending", 5, file_state="Pending"),
        JobAnswer("Importing", 55, rows // 2, rows),
        JobAnswer("Uncommitted", 99, rows, rows, file_state="Completed"),
    ]


@dataclass
class Job:
    job_id: str
    collection: str
    files: list[list[str]]
    script: list[JobAnswer]
    auto_commit: bool = True
    polls: int = 0
    # Set by commit or abort (3.0): what describe answers from then on.
    ended: list[JobAnswer] | None = None

    def answer(self) -> JobAnswer:
        script = self.ended if self.ended is not None else self.script
        answer = script[min(self.polls, len(script) - 1)]
        self.polls += 1
        return answer

    def current(self) -> JobAnswer:
        script = self.ended if self.ended is not None else self.script
        return script[min(max(self.polls - 1, 0), len(script) - 1)]


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any
    client_port: int = 0  # the client's end of the connection: one port, one kept-alive connection


@dataclass
class MilvusRest:
    """What the server answers, version by version; records every request it gets."""

    version: str = "2.5"
    bearer: str | None = None  # the credential it requires; None: authentication off
    next_import: list[JobAnswer] = field(default_factory=lambda: completed(1000))
    # Faults served before the next answers, one a request: "limiter" (code 1807 in HTTP 200, or
    # HTTP 429 with standard_status), "stall" (no answer for stall_seconds).
    faults: list[str] = field(default_factory=list)
    standard_status: bool = False  # proxy.http.standardErrorStatus (milvus#53092, opt-in)
    stall_seconds: float = 5.0
    refuse_commit: bool = False  # 3.0: the next commit is refused
    # Routes taken away, as gin answers a route it lacks (404): for the transport's fallback from
    # describe to get_progress, not a version's answer.
    missing_routes: set[str] = field(default_factory=set)
    jobs: dict[str, Job] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    _next_id: int = 456_123_000_000_000_001
    _lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        assert self.version in VERSIONS, self.version

    def sent(self, action: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == IMPORT_API + action]

    # --- Answers ---------------------------------------------------------------------------------

    def handle(self, path: str, headers: dict[str, str], body: Any, client_port: int = 0) -> tuple[int, Any]:
        """(HTTP status, JSON body or text) for one request."""
        with self._lock:
            self.requests.append(Recorded(path, headers, body, client_port))
            fault = self.faults.pop(0) if self.faults else None
        if fault == "stall":
            self.released.wait(self.stall_seconds)
            return 200, {"code": 0, "data": {}}
        if not self._authenticated(headers):
            if self.version == "zilliz":
                return 200, {"code": 21119, "message": "The apikey is illegal."}
            return 401, {"code": 1800, "message": "user hasn't authenticated"}
        if fault == "limiter":
            message = "request is rejected by limiter, error: rate limit exceeded[rate=1]"
            return (429 if self.standard_status else 200), {"code": 1807, "message": message}
        action = path.removeprefix(IMPORT_API) if path.startswith(IMPORT_API) else None
        routes = {"create": self._create, "describe": self._describe, "list": self._list}
        if self.version != "zilliz":
            routes["get_progress"] = self._describe
        if self.version == "3.0":
            routes.update(commit=self._commit, abort=self._abort)
        if self.version == "zilliz":
            routes["getProgress"] = self._describe
        if action not in routes or action in self.missing_routes or not isinstance(body, dict):
            return 404, "404 page not found"
        return routes[action](body)

    def _authenticated(self, headers: dict[str, str]) -> bool:
        if self.bearer is None:
            return True
        return headers.get("authorization", "") == f"Bearer {self.bearer}"

    def _error(self, code: int, message: str, *, input_error: bool) -> tuple[int, Any]:
        status = 200
        if self.standard_status:
            status = 400 if input_error else 500
        return status, {"code": code, "message": message}

    def _not_found(self, job_id: str) -> tuple[int, Any]:
        if self.version == "3.0":
            return self._error(
                2101,
                f"import job does not exist, jobID={job_id}: importing data failed on server side",
                input_error=False,
            )
        return self._error(2100, f"import job does not exist, jobID={job_id}: importing data failed", input_error=True)

    def _create(self, body: dict[str, Any]) -> tuple[int, Any]:
        options = body.get("options") or {}
        auto_commit = str(options.get("auto_commit", "true")).lower() != "false"
        with self._lock:
            job_id = str(self._next_id)
            self._next_id += 1
            files = body.get("files") or body.get("objectUrls") or body.get("dataPaths") or []
            script = list(self.next_import)
            if auto_commit:
                # Only jobs with auto_commit="false" read Uncommitted; the others read Importing there.
                script = [
                    JobAnswer("Importing", a.progress, a.imported_rows, a.total_rows) if a.state == "Uncommitted" else a
                    for a in script
                ]
            self.jobs[job_id] = Job(job_id, body.get("collectionName", ""), files, script, auto_commit)
        return 200, {"code": 0, "data": {"jobId": job_id}}

    def _describe(self, body: dict[str, Any]) -> tuple[int, Any]:
        job_id = str(body.get("jobId", ""))
        job = self.jobs.get(job_id)
        if job is None:
            return self._not_found(job_id)
        answer = job.answer()
        if self.version == "zilliz":
            return 200, {"code": 0, "data": self._zilliz_progress(job, answer)}
        per_file = answer.total_rows // max(len(job.files), 1)
        details = []
        for group in job.files:
            detail: dict[str, Any] = {
                "fileName": "[" + " ".join(group) + "]",
                "fileSize": 3_279_917,
                "progress": answer.progress if answer.state != "Completed" else 100,
                "completeTime": "2026-07-01T06:17:53Z" if answer.state == "Completed" else "",
                "state": answer.file_state,
                "importedRows": answer.imported_rows // max(len(job.files), 1),
                "totalRows": per_file,
            }
            if answer.reason:
                detail["reason"] = answer.reason
            details.append(detail)
        data: dict[str, Any] = {
            "jobId": job_id,
            "collectionName": job.collection,
            "completeTime": "2026-07-01T06:17:55Z" if answer.state == "Completed" else "",
            "state": answer.state,
            "progress": answer.progress,
            "importedRows": answer.imported_rows,
            "totalRows": answer.total_rows,
            "fileSize": 3_279_917 * len(job.files),
            "details": details,
        }
        if answer.reason:
            data["reason"] = answer.reason
        return 200, {"code": 0, "data": data}

    @staticmethod
    def _zilliz_progress(job: Job, answer: JobAnswer) -> dict[str, Any]:
        name = "medium_articles_2020_dpr.json"
        return {
            "jobId": job.job_id,
            "collectionName": job.collection,
            "fileName": name,
            "fileSize": 3_279_917,
            "state": answer.state,
            "progress": answer.progress,
            "completeTime": "2024-04-01T06:17:55Z" if answer.state == "Completed" else "",
            "reason": answer.reason,
            "totalRows": answer.total_rows,
            "details": [
                {
                    "fileName": name,
                    "fileSize": 3_279_917,
                    "state": answer.state,
                    "progress": answer.progress,
                    "completeTime": "2024-04-01T06:17:53Z" if answer.state == "Completed" else "",
                    "reason": answer.reason,
                }
            ],
        }

    def _list(self, body: dict[str, Any]) -> tuple[int, Any]:
        collection = body.get("collectionName")
        records = []
        for job in self.jobs.values():
            if collection and job.collection != collection:
                continue
            answer = job.current()
            record: dict[str, Any] = {"jobId": job.job_id, "collectionName": job.collection, "state": answer.state}
            if self.version != "zilliz":
                record["progress"] = answer.progress
                if answer.reason:
                    record["reason"] = answer.reason
            records.append(record)
        if self.version == "zilliz":
            page = {"count": len(records), "currentPage": 1, "pageSize": 10}
            return 200, {"code": 0, "data": {**page, "records": records}}
        return 200, {"code": 0, "data": {"records": records}}

    def _commit(self, body: dict[str, Any]) -> tuple[int, Any]:
        job_id = str(body.get("jobId", ""))
        job = self.jobs.get(job_id)
        if job is None:
            return self._not_found(job_id)
        if self.refuse_commit:
            self.refuse_commit = False
            return self._error(
                2101, f"commit of import job {job_id} refused: importing data failed on server side", input_error=False
            )
        current = job.current()
        if job.auto_commit or current.state != "Uncommitted" or job.ended is not None:
            return self._error(
                2101,
                f"job {job_id} is not Uncommitted ({current.state}): importing data failed on server side",
                input_error=False,
            )
        rows = current.total_rows
        job.ended, job.polls = [JobAnswer("Committing", 99, rows, rows), JobAnswer("Completed", 100, rows, rows)], 0
        return 200, {"code": 0, "data": {}}

    def _abort(self, body: dict[str, Any]) -> tuple[int, Any]:
        job_id = str(body.get("jobId", ""))
        job = self.jobs.get(job_id)
        if job is None:
            return self._not_found(job_id)
        current = job.current()
        aborted = job.ended is not None and job.ended[-1].state == "Failed"
        if aborted:
            return 200, {"code": 0, "data": {}}  # milvus#50692: a repeated abort is a no-op
        if current.state in ("Failed", "Committing", "Completed"):
            return self._error(
                2100,
                f"job {job_id} is in terminal/committed state {current.state}, abort not allowed: importing data failed",
                input_error=True,
            )
        job.ended, job.polls = [JobAnswer("Failed", 0, file_state="Failed")], 0
        return 200, {"code": 0, "data": {}}


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a refused TLS handshake, a client gone: the test reads the client's side


class RestServer:
    """Serves a :class:`MilvusRest` over HTTP (or HTTPS, given a server certificate and key, and
    requiring client certificates signed by ``client_ca``) on a free loopback port, in a thread."""

    def __init__(
        self,
        milvus: MilvusRest,
        *,
        certificate: tuple[str, str] | None = None,
        client_ca: str | None = None,
    ) -> None:
        self.milvus = milvus
        served = milvus

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Milvus's gin server

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                headers = {key.lower(): value for key, value in self.headers.items()}
                status, answer = served.handle(self.path, headers, body, self.client_address[1])
                payload = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
                kind = "text/plain" if isinstance(answer, str) else "application/json; charset=utf-8"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a stalled answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        if certificate is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*certificate)
            if client_ca is not None:
                context.verify_mode = ssl.CERT_REQUIRED
                context.load_verify_locations(client_ca)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.url = f"https://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="milvus-rest", daemon=True
        )

    def __enter__(self) -> RestServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.milvus.released.set()  # a stalled answer ends now
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
