"""Every input a user gives, generated: each is accepted, and what comes out is sane, or refused with
the provider's ``MilvusConfigError`` naming the parameter. Never a bare TypeError, KeyError,
AttributeError, IndexError, OverflowError or ValueError; never a secret in a message or a log line.

No Milvus server: what is checked is what runs before the first RPC (connection parsing, the
constructors, and the argument checks ``execute`` makes before it asks Milvus anything). A stand-in
hook raises :class:`ReachedMilvus` on any use, which marks an input as accepted by those checks.
The number of examples and their randomness come from the profile (tests/unit/conftest.py).
"""

from __future__ import annotations

import json
import math
import os
import string
from contextlib import contextmanager, suppress
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from airflow_provider_milvus import DEFAULT_PORT
from airflow_provider_milvus.exceptions import MilvusConfigError
from airflow_provider_milvus.hooks.milvus import MilvusHook
from airflow_provider_milvus.hooks.milvus_rest import MilvusRestTransport, RestTarget
from airflow_provider_milvus.operators.milvus import (
    MilvusAliasOperator,
    MilvusBulkInsertOperator,
    MilvusBulkWriteOperator,
    MilvusCollectionCheckOperator,
    MilvusCreateCollectionOperator,
    MilvusCreateIndexOperator,
    MilvusFlushOperator,
    MilvusIngestOperator,
    MilvusLoadCollectionOperator,
    MilvusReleaseCollectionOperator,
)
from airflow_provider_milvus.schema import FIELD_KEYS, VECTOR_TYPES, rows_from, validate_index_params, validate_schema
from airflow_provider_milvus.sensors.milvus import (
    MilvusFlushStateSensor,
    MilvusImportStateSensor,
    MilvusIndexStateSensor,
)
from airflow_provider_milvus.storage import import_file_keys
from airflow_provider_milvus.triggers.milvus import (
    MilvusFlushStateTrigger,
    MilvusImportStateTrigger,
    MilvusIndexStateTrigger,
)
from airflow_provider_milvus.utils.connection import MilvusConnectionSettings
from airflow_provider_milvus.validation import (
    parse_rendered_literal,
    validate_collection_names,
    validate_flush_target,
    validate_import_files,
    validate_import_options,
    validate_import_task_id,
    validate_positive,
    validate_vector,
)
from airflow_provider_milvus.wait import FlushStateTarget, RestImportStateTarget, deadline_after
from harness.airflow import AIRFLOW_2
from tests.log_capture import log_messages

pytestmark = pytest.mark.timeout(180)  # a hang fails the module instead of stalling the run

DATA_TYPES = MilvusHook.data_types()
INT64_MAX = 2**63 - 1


class ReachedMilvus(Exception):
    """Raised by the stand-in hook: the input got past every check made before an RPC."""


class NoMilvus:
    """A hook that answers only what needs no server (the data type names, import files as keys of
    a server with local storage); anything else is an RPC."""

    data_types = staticmethod(MilvusHook.data_types)
    settings = MilvusConnectionSettings(conn_id="props", address="h:19530", secure=False)

    def import_file_keys(self, files: Any) -> list[str]:
        return import_file_keys(files, self.settings)

    def __getattr__(self, name: str) -> Any:
        raise ReachedMilvus(name)


class NoCloudMilvus(NoMilvus):
    """NoMilvus of a Zilliz Cloud connection: its REST import builds and checks each request, then
    reaches Milvus instead of sending it."""

    settings = MilvusConnectionSettings(
        conn_id="props", address="h:19530", secure=False, token="key", cluster_id="in01-0123456789abcdef"
    )

    @property
    def rest(self) -> MilvusRestTransport:
        class Unsent(MilvusRestTransport):
            def call(self, *args: Any, **kwargs: Any) -> Any:
                raise ReachedMilvus("a REST call")

        return Unsent(RestTarget.from_settings(self.settings))

    def object_url_credentials(self, aws_conn_id: str | None = None) -> dict[str, str]:
        return {"access_key": "", "secret_key": "", "session_token": ""}


class NoContext(dict):
    """A task context none of the checks may need: reading it means they passed."""

    def __getitem__(self, key: str) -> Any:
        raise ReachedMilvus(f"context[{key!r}]")

    def get(self, key: str, default: Any = None) -> Any:
        raise ReachedMilvus(f"context.get({key!r})")


def refused_naming(err: BaseException, *names: str) -> None:
    """The error is the provider's and names one of the parameters."""
    assert isinstance(err, MilvusConfigError), f"{type(err).__name__}: {err}"
    message = str(err)
    assert any(name in message for name in names), f"{message!r} names none of {names}"


@contextmanager
def outcome(*names: str):
    """Run the block: it returns (accepted), or raises MilvusConfigError naming one of ``names``.
    Yields a one-item list that holds the error, if any."""
    caught: list[BaseException] = []
    try:
        yield caught
    except MilvusConfigError as err:
        refused_naming(err, *names)
        caught.append(err)


# --- Strategies ----------------------------------------------------------------------------------

# Any text, including control characters and NUL; and with a lone surrogate (JSON's "\ud800", bytes
# of an environment variable that are not UTF-8), which Hypothesis's text leaves out by default.
plain_text = st.text(st.characters(codec=None), max_size=30)
surrogate = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"])
any_text = st.one_of(plain_text, st.builds(lambda a, c, b: a + c + b, plain_text, surrogate, plain_text))
long_text = st.builds(lambda s, n: (s or "x") * n, st.text(max_size=8), st.integers(500, 5000))
texts = st.one_of(any_text, long_text, st.sampled_from(["", " ", "None", "null", "[]", "{}", "0", "-1", "²", "١٢"]))
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=2**60, max_value=2**70),
    st.just(10**400),
    st.floats(allow_nan=True, allow_infinity=True),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), any_text)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3), max_leaves=6
)
# What a template renders or an XCom holds: Python data, or its text (templates rendered as text).
python_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.one_of(any_text, st.integers()), inner, max_size=3)
    ),
    max_leaves=8,
)
# Text that reads almost as a Python literal: brackets, quotes and numbers in any order.
literal_soup = st.one_of(
    st.text(alphabet="[]{}(),:'\"0-1.e ", max_size=24),
    st.sampled_from(["{[1]: 2}", "{{1}}", "[" * 500, "(" * 150 + ")" * 150, "[1e400]", "[b'x']", "{1, 1}"]),
)
rendered = st.one_of(python_values, python_values.map(str), python_values.map(repr), literal_soup)

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True)
name_values = st.one_of(names, names.map(lambda n: f" {n} "), rendered)

