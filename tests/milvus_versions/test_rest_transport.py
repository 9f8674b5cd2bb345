"""The REST transport against a server answering as Milvus 2.5, 2.6 and 3.0 and Zilliz Cloud do
(see rest_server.py for the source of each answer): blocking and on the event loop."""

from __future__ import annotations

import asyncio
import time

import pendulum
import pytest

from airflow_provider_milvus import wait
from airflow_provider_milvus.exceptions import MilvusAuthenticationError, MilvusError, MilvusWaitTimeout
from airflow_provider_milvus.hooks.milvus import MilvusHook
from airflow_provider_milvus.hooks.milvus_rest import MilvusRestTransport, RestTarget, async_clients
from airflow_provider_milvus.types import (
    IMPORT_COMPLETED,
    IMPORT_FAILED,
    IMPORT_PENDING,
    IMPORT_PERSISTED,
    IMPORT_STARTED,
)
from airflow_provider_milvus.wait import RequestTarget, wait_sync

from .rest_server import MilvusRest, RestServer, failed, two_phase

SELF_HOSTED = ("2.5", "2.6", "3.0")
BEARER = "root:Milvus"
API_KEY = "zc-api-key-0123456789"
CLUSTER = "in01-0123456789abcdef"
FILE = "imports/part-0.parquet"


def transport_for(server: RestServer, **target: object) -> MilvusRestTransport:
    if server.milvus.version == "zilliz":
        defaults: dict[str, object] = {"secret": API_KEY, "cluster_id": CLUSTER}
    else:
        defaults = {"secret": BEARER}
    return MilvusRestTransport(RestTarget(server.url, **{**defaults, **target}))  # type: ignore[arg-type]


def start(rest: MilvusRestTransport, collection: str = "docs", **kwargs: object) -> str:
    if rest.target.cluster_id:
        return rest.create_import(collection, object_urls=["s3://bucket/imports/part-0.parquet"], **kwargs)
    return rest.create_import(collection, [FILE], **kwargs)


@pytest.fixture(params=[*SELF_HOSTED, "zilliz"])
def served(request):
    milvus = MilvusRest(version=request.param, bearer=API_KEY if request.param == "zilliz" else BEARER)
    with RestServer(milvus) as server:
        rest = transport_for(server)
        yield milvus, rest
        rest.close()


@pytest.fixture(params=SELF_HOSTED)
def self_hosted(request):
    with RestServer(MilvusRest(version=request.param, bearer=BEARER)) as server:
        rest = transport_for(server)
        yield server.milvus, rest
        rest.close()


@pytest.fixture
def milvus30():
    with RestServer(MilvusRest(version="3.0", bearer=BEARER, next_import=two_phase(1000))) as server:
        rest = transport_for(server)
        yield server.milvus, rest
        rest.close()


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setattr(wait, "RETRY_BASE_SECONDS", 0.01)


# --- create, describe, list ------------------------------------------------------------------------


def test_create_answers_the_job_id_as_a_string(served):
    milvus, rest = served
    job_id = start(rest, db_name="db1" if milvus.version != "zilliz" else None)
    assert isinstance(job_id, str) and job_id in milvus.jobs
    (sent,) = milvus.sent("create")
    if milvus.version == "zilliz":
        assert sent.headers["authorization"] == f"Bearer {API_KEY}"
        assert sent.body["clusterId"] == CLUSTER and sent.body["objectUrls"] == [["s3://bucket/imports/part-0.parquet"]]
    else:
        assert sent.headers["authorization"] == f"Bearer {BEARER}" and sent.headers["db-name"] == "db1"
        assert sent.body == {"collectionName": "docs", "dbName": "db1", "files": [[FILE]]}


