"""MilvusHook against the real Milvus server."""

from __future__ import annotations

import asyncio

import psutil
import pytest

from airflow_provider_milvus.exceptions import MilvusConfigError, MilvusError
from airflow_provider_milvus.hooks import milvus as hook_module
from airflow_provider_milvus.hooks.milvus import MilvusHook
from airflow_provider_milvus.utils import connection as connection_module

from .helpers import make_collection, unique, vectors


def test_test_connection_succeeds_with_server_version(milvus_uri):
    ok, message = MilvusHook().test_connection()
    assert ok, message
    assert message.startswith("Connected to Milvus v2.")


def test_test_connection_fails_clearly_on_closed_port(monkeypatch):
    from harness.processes import free_port

    port = free_port()
    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_DEFAULT", f"milvus://127.0.0.1:{port}")
    ok, message = MilvusHook().test_connection()
    assert not ok
    assert f"cannot reach Milvus at 127.0.0.1:{port}" in message


def test_get_conn_is_a_client_created_once(milvus_uri):
    from pymilvus import MilvusClient

    hook = MilvusHook()
    assert isinstance(hook.get_conn(), MilvusClient)
    assert hook.get_conn() is hook.get_conn()
    hook.close()


def test_client_calls_raise_the_providers_errors(milvus_client, milvus_uri):
    """Calls through pymilvus's MilvusClient are classified as the stubs' are: a request pymilvus
    refuses before sending is not transient, Milvus's own answer keeps its code and reason. (How a
    raw gRPC error pymilvus lets through is classified: tests/unit/test_milvus_status.py.)"""
    collection = make_collection(milvus_client)
    hook = MilvusHook()
    client = hook.get_conn()
    with pytest.raises(MilvusError) as refused:
        hook._client_call("Insert", lambda: client.insert(collection, [{"id": "not an int", "vector": [0.0] * 8}]))
    assert not refused.value.transient and refused.value.rpc == "Insert"
    assert "should be a int64" in refused.value.reason
    with pytest.raises(MilvusError) as answered:
        hook._client_call("LoadCollection", lambda: client.load_collection(unique("missing")))
    assert answered.value.code == 100 and "collection not found" in answered.value.reason
    assert not answered.value.transient
    hook.close()


def test_flush_two_collections_in_another_database(milvus_client, milvus_uri):
    db = unique("db")
    milvus_client.create_database(db)
    from pymilvus import MilvusClient

    db_client = MilvusClient(uri=milvus_uri, db_name=db)
    names = [make_collection(db_client, rows=300) for _ in range(2)]
    db_client.close()
    hook = MilvusHook()
    result = hook.flush(names, db_name=db)
    assert result["db_name"] == db
    assert set(result["collections"]) == set(names)
    for info in result["collections"].values():
        assert info["segment_ids"] and all(isinstance(s, int) for s in info["segment_ids"])
        assert info["flush_ts"] > 0
    # The same collections do not exist in the default database: Milvus's own code and reason.
    with pytest.raises(MilvusError, match=r"code 100.*collection not found"):
        hook.flush(names[0])


def test_get_flush_state_sync_and_async(milvus_client, milvus_uri):
    name = make_collection(milvus_client, rows=200)
    hook = MilvusHook()
    info = hook.flush(name)["collections"][name]
    args = (info["segment_ids"], name, info["flush_ts"])

    async def poll_until_flushed():
        for _ in range(120):
            if await MilvusHook().aget_flush_state(*args):
                return True
            await asyncio.sleep(0.5)
        return False

    assert asyncio.run(poll_until_flushed())
    assert hook.get_flush_state(*args) is True


def test_bad_arguments_fail_before_any_rpc(monkeypatch):
    # An unreachable connection: if any of these sent an RPC, the error would be about the network.
    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_DEFAULT", "milvus://127.0.0.1:1")
    hook = MilvusHook()
    for call, fragment in [
        (lambda: hook.flush([]), "collection_names must be"),
        (lambda: hook.flush([""]), "non-empty strings"),
        (lambda: hook.flush([3]), "non-empty strings"),
        (lambda: hook.get_flush_state([]), "segment_ids is empty"),
        (lambda: hook.get_flush_state("1"), "segment_ids must be a non-empty list"),
        (lambda: hook.bulk_insert("c", []), "files must be a non-empty list"),
        (lambda: hook.bulk_insert("c", "a.json"), "files must be a non-empty list"),
        (lambda: hook.bulk_insert("c", ["a.json", "b.json"]), "one data file"),
        (lambda: hook.bulk_insert("c", ["a.csv"], options={"auto_commit": "False"}), "auto_commit=false"),
        (lambda: hook.get_import_state("abc"), "import_task_id must be an integer"),
    ]:
        with pytest.raises(MilvusConfigError, match=fragment):
            call()


def test_async_channel_shared_by_many_hooks(milvus_client, milvus_uri):
    """Hundreds of triggers' hooks on one loop share one channel: one TCP connection."""
    name = make_collection(milvus_client)
    milvus_client.insert(name, vectors(10))
    port = int(milvus_uri.rsplit(":", 1)[1])

    def tcp_to_milvus():
        return {c.laddr for c in psutil.Process().net_connections("tcp") if c.raddr and c.raddr.port == port}

    before = tcp_to_milvus()

    async def many():
        hooks = [MilvusHook() for _ in range(300)]
        await asyncio.gather(*(h.aget_flush_state([1], name) for h in hooks))
        stubs = {id(connection_module.async_channels.stub(await h.asettings(), None)) for h in hooks}
        return len(stubs), len(tcp_to_milvus() - before)

    channels, tcp = asyncio.run(many())
    assert channels == 1
    # gRPC may also reuse a still-open connection of an earlier channel to the same address.
    assert tcp <= 1


@pytest.mark.parametrize(
    "connection",
    [
        "milvus://[::1]:{port}",  # URI form: Airflow hands the host over without its brackets
        '{{"conn_type": "milvus", "host": "http://[::1]:{port}"}}',  # a URI in the host field
        '{{"conn_type": "milvus", "host": "::1", "port": {port}}}',  # a bare IPv6 literal
    ],
)
def test_ipv6_literal_host_reaches_milvus(milvus_server, monkeypatch, connection):
    """The server listens on every interface, IPv6 loopback included."""
    port = milvus_server["uri"].rsplit(":", 1)[1]
    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_V6", connection.format(port=port))
    hook = MilvusHook("milvus_v6")
    assert hook.settings.address == f"[::1]:{port}"
    ok, message = hook.test_connection()
    assert ok, message
    # pymilvus (3.0) drops the brackets of an IPv6 URI: get_conn() says so instead of a DNS error.
    with pytest.raises(MilvusConfigError, match=r"host \[::1\] is an IPv6 address, which pymilvus's MilvusClient"):
        MilvusHook("milvus_v6").get_conn()

    async def version() -> str:
        return (
            await MilvusHook("milvus_v6")._acall("GetVersion", hook_module.milvus_pb2.GetVersionRequest(), 10)
        ).version

    assert asyncio.run(version()).startswith("v2.")
