"""Reaching Milvus: connection settings parsed and checked from an Airflow connection, and the
gRPC channels built from them (one async channel per settings per event loop, shared by every
trigger of a triggerer). What is said over them (the RPCs and their errors) is the hook's.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import os
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import urlsplit

import grpc
import grpc.aio
from pymilvus.grpc_gen import milvus_pb2_grpc

from airflow_provider_milvus import DEFAULT_PORT
from airflow_provider_milvus.exceptions import MilvusConfigError
from airflow_provider_milvus.validation import MAX_SECONDS, is_sendable, validate_db_name

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Connection

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")

_SCHEMES = ("http", "https", "tcp")
_TLS_FILE_FIELDS = ("server_pem_path", "ca_pem_path", "client_pem_path", "client_key_path")
# Channel options: no message size cap and keepalive on idle channels (as pymilvus sets them).
_CHANNEL_OPTIONS = (
    ("grpc.max_send_message_length", -1),
    ("grpc.max_receive_message_length", -1),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    # gRPC's reconnect backoff grows to 120 s; capped, waits notice a restarted Milvus within 10 s.
    ("grpc.max_reconnect_backoff_ms", 10_000),
)


def _userinfo(host: str) -> str:
    """What may be a host URI's user info (``user:password``): all from the scheme (or the start)
    to the last ``@``, whatever it holds (an unquoted ``/`` in a password ends urlsplit's netloc
    early), or ""."""
    scheme_end = host.find("://")
    start, end = (scheme_end + 3 if scheme_end >= 0 else 0), host.rfind("@")
    return host[start:end] if end > start else ""


def _redacted(text: str, host: str) -> str:
    """The text with the host's user info, which may hold a password, left out."""
    userinfo = _userinfo(host)
    return text.replace(userinfo, "***") if userinfo else text


def _host_for_address(host: str, where: str, shown: str | None = None) -> str:
    """The host as gRPC dials it: an IPv6 literal in brackets (``[::1]``), anything else as is."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if ":" in bare or host.startswith("["):
        try:
            return f"[{ipaddress.IPv6Address(bare)}]"
        except ValueError:
            raise MilvusConfigError(
                f"{where}: host {shown or host!r} is not a valid hostname or IPv6 address (write IPv6 as [::1])"
            ) from None
    return host


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on", "false", "0", "no", "off", ""):
        return value.strip().lower() in ("true", "1", "yes", "on")
    raise MilvusConfigError(f"{name} must be true or false, got {value!r}")


def _storage_fields(extra: dict[str, Any], where: str) -> dict[str, str]:
    """The object-storage extras: Milvus's bucket, and the endpoint and keys to write to it."""
    fields = {}
    for name in ("bucket_name", "storage_endpoint", "storage_access_key", "storage_secret_key"):
        value = extra.get(name)
        if value is not None and not isinstance(value, str):
            raise MilvusConfigError(f"{where}: {name} must be a string, got a {type(value).__name__}")
        fields[name] = (value or "").strip()
    bucket = fields["bucket_name"]
    if bucket and ("/" in bucket or "://" in bucket):
        raise MilvusConfigError(f"{where}: bucket_name must be a bucket's name, without a scheme or a path")
    endpoint = fields["storage_endpoint"]
    if endpoint:
        try:
            parts = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
        except ValueError:  # e.g. an IPv6 literal with unbalanced brackets
            raise MilvusConfigError(f"{where}: storage_endpoint must be a URL like http://minio:9000") from None
        try:
            parts.port  # noqa: B018 (raises on a port that is not a number)
        except ValueError:
            raise MilvusConfigError(f"{where}: storage_endpoint has a port that is not a number") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise MilvusConfigError(f"{where}: storage_endpoint must be a URL like http://minio:9000")
    return fields


