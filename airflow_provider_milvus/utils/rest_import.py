"""An import over Milvus's REST Import V2 API (Milvus 2.4+, Zilliz Cloud), for the bulk-insert
operator: which API an import takes, the checks made before any request, the job ID recorded in
the task state store so a retry reconnects instead of importing twice, and the two-phase commit
(Milvus 3.0, ``auto_commit=false``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_milvus.exceptions import MilvusConfigError, MilvusError
from airflow_provider_milvus.hooks.milvus_rest import zilliz_cloud_cluster
from airflow_provider_milvus.validation import validate_import_task_id, validate_rest_job_id
from airflow_provider_milvus.wait import ImportStateTarget, RestImportStateTarget, WaitTarget

if TYPE_CHECKING:
    from airflow_provider_milvus.hooks.milvus import MilvusHook
    from airflow_provider_milvus.hooks.milvus_rest import MilvusRestTransport

ImportApi = Literal["auto", "grpc", "rest"]
IMPORT_API_CHOICES: tuple[str, ...] = ("auto", "grpc", "rest")
# Task state store key of a REST import: the request and the job ID Milvus returned.
REST_IMPORT_STORE_KEY = "milvus_rest_import"


def auto_commit_off(options: dict[str, str]) -> bool:
    return options.get("auto_commit", "true").strip().lower() in ("false", "0", "no", "off")


def resolve_import_api(api: str, host: str, *, rest_only: list[str], cluster_id: str = "") -> str:
    """The API an import takes, checked before any request.

    ``"auto"`` takes REST for a Zilliz Cloud endpoint (which serves no gRPC Import) or a
    connection naming a Zilliz Cloud ``cluster_id``, or when
    Zilliz Cloud sources (object URLs, a volume) are given, and gRPC otherwise: a self-hosted
    Milvus 2.4+ serves REST on its proxy port only where the HTTP server is enabled and shares
    that port, which the provider cannot tell from the gRPC connection (see
    docs/milvus-versions.md); ``api="rest"`` opts in.
    """
    if api not in IMPORT_API_CHOICES:
        raise MilvusConfigError(f"api must be one of {list(IMPORT_API_CHOICES)}, got {api!r}")
    if api == "grpc":
        if rest_only:
            raise MilvusConfigError(
                f"{', '.join(rest_only)} need the REST import API (api='rest' or 'auto'); the gRPC Import takes "
                "files from the server's own bucket and commits on its own"
            )
        return "grpc"
    # auto_commit=false alone keeps "auto" on gRPC, which refuses it naming api="rest": a
    # two-phase import needs Milvus 3.0's REST API, which the server may not serve.
    sources = [name for name in rest_only if name != "auto_commit=false"]
    if api == "rest" or sources or cluster_id or zilliz_cloud_cluster(host) is not None:
        return "rest"
    return "grpc"


class RestImportRecord:
    """The REST job of one request in the task state store (Airflow 3.3+), if any."""

    def __init__(self, context: Any, request: dict[str, Any]) -> None:
        self.store = context.get("task_state_store")
        self.request = request

    def job_id(self) -> str | None:
        if self.store is None:
            return None
        saved = self.store.get(REST_IMPORT_STORE_KEY)
        if isinstance(saved, dict) and saved.get("request") == self.request and saved.get("job_id"):
            return str(saved["job_id"])
        return None

    def save(self, job_id: str) -> None:
        if self.store is not None:
            self.store.set(REST_IMPORT_STORE_KEY, {"request": self.request, "job_id": job_id})


def abort_quietly(rest: MilvusRestTransport, job_id: str, db_name: str | None, log: Any) -> None:
    """Abort a two-phase job, best effort: its failure is logged, not raised."""
    try:
        rest.abort_import(job_id, db_name=db_name)
        log.warning("Aborted import job %s", job_id)
    except MilvusError as err:
        log.warning("Could not abort import job %s: %s", job_id, err)


def rest_transport(hook: MilvusHook) -> MilvusRestTransport:
    return hook.rest


def import_target(
    api: str, import_task_id: Any, *, db_name: str | None = None, rpc_timeout: float | None = None
) -> WaitTarget:
    """What the import sensor and trigger wait on: the gRPC import task (an int ID) or, with
    ``api="rest"``, the REST job (a string ID)."""
    if api == "rest":
        return RestImportStateTarget(
            validate_rest_job_id(import_task_id, "import_task_id"), db_name=db_name, rpc_timeout=rpc_timeout
        )
    return ImportStateTarget(validate_import_task_id(import_task_id), rpc_timeout=rpc_timeout)
