"""Errors the provider raises for Milvus RPCs.

Kept apart from the hook so the triggers module imports without pymilvus (see triggers/milvus.py).
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowException


class MilvusError(AirflowException):
    """A Milvus RPC failed. Carries Milvus's own code and reason (or the gRPC status)."""

    def __init__(self, rpc: str, code: int | str, reason: str, *, transient: bool = False) -> None:
        self.rpc = rpc
        self.code = code
        self.reason = reason
        self.transient = transient
        super().__init__(f"Milvus {rpc} failed (code {code}): {reason}")


class MilvusAuthenticationError(MilvusError):
    """Milvus refused the credentials of the connection."""
