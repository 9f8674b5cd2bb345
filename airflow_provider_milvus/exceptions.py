"""Errors the provider raises for Milvus RPCs.

Kept apart from the hook so the triggers module imports without pymilvus (see triggers/milvus.py).
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowException


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


class MilvusAuthenticationError(MilvusError):
    """Milvus refused the credentials of the connection."""
