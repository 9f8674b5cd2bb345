"""The REST transport's pieces, without a server: the one error classification both transports
share, the request bodies checked before any request, the job states mapped onto the sensors'.

The transport against a server answering as Milvus and Zilliz Cloud do is in
tests/milvus_versions/test_rest_transport.py.
"""

from __future__ import annotations

import json

import grpc
import httpx
import pytest

from airflow_provider_milvus.exceptions import MilvusAuthenticationError, MilvusConfigError, MilvusError
from airflow_provider_milvus.hooks.milvus_base import Failure, error_from_grpc, error_from_status, transport_error
from airflow_provider_milvus.hooks.milvus_rest import (
    REST_STATES,
    RestTarget,
    choose_import_api,
    create_body,
    error_from_exception,
    job_from_rest,
    read_answer,
    sensor_state,
    zilliz_cloud_cluster,
)
from airflow_provider_milvus.types import IMPORT_FAILED, IMPORT_PERSISTED, IMPORT_RUNNING_STATES
from airflow_provider_milvus.utils.connection import MilvusConnectionSettings

SELF_HOSTED = RestTarget("http://127.0.0.1:19530", secret="root:Milvus")
CLOUD = RestTarget.zilliz_cloud("api-key-value", "in01-0123456789abcdef")


def answer(status: int, body: object = None, text: str | None = None) -> httpx.Response:
    if text is not None:
        return httpx.Response(status, text=text)
    return httpx.Response(status, json=body)


# --- One classification ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "transient", "outcome_unknown", "error_cls"),
    [
        (Failure.AUTH, False, False, MilvusAuthenticationError),
        (Failure.TLS, False, False, MilvusError),
        (Failure.NOT_SENT, True, False, MilvusError),
        (Failure.CONNECTION_LOST, True, True, MilvusError),
        (Failure.TIMED_OUT, True, True, MilvusError),
        (Failure.OVERLOADED, True, False, MilvusError),
        (Failure.OTHER, False, False, MilvusError),
    ],
)
def test_transport_failures_are_classified_once(failure, transient, outcome_unknown, error_cls):
    err = transport_error("import/create", "X", failure, "details", "h:1")
    assert type(err) is error_cls
    assert (err.transient, err.outcome_unknown) == (transient, outcome_unknown)
    assert "h:1" in err.reason


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


SETTINGS = MilvusConnectionSettings(conn_id="c", address="h:19530", secure=False)


@pytest.mark.parametrize(
    ("code", "details", "transient", "outcome_unknown", "fragment"),
    [
        (grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses", True, False, "cannot reach Milvus"),
        (grpc.StatusCode.UNAVAILABLE, "Socket closed", True, True, "cannot reach Milvus at h:19530"),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", True, True, "Deadline Exceeded (h:19530)"),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "too many", True, False, "too many (h:19530)"),
        (grpc.StatusCode.UNIMPLEMENTED, "", False, False, "UNIMPLEMENTED (h:19530)"),
        (grpc.StatusCode.UNAVAILABLE, "ssl handshake failed", False, False, "TLS handshake with h:19530 failed"),
    ],
)
def test_grpc_failures_keep_their_classification(code, details, transient, outcome_unknown, fragment):
    err = error_from_grpc("Flush", FakeRpcError(code, details), SETTINGS)
    assert (err.transient, err.outcome_unknown, err.code) == (transient, outcome_unknown, code.name)
    assert fragment in err.reason


def test_unauthenticated_grpc_call_is_the_authentication_error():
    err = error_from_grpc("Flush", FakeRpcError(grpc.StatusCode.UNAUTHENTICATED, "bad"), SETTINGS)
    assert isinstance(err, MilvusAuthenticationError)


@pytest.mark.parametrize(
    ("code", "reason", "transient"),
    [
        # merr.ErrHTTPRateLimit, the REST layer's limiter (retriable).
        (1807, "request is rejected by limiter", True),
        # The data coordinator's cap on running imports: refused before any job is created.
        (
            2100,
            "The number of jobs has reached the limit, please try again later. If your request is set to only "
            "import a single file, please consider importing multiple files in one request for better "
            "efficiency.: importing data failed",
            True,
        ),
        (2100, "import job does not exist, jobID=7: importing data failed", False),
    ],
)
def test_rest_codes_in_the_shared_status_mapping(code, reason, transient):
    assert error_from_status("import/describe", code, reason).transient is transient


# --- HTTP answers ---------------------------------------------------------------------------------


def test_success_answers_the_data():
    assert read_answer("import/create", answer(200, {"code": 0, "data": {"jobId": "1"}}), "h:1") == {"jobId": "1"}
    # Zilliz Cloud's reference shows success as code 200 too.
    assert read_answer("import/create", answer(200, {"code": 200, "data": {"jobID": "2"}}), "h:1") == {"jobID": "2"}
    assert read_answer("import/commit", answer(200, {"code": 0}), "h:1") == {}


def test_milvus_error_inside_http_200_keeps_code_and_message():
    with pytest.raises(MilvusError) as err:
        read_answer("import/describe", answer(200, {"code": 2100, "message": "no such job"}), "h:1")
    assert (err.value.code, err.value.reason, err.value.transient) == (2100, "no such job", False)


def test_authentication_codes_and_statuses_are_the_authentication_error():
    body = {"code": 1800, "message": "user hasn't authenticated"}
    with pytest.raises(MilvusAuthenticationError) as err:
        read_answer("import/list", answer(401, body), "h:1")
    assert err.value.code == 1800
    with pytest.raises(MilvusAuthenticationError):
        read_answer("import/list", answer(403, {"code": 65535, "message": "denied"}), "h:1")
    with pytest.raises(MilvusAuthenticationError):
        read_answer("import/list", answer(401, text="<html>Unauthorized</html>"), "h:1")


@pytest.mark.parametrize(
    ("status", "body", "transient", "outcome_unknown"),
    [
        (429, None, True, False),
        (429, {"code": 1100, "message": "slow down"}, True, False),
        (503, None, True, False),
        (502, None, True, True),
        (500, None, True, True),
        (404, None, False, False),
        (400, None, False, False),
    ],
)
def test_http_statuses_without_success(status, body, transient, outcome_unknown):
    response = answer(status, body) if body else answer(status, text="gateway page")
    with pytest.raises(MilvusError) as err:
        read_answer("import/create", response, "h:1")
    assert (err.value.transient, err.value.outcome_unknown) == (transient, outcome_unknown)


@pytest.mark.parametrize(
    ("exc", "transient", "outcome_unknown"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), True, False),
        (httpx.ConnectTimeout("timed out"), True, False),
        (httpx.PoolTimeout("no connection free"), True, False),
        (httpx.ReadTimeout("timed out"), True, True),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), True, True),
        (httpx.ReadError("reset"), True, True),
        (httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"), False, False),
        (httpx.UnsupportedProtocol("Request URL has an unsupported protocol"), False, False),
    ],
)
def test_calls_without_an_answer(exc, transient, outcome_unknown):
    err = error_from_exception("import/create", exc, "h:1")
    assert (err.transient, err.outcome_unknown) == (transient, outcome_unknown)


