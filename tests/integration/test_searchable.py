"""Searchable, not just persisted: index waits, load and refresh, aliases and the row check, against
the real Milvus (dag.test() for the operator and sensor modes)."""

from __future__ import annotations

import pytest

from airflow_provider_milvus.exceptions import (
    MilvusCheckFailed,
    MilvusConfigError,
    MilvusError,
    MilvusSchemaConflictError,
)
from airflow_provider_milvus.hooks.milvus import MilvusHook
from airflow_provider_milvus.operators.milvus import (
    MilvusAliasOperator,
    MilvusCollectionCheckOperator,
    MilvusCreateCollectionOperator,
    MilvusCreateIndexOperator,
    MilvusLoadCollectionOperator,
    MilvusReleaseCollectionOperator,
)
from airflow_provider_milvus.sensors.milvus import MilvusIndexStateSensor
from tests.dags.searchable_dags import INDEX, SCHEMA
from tests.log_capture import log_messages
from tests.task_context import context

from .helpers import DIM, dag, run_dag, task_states, unique, vectors, write_json, xcom


def _collection(hook: MilvusHook, *, index: bool = True, load: bool = False, rows: int = 0) -> str:
    name = unique("s")
    MilvusCreateCollectionOperator(
        task_id="create", collection_name=name, schema=SCHEMA, index_params=[INDEX] if index else None, load=load
    ).execute(context())
    if rows:
        hook.write_rows(name, vectors(rows))
    return name


@pytest.fixture
def hook(milvus_uri) -> MilvusHook:
    return MilvusHook()


def test_create_collection_with_indexes_and_load_false_leaves_it_released(hook):
    name = unique("s")
    result = MilvusCreateCollectionOperator(
        task_id="create", collection_name=name, schema=SCHEMA, index_params=[INDEX], load=False
    ).execute(context())
    assert result == {"collection_name": name, "created": True, "loaded": False}
    assert hook.get_load_state(name) == "LoadStateNotLoad"
    assert [i["index_name"] for i in hook.describe_index(name)] == ["vector"]
    MilvusCreateCollectionOperator(
        task_id="create", collection_name=name, schema=SCHEMA, index_params=[INDEX], load=True
    ).execute(context())
    assert hook.get_load_state(name) == "LoadStateLoaded"


@pytest.mark.timeout(600)
@pytest.mark.parametrize("mode", ["poke", "reschedule", "deferrable"])
def test_imported_rows_are_searchable_after_index_wait_and_refresh(airflow_db, hook, import_dir, mode):
    """An import into a loaded, indexed collection: the index wait, the refresh and the check."""
    name = unique("s")
    rows = vectors(3000, start=10_000)
    run = run_dag(
        dag(f"import_then_searchable_{mode}"),
        {"collection": name, "files": [write_json(import_dir, rows)], "rows": 3000, "probe": rows[0]["vector"]},
        timeout=500,
    )
    assert task_states(run) == dict.fromkeys(("create", "bulk_insert", "wait_for_index", "refresh", "check"), "success")
    [index] = xcom(run, "wait_for_index")
    assert index["index_name"] == "vector" and index["field_name"] == "vector"
    assert index["indexed_rows"] == index["total_rows"] == 3000 and index["pending_index_rows"] == 0
    assert index["state"] == "Finished"
    assert xcom(run, "refresh") == {"collection_name": name, "partition_names": [], "refresh": True, "loaded": True}
    check = xcom(run, "check")
    assert check["count"] == 3000
    assert check["hits"] and check["hits"][0]["id"] == 10_000


def test_index_sensor_errors_name_the_collection_and_index(hook):
    name = _collection(hook, rows=10)
    with pytest.raises(MilvusError, match=r"collection not found|can.t find collection"):
        MilvusIndexStateSensor(task_id="t", collection_name=unique("gone"), timeout=5, poke_interval=1).execute(
            context()
        )
    with pytest.raises(MilvusError, match=r"DescribeIndex failed \(code 700\): index not found\[indexName=nope\]"):
        MilvusIndexStateSensor(task_id="t", collection_name=name, index_name="nope", timeout=5).execute(context())
    bare = _collection(hook, index=False)
    with pytest.raises(MilvusError, match="index"):
        MilvusIndexStateSensor(task_id="t", collection_name=bare, timeout=5).execute(context())


def test_create_index_operator_is_idempotent_and_names_a_conflict(hook):
    name = _collection(hook, index=False, rows=100)
    spec = {**INDEX, "index_name": "vec_idx"}
    first = MilvusCreateIndexOperator(
        task_id="index", collection_name=name, index_params=[spec], wait_for_completion=True, poll_interval=0.5
    ).execute(context())
    assert first["created"] == ["vec_idx"] and first["existing"] == []
    [built] = first["indexes"]
    assert built["index_name"] == "vec_idx" and built["indexed_rows"] == built["total_rows"]
    again = MilvusCreateIndexOperator(task_id="index", collection_name=name, index_params=[spec]).execute(context())
    assert again == {"collection_name": name, "created": [], "existing": ["vec_idx"], "indexes": []}
    with pytest.raises(MilvusSchemaConflictError, match=r"index 'vec_idx' .* index_type 'IVF_FLAT', not 'HNSW'"):
        MilvusCreateIndexOperator(
            task_id="index",
            collection_name=name,
            index_params=[{**spec, "index_type": "HNSW", "params": {"M": 8, "efConstruction": 16}}],
        ).execute(context())
    with pytest.raises(MilvusConfigError, match="field 'nope' is not in the schema"):
        MilvusCreateIndexOperator(
            task_id="index", collection_name=name, index_params=[{**spec, "field_name": "nope"}]
        ).execute(context())


