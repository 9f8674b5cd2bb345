"""Where Milvus reads import files, and writing them there.

A Milvus with local storage reads import files as paths on its own disk. A Milvus with MinIO or S3
storage reads them as object keys in its own bucket (``minio.bucketName``), counted from the
bucket's root: its ``minio.rootPath`` is not prepended (measured on Milvus 2.3.5: a file stored at
``imports/a.parquet`` imports as ``imports/a.parquet``; ``/imports/a.parquet`` and
``s3://bucket/imports/a.parquet`` fail with "failed to get file size"). Files given as
``s3://bucket/key`` URIs or Airflow ``ObjectStoragePath`` objects are turned into those keys here,
before any request, when they name Milvus's bucket (the connection's ``bucket_name`` extra).

Files are written with the library Milvus ships for it, ``pymilvus.bulk_writer`` (the
``bulk-writer`` extra of this provider), which checks each row against the collection's schema.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_milvus.exceptions import MilvusConfigError, MilvusError
from airflow_provider_milvus.validation import validate_import_files

if TYPE_CHECKING:
    from pymilvus import CollectionSchema

    from airflow_provider_milvus.utils.connection import MilvusConnectionSettings

_S3_SCHEMES = ("s3", "s3a")
FILE_TYPES = ("parquet", "json", "csv")


def import_file_keys(files: Any, settings: MilvusConnectionSettings, name: str = "files") -> list[str]:
    """``files`` as the server reads them: object keys in its bucket, or local paths.

    Each file may be a key or local path (kept as given), an ``s3://bucket/key`` URI or an
    ``ObjectStoragePath``. A URI or path of another bucket, or a local path given for a server whose
    connection names a bucket, fails here naming the file.
    """
    if not isinstance(files, (list, tuple)) or not files:
        raise MilvusConfigError(f"{name} must be a non-empty list of file paths, got {files!r}")
    return validate_import_files([_import_key(file, settings, f"{name}[{i}]") for i, file in enumerate(files)], name)


def _import_key(file: Any, settings: MilvusConnectionSettings, name: str) -> Any:
    bucket = settings.bucket_name
    where = f"the Milvus connection {settings.conn_id!r}"
    protocol = getattr(file, "protocol", None)
    if protocol is not None and hasattr(file, "key"):  # an ObjectStoragePath
        protocols = (protocol,) if isinstance(protocol, str) else tuple(protocol)
        if "file" in protocols or "local" in protocols:
            file = str(file.path)
        elif not set(protocols) & set(_S3_SCHEMES):
            raise MilvusConfigError(f"{name}: {str(file)!r} is not in S3 storage; Milvus reads its own bucket")
        else:
            file = f"s3://{file.bucket}/{file.key}"
    if not isinstance(file, str) or not file.strip():
        return file  # validate_import_files names it
    if "://" in file:
        try:
            parts = urlsplit(file)
        except ValueError:  # e.g. an IPv6 literal with unbalanced brackets
            raise MilvusConfigError(f"{name}: {file!r} is not a valid URI") from None
        scheme = parts.scheme.lower()
        if scheme == "file":
            file = parts.path
        elif scheme in _S3_SCHEMES:
            key = parts.path.lstrip("/")
            if not bucket:
                raise MilvusConfigError(
                    f"{name}: {file!r} names a bucket, but {where} does not say which bucket Milvus reads: set its "
                    f"bucket_name extra, or give the object key {key!r}"
                )
            if parts.hostname != bucket or not key:
                raise MilvusConfigError(
                    f"{name}: {file!r} is not an object in Milvus's bucket {bucket!r}; Milvus reads import files only "
                    "from its own bucket"
                )
            return key
        else:
            raise MilvusConfigError(
                f"{name}: {file!r} has scheme {parts.scheme!r}; give an object key, an s3:// URI or a local path"
            )
    if bucket and file.startswith("/"):
        raise MilvusConfigError(
            f"{name}: {file!r} is a local path, but Milvus reads import files from its bucket {bucket!r} "
            f"(the bucket_name of {where}); give the object's key, from the bucket's root"
        )
    return file


# --- Writing import files --------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Destination:
    """Milvus's bucket and the keys to write to it. Its secrets never reach a log or an XCom."""

    bucket_name: str
    endpoint: str
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    region: str | None = None

    def connect_param(self) -> Any:
        from pymilvus.bulk_writer import RemoteBulkWriter

        parts = urlsplit(self.endpoint if "://" in self.endpoint else f"http://{self.endpoint}")
        return RemoteBulkWriter.S3ConnectParam(
            bucket_name=self.bucket_name,
            endpoint=parts.netloc,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=parts.scheme == "https",
            region=self.region,
        )

    def minio(self) -> Any:
        from minio import Minio

        parts = urlsplit(self.endpoint if "://" in self.endpoint else f"http://{self.endpoint}")
        return Minio(
            parts.netloc,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=parts.scheme == "https",
            region=self.region,
        )


def safe_path_part(text: str) -> str:
    """``text`` as one part of an object key or a directory name (a run ID holds ``:`` and ``+``)."""
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text).strip("._") or "_"


def bulk_writer_module() -> Any:
    try:
        import pymilvus.bulk_writer as bulk_writer
    except ModuleNotFoundError as err:
        raise MilvusConfigError(
            f"Writing import files needs pymilvus's bulk writer: install airflow-provider-milvus[bulk-writer] ({err})"
        ) from None
    return bulk_writer