# Secrets carry a marker no other generated field holds, so finding one in a message means it leaked.
SECRET_MARK = "Zq7-"
secrets = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12).map(lambda s: SECRET_MARK + s)


def hosts() -> st.SearchStrategy[tuple[str, str | None]]:
    """A host field, and the password it carries in its URI's user info (or None)."""
    hostname = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,15}[a-z0-9])?(\.[a-z0-9]{1,8}){0,2}", fullmatch=True)
    ipv4 = st.ip_addresses(v=4).map(str)
    ipv6 = st.ip_addresses(v=6).map(str)
    bare = st.one_of(hostname, ipv4, ipv6, ipv6.map(lambda a: f"[{a}]"), texts)
    plain = bare.map(lambda h: (h, None))

    @st.composite
    def uri(draw):
        scheme = draw(st.sampled_from(["http", "https", "tcp", "HTTPS", "ftp", "grpc", "", "unix"]) | any_text)
        password = draw(st.none() | secrets)
        user = draw(names)
        userinfo = "" if password is None else f"{user}:{password}@"
        port = draw(st.none() | st.integers(-5, 70000).map(str) | any_text)
        host = draw(bare)
        path = draw(st.sampled_from(["", "/", "/db", "?x=1", "#f"]))
        return f"{scheme}://{userinfo}{host}{'' if port is None else ':' + port}{path}", password

    @st.composite
    def host_port(draw):  # "host:port" without a scheme
        return f"{draw(bare)}:{draw(st.integers(-5, 70000).map(str) | any_text)}", None

    return st.one_of(plain, uri(), host_port())


TLS_FIELDS = ("server_pem_path", "ca_pem_path", "client_pem_path", "client_key_path")


@st.composite
def extras(draw) -> tuple[str | None, str | None]:
    """The extra field as stored (JSON text, or not), and the token it holds (or None)."""
    kind = draw(st.sampled_from(["known", "json", "text", "none"]))
    if kind == "none":
        return None, None
    if kind == "text":
        return draw(texts), None
    if kind == "json":
        return json.dumps(draw(json_values)), None
    token = draw(st.none() | secrets)
    storage_key = draw(st.none() | secrets)
    values = {
        "bucket_name": st.one_of(names, st.sampled_from(["a/b", "s3://b", ""]), json_values),
        "storage_endpoint": st.one_of(
            st.sampled_from(["http://minio:9000", "minio:9000", "https://s3.example.com", "ftp://x", "http://[::1"]),
            hosts().map(lambda h: h[0]),
            json_values,
        ),
        "storage_access_key": st.one_of(names, json_values),
        "storage_secret_key": st.just(storage_key) if storage_key is not None else json_values,
        "token": st.just(token) if token is not None else json_values,
        "db_name": st.one_of(names, json_values),
        "secure": st.one_of(st.booleans(), st.sampled_from(["true", "false", "yes", "off", "", "maybe"]), json_values),
        "timeout": st.one_of(
            st.floats(allow_nan=True), st.integers(), st.just(10**400), texts, st.sampled_from(["nan", "inf", "1e400"])
        ),
        "server_name": json_values,
        **{name: st.one_of(st.just(__file__), st.just("/nonexistent/x.pem"), texts) for name in TLS_FIELDS},
    }
    extra = draw(st.fixed_dictionaries({}, optional=values))
    if draw(st.booleans()):  # the older forms' prefixed keys
        extra = {f"extra__milvus__{key}": value for key, value in extra.items()}
    if "token" not in extra and "extra__milvus__token" not in extra:
        token = None
    if token is None and storage_key is not None and any(key.endswith("storage_secret_key") for key in extra):
        token = storage_key  # the secret to look for
    return json.dumps(extra), token


STORAGE_FIELDS = ("bucket_name", "storage_endpoint", "storage_access_key", "storage_secret_key")
CONNECTION_FIELDS = (
    "host", "port", "extra", "timeout", "secure", "db_name", "login", "password", "token", *TLS_FIELDS,
    *STORAGE_FIELDS,
)  # fmt: skip


def secret_values(password: Any, uri_password: str | None, token: Any) -> list[str]:
    return [s for s in (password, uri_password, token) if isinstance(s, str) and s.startswith(SECRET_MARK)]


def assert_secret_free(text: str, secret_list: list[str]) -> None:
    # The marker alone catches a secret shown in part, or escaped (repr, JSON) past its marker.
    assert SECRET_MARK not in text, f"a secret is shown: {text!r}"
    for secret in secret_list:
        assert secret not in text, f"a secret is shown: {text!r}"


def check_settings(settings: MilvusConnectionSettings, host: str, port: Any, login: Any, password: Any) -> None:
    """What accepted settings must be: an address gRPC can dial, the credentials as given."""
    address_host, _, address_port = settings.address.rpartition(":")
    assert address_host and address_port.isdigit() and 0 < int(address_port) < 65536
    assert settings.uri == f"{'https' if settings.secure else 'http'}://{settings.address}"
    given = host.strip()
    if given and all(c in string.ascii_lowercase + string.digits + ".-" for c in given):
        # A plain hostname: kept as it is, with the port given (or the default one).
        expected_port = DEFAULT_PORT if port in (None, "") else int(port)
        assert settings.address == f"{given}:{expected_port}"
    assert settings.user == (login or "") and settings.password == (password or "")
    assert settings.timeout is None or (math.isfinite(settings.timeout) and settings.timeout > 0)
    # Everything made from the settings works, the secrets in it never shown.
    # gRPC sends the metadata as headers: printable ASCII only ("Invalid metadata" otherwise).
    for _, value in settings.metadata():
        assert all(" " <= c <= "~" for c in value), f"metadata {value!r} is no header value"
    settings.metadata("db")
    settings.client_kwargs()
    settings.channel_options()
    hash(settings)
    shown = repr(settings)
    assert SECRET_MARK not in shown, f"a secret is shown: {shown!r}"
    for secret in settings.secrets:
        # A short drawn value ("0") is found in any address; the drawn secrets carry the mark.
        assert len(secret) < 8 or secret not in shown, f"a secret is shown: {shown!r}"


# --- Connections ---------------------------------------------------------------------------------


