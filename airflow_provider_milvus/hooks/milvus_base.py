"""The Milvus transport: the connection's settings, the channels, the calls, and the one mapping
of what goes wrong on them onto the provider's errors.

:class:`MilvusBaseHook` sends the gRPC calls (blocking, or on the running event loop over a
channel shared per loop) and makes the ``pymilvus.MilvusClient``; what is asked over them is
:class:`~airflow_provider_milvus.hooks.milvus.MilvusHook`'s. Every path classifies errors here,
whichever transport carried the call (gRPC here, HTTP in
:mod:`~airflow_provider_milvus.hooks.milvus_rest`): :func:`error_from_status` for Milvus's own code
and reason, :func:`transport_error` for a call that got no Milvus answer, by its :class:`Failure`
(:func:`error_from_grpc` names the failure of a gRPC call; the REST transport names those of HTTP).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from enum import Enum
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
import grpc.aio
from airflow.providers.common.compat.sdk import BaseHook, mask_secret
from pymilvus.grpc_gen import common_pb2, milvus_pb2_grpc

from airflow_provider_milvus import DEFAULT_CONN_ID
from airflow_provider_milvus.exceptions import MilvusAuthenticationError, MilvusConfigError, MilvusError
from airflow_provider_milvus.utils.connection import (
    MilvusConnectionSettings,
    async_channels,
    check_env_connection,
    shared_fetches,
)
from airflow_provider_milvus.version_compat import aget_connection, amask_secret

if TYPE_CHECKING:
    from google.protobuf.message import Message
    from pymilvus import MilvusClient

    from airflow_provider_milvus.hooks.milvus_rest import MilvusRestTransport

T = TypeVar("T")

# gRPC codes worth retrying inside a wait's deadline; anything else fails at once.
_TRANSIENT_GRPC_CODES = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED}
)
# Milvus status codes for a server that is starting, overloaded or rate limiting: 1 service not
# ready, 2 service unavailable, 4 too many requests, 8 rate limit exceeded, and 1807 "request is
# rejected by limiter", the REST layer's own limiter (pkg/util/merr/errors.go, all retriable).
_TRANSIENT_MILVUS_CODES = frozenset({1, 2, 4, 8, 1807})
# Reasons of a proxy that cannot reach its own coordinators (a restart or failover in progress);
# Milvus 2.3 reports those with the catch-all code 65535. After a restart its data coordinator may
# still name the old data node for a while: "session not found->datanode-4: node not found[node=4]"
# (measured in the fault campaign, benchmarks/chaos.py, on Milvus 2.3.5).
_INTERNAL_UNREACHABLE_REASONS = (
    "error while dialing",
    "connection refused",
    "find no available",
    "session not found",
    "node not found",
)
# Reasons of a server turning a request away for now, whatever its code: the data coordinator's
# "The number of jobs has reached the limit, please try again later" (ValidateMaxImportJobExceed,
# code 2100 on 2.5/2.6), which refuses the import before creating it.
_BACKPRESSURE_REASONS = ("please try again later",)
# gRPC reasons that say the request never left this machine (no connection could be made).
_NOT_SENT_MARKERS = ("failed to connect", "connection refused", "dns resolution failed", "name resolution")
# Reasons of a TLS mismatch ("tsi_" is gRPC's transport-security layer, e.g. a mutual-TLS server
# rejecting a missing client certificate).
_TLS_MARKERS = ("ssl", "certificate", "handshake", "tsi_")
# Codes meaning "not authenticated" / "not permitted": Milvus's 1400, 1401 and 1800 ("user hasn't
# authenticated"), and 21119, Zilliz Cloud's "The apikey is illegal." (its REST reference,
# get-import-job-progress-v2).
_AUTH_MILVUS_CODES = frozenset({1400, 1401, 1800, 21119})

# A worker's calls on a connection that has not answered once in this many seconds fail instead of
# being retried: a wrong host or port, not an outage (one after an answer is still ridden out).
NEVER_ANSWERED_SECONDS = 15.0


class Failure(Enum):
    """How a call failed before Milvus could answer it, whichever transport carried it (gRPC, or
    HTTP for the REST API): the one classification of :func:`transport_error`."""

    AUTH = "auth"  # the credentials were refused
    TLS = "tls"  # the TLS handshake failed: never heals by itself
    NOT_SENT = "not sent"  # no connection could be made: the request never left this machine
    CONNECTION_LOST = "connection lost"  # sent, and the connection failed before an answer
    TIMED_OUT = "timed out"  # sent, and no answer within the deadline
    OVERLOADED = "overloaded"  # turned away unserved (rate limited, unavailable): safe to send again
    OTHER = "other"  # anything else: a bad request, a server that cannot serve it


def transport_error(rpc: str, code: int | str, failure: Failure, details: str, address: str) -> MilvusError:
    """A call that got no Milvus answer, as the provider's error: worth retrying or not, and
    whether it may have taken effect (``outcome_unknown``: sent, then no answer)."""
    if failure is Failure.AUTH:
        return MilvusAuthenticationError(rpc, code, f"authentication failed for {address}: {details}")
    if failure is Failure.TLS:
        return MilvusError(rpc, code, f"TLS handshake with {address} failed (check the CA and TLS files): {details}")
    if failure in (Failure.NOT_SENT, Failure.CONNECTION_LOST):
        return MilvusError(
            rpc,
            code,
            f"cannot reach Milvus at {address}: {details}",
            transient=True,
            outcome_unknown=failure is Failure.CONNECTION_LOST,
        )
    return MilvusError(
        rpc,
        code,
        f"{details or code} ({address})",
        transient=failure in (Failure.TIMED_OUT, Failure.OVERLOADED),
        outcome_unknown=failure is Failure.TIMED_OUT,
    )


def is_tls_failure(details: str) -> bool:
    lowered = details.lower()
    return any(marker in lowered for marker in _TLS_MARKERS)


def error_from_grpc(rpc: str, err: grpc.RpcError, settings: MilvusConnectionSettings) -> MilvusError:
    """A gRPC call that got no Milvus answer, as the provider's error."""
    code = err.code()
    details = err.details() or ""
    if code == grpc.StatusCode.UNAUTHENTICATED:
        failure = Failure.AUTH
    elif is_tls_failure(details):
        failure = Failure.TLS
    elif code == grpc.StatusCode.UNAVAILABLE:
        # A request that may have reached Milvus before the call failed: it may have taken effect.
        not_sent = any(marker in details.lower() for marker in _NOT_SENT_MARKERS)
        failure = Failure.NOT_SENT if not_sent else Failure.CONNECTION_LOST
    elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
        failure = Failure.TIMED_OUT
    elif code in _TRANSIENT_GRPC_CODES:
        failure = Failure.OVERLOADED
    else:
        failure = Failure.OTHER
    return transport_error(rpc, code.name, failure, details, settings.address)


