"""Bulk insert from object storage, on a real Milvus whose storage is a bucket of a real S3 server.

The ``s3_milvus`` fixture starts moto's S3 server and a Milvus with ``minio.rootPath=files`` on it.
Import files are object keys from the bucket's root; writing them goes through pymilvus's bulk
writer (MilvusBulkWriteOperator). A local-storage Milvus (the ``milvus_server`` fixture) covers the
writer's local mode.
"""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from pymilvus import MilvusClient

from airflow_provider_milvus.exceptions import MilvusConfigError, MilvusError, MilvusWaitFailed
from airflow_provider_milvus.operators.milvus import MilvusBulkInsertOperator, MilvusBulkWriteOperator
from harness.s3 import ACCESS_KEY, SECRET_KEY
from tests.integration.helpers import DIM, make_collection, unique, vectors
from tests.task_context import context

pytestmark = pytest.mark.timeout(300)


def _conn_env(s3_milvus, **extra) -> str:
    host, port = s3_milvus["uri"].removeprefix("http://").split(":")
    return json.dumps({"conn_type": "milvus", "host": host, "port": int(port), "extra": extra})


@pytest.fixture
def s3(s3_milvus, monkeypatch):
    """The S3 server; ``milvus_default`` names Milvus's bucket and the keys to write to it, and
    ``aws_test`` is an AWS-style connection to the same server."""
    server = s3_milvus["s3"]
    monkeypatch.setenv(
        "AIRFLOW_CONN_MILVUS_DEFAULT",
        _conn_env(
            s3_milvus,
            bucket_name=server.bucket,
            storage_endpoint=server.endpoint_url,
            storage_access_key=ACCESS_KEY,
            storage_secret_key=SECRET_KEY,
        ),
    )
    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_NO_KEYS", _conn_env(s3_milvus, bucket_name=server.bucket))
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_TEST",
        json.dumps(
            {
                "conn_type": "aws",
                "login": ACCESS_KEY,
                "password": SECRET_KEY,
                "extra": {"endpoint_url": server.endpoint_url, "region_name": "us-east-1"},
            }
        ),
    )
    return server


@pytest.fixture
def client(s3_milvus):
    client = MilvusClient(uri=s3_milvus["uri"])
    yield client
    client.close()


def fixed_collection(client) -> str:
    """A collection without a dynamic field: what the bulk writer writes of a dynamic field differs
    by pymilvus version (test_bulk_write_of_a_dynamic_field_collection)."""
    return make_collection(client, enable_dynamic_field=False)


def _upload_parquet(s3, key: str, rows: list[dict]) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "id": pa.array([r["id"] for r in rows], pa.int64()),
            "vector": pa.array([r["vector"] for r in rows], pa.list_(pa.float32())),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    s3.client().put_object(Bucket=s3.bucket, Key=key, Body=buffer.getvalue())
    return key


def _import(collection: str, files, **kwargs) -> int:
    op = MilvusBulkInsertOperator(
        task_id=unique("import"),
        collection_name=collection,
        files=files,
        wait_for_completion=True,
        poll_interval=0.5,
        **kwargs,
    )
    ctx = context()
    op.execute(ctx)
    return ctx["ti"].pushed["import_state"]["row_count"]


def _searchable(client, collection: str) -> None:
    # Imported segments of a loaded collection are searchable once the load is refreshed.
    client.load_collection(collection)
    client.refresh_load(collection)


def _count(client, collection: str) -> int:
    _searchable(client, collection)
    return int(client.query(collection, output_fields=["count(*)"], consistency_level="Strong")[0]["count(*)"])


def _ids(client, collection: str) -> list[int]:
    _searchable(client, collection)
    rows = client.query(collection, filter="id >= 0", output_fields=["id"], consistency_level="Strong", limit=16384)
    return sorted(row["id"] for row in rows)


def test_keys_from_the_bucket_root_with_and_without_the_root_path(s3, client):
    """Keys count from the bucket's root: one outside Milvus's root path and one inside it both import."""
    collection = make_collection(client)
    outside = _upload_parquet(s3, f"imports/{unique('a')}.parquet", vectors(30))
    inside = _upload_parquet(s3, f"files/imports/{unique('b')}.parquet", vectors(20, start=100))
    assert _import(collection, [outside]) == 30
    assert _import(collection, [inside]) == 20
    assert _count(client, collection) == 50