def test_describe_follows_the_job_to_completed(served):
    milvus, rest = served
    job_id = start(rest)
    states = [rest.describe_import(job_id) for _ in range(5)]
    assert [s["state"] for s in states] == [
        IMPORT_PENDING,
        IMPORT_STARTED,
        IMPORT_STARTED,
        IMPORT_STARTED,
        IMPORT_COMPLETED,
    ]
    assert [s["rest_state"] for s in states] == ["Pending", "Importing", "Importing", "Importing", "Completed"]
    importing, done = states[2], states[4]
    assert importing["progress"] == 55 and done["progress"] == 100
    assert done["job_id"] == job_id and done["collection_name"] == "docs"
    (file,) = done["details"]
    if milvus.version == "zilliz":
        # Zilliz Cloud documents no imported rows, and only the total of the job.
        assert done["total_rows"] == 1000 and file["file_name"] == "medium_articles_2020_dpr.json"
        assert file["state"] == "Completed"
    else:
        assert (importing["imported_rows"], importing["total_rows"]) == (500, 1000)
        assert (done["imported_rows"], done["total_rows"]) == (1000, 1000)
        assert file["file_name"] == f"[{FILE}]" and file["state"] == "Completed"
        assert (file["imported_rows"], file["total_rows"], file["progress"]) == (1000, 1000, 100)
        assert done["file_size"] == file["file_size"] > 0


def test_a_failed_job_carries_milvus_reason(served):
    milvus, rest = served
    milvus.next_import = failed("failed to parse parquet file: field 'vector' dim mismatch")
    job_id = start(rest)
    rest.describe_import(job_id)
    job = rest.describe_import(job_id)
    assert job["state"] == IMPORT_FAILED and "dim mismatch" in job["reason"]
    assert job["rest_state"] == "Failed"


def test_list_carries_the_job_ids(served):
    _, rest = served
    first, second = start(rest, "docs"), start(rest, "docs")
    other = start(rest, "other")
    listed = rest.list_imports()
    assert {j["job_id"] for j in listed} == {first, second, other}
    assert {j["job_id"] for j in rest.list_imports("docs")} == {first, second}
    assert all(j["state"] == IMPORT_PENDING for j in listed)


async def test_a_server_without_describe_is_asked_get_progress(self_hosted):
    milvus, rest = self_hosted
    milvus.missing_routes = {"describe"}
    job_id = start(rest)
    assert rest.describe_import(job_id)["state"] == IMPORT_PENDING
    assert rest.describe_import(job_id)["state"] == IMPORT_STARTED
    assert (await rest.adescribe_import(job_id))["state"] == IMPORT_STARTED
    assert len(milvus.sent("describe")) == 1 and len(milvus.sent("get_progress")) == 3


def test_unknown_job_is_milvus_named_error(self_hosted):
    milvus, rest = self_hosted
    with pytest.raises(MilvusError) as err:
        rest.describe_import("999")
    assert err.value.code == (2101 if milvus.version == "3.0" else 2100)
    assert "import job does not exist, jobID=999" in err.value.reason and not err.value.transient


# --- Two-phase import (Milvus 3.0) --------------------------------------------------------------


def describe_until(rest: MilvusRestTransport, job_id: str, rest_state: str, polls: int = 10) -> dict:
    for _ in range(polls):
        job = rest.describe_import(job_id)
        if job["rest_state"] == rest_state:
            return job
    raise AssertionError(f"job {job_id} never read {rest_state}")


def test_commit_makes_an_uncommitted_job_complete(milvus30):
    milvus, rest = milvus30
    job_id = start(rest, options={"auto_commit": False})
    assert milvus.sent("create")[0].body["options"] == {"auto_commit": "false"}
    uncommitted = describe_until(rest, job_id, "Uncommitted")
    assert uncommitted["state"] == IMPORT_PERSISTED and uncommitted["progress"] == 99
    assert uncommitted["imported_rows"] == uncommitted["total_rows"] == 1000
    rest.commit_import(job_id)
    assert rest.describe_import(job_id)["rest_state"] == "Committing"
    assert rest.describe_import(job_id)["state"] == IMPORT_COMPLETED
    assert milvus.sent("commit")[0].body == {"jobId": job_id}


