"""An import over Milvus's REST Import V2 API (Milvus 2.4+, Zilliz Cloud), for the bulk-insert
operator: which API an import takes, the checks made before any request, the job ID recorded in
the task state store so a retry reconnects instead of importing twice, and the two-phase commit
(Milvus 3.0, ``auto_commit=false``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_milvus.exceptions import (
    MilvusAuthenticationError,
    MilvusConfigError,
    MilvusDuplicateImportError,
    MilvusError,
    MilvusImportUnknownError,
)
from airflow_provider_milvus.hooks.milvus_rest import choose_import_api, file_groups, zilliz_cloud_cluster
from airflow_provider_milvus.types import IMPORT_COMPLETED, IMPORT_FAILED, RestImportJob
from airflow_provider_milvus.utils.import_resume import DUPLICATE_IMPORTS_XCOM, names_unknown_import
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
    connection naming a Zilliz Cloud ``cluster_id``, or when Zilliz Cloud sources (object URLs, a
    volume) are given, and gRPC otherwise; the bulk-insert operator then asks a self-hosted server
    whether it serves REST (:func:`self_hosted_api`), once the inputs are checked.
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


def self_hosted_api(
    hook: MilvusHook, version: str, collection: str, db_name: str | None, timeout: float | None, log: Any
) -> str:
    """What ``api="auto"`` takes on a self-hosted server of this version (GetVersion's answer): REST
    where it is Milvus 2.4+ and answers the REST import API on the connection's port, as it does
    unless its HTTP server is off (``proxy.http.enabled``) or on a port of its own
    (``proxy.http.port``); gRPC otherwise. The probe is a read (``list``): a server that turns it
    away imported nothing."""
    if choose_import_api(version, hook.settings.address) != "rest":
        return "grpc"
    try:
        hook.rest.list_imports(collection, db_name=db_name, timeout=timeout)
    except MilvusAuthenticationError:
        raise
    except MilvusError as err:
        log.info(
            "Milvus %s answers no REST import API on %s (%s): importing over gRPC",
            version,
            hook.rest.target.address,
            err,
        )
        return "grpc"
    log.info("Milvus %s serves the REST import API: importing over REST (api='auto')", version)
    return "rest"


class RestImportResume:
    """What a retried REST import reconnects to, so it never imports twice (the REST twin of
    :class:`~airflow_provider_milvus.utils.import_resume.ImportResume`).

    Each try records its request in the task state store (Airflow 3.3+) before it creates the job,
    and the job ID once Milvus answers. A retry reconnects to a recorded job that runs or completed,
    and imports anew after one that failed. Where it has no job ID (the try was lost between the
    create and the record, or there is no store: Airflow before 3.3) it asks Milvus: REST ``list``
    carries job IDs, ``describe`` each job's files.

    ==========================================  ===================================================
    Live jobs of the collection with its files  What the retry does
    ==========================================  ===================================================
    none                                        import
    one running (or Uncommitted)                reconnect (a two-phase job is then committed)
    several running                             fail with :class:`MilvusDuplicateImportError`
    only completed ones                         no create time is listed, so a completed job may be
                                                an earlier DAG run's: fail with
                                                :class:`MilvusImportUnknownError`, or import anew
                                                with ``on_unknown_import="import_anew"``
    ==========================================  ===================================================

    Files are compared by name: self-hosted Milvus lists each file group (``[a.parquet b.parquet]``),
    Zilliz Cloud each file's base name.
    """

    def __init__(
        self,
        rest: MilvusRestTransport,
        context: Any,
        request: dict[str, Any],
        *,
        on_unknown_import: str,
        db_name: str | None,
        rpc_timeout: float | None,
        log: Any,
    ) -> None:
        self.rest = rest
        self.context = context
        self.request = request
        self.on_unknown_import = on_unknown_import
        self.db_name = db_name
        self.rpc_timeout = rpc_timeout
        self.log = log
        self.store = context.get("task_state_store")
        self._saved: dict[str, Any] | None = None
        if self.store is not None:
            saved = self.store.get(REST_IMPORT_STORE_KEY)
            if isinstance(saved, dict) and saved.get("request") == request:
                self._saved = saved

    def record_intent(self) -> None:
        """Before the create: a retry of a try lost after Milvus took it knows to look for the job."""
        self._save(None)

    def record_job(self, job_id: str) -> None:
        self._save(job_id)

    def _save(self, job_id: str | None) -> None:
        if self.store is not None:
            self._saved = {"request": self.request, "job_id": job_id}
            self.store.set(REST_IMPORT_STORE_KEY, self._saved)

    def earlier_job(self) -> str | None:
        """The job an earlier try of this task created for this request, to reconnect to; None to
        import. Raises when Milvus holds several, or when it cannot be told (see the class)."""
        if self.store is not None:
            if self._saved is None:
                return None  # no try sent this request
            known = self._saved.get("job_id")
            if known:
                job = self._describe(str(known))
                if job is not None and job["state"] != IMPORT_FAILED:
                    self.log.info(
                        "Reconnecting to import job %s (%s), started by an earlier try, found in the task state store",
                        known,
                        job["rest_state"],
                    )
                    return str(known)
                if job is not None:
                    self.log.warning(
                        "Import job %s of an earlier try failed (%s): importing anew", known, job["reason"] or "-"
                    )
                    return None
            else:
                self.log.warning(
                    "An earlier try created this import but did not record Milvus's answer: looking for its job"
                )
        elif self.context["ti"].try_number <= 1:
            return None
        return self._search()

    def _describe(self, job_id: str) -> RestImportJob | None:
        """The job; None if Milvus no longer knows it."""
        try:
            return self.rest.describe_import(job_id, db_name=self.db_name, timeout=self.rpc_timeout)
        except MilvusError as err:
            if err.transient or not names_unknown_import(err.reason):
                raise
            self.log.warning("Import job %s of an earlier try is unknown to Milvus (%s)", job_id, err.reason)
            return None

    def _search(self) -> str | None:
        collection = self.request["collection"]
        listed = self.rest.list_imports(collection, db_name=self.db_name, timeout=self.rpc_timeout)
        jobs = [job for s in listed if s["state"] != IMPORT_FAILED and (job := self._describe(s["job_id"]))]
        ours = [job for job in jobs if job["state"] != IMPORT_FAILED and self._same_files(job)]
        running = [job for job in ours if job["state"] != IMPORT_COMPLETED]
        if len(running) > 1:
            ids = [job["job_id"] for job in running]
            found = [{"id": job["job_id"], "state": job["rest_state"]} for job in running]
            self.context["ti"].xcom_push(key=DUPLICATE_IMPORTS_XCOM, value=found)
            raise MilvusDuplicateImportError(
                f"Milvus runs {len(running)} import jobs of this task's request into {collection!r}, jobs {ids}: "
                "their rows may be loaded more than once. Check the collection, and delete the duplicated rows "
                "or reload it",
                ids,
            )
        if running:
            job_id = running[0]["job_id"]
            self.log.info(
                "Reattaching to import job %s (%s), started by an earlier try, found by its files in Milvus's "
                "import jobs",
                job_id,
                running[0]["rest_state"],
            )
            self.record_job(job_id)
            return job_id
        if not ours:
            self.log.info("No live import job of this request's files in %r: importing", collection)
            return None
        what = (
            f"An earlier try of this task may have imported {self.request['files']} into {collection!r}, and "
            f"Milvus lists {len(ours)} completed import job(s) of those files without their create times, so "
            "whether one of them is that try's or an earlier DAG run's cannot be told"
        )
        if self.on_unknown_import == "import_anew":
            self.log.warning("%s; importing anew, as on_unknown_import='import_anew' asks", what)
            return None
        raise MilvusImportUnknownError(
            f"{what}. Importing again could load the rows twice. Check the collection, then mark this task "
            "success if the rows are there, or run it with on_unknown_import='import_anew' to import them again",
            [job["job_id"] for job in ours],
        )

    def _same_files(self, job: RestImportJob) -> bool:
        """Whether the job imports this request's files, by the names Milvus reports."""
        listed = sorted(sorted(_base_names(detail["file_name"])) for detail in job["details"])
        wanted = sorted(sorted(_base_names(" ".join(group))) for group in file_groups(self.request["files"]))
        if listed == wanted:
            return True
        # Zilliz Cloud names one file per detail: compare the files themselves.
        return sorted(name for group in listed for name in group) == sorted(n for group in wanted for n in group)


def _base_names(file_name: str) -> list[str]:
    """``[a/b.parquet c/d.parquet]`` (self-hosted Milvus prints the group) or ``d.parquet``."""
    return [name.rstrip("/").rsplit("/", 1)[-1] for name in file_name.strip().strip("[]").split() if name]


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