def test_s3_uris_and_object_storage_paths_of_milvus_bucket_become_keys(s3, client):
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    collection = make_collection(client)
    first = _upload_parquet(s3, f"imports/{unique('uri')}.parquet", vectors(10))
    second = _upload_parquet(s3, f"imports/{unique('path')}.parquet", vectors(10, start=10))
    assert _import(collection, [f"s3://{s3.bucket}/{first}"]) == 10
    assert _import(collection, [ObjectStoragePath(f"s3://aws_test@{s3.bucket}/{second}")]) == 10
    assert _ids(client, collection) == list(range(20))


@pytest.mark.parametrize(
    ("files", "named"),
    [
        (
            ["s3://another-bucket/imports/a.parquet"],
            "files[0]: 's3://another-bucket/imports/a.parquet' is not an object",
        ),
        (["/var/lib/milvus/imports/a.parquet"], "files[0]: '/var/lib/milvus/imports/a.parquet' is a local path"),
        (["gs://milvus-bucket/a.parquet"], "files[0]: 'gs://milvus-bucket/a.parquet' has scheme 'gs'"),
        ([f"s3://{'milvus-bucket'}/"], "is not an object in Milvus's bucket"),
    ],
)
def test_files_outside_milvus_bucket_fail_before_the_import(s3, client, files, named):
    collection = make_collection(client)
    with pytest.raises(MilvusConfigError, match=re.escape(named)):
        MilvusBulkInsertOperator(task_id="t", collection_name=collection, files=files).execute(context())
    assert client.query(collection, output_fields=["count(*)"])[0]["count(*)"] == 0


def test_a_missing_key_fails_with_milvus_reason(s3, client):
    collection = make_collection(client)
    with pytest.raises(MilvusWaitFailed, match=r"imports/missing\.parquet.*The specified key does not exist"):
        _import(collection, ["imports/missing.parquet"])


def test_bulk_write_splits_large_data_into_file_groups_that_import_exactly(s3, client):
    collection = fixed_collection(client)
    rows = vectors(3000)
    write = MilvusBulkWriteOperator(task_id="write", collection_name=collection, data=rows, chunk_size=64 * 1024)
    ctx = context()
    groups = write.execute(ctx)
    assert len(groups) > 1
    prefix = "bulk_imports/d/manual__2025-01-01T00_00_00_00_00/t"
    assert sorted(key for group in groups for key in group) == s3.keys(prefix)
    assert all(key.startswith(f"{prefix}/") and key.endswith(".parquet") for group in groups for key in group)
    imported = sum(_import(collection, group) for group in groups)
    assert imported == 3000
    assert _ids(client, collection) == list(range(3000))


def test_retried_write_leaves_and_returns_only_its_own_files(s3, client):
    collection = fixed_collection(client)
    # The first try writes a group, then meets a row that does not fit the schema.
    bad = [*vectors(2000), {"id": 2000, "vector": [0.0] * (DIM + 1)}]
    write = MilvusBulkWriteOperator(task_id="write", collection_name=collection, data=bad, chunk_size=16 * 1024)
    with pytest.raises(MilvusConfigError, match="data: row 2000 does not fit the collection's schema"):
        write.execute(context(try_number=1))
    prefix = "bulk_imports/d/manual__2025-01-01T00_00_00_00_00/t"
    assert s3.keys(prefix), "the first try wrote a group before the bad row"
    retry = MilvusBulkWriteOperator(
        task_id="write", collection_name=collection, data=vectors(2001), chunk_size=16 * 1024
    )
    groups = retry.execute(context(try_number=2))
    assert sorted(key for group in groups for key in group) == s3.keys(prefix)
    assert sum(_import(collection, group) for group in groups) == 2001
    assert _ids(client, collection) == list(range(2001))


def test_bulk_write_with_an_aws_connection_and_columns(s3, client, caplog):
    collection = fixed_collection(client)
    columns = {"id": list(range(50)), "vector": [[0.5] * DIM for _ in range(50)]}
    write = MilvusBulkWriteOperator(
        task_id="write",
        collection_name=collection,
        data=columns,
        aws_conn_id="aws_test",
        milvus_conn_id="milvus_no_keys",
    )
    caplog.set_level(logging.DEBUG)
    groups = write.execute(context())
    assert len(groups) == 1
    assert _import(collection, groups[0]) == 50
    assert SECRET_KEY not in caplog.text and ACCESS_KEY not in caplog.text
    assert SECRET_KEY not in json.dumps(groups)


