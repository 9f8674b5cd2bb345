"""TLS (one-way and mutual) and authentication against real Milvus servers started for this module.

Two servers run beside the session's plain one: TLS mode 1 with authorization enabled, and TLS
mode 2 (mutual). Milvus 2.3 still answers plaintext on a mode-1 port, so every TLS test also shows
that a wrong CA is refused: the handshake is real.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from structlog.testing import capture_logs

from airflow_provider_milvus.exceptions import MilvusAuthenticationError, MilvusError
from airflow_provider_milvus.hooks.milvus import MilvusHook
from airflow_provider_milvus.triggers.milvus import MilvusFlushStateTrigger
from airflow_provider_milvus.wait import deadline_after
from harness.milvus import EmbeddedMilvus

from .certs import Certificates, make_certificates

ROOT_USER, ROOT_PASSWORD = "root", "Milvus"  # Milvus's built-in first user


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


def _tls_args(certs: Certificates, mode: int) -> list[str]:
    return [
        "--tls-mode",
        str(mode),
        "--server-pem-path",
        str(certs.server_pem),
        "--server-key-path",
        str(certs.server_key),
        "--ca-pem-path",
        str(certs.ca),
    ]


@pytest.fixture(scope="module")
def tls_auth_server(tmp_path_factory, certs):
    """One-way TLS and user authentication."""
    server = EmbeddedMilvus(
        tmp_path_factory.mktemp("milvus-tls-auth"),
        server_args=[*_tls_args(certs, 1), "--authorization-enabled", "true"],
    )
    with server:
        yield server


@pytest.fixture(scope="module")
def mtls_server(tmp_path_factory, certs):
    """Mutual TLS: the client must show a certificate signed by the CA."""
    with EmbeddedMilvus(tmp_path_factory.mktemp("milvus-mtls"), server_args=_tls_args(certs, 2)) as server:
        yield server


def use_connection(monkeypatch, conn_id: str, port: int, *, scheme: str = "https", **fields) -> MilvusHook:
    extra = fields.pop("extra", {})
    conn = {"conn_type": "milvus", "host": f"{scheme}://127.0.0.1:{port}", "extra": extra, **fields}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return MilvusHook(conn_id)


def root_login() -> dict[str, str]:
    return {"login": ROOT_USER, "password": ROOT_PASSWORD}


# --- One-way TLS ----------------------------------------------------------------------------------


def test_one_way_tls_with_the_right_ca(monkeypatch, tls_auth_server, certs):
    hook = use_connection(
        monkeypatch, "tls_ok", tls_auth_server.port, extra={"ca_pem_path": str(certs.ca)}, **root_login()
    )
    assert hook.settings.secure
    assert hook.get_server_version().startswith("v2.")
    # The async path (the triggers' channel) over TLS as well.
    assert asyncio.run(hook.aget_flush_state([1])) is True
    hook.close()


def test_one_way_tls_with_server_name_override(monkeypatch, tls_auth_server, certs):
    hook = use_connection(
        monkeypatch,
        "tls_server_name",
        tls_auth_server.port,
        extra={"ca_pem_path": str(certs.ca), "server_name": "localhost"},
        **root_login(),
    )
    ok, message = hook.test_connection()
    assert ok, message


def test_one_way_tls_with_a_wrong_ca_fails_clearly(monkeypatch, tls_auth_server, certs):
    hook = use_connection(
        monkeypatch, "tls_wrong_ca", tls_auth_server.port, extra={"ca_pem_path": str(certs.other_ca)}, **root_login()
    )
    with pytest.raises(MilvusError, match=r"TLS handshake with 127\.0\.0\.1:\d+ failed") as err:
        hook.get_server_version()
    assert not err.value.transient  # a wrong CA never heals: no retrying
    ok, message = hook.test_connection()
    assert not ok and "TLS handshake" in message


# --- Mutual TLS -----------------------------------------------------------------------------------


def test_mutual_tls_with_a_client_certificate(monkeypatch, mtls_server, certs):
    extra = {
        "ca_pem_path": str(certs.ca),
        "client_pem_path": str(certs.client_pem),
        "client_key_path": str(certs.client_key),
    }
    hook = use_connection(monkeypatch, "mtls_ok", mtls_server.port, extra=extra)
    assert hook.get_server_version().startswith("v2.")
    assert asyncio.run(hook.aget_flush_state([1])) is True
    hook.close()


def test_mutual_tls_without_a_client_certificate_is_refused(monkeypatch, mtls_server, certs):
    hook = use_connection(monkeypatch, "mtls_no_cert", mtls_server.port, extra={"ca_pem_path": str(certs.ca)})
    with pytest.raises(MilvusError) as err:
        hook.get_server_version(timeout=10)
    assert not err.value.transient, err.value
    assert "TLS handshake with 127.0.0.1" in str(err.value)


def test_mutual_tls_with_a_wrong_ca_fails_clearly(monkeypatch, mtls_server, certs):
    extra = {
        "ca_pem_path": str(certs.other_ca),
        "client_pem_path": str(certs.client_pem),
        "client_key_path": str(certs.client_key),
    }
    hook = use_connection(monkeypatch, "mtls_wrong_ca", mtls_server.port, extra=extra)
    with pytest.raises(MilvusError, match="TLS handshake"):
        hook.get_server_version()


# --- Authentication -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"login": ROOT_USER, "password": ROOT_PASSWORD}, id="user-password"),
        pytest.param({"extra": {"token": f"{ROOT_USER}:{ROOT_PASSWORD}"}}, id="token"),
    ],
)
def test_right_credentials_work(monkeypatch, tls_auth_server, certs, fields):
    extra = {"ca_pem_path": str(certs.ca), **fields.pop("extra", {})}
    hook = use_connection(monkeypatch, "auth_ok", tls_auth_server.port, extra=extra, **fields)
    ok, message = hook.test_connection()
    assert ok, message


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"login": ROOT_USER, "password": "wrong-password"}, id="wrong-password"),
        pytest.param({"login": "nobody", "password": ROOT_PASSWORD}, id="unknown-user"),
        pytest.param({"extra": {"token": "root:wrong-password"}}, id="wrong-token"),
        pytest.param({}, id="no-credentials"),
    ],
)
def test_wrong_credentials_fail_at_once_with_an_authentication_error(monkeypatch, tls_auth_server, certs, fields):
    extra = {"ca_pem_path": str(certs.ca), **fields.pop("extra", {})}
    hook = use_connection(monkeypatch, "auth_bad", tls_auth_server.port, extra=extra, **fields)
    with pytest.raises(MilvusAuthenticationError, match="authentication failed") as err:
        hook.flush("any_collection")
    assert not err.value.transient
    ok, message = hook.test_connection()
    assert not ok and "auth" in message.lower()


def test_a_wait_with_wrong_credentials_fails_on_its_first_poll(monkeypatch, tls_auth_server, certs):
    """No retry storm: an authentication error is final, not transient."""
    use_connection(
        monkeypatch,
        "auth_wait",
        tls_auth_server.port,
        extra={"ca_pem_path": str(certs.ca)},
        login=ROOT_USER,
        password="wrong-password",
    )
    trigger = MilvusFlushStateTrigger(
        collections=[{"collection_name": "c", "segment_ids": [1], "flush_ts": None}],
        milvus_conn_id="auth_wait",
        poll_interval=0.2,
        deadline=deadline_after(600).isoformat(),
    )

    async def first_event():
        return await anext(trigger.run())

    with capture_logs() as logs:
        event = asyncio.run(first_event())
    assert event.payload["status"] == "error"
    assert "authentication failed" in event.payload["message"]
    assert "wrong-password" not in event.payload["message"]
    assert not [entry for entry in logs if "Transient" in entry["event"]], logs
    assert not [entry for entry in logs if "wrong-password" in str(entry)], logs
