"""How a Milvus status in a reply becomes a MilvusError: code, reason and whether to retry."""

from __future__ import annotations

import grpc
import pytest
from pymilvus.grpc_gen import common_pb2, milvus_pb2

from airflow_provider_milvus.exceptions import MilvusAuthenticationError, MilvusError
from airflow_provider_milvus.hooks.milvus_base import MilvusBaseHook, check_status
from tests.unit.test_rest_transport_units import FakeRpcError


def reply(code: int = 0, reason: str = "", error_code: int = 0) -> milvus_pb2.GetFlushStateResponse:
    return milvus_pb2.GetFlushStateResponse(status=common_pb2.Status(code=code, reason=reason, error_code=error_code))


def test_success_passes_the_reply_through():
    response = reply()
    assert check_status("GetFlushState", response) is response


@pytest.mark.parametrize(
    ("code", "reason", "transient"),
    [
        (100, "collection not found[collection=c]", False),
        (1100, "invalid parameter", False),
        (2, "service unavailable", True),
        (8, "rate limit exceeded", True),
        # A proxy whose data coordinator is restarting.
        (
            65535,
            "empty grpc client: find no available datacoord, check datacoord state, reason: connection error: "
            'desc = "transport: error while dialing: dial tcp 127.0.0.1:13333: connect: connection refused"',
            True,
        ),
        # A data coordinator that still names the data node of before a restart (Milvus 2.3.5).
        (
            65535,
            "attempt #0: session not found->datanode-4: node not found[node=4]: unrecoverable error",
            True,
        ),
        (65535, "unexpected error", False),
    ],
)
def test_milvus_code_and_reason_are_kept_and_classified(code, reason, transient):
    with pytest.raises(MilvusError) as err:
        check_status("GetFlushState", reply(code, reason))
    assert err.value.code == code
    assert reason in str(err.value)
    assert err.value.transient is transient


def test_legacy_error_code_without_reason_is_named():
    with pytest.raises(MilvusError, match="UnexpectedError"):
        check_status("Flush", reply(error_code=common_pb2.ErrorCode.UnexpectedError))


def test_authentication_codes_raise_the_authentication_error():
    with pytest.raises(MilvusAuthenticationError):
        check_status("Flush", reply(1800, "user hasn't authenticated"))


def _raise(err: BaseException, cause: BaseException | None = None):
    def call():
        raise err from cause

    return call


@pytest.fixture
def hook(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_DEFAULT", "milvus://127.0.0.1:19530")
    return MilvusBaseHook()


def test_client_call_classifies_what_pymilvus_raises(hook):
    """pymilvus raises raw gRPC errors for some codes, wraps others once its retries run out (the
    gRPC error as the cause, its StatusCode as the code), and raises its own subclasses for a request
    it refuses before sending: each is classified as a stub call's would be."""
    from pymilvus.exceptions import MilvusException, ParamError

    with pytest.raises(MilvusAuthenticationError):
        hook._client_call("Query", _raise(FakeRpcError(grpc.StatusCode.UNAUTHENTICATED, "bad token")))
    lost = FakeRpcError(grpc.StatusCode.UNAVAILABLE, "Socket closed")
    with pytest.raises(MilvusError) as ran_out:
        hook._client_call("Insert", _raise(MilvusException(grpc.StatusCode.UNAVAILABLE, "Retry timeout: 5s"), lost))
    assert ran_out.value.code == "UNAVAILABLE" and ran_out.value.transient and ran_out.value.outcome_unknown
    with pytest.raises(MilvusError) as refused:
        hook._client_call("Insert", _raise(ParamError(message="wrong type of field id")))
    assert not refused.value.transient and "wrong type of field id" in refused.value.reason
    with pytest.raises(MilvusError) as answered:
        hook._client_call("Insert", _raise(MilvusException(8, "rate limit exceeded")))
    assert answered.value.code == 8 and answered.value.transient
