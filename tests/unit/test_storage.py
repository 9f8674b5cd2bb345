"""Import files as the server reads them: keys, s3:// URIs and ObjectStoragePaths, checked before any RPC."""

from __future__ import annotations

import re

import pytest

from airflow_provider_milvus.exceptions import MilvusConfigError
from airflow_provider_milvus.storage import import_file_keys, safe_path_part
from airflow_provider_milvus.utils.connection import MilvusConnectionSettings

LOCAL = MilvusConnectionSettings(conn_id="local", address="127.0.0.1:19530", secure=False)
S3 = MilvusConnectionSettings(conn_id="s3", address="127.0.0.1:19530", secure=False, bucket_name="milvus-bucket")


@pytest.mark.parametrize(
    ("settings", "files", "keys"),
    [
        (LOCAL, ["/data/imports/a.parquet"], ["/data/imports/a.parquet"]),
        (LOCAL, ["file:///data/imports/a.json"], ["/data/imports/a.json"]),
        (LOCAL, ["imports/a.parquet"], ["imports/a.parquet"]),
        (S3, ["imports/a.parquet"], ["imports/a.parquet"]),
        (S3, ["s3://milvus-bucket/imports/a.parquet"], ["imports/a.parquet"]),
        (S3, ["s3a://milvus-bucket/files/a.parquet"], ["files/a.parquet"]),
        (S3, ["s3://milvus-bucket/n/id.npy", "s3://milvus-bucket/n/vector.npy"], ["n/id.npy", "n/vector.npy"]),
    ],
)
def test_files_become_what_the_server_reads(settings, files, keys):
    assert import_file_keys(files, settings) == keys


def test_object_storage_paths_become_keys():
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    assert import_file_keys([ObjectStoragePath("s3://aws_default@milvus-bucket/imports/a.parquet")], S3) == [
        "imports/a.parquet"
    ]
    assert import_file_keys([ObjectStoragePath("file:///data/a.parquet")], LOCAL) == ["/data/a.parquet"]
    with pytest.raises(MilvusConfigError, match=re.escape("files[0]: 's3://other/a.parquet' is not an object")):
        import_file_keys([ObjectStoragePath("s3://other/a.parquet")], S3)


@pytest.mark.parametrize(
    ("settings", "files", "message"),
    [
        (LOCAL, ["s3://milvus-bucket/a.parquet"], "files[0]: 's3://milvus-bucket/a.parquet' names a bucket, but the"),
        (S3, ["s3://other/a.parquet"], "files[0]: 's3://other/a.parquet' is not an object in Milvus's bucket"),
        (S3, ["imports/a.parquet", "/abs/b.parquet"], "files[1]: '/abs/b.parquet' is a local path"),
        (S3, ["file:///abs/b.parquet"], "files[0]: '/abs/b.parquet' is a local path"),
        (S3, ["https://example.com/a.parquet"], "files[0]: 'https://example.com/a.parquet' has scheme 'https'"),
        (S3, [], "files must be a non-empty list"),
        (S3, "imports/a.parquet", "files must be a non-empty list"),
        (S3, [None], "files must hold non-empty path strings"),
        (S3, ["s3://milvus-bucket/a.parquet", "s3://milvus-bucket/b.json"], "one import takes one data file"),
    ],
)
def test_bad_files_are_named(settings, files, message):
    with pytest.raises(MilvusConfigError, match=re.escape(message)):
        import_file_keys(files, settings)


def test_run_ids_become_safe_key_parts():
    assert safe_path_part("manual__2025-01-01T00:00:00+00:00") == "manual__2025-01-01T00_00_00_00_00"
    assert safe_path_part("..") == "_"
