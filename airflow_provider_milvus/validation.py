"""Argument checks, run before any RPC: each error names the parameter and what was wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class MilvusConfigError(ValueError):
    """A Milvus connection field or argument is invalid; the message names it."""


IMPORT_SUFFIXES = (".json", ".parquet", ".npy")


def validate_collection_names(collection_names: Any, name: str = "collection_names") -> list[str]:
    names = [collection_names] if isinstance(collection_names, str) else collection_names
    if not isinstance(names, (list, tuple)) or not names:
        raise MilvusConfigError(
            f"{name} must be a collection name or a non-empty list of them, got {collection_names!r}"
        )
    for item in names:
        if not isinstance(item, str) or not item.strip():
            raise MilvusConfigError(f"{name} must hold non-empty strings, got {item!r}")
    return list(names)


def validate_segment_ids(segment_ids: Any, name: str = "segment_ids") -> list[int]:
    if not isinstance(segment_ids, (list, tuple)) or not segment_ids:
        raise MilvusConfigError(f"{name} must be a non-empty list of segment IDs, got {segment_ids!r}")
    ids = []
    for item in segment_ids:
        if isinstance(item, bool) or not isinstance(item, (int, str)) or not str(item).isdigit():
            raise MilvusConfigError(f"{name} must hold integer segment IDs, got {item!r}")
        ids.append(int(item))
    return ids


def validate_import_files(files: Any, name: str = "files") -> list[str]:
    if not isinstance(files, (list, tuple)) or not files:
        raise MilvusConfigError(f"{name} must be a non-empty list of file paths, got {files!r}")
    for path in files:
        if not isinstance(path, str) or not path.strip():
            raise MilvusConfigError(f"{name} must hold non-empty path strings, got {path!r}")
        if not path.lower().endswith(IMPORT_SUFFIXES):
            raise MilvusConfigError(
                f"{name}: {path!r} is not a file Milvus can import; use .json (row-based), .parquet, "
                "or one .npy file per field"
            )
    suffixes = {Path(path).suffix.lower() for path in files}
    if len(files) > 1 and suffixes != {".npy"}:
        raise MilvusConfigError(
            f"{name}: one import takes one JSON or Parquet file, or a set of .npy files; got {list(files)!r}"
        )
    return list(files)


def validate_import_task_id(import_task_id: Any, name: str = "import_task_id") -> int:
    if (
        isinstance(import_task_id, bool)
        or not isinstance(import_task_id, (int, str))
        or not str(import_task_id).strip().isdigit()
    ):
        raise MilvusConfigError(f"{name} must be an integer import task ID, got {import_task_id!r}")
    return int(str(import_task_id).strip())


def validate_positive(value: Any, name: str, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise MilvusConfigError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)