@given(
    host=hosts(),
    port=st.one_of(st.none(), st.integers(-10, 70000), st.integers(), any_text),
    schema=st.none() | texts,
    login=st.none() | names | texts,
    password=st.none() | secrets,
    extra=extras(),
)
@example(host=("h", None), port=None, schema=None, login=None, password=None, extra=("[1, 2]", None)).via(
    "extra a JSON list: AttributeError 'list' object has no attribute 'items'"
)
@example(
    host=("h", None),
    port=None,
    schema=None,
    login=None,
    password=None,
    extra=(json.dumps({"ca_pem_path": "a" * 5000}), None),
).via("a TLS file path too long for the file system: OSError File name too long")
@example(
    host=("h", None), port=None, schema=None, login=None, password=None, extra=(json.dumps({"timeout": 10**400}), None)
).via("timeout too big for a float: OverflowError")
@example(
    host=("h", None), port=None, schema=None, login=None, password=None, extra=(json.dumps({"timeout": "nan"}), None)
).via("timeout NaN accepted")
@example(
    host=("h", None), port=None, schema=None, login=None, password=None, extra=(json.dumps({"timeout": True}), None)
).via("timeout true accepted as 1 second")
@example(host=("h", None), port=None, schema=None, login="u", password="Zq7-\ud800", extra=(None, None)).via(
    "a password with a lone surrogate: UnicodeEncodeError building the authorization"
)
@example(host=("h\ud800", None), port=None, schema=None, login=None, password=None, extra=(None, None)).via(
    "a host with a lone surrogate: UnicodeEncodeError when the channel is made"
)
@example(
    host=("http://u:Zq7-pw@h:abc", "Zq7-pw"), port=None, schema=None, login=None, password=None, extra=(None, None)
).via("the password in a host URI's user info shown in the error")
@example(host=("u:Zq7-pw@h:1:2", "Zq7-pw"), port=None, schema=None, login=None, password=None, extra=(None, None)).via(
    "the password in a host's user info shown in the error (no scheme)"
)
@example(
    host=("http://u:Zq7-pw@\uff03h:1", "Zq7-pw"), port=None, schema=None, login=None, password=None, extra=(None, None)
).via("the password in urlsplit's own error about the host")
@example(host=("http://A:Zq7-/@0", "Zq7-/"), port=None, schema=None, login=None, password=None, extra=(None, None)).via(
    "an unquoted / in a host URI's password: the password shown"
)
@example(host=("h", None), port=None, schema=None, login=None, password=None, extra=("1" * 4301, None)).via(
    "an extra of 4301 digits: ValueError from Airflow's JSON parsing"
)
@example(host=("h", None), port=None, schema="données", login=None, password=None, extra=(None, None)).via(
    "a database name that is no header value: every call fails with gRPC's Invalid metadata"
)
@example(
    host=("h", None),
    port=None,
    schema=None,
    login=None,
    password=None,
    extra=(json.dumps({"storage_endpoint": "http://[::1"}), None),
).via("a storage endpoint urlsplit cannot read: bare ValueError")
@example(host=("0.0.0.0", None), port=None, schema=None, login="0", password=None, extra=(None, None)).via(
    "a user without a password: 'user:' is no secret, though it is found in the address"
)
def test_connection_fields_parse_or_name_the_field(host, port, schema, login, password, extra):
    from airflow.providers.common.compat.sdk import Connection

    host_value, uri_password = host
    extra_value, token = extra
    try:
        conn = Connection(
            conn_id="props",
            conn_type="milvus",
            host=host_value,
            port=port,
            schema=schema,
            login=login,
            password=password,
            extra=extra_value,
        )
    except (ValueError, UnicodeError):
        # Airflow 2's Connection is a database model: it encrypts the password and parses the extra
        # as they are set, and refuses what it cannot store; no such connection reaches the hook.
        assume(AIRFLOW_2)
        return
    secret_list = secret_values(password, uri_password, token)
    with log_messages() as logged, outcome(*CONNECTION_FIELDS) as refused:
        settings = MilvusConnectionSettings.from_connection(conn)
        check_settings(settings, host_value, port, login, password)
    if refused:
        assert_secret_free(str(refused[0]), secret_list)
    assert_secret_free("\n".join(logged), secret_list)


def connection_env_value(draw_conn: dict[str, Any], as_uri: bool) -> str:
    if not as_uri:
        return json.dumps({"conn_type": "milvus", **draw_conn})
    from urllib.parse import quote

    login = quote(draw_conn.get("login") or "", safe="")
    password = quote(draw_conn.get("password") or "", safe="")
    userinfo = f"{login}:{password}@" if login or password else ""
    port = draw_conn.get("port")
    query = draw_conn.get("extra_query") or ""
    return f"milvus://{userinfo}{draw_conn.get('host') or ''}{'' if port is None else f':{port}'}/{draw_conn.get('schema') or ''}{query}"


@given(
    host=hosts(),
    port=st.one_of(st.none(), st.integers(-10, 70000), any_text, json_values),
    schema=st.none() | names | any_text,
    login=st.none() | names,
    password=st.none() | secrets,
    token=st.none() | secrets,
    extra=st.one_of(st.none(), json_values, any_text),
    as_uri=st.booleans(),
)
@example(
    host=("h", None), port=None, schema="\ud800", login=None, password=None, token=None, extra=None, as_uri=False
).via("a lone surrogate Airflow's backend cannot write as a URI: reported as not defined")
@example(
    host=("http://0", None), port=None, schema=None, login=None, password="Zq7-", token=None, extra=None, as_uri=True
).via("a URI Airflow cannot parse: its AirflowException quotes it, password included")
@example(
    host=("h", None), port=[None], schema=None, login=None, password=None, token=None, extra=None, as_uri=False
).via("a list as the port: TypeError from Airflow's Connection.from_json")
def test_connection_from_the_environment_parses_or_names_the_field(
    host, port, schema, login, password, token, extra, as_uri
):
    """The forms users write: ``AIRFLOW_CONN_*`` as JSON or as a URI, read by the hook."""
    host_value, uri_password = host
    if as_uri:
        conn = {"host": host_value, "port": port if isinstance(port, int) else None, "schema": schema}
        conn.update(login=login, password=password)
        if token is not None:
            from urllib.parse import quote

            conn["extra_query"] = f"?token={quote(token, safe='')}"
    else:  # the extra as any JSON (Airflow takes an object or its text), the token in an object
        if token is not None:
            extra = {**extra, "token": token} if isinstance(extra, dict) else {"token": token}
        conn = {"host": host_value, "port": port, "schema": schema, "login": login, "password": password}
        conn["extra"] = extra
    value = connection_env_value(conn, as_uri)
    assume("\x00" not in value)  # an environment variable cannot hold NUL
    try:
        value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        assume(False)  # nor text that is no bytes
    secret_list = secret_values(password, uri_password, token)
    environment = mock.patch.dict(os.environ, {"AIRFLOW_CONN_PROPS_ENV": value})
    with environment, log_messages() as logged, outcome(*CONNECTION_FIELDS, "AIRFLOW_CONN_PROPS_ENV") as refused:
        settings = MilvusHook("props_env").settings
        address_port = int(settings.address.rpartition(":")[2])
        assert 0 < address_port < 65536
        settings.metadata()
    if refused:
        assert_secret_free(str(refused[0]), secret_list)
    assert_secret_free("\n".join(logged), secret_list)


