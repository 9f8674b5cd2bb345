"""The Milvus connection, from both environment-variable forms, and every bad value."""

from __future__ import annotations

import base64
import json

import pytest

from airflow_provider_milvus.exceptions import MilvusConfigError
from airflow_provider_milvus.hooks.milvus import MilvusHook
from airflow_provider_milvus.utils.connection import MilvusConnectionSettings


def settings_from_env(monkeypatch, value: str) -> MilvusConnectionSettings:
    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_DEFAULT", value)
    return MilvusHook().settings


def test_uri_form(monkeypatch):
    s = settings_from_env(monkeypatch, "milvus://user:pass@127.0.0.1:19530?db_name=analytics")
    assert (s.address, s.user, s.password, s.db_name, s.secure) == (
        "127.0.0.1:19530",
        "user",
        "pass",
        "analytics",
        False,
    )
    md = dict(s.metadata())
    assert base64.b64decode(md["authorization"]).decode() == "user:pass"
    assert md["dbname"] == "analytics"
    assert dict(s.metadata("other"))["dbname"] == "other"


def test_json_form_with_extra(monkeypatch, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    conn = {
        "conn_type": "milvus",
        "host": "https://in01-abc.zillizcloud.com",
        "extra": {"token": "tok-123", "db_name": "db1", "ca_pem_path": str(ca), "timeout": "12.5"},
    }
    s = settings_from_env(monkeypatch, json.dumps(conn))
    assert s.address == "in01-abc.zillizcloud.com:443"  # https with no port: 443
    assert s.secure and s.ca_pem_path == str(ca) and s.timeout == 12.5
    assert base64.b64decode(dict(s.metadata())["authorization"]).decode() == "tok-123"
    assert s.client_kwargs()["server_pem_path"] == str(ca)


def test_uri_host_port_wins_and_default_port(monkeypatch):
    s = settings_from_env(monkeypatch, json.dumps({"conn_type": "milvus", "host": "http://h:1234", "port": 9}))
    assert s.address == "h:1234"
    s = settings_from_env(monkeypatch, json.dumps({"conn_type": "milvus", "host": "milvus.local"}))
    assert s.address == "milvus.local:19530" and not s.secure
    s = settings_from_env(monkeypatch, json.dumps({"conn_type": "milvus", "host": "h", "extra": {"secure": "true"}}))
    assert s.secure and s.uri == "https://h:19530"


def test_secrets_not_in_repr_and_masked_in_logs(monkeypatch):
    from airflow.providers.common.compat.sdk import redact

    s = settings_from_env(monkeypatch, "milvus://user:s3cret-pw@h:1?token=t0ken-value")
    assert "s3cret-pw" not in repr(s) and "t0ken-value" not in repr(s)
    assert "s3cret-pw" not in repr(MilvusHook())
    # Every form a secret is sent in is registered with Airflow's secrets masker.
    for secret in ("s3cret-pw", "t0ken-value", s.authorization):
        assert secret not in redact(f"a log line with {secret} in it")


@pytest.mark.parametrize(
    ("conn", "fragment"),
    [
        ({"host": "h", "port": "abc"}, "`port`, but got 'abc'"),
        ({"host": "h", "port": 70000}, "port must be between"),
        ({"host": "ftp://h:19530"}, "unknown URI scheme 'ftp'"),
        ({"host": "http://h:notaport"}, "port that is not a number"),
        ({"host": ""}, "host is empty"),
        ({"host": "h", "extra": {"ca_pem_path": "/nonexistent/ca.pem"}}, "ca_pem_path '/nonexistent/ca.pem'"),
        ({"host": "h", "extra": {"server_pem_path": "/nonexistent/s.pem"}}, "server_pem_path"),
        ({"host": "h", "extra": {"client_key_path": "/nonexistent/k"}}, "client_key_path"),
        ({"host": "h", "extra": {"timeout": "soon"}}, "timeout must be a number"),
        ({"host": "h", "extra": {"timeout": -1}}, "timeout must be positive"),
        ({"host": "h", "extra": {"secure": "maybe"}}, "secure must be true or false"),
    ],
)
def test_bad_values_name_the_field(monkeypatch, conn, fragment):
    with pytest.raises(MilvusConfigError, match="Milvus connection 'milvus_default'") as err:
        settings_from_env(monkeypatch, json.dumps({"conn_type": "milvus", **conn}))
    assert fragment in str(err.value)


def test_mutual_tls_needs_both_files(monkeypatch, tmp_path):
    cert = tmp_path / "client.pem"
    cert.write_text("x")
    with pytest.raises(MilvusConfigError, match="client_pem_path and client_key_path"):
        settings_from_env(
            monkeypatch, json.dumps({"conn_type": "milvus", "host": "h", "extra": {"client_pem_path": str(cert)}})
        )


def test_test_connection_reports_bad_config(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_DEFAULT", "milvus://h:notaport")
    ok, message = MilvusHook().test_connection()
    assert not ok and "Port could not be cast to integer" in message and "milvus_default" in message


def test_triggers_starting_together_share_one_connection_fetch():
    import asyncio

    from airflow_provider_milvus.utils.connection import SharedFetches

    fetches = SharedFetches()
    calls = []

    async def fetch():
        calls.append(1)
        await asyncio.sleep(0.01)
        return len(calls)

    async def broken():
        await asyncio.sleep(0)
        raise ValueError("no such connection")

    async def main():
        together = await asyncio.gather(*(fetches.get("milvus_default", fetch) for _ in range(50)))
        later = await fetches.get("milvus_default", fetch)  # a finished fetch is not kept
        other = await fetches.get("other", fetch)
        errors = await asyncio.gather(*(fetches.get("bad", broken) for _ in range(3)), return_exceptions=True)
        return together, later, other, errors

    together, later, other, errors = asyncio.run(main())
    assert together == [1] * 50 and later == 2 and other == 3 and len(calls) == 3
    assert [str(e) for e in errors] == ["no such connection"] * 3
