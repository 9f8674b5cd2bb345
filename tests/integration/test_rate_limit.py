"""Flush rate limiting, on a real Milvus started with the limit Milvus 2.4.5+ ships on by default
(0.1 flush per second per collection): a second flush of a collection within 10 s is rejected with
code 8 "rate limit exceeded". The flush operator sends it again until Milvus accepts it, and logs
each retry. Uses a server of its own, so the session's server stays unlimited.
"""

from __future__ import annotations

import pytest

from airflow_provider_milvus.exceptions import MilvusError
from airflow_provider_milvus.hooks.milvus import MilvusHook
from harness.milvus import EmbeddedMilvus
from tests.dags import flush_dags  # noqa: F401  (registers the DAGs)
from tests.log_capture import log_messages

from .helpers import dag, make_collection, run_dag, task_states, xcom

FLUSH_RATE_LIMIT = ["--extra-config", "quotaAndLimits.flushRate.enabled=true"]
FLUSH_RATE_LIMIT += ["--extra-config", "quotaAndLimits.flushRate.max=0.1"]


@pytest.fixture(scope="module")
def rate_limited_server(tmp_path_factory):
    with EmbeddedMilvus(tmp_path_factory.mktemp("milvus-rate-limited"), server_args=FLUSH_RATE_LIMIT) as server:
        yield server


@pytest.fixture
def rate_limited(rate_limited_server, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_DEFAULT", rate_limited_server.uri.replace("http://", "milvus://", 1))
    from pymilvus import MilvusClient

    client = MilvusClient(uri=rate_limited_server.uri)
    yield client
    client.close()


@pytest.mark.timeout(300)
def test_rate_limited_flush_succeeds_after_logged_retries(airflow_db, rate_limited):
    name = make_collection(rate_limited, rows=100)
    MilvusHook().flush(name)
    # The server does limit: a second flush at once is refused, with Milvus's code and reason.
    with pytest.raises(MilvusError, match=r"code 8\).*rate limit exceeded") as refused:
        MilvusHook().flush(name)
    assert refused.value.transient

    with log_messages() as logs:
        run = run_dag(dag("flush_and_wait_in_worker"), {"collections": [name], "db_name": ""})
    assert task_states(run) == {"flush": "success"}
    assert xcom(run, "flush")["flushed"] is True
    retries = [message for message in logs if "Transient Milvus error" in message]
    assert retries, logs
    assert "Milvus to accept the Flush of" in retries[0] and "(retry 1)" in retries[0]
    assert "rate limit exceeded" in retries[0]