def test_bulk_write_of_a_parquet_source(s3, client, tmp_path):
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    from tests.integration.helpers import write_parquet

    collection = fixed_collection(client)
    source = write_parquet(tmp_path, vectors(70))
    groups = MilvusBulkWriteOperator(
        task_id="write", collection_name=collection, source=ObjectStoragePath(f"file://{source}")
    ).execute(context())
    assert sum(_import(collection, group) for group in groups) == 70


def test_bulk_write_of_a_dynamic_field_collection(s3, client):
    """A dynamic field's keys go through the writer; pymilvus before 3.0 writes the field into
    Parquet as ``large_utf8``, which Milvus 2.3 refuses: its reason reaches the task."""
    import pymilvus

    collection = make_collection(client)
    rows = [{**row, "tag": f"t{row['id']}"} for row in vectors(40)]
    groups = MilvusBulkWriteOperator(task_id="write", collection_name=collection, data=rows).execute(context())
    if int(pymilvus.__version__.split(".")[0]) >= 3:
        assert sum(_import(collection, group) for group in groups) == 40
        _searchable(client, collection)
        found = client.query(collection, filter='tag == "t7"', output_fields=["id"], consistency_level="Strong")
        assert [row["id"] for row in found] == [7]
    else:
        with pytest.raises(MilvusWaitFailed, match=r"field schema is not match.*large_utf8"):
            _import(collection, groups[0])


@pytest.mark.parametrize(
    ("kwargs", "error", "named"),
    [
        ({"data": [{"id": 1}]}, MilvusConfigError, "data: row 0 does not fit the collection's schema"),
        ({"data": [[1, 2]]}, MilvusConfigError, r"data\[0\] must be a dict"),
        ({"data": []}, MilvusConfigError, "data holds no rows"),
        ({"data": vectors(1), "local_path": "/tmp/x"}, MilvusConfigError, "local_path: the Milvus connection"),
        ({"data": vectors(1), "remote_path": "/"}, MilvusConfigError, "remote_path must be a key prefix"),
        ({"data": vectors(1), "milvus_conn_id": "milvus_no_keys"}, MilvusConfigError, "gives no S3 endpoint"),
        ({"data": vectors(1), "collection_name": "no_such_collection"}, MilvusError, "'no_such_collection'"),
        ({"source": "rows.txt"}, MilvusConfigError, "source must be a .parquet or .csv file"),
    ],
)
def test_bad_bulk_write_input_is_named(s3, client, kwargs, error, named):
    kwargs = {"collection_name": make_collection(client), **kwargs}
    with pytest.raises(error, match=named):
        MilvusBulkWriteOperator(task_id="write", **kwargs).execute(context())


def test_wrong_storage_keys_fail_the_write(s3, client, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_TEST",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "wrong",
                "password": "wrong-secret",
                "extra": {"endpoint_url": "http://127.0.0.1:1"},
            }
        ),
    )
    write = MilvusBulkWriteOperator(
        task_id="write", collection_name=make_collection(client), data=vectors(5), aws_conn_id="aws_test"
    )
    with pytest.raises(Exception) as raised:
        write.execute(context())
    assert "wrong-secret" not in str(raised.value)


def test_bulk_write_to_a_local_storage_milvus(milvus_uri, milvus_client, import_dir):
    collection = make_collection(milvus_client)
    groups = MilvusBulkWriteOperator(
        task_id="write", collection_name=collection, data=vectors(25), local_path=str(import_dir), file_type="json"
    ).execute(context())
    assert len(groups) == 1 and groups[0][0].startswith(str(import_dir)) and groups[0][0].endswith(".json")
    op = MilvusBulkInsertOperator(
        task_id="import", collection_name=collection, files=groups[0], wait_for_completion=True, poll_interval=0.5
    )
    ctx = context()
    op.execute(ctx)
    assert ctx["ti"].pushed["import_state"]["row_count"] == 25


def test_bulk_write_to_a_local_storage_milvus_needs_local_path(milvus_uri, milvus_client):
    with pytest.raises(
        MilvusConfigError, match="local_path: the Milvus connection 'milvus_default' names no bucket_name"
    ):
        MilvusBulkWriteOperator(
            task_id="write", collection_name=make_collection(milvus_client), data=vectors(1)
        ).execute(context())