# --- Bodies, checked before any request ---------------------------------------------------------


def test_self_hosted_body_groups_files_and_allows_two_phase():
    body = create_body(SELF_HOSTED, "docs", ["imports/a.parquet"], db_name="db1", options={"auto_commit": False})
    assert body == {
        "collectionName": "docs",
        "dbName": "db1",
        "options": {"auto_commit": "false"},
        "files": [["imports/a.parquet"]],
    }
    groups = create_body(SELF_HOSTED, "docs", [["a.parquet"], ["b/id.npy", "b/vec.npy"]])["files"]
    assert groups == [["a.parquet"], ["b/id.npy", "b/vec.npy"]]


@pytest.mark.parametrize(
    ("target", "kwargs", "fragment"),
    [
        (SELF_HOSTED, {"object_urls": ["s3://b/a.parquet"]}, "for Zilliz Cloud"),
        (CLOUD, {"files": ["a.parquet"]}, "own bucket"),
        (CLOUD, {"data_paths": ["a.parquet"]}, "volume_name"),
        (SELF_HOSTED, {}, "exactly one of"),
        (SELF_HOSTED, {"files": ["a.parquet"], "object_urls": ["s3://b/a"]}, "exactly one of"),
        (SELF_HOSTED, {"files": ["a.json", "b.json"]}, "one data file"),
    ],
)
def test_bad_import_input_is_named_before_any_request(target, kwargs, fragment):
    with pytest.raises(MilvusConfigError, match=fragment):
        create_body(target, "docs", **kwargs)


def test_cloud_target_needs_its_cluster_id_and_keeps_secrets_out_of_repr():
    with pytest.raises(MilvusConfigError, match="cluster ID"):
        RestTarget.zilliz_cloud("key", "")
    assert "api-key-value" not in repr(CLOUD) and "Milvus" not in repr(SELF_HOSTED)
    body = create_body(CLOUD, "docs", object_urls=["s3://b/a.parquet"], access_key="AK", secret_key="SK")
    assert body["objectUrls"] == [["s3://b/a.parquet"]] and body["secretKey"] == "SK"


def test_target_from_settings_sends_the_bearer_credential_as_it_is():
    settings = MilvusConnectionSettings(conn_id="c", address="h:19530", secure=False, user="u", password="p")
    target = RestTarget.from_settings(settings)
    assert target.base_url == "http://h:19530" and target.headers("")["Authorization"] == "Bearer u:p"
    assert "u:p" in settings.secrets


# --- States ------------------------------------------------------------------------------------------


