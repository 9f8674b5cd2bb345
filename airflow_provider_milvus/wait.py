"""Waiting for Milvus: written once, driven from a worker (blocking) or a trigger (asyncio).

A :class:`WaitTarget` says how to ask Milvus about one thing (a flush, an import) and how to read
the answer. :func:`wait_steps` is the whole policy: poll, classify the answer, sleep with jitter,
retry transient errors with backoff, stop at an absolute deadline. It is a generator of steps, so
:func:`wait_sync` and :func:`wait_async` only carry the steps out, with ``time.sleep`` or
``asyncio.sleep``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

import pendulum

from airflow_provider_milvus.exceptions import MilvusConfigError, MilvusError, MilvusWaitFailed, MilvusWaitTimeout
from airflow_provider_milvus.types import (
    IMPORT_COMPLETED,
    IMPORT_FAILED_STATES,
    INDEX_FAILED,
    INDEX_FINISHED,
    REST_UNCOMMITTED,
    FlushResult,
    FlushTarget,
    ImportState,
    IndexState,
    LoadProgress,
    RestImportJob,
)
from airflow_provider_milvus.validation import (
    parse_rendered_literal,
    validate_collection_names,
    validate_db_name,
    validate_flush_target,
    validate_name,
    validate_rest_job_id,
)

if TYPE_CHECKING:
    from airflow_provider_milvus.hooks.milvus import MilvusHook
    from airflow_provider_milvus.hooks.milvus_rest import MilvusRestTransport

log = logging.getLogger(__name__)

# Backoff for transient errors: 1 s, 2 s, 4 s ... capped, each with full jitter.
RETRY_BASE_SECONDS = 1.0
RETRY_CAP_SECONDS = 30.0
# Polls are spread by +/- this fraction so many waits started together do not poll in lock-step.
POLL_JITTER = 0.1
# After a first poll made at once, the second is spread by +/- this fraction: waits that all polled
# at once (a burst of tasks started in the triggerer, a triggerer taking over) spread over an interval.
POLL_SPREAD = 0.5


class Outcome(Enum):
    DONE = "done"
    WAITING = "waiting"
    FAILED = "failed"


@dataclass
class Check:
    """One answer from Milvus, classified."""

    outcome: Outcome
    result: Any = None
    progress: str = ""  # logged when it changes
    message: str = ""  # why it failed


class WaitTarget(ABC):
    """What is waited on: how to poll Milvus for it, and how to read the answer."""

    @property
    @abstractmethod
    def description(self) -> str:
        """Names the thing waited on, for messages (``flush of collection 'x'``)."""

    @abstractmethod
    def poll(self, hook: MilvusHook) -> Any:
        """Ask Milvus, blocking; returns its answer."""

    async def apoll(self, hook: MilvusHook) -> Any:
        """Ask Milvus on the running event loop; returns its answer. By default :meth:`poll` in a
        thread; the targets triggers wait on ask over the async channel instead."""
        return await asyncio.to_thread(self.poll, hook)

    @abstractmethod
    def check(self, answer: Any) -> Check:
        """Classify an answer: done (with the result), failed (with why), or still waiting."""

    def retryable(self, err: MilvusError) -> bool:
        """Whether to ask again after this error (within the deadline)."""
        return err.transient


@dataclass
class _Poll:
    pass


@dataclass
class _Sleep:
    seconds: float


def deadline_after(seconds: float | None) -> pendulum.DateTime | None:
    return None if seconds is None else pendulum.now("UTC").add(seconds=seconds)


def wait_steps(
    target: WaitTarget,
    *,
    poll_interval: float,
    deadline: pendulum.DateTime | None,
    logger: logging.Logger | Any = log,
    first_poll_after: float = 0.0,
) -> Generator[_Poll | _Sleep, Any, Any]:
    """The wait policy. Yields steps; is sent each poll's answer (or thrown its error).

    ``first_poll_after`` delays the first poll, for callers that have just asked: it comes after
    that delay plus a random part of one poll interval, so waits started together (many tasks
    deferring at once, or a triggerer restart) poll at evenly spread moments, not in lock-step.
    Without it the first poll comes at once, and the second after half to one and a half
    intervals: waits started together spread from then on.
    """
    started = pendulum.now("UTC")
    retries = 0
    last_error: MilvusError | None = None
    last_progress = ""
    spread = POLL_SPREAD if first_poll_after <= 0 else POLL_JITTER
    if first_poll_after > 0:
        delay = first_poll_after + random.uniform(0, poll_interval)
        if deadline is not None:
            delay = max(0.0, min(delay, (deadline - started).total_seconds()))
        yield _Sleep(delay)
    while True:
        try:
            answer = yield _Poll()
        except MilvusError as err:
            if not target.retryable(err):
                raise
            retries += 1
            last_error = err
            delay = random.uniform(0, min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** (retries - 1)))
            logger.warning(
                "Transient Milvus error while waiting for %s (retry %d): %s", target.description, retries, err
            )
        else:
            if retries:
                logger.info("Milvus answers again after %d retries", retries)
                retries = 0
            check = target.check(answer)
            if check.progress and check.progress != last_progress:
                logger.info("%s: %s", target.description, check.progress)
                last_progress = check.progress
            if check.outcome is Outcome.DONE:
                return check.result
            if check.outcome is Outcome.FAILED:
                raise MilvusWaitFailed(f"{target.description} failed: {check.message}", check.result)
            delay = poll_interval * random.uniform(1 - spread, 1 + spread)
            spread = POLL_JITTER
        if deadline is not None:
            now = pendulum.now("UTC")
            remaining = (deadline - now).total_seconds()
            if remaining <= 0:
                waited = (now - started).total_seconds()
                raise MilvusWaitTimeout(
                    f"Timed out waiting for {target.description}: deadline {deadline.isoformat()} passed "
                    f"(waited {waited:.0f}s here"
                    + (f", retried {retries} times, last error: {last_error}" if retries else "")
                    + (f", last state: {last_progress}" if last_progress else "")
                    + ")"
                )
            delay = min(delay, remaining)
        yield _Sleep(delay)


def wait_sync(
    hook: MilvusHook,
    target: WaitTarget,
    *,
    poll_interval: float,
    deadline: pendulum.DateTime | None,
    logger: logging.Logger | Any = log,
    first_poll_after: float = 0.0,
) -> Any:
    """Wait in this thread (a worker slot). Returns the target's final result."""
    steps = wait_steps(
        target, poll_interval=poll_interval, deadline=deadline, logger=logger, first_poll_after=first_poll_after
    )
    try:
        step = next(steps)
        while True:
            if isinstance(step, _Sleep):
                time.sleep(step.seconds)
                step = next(steps)
                continue
            try:
                answer = target.poll(hook)
            except MilvusError as err:
                step = steps.throw(err)
            else:
                step = steps.send(answer)
    except StopIteration as done:
        return done.value


