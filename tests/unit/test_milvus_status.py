"""How a Milvus status in a reply becomes a MilvusError: code, reason and whether to retry."""

from __future__ import annotations

import pytest
from pymilvus.grpc_gen import common_pb2, milvus_pb2

from airflow_provider_milvus.exceptions import MilvusAuthenticationError, MilvusError
from airflow_provider_milvus.hooks.milvus_base import check_status


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