def test_an_auto_commit_job_never_reads_uncommitted(milvus30):
    _, rest = milvus30
    job_id = start(rest)
    assert {rest.describe_import(job_id)["rest_state"] for _ in range(4)} == {"Pending", "Importing"}


def test_abort_fails_the_job_and_a_repeated_abort_is_a_no_op(milvus30):
    _, rest = milvus30
    job_id = start(rest, options={"auto_commit": "false"})
    describe_until(rest, job_id, "Uncommitted")
    rest.abort_import(job_id)
    rest.abort_import(job_id)
    assert rest.describe_import(job_id)["state"] == IMPORT_FAILED


def test_aborting_a_completed_job_is_refused(milvus30):
    _, rest = milvus30
    job_id = start(rest, options={"auto_commit": "false"})
    describe_until(rest, job_id, "Uncommitted")
    rest.commit_import(job_id)
    describe_until(rest, job_id, "Completed")
    with pytest.raises(MilvusError, match="terminal/committed state Completed, abort not allowed") as err:
        rest.abort_import(job_id)
    assert err.value.code == 2100 and not err.value.transient


def test_an_uncommitted_job_whose_commit_fails_stays_uncommitted_and_can_be_aborted(milvus30):
    milvus, rest = milvus30
    job_id = start(rest, options={"auto_commit": "false"})
    describe_until(rest, job_id, "Uncommitted")
    milvus.refuse_commit = True
    with pytest.raises(MilvusError) as err:
        rest.commit_import(job_id)
    assert err.value.code == 2101 and not err.value.transient
    assert rest.describe_import(job_id)["rest_state"] == "Uncommitted"
    rest.abort_import(job_id)
    assert rest.describe_import(job_id)["state"] == IMPORT_FAILED


@pytest.mark.parametrize("version", ["2.5", "2.6"])
def test_commit_before_milvus_3_is_named(version):
    with RestServer(MilvusRest(version=version, bearer=BEARER)) as server:
        rest = transport_for(server)
        job_id = start(rest)
        with pytest.raises(MilvusError, match=r"commit and abort 3\.0") as err:
            rest.commit_import(job_id)
        assert err.value.code == 404 and not err.value.transient
        rest.close()


# --- Errors ------------------------------------------------------------------------------------------


def test_wrong_credentials_are_the_authentication_error_without_the_secret(served):
    milvus, rest = served
    wrong = MilvusRestTransport(
        RestTarget(rest.target.base_url, secret="root:wrong-pass", cluster_id=rest.target.cluster_id)
    )
    with pytest.raises(MilvusAuthenticationError) as err:
        wrong.list_imports()
    assert err.value.code == (21119 if milvus.version == "zilliz" else 1800)
    assert "wrong-pass" not in str(err.value) and "wrong-pass" not in repr(wrong)
    wrong.close()


def test_cloud_storage_keys_stay_out_of_errors():
    milvus = MilvusRest(version="zilliz", bearer=API_KEY, faults=["limiter"])
    with RestServer(milvus) as server:
        rest = transport_for(server)
        with pytest.raises(MilvusError) as err:
            rest.create_import(
                "docs", object_urls=["s3://b/a.parquet"], access_key="AKIA-ACCESS", secret_key="SECRET-KEY"
            )
        assert "SECRET-KEY" not in str(err.value) and API_KEY not in str(err.value)
        assert milvus.requests[0].body["secretKey"] == "SECRET-KEY"
        rest.close()