# --- Rendered text, names, flush targets, imports --------------------------------------------------


@given(value=st.one_of(rendered, literal_soup))
@example(value="{[1]: 2}").via("an unhashable key: TypeError from ast.literal_eval")
def test_rendered_text_reads_back_as_data_or_stays_text(value):
    """A template rendered as text reads back as the list, dict or tuple it shows, or stays as it is."""
    result = parse_rendered_literal(value)
    if isinstance(value, str) and result is not value:
        assert isinstance(result, (list, dict, tuple, set)) or value.strip()[:1] == "("
    if not isinstance(value, str):
        assert result is value


@given(value=name_values)
def test_collection_names_keep_the_names(value):
    with outcome("collection_names") as refused:
        result = validate_collection_names(value)
    if not refused:
        given_names = [value] if isinstance(value, str) else list(value)
        assert result == given_names and all(isinstance(n, str) and n.strip() for n in result)
        for n in result:
            n.encode()  # sendable


@given(
    segment_ids=st.one_of(rendered, st.lists(st.one_of(st.integers(), texts, st.just(True)), max_size=4)),
    collection_name=st.one_of(st.none(), names, rendered),
    flush_ts=st.one_of(st.none(), numbers, texts, rendered),
)
@example(segment_ids=["²"], collection_name=None, flush_ts=None).via("a superscript digit: bare ValueError from int()")
@example(segment_ids=["9" * 5000], collection_name=None, flush_ts=None).via("5000 digits: int()'s ValueError")
@example(segment_ids=[2**63], collection_name=None, flush_ts=None).via("out of int64: ValueError encoding the request")
@example(segment_ids=[], collection_name="c", flush_ts=2**64).via("out of uint64: ValueError encoding the request")
@example(segment_ids=[1], collection_name=["a", "b"], flush_ts=None).via("a list as collection_name: 'b' dropped")
def test_flush_targets_keep_what_they_are_given(segment_ids, collection_name, flush_ts):
    with outcome("segment_ids", "collection_name", "flush_ts") as refused:
        target = validate_flush_target(segment_ids, collection_name, flush_ts)
    if not refused:
        assert all(isinstance(i, int) and 0 <= i <= INT64_MAX for i in target["segment_ids"])
        assert len(target["segment_ids"]) == len(segment_ids)
        if collection_name:
            assert target["collection_name"] == collection_name
        assert target["flush_ts"] is None or 0 < target["flush_ts"] < 2**64
        assert target["segment_ids"] or (target["collection_name"] and target["flush_ts"])


@st.composite
def flush_results(draw) -> Any:
    """The flush operator's result, near enough to it to pass some checks, as data or as its text."""
    report = st.fixed_dictionaries(
        {},
        optional={
            "segment_ids": st.one_of(st.lists(st.integers(0, 10**6), max_size=3), python_values),
            "flush_ts": st.one_of(st.integers(0, 2**64 + 5), python_values),
            "flushed_segment_ids": st.lists(st.integers(0, 9), max_size=2),
        },
    )
    collections = st.dictionaries(
        st.one_of(names, python_values.filter(lambda v: isinstance(v, (str, int)))), report | python_values, max_size=3
    )
    result = draw(
        st.fixed_dictionaries(
            {"collections": collections | python_values},
            optional={"db_name": st.one_of(names, python_values), "channel_checkpoints": python_values},
        )
        | python_values
    )
    return draw(st.sampled_from([result, repr(result), str(result)]))


@given(flush_result=flush_results(), db_name=st.none() | names)
@example(flush_result={"collections": {"c": 1}}, db_name=None).via("a report that is no dict: TypeError")
@example(flush_result={"collections": {"c": {}}}, db_name=None).via("a report without segment_ids: KeyError")
@example(flush_result={"collections": {"": {"segment_ids": [1]}}}, db_name=None).via("a blank collection name dropped")
def test_flush_sensor_takes_a_flush_result_or_names_it(flush_result, db_name):
    with outcome("flush_result", "segment_ids", "collection_name", "flush_ts", "db_name") as refused:
        target = FlushStateTarget.from_inputs(flush_result=flush_result, db_name=db_name)
    if not refused:
        result = parse_rendered_literal(flush_result)
        assert [c["collection_name"] for c in target.collections] == list(result["collections"])
        assert target.description


@given(
    segment_ids=st.one_of(rendered, st.lists(st.integers(0, 10**6), min_size=1, max_size=3).map(str)),
    collection_name=st.one_of(st.none(), names, texts),
    flush_ts=st.one_of(st.none(), numbers, texts),
    db_name=st.one_of(st.none(), names, rendered),
)
def test_flush_sensor_inputs_render_to_a_target_or_name_the_parameter(segment_ids, collection_name, flush_ts, db_name):
    with outcome("segment_ids", "collection_name", "flush_ts", "db_name") as refused:
        sensor = MilvusFlushStateSensor(
            task_id="s", segment_ids=segment_ids, collection_name=collection_name, flush_ts=flush_ts, db_name=db_name
        )
        target = sensor.wait_target()
    if not refused:
        assert len(target.collections) == 1
        assert target.db_name is None or isinstance(target.db_name, str)


npy = st.builds(lambda n: f"/data/{n}.npy", names)
paths = st.one_of(names.map(lambda n: f"/data/{n}.json"), npy, names.map(lambda n: f"s3/{n}.parquet"), texts)


@given(files=st.one_of(rendered, st.lists(paths, max_size=4), st.lists(npy, min_size=2, max_size=4)))
@example(files=["/data/\ud800.json"]).via("a lone surrogate: UnicodeEncodeError encoding the Import")
def test_import_files_are_kept_or_named(files):
    with outcome("files") as refused:
        result = validate_import_files(files)
    if not refused:
        assert result == list(files) and all(isinstance(p, str) and p.strip() for p in result)
        for path in result:
            path.encode()  # sendable