async def wait_async(
    hook: MilvusHook,
    target: WaitTarget,
    *,
    poll_interval: float,
    deadline: pendulum.DateTime | None,
    logger: logging.Logger | Any = log,
    first_poll_after: float = 0.0,
) -> Any:
    """Wait on the running event loop (a trigger). Returns the target's final result."""
    steps = wait_steps(
        target, poll_interval=poll_interval, deadline=deadline, logger=logger, first_poll_after=first_poll_after
    )
    try:
        step = next(steps)
        while True:
            if isinstance(step, _Sleep):
                await asyncio.sleep(step.seconds)
                step = next(steps)
                continue
            try:
                answer = await target.apoll(hook)
            except MilvusError as err:
                step = steps.throw(err)
            else:
                step = steps.send(answer)
    except StopIteration as done:
        return done.value


# --- What the provider waits for. ------------------------------------------------------


class FlushStateTarget(WaitTarget):
    """Segments of one or more collections, persisted as of their flush timestamps.

    ``collections`` is a list of ``{"collection_name", "segment_ids", "flush_ts"}`` (see
    :func:`~airflow_provider_milvus.validation.validate_flush_target`). Every entry is asked about,
    also one whose flush sealed no segment: Milvus still has to see its channel checkpoints pass
    ``flush_ts`` (deletes, for one, are persisted only then). Entries found flushed are not asked
    about again.
    """

    def __init__(
        self,
        collections: list[FlushTarget] | list[dict[str, Any]],
        db_name: str | None = None,
        rpc_timeout: float | None = None,
        where: str | None = None,
    ) -> None:
        self.collections = [
            validate_flush_target(
                c.get("segment_ids"),
                c.get("collection_name"),
                c.get("flush_ts"),
                f"entry {c!r}" if where is None else where,
            )
            for c in collections
        ]
        self.db_name = validate_db_name(db_name, "db_name")
        self.rpc_timeout = rpc_timeout
        self._pending = list(self.collections)

    @classmethod
    def from_flush_result(cls, flush_result: FlushResult, rpc_timeout: float | None = None) -> FlushStateTarget:
        return cls(
            [
                {"collection_name": name, "segment_ids": info["segment_ids"], "flush_ts": info.get("flush_ts") or None}
                for name, info in flush_result["collections"].items()
            ],
            db_name=flush_result.get("db_name"),
            rpc_timeout=rpc_timeout,
        )

    @classmethod
    def from_inputs(
        cls,
        *,
        segment_ids: Any = None,
        collection_name: Any = None,
        flush_ts: Any = None,
        db_name: Any = None,
        flush_result: Any = None,
        rpc_timeout: float | None = None,
    ) -> FlushStateTarget:
        """From what a user gives the flush sensor, rendered (in a worker or in the triggerer): the
        flush operator's whole result, or ``segment_ids`` with ``collection_name`` and ``flush_ts``."""
        if flush_result is not None:
            result = parse_rendered_literal(flush_result)
            if (
                not isinstance(result, dict)
                or not isinstance(result.get("collections"), dict)
                or not result["collections"]
            ):
                raise MilvusConfigError(f"flush_result must be the flush operator's result, got {flush_result!r}")
            for name, info in result["collections"].items():
                validate_name(name, "flush_result: a collection name")
                if not isinstance(info, dict) or "segment_ids" not in info:
                    raise MilvusConfigError(
                        f"flush_result: collection {name!r} must map to a flush's report (with segment_ids), "
                        f"got {info!r}"
                    )
            validate_db_name(result.get("db_name"), "flush_result: db_name")
            target = cls.from_flush_result(result, rpc_timeout=rpc_timeout)  # type: ignore[arg-type]
            if db_name:
                target.db_name = validate_db_name(db_name, "db_name")
            return target
        entry = {
            "segment_ids": parse_rendered_literal(segment_ids),
            "collection_name": collection_name,
            "flush_ts": parse_rendered_literal(flush_ts),
        }
        return cls([entry], db_name=validate_db_name(db_name, "db_name"), rpc_timeout=rpc_timeout, where="")

    @property
    def description(self) -> str:
        names = [c.get("collection_name") for c in self.collections]
        if names == [None]:
            return f"flush of segments {self.collections[0]['segment_ids']}"
        return "flush of " + ", ".join(repr(n) for n in names)

    def _ask(self, collection: FlushTarget) -> dict[str, Any]:
        return {**collection, "db_name": self.db_name, "timeout": self.rpc_timeout}

    def poll(self, hook: MilvusHook) -> list[bool]:
        return [hook.get_flush_state(**self._ask(c)) for c in self._pending]

    async def apoll(self, hook: MilvusHook) -> list[bool]:
        if len(self._pending) == 1:  # the common case: no task and gather per poll
            return [await hook.aget_flush_state(**self._ask(self._pending[0]))]
        return list(await asyncio.gather(*(hook.aget_flush_state(**self._ask(c)) for c in self._pending)))

    def check(self, answer: list[bool]) -> Check:
        self._pending = [c for c, flushed in zip(self._pending, answer, strict=True) if not flushed]
        if not self._pending:
            return Check(Outcome.DONE, result=True)
        waiting = ", ".join(repr(c.get("collection_name") or c["segment_ids"]) for c in self._pending)
        return Check(Outcome.WAITING, progress=f"waiting for {waiting}")


