"""Argument checks, run before any RPC: each error names the parameter and what was wrong."""

from __future__ import annotations

import ast
import math
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, overload

from airflow_provider_milvus.exceptions import MilvusConfigError
from airflow_provider_milvus.types import FlushTarget


def parse_rendered_literal(value: Any) -> Any:
    """A rendered template value as Python data.

    Without ``render_template_as_native_obj`` a template renders a list, dict or tuple (an XCom,
    a param) as its ``repr``; text that reads as a Python literal of one of those is parsed back.
    Anything else is returned as it is.
    """
    if isinstance(value, str) and value.strip()[:1] in ("[", "{", "("):
        try:
            return ast.literal_eval(value.strip())
        # (TypeError: a literal that builds an unhashable key, as "{[1]: 2}" does; RecursionError and
        # MemoryError: one nested too deep for the parser.)
        except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError):
            return value
    return value


def is_template(value: Any) -> bool:
    """Whether a value is Jinja text still to be rendered (in the triggerer, for a task started there)."""
    return isinstance(value, str) and any(mark in value for mark in ("{{", "{%"))


# Milvus's IDs are int64 (segment IDs, import job IDs), its timestamps uint64 (a flush's
# hybrid timestamp): a bigger number fails in the request's encoding, not with Milvus's answer.
INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1
# The longest wait, poll interval or timeout taken, in seconds (about 31 years): a deadline
# further out than this soon passes the last date a datetime can hold.
MAX_SECONDS = 1e9


def _whole_number(value: Any, maximum: int) -> int | None:
    """``value`` as a whole number from 0 to ``maximum`` (an int, or text of decimal digits), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        digits = text.lstrip("0") or "0"
        # (int() reads no more than 4300 digits: more than maximum has are refused before it.)
        if not text.isdecimal() or len(digits) > len(str(maximum)):
            return None
        value = int(digits)
    if not isinstance(value, int) or not 0 <= value <= maximum:
        return None
    return value


def is_sendable(text: str) -> bool:
    """Whether the text can be sent: a lone surrogate (from JSON's ``"\\ud800"``, or bytes of an
    environment variable that are not UTF-8) fails every request's encoding."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def validate_collection_names(collection_names: Any, name: str = "collection_names") -> list[str]:
    names = [collection_names] if isinstance(collection_names, str) else collection_names
    if not isinstance(names, (list, tuple)) or not names:
        raise MilvusConfigError(
            f"{name} must be a collection name or a non-empty list of them, got {collection_names!r}"
        )
    for item in names:
        if not isinstance(item, str) or not item.strip():
            raise MilvusConfigError(f"{name} must hold non-empty strings, got {item!r}")
        if not is_sendable(item):
            raise MilvusConfigError(f"{name} must hold valid Unicode text (no lone surrogates), got {item!r}")
    return list(names)


def validate_name(value: Any, name: str = "collection_name") -> str:
    """One name (of a collection, an alias, a field): a non-empty string, not a list of them."""
    if not isinstance(value, str):
        raise MilvusConfigError(f"{name} must be one name (a non-empty string), got {value!r}")
    return validate_collection_names(value, name)[0]


def validate_optional_name(value: Any, name: str) -> str | None:
    """A name that may be left out (a database, a partition): None for None or "", else one name."""
    return None if value in (None, "") else validate_name(value, name)


def validate_db_name(value: Any, name: str = "db_name") -> str | None:
    """A database name that may be left out. gRPC sends it in a header (``dbname``), which takes
    printable ASCII only: another character fails the call with "Invalid metadata"."""
    db_name = validate_optional_name(value, name)
    if db_name is not None and not all(" " <= c <= "~" for c in db_name):
        raise MilvusConfigError(f"{name} must be printable ASCII (gRPC sends it in a header), got {db_name!r}")
    return db_name


def validate_segment_ids(segment_ids: Any, name: str = "segment_ids", *, allow_empty: bool = False) -> list[int]:
    if not isinstance(segment_ids, (list, tuple)) or (not segment_ids and not allow_empty):
        raise MilvusConfigError(f"{name} must be a non-empty list of segment IDs, got {segment_ids!r}")
    ids = []
    for item in segment_ids:
        segment_id = _whole_number(item, INT64_MAX)
        if segment_id is None:
            raise MilvusConfigError(f"{name} must hold integer segment IDs, got {item!r}")
        ids.append(segment_id)
    return ids


def validate_flush_ts(flush_ts: Any, name: str = "flush_ts") -> int | None:
    """A flush timestamp (Milvus hybrid timestamp), or None when not given."""
    if flush_ts in (None, "", 0, "0"):
        return None
    ts = _whole_number(flush_ts, UINT64_MAX)
    if ts is None:
        raise MilvusConfigError(f"{name} must be an integer timestamp, got {flush_ts!r}")
    return ts


def validate_flush_target(segment_ids: Any, collection_name: Any, flush_ts: Any, where: str = "") -> FlushTarget:
    """One thing to ask GetFlushState about: ``{"collection_name", "segment_ids", "flush_ts"}``.

    With the collection and its flush timestamp, the segment list may be empty: a flush that sealed
    no new segment (deletes only, or right after an import) is still persisted only once Milvus's
    channel checkpoints pass ``flush_ts``, and Milvus checks exactly that. Without them, only
    segment IDs say what to wait for.
    """
    prefix = f"{where}: " if where else ""
    collection = validate_name(collection_name, "collection_name") if collection_name else None
    ts = validate_flush_ts(flush_ts)
    ids = validate_segment_ids(segment_ids, allow_empty=True)
    if not ids and (collection is None or ts is None):
        raise MilvusConfigError(
            f"{prefix}segment_ids is empty: give segment IDs, or collection_name with flush_ts (a flush that "
            f"sealed no segment is persisted once Milvus's checkpoints pass flush_ts), got segment_ids="
            f"{segment_ids!r}, collection_name={collection_name!r}, flush_ts={flush_ts!r}"
        )
    return {"collection_name": collection, "segment_ids": ids, "flush_ts": ts}