def _cloud_fields(extra: dict[str, Any], where: str) -> dict[str, str]:
    """Zilliz Cloud's import API: the cluster ID and the API endpoint, when the host does not say."""
    fields = {}
    for name in ("cluster_id", "cloud_api_endpoint"):
        value = extra.get(name)
        if value is not None and not isinstance(value, str):
            raise MilvusConfigError(f"{where}: {name} must be a string, got a {type(value).__name__}")
        fields[name] = (value or "").strip()
    cluster_id = fields["cluster_id"]
    if cluster_id and not (cluster_id.isascii() and cluster_id.isprintable() and " " not in cluster_id):
        raise MilvusConfigError(f"{where}: cluster_id must be a Zilliz Cloud cluster ID such as in01-0123456789abcdef")
    endpoint = fields["cloud_api_endpoint"]
    if endpoint:
        try:
            parts = urlsplit(endpoint)
            parts.port  # noqa: B018 (raises on a port that is not a number)
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/"):
            raise MilvusConfigError(
                f"{where}: cloud_api_endpoint must be a URL like https://api.cloud.zilliz.com, without a path"
            )
    return fields


@dataclass(frozen=True)
class MilvusConnectionSettings:
    """Everything needed to reach Milvus, parsed and checked from an Airflow connection.

    Frozen and hashable: equal settings share one async channel per event loop.
    """

    conn_id: str
    address: str
    secure: bool
    user: str = ""
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    db_name: str = ""
    server_pem_path: str = ""
    ca_pem_path: str = ""
    client_pem_path: str = ""
    client_key_path: str = ""
    server_name: str = ""
    timeout: float | None = None
    #: The bucket of Milvus's object storage (its ``minio.bucketName``), where it reads import files.
    bucket_name: str = ""
    #: Where import files are written to that bucket: the S3 endpoint URL and its keys.
    storage_endpoint: str = ""
    storage_access_key: str = field(default="", repr=False)
    storage_secret_key: str = field(default="", repr=False)
    #: Zilliz Cloud: the cluster its import API names (read from a Zilliz Cloud host when empty).
    cluster_id: str = ""
    #: Zilliz Cloud's import API (its control plane), when not the one the host's region uses.
    cloud_api_endpoint: str = ""

    @classmethod
    def from_connection(cls, conn: Connection) -> MilvusConnectionSettings:
        """Parse and check an Airflow connection; a bad field raises MilvusConfigError naming it."""
        conn_id = conn.conn_id
        where = f"Milvus connection {conn_id!r}"
        # Older forms saved extras with an "extra__milvus__" prefix; accept both spellings.
        try:
            extra_dejson = conn.extra_dejson
        except ValueError:  # JSON Airflow's parser lets through to raise, e.g. a number of 5000 digits
            raise MilvusConfigError(f"{where}: extra cannot be read as JSON") from None
        if not isinstance(extra_dejson, dict):
            raise MilvusConfigError(f"{where}: extra must be a JSON object, got a {type(extra_dejson).__name__}")
        extra = {key.removeprefix("extra__milvus__"): value for key, value in extra_dejson.items()}
        host = (conn.host or "").strip()
        if not host:
            raise MilvusConfigError(f"{where}: host is empty; give a hostname or a URI like http://host:19530")
        shown = _redacted(conn.host or "", conn.host or "")
        # Never shown: they are secrets, or may hold some.
        for name, value in (("login", conn.login), ("password", conn.password), ("token", extra.get("token"))):
            if isinstance(value, str) and not is_sendable(value):
                raise MilvusConfigError(f"{where}: {name} holds text that is not valid Unicode (a lone surrogate)")
        if not is_sendable(host):
            raise MilvusConfigError(f"{where}: host {shown!r} holds text that is not valid Unicode (a lone surrogate)")

        scheme = ""
        uri_port: int | None = None
        if "://" not in host and (
            (host.count(":") == 1 and not host.startswith("[")) or (host.startswith("[") and "]:" in host)
        ):
            # "host:port" without a scheme: read it as a URI's authority.
            host = f"tcp://{host}"
        if "://" in host:
            try:
                parts = urlsplit(host)
            except ValueError as err:  # e.g. an IPv6 literal with unbalanced brackets
                raise MilvusConfigError(
                    f"{where}: host {shown!r} is not a valid URI: {_redacted(str(err), conn.host or '')}"
                ) from None
            scheme = parts.scheme.lower()
            if scheme not in _SCHEMES:
                raise MilvusConfigError(
                    f"{where}: host {shown!r} has unknown URI scheme {parts.scheme!r}; use one of {', '.join(_SCHEMES)}"
                )
            try:
                uri_port = parts.port
            except ValueError:
                raise MilvusConfigError(f"{where}: host {shown!r} has a port that is not a number") from None
            # netloc keeps an IPv6 literal's brackets, which hostname drops.
            host = parts.netloc.rpartition("@")[2]
            host = host.rsplit(":", 1)[0] if uri_port is not None else host
            if not host:
                raise MilvusConfigError(f"{where}: host URI {shown!r} has no hostname")
        host = _host_for_address(host, where, shown=_redacted(host, conn.host or ""))

        port: int
        if uri_port is not None:
            port = uri_port
        elif conn.port not in (None, ""):
            try:
                port = int(conn.port)
            except (TypeError, ValueError):
                raise MilvusConfigError(f"{where}: port must be a number, got {conn.port!r}") from None
        else:
            port = 443 if scheme == "https" else DEFAULT_PORT
        if not 0 < port < 65536:
            raise MilvusConfigError(f"{where}: port must be between 1 and 65535, got {port}")

        tls_files = {}
        for name in _TLS_FILE_FIELDS:
            path = str(extra.get(name) or "").strip()
            try:
                readable = not path or Path(path).is_file()
            except OSError:  # e.g. a name too long for the file system
                readable = False
            if not readable:
                raise MilvusConfigError(f"{where}: {name} {path!r} is not a readable file")
            tls_files[name] = path
        if bool(tls_files["client_pem_path"]) != bool(tls_files["client_key_path"]):
            raise MilvusConfigError(
                f"{where}: mutual TLS needs both client_pem_path and client_key_path, only one is set"
            )

        timeout = extra.get("timeout")
        if timeout in (None, ""):
            timeout = None
        else:
            given = timeout
            try:
                if isinstance(timeout, bool):
                    raise TypeError
                timeout = float(timeout)
            except (TypeError, ValueError, OverflowError):
                raise MilvusConfigError(f"{where}: timeout must be a number of seconds, got {given!r}") from None
            if not 0 < timeout <= MAX_SECONDS:  # (NaN too)
                raise MilvusConfigError(
                    f"{where}: timeout must be positive (at most {MAX_SECONDS:.0e} seconds), got {given!r}"
                )

        secure = scheme == "https" or _flag(extra.get("secure", False), f"{where}: secure") or any(tls_files.values())
        db_name = extra.get("db_name") or conn.schema or ""
        if not isinstance(db_name, str):
            raise MilvusConfigError(f"{where}: db_name must be a string, got {db_name!r}")
        try:
            validate_db_name(db_name)
        except MilvusConfigError as err:
            raise MilvusConfigError(f"{where}: {err}") from None
        return cls(
            conn_id=conn_id,
            address=f"{host}:{port}",
            secure=secure,
            user=conn.login or "",
            password=conn.password or "",
            token=str(extra.get("token") or ""),
            db_name=db_name,
            server_name=str(extra.get("server_name") or ""),
            timeout=timeout,
            **_storage_fields(extra, where),
            **_cloud_fields(extra, where),
            **tls_files,
        )

    @property
    def uri(self) -> str:
        """``http(s)://host:port``, as pymilvus takes it."""
        return f"{'https' if self.secure else 'http'}://{self.address}"

    @property
    def bearer(self) -> str:
        """The credential as Milvus takes it: the token, or ``user:password`` ("" without one)."""
        return self.token or (f"{self.user}:{self.password}" if self.user else "")

    @property
    def authorization(self) -> str:
        """The ``authorization`` metadata value: base64 of the token or of ``user:password``."""
        return base64.b64encode(self.bearer.encode()).decode() if self.bearer else ""

    @property
    def secrets(self) -> list[str]:
        """Every secret value these settings hold, in every form they are sent in (gRPC metadata in
        base64, the REST API's ``Authorization: Bearer`` as it is), and the object-storage keys."""
        # A user name without a password is no secret ("alice:" says only who), so the combined
        # forms count only when they carry a password or a token.
        combined = (self.bearer, self.authorization) if self.password or self.token else ()
        values = (
            self.password,
            self.token,
            *combined,
            self.storage_access_key,
            self.storage_secret_key,
        )
        return [value for value in values if value]

    def metadata(self, db_name: str | None = None) -> tuple[tuple[str, str], ...]:
        """The gRPC metadata of every call: credentials and the target database."""
        md: list[tuple[str, str]] = []
        if self.authorization:
            md.append(("authorization", self.authorization))
        db = db_name or self.db_name
        if db:
            md.append(("dbname", db))
        return tuple(md)

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``pymilvus.MilvusClient``."""
        kwargs: dict[str, Any] = {"uri": self.uri, "db_name": self.db_name, "timeout": self.timeout}
        if self.token:
            kwargs["token"] = self.token
        elif self.user:
            kwargs["user"], kwargs["password"] = self.user, self.password
        if self.secure:
            kwargs["secure"] = True
            for name in (*_TLS_FILE_FIELDS, "server_name"):
                if getattr(self, name):
                    kwargs[name] = getattr(self, name)
            # pymilvus reads the root from server_pem_path for one-way TLS.
            if self.ca_pem_path and not self.client_pem_path and not self.server_pem_path:
                kwargs["server_pem_path"] = self.ca_pem_path
        return kwargs

    def channel_options(self) -> list[tuple[str, Any]]:
        options: list[tuple[str, Any]] = list(_CHANNEL_OPTIONS)
        if self.server_name:
            options.append(("grpc.ssl_target_name_override", self.server_name))
        return options

    @staticmethod
    def names_files(conn: Connection) -> bool:
        """Whether the connection names TLS files, which parsing it checks on disk."""
        extra = conn.extra_dejson
        return any(
            str(extra.get(name) or extra.get(f"extra__milvus__{name}") or "").strip() for name in _TLS_FILE_FIELDS
        )

    def channel_credentials(self) -> grpc.ChannelCredentials | None:
        """TLS credentials (reads the certificate files), or None for plaintext."""
        if not self.secure:
            return None

        def read(path: str) -> bytes | None:
            return Path(path).read_bytes() if path else None

        return grpc.ssl_channel_credentials(
            root_certificates=read(self.ca_pem_path or self.server_pem_path),
            private_key=read(self.client_key_path),
            certificate_chain=read(self.client_pem_path),
        )


# Extras that are secrets, or may hold some.
_SECRET_EXTRAS = ("token", "storage_access_key", "storage_secret_key")


def _env_secrets(value: str) -> list[str]:
    """What a connection's environment variable may hold secret, as it appears in the variable:
    a URI's user info and query (its extras), or a JSON form's password, token and host user info."""
    if not value.lstrip().startswith("{"):
        # Everything from the scheme to the last "@" (user info, however odd the rest), and the query.
        start, end = value.find("://") + 3, value.rfind("@")
        return [part for part in (value[start:end] if 3 <= start < end else "", value.partition("?")[2]) if part]
    try:
        conn = json.loads(value)
    except ValueError:
        return []
    if not isinstance(conn, dict):
        return []
    extra = conn.get("extra")
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except ValueError:
            extra = None
    extras = extra if isinstance(extra, dict) else {}
    found = [
        conn.get("password"),
        *(extras.get(key, extras.get(f"extra__milvus__{key}")) for key in _SECRET_EXTRAS),
        _userinfo(conn["host"]) if isinstance(conn.get("host"), str) else None,
    ]
    # As the message may show them: as they are, as JSON writes them, and as Python's repr does.
    return [form for secret in found if isinstance(secret, str) and secret for form in _forms(secret)]


def _forms(secret: str) -> list[str]:
    return list({secret, json.dumps(secret)[1:-1], repr(secret)[1:-1]})


def check_env_connection(conn_id: str) -> None:
    """Before fetching a connection: one in the environment that Airflow cannot parse would be
    reported as "not defined" (or, on Airflow 2, looked up further in the metadata database); say
    why instead, naming the variable, and none of the secrets it holds (Airflow's own message for
    a URI it cannot parse quotes the whole URI)."""
    from airflow.providers.common.compat.sdk import AirflowException, Connection

    from airflow_provider_milvus.version_compat import connection_from_uri

    variable = f"AIRFLOW_CONN_{conn_id.upper()}"
    value = os.environ.get(variable)
    if value:
        try:
            if value.lstrip().startswith("{"):
                conn = Connection.from_json(value, conn_id=conn_id)
            else:
                conn = connection_from_uri(value, conn_id)
            # Airflow's secrets backends write the connection as a URI; one that fails to is "not defined".
            conn.get_uri()
            # Airflow's database model (the lookup before Airflow 3.3) refuses an extra that is no
            # JSON object, and the lookup then says "not defined".
            if conn.extra and not isinstance(json.loads(conn.extra), dict):
                raise ValueError("the extra must be a JSON object")
        except UnicodeError:
            raise MilvusConfigError(
                f"Milvus connection {conn_id!r} ({variable}): a field holds text that is not valid Unicode "
                "(a lone surrogate, such as JSON's \\ud800), which Airflow cannot read"
            ) from None
        # (Airflow raises TypeError for a field of the wrong JSON type, e.g. a list as the port.)
        except (ValueError, TypeError, AirflowException) as err:
            message = str(err)
            for secret in sorted(_env_secrets(value), key=len, reverse=True):
                message = message.replace(secret, "***")
            raise MilvusConfigError(f"Milvus connection {conn_id!r} ({variable}): {message}") from None


class PerLoop(Generic[K, V]):
    """One value per key per event loop, made on first use and kept while the loop lives: what the
    triggers of a triggerer (which all run on one loop) share per connection, such as a gRPC
    channel or an HTTP client's keep-alive pool."""

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[K, V]] = weakref.WeakKeyDictionary()

    def find(self, key: K) -> V | None:
        """The running loop's value for ``key``, if made."""
        return self._by_loop.get(asyncio.get_running_loop(), {}).get(key)

    def get(self, key: K, make: Callable[[], V]) -> V:
        values = self._by_loop.setdefault(asyncio.get_running_loop(), {})
        value = values.get(key)
        if value is None:
            value = values[key] = make()
        return value