def error_from_status(rpc: str, code: int, reason: str) -> MilvusError:
    """Milvus's status code and reason as the provider's error, whichever client carried them (a
    gRPC status, a ``MilvusClient`` exception, or the ``code`` and ``message`` of a REST answer)."""
    error_cls = MilvusAuthenticationError if code in _AUTH_MILVUS_CODES else MilvusError
    lowered = reason.lower()
    transient = (
        code in _TRANSIENT_MILVUS_CODES
        or any(marker in lowered for marker in _INTERNAL_UNREACHABLE_REASONS)
        or any(marker in lowered for marker in _BACKPRESSURE_REASONS)
    )
    return error_cls(rpc, code, reason, transient=transient)


def check_status(rpc: str, response: Message) -> Message:
    """Turn a non-success Milvus status into a MilvusError with Milvus's code and reason."""
    # Most RPCs answer a message with a status; those that only act (LoadCollection, CreateAlias,
    # DropCollection, ...) answer the status itself.
    status = response if isinstance(response, common_pb2.Status) else response.status
    code = status.code or status.error_code
    if not code:
        return response
    raise error_from_status(rpc, code, status.reason or common_pb2.ErrorCode.Name(status.error_code))


async def _async_credentials(settings: MilvusConnectionSettings) -> grpc.ChannelCredentials | None:
    """TLS credentials, read off the event loop (certificate files); None for plaintext."""
    return await asyncio.to_thread(settings.channel_credentials) if settings.secure else None