def validate_import_files(files: Any, name: str = "files") -> list[str]:
    """Paths as the server sees them. Their type is left to the server: which formats it reads
    depends on its version (2.5 adds CSV, 2.6 JSONL), and it names the file it cannot read."""
    if not isinstance(files, (list, tuple)) or not files:
        raise MilvusConfigError(f"{name} must be a non-empty list of file paths, got {files!r}")
    for path in files:
        if not isinstance(path, str) or not path.strip():
            raise MilvusConfigError(f"{name} must hold non-empty path strings, got {path!r}")
        if not is_sendable(path):
            raise MilvusConfigError(f"{name} must hold valid Unicode text (no lone surrogates), got {path!r}")
    # Every Milvus version takes the files of one import as one group: one data file, or a set of
    # NumPy files (one per field).
    if len(files) > 1 and {Path(path).suffix.lower() for path in files} != {".npy"}:
        raise MilvusConfigError(
            f"{name}: one import takes one data file (JSON, Parquet, CSV, ...) or a set of .npy files, one per "
            f"field; got {list(files)!r}"
        )
    return list(files)


def validate_import_options(options: Any, name: str = "options", *, two_phase: bool = False) -> dict[str, str]:
    """Import options as Milvus takes them (strings), passed through unchanged otherwise.

    ``two_phase``: the import goes over REST, which can commit it, so ``auto_commit=false`` is allowed."""
    if options is None:
        return {}
    if not isinstance(options, dict) or not all(isinstance(key, str) and key for key in options):
        raise MilvusConfigError(f"{name} must be a dict of option names to values, got {options!r}")
    as_strings = {}
    for key, value in options.items():
        if isinstance(value, bool):
            value = str(value).lower()
        elif not isinstance(value, (str, int, float)):
            raise MilvusConfigError(f"{name}[{key!r}] must be a string or a number, got {value!r}")
        if not is_sendable(key) or not is_sendable(str(value)):
            raise MilvusConfigError(f"{name}[{key!r}] must be valid Unicode text (no lone surrogates), got {value!r}")
        as_strings[key] = str(value)
    if not two_phase and as_strings.get("auto_commit", "true").strip().lower() in ("false", "0", "no", "off"):
        # The import would wait for a commit this RPC cannot send, and GetImportState reports a job
        # waiting for its commit as ImportFailed (Milvus 3.x, internal/proxy/impl.go).
        raise MilvusConfigError(
            f"{name}: auto_commit=false is not supported: Milvus reports an uncommitted import as failed through "
            "this API; leave auto_commit out, or import over REST (api='rest', Milvus 3.0) to commit it"
        )
    return as_strings


def validate_import_task_id(import_task_id: Any, name: str = "import_task_id") -> int:
    task_id = _whole_number(import_task_id, INT64_MAX)
    if task_id is None:
        raise MilvusConfigError(f"{name} must be an integer import task ID, got {import_task_id!r}")
    return task_id


def validate_count(value: Any, name: str) -> int | None:
    """A row count a task expects, rendered: a whole number of 0 or more (or its text), or None."""
    value = parse_rendered_literal(value)
    if value is None:
        return None
    count = _whole_number(value, INT64_MAX)
    if count is None:
        raise MilvusConfigError(f"{name} must be a whole number of 0 or more, got {value!r}")
    return count


def validate_rest_job_id(job_id: Any, name: str = "job_id") -> str:
    """A REST import job ID: a string (Milvus's int64 in decimal, or a Zilliz Cloud job ID)."""
    if isinstance(job_id, bool) or not isinstance(job_id, (int, str)):
        raise MilvusConfigError(f"{name} must be an import job ID (a string), got {job_id!r}")
    text = str(job_id).strip()
    if not text or any(char.isspace() for char in text):
        raise MilvusConfigError(f"{name} must be an import job ID (a string), got {job_id!r}")
    return text


def validate_vector(value: Any, name: str) -> list[float] | None:
    """A rendered vector: a non-empty list of finite numbers (as floats), or None."""
    vector = parse_rendered_literal(value)
    if vector is None:
        return None
    if isinstance(vector, (list, tuple)) and vector:
        floats = []
        for x in vector:
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                break
            try:
                as_float = float(x)
            except OverflowError:  # an int too big for a float
                break
            if not math.isfinite(as_float):
                break
            floats.append(as_float)
        else:
            return floats
    raise MilvusConfigError(f"{name} must be a non-empty list of numbers, all finite, got {value!r}")


@overload
def validate_positive(value: Any, name: str) -> float: ...


@overload
def validate_positive(value: Any, name: str, *, optional: Literal[True]) -> float | None: ...


def validate_positive(value: Any, name: str, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    # (A comparison, not float(): an int too big for a float would raise OverflowError.)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_SECONDS:
        raise MilvusConfigError(
            f"{name} must be a positive number of seconds (at most {MAX_SECONDS:.0e}), got {value!r}"
        )
    return float(value)


def validate_sensor_seconds(value: Any, name: str, *, allow_zero: bool = False) -> None:
    """A sensor's ``poke_interval`` or ``timeout`` as Airflow takes it (seconds, or a timedelta),
    checked before Airflow converts it: its own check raises a bare ValueError, and its conversion an
    OverflowError for a number too big; a NaN or infinite one fails the first poke or deadline."""
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if allow_zero and seconds == 0 and not isinstance(seconds, bool):
        return
    validate_positive(seconds, name)