class AsyncChannels:
    """One grpc.aio channel per connection settings per event loop.

    A triggerer runs all its triggers on one loop; sharing the channel means a thousand waits on
    one connection use one TCP connection, not a thousand.
    """

    def __init__(self) -> None:
        self._stubs: PerLoop[MilvusConnectionSettings, milvus_pb2_grpc.MilvusServiceStub] = PerLoop()

    def stub(
        self, settings: MilvusConnectionSettings, credentials: grpc.ChannelCredentials | None
    ) -> milvus_pb2_grpc.MilvusServiceStub:
        def make() -> milvus_pb2_grpc.MilvusServiceStub:
            if credentials is None:
                channel = grpc.aio.insecure_channel(settings.address, options=settings.channel_options())
            else:
                channel = grpc.aio.secure_channel(settings.address, credentials, options=settings.channel_options())
            return milvus_pb2_grpc.MilvusServiceStub(channel)

        return self._stubs.get(settings, make)


async_channels = AsyncChannels()


class SharedFetches:
    """Lookups in flight, per event loop: the triggers that start together (many tasks deferring at
    once, a triggerer taking over) share one fetch of their connection instead of one each. A
    finished fetch is not kept: a trigger started later fetches anew."""

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Future[Any]]] = (
            weakref.WeakKeyDictionary()
        )

    async def get(self, key: str, fetch: Callable[[], Awaitable[T]]) -> T:
        flights = self._by_loop.setdefault(asyncio.get_running_loop(), {})
        future = flights.get(key)
        if future is None:
            future = flights[key] = asyncio.ensure_future(fetch())

            def forget(done: asyncio.Future[Any]) -> None:
                if flights.get(key) is done:
                    del flights[key]
                if not done.cancelled():
                    done.exception()  # retrieved here too, should every waiter be gone

            future.add_done_callback(forget)
        # One waiter's cancellation (its trigger cancelled) must not cancel the others' fetch.
        return await asyncio.shield(future)


shared_fetches = SharedFetches()
