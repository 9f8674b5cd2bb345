"""The REST transport: Milvus's REST v2 import API (Import V2), blocking and on the event loop.

Self-hosted Milvus 2.4 and later serve it on the proxy port (the gRPC port, 19530 by default);
Zilliz Cloud serves it on its cloud API (``https://api.cloud.zilliz.com``), naming a cluster. Each
call is ``POST /v2/vectordb/jobs/import/<action>`` with a JSON body (milvus
``internal/distributed/proxy/httpserver/handler_v2.go``):

- ``create`` starts a job and answers its ID, a string (``{"code": 0, "data": {"jobId": "..."}}``).
- ``describe`` (``get_progress`` is its older alias, asked instead of a server that answers
  describe with 404) answers the job's state, progress, imported and total rows, Milvus's reason,
  and per-file ``details``.
- ``list`` answers the jobs of a database or of one collection, each with its ID (which the gRPC
  ``ListImportTasks`` shim drops), state, progress and reason.
- ``commit`` and ``abort`` (Milvus 3.0) end a job created with ``options.auto_commit="false"``,
  which waits in ``Uncommitted`` with its rows written but invisible.

Authentication is ``Authorization: Bearer <token, API key or user:password>``; the database goes
in the body (``dbName``) and the ``DB-Name`` header, as pymilvus's ``bulk_writer.bulk_import`` sends it.

Errors: Milvus answers an error with HTTP 200 and ``{"code": N, "message": "..."}``, and an
unauthenticated request with HTTP 401 and code 1800 (Milvus's master line adds an opt-in,
``proxy.http.standardErrorStatus``, that sends the same body under a 4xx/5xx status: milvus#53092).
That code and message go through
:func:`~airflow_provider_milvus.hooks.milvus_base.error_from_status`, the one mapping the gRPC
calls use too; an answer without Milvus's body (a gateway's 429, 502 or 503) and a call that got
no answer go through :func:`~airflow_provider_milvus.hooks.milvus_base.transport_error`. Secrets
(the bearer credential, object-storage keys in a cloud import's body) are never part of a message.

Job states. ``describe`` reports Milvus's own names; :data:`REST_STATES` maps them onto the names
the sensors already return (:mod:`airflow_provider_milvus.types`), and the job keeps both
(``state`` and ``rest_state``):

====================================================  ===================  ==============================
REST state                                            sensors' state       why
====================================================  ===================  ==============================
Pending                                               ImportPending
PreImporting, Importing, Sorting, Stats,              ImportStarted        describe folds them all into
IndexBuilding, AssigningIDRange, Resharding,                               Importing (GetJobProgress,
Planning                                                                   ``internal/datacoord/import_util.go``)
Committing                                            ImportStarted        the commit runs; rows become
                                                                           visible when it ends
Uncommitted                                           ImportPersisted      every row written, invisible
                                                                           until committed (the gRPC shim
                                                                           reads it as ImportFailed)
Completed                                             ImportCompleted
Failed                                                ImportFailed         Milvus's reason in ``reason``
None                                                  ImportFailed         "unknown import job state"
any other name                                        ImportStarted        a newer server's state: waited
                                                                           on within the deadline
====================================================  ===================  ==============================

Milvus 2.4 to 2.6 report only Pending, Importing, Completed and Failed; 3.0 adds Uncommitted and
Committing for jobs with ``auto_commit="false"`` (for the others it reports those two as
Importing). Zilliz Cloud documents Pending, Importing, Completed and Failed.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

# The HTTP client: httpx, sync and async in one, and the only one every supported Airflow requires:
# apache-airflow 2.11 and apache-airflow-core 3.0 to 3.4 require httpx>=0.25, task-sdk 1.0 to 1.3
# httpx>=0.27 (1.4 moves to httpx2, but core 3.4 still requires httpx). aiohttp is required by
# none of them, and requests is blocking only.
import httpx

from airflow_provider_milvus.exceptions import MilvusAuthenticationError, MilvusConfigError, MilvusError
from airflow_provider_milvus.hooks.milvus_base import Failure, error_from_status, is_tls_failure, transport_error
from airflow_provider_milvus.types import (
    IMPORT_COMPLETED,
    IMPORT_FAILED,
    IMPORT_PENDING,
    IMPORT_PERSISTED,
    IMPORT_STARTED,
    REST_UNCOMMITTED,
    RestImportFile,
    RestImportJob,
    RestImportSummary,
)
from airflow_provider_milvus.utils.connection import MilvusConnectionSettings, PerLoop
from airflow_provider_milvus.validation import (
    validate_collection_names,
    validate_import_files,
    validate_import_options,
    validate_rest_job_id,
)

IMPORT_API = "/v2/vectordb/jobs/import"
ZILLIZ_CLOUD_API = "https://api.cloud.zilliz.com"
# Seconds per call unless the connection sets a timeout (pymilvus's bulk_import waits 20 s).
DEFAULT_TIMEOUT = 20.0
# The shared async pool keeps idle connections this long, and at most this many per connection.
KEEPALIVE_SECONDS = 30.0
MAX_CONNECTIONS = 20
# Milvus takes at most 1,024 file groups in one import request (dataCoord.import.maxFilesPerImportReq).
MAX_FILE_GROUPS = 1024

REST_STATES: dict[str, str] = {
    "Pending": IMPORT_PENDING,
    "PreImporting": IMPORT_STARTED,
    "Importing": IMPORT_STARTED,
    "Sorting": IMPORT_STARTED,
    "Stats": IMPORT_STARTED,
    "IndexBuilding": IMPORT_STARTED,
    "AssigningIDRange": IMPORT_STARTED,
    "Resharding": IMPORT_STARTED,
    "Planning": IMPORT_STARTED,
    "Committing": IMPORT_STARTED,
    REST_UNCOMMITTED: IMPORT_PERSISTED,
    "Completed": IMPORT_COMPLETED,
    "Failed": IMPORT_FAILED,
    "None": IMPORT_FAILED,
}


def sensor_state(rest_state: str) -> str:
    """The state name the sensors return for a REST job state (see the table above)."""
    return REST_STATES.get(rest_state, IMPORT_STARTED)


# --- Which API a server's imports take ------------------------------------------------------------

# Zilliz Cloud's serving endpoints: {cluster-id}.{region}.vectordb.zillizcloud.com (dedicated, port
# 19530) and {cluster-id}.serverless.{region}.vectordb.zillizcloud.com (free and serverless), and
# their cloud.zilliz.com.cn counterparts; its import API is the control plane's (Zilliz Cloud docs,
# "Connection Endpoints" and "Connect to Serving Clusters").
_ZILLIZ_SERVING_SUFFIXES = {
    ".vectordb.zillizcloud.com": ZILLIZ_CLOUD_API,
    ".cloud.zilliz.com.cn": ZILLIZ_CLOUD_API + ".cn",
}


def zilliz_cloud_cluster(host: str) -> tuple[str, str] | None:
    """``(cluster ID, import API endpoint)`` when ``host`` is a Zilliz Cloud serving endpoint (its
    first label is the cluster ID), else None."""
    bare = host.strip().lower().rsplit(":", 1)[0] if host.count(":") == 1 else host.strip().lower()
    for suffix, endpoint in _ZILLIZ_SERVING_SUFFIXES.items():
        if bare.endswith(suffix) and "." in bare.removesuffix(suffix):
            return bare.split(".", 1)[0], endpoint
    return None


def server_serves_rest_import(version: str) -> bool | None:
    """Whether a server of this version (GetVersion's answer, ``v2.4.5`` say) serves the REST
    import API (Milvus 2.4+); None when the version names no ``major.minor``."""
    found = re.search(r"(\d+)\.(\d+)", version)
    if found is None:
        return None
    return (int(found.group(1)), int(found.group(2))) >= (2, 4)


def choose_import_api(server_version: str, host: str) -> str:
    """What ``api="auto"`` picks for an import: ``"rest"`` for Zilliz Cloud (which serves no gRPC
    Import) and for Milvus 2.4+, ``"grpc"`` for 2.2/2.3 and for a version it cannot read (the gRPC
    Import is served by every version)."""
    if zilliz_cloud_cluster(host) is not None:
        return "rest"
    return "rest" if server_serves_rest_import(server_version) else "grpc"


# --- Where the calls go ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RestTarget:
    """Where the REST calls go and how they authenticate. Frozen and hashable: equal targets share
    one async client (a keep-alive pool) per event loop."""

    base_url: str  # scheme://host[:port], without a path
    secret: str = field(default="", repr=False)  # the bearer credential: API key, token or user:password
    db_name: str = ""
    cluster_id: str = ""  # Zilliz Cloud: the cluster every call names
    # Each call sends its timeout: targets differing only in it share one client.
    timeout: float = field(default=DEFAULT_TIMEOUT, compare=False)
    ca_pem_path: str = ""
    client_pem_path: str = ""
    client_key_path: str = ""

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
            raise MilvusConfigError(f"REST endpoint must be http(s)://host[:port], got {self.base_url!r}")

    @classmethod
    def from_settings(cls, settings: MilvusConnectionSettings) -> RestTarget:
        """Zilliz Cloud's import API for a Zilliz Cloud host, or a connection naming a ``cluster_id``
        (its endpoint from ``cloud_api_endpoint``, else the host's region's); otherwise the
        self-hosted REST API on the connection's host and port, with its credentials and TLS files
        (a ``server_name`` override applies to gRPC only)."""
        cloud = zilliz_cloud_cluster(settings.address)
        if settings.cluster_id or cloud:
            return cls.zilliz_cloud(
                settings.bearer,
                settings.cluster_id or (cloud[0] if cloud else ""),
                endpoint=settings.cloud_api_endpoint or (cloud[1] if cloud else ZILLIZ_CLOUD_API),
                db_name=settings.db_name,
                timeout=settings.timeout or DEFAULT_TIMEOUT,
            )
        if settings.cloud_api_endpoint:
            raise MilvusConfigError(
                f"Milvus connection {settings.conn_id!r}: cloud_api_endpoint is set but no cluster ID: give "
                "cluster_id, or a Zilliz Cloud host to read it from"
            )
        return cls(
            base_url=settings.uri,
            secret=settings.bearer,
            db_name=settings.db_name,
            timeout=settings.timeout or DEFAULT_TIMEOUT,
            ca_pem_path=settings.ca_pem_path or settings.server_pem_path,
            client_pem_path=settings.client_pem_path,
            client_key_path=settings.client_key_path,
        )

    @classmethod
    def zilliz_cloud(
        cls,
        api_key: str,
        cluster_id: str,
        endpoint: str = ZILLIZ_CLOUD_API,
        db_name: str = "",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> RestTarget:
        """Zilliz Cloud's import API: an API key and the cluster's ID."""
        if not cluster_id or not cluster_id.strip():
            raise MilvusConfigError("a Zilliz Cloud import needs the cluster ID (cluster_id), which is empty")
        if not api_key:
            raise MilvusConfigError("a Zilliz Cloud import needs an API key (the connection's token), which is empty")
        return cls(
            base_url=endpoint.rstrip("/"),
            secret=api_key,
            db_name=db_name,
            cluster_id=cluster_id.strip(),
            timeout=timeout,
        )

    @property
    def address(self) -> str:
        """host:port, for messages."""
        return urlsplit(self.base_url).netloc.rpartition("@")[2]

    @property
    def secure(self) -> bool:
        return self.base_url.startswith("https://")

    def headers(self, db_name: str) -> dict[str, str]:
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if self.secret:
            headers["Authorization"] = f"Bearer {self.secret}"
        if db_name:
            headers["DB-Name"] = db_name
        return headers

    def ssl_context(self) -> ssl.SSLContext | bool:
        """What httpx verifies the server with (reads the CA and client certificate files)."""
        if not self.secure:
            return True
        if not (self.ca_pem_path or self.client_pem_path):
            return True  # the system's CAs
        try:
            context = ssl.create_default_context(cafile=self.ca_pem_path or None)
            if self.client_pem_path:
                context.load_cert_chain(self.client_pem_path, self.client_key_path or None)
        except (OSError, ssl.SSLError) as err:
            raise MilvusConfigError(f"cannot use the TLS files for {self.address}: {err}") from None
        return context

    def client_options(self, verify: ssl.SSLContext | bool) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "verify": verify,
            "timeout": self.timeout,
            "limits": httpx.Limits(
                max_connections=MAX_CONNECTIONS,
                max_keepalive_connections=MAX_CONNECTIONS,
                keepalive_expiry=KEEPALIVE_SECONDS,
            ),
        }


# --- Request bodies ---------------------------------------------------------------------------------


def file_groups(files: Any, name: str = "files") -> list[list[str]]:
    """The files of one import as Milvus's REST API takes them: a list of groups, each one data
    file or a set of NumPy files. A flat list of paths is one group (as the gRPC Import takes it)."""
    if isinstance(files, (list, tuple)) and files and all(isinstance(f, str) for f in files):
        return [validate_import_files(list(files), name)]
    if isinstance(files, (list, tuple)) and files and all(isinstance(g, (list, tuple)) for g in files):
        if len(files) > MAX_FILE_GROUPS:
            raise MilvusConfigError(
                f"{name}: Milvus takes at most {MAX_FILE_GROUPS} file groups per import, got {len(files)}"
            )
        return [validate_import_files(list(group), f"{name}[{i}]") for i, group in enumerate(files)]
    raise MilvusConfigError(f"{name} must be a non-empty list of paths, or of lists of paths, got {files!r}")


def create_body(
    target: RestTarget,
    collection_name: str,
    files: Any = None,
    *,
    partition_name: str | None = None,
    db_name: str | None = None,
    options: dict[str, Any] | None = None,
    object_urls: Any = None,
    access_key: str = "",
    secret_key: str = "",
    session_token: str = "",
    volume_name: str = "",
    data_paths: Any = None,
) -> dict[str, Any]:
    """The body of ``create``, checked before any request: self-hosted Milvus imports ``files``
    from its own bucket; Zilliz Cloud imports ``object_urls`` (with their storage credentials) or
    a volume's ``data_paths``."""
    validate_collection_names(collection_name, "collection_name")
    body: dict[str, Any] = {"collectionName": collection_name}
    if partition_name:
        body["partitionName"] = partition_name
    db = db_name or target.db_name
    if db:
        body["dbName"] = db
    opts = validate_import_options(options, two_phase=True)
    if opts:
        body["options"] = opts
    sources = [
        name for name, given in (("files", files), ("object_urls", object_urls), ("data_paths", data_paths)) if given
    ]
    if len(sources) != 1:
        raise MilvusConfigError(
            f"an import takes exactly one of files, object_urls or data_paths, got {', '.join(sources) or 'none'}"
        )
    if volume_name and not data_paths:
        raise MilvusConfigError("volume_name names the Zilliz Cloud volume data_paths are in: give data_paths with it")
    if files:
        if target.cluster_id:
            raise MilvusConfigError(
                "files are paths in a self-hosted Milvus's own bucket; a Zilliz Cloud import takes object_urls "
                "(with their storage credentials) or a volume's data_paths"
            )
        body["files"] = file_groups(files)
        return body
    if not target.cluster_id:
        raise MilvusConfigError(
            f"{sources[0]} are for Zilliz Cloud, which reads them with its cluster ID; a self-hosted Milvus "
            "imports files from its own bucket (give files, paths from the bucket's root)"
        )
    if object_urls:
        body["objectUrls"] = file_groups(object_urls, "object_urls")
        for key, value in (("accessKey", access_key), ("secretKey", secret_key), ("token", session_token)):
            if value:
                body[key] = value
    else:
        if not volume_name:
            raise MilvusConfigError("data_paths are paths in a Zilliz Cloud volume: give volume_name too")
        body["volumeName"] = volume_name
        body["dataPaths"] = file_groups(data_paths, "data_paths")
    return body


def _with_target(target: RestTarget, body: dict[str, Any], db_name: str | None) -> dict[str, Any]:
    if target.cluster_id:
        body = {"clusterId": target.cluster_id, **body}
    db = db_name or target.db_name
    if db and "dbName" not in body:
        body["dbName"] = db
    return body


# --- Reading the answers -----------------------------------------------------------------------------


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _file_from_rest(detail: dict[str, Any]) -> RestImportFile:
    return {
        "file_name": str(detail.get("fileName", "")),
        "file_size": _int(detail.get("fileSize")),
        "state": str(detail.get("state", "")),
        "progress": _int(detail.get("progress")),
        "imported_rows": _int(detail.get("importedRows")),
        "total_rows": _int(detail.get("totalRows")),
        "complete_time": str(detail.get("completeTime", "")),
        "reason": str(detail.get("reason", "")),
    }


def job_from_rest(data: dict[str, Any], job_id: str) -> RestImportJob:
    """A ``describe`` answer's ``data``, by name (a field a server leaves out reads 0 or "")."""
    rest_state = str(data.get("state", ""))
    details = data.get("details") or []
    return {
        "job_id": str(data.get("jobId") or job_id),
        "collection_name": str(data.get("collectionName", "")),
        "state": sensor_state(rest_state),
        "rest_state": rest_state,
        "progress": _int(data.get("progress")),
        "imported_rows": _int(data.get("importedRows")),
        "total_rows": _int(data.get("totalRows")),
        "file_size": _int(data.get("fileSize")),
        "complete_time": str(data.get("completeTime", "")),
        "reason": str(data.get("reason", "")),
        "details": [_file_from_rest(d) for d in details if isinstance(d, dict)],
    }


def summary_from_rest(record: dict[str, Any]) -> RestImportSummary:
    rest_state = str(record.get("state", ""))
    return {
        "job_id": str(record.get("jobId", "")),
        "collection_name": str(record.get("collectionName", "")),
        "state": sensor_state(rest_state),
        "rest_state": rest_state,
        "progress": _int(record.get("progress")),
        "reason": str(record.get("reason", "")),
    }


def job_id_from_create(rpc: str, data: Any, address: str) -> str:
    # Milvus answers {"jobId": "..."}; Zilliz Cloud's reference shows "jobID" too, and a list.
    if isinstance(data, list) and data:
        data = data[0]
    job_id = (data.get("jobId") or data.get("jobID")) if isinstance(data, dict) else None
    if job_id in (None, ""):
        raise MilvusError(rpc, "no job", f"Milvus at {address} answered the import without a job ID")
    return str(job_id)


def _milvus_code(body: Any) -> int | None:
    code = body.get("code") if isinstance(body, dict) else None
    if isinstance(code, bool):
        return None
    if isinstance(code, str) and code.strip().lstrip("-").isdigit():
        return int(code)
    return code if isinstance(code, int) else None


def error_from_http_status(rpc: str, status: int, reason_phrase: str, address: str) -> MilvusError:
    """An HTTP answer without Milvus's code, by its status (a gateway's, or a server without the API)."""
    details = f"HTTP {status} {reason_phrase}".strip()
    if status in (401, 403):
        return transport_error(rpc, status, Failure.AUTH, details, address)
    if status == 404:
        return transport_error(
            rpc,
            status,
            Failure.OTHER,
            f"{details}: the server does not serve {rpc} (REST import needs Milvus 2.4+, commit and abort 3.0)",
            address,
        )
    if status in (429, 503):
        return transport_error(rpc, status, Failure.OVERLOADED, details, address)
    if status >= 500:
        return transport_error(rpc, status, Failure.CONNECTION_LOST, details, address)
    return transport_error(rpc, status, Failure.OTHER, details, address)


def read_answer(rpc: str, response: httpx.Response, address: str) -> Any:
    """The ``data`` of a successful answer; raises the provider's error for any other."""
    try:
        body = response.json()
    except ValueError:
        body = None
    code = _milvus_code(body)
    status = response.status_code
    # 0 is success; 200 only in Zilliz Cloud's examples, and never a Milvus error code.
    if code in (0, 200) and status == 200:
        data = body.get("data")
        return {} if data is None else data
    if code not in (None, 0, 200):
        err = error_from_status(rpc, code, str(body.get("message") or ""))
        if status in (401, 403) and not isinstance(err, MilvusAuthenticationError):
            err = MilvusAuthenticationError(rpc, code, err.reason)
        elif status == 429 and not err.transient:
            err = type(err)(rpc, code, err.reason, transient=True)
        raise err
    raise error_from_http_status(rpc, status, response.reason_phrase, address)


def error_from_exception(rpc: str, err: httpx.HTTPError, address: str) -> MilvusError:
    """A call that got no HTTP answer, by what httpx says happened."""
    details = str(err) or type(err).__name__
    if is_tls_failure(details):
        failure = Failure.TLS
    elif isinstance(err, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        failure = Failure.NOT_SENT  # no connection, or none free in the pool: nothing was sent
    elif isinstance(err, (httpx.ReadTimeout, httpx.WriteTimeout)):
        failure = Failure.TIMED_OUT
    elif isinstance(err, (httpx.NetworkError, httpx.RemoteProtocolError)):
        failure = Failure.CONNECTION_LOST
    else:
        failure = Failure.OTHER
    return transport_error(rpc, type(err).__name__, failure, details, address)


# --- The transport -----------------------------------------------------------------------------------

# One async client (keep-alive pool) per target per event loop: every trigger of a triggerer on one
# connection shares it, as they share the gRPC channel.
async_clients: PerLoop[RestTarget, httpx.AsyncClient] = PerLoop()


class MilvusRestTransport:
    """Milvus's REST import API for one target, blocking (a client of its own) or on the running
    event loop (the client shared per loop, see :data:`async_clients`)."""

    def __init__(self, target: RestTarget) -> None:
        self.target = target
        self._client: httpx.Client | None = None
        # describe, or get_progress, its older name, for a server that answers describe with 404:
        # pymilvus sends describe since October 2024, a 2.4.8 server was asked get_progress
        # (milvus#35530), and Milvus routes both to one handler (handler_v2.go).
        self._describe = "describe"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.target.base_url!r})"

    # --- Calls ---------------------------------------------------------------------------------------

    def _sync_client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(**self.target.client_options(self.target.ssl_context()))
        return self._client

    async def _async_client(self) -> httpx.AsyncClient:
        client = async_clients.find(self.target)
        if client is None:
            verify = await asyncio.to_thread(self.target.ssl_context)  # file reads: off the loop
            client = async_clients.get(self.target, lambda: httpx.AsyncClient(**self.target.client_options(verify)))
        return client

    def _request(
        self, action: str, body: dict[str, Any], db_name: str | None
    ) -> tuple[str, dict[str, Any], dict[str, str]]:
        return (
            f"{IMPORT_API}/{action}",
            _with_target(self.target, body, db_name),
            self.target.headers(db_name or self.target.db_name),
        )

    def call(self, action: str, body: dict[str, Any], db_name: str | None = None, timeout: float | None = None) -> Any:
        """``POST`` one action, blocking; Milvus's ``data``, or the provider's error."""
        rpc = f"import/{action}"
        path, payload, headers = self._request(action, body, db_name)
        try:
            response = self._sync_client().post(
                path, json=payload, headers=headers, timeout=timeout or self.target.timeout
            )
        except httpx.HTTPError as err:
            raise error_from_exception(rpc, err, self.target.address) from None
        return read_answer(rpc, response, self.target.address)

    async def acall(
        self, action: str, body: dict[str, Any], db_name: str | None = None, timeout: float | None = None
    ) -> Any:
        """``POST`` one action on the running event loop, over the client shared per loop."""
        rpc = f"import/{action}"
        path, payload, headers = self._request(action, body, db_name)
        client = await self._async_client()
        try:
            response = await client.post(path, json=payload, headers=headers, timeout=timeout or self.target.timeout)
        except httpx.HTTPError as err:
            raise error_from_exception(rpc, err, self.target.address) from None
        return read_answer(rpc, response, self.target.address)

    def close(self) -> None:
        """Close the blocking client, if open (the async ones are shared per loop)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- The import API ------------------------------------------------------------------------------

    def create_import(
        self, collection_name: str, files: Any = None, *, timeout: float | None = None, **kwargs: Any
    ) -> str:
        """Start an import job; its ID. Takes what :func:`create_body` takes. Not idempotent: a
        timeout after sending raises an error with ``outcome_unknown`` (find the job by ``list``)."""
        body = create_body(self.target, collection_name, files, **kwargs)
        data = self.call("create", body, kwargs.get("db_name"), timeout)
        return job_id_from_create("import/create", data, self.target.address)

    async def acreate_import(
        self, collection_name: str, files: Any = None, *, timeout: float | None = None, **kwargs: Any
    ) -> str:
        body = create_body(self.target, collection_name, files, **kwargs)
        data = await self.acall("create", body, kwargs.get("db_name"), timeout)
        return job_id_from_create("import/create", data, self.target.address)

    def describe_import(
        self, job_id: Any, *, db_name: str | None = None, timeout: float | None = None
    ) -> RestImportJob:
        """One job's state, progress, rows and files (see :func:`job_from_rest`)."""
        job = validate_rest_job_id(job_id)
        try:
            data = self.call(self._describe, {"jobId": job}, db_name, timeout)
        except MilvusError as err:
            if not self._fall_back(err):
                raise
            data = self.call(self._describe, {"jobId": job}, db_name, timeout)
        return job_from_rest(data, job)

    async def adescribe_import(
        self, job_id: Any, *, db_name: str | None = None, timeout: float | None = None
    ) -> RestImportJob:
        job = validate_rest_job_id(job_id)
        try:
            data = await self.acall(self._describe, {"jobId": job}, db_name, timeout)
        except MilvusError as err:
            if not self._fall_back(err):
                raise
            data = await self.acall(self._describe, {"jobId": job}, db_name, timeout)
        return job_from_rest(data, job)

    def _fall_back(self, err: MilvusError) -> bool:
        """After a 404 for describe, ask get_progress from then on."""
        if err.code != 404 or self._describe != "describe":
            return False
        self._describe = "get_progress"
        return True

    def list_imports(
        self, collection_name: str | None = None, *, db_name: str | None = None, timeout: float | None = None
    ) -> list[RestImportSummary]:
        """The jobs Milvus keeps, of one collection or of the database, with their IDs."""
        body = {"collectionName": collection_name} if collection_name else {}
        return _summaries(self.call("list", body, db_name, timeout))

    async def alist_imports(
        self, collection_name: str | None = None, *, db_name: str | None = None, timeout: float | None = None
    ) -> list[RestImportSummary]:
        body = {"collectionName": collection_name} if collection_name else {}
        return _summaries(await self.acall("list", body, db_name, timeout))

    def commit_import(self, job_id: Any, *, db_name: str | None = None, timeout: float | None = None) -> None:
        """Commit an Uncommitted job (Milvus 3.0, ``auto_commit="false"``): its rows become visible."""
        self.call("commit", {"jobId": validate_rest_job_id(job_id)}, db_name, timeout)

    async def acommit_import(self, job_id: Any, *, db_name: str | None = None, timeout: float | None = None) -> None:
        await self.acall("commit", {"jobId": validate_rest_job_id(job_id)}, db_name, timeout)

    def abort_import(self, job_id: Any, *, db_name: str | None = None, timeout: float | None = None) -> None:
        """Abort a job that is not committed (Milvus 3.0): it ends Failed, its rows dropped."""
        self.call("abort", {"jobId": validate_rest_job_id(job_id)}, db_name, timeout)

    async def aabort_import(self, job_id: Any, *, db_name: str | None = None, timeout: float | None = None) -> None:
        await self.acall("abort", {"jobId": validate_rest_job_id(job_id)}, db_name, timeout)


def _summaries(data: Any) -> list[RestImportSummary]:
    records = data.get("records") if isinstance(data, dict) else None
    return [summary_from_rest(r) for r in records or [] if isinstance(r, dict)]