s3_uris = st.builds(
    lambda scheme, bucket, key: f"{scheme}://{bucket}/{key}",
    st.sampled_from(["s3", "S3", "s3a", "gs", "file", "http"]),
    st.one_of(st.just("milvus-bucket"), names, any_text),
    st.one_of(names.map(lambda n: f"imports/{n}.parquet"), st.just(""), any_text),
)


@given(
    files=st.one_of(rendered, st.lists(st.one_of(paths, s3_uris, st.sampled_from(["s3://[bad", "s3://"])), max_size=3)),
    bucket=st.sampled_from(["", "milvus-bucket"]),
)
@example(files=["s3://[bad/key.parquet"], bucket="milvus-bucket").via("urlsplit's bare ValueError")
def test_import_files_become_keys_of_the_bucket_or_are_named(files, bucket):
    settings = MilvusConnectionSettings(conn_id="props", address="h:19530", secure=False, bucket_name=bucket)
    with outcome("files") as refused:
        keys = import_file_keys(files, settings)
    if not refused:
        assert len(keys) == len(files) and all(isinstance(k, str) and k.strip() for k in keys)
        for key in keys:
            key.encode()
            if bucket:  # keys in the bucket, from its root
                assert "://" not in key and not key.startswith("/")


option_values = st.one_of(texts, numbers, st.booleans(), st.none(), python_values)


@given(
    options=st.one_of(rendered, st.dictionaries(st.one_of(names, any_text, st.integers()), option_values, max_size=4))
)
def test_import_options_become_strings_or_are_named(options):
    with outcome("options") as refused:
        result = validate_import_options(options)
    if not refused:
        assert set(result) == set(options or {}) and all(isinstance(v, str) for v in result.values())
        for key, value in result.items():
            (key + value).encode()  # sendable
        assert result.get("auto_commit", "true").strip().lower() not in ("false", "0", "no", "off")


@given(import_task_id=st.one_of(numbers, texts, rendered, st.integers(0, INT64_MAX).map(str)))
@example(import_task_id="²").via("a superscript digit: bare ValueError from int()")
@example(import_task_id=str(2**63)).via("out of int64: ValueError encoding the request")
def test_import_task_ids_are_int64_or_named(import_task_id):
    with outcome("import_task_id") as refused:
        task_id = validate_import_task_id(import_task_id)
    if not refused:
        assert isinstance(task_id, int) and 0 <= task_id <= INT64_MAX
        assert task_id == int(str(import_task_id).strip())


@given(import_task_id=st.one_of(numbers, texts, rendered), api=st.sampled_from(["auto", "grpc", "rest"]))
def test_import_sensor_renders_an_import_task_id_or_names_it(import_task_id, api):
    sensor = MilvusImportStateSensor(task_id="s", import_task_id=import_task_id, api=api)
    # Nothing is sent, and "auto" goes by the ID alone.
    environment = mock.patch.dict(os.environ, {"AIRFLOW_CONN_MILVUS_DEFAULT": "milvus://127.0.0.1:19530"})
    with environment, outcome("import_task_id") as refused:
        target = sensor.wait_target()
    if not refused:
        if isinstance(target, RestImportStateTarget):
            assert api in ("rest", "auto") and target.job_id == str(import_task_id).strip() and target.job_id
        else:
            assert 0 <= target.import_task_id <= INT64_MAX


@given(
    collection_name=name_values,
    index_name=st.one_of(st.none(), names, rendered),
    field_name=st.one_of(st.none(), names, rendered),
    db_name=st.one_of(st.none(), names, rendered),
)
def test_index_sensor_renders_a_target_or_names_the_parameter(collection_name, index_name, field_name, db_name):
    sensor = MilvusIndexStateSensor(
        task_id="s", collection_name=collection_name, index_name=index_name, field_name=field_name, db_name=db_name
    )
    with outcome("collection_name", "index_name", "field_name", "db_name") as refused:
        target = sensor.wait_target()
    if not refused:
        assert target.collection_name == collection_name
        assert all(isinstance(n, str) and n.strip() for n in target.index_names)
        assert target.field_name is None or target.field_name == field_name


class HookBeforeMilvus(MilvusHook):
    """The hook, up to reading its connection: its argument checks come first."""

    @property
    def settings(self) -> MilvusConnectionSettings:
        raise ReachedMilvus("settings")

    def _call(self, *args: Any, **kwargs: Any) -> Any:
        raise ReachedMilvus("_call")


HOOK_CALLS = {
    "flush": (lambda hook, v: hook.flush(v), ("collection_names",)),
    "get_flush_state": (lambda hook, v: hook.get_flush_state(*v), ("segment_ids", "collection_name", "flush_ts")),
    "bulk_insert": (lambda hook, v: hook.bulk_insert(*v), ("collection_name", "files", "options")),
    "get_import_state": (lambda hook, v: hook.get_import_state(v), ("import_task_id",)),
    "collection_asset": (lambda hook, v: hook.collection_asset(v), ("collection_name",)),
}


@given(
    call=st.sampled_from(sorted(HOOK_CALLS)),
    value=st.one_of(rendered, name_values),
    values=st.tuples(st.one_of(rendered, name_values), st.one_of(rendered, name_values), python_values),
)
def test_hook_methods_check_their_arguments_before_the_connection(call, value, values):
    method, parameters = HOOK_CALLS[call]
    argument = values if len(parameters) > 1 else value
    with outcome(*parameters), suppress(ReachedMilvus):
        method(HookBeforeMilvus("props_hook"), argument)


# --- Numbers: intervals, timeouts, batch sizes ---------------------------------------------------


@given(value=st.one_of(numbers, texts, st.none(), st.booleans()))
@example(value=float("nan")).via("NaN accepted: time.sleep(nan) raises ValueError")
@example(value=float("inf")).via("infinity accepted: a wait that never polls again, or OverflowError")
@example(value=1e300).via("a deadline past datetime's last date: OverflowError")
@example(value=10**400).via("an int too big for a float: OverflowError")
def test_seconds_are_finite_and_usable_or_named(value):
    with outcome("poll_interval") as refused:
        seconds = validate_positive(value, "poll_interval")
    if not refused:
        assert math.isfinite(seconds) and seconds > 0
        # What the waits make of it works.
        deadline_after(seconds)
        timedelta(seconds=seconds + 60)


@st.composite
def one_odd_argument(draw, arguments: dict[str, st.SearchStrategy[Any]]) -> tuple[str, Any]:
    name = draw(st.sampled_from(sorted(arguments)))
    return name, draw(arguments[name])


seconds_values = st.one_of(numbers, texts, st.none(), st.booleans(), st.just(5.0))