class ImportStateTarget(WaitTarget):
    """One import task, until ImportCompleted (done) or ImportFailed/ImportFailedAndCleaned."""

    def __init__(self, import_task_id: int, rpc_timeout: float | None = None):
        self.import_task_id = import_task_id
        self.rpc_timeout = rpc_timeout

    @property
    def description(self) -> str:
        return f"import task {self.import_task_id}"

    def poll(self, hook: MilvusHook) -> ImportState:
        return hook.get_import_state(self.import_task_id, timeout=self.rpc_timeout)

    async def apoll(self, hook: MilvusHook) -> ImportState:
        return await hook.aget_import_state(self.import_task_id, timeout=self.rpc_timeout)

    def check(self, state: ImportState) -> Check:
        progress = f"{state['state']}, {state['row_count']} rows"
        if state.get("progress") is not None:
            progress += f", {state['progress']}%"
        if state["state"] == IMPORT_COMPLETED:
            return Check(Outcome.DONE, result=state, progress=progress)
        if state["state"] in IMPORT_FAILED_STATES:
            return Check(
                Outcome.FAILED,
                result=state,
                progress=progress,
                message=f"{state['state']}: {state.get('failed_reason') or 'Milvus gave no reason'}",
            )
        return Check(Outcome.WAITING, result=state, progress=progress)


