"""Milvus collections as Airflow assets (datasets on Airflow 2).

A collection's URI is ``milvus://<host>:<port>/<database>/<collection>``, the host and port as the
connection reaches Milvus. :meth:`MilvusHook.collection_asset` builds it for a connection; list it in
a task's ``outlets`` and the Milvus operators attach what they did to the asset event (``rows``,
``import_task_id``, ``flush_ts``, ...), so that DAGs scheduled on the asset run when data lands.
"""

from __future__ import annotations

from urllib.parse import SplitResult

from airflow_provider_milvus import DEFAULT_PORT

DEFAULT_DATABASE = "default"


def collection_uri(address: str, db_name: str | None, collection_name: str) -> str:
    """``milvus://<address>/<database>/<collection>`` (``address`` is ``host:port``)."""
    return f"milvus://{address}/{db_name or DEFAULT_DATABASE}/{collection_name}"


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Airflow's normalizer for ``milvus://`` URIs: the default port and database made explicit, so
    that one collection has one URI."""
    if not uri.hostname:
        raise ValueError("URI format milvus:// must contain a host: milvus://<host>:<port>/<database>/<collection>")
    parts = [part for part in uri.path.split("/") if part]
    if len(parts) == 1:
        parts = [DEFAULT_DATABASE, *parts]
    if len(parts) != 2:
        raise ValueError("URI format milvus:// must name a collection: milvus://<host>:<port>/<database>/<collection>")
    host = f"[{uri.hostname}]" if ":" in uri.hostname else uri.hostname
    return uri._replace(netloc=f"{host}:{uri.port or DEFAULT_PORT}", path="/" + "/".join(parts))


def outlet_collection(uri: str) -> tuple[str, str] | None:
    """(database, collection) of a ``milvus://`` asset URI, or None for any other URI."""
    if not uri.startswith("milvus://"):
        return None
    parts = [part for part in uri.split("://", 1)[1].split("/")[1:] if part]
    if len(parts) == 1:
        return DEFAULT_DATABASE, parts[0]
    return (parts[0], parts[1]) if len(parts) == 2 else None
