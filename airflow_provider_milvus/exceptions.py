"""Every exception the provider raises that a user may catch.

Kept free of pymilvus so that the triggers module imports without it (see triggers/milvus.py).
"""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException


class MilvusConfigError(ValueError):
    """A Milvus connection field or argument is invalid; the message names it. Raised before any RPC."""


class MilvusError(AirflowException):
    """A Milvus RPC failed. Carries Milvus's own code and reason (or the gRPC status)."""

    def __init__(
        self, rpc: str, code: int | str, reason: str, *, transient: bool = False, outcome_unknown: bool = False
    ) -> None:
        self.rpc = rpc
        self.code = code
        self.reason = reason
        #: Worth retrying: Milvus is starting, overloaded, rate limiting, or unreachable.
        self.transient = transient
        #: The request may have reached Milvus and taken effect (e.g. a deadline passed while it
        #: ran): a request that is not idempotent, like Import, must not be sent again blindly.
        self.outcome_unknown = outcome_unknown
        super().__init__(f"Milvus {rpc} failed (code {code}): {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt with its fields (as Airflow ships exceptions between processes), not from the message.
        return _rebuild_milvus_error, (
            type(self),
            (self.rpc, self.code, self.reason),
            {"transient": self.transient, "outcome_unknown": self.outcome_unknown},
        )

    def with_context(self, context: str) -> MilvusError:
        """The same error with ``context`` before Milvus's reason, its code and flags kept."""
        return type(self)(
            self.rpc,
            self.code,
            f"{context}: {self.reason}",
            transient=self.transient,
            outcome_unknown=self.outcome_unknown,
        )


def _rebuild_milvus_error(
    cls: type[MilvusError], args: tuple[str, int | str, str], flags: dict[str, bool]
) -> MilvusError:
    rpc, code, reason = args
    return cls(rpc, code, reason, transient=flags["transient"], outcome_unknown=flags["outcome_unknown"])


class MilvusAuthenticationError(MilvusError):
    """Milvus refused the credentials of the connection."""


class MilvusSchemaConflictError(MilvusConfigError, AirflowFailException):
    """A collection exists with a schema other than the one the task gives.

    The message names each difference. Retrying cannot fix it, so the task fails without retries."""


class MilvusWaitFailed(AirflowFailException):
    """Milvus reported that what we wait for failed (e.g. an import ended in ImportFailed).

    Retrying the same wait cannot help, so the task fails without retries.
    """

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self), self.result)


class MilvusImportInterrupted(AirflowException):
    """Milvus failed an import because it restarted while the import ran, not because of its files.

    Milvus 2.2/2.3 mark every import still running when they start "failed as service restarted"
    (their segments are dropped). Not final: a retry of the bulk-insert task imports anew, as it
    does after any failed import. ``result`` is the final import state.
    """

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self), self.result)


class MilvusWaitTimeout(AirflowException):
    """The deadline passed before Milvus reported completion."""


class MilvusImportUnknownError(AirflowFailException):
    """A retried bulk insert cannot tell whether an earlier try's import reached Milvus.

    Raised instead of guessing: importing again could load the rows twice, and not importing could
    lose them. The message says what is unknown and how to proceed; the operator's
    ``on_unknown_import="import_anew"`` makes a retry import anew instead. Retrying cannot help.
    """

    def __init__(self, message: str, import_task_ids: list[int] | list[str] | None = None) -> None:
        super().__init__(message)
        # gRPC import task IDs (int), or REST job IDs (str).
        self.import_task_ids: list[int] | list[str] = import_task_ids[:] if import_task_ids else []

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self), self.import_task_ids)


class MilvusDuplicateImportError(AirflowFailException):
    """More than one import of one bulk-insert task's request exists in Milvus.

    Its rows may be loaded more than once. ``import_task_ids`` names them (REST job IDs are
    strings). Retrying cannot help."""

    def __init__(self, message: str, import_task_ids: list[int] | list[str]) -> None:
        super().__init__(message)
        self.import_task_ids: list[int] | list[str] = import_task_ids[:]

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self), self.import_task_ids)


class MilvusCheckFailed(AirflowException):
    """A collection check found what the task did not expect (a row count, an empty search).

    Not final: rows Milvus has not yet made searchable can appear on a retry.
    """