@given(
    odd=one_odd_argument(
        {
            "poll_interval": seconds_values,
            "wait_timeout": seconds_values,
            "submit_timeout": seconds_values,
            "rpc_timeout": seconds_values,
        }
    )
)
def test_waiting_operators_take_sane_seconds_or_name_them(odd):
    name, value = odd
    with outcome(name) as refused:
        op = MilvusFlushOperator(task_id="t", collection_names="c", **{name: value})
    if not refused:
        value = getattr(op, name)
        assert value is None or (math.isfinite(value) and value > 0)


@given(
    odd=one_odd_argument(
        {
            "batch_size": st.one_of(numbers, texts, st.none(), st.booleans()),
            "rpc_timeout": seconds_values,
        }
    )
)
def test_ingest_batch_size_is_a_positive_integer_or_named(odd):
    name, value = odd
    with outcome(name) as refused:
        op = MilvusIngestOperator(task_id="t", collection_name="c", data=[], **{name: value})
    if not refused and name == "batch_size":
        assert isinstance(op.batch_size, int) and not isinstance(op.batch_size, bool) and op.batch_size > 0


@given(
    odd=one_odd_argument(
        {
            "limit": st.one_of(numbers, texts, st.none(), st.booleans()),
            "expected_count": st.one_of(numbers, texts, rendered),
            "min_count": st.one_of(numbers, texts, rendered),
        }
    )
)
@example(odd=("expected_count", "²")).via("a superscript digit: bare ValueError from int()")
@example(odd=("min_count", "9" * 5000)).via("5000 digits: int()'s ValueError")
def test_check_operator_counts_are_whole_numbers_or_named(odd):
    name, value = odd
    with outcome(name):
        MilvusCollectionCheckOperator(task_id="t", collection_name="c", **{name: value})


@given(
    odd=one_odd_argument(
        {
            "replica_number": st.one_of(numbers, texts, st.booleans()),
            "resource_groups": rendered,
            "load_fields": rendered,
        }
    )
)
def test_load_operator_arguments_or_named(odd):
    name, value = odd
    with outcome(name):
        MilvusLoadCollectionOperator(task_id="t", collection_name="c", **{name: value})


@given(drop_grace_period=st.one_of(numbers, texts, st.none(), st.booleans()))
@example(drop_grace_period=float("nan")).via("NaN accepted: time.sleep(nan) raises ValueError after the switch")
def test_alias_grace_period_is_sane_or_named(drop_grace_period):
    with outcome("drop_grace_period") as refused:
        op = MilvusAliasOperator(task_id="t", alias="a", collection_name="c", drop_grace_period=drop_grace_period)
    if not refused:
        assert math.isfinite(op.drop_grace_period) and op.drop_grace_period >= 0


sensor_seconds = st.one_of(numbers, st.none(), st.booleans(), texts, st.sampled_from([timedelta.max, timedelta(-1)]))


@given(poke_interval=sensor_seconds, timeout=st.one_of(st.just(60), sensor_seconds))
@example(poke_interval=10**400, timeout=60).via("Airflow's conversion: OverflowError Python int too large")
@example(poke_interval=float("nan"), timeout=60).via("Airflow's conversion: ValueError cannot convert NaN")
@example(poke_interval=5, timeout=-1).via("Airflow's own check: a bare ValueError")
@example(poke_interval=5, timeout=float("inf")).via("an infinite timeout: OverflowError making the deadline")
def test_sensor_intervals_are_sane_or_named(poke_interval, timeout):
    with outcome("poke_interval", "timeout") as refused:
        sensor = MilvusImportStateSensor(task_id="s", import_task_id=1, poke_interval=poke_interval, timeout=timeout)
    if not refused:
        assert math.isfinite(sensor.poke_interval) and sensor.poke_interval > 0
        assert math.isfinite(sensor.timeout) and sensor.timeout >= 0
        deadline_after(sensor.timeout)  # as a deferred sensor makes its deadline


# --- Schemas, indexes and rows ---------------------------------------------------------------------

type_names = st.one_of(st.sampled_from(sorted(DATA_TYPES)), st.sampled_from(sorted(DATA_TYPES)).map(str.lower), texts)
flags = st.one_of(st.booleans(), st.sampled_from(["false", "true", 0, 1, None]), python_values)
positive_ints = st.one_of(st.integers(1, 4096), numbers, texts, st.booleans())
field_values = {
    "name": st.one_of(names, texts, python_values),
    "type": type_names,
    "element_type": type_names,
    "is_primary": flags,
    "auto_id": flags,
    "nullable": flags,
    "is_partition_key": flags,
    "dim": positive_ints,
    "max_length": positive_ints,
    "max_capacity": positive_ints,
    "description": st.one_of(texts, python_values),
}
odd_fields = st.fixed_dictionaries({}, optional=field_values) | python_values
PRIMARY = {"name": "id", "type": "INT64", "is_primary": True}
VECTOR = {"name": "vector", "type": "FLOAT_VECTOR", "dim": 8}


@st.composite
def schemas(draw) -> Any:
    """A valid schema with odd fields among its own, or odd parts, as data or as its text."""
    fields = draw(st.lists(odd_fields, max_size=3))
    if draw(st.booleans()):
        fields = [PRIMARY, VECTOR, *fields]
    schema = draw(
        st.fixed_dictionaries(
            {"fields": st.just(draw(st.permutations(fields))) | python_values},
            optional={
                "enable_dynamic_field": flags,
                "description": st.one_of(texts, python_values),
                "shards": python_values,
            },
        )
        | python_values
    )
    return draw(st.sampled_from([schema, repr(schema)]))


def build_pymilvus_schema(schema: dict[str, Any]) -> None:
    """Build the collection schema as the hook does before CreateCollection (no server needed)."""
    from pymilvus import DataType, MilvusClient

    milvus_schema = MilvusClient.create_schema(
        enable_dynamic_field=schema["enable_dynamic_field"], description=schema["description"]
    )
    for field in schema["fields"]:
        kwargs = {key: value for key, value in field.items() if key not in ("name", "type", "element_type")}
        if "element_type" in field:
            kwargs["element_type"] = DataType[field["element_type"]]
        milvus_schema.add_field(field["name"], DataType[field["type"]], **kwargs)


