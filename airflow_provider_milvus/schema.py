"""Collection schemas as JSON-able data: checked before any RPC, and compared with what Milvus has.

A schema is ``{"fields": [...], "enable_dynamic_field": bool, "description": str}``; each field is
``{"name", "type", "is_primary", "auto_id", "dim", "max_length", "element_type", "max_capacity",
"nullable", "is_partition_key", "description"}`` with ``type`` (and ``element_type``) a Milvus
data type name such as ``INT64``, ``VARCHAR`` or ``FLOAT_VECTOR``. Index parameters are a list of
``{"field_name", "index_type", "metric_type", "params"}``.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_milvus.exceptions import MilvusConfigError
from airflow_provider_milvus.validation import validate_name

FIELD_KEYS = frozenset(
    {"name", "type", "is_primary", "auto_id", "dim", "max_length", "element_type", "max_capacity", "nullable",
     "is_partition_key", "description"}
)  # fmt: skip
# Field properties Milvus keeps as type parameters; compared when the schema asks for them.
TYPE_PARAMS = ("dim", "max_length", "max_capacity")
# Field properties that are true or false: a string such as "false" is refused, not read as true.
FLAG_KEYS = ("is_primary", "auto_id", "nullable", "is_partition_key")
INDEX_KEYS = frozenset({"field_name", "index_type", "metric_type", "params", "index_name"})
VECTOR_TYPES = frozenset(
    {"FLOAT_VECTOR", "BINARY_VECTOR", "FLOAT16_VECTOR", "BFLOAT16_VECTOR", "SPARSE_FLOAT_VECTOR", "INT8_VECTOR"}
)


def validate_schema(schema: Any, data_types: frozenset[str], name: str = "schema") -> dict[str, Any]:
    """The schema, normalized (type names upper case, defaults filled in); errors name the part."""
    if not isinstance(schema, dict) or not isinstance(schema.get("fields"), list) or not schema["fields"]:
        raise MilvusConfigError(f"{name} must be a dict with a non-empty 'fields' list, got {schema!r}")
    unknown = set(schema) - {"fields", "enable_dynamic_field", "description"}
    if unknown:
        raise MilvusConfigError(
            f"{name} has unknown keys {sorted(unknown, key=repr)}; use fields, enable_dynamic_field, description"
        )
    dynamic = schema.get("enable_dynamic_field", False)
    if not isinstance(dynamic, bool):
        raise MilvusConfigError(f"{name}: enable_dynamic_field must be true or false, got {dynamic!r}")
    description = schema.get("description")
    if description is not None and not isinstance(description, str):
        raise MilvusConfigError(f"{name}: description must be a string, got {description!r}")
    fields = [_validate_field(field, data_types, f"{name}.fields[{i}]") for i, field in enumerate(schema["fields"])]
    names = [field["name"] for field in fields]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise MilvusConfigError(f"{name}: field names must be unique, {duplicates} repeat")
    primaries = [field["name"] for field in fields if field.get("is_primary")]
    if len(primaries) != 1:
        raise MilvusConfigError(f"{name} needs exactly one field with is_primary=true, got {primaries or 'none'}")
    if not any(field["type"] in VECTOR_TYPES for field in fields):
        raise MilvusConfigError(f"{name} needs a vector field (one of {sorted(VECTOR_TYPES)})")
    return {
        "fields": fields,
        "enable_dynamic_field": dynamic,
        "description": description or "",
    }


def _validate_field(field: Any, data_types: frozenset[str], where: str) -> dict[str, Any]:
    if not isinstance(field, dict):
        raise MilvusConfigError(f"{where} must be a dict, got {field!r}")
    unknown = set(field) - FIELD_KEYS
    if unknown:
        raise MilvusConfigError(f"{where} has unknown keys {sorted(unknown, key=repr)}; known: {sorted(FIELD_KEYS)}")
    if not isinstance(field.get("name"), str) or not field["name"].strip():
        raise MilvusConfigError(f"{where} needs a name, got {field.get('name')!r}")
    validate_name(field["name"], f"{where}: name")
    for key in FLAG_KEYS:
        if key in field and not isinstance(field[key], bool):
            raise MilvusConfigError(f"{where} ({field['name']!r}): {key} must be true or false, got {field[key]!r}")
    if "description" in field and not isinstance(field["description"], str):
        raise MilvusConfigError(
            f"{where} ({field['name']!r}): description must be a string, got {field['description']!r}"
        )
    normalized = dict(field)
    for key in ("type", "element_type"):
        if key in field:
            type_name = str(field[key]).upper()
            if type_name not in data_types:
                raise MilvusConfigError(f"{where} ({field['name']!r}): {key} {field[key]!r} is not a Milvus data type")
            normalized[key] = type_name
    if "type" not in normalized:
        raise MilvusConfigError(f"{where} ({field['name']!r}) needs a type, e.g. INT64, VARCHAR, FLOAT_VECTOR")
    for key in TYPE_PARAMS:
        if key in field and (isinstance(field[key], bool) or not isinstance(field[key], int) or field[key] <= 0):
            raise MilvusConfigError(
                f"{where} ({field['name']!r}): {key} must be a positive integer, got {field[key]!r}"
            )
    if normalized["type"] in VECTOR_TYPES - {"SPARSE_FLOAT_VECTOR"} and "dim" not in field:
        raise MilvusConfigError(f"{where} ({field['name']!r}): a {normalized['type']} field needs dim")
    if normalized["type"] == "VARCHAR" and "max_length" not in field:
        raise MilvusConfigError(f"{where} ({field['name']!r}): a VARCHAR field needs max_length")
    return normalized


def validate_index_params(index_params: Any, field_names: list[str], name: str = "index_params") -> list[dict]:
    if index_params is None:
        return []
    if not isinstance(index_params, list):
        raise MilvusConfigError(f"{name} must be a list of index definitions, got {index_params!r}")
    for i, index in enumerate(index_params):
        where = f"{name}[{i}]"
        if not isinstance(index, dict) or not isinstance(index.get("field_name"), str):
            raise MilvusConfigError(f"{where} must be a dict with a field_name, got {index!r}")
        unknown = set(index) - INDEX_KEYS
        if unknown:
            raise MilvusConfigError(
                f"{where} has unknown keys {sorted(unknown, key=repr)}; known: {sorted(INDEX_KEYS)}"
            )
        if index["field_name"] not in field_names:
            raise MilvusConfigError(f"{where}: field {index['field_name']!r} is not in the schema")
        if not isinstance(index.get("params", {}), dict):
            raise MilvusConfigError(f"{where}: params must be a dict, got {index['params']!r}")
        for key in ("index_type", "metric_type", "index_name"):
            if key in index and (not isinstance(index[key], str) or not index[key].strip()):
                raise MilvusConfigError(f"{where}: {key} must be a non-empty string, got {index[key]!r}")
    return list(index_params)


def schema_differences(asked: dict[str, Any], existing: dict[str, Any]) -> list[str]:
    """What differs between a validated schema and the one Milvus describes (normalized the same
    way); only what the asked schema states is compared."""
    differences = []
    have = {field["name"]: field for field in existing["fields"]}
    asked_names = [field["name"] for field in asked["fields"]]
    for field in asked["fields"]:
        other = have.get(field["name"])
        if other is None:
            differences.append(f"field {field['name']!r} is not in Milvus")
            continue
        for key, value in field.items():
            if key in ("name", "description"):
                continue
            theirs = other.get(key, False if key in ("is_primary", "auto_id", "nullable", "is_partition_key") else None)
            if key == "auto_id" and not field.get("is_primary"):
                continue
            if theirs != value:
                differences.append(f"field {field['name']!r}: {key} is {theirs!r} in Milvus, {value!r} asked")
    differences += [f"Milvus has field {name!r}, not asked" for name in have if name not in asked_names]
    dynamic, asked_dynamic = existing["enable_dynamic_field"], asked["enable_dynamic_field"]
    if dynamic != asked_dynamic:
        differences.append(f"enable_dynamic_field is {dynamic!r} in Milvus, {asked_dynamic!r} asked")
    return differences


def rows_from(data: Any, name: str = "data") -> list[dict[str, Any]]:
    """Rows to write: a list of row dicts, or a dict of equally long columns."""
    if isinstance(data, dict):
        columns = {key: value for key, value in data.items()}
        if not columns or not all(isinstance(value, (list, tuple)) for value in columns.values()):
            raise MilvusConfigError(f"{name} as a dict must map field names to lists of values, got keys {list(data)}")
        lengths = {key: len(value) for key, value in columns.items()}
        if len(set(lengths.values())) != 1:
            raise MilvusConfigError(f"{name}: columns must be equally long, got {lengths}")
        count = next(iter(lengths.values()))
        return [{key: columns[key][i] for key in columns} for i in range(count)]
    if isinstance(data, (list, tuple)):
        for i, row in enumerate(data):
            if not isinstance(row, dict):
                raise MilvusConfigError(f"{name}[{i}] must be a dict of field values, got {type(row).__name__}")
        return list(data)
    raise MilvusConfigError(f"{name} must be a list of row dicts or a dict of columns, got {type(data).__name__}")