@pytest.mark.parametrize("standard_status", [False, True], ids=["code-in-http-200", "http-429"])
def test_rate_limits_are_transient_and_retried_within_the_deadline(self_hosted, fast_retries, standard_status):
    milvus, rest = self_hosted
    job_id = start(rest)
    milvus.standard_status = standard_status
    milvus.faults = ["limiter", "limiter"]
    with pytest.raises(MilvusError) as err:
        rest.describe_import(job_id)
    assert err.value.transient and err.value.code == 1807
    target = RequestTarget("describe", lambda: rest.describe_import(job_id), idempotent=True)
    job = wait_sync(None, target, poll_interval=0.01, deadline=pendulum.now("UTC").add(seconds=10))  # type: ignore[arg-type]
    assert job["job_id"] == job_id and len(milvus.sent("describe")) == 3


def test_a_rate_limited_create_is_sent_again_and_imports_once(self_hosted, fast_retries):
    milvus, rest = self_hosted
    milvus.faults = ["limiter"]
    target = RequestTarget("import", lambda: start(rest), idempotent=False)
    job_id = wait_sync(None, target, poll_interval=0.01, deadline=pendulum.now("UTC").add(seconds=10))  # type: ignore[arg-type]
    assert list(milvus.jobs) == [job_id] and len(milvus.sent("create")) == 2


def test_rate_limits_past_the_deadline_time_out(self_hosted, fast_retries):
    milvus, rest = self_hosted
    job_id = start(rest)
    milvus.faults = ["limiter"] * 1000
    target = RequestTarget("describe", lambda: rest.describe_import(job_id), idempotent=True)
    with pytest.raises(MilvusWaitTimeout, match="request is rejected by limiter"):
        wait_sync(None, target, poll_interval=0.01, deadline=pendulum.now("UTC").add(seconds=0.5))  # type: ignore[arg-type]


def test_a_stalled_server_times_out_with_the_outcome_unknown(self_hosted, fast_retries):
    milvus, _ = self_hosted
    rest = transport_for_url(milvus, self_hosted[1].target.base_url, timeout=0.3)
    milvus.faults = ["stall"]
    started = time.monotonic()
    target = RequestTarget("import", lambda: start(rest), idempotent=False)
    with pytest.raises(MilvusError) as err:
        wait_sync(None, target, poll_interval=0.01, deadline=pendulum.now("UTC").add(seconds=10))  # type: ignore[arg-type]
    assert time.monotonic() - started < 5
    assert err.value.transient and err.value.outcome_unknown and err.value.code == "ReadTimeout"
    assert len(milvus.sent("create")) == 1  # not sent again: it may have created a job
    rest.close()


def transport_for_url(milvus: MilvusRest, url: str, **target: object) -> MilvusRestTransport:
    return MilvusRestTransport(RestTarget(url, secret=BEARER, **target))  # type: ignore[arg-type]


def test_a_server_that_is_not_there_is_unreachable_and_nothing_was_sent():
    with RestServer(MilvusRest()) as server:
        url = server.url
    rest = MilvusRestTransport(RestTarget(url))
    with pytest.raises(MilvusError, match=r"cannot reach Milvus at 127\.0\.0\.1") as err:
        rest.list_imports()
    assert err.value.transient and not err.value.outcome_unknown
    rest.close()


# --- Through the hook, and on the event loop ------------------------------------------------------


@pytest.fixture
def connection(monkeypatch):
    with RestServer(MilvusRest(version="2.6", bearer=BEARER)) as server:
        monkeypatch.setenv("AIRFLOW_CONN_MILVUS_REST", f"milvus://root:Milvus@127.0.0.1:{server.port}/db1")
        yield server.milvus


def test_the_hook_reaches_rest_with_the_connection_credentials(connection):
    hook = MilvusHook("milvus_rest")
    job_id = hook.rest.create_import("docs", [FILE])
    assert hook.rest.describe_import(job_id)["state"] == IMPORT_PENDING
    sent = connection.sent("create")[0]
    assert sent.headers["authorization"] == f"Bearer {BEARER}" and sent.body["dbName"] == "db1"
    hook.close()