@given(schema=schemas())
@example(schema={"fields": [PRIMARY, {**VECTOR, "nullable": "false"}]}).via("nullable 'false' read as true")
@example(schema={"fields": [PRIMARY, VECTOR], "enable_dynamic_field": "false"}).via(
    "enable_dynamic_field 'false' read as true"
)
def test_schemas_are_normalized_or_name_the_part(schema):
    with outcome("schema") as refused:
        result = validate_schema(parse_rendered_literal(schema), DATA_TYPES)
    if refused:
        return
    fields = result["fields"]
    given = parse_rendered_literal(schema)
    given_fields = given["fields"]
    # Flags are taken as given, never read from a string such as "false".
    assert result["enable_dynamic_field"] is given.get("enable_dynamic_field", False)
    for asked, field in zip(given_fields, fields, strict=True):
        assert all(field[flag] is asked[flag] for flag in ("is_primary", "auto_id", "nullable") if flag in asked)
    assert [f["name"] for f in fields] == [f["name"] for f in given_fields]
    assert len({f["name"] for f in fields}) == len(fields)
    assert sum(f.get("is_primary") is True for f in fields) == 1
    assert any(f["type"] in VECTOR_TYPES for f in fields)
    assert all(f["type"] in DATA_TYPES and set(f) <= FIELD_KEYS for f in fields)
    for f in fields:
        for flag in ("is_primary", "auto_id", "nullable", "is_partition_key"):
            assert flag not in f or isinstance(f[flag], bool)
    assert isinstance(result["enable_dynamic_field"], bool) and isinstance(result["description"], str)
    build_pymilvus_schema(result)  # what the hook makes of it, before CreateCollection


index_values = {
    "field_name": st.one_of(st.sampled_from(["id", "vector", "other"]), python_values),
    "index_type": st.one_of(st.sampled_from(["HNSW", "IVF_FLAT", "AUTOINDEX"]), python_values),
    "metric_type": st.one_of(st.sampled_from(["L2", "IP", "COSINE"]), python_values),
    "params": st.one_of(st.dictionaries(names, python_values, max_size=2), python_values),
    "index_name": st.one_of(names, python_values),
}


@given(
    index_params=st.one_of(
        python_values, st.lists(st.fixed_dictionaries({}, optional=index_values) | python_values, max_size=3)
    )
)
@example(index_params=[{"field_name": "vector", "index_name": ["a"]}]).via(
    "an index_name list: TypeError unhashable type when the index operator looks it up"
)
def test_index_params_are_kept_or_name_the_part(index_params):
    with outcome("index_params") as refused:
        result = validate_index_params(index_params, ["id", "vector"])
    if refused:
        return
    assert result == list(index_params or [])
    for spec in result:
        assert spec["field_name"] in ("id", "vector") and isinstance(spec.get("params", {}), dict)
        for key in ("index_type", "metric_type", "index_name"):
            assert key not in spec or (isinstance(spec[key], str) and spec[key].strip())


@given(
    data=st.one_of(
        rendered,
        st.lists(st.dictionaries(names, python_values, max_size=3) | python_values, max_size=4),
        st.dictionaries(names, st.lists(python_values, max_size=3) | python_values, max_size=3),
    )
)
def test_rows_are_rows_or_name_the_data(data):
    with outcome("data") as refused:
        rows = rows_from(parse_rendered_literal(data))
    if refused:
        return
    assert all(isinstance(row, dict) for row in rows)
    value = parse_rendered_literal(data)
    if isinstance(value, dict):
        assert all(set(row) == set(value) for row in rows) and len(rows) == len(next(iter(value.values())))
    else:
        assert len(rows) == len(value)


# --- Operators' templated inputs, rendered, up to the first RPC -----------------------------------

# Per operator: its valid arguments, and the templated ones to make odd (rendered data or its text).
OPERATORS: dict[str, tuple[type, dict[str, Any], tuple[str, ...]]] = {
    "flush": (MilvusFlushOperator, {"collection_names": "c", "db_name": None}, ("collection_names", "db_name")),
    "bulk_insert": (
        MilvusBulkInsertOperator,
        {"collection_name": "c", "files": ["/d/a.json"], "options": None, "partition_name": None, "db_name": None},
        ("collection_name", "files", "options", "partition_name", "db_name"),
    ),
    "bulk_insert_cloud": (
        MilvusBulkInsertOperator,
        {"collection_name": "c", "files": None, "api": "rest", "object_urls": ["s3://b/a.parquet"], "options": None},
        ("object_urls", "volume_name", "data_paths", "options", "partition_name"),
    ),
    "bulk_write": (
        MilvusBulkWriteOperator,
        {"collection_name": "c", "data": [{"id": 1}], "remote_path": "bulk_imports", "local_path": "/srv/imports"},
        ("collection_name", "data", "remote_path"),
    ),
    "create_collection": (
        MilvusCreateCollectionOperator,
        {"collection_name": "c", "schema": {"fields": [PRIMARY, VECTOR]}, "index_params": None},
        ("collection_name", "schema", "index_params"),
    ),
    "create_index": (
        MilvusCreateIndexOperator,
        {"collection_name": "c", "index_params": [{"field_name": "vector"}]},
        ("collection_name",),  # index_params are checked against the collection Milvus describes
    ),
    "ingest": (
        MilvusIngestOperator,
        {"collection_name": "c", "data": [{"id": 1}], "partition_name": None},
        ("collection_name", "data", "partition_name"),
    ),
    "load": (
        MilvusLoadCollectionOperator,
        {"collection_name": "c", "partition_names": None},
        ("collection_name", "partition_names"),
    ),
    "release": (
        MilvusReleaseCollectionOperator,
        {"collection_name": "c", "partition_names": None},
        ("collection_name", "partition_names"),
    ),
    "alias": (
        MilvusAliasOperator,
        {"alias": "a", "collection_name": "c", "db_name": None},
        ("alias", "collection_name", "db_name"),
    ),
    "check": (
        MilvusCollectionCheckOperator,
        {"collection_name": "c", "filter": "", "import_states": None, "probe_vector": None},
        ("collection_name", "filter", "import_states", "probe_vector", "expected_count", "min_count"),
    ),
}


@st.composite
def operator_inputs(draw) -> tuple[str, str, Any]:
    key = draw(st.sampled_from(sorted(OPERATORS)))
    param = draw(st.sampled_from(OPERATORS[key][2]))
    return key, param, draw(st.one_of(rendered, name_values))


def run_until_milvus(op: Any) -> None:
    op.__dict__["hook"] = NoCloudMilvus() if getattr(op, "api", None) == "rest" else NoMilvus()
    with suppress(ReachedMilvus):
        op.execute(NoContext())


