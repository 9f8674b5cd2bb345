"""How a retried bulk insert finds the import an earlier try started, so it never imports twice.

Milvus does not deduplicate an import: the same file imported twice loads its rows twice. So a
bulk-insert task records each request before it sends the Import and the import's ID once Milvus
answers (Airflow 3.3+: the task state store), and a retry decides from that record and Milvus's
own listing of the collection's imports:

=========================================  =======================================================
What the retry finds                       What it does
=========================================  =======================================================
no record of this request                  import (no earlier try sent it; or Airflow cleared the
                                           store on success, ``[state_store] clear_on_success``)
the import's ID, running or completed      reconnect to it
the import's ID, failed                    import anew (a wait that saw it fail because Milvus
                                           restarted raised :class:`MilvusImportInterrupted`,
                                           which Airflow retries; any other failure is final)
only the intent (the try was lost before   find the import in the listing: one running or
it recorded the ID), or an ID Milvus no    completed import of the same files since the request
longer knows                               was first sent -> reconnect; none -> import anew
several imports of the request             fail with :class:`MilvusDuplicateImportError`
a listing without files (Milvus 2.4+)      no running or completed import of the collection
                                           listed (2.4+ lists no create times) -> import anew; otherwise it cannot tell:
                                           fail with :class:`MilvusImportUnknownError`, or import
                                           anew if the task says ``on_unknown_import="import_anew"``
=========================================  =======================================================

Without a task state store (Airflow before 3.3) a retry has no record: it searches the listing
from the start of the DAG run. Only Milvus 2.2/2.3 list an import's files (2.4+: state, reason,
progress and create time only; see docs/milvus-versions.md).

Airflow's ``ResumableJobMixin`` does not fit: it records the job's ID only after the submission
returns, which is the window a lost worker falls into, and it has no way to search for a job it
has no ID for.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_milvus.exceptions import MilvusDuplicateImportError, MilvusError, MilvusImportUnknownError
from airflow_provider_milvus.types import (
    IMPORT_COMPLETED,
    IMPORT_RUNNING_STATES,
    ImportRecord,
    ImportRequest,
    ImportState,
)
from airflow_provider_milvus.validation import validate_import_task_id

if TYPE_CHECKING:
    from airflow_provider_milvus.hooks.milvus import MilvusHook

# Where a bulk insert keeps its record in Airflow's task state store (Airflow 3.3+).
IMPORT_STORE_KEY = "milvus_import"
# XCom key under which a task that found several imports of its request lists them.
DUPLICATE_IMPORTS_XCOM = "duplicate_imports"
# How far Milvus's clock (an import's create_ts) may lag the worker's when the intent was written.
CLOCK_SKEW_SECONDS = 10
# Reasons Milvus gives for an import it does not know (2.3: code 1000 "key not found"; 2.4+: a
# Failed state "import job does not exist").
_UNKNOWN_IMPORT_MARKERS = ("key not found", "does not exist", "not exist")


def names_unknown_import(reason: str) -> bool:
    return any(marker in reason.lower() for marker in _UNKNOWN_IMPORT_MARKERS)


# Milvus 2.2/2.3 mark each import still running when the root coordinator starts failed with this
# reason (alone, or after an earlier one), and drop its segments (internal/rootcoord/
# import_manager.go, loadFromTaskStore): its files were not at fault, and importing them anew loads
# each row once. Milvus 2.4+ keep an import job across a restart.
_RESTART_REASON = "task marked failed as service restarted"


def interrupted_by_restart(state: ImportState | None) -> bool:
    """Whether a failed import failed only because Milvus restarted while it ran."""
    return state is not None and _RESTART_REASON in (state.get("failed_reason") or "")


OnUnknownImport = Literal["fail", "import_anew"]
ON_UNKNOWN_IMPORT_CHOICES: tuple[OnUnknownImport, ...] = ("fail", "import_anew")

_LIVE_STATES = (*IMPORT_RUNNING_STATES, IMPORT_COMPLETED)


class ImportResume:
    """The retry logic of one bulk-insert task: what it records, and what a retry reconnects to.

    :param hook: The task's hook.
    :param context: The task's context (its ``task_state_store``, ``ti`` and ``dag_run``).
    :param request: What the task imports.
    :param on_unknown_import: What a retry does when it cannot tell whether an earlier import
        reached Milvus: ``"fail"`` (say so) or ``"import_anew"``.
    """

    def __init__(
        self,
        hook: MilvusHook,
        context: Any,
        request: ImportRequest,
        *,
        on_unknown_import: OnUnknownImport,
        rpc_timeout: float | None,
        log: Any,
    ) -> None:
        self.hook = hook
        self.context = context
        self.request = request
        self.on_unknown_import = on_unknown_import
        self.rpc_timeout = rpc_timeout
        self.log = log
        self.store = context.get("task_state_store")
        self._record: ImportRecord | None = None
        if self.store is not None:
            saved = self.store.get(IMPORT_STORE_KEY)
            if isinstance(saved, dict) and saved.get("request") == request:
                self._record = saved  # type: ignore[assignment]

    # --- What the task records ------------------------------------------------------------------

    def record_intent(self) -> None:
        """Before the Import: a try lost after Milvus accepts it leaves its retry the request and a
        time to search Milvus's imports from."""
        submitted_at = self._record["submitted_at"] if self._record else time.time()
        self._save({"request": self.request, "submitted_at": submitted_at, "import_task_id": None})

    def record_import(self, import_task_id: int) -> None:
        """Once Milvus answered (or a retry found the import): later retries reconnect by ID."""
        submitted_at = self._record["submitted_at"] if self._record else time.time()
        self._save({"request": self.request, "submitted_at": submitted_at, "import_task_id": import_task_id})

    def _save(self, record: ImportRecord) -> None:
        if self.store is not None:
            self.store.set(IMPORT_STORE_KEY, record)
            self._record = record

    # --- What a retry reconnects to -------------------------------------------------------------

    def earlier_import(self) -> int | None:
        """The import an earlier try of this task started for this request, to reconnect to; None to
        import. Raises when Milvus holds several, or when it cannot be told (see the module)."""
        if self.store is not None:
            if self._record is None:
                return None
            since: float | None = self._record["submitted_at"]
            known_id = self._record.get("import_task_id")
            where = "in the task state store"
        else:
            if self.context["ti"].try_number <= 1:
                return None
            # A completed import counts only if it began in this DAG run: an earlier try may have died
            # just before its import completed, while an import of the same files by an earlier run is
            # that run's.
            run_start = getattr(self.context.get("dag_run"), "start_date", None)
            since = run_start.timestamp() if run_start is not None else None
            known_id, where = None, "by its files in Milvus's import listing"
        listing = self.hook.list_import_tasks(
            self.request["collection"], db_name=self.request["db_name"] or None, timeout=self.rpc_timeout
        )
        lists_files = bool(listing) and all("files" in task["infos"] for task in listing)
        matches = [task for task in listing if self._is_ours(task, since)] if lists_files else []
        if len(matches) > 1:
            self._duplicates(matches)
        if known_id is not None:
            state = self._state(known_id)
            if state is not None and state["state"] in _LIVE_STATES:
                self.log.info(
                    "Reconnecting to import task %s started by an earlier try (%s), found %s",
                    known_id,
                    state["state"],
                    where,
                )
                return known_id
            if state is not None:
                self.log.warning(
                    "Import task %s of an earlier try ended in %s (%s): importing anew",
                    known_id,
                    state["state"],
                    state["failed_reason"] or "no reason given",
                )
                return None
        elif self.store is not None:
            self.log.warning(
                "An earlier try sent this Import at %s but did not record Milvus's answer: looking for it "
                "in Milvus's imports of %r",
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since or 0)),
                self.request["collection"],
            )
        if lists_files or not listing:
            if not matches:
                return None
            found = matches[0]["id"]
            self.log.info(
                "Reattaching to import task %s started by an earlier try (%s), found by its files in Milvus's "
                "import listing",
                found,
                matches[0]["state"],
            )
            self.record_import(found)
            return found
        return self._unknown(listing, since)

    def _is_ours(self, task: ImportState, since: float | None) -> bool:
        """An import of this request (files, collection, partition) that runs or completed since it was
        first sent (Milvus 2.2/2.3, whose listing names files)."""
        infos = task["infos"]
        return (
            self._live_since(task, since)
            and infos.get("collection") == self.request["collection"]
            and infos.get("partition", "_default") == (self.request["partition"] or "_default")
            and infos.get("files") == ",".join(self.request["files"])
        )

    @staticmethod
    def _live_since(task: ImportState, since: float | None) -> bool:
        if task["state"] not in _LIVE_STATES:
            return False
        if since is None:  # no time to search from: only a running import can be an earlier try's
            return task["state"] in IMPORT_RUNNING_STATES
        # 0: Milvus 2.4+ lists jobs without their create time (convertToV1ListImportResponse passes
        # only state, reason and progress), so any of them may be recent.
        return task["create_ts"] == 0 or task["create_ts"] >= int(since) - CLOCK_SKEW_SECONDS

    def _state(self, import_task_id: int) -> ImportState | None:
        """The import's state; None if Milvus no longer knows it."""
        task_id = validate_import_task_id(import_task_id, "the stored import_task_id")
        try:
            state = self.hook.get_import_state(task_id, timeout=self.rpc_timeout)
        except MilvusError as err:
            if err.transient or not names_unknown_import(err.reason):
                raise
            reason = err.reason
        else:
            if state["state"] in _LIVE_STATES or not names_unknown_import(state["failed_reason"]):
                return state
            reason = state["failed_reason"]
        self.log.warning("Import task %s of an earlier try is unknown to Milvus (%s)", task_id, reason)
        return None

    def _duplicates(self, matches: list[ImportState]) -> None:
        found = [
            {"id": task["id"], "state": task["state"], "row_count": task["row_count"], "create_ts": task["create_ts"]}
            for task in matches
        ]
        self.context["ti"].xcom_push(key=DUPLICATE_IMPORTS_XCOM, value=found)
        ids = [task["id"] for task in matches]
        message = (
            f"Milvus holds {len(matches)} imports of this task's request ({self.request['files']} into "
            f"{self.request['collection']!r}), import tasks {ids}: their rows may be loaded more than once. "
            f"Check the collection, and delete the duplicated rows or reload it"
        )
        self.log.error(message)
        raise MilvusDuplicateImportError(message, ids)

    def _unknown(self, listing: list[ImportState], since: float | None) -> int | None:
        """Milvus 2.4+: the listing names no files, so an import of the collection since the request
        may or may not be the earlier try's."""
        others = [task for task in listing if self._live_since(task, since)]
        collection = self.request["collection"]
        if not others:
            self.log.info(
                "No running or completed import of %r since this request was first sent: the earlier try's "
                "Import did not take effect; importing",
                collection,
            )
            return None
        what = (
            f"an earlier try of this task may have started an import of {self.request['files']} into "
            f"{collection!r}, and Milvus lists {len(others)} running or completed import(s) of that collection "
            f"without their files or create times (Milvus 2.4+ over gRPC), so whether one of them is "
            f"that try's cannot be told"
        )
        if self.on_unknown_import == "import_anew":
            self.log.warning("%s; importing anew, as on_unknown_import='import_anew' asks", what[0].upper() + what[1:])
            return None
        raise MilvusImportUnknownError(
            f"{what[0].upper() + what[1:]}. Importing again could load the rows twice. Check the collection's "
            f"imports (for example the REST API's /v2/vectordb/jobs/import/list), then mark this task success if "
            f"the rows are there, or run it with on_unknown_import='import_anew' to import them again",
            [task["id"] for task in others if task["id"]],  # 2.4+ lists them with id=0
        )