def test_every_rest_state_maps_onto_a_sensor_state():
    running = {name for name, state in REST_STATES.items() if state in IMPORT_RUNNING_STATES}
    assert {"Pending", "PreImporting", "Importing", "IndexBuilding", "Committing", "Uncommitted"} <= running
    assert sensor_state("Uncommitted") == IMPORT_PERSISTED
    assert sensor_state("None") == IMPORT_FAILED
    assert sensor_state("SomethingNew") in IMPORT_RUNNING_STATES


def test_describe_reader_keeps_what_the_answer_leaves_out_empty():
    job = job_from_rest({"state": "Importing", "progress": 55}, "42")
    assert job["job_id"] == "42" and job["imported_rows"] == 0 and job["details"] == [] and job["reason"] == ""


# --- Which API an import takes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "host", "api"),
    [
        ("v2.2.16", "milvus.internal:19530", "grpc"),
        ("v2.3.5", "127.0.0.1:19530", "grpc"),
        ("v2.4.0", "127.0.0.1:19530", "rest"),
        ("2.6.22", "milvus", "rest"),
        ("v3.0.0", "milvus", "rest"),
        ("master-20260611-35079b9", "milvus", "grpc"),  # unreadable: the Import every version serves
        ("", "in01-0123456789abcdef.aws-us-west-2.vectordb.zillizcloud.com:19530", "rest"),
        ("v2.3.5", "in03-abc.serverless.gcp-us-west1.vectordb.zillizcloud.com", "rest"),
    ],
)
def test_auto_picks_rest_for_zilliz_cloud_and_milvus_2_4_up(version, host, api):
    assert choose_import_api(version, host) == api


def test_a_zilliz_cloud_endpoint_names_its_cluster():
    host = "in01-0123456789abcdef.aws-us-west-2.vectordb.zillizcloud.com:19530"
    assert zilliz_cloud_cluster(host) == ("in01-0123456789abcdef", "https://api.cloud.zilliz.com")
    assert zilliz_cloud_cluster("in05-1.ali-cn-hangzhou.cloud.zilliz.com.cn") == (
        "in05-1",
        "https://api.cloud.zilliz.com.cn",
    )
    assert zilliz_cloud_cluster("vectordb.zillizcloud.com.evil.example") is None
    assert zilliz_cloud_cluster("127.0.0.1:19530") is None


def test_targets_differing_only_in_timeout_share_one_client():
    assert RestTarget("http://h:1", secret="s", timeout=1) == RestTarget("http://h:1", secret="s", timeout=9)
    assert RestTarget("http://h:1", secret="s") != RestTarget("http://h:1", secret="other")


def test_unreadable_tls_files_are_named(tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(MilvusConfigError, match="cannot use the TLS files for h:1"):
        RestTarget("https://h:1", ca_pem_path=str(bad)).ssl_context()


def _cloud_settings(host: str, **extra: str) -> MilvusConnectionSettings:
    from airflow.providers.common.compat.sdk import Connection

    conn = Connection(conn_id="cloud", conn_type="milvus", host=host, extra=json.dumps({"token": "key", **extra}))
    return MilvusConnectionSettings.from_connection(conn)


@pytest.mark.parametrize(
    ("host", "extra", "cluster_id", "base_url"),
    [
        # The cluster ID is a Zilliz Cloud host's first label; the import API is its region's.
        ("https://in01-abc.aws-us-west-2.vectordb.zillizcloud.com:19530", {}, "in01-abc", "https://api.cloud.zilliz.com"),
        ("in03-def.serverless.gcp-us-west1.cloud.zilliz.com.cn", {}, "in03-def", "https://api.cloud.zilliz.com.cn"),
        # Given in the extras: a private endpoint, or another API endpoint.
        ("10.0.0.5", {"cluster_id": "in01-xyz"}, "in01-xyz", "https://api.cloud.zilliz.com"),
        ("10.0.0.5", {"cluster_id": "in01-xyz", "cloud_api_endpoint": "http://127.0.0.1:8080/"}, "in01-xyz", "http://127.0.0.1:8080"),
        # A self-hosted Milvus: its own REST API, no cluster.
        ("10.0.0.5", {}, "", "http://10.0.0.5:19530"),
    ],
)  # fmt: skip
def test_the_rest_target_of_a_connection(host, extra, cluster_id, base_url):
    target = RestTarget.from_settings(_cloud_settings(host, **extra))
    assert (target.cluster_id, target.base_url) == (cluster_id, base_url)


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"cloud_api_endpoint": "https://api.cloud.zilliz.com"}, "no cluster ID: give cluster_id"),
        ({"cluster_id": "in01 x"}, "cluster_id must be"),
        ({"cluster_id": "in01-x", "cloud_api_endpoint": "api.cloud.zilliz.com"}, "cloud_api_endpoint must be a URL"),
        ({"cluster_id": "in01-x", "cloud_api_endpoint": "https://h/v2"}, "cloud_api_endpoint must be a URL"),
    ],
)
def test_cloud_fields_are_checked_and_named(extra, named):
    with pytest.raises(MilvusConfigError, match=named):
        RestTarget.from_settings(_cloud_settings("10.0.0.5", **extra))