@given(inputs=operator_inputs())
@example(inputs=("alias", "collection_name", ["a", "b"])).via("a list as collection_name: 'b' dropped")
@example(inputs=("check", "expected_count", "²")).via("a superscript digit: bare ValueError from int()")
@example(inputs=("check", "filter", "id > \ud800")).via("a lone surrogate: UnicodeEncodeError in the query")
@example(inputs=("flush", "db_name", 5)).via("a db_name that is no name, sent on as gRPC metadata")
@example(inputs=("alias", "db_name", "données")).via("a db_name that is no header value: Invalid metadata")
@example(inputs=("flush", "collection_names", ["c\ud800"])).via("a lone surrogate: UnicodeEncodeError in the request")
def test_operators_check_rendered_inputs_before_any_rpc(inputs):
    """A templated input given as the data it renders to (native rendering, an XCom) or as its text."""
    key, param, value = inputs
    cls, arguments, _ = OPERATORS[key]
    with outcome(param) as refused:
        op = cls(task_id="t", **{**arguments, param: value})
        run_until_milvus(op)
    if not refused and param in ("collection_name", "alias"):
        assert isinstance(value, str) and value.strip()


@given(inputs=operator_inputs(), native=st.booleans())
def test_operators_rendered_by_airflow_check_their_inputs(inputs, native):
    """Through Airflow's render path: a template pulling the odd value from params, in a DAG."""
    from airflow.providers.common.compat.sdk import DAG

    key, param, value = inputs
    cls, arguments, _ = OPERATORS[key]
    with outcome(param) as refused:
        with DAG("props", schedule=None, render_template_as_native_obj=native):
            op = cls(task_id="t", **{**arguments, param: "{{ params.value }}"})
        if param not in op.template_fields:
            return
        try:
            op.render_template_fields({"params": {"value": value}})
        except TypeError:
            # Jinja's native rendering (jinja2.nativetypes.native_concat) lets literal_eval's TypeError
            # for text such as "{[1]: 2}" through: Airflow fails the render, before the operator runs.
            assume(not native)
            raise
        run_until_milvus(op)
    del refused


# --- Triggers: what the triggerer renders for a sensor started there -------------------------------

TRIGGER_INPUTS = {
    MilvusFlushStateTrigger: ("segment_ids", "collection_name", "flush_ts", "db_name", "flush_result"),
    MilvusImportStateTrigger: ("import_task_id",),
    MilvusIndexStateTrigger: ("collection_name", "index_names", "field_name", "db_name"),
}


@st.composite
def trigger_inputs(draw) -> tuple[type, dict[str, Any]]:
    cls = draw(st.sampled_from(list(TRIGGER_INPUTS)))
    inputs = {name: draw(st.one_of(st.none(), rendered, name_values)) for name in TRIGGER_INPUTS[cls]}
    return cls, inputs


@given(inputs=trigger_inputs())
def test_triggers_check_what_the_triggerer_rendered(inputs):
    """Built with templates (nothing checked yet), then rendered to odd values: the trigger's run
    checks them first, and only a MilvusConfigError (which it reports as an error event) may come."""
    cls, rendered_inputs = inputs
    templates = {name: "{{ ti.xcom_pull(task_ids='x', map_indexes=-1) }}" for name in rendered_inputs}
    trigger = cls(**templates)
    for name, value in rendered_inputs.items():
        setattr(trigger, name, value)
    with outcome(*rendered_inputs, "index_name") as refused:
        target = trigger.target()
        assert target.description
    del refused


@given(
    odd=one_odd_argument(
        {
            "poll_interval": seconds_values,
            "rpc_timeout": seconds_values,
            "timeout": seconds_values,
            "deadline": st.one_of(texts, python_values, st.just("2026-01-01T00:00:00+00:00")),
            "milvus_conn_id": st.one_of(names, python_values),
            "end_task": python_values,
        }
    )
)
def test_trigger_kwargs_are_checked_or_named(odd):
    """Trigger kwargs come back from the database as JSON: anything there is refused by name."""
    name, value = odd
    with outcome(name):
        MilvusImportStateTrigger(import_task_id=1, **{name: value})


@pytest.mark.parametrize("key", sorted(OPERATORS))
def test_valid_arguments_reach_milvus(key):
    """The stand-in hook is reached with valid arguments: the properties above are not passing
    because every input is refused."""
    cls, arguments, _ = OPERATORS[key]
    op = cls(task_id="t", **arguments)
    op.__dict__["hook"] = NoMilvus()
    with pytest.raises(ReachedMilvus):
        op.execute(NoContext())


@given(
    collections=st.one_of(
        python_values,
        st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "segment_ids": st.one_of(st.lists(st.integers(0, 99), max_size=2), python_values),
                    "collection_name": st.one_of(names, python_values),
                    "flush_ts": st.one_of(st.integers(0, 2**65), python_values),
                },
            )
            | python_values,
            max_size=3,
        ),
    ),
    db_name=st.one_of(st.none(), names, python_values),
)
def test_flush_trigger_collections_are_checked_or_named(collections, db_name):
    with outcome("collections", "segment_ids", "collection_name", "flush_ts", "db_name") as refused:
        trigger = MilvusFlushStateTrigger(collections=collections, db_name=db_name)
        target = trigger.target()
    if not refused:
        assert target.db_name is None or (isinstance(target.db_name, str) and target.db_name.strip())
        assert [c["segment_ids"] for c in trigger.collections] == [
            [int(i) for i in c["segment_ids"]] for c in collections
        ]


@given(
    probe_vector=st.one_of(rendered, st.lists(numbers, min_size=1, max_size=4)),
    import_states=st.one_of(
        st.none(),
        rendered,
        st.lists(st.fixed_dictionaries({"row_count": st.one_of(st.integers(), st.booleans(), numbers)}), max_size=3),
    ),
)
@example(probe_vector=[10**400], import_states=None).via("an int too big for a float: OverflowError after count(*)")
@example(probe_vector=[float("nan")], import_states=None).via("a NaN searched with")
@example(probe_vector=None, import_states=[{"row_count": -5}]).via("a negative row count taken")
def test_check_operator_probe_vector_and_import_states_are_sane_or_named(probe_vector, import_states):
    op = MilvusCollectionCheckOperator(
        task_id="t", collection_name="c", probe_vector=probe_vector, import_states=import_states
    )
    with outcome("probe_vector", "import_states") as refused:
        vector = validate_vector(op.probe_vector, "probe_vector")
        imported = op._imported_rows()
        run_until_milvus(op)
    if not refused:
        assert vector is None or all(math.isfinite(x) for x in vector)
        assert imported is None or imported >= 0