async def test_coroutines_on_one_loop_share_one_client(connection):
    hooks = [MilvusHook("milvus_rest") for _ in range(2)]
    transports = [await h.arest() for h in hooks]
    job_id = await transports[0].acreate_import("docs", [FILE])
    jobs = await asyncio.gather(*(t.adescribe_import(job_id) for t in transports))
    assert [j["state"] for j in jobs] == [IMPORT_PENDING, IMPORT_STARTED] or [j["state"] for j in jobs] == [
        IMPORT_STARTED,
        IMPORT_PENDING,
    ]
    client = async_clients.find(transports[0].target)
    assert client is not None and async_clients.find(transports[1].target) is client
    # One after the other, the calls ride one kept-alive connection.
    for transport in transports:
        await transport.adescribe_import(job_id)
    assert len({r.client_port for r in connection.requests[-2:]}) == 1


async def test_async_errors_are_classified_as_the_blocking_ones(connection):
    rest = await MilvusHook("milvus_rest").arest()
    with pytest.raises(MilvusError) as err:
        await rest.adescribe_import("12345")
    assert err.value.code == 2100 and "jobID=12345" in err.value.reason
    connection.stall_seconds, connection.faults = 5.0, ["stall"]
    slow = MilvusRestTransport(RestTarget(rest.target.base_url, secret=BEARER, timeout=0.3))
    with pytest.raises(MilvusError) as err:
        await slow.alist_imports()
    assert err.value.transient and err.value.outcome_unknown


async def test_async_commit_and_abort_on_milvus_3(milvus30):
    _, rest = milvus30
    first = await rest.acreate_import("docs", [FILE], options={"auto_commit": "false"})
    second = await rest.acreate_import("docs", [FILE], options={"auto_commit": "false"})
    for job_id in (first, second):
        for _ in range(3):
            await rest.adescribe_import(job_id)
    await rest.acommit_import(first)
    await rest.aabort_import(second)
    assert (await rest.adescribe_import(first))["rest_state"] == "Committing"
    assert (await rest.adescribe_import(second))["state"] == IMPORT_FAILED
    assert {j["job_id"] for j in await rest.alist_imports("docs")} == {first, second}


# --- TLS -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    from tests.integration.certs import make_certificates

    return make_certificates(tmp_path_factory.mktemp("rest-certs"))


def test_https_with_the_connection_ca_and_a_client_certificate(certs):
    milvus = MilvusRest(version="2.6", bearer=BEARER)
    with RestServer(
        milvus, certificate=(str(certs.server_pem), str(certs.server_key)), client_ca=str(certs.ca)
    ) as server:
        rest = MilvusRestTransport(
            RestTarget(
                server.url,
                secret=BEARER,
                ca_pem_path=str(certs.ca),
                client_pem_path=str(certs.client_pem),
                client_key_path=str(certs.client_key),
            )
        )
        assert rest.describe_import(start(rest))["state"] == IMPORT_PENDING
        rest.close()


@pytest.mark.parametrize("case", ["unknown CA", "no client certificate"])
def test_a_tls_mismatch_is_named_and_not_retried(certs, case):
    milvus = MilvusRest(version="2.6", bearer=BEARER)
    with RestServer(
        milvus, certificate=(str(certs.server_pem), str(certs.server_key)), client_ca=str(certs.ca)
    ) as server:
        ca = certs.other_ca if case == "unknown CA" else certs.ca
        rest = MilvusRestTransport(RestTarget(server.url, secret=BEARER, ca_pem_path=str(ca)))
        with pytest.raises(MilvusError) as err:
            rest.list_imports()
        rest.close()
    # Also a missing client certificate, which TLS 1.3 refuses after the handshake: "tlsv13 alert
    # certificate required" on the first read.
    assert "TLS handshake with 127.0.0.1" in err.value.reason and "check the CA and TLS files" in err.value.reason
    assert not err.value.transient and not milvus.requests