def test_load_refresh_and_release(hook):
    name = _collection(hook, rows=20)
    # A refresh of a collection that is not loaded loads it, and says so.
    with log_messages() as messages:
        result = MilvusLoadCollectionOperator(
            task_id="load", collection_name=name, refresh=True, poll_interval=0.5, wait_timeout=120
        ).execute(context())
    assert result == {"collection_name": name, "partition_names": [], "refresh": False, "loaded": True}
    assert any("is not loaded (LoadStateNotLoad): loading it instead of refreshing" in m for m in messages)
    assert hook.get_load_state(name) == "LoadStateLoaded"
    assert hook.count_rows(name) == 20
    MilvusReleaseCollectionOperator(task_id="release", collection_name=name).execute(context())
    assert hook.get_load_state(name) == "LoadStateNotLoad"


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"replica_number": 0}, "replica_number must be a whole number of at least 1, got 0"),
        ({"replica_number": True}, "replica_number must be"),
        ({"collection_name": ""}, "collection_name"),
    ],
)
def test_load_operator_bad_input_fails_before_any_rpc(kwargs, fragment):
    with pytest.raises(MilvusConfigError, match=fragment):
        MilvusLoadCollectionOperator(task_id="load", **{"collection_name": "c", **kwargs}).execute(context())


def test_alias_creation_switch_and_drop_previous(hook):
    old, new, other = (_collection(hook, rows=5) for _ in range(3))
    alias = unique("alias")
    created = MilvusAliasOperator(task_id="alias", alias=alias, collection_name=old).execute(context())
    assert created == {"alias": alias, "collection_name": old, "previous_collection": None, "dropped_collection": None}
    assert hook.describe_alias(alias) == old
    # Another alias still names the old collection: the switch happens, the drop does not.
    keep = unique("keep")
    MilvusAliasOperator(task_id="alias", alias=keep, collection_name=old).execute(context())
    switched = MilvusAliasOperator(
        task_id="alias", alias=alias, collection_name=new, drop_previous=True, drop_grace_period=0
    ).execute(context())
    assert switched["previous_collection"] == old and switched["dropped_collection"] is None
    assert hook.has_collection(old) and hook.describe_alias(alias) == new
    # Once nothing else names it, the previous collection is dropped after the switch.
    MilvusAliasOperator(task_id="alias", alias=keep, collection_name=other).execute(context())
    again = MilvusAliasOperator(
        task_id="alias", alias=alias, collection_name=old, drop_previous=True, drop_grace_period=0
    ).execute(context())
    assert again["dropped_collection"] == new and not hook.has_collection(new)
    assert hook.describe_alias(alias) == old
    # Pointing it where it points already changes nothing.
    same = MilvusAliasOperator(
        task_id="alias", alias=alias, collection_name=old, drop_previous=True, drop_grace_period=0
    ).execute(context())
    assert same["previous_collection"] == old and same["dropped_collection"] is None and hook.has_collection(old)


@pytest.mark.parametrize(
    ("alias", "fragment"),
    [
        ("", "alias"),
        ("SAME", "alias .* is the collection_name itself"),
        ("EXISTING", "alias .* is the name of an existing collection"),
    ],
)
def test_alias_bad_input_is_named(hook, alias, fragment):
    name = _collection(hook, index=False)
    existing = _collection(hook, index=False) if alias == "EXISTING" else None
    alias = {"SAME": name, "EXISTING": existing}.get(alias, alias)
    with pytest.raises(MilvusConfigError, match=fragment):
        MilvusAliasOperator(task_id="alias", alias=alias, collection_name=name).execute(context())


def test_collection_check_counts_searches_and_fails_by_name(hook):
    name = _collection(hook, load=True, rows=40)
    rows = vectors(40)
    ok = MilvusCollectionCheckOperator(
        task_id="check", collection_name=name, min_count=40, probe_vector=rows[3]["vector"], limit=2
    ).execute(context())
    assert ok["count"] == 40 and ok["hits"][0]["id"] == 3 and len(ok["hits"]) == 2
    filtered = MilvusCollectionCheckOperator(
        task_id="check", collection_name=name, filter="id < 10", expected_count=10
    ).execute(context())
    assert filtered["count"] == 10 and filtered["hits"] == []
    with pytest.raises(MilvusCheckFailed, match=r"40 rows, expected 41"):
        MilvusCollectionCheckOperator(task_id="check", collection_name=name, expected_count=41).execute(context())
    with pytest.raises(MilvusCheckFailed, match=r"fewer than the 50 the imports reported"):
        MilvusCollectionCheckOperator(
            task_id="check", collection_name=name, import_states=[{"row_count": 30}, {"row_count": 20}]
        ).execute(context())
    with pytest.raises(MilvusConfigError, match="probe_vector must be a non-empty list of numbers"):
        MilvusCollectionCheckOperator(task_id="check", collection_name=name, probe_vector=["x"]).execute(context())
    with pytest.raises(MilvusConfigError, match="min_count must be a whole number"):
        MilvusCollectionCheckOperator(task_id="check", collection_name=name, min_count=-1)
    assert len(rows[0]["vector"]) == DIM


def test_alias_drop_grace_period_must_not_be_negative():
    with pytest.raises(MilvusConfigError, match="drop_grace_period must be a positive"):
        MilvusAliasOperator(task_id="alias", alias="a", collection_name="c", drop_grace_period=-1)