class RestImportStateTarget(WaitTarget):
    """One import job over the REST API (Milvus 2.4+, Zilliz Cloud), until Completed (done) or
    Failed, read as :class:`ImportStateTarget` reads the gRPC states (the REST states mapped onto
    them, see :mod:`airflow_provider_milvus.hooks.milvus_rest`); its result is the job
    (:class:`~airflow_provider_milvus.types.RestImportJob`).

    :param job_id: The REST job ID (a string).
    :param until_uncommitted: A two-phase import (Milvus 3.0, ``auto_commit="false"``): done at
        Uncommitted too, every row written, for the caller to commit or abort. Without it an
        Uncommitted job is waited on (someone else commits it).
    :param transport: The REST transport to ask (a Zilliz Cloud target, say); by default the
        hook's, on the connection's host and port.
    """

    def __init__(
        self,
        job_id: str,
        db_name: str | None = None,
        rpc_timeout: float | None = None,
        until_uncommitted: bool = False,
        transport: MilvusRestTransport | None = None,
    ) -> None:
        self.job_id = validate_rest_job_id(job_id)
        self.db_name = db_name
        self.rpc_timeout = rpc_timeout
        self.until_uncommitted = until_uncommitted
        self.transport = transport

    @property
    def description(self) -> str:
        return f"import job {self.job_id}"

    def poll(self, hook: MilvusHook) -> RestImportJob:
        rest = self.transport or hook.rest
        return rest.describe_import(self.job_id, db_name=self.db_name, timeout=self.rpc_timeout)

    async def apoll(self, hook: MilvusHook) -> RestImportJob:
        rest = self.transport or await hook.arest()
        return await rest.adescribe_import(self.job_id, db_name=self.db_name, timeout=self.rpc_timeout)

    def check(self, job: RestImportJob) -> Check:
        progress = (
            f"{job['rest_state'] or 'no state'}, {job['imported_rows']}/{job['total_rows']} rows, {job['progress']}%"
        )
        uncommitted = job["rest_state"] == REST_UNCOMMITTED
        if job["state"] == IMPORT_COMPLETED or (uncommitted and self.until_uncommitted):
            return Check(Outcome.DONE, result=job, progress=progress)
        if job["state"] in IMPORT_FAILED_STATES:
            reasons = (
                [job["reason"]]
                if job["reason"]
                else [f"{f['file_name']}: {f['reason']}" for f in job["details"] if f["reason"]]
            )
            return Check(
                Outcome.FAILED,
                result=job,
                progress=progress,
                message=f"{job['rest_state'] or job['state']}: {'; '.join(reasons) or 'Milvus gave no reason'}",
            )
        if uncommitted:
            progress += ", waiting for a commit"
        return Check(Outcome.WAITING, result=job, progress=progress)