class MilvusBaseHook(BaseHook):
    """The transport under :class:`~airflow_provider_milvus.hooks.milvus.MilvusHook`: settings,
    channels and calls, with their errors mapped.

    :param milvus_conn_id: The Airflow connection to use.
    """

    conn_name_attr = "milvus_conn_id"
    default_conn_name = DEFAULT_CONN_ID

    def __init__(self, milvus_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.milvus_conn_id = milvus_conn_id
        self._settings: MilvusConnectionSettings | None = None
        self._channel: grpc.Channel | None = None
        self._stub: milvus_pb2_grpc.MilvusServiceStub | None = None
        self._async_credentials: grpc.ChannelCredentials | None = None
        self._async_ready = False
        # When this hook's blocking calls first tried to reach Milvus, until Milvus first answers.
        self._unanswered_since: float | None = None
        self._answered = False
        self._arest: MilvusRestTransport | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(milvus_conn_id={self.milvus_conn_id!r})"

    # --- Settings ---------------------------------------------------------------------------------

    @property
    def settings(self) -> MilvusConnectionSettings:
        """The connection's settings, parsed and checked once; their secrets masked in logs."""
        if self._settings is None:
            check_env_connection(self.milvus_conn_id)
            conn = self.get_connection(self.milvus_conn_id)
            settings = MilvusConnectionSettings.from_connection(conn)
            for secret in settings.secrets:
                mask_secret(secret)
            self._settings = settings
        return self._settings

    async def asettings(self) -> MilvusConnectionSettings:
        """The settings, fetched with Airflow's async connection API (for triggers), and the TLS
        credentials of the async channel; file reads stay off the event loop. Triggers that start
        together share one fetch (see :class:`~airflow_provider_milvus.utils.connection.SharedFetches`)."""
        if not self._async_ready:
            if self._settings is None:
                self._settings, self._async_credentials = await shared_fetches.get(
                    self.milvus_conn_id, self._fetch_async_settings
                )
            else:
                self._async_credentials = await _async_credentials(self._settings)
            self._async_ready = True
        assert self._settings is not None
        return self._settings

    async def _fetch_async_settings(self) -> tuple[MilvusConnectionSettings, grpc.ChannelCredentials | None]:
        check_env_connection(self.milvus_conn_id)
        conn = await aget_connection(self, self.milvus_conn_id)
        if MilvusConnectionSettings.names_files(conn):  # checked on disk: off the loop
            settings = await asyncio.to_thread(MilvusConnectionSettings.from_connection, conn)
        else:
            settings = MilvusConnectionSettings.from_connection(conn)
        for secret in settings.secrets:
            await amask_secret(secret)
        return settings, await _async_credentials(settings)

    def _db(self, db_name: str | None) -> str:
        return db_name or self.settings.db_name

    # --- gRPC calls -------------------------------------------------------------------------------

    def _sync_stub(self) -> milvus_pb2_grpc.MilvusServiceStub:
        if self._stub is None:
            settings = self.settings
            credentials = settings.channel_credentials()
            if credentials is None:
                self._channel = grpc.insecure_channel(settings.address, options=settings.channel_options())
            else:
                self._channel = grpc.secure_channel(settings.address, credentials, options=settings.channel_options())
            self._stub = milvus_pb2_grpc.MilvusServiceStub(self._channel)
        return self._stub

    def _call(self, rpc: str, request: Message, timeout: float | None, db_name: str | None = None) -> Any:
        """Send one RPC, blocking; Milvus's answer, or the provider's error."""
        settings = self.settings
        method = getattr(self._sync_stub(), rpc)
        if self._unanswered_since is None:
            self._unanswered_since = time.monotonic()
        try:
            response = method(request, metadata=settings.metadata(db_name), timeout=timeout or settings.timeout)
        except grpc.RpcError as err:
            raise self._never_answered(error_from_grpc(rpc, err, settings)) from None
        self._answered = True
        return check_status(rpc, response)

    def _never_answered(self, err: MilvusError) -> MilvusError:
        """``err``, no longer transient if Milvus has not answered this hook once in
        ``NEVER_ANSWERED_SECONDS``. Only a worker's calls: a trigger may start during an outage (a
        triggerer restarted while Milvus is down) and rides it out within its deadline."""
        waited = time.monotonic() - (self._unanswered_since or time.monotonic())
        if self._answered or not err.transient or waited < NEVER_ANSWERED_SECONDS:
            return err
        settings = self.settings
        host, _, port = settings.address.rpartition(":")
        return MilvusError(
            err.rpc,
            err.code,
            f"Milvus connection {settings.conn_id!r} (host {host}, port {port}) has not answered in {waited:.0f}s; "
            f"check the host and port: {err.reason}",
            outcome_unknown=err.outcome_unknown,
        )

    async def _acall(self, rpc: str, request: Message, timeout: float | None, db_name: str | None = None) -> Any:
        """Send one RPC on the running event loop, over the channel shared per loop."""
        settings = await self.asettings()
        method = getattr(async_channels.stub(settings, self._async_credentials), rpc)
        try:
            response = await method(request, metadata=settings.metadata(db_name), timeout=timeout or settings.timeout)
        except grpc.RpcError as err:
            raise error_from_grpc(rpc, err, settings) from None
        return check_status(rpc, response)

    # --- The REST API (Import V2) -----------------------------------------------------------------

    @cached_property
    def rest(self) -> MilvusRestTransport:
        """Milvus's REST import API on the connection's host and port (Milvus 2.4+), blocking."""
        from airflow_provider_milvus.hooks.milvus_rest import MilvusRestTransport, RestTarget

        return MilvusRestTransport(RestTarget.from_settings(self.settings))

    async def arest(self) -> MilvusRestTransport:
        """The REST import API for calls on the running event loop (over a client shared per loop)."""
        from airflow_provider_milvus.hooks.milvus_rest import MilvusRestTransport, RestTarget

        if self._arest is None:
            self._arest = MilvusRestTransport(RestTarget.from_settings(await self.asettings()))
        return self._arest

    # --- pymilvus's MilvusClient ------------------------------------------------------------------

    @cached_property
    def client(self) -> MilvusClient:
        """A ``pymilvus.MilvusClient`` for the connection (created on first use)."""
        from pymilvus import MilvusClient

        settings = self.settings
        if settings.address.startswith("["):
            # pymilvus builds its address from the URI's hostname, which drops the brackets.
            raise MilvusConfigError(
                f"Milvus connection {settings.conn_id!r}: host {settings.address.rsplit(':', 1)[0]} is an IPv6 "
                "address, which pymilvus's MilvusClient cannot dial; the provider's flush, import and waits "
                "work, and for get_conn() give a hostname that resolves to it"
            )
        from pymilvus.exceptions import MilvusException

        try:
            return MilvusClient(**settings.client_kwargs())
        except MilvusException as err:
            # pymilvus connects when the client is made, and says only "illegal connection params or
            # server unavailable": name the connection and where it points.
            reason = getattr(err, "message", "") or str(err)
            raise MilvusError(
                "connect",
                getattr(err, "code", 2),
                f"cannot connect to Milvus at {settings.address} (connection {settings.conn_id!r}): {reason}",
                transient=True,
            ) from None

    def _client_call(self, operation: str, call: Callable[[], T]) -> T:
        """Run a ``MilvusClient`` call; its errors classified as the stubs' are, with Milvus's code
        and reason, or the gRPC failure that kept Milvus from answering."""
        from pymilvus.exceptions import MilvusException

        if self._unanswered_since is None:
            self._unanswered_since = time.monotonic()
        try:
            result = call()
        except grpc.RpcError as err:
            # pymilvus lets a deadline, an auth refusal and a few more through as they are.
            raise self._never_answered(error_from_grpc(operation, err, self.settings)) from None
        except MilvusException as err:
            cause = err.__cause__
            if isinstance(cause, grpc.RpcError):
                # pymilvus's own retries ran out on a gRPC failure: classify that failure.
                raise self._never_answered(error_from_grpc(operation, cause, self.settings)) from None
            reason = getattr(err, "message", "") or str(err)
            if type(err) is not MilvusException:
                # ParamError, DataNotMatchException, ...: pymilvus refused the request before
                # sending it (their code, 1, is also Milvus's "not ready", which is transient).
                raise MilvusError(operation, err.code, reason) from None
            self._answered = True
            raise error_from_status(operation, err.code, reason) from None
        self._answered = True
        return result

    def close(self) -> None:
        """Close the hook's blocking channel, its client and its REST client, if open (the async
        channels and REST clients are shared per event loop)."""
        if self._channel is not None:
            self._channel.close()
            self._channel = self._stub = None
        if "client" in self.__dict__:
            self.client.close()
            del self.__dict__["client"]
        if "rest" in self.__dict__:
            self.rest.close()
            del self.__dict__["rest"]