def write_import_files(
    schema: CollectionSchema,
    rows: Iterable[Mapping[str, Any]],
    *,
    prefix: str,
    destination: S3Destination | None,
    local_dir: str | None,
    file_type: str,
    chunk_size: int,
    name: str = "data",
) -> list[list[str]]:
    """Write ``rows`` under ``prefix`` (a key prefix in the bucket, or a directory under ``local_dir``)
    as file groups of about ``chunk_size`` bytes each, ready for one import each.

    Whatever an earlier try left under ``prefix`` is removed first, so a retried write leaves only
    its own files there and returns only them.
    """
    bulk_writer = bulk_writer_module()
    file_types = {"parquet": bulk_writer.BulkFileType.PARQUET, "json": bulk_writer.BulkFileType.JSON}
    if hasattr(bulk_writer.BulkFileType, "CSV"):
        file_types["csv"] = bulk_writer.BulkFileType.CSV
    if file_type not in file_types:
        raise MilvusConfigError(f"file_type must be one of {sorted(file_types)}, got {file_type!r}")
    staging = tempfile.mkdtemp(prefix="milvus-bulk-write-")
    try:
        # The writer flushes a chunk in a thread of its own, where an error is only logged: chunks
        # are cut here instead, each committed and checked before the next.
        unbounded = 1 << 60
        writer: Any
        if destination is not None:
            _remove_objects(destination, prefix)
            writer = bulk_writer.RemoteBulkWriter(
                schema=schema,
                remote_path=prefix,
                connect_param=destination.connect_param(),
                chunk_size=unbounded,
                file_type=file_types[file_type],
                # Where it stages files before the upload (older pymilvus: beside sys.argv[0], always).
                **({"local_path": staging} if _stages_where_told(bulk_writer) else {}),
            )
        else:
            assert local_dir is not None
            target = Path(local_dir) / prefix
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            writer = bulk_writer.LocalBulkWriter(
                schema=schema, local_path=str(target), chunk_size=unbounded, file_type=file_types[file_type]
            )
        with writer:
            count = 0
            for count, row in enumerate(rows, 1):
                if not isinstance(row, Mapping):
                    raise MilvusConfigError(f"{name}: row {count - 1} must be a mapping of field names, got {row!r}")
                try:
                    writer.append_row(dict(row))
                except MilvusConfigError:
                    raise
                except Exception as err:  # pymilvus raises MilvusException, TypeError, ... per bad value
                    raise MilvusConfigError(
                        f"{name}: row {count - 1} does not fit the collection's schema: {err}"
                    ) from None
                if writer.buffer_size >= chunk_size:
                    _commit(writer)
            if count == 0:
                raise MilvusConfigError(f"{name} holds no rows")
            if writer.buffer_row_count:
                _commit(writer)
            return [[str(path) for path in group] for group in writer.batch_files]
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _stages_where_told(bulk_writer: Any) -> bool:
    import importlib

    return hasattr(importlib.import_module(f"{bulk_writer.__name__}.remote_bulk_writer"), "TEMP_LOCAL_PATH")


def _commit(writer: Any) -> None:
    before = len(writer.batch_files)
    writer.commit()
    if len(writer.batch_files) != before + 1:
        raise MilvusError("BulkWrite", "write failed", "a file group could not be written (pymilvus logged why)")


def _remove_objects(destination: S3Destination, prefix: str) -> None:
    from minio.deleteobjects import DeleteObject

    client = destination.minio()
    if not client.bucket_exists(destination.bucket_name):
        raise MilvusConfigError(f"bucket {destination.bucket_name!r} does not exist at {destination.endpoint}")
    stale = [
        DeleteObject(item.object_name)
        for item in client.list_objects(destination.bucket_name, prefix=f"{prefix}/", recursive=True)
    ]
    for error in client.remove_objects(destination.bucket_name, stale):
        raise MilvusError("BulkWrite", error.code, f"could not remove {error.name!r} left by an earlier try")


def rows_from_file(source: Any, schema: CollectionSchema, name: str = "source") -> Iterator[dict[str, Any]]:
    """Rows of a Parquet or CSV file (an ``ObjectStoragePath`` or a local path), batch by batch.

    CSV holds vectors, arrays and JSON as text: those values are parsed as JSON.
    """
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    suffix = Path(str(getattr(source, "path", source))).suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise MilvusConfigError(f"{name} must be a .parquet or .csv file, got {str(source)!r}")
    opener = source.open if hasattr(source, "open") else Path(source).open
    textual = {f.name for f in schema.fields if _is_structured(f.dtype)}
    try:
        with opener("rb") as handle:
            if suffix == ".parquet":
                batches: Iterable[Any] = pq.ParquetFile(handle).iter_batches()
            else:
                batches = pa_csv.open_csv(handle)
            for batch in batches:
                for row in batch.to_pylist():
                    for key in textual & row.keys():
                        if isinstance(row[key], str):
                            row[key] = json.loads(row[key])
                    yield row
    except FileNotFoundError:
        raise MilvusConfigError(f"{name}: {str(source)!r} does not exist") from None


def _is_structured(dtype: Any) -> bool:
    name = getattr(dtype, "name", "")
    return name.endswith("VECTOR") or name in ("JSON", "ARRAY")