def index_built(index: IndexState) -> bool:
    """Built for every row there is: ``state`` alone can read Finished while rows are still
    unindexed (milvus#40580, pymilvus#3049), so the row counts decide."""
    return (
        index["state"] == INDEX_FINISHED
        and index["indexed_rows"] >= index["total_rows"]
        and index["pending_index_rows"] == 0
    )


class IndexStateTarget(WaitTarget):
    """The named indexes of a collection (every index by default, or those of one field), until
    each is built for all its rows; fails when Milvus reports a build failed."""

    def __init__(
        self,
        collection_name: str,
        index_names: list[str] | None = None,
        field_name: str | None = None,
        db_name: str | None = None,
        rpc_timeout: float | None = None,
    ) -> None:
        self.collection_name = collection_name
        self.index_names = index_names or []
        self.field_name = field_name
        self.db_name = db_name
        self.rpc_timeout = rpc_timeout

    @classmethod
    def from_inputs(
        cls,
        *,
        collection_name: Any,
        index_name: Any = None,
        field_name: Any = None,
        db_name: Any = None,
        rpc_timeout: float | None = None,
    ) -> IndexStateTarget:
        """From what a user gives the index sensor, rendered (in a worker or in the triggerer)."""
        collection = validate_name(collection_name, "collection_name")
        names = parse_rendered_literal(index_name)
        index_names = validate_collection_names(names, "index_name") if names not in (None, "", []) else []
        field = validate_name(field_name, "field_name") if field_name not in (None, "") else None
        db = validate_db_name(db_name, "db_name")
        return cls(collection, index_names, field, db_name=db, rpc_timeout=rpc_timeout)

    @property
    def description(self) -> str:
        if self.index_names:
            which = "index " + ", ".join(repr(n) for n in self.index_names)
        else:
            which = f"indexes of field {self.field_name!r}" if self.field_name else "indexes"
        return f"{which} of collection {self.collection_name!r}"

    def _ask(self) -> list[dict[str, Any]]:
        common = {"field_name": self.field_name, "db_name": self.db_name, "timeout": self.rpc_timeout}
        return [{"index_name": name, **common} for name in self.index_names] or [{"index_name": None, **common}]

    def poll(self, hook: MilvusHook) -> list[IndexState]:
        return [index for ask in self._ask() for index in hook.describe_index(self.collection_name, **ask)]

    async def apoll(self, hook: MilvusHook) -> list[IndexState]:
        answers = await asyncio.gather(*(hook.adescribe_index(self.collection_name, **ask) for ask in self._ask()))
        return [index for answer in answers for index in answer]

    def check(self, indexes: list[IndexState]) -> Check:
        # Milvus's proxy does not pass field_name on (internal/proxy/task_index.go): it answers
        # every index of the collection, so those of other fields are left out here.
        if self.field_name:
            indexes = [i for i in indexes if i["field_name"] == self.field_name]
        # Milvus answers an unknown index name with an error (code 700); an answer without it is odd, not "done".
        missing = [name for name in self.index_names if name not in {i["index_name"] for i in indexes}]
        if missing or not indexes:
            which = ", ".join(missing) or (f"none of field {self.field_name!r}" if self.field_name else "none")
            return Check(Outcome.FAILED, result=indexes, message=f"no such index: {which}")
        if self.index_names:
            indexes = [i for i in indexes if i["index_name"] in self.index_names]
        progress = ", ".join(
            f"{i['index_name']}: {i['state']}, {i['indexed_rows']}/{i['total_rows']} rows"
            + (f", {i['pending_index_rows']} pending" if i["pending_index_rows"] else "")
            for i in indexes
        )
        failed = [i for i in indexes if i["state"] == INDEX_FAILED]
        if failed:
            reasons = "; ".join(f"{i['index_name']}: {i['fail_reason'] or 'Milvus gave no reason'}" for i in failed)
            return Check(Outcome.FAILED, result=indexes, progress=progress, message=reasons)
        if all(index_built(i) for i in indexes):
            return Check(Outcome.DONE, result=indexes, progress=progress)
        return Check(Outcome.WAITING, result=indexes, progress=progress)


class LoadTarget(WaitTarget):
    """A collection (or some of its partitions) being loaded for search, or refreshed, until Milvus
    reports it done (GetLoadingProgress: ``progress``, and ``refresh_progress`` for a refresh)."""

    def __init__(
        self,
        collection_name: str,
        partition_names: list[str] | None = None,
        refresh: bool = False,
        db_name: str | None = None,
        rpc_timeout: float | None = None,
    ) -> None:
        self.collection_name = collection_name
        self.partition_names = partition_names or []
        self.refresh = refresh
        self.db_name = db_name
        self.rpc_timeout = rpc_timeout

    @property
    def description(self) -> str:
        what = "refresh" if self.refresh else "load"
        where = f" of partitions {self.partition_names}" if self.partition_names else ""
        return f"{what}{where} of collection {self.collection_name!r}"

    def _ask(self) -> dict[str, Any]:
        return {"partition_names": self.partition_names, "db_name": self.db_name, "timeout": self.rpc_timeout}

    def poll(self, hook: MilvusHook) -> LoadProgress:
        return hook.get_loading_progress(self.collection_name, **self._ask())

    async def apoll(self, hook: MilvusHook) -> LoadProgress:
        return await hook.aget_loading_progress(self.collection_name, **self._ask())

    def check(self, progress: LoadProgress) -> Check:
        text = f"loaded {progress['progress']}%" + (
            f", refreshed {progress['refresh_progress']}%" if self.refresh else ""
        )
        done = progress["progress"] >= 100 and (not self.refresh or progress["refresh_progress"] >= 100)
        return Check(Outcome.DONE if done else Outcome.WAITING, result=progress, progress=text)


class RequestTarget(WaitTarget):
    """One request that starts something (a Flush, an Import), sent again while Milvus turns it
    away as transient (rate limited, not ready, unreachable), within the caller's deadline.

    :param request: Sends the request and returns Milvus's answer.
    :param idempotent: Whether sending it twice is harmless. If not, an error after which the
        request may have taken effect (``outcome_unknown``) is raised, never retried.
    """

    def __init__(self, description: str, request: Callable[[], Any], *, idempotent: bool) -> None:
        self._description = description
        self.request = request
        self.idempotent = idempotent

    @property
    def description(self) -> str:
        return self._description

    def poll(self, hook: MilvusHook) -> Any:
        return self.request()

    def check(self, answer: Any) -> Check:
        return Check(Outcome.DONE, result=answer)

    def retryable(self, err: MilvusError) -> bool:
        return err.transient and (self.idempotent or not err.outcome_unknown)


def poll_once(hook: MilvusHook, target: WaitTarget, *, logger: logging.Logger | Any = log) -> tuple[bool, Any]:
    """Ask Milvus once, under the same policy: ``(True, result)`` if done, ``(False, None)`` if not
    yet (a transient error included). Raises :class:`MilvusWaitFailed` if it failed."""
    try:
        # The wait with a deadline of now: one poll, then "timed out" means "not done yet".
        return True, wait_sync(hook, target, poll_interval=1.0, deadline=pendulum.now("UTC"), logger=logger)
    except MilvusWaitTimeout:
        return False, None
