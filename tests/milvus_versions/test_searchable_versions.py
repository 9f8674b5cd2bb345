"""The searchable features fed the answers of a Milvus 2.4 / 2.5 / 2.6 / 3.0 proxy, over real gRPC.

The index sensor and trigger, the create-index, load, release and alias operators and their hook
calls, against :class:`~tests.milvus_versions.searchable_proxy.SearchableProxy` (its docstring
cites the Milvus source of each answer). They complement tests/integration/test_searchable.py, run
against the real Milvus 2.3.5: each case here is an answer a 2.4+ server builds, or one the provider
must not misread (an index whose state reads Finished before its rows are indexed, milvus#40580 and
pymilvus#3049).
"""

from __future__ import annotations

import asyncio

import pendulum
import pytest
from airflow.providers.common.compat.sdk import TaskDeferred
from pymilvus.grpc_gen import milvus_pb2

from airflow_provider_milvus.exceptions import MilvusConfigError, MilvusError, MilvusWaitFailed
from airflow_provider_milvus.hooks.milvus import MilvusHook
from airflow_provider_milvus.operators.milvus import (
    MilvusAliasOperator,
    MilvusCreateIndexOperator,
    MilvusLoadCollectionOperator,
    MilvusReleaseCollectionOperator,
)
from airflow_provider_milvus.sensors.milvus import MilvusIndexStateSensor
from airflow_provider_milvus.triggers.milvus import MilvusIndexStateTrigger, MilvusLoadTrigger
from tests.log_capture import log_messages
from tests.task_context import context

from .proxy import ProxyServer
from .searchable_proxy import Script, SearchableProxy, index

CONN_ID = "milvus_searchable"
DEPRECATED_INDEX_RPCS = ("GetIndexState", "GetIndexBuildProgress")


@pytest.fixture
def proxy(monkeypatch):
    proxy = SearchableProxy()
    with ProxyServer(proxy) as server:
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", f"milvus://127.0.0.1:{server.port}")
        yield proxy
    # No path of the provider asks the deprecated index RPCs; DescribeIndex carries the rows.
    assert not [name for name, _ in proxy.requests if name in DEPRECATED_INDEX_RPCS]


def hook() -> MilvusHook:
    return MilvusHook(CONN_ID)


def sensor(**kwargs) -> MilvusIndexStateSensor:
    return MilvusIndexStateSensor(
        task_id="wait_for_index",
        milvus_conn_id=CONN_ID,
        **{"collection_name": "docs", "poke_interval": 0.05, "timeout": 30, **kwargs},
    )


def index_trigger(**kwargs) -> MilvusIndexStateTrigger:
    return MilvusIndexStateTrigger(
        milvus_conn_id=CONN_ID,
        poll_interval=0.05,
        deadline=pendulum.now("UTC").add(seconds=30).isoformat(),
        **{"collection_name": "docs", **kwargs},
    )


def run_trigger(trigger) -> dict:
    _, kwargs = trigger.serialize()  # as the triggerer rebuilds it
    return asyncio.run(asyncio.wait_for(anext(type(trigger)(**kwargs).run()), 30)).payload


def names(proxy: SearchableProxy) -> list[str]:
    return [name for name, _ in proxy.requests]


# milvus#40580 (Milvus 2.5.3, pymilvus 2.5.3): what index_building_progress read while the index
# built, the state Finished throughout.
ISSUE_40580 = [
    index(total=1_000_000, indexed=0, pending=1_000_000),
    index(total=1_000_000, indexed=125_000, pending=875_000),
    index(total=1_000_000, indexed=875_000, pending=125_000),
]
BUILT = index(total=1_000_000, indexed=1_000_000, pending=0)


# --- DescribeIndex, read by the hook ---------------------------------------------------------------


def test_describe_index_is_read_field_by_field(proxy):
    proxy.add_collection("docs", index(total=6144, indexed=4096, pending=2048))
    [state] = hook().describe_index("docs", index_name="vector", field_name="vector", db_name="prod")
    assert state == {
        "index_name": "vector",
        "field_name": "vector",
        "indexed_rows": 4096,
        "total_rows": 6144,
        "pending_index_rows": 2048,
        "state": "Finished",
        "fail_reason": "",
    }
    [request] = proxy.sent("DescribeIndex")
    assert (request.collection_name, request.index_name, request.field_name, request.db_name) == (
        "docs",
        "vector",
        "vector",
        "prod",
    )
    assert request.timestamp == 0  # the index's own create time decides which segments its state reads


# --- The index sensor and trigger ----------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        *ISSUE_40580,
        # milvus#24562: two indexed segments compacted into one not yet indexed, one flushed later.
        index(total=6144, indexed=4096, pending=2048),
        # countIndexedRows counts a compaction's sources: above total_rows while the result is pending.
        index(total=4000, indexed=4096, pending=4000),
        # An index's state when the segments it covers are still building.
        index(total=1000, indexed=0, pending=1000, state="InProgress"),
    ],
    ids=["40580-start", "40580-early", "40580-late", "24562-compaction", "compaction-sources", "in-progress"],
)
def test_finished_with_unindexed_rows_is_not_built(proxy, answer):
    proxy.add_collection("docs", answer)
    assert sensor().poke(context()) is False
    check = sensor(index_name="vector").wait_target().check(hook().describe_index("docs"))
    assert check.outcome.value == "waiting"


def test_sensor_pokes_until_the_rows_are_indexed_and_returns_the_states(proxy):
    proxy.add_collection("docs", [*ISSUE_40580, BUILT])
    task = sensor(index_name="vector")
    assert [task.poke(context()) for _ in range(3)] == [False, False, False]
    done = task.poke(context())
    assert done.is_done is True
    assert done.xcom_value == [
        {
            "index_name": "vector",
            "field_name": "vector",
            "indexed_rows": 1_000_000,
            "total_rows": 1_000_000,
            "pending_index_rows": 0,
            "state": "Finished",
            "fail_reason": "",
        }
    ]
    assert len(proxy.sent("DescribeIndex")) == 4
    assert {r.index_name for r in proxy.sent("DescribeIndex")} == {"vector"}


def test_trigger_waits_past_finished_until_built(proxy):
    proxy.add_collection("docs", [*ISSUE_40580, BUILT])
    event = run_trigger(index_trigger(index_names=["vector"]))
    assert event["status"] == "success"
    assert event["message"] == "index 'vector' of collection 'docs' done"
    [built] = event["indexes"]
    assert built["indexed_rows"] == built["total_rows"] == 1_000_000 and built["pending_index_rows"] == 0
    assert len(proxy.sent("DescribeIndex")) == 4
    assert [name for name in names(proxy) if name != "DescribeIndex"] == []


# completeIndexInfo: "<segmentID>: <reason>;" for each failed segment (the reason text is an example).
FAIL_REASON = "457100000000000003: build index failed: out of memory;"


def test_failed_build_fails_the_sensor_and_trigger_with_the_reason(proxy):
    failed = index(total=3000, indexed=2000, pending=1000, state="Failed", reason=FAIL_REASON)
    proxy.add_collection("docs", [index(total=3000, indexed=0, pending=3000, state="InProgress"), failed])
    task = sensor()
    assert task.poke(context()) is False
    with pytest.raises(
        MilvusWaitFailed, match=r"indexes of collection 'docs' failed: vector: 457100000000000003: build"
    ):
        task.poke(context())

    event = run_trigger(index_trigger())
    assert event["status"] == "error"
    assert event["message"] == f"indexes of collection 'docs' failed: vector: {FAIL_REASON}"
    assert event["indexes"][0]["state"] == "Failed" and event["indexes"][0]["fail_reason"] == FAIL_REASON


@pytest.mark.parametrize(
    ("collection", "index_name", "code", "reason"),
    [
        ("docs", "nope", 700, "index not found[indexName=nope]"),
        ("bare", None, 700, "index not found[collection=bare]"),
        ("gone", None, 100, "collection not found[database=default][collection=gone]"),
    ],
    ids=["unknown-index", "no-index", "unknown-collection"],
)
def test_missing_index_or_collection_ends_the_wait_with_milvus_code(proxy, collection, index_name, code, reason):
    proxy.add_collection("docs", BUILT)
    proxy.add_collection("bare")
    with pytest.raises(MilvusError) as err:
        sensor(collection_name=collection, index_name=index_name).poke(context())
    assert (err.value.rpc, err.value.code, err.value.reason) == ("DescribeIndex", code, reason)
    assert err.value.transient is False
    asked = len(proxy.sent("DescribeIndex"))

    event = run_trigger(index_trigger(collection_name=collection, index_names=index_name))
    assert event["status"] == "error"
    assert event["message"].endswith(f"Milvus DescribeIndex failed (code {code}): {reason}")
    assert len(proxy.sent("DescribeIndex")) == asked + 1  # once: not retried


def test_field_name_waits_for_that_field_only(proxy):
    """The proxy never passes field_name on: Milvus answers every index of the collection."""
    title = index("title_idx", field_name="title", total=1000, indexed=0, pending=1000, state="Failed", reason="x;")
    proxy.add_collection("docs", [index(indexed=500, pending=500), BUILT], title)
    task = sensor(field_name="vector")
    assert task.poke(context()) is False
    done = task.poke(context())
    assert [i["index_name"] for i in done.xcom_value] == ["vector"]
    assert {r.field_name for r in proxy.sent("DescribeIndex")} == {"vector"}
    event = run_trigger(index_trigger(field_name="vector"))
    assert event["status"] == "success" and [i["field_name"] for i in event["indexes"]] == ["vector"]
    # A field without an index is named as such, not waited on.
    with pytest.raises(MilvusWaitFailed, match="no such index: none of field 'id'"):
        sensor(field_name="id").poke(context())


# --- MilvusCreateIndexOperator ---------------------------------------------------------------------


def create_index(**kwargs) -> MilvusCreateIndexOperator:
    spec = {"field_name": "vector", "index_type": "HNSW", "metric_type": "L2", "params": {"M": 8}}
    return MilvusCreateIndexOperator(
        task_id="index",
        milvus_conn_id=CONN_ID,
        **{"collection_name": "docs", "index_params": [spec], "poll_interval": 0.05, **kwargs},
    )


def test_create_index_waits_for_the_rows_not_the_state(proxy):
    """pymilvus's create_index returns once the state reads Finished; the operator then waits for
    the rows, and returns the index built for all of them."""
    proxy.add_collection("docs")
    proxy.to_create["vector"] = [index(indexed=0, pending=1000, state="InProgress"), *ISSUE_40580, BUILT]
    result = create_index(wait_for_completion=True).execute(context())
    assert result["created"] == ["vector"] and result["existing"] == []
    [built] = result["indexes"]
    assert built["indexed_rows"] == built["total_rows"] == 1_000_000 and built["pending_index_rows"] == 0
    [request] = proxy.sent("CreateIndex")
    assert request.collection_name == "docs" and request.field_name == "vector"
    # Whatever pymilvus asks inside create_index (today it waits there too: AllocTimestamp, then
    # DescribeIndex at that timestamp until the state reads Finished, see the expected failure
    # below), the operator's own wait asks by name, at no timestamp, past the Finished answers with
    # rows pending, until the rows are indexed.
    waits = proxy.sent("DescribeIndex")[-3:]
    assert [(r.index_name, r.timestamp) for r in waits] == [("vector", 0)] * 3
    assert proxy.indexes["docs"]["vector"].asked == 5  # every answer read, the built one last


def test_create_index_keeps_an_existing_index(proxy):
    proxy.add_collection("docs", BUILT)
    result = create_index().execute(context())
    assert result == {"collection_name": "docs", "created": [], "existing": ["vector"], "indexes": []}
    assert not proxy.sent("CreateIndex")


def test_create_index_fails_at_once_with_the_build_failure(proxy):
    proxy.add_collection("docs")
    proxy.to_create["vector"] = [index(total=3000, indexed=0, pending=3000, state="Failed", reason=FAIL_REASON)]
    with pytest.raises(MilvusWaitFailed, match="457100000000000003: build index failed"):
        create_index(wait_for_completion=True, submit_timeout=2).execute(context())
    assert len(proxy.sent("CreateIndex")) == 1


def test_deferrable_create_index_defers_while_the_index_builds(proxy):
    proxy.add_collection("docs")
    building = index(total=3000, indexed=0, pending=3000, state="InProgress")
    proxy.to_create["vector"] = [building, building, *ISSUE_40580, BUILT]
    with pytest.raises(TaskDeferred):
        create_index(wait_for_completion=True, deferrable=True).execute(context())
    # Deferred without asking how the build goes: the trigger asks.
    assert proxy.indexes["docs"]["vector"].asked == 0
    assert len(proxy.sent("CreateIndex")) == 1


# --- Load, refresh and release ---------------------------------------------------------------------


def load(**kwargs) -> MilvusLoadCollectionOperator:
    return MilvusLoadCollectionOperator(
        task_id="load",
        milvus_conn_id=CONN_ID,
        **{"collection_name": "docs", "poll_interval": 0.05, "wait_timeout": 30, **kwargs},
    )


def test_load_waits_for_progress_100(proxy):
    proxy.add_collection("docs", BUILT)
    proxy.progress["docs"] = Script([(0, 0), (40, 0), (100, 0)])
    result = load(replica_number=2).execute(context())
    assert result == {"collection_name": "docs", "partition_names": [], "refresh": False, "loaded": True}
    [request] = proxy.sent("LoadCollection")
    assert request.refresh is False and request.replica_number == 2
    assert len(proxy.sent("GetLoadingProgress")) == 3


def test_refresh_of_a_loaded_collection_waits_for_refresh_progress(proxy):
    """progress stays 100 during a refresh; refresh_progress reads 0 until the new target is ready."""
    proxy.add_collection("docs", BUILT)
    proxy.loaded["docs"] = 100
    proxy.progress["docs"] = Script([(100, 0), (100, 0), (100, 100)])
    result = load(refresh=True).execute(context())
    assert result == {"collection_name": "docs", "partition_names": [], "refresh": True, "loaded": True}
    assert [r.refresh for r in proxy.sent("LoadCollection")] == [True]
    assert names(proxy).index("GetLoadState") < names(proxy).index("LoadCollection")
    assert len(proxy.sent("GetLoadingProgress")) == 3


def test_refresh_of_partitions_asks_about_those_partitions(proxy):
    """querycoord refreshes the whole collection for LoadPartitions too; refresh_progress is the
    collection's, given for each partition (ShowLoadPartitions)."""
    proxy.add_collection("docs", BUILT)
    proxy.loaded["docs"] = 100
    proxy.progress["docs"] = Script([(100, 0), (100, 100)])
    result = load(refresh=True, partition_names=["2026_12"]).execute(context())
    assert result == {"collection_name": "docs", "partition_names": ["2026_12"], "refresh": True, "loaded": True}
    [request] = proxy.sent("LoadPartitions")
    assert request.refresh is True and list(request.partition_names) == ["2026_12"]
    assert not proxy.sent("LoadCollection")
    asked = proxy.sent("GetLoadState") + proxy.sent("GetLoadingProgress")
    assert all(list(r.partition_names) == ["2026_12"] for r in asked)


def test_deferred_refresh_ends_in_the_trigger_after_refresh_progress(proxy):
    proxy.add_collection("docs", BUILT)
    proxy.loaded["docs"] = 100
    proxy.progress["docs"] = Script([(100, 0), (100, 100)])
    event = run_trigger(
        MilvusLoadTrigger(
            collection_name="docs",
            refresh=True,
            milvus_conn_id=CONN_ID,
            poll_interval=0.05,
            deadline=pendulum.now("UTC").add(seconds=30).isoformat(),
        )
    )
    assert event == {
        "status": "success",
        "message": "refresh of collection 'docs' done",
        "load_progress": {"progress": 100, "refresh_progress": 100},
    }
    assert load(refresh=True).execute_complete(context(), event)["refresh"] is True


@pytest.mark.parametrize(("loaded", "state"), [(None, "LoadStateNotLoad"), (40, "LoadStateLoading")])
def test_refresh_of_a_collection_not_loaded_loads_it(proxy, loaded, state):
    """Milvus refuses a refresh of a collection that is not (fully) loaded; the operator loads it."""
    proxy.add_collection("docs", BUILT)
    if loaded is not None:
        proxy.loaded["docs"] = loaded
    proxy.progress["docs"] = Script([(70, 0), (100, 0)])
    with log_messages() as logs:
        result = load(refresh=True).execute(context())
    assert result["refresh"] is False and result["loaded"] is True
    assert [r.refresh for r in proxy.sent("LoadCollection")] == [False]
    assert any(f"Collection 'docs' is not loaded ({state}): loading it instead of refreshing" in m for m in logs)


def test_refresh_refused_by_milvus_fails_with_its_reason(proxy):
    """Released between the state check and the refresh: the refusal is not retried."""
    proxy.add_collection("docs", BUILT)
    proxy.loaded["docs"] = 100
    proxy.after_load_state = lambda: proxy.loaded.pop("docs", None)
    collection_id = proxy.collections["docs"]
    with pytest.raises(MilvusError) as err:
        load(refresh=True).execute(context())
    assert err.value.code == 65535
    assert err.value.reason == (
        f"call query coordinator LoadCollection: collection not loaded[collection={collection_id}]"
    )
    assert len(proxy.sent("LoadCollection")) == 1


def test_load_of_an_unknown_collection_fails_with_code_100(proxy):
    with log_messages() as logs, pytest.raises(MilvusError, match=r"code 100\): collection not found"):
        load(collection_name="gone", refresh=True).execute(context())
    assert any("is not loaded (LoadStateNotExist)" in m for m in logs)


def test_loading_progress_of_a_released_collection_ends_the_wait(proxy):
    proxy.add_collection("docs", BUILT)
    collection_id = proxy.collections["docs"]
    event = run_trigger(
        MilvusLoadTrigger(
            collection_name="docs",
            milvus_conn_id=CONN_ID,
            poll_interval=0.05,
            deadline=pendulum.now("UTC").add(seconds=30).isoformat(),
        )
    )
    assert event == {
        "status": "error",
        "message": "Waiting for load of collection 'docs': Milvus GetLoadingProgress failed (code 101): "
        f"collection not loaded[collection={collection_id}]",
    }
    assert len(proxy.sent("GetLoadingProgress")) == 1


def test_release_of_a_collection_not_loaded_succeeds(proxy):
    proxy.add_collection("docs", BUILT)
    MilvusReleaseCollectionOperator(task_id="release", milvus_conn_id=CONN_ID, collection_name="docs").execute(
        context()
    )
    [request] = proxy.sent("ReleaseCollection")
    assert request.collection_name == "docs"


# --- Aliases ---------------------------------------------------------------------------------------


def alias(**kwargs) -> MilvusAliasOperator:
    return MilvusAliasOperator(
        task_id="alias", milvus_conn_id=CONN_ID, **{"alias": "live", "drop_grace_period": 0, **kwargs}
    )


def test_alias_not_found_reads_as_no_alias_and_other_errors_raise(proxy):
    proxy.add_collection("docs")
    assert hook().describe_alias("live") is None  # code 1600 "alias not found[database=default][alias=live]"
    proxy.aliases["live"] = "docs"
    assert hook().describe_alias("live") == "docs"
    assert hook().list_aliases("docs") == ["live"]


def test_alias_created_then_switched_and_the_previous_dropped(proxy):
    for name in ("docs_v1", "docs_v2"):
        proxy.add_collection(name)
    created = alias(collection_name="docs_v1").execute(context())
    assert created == {
        "alias": "live",
        "collection_name": "docs_v1",
        "previous_collection": None,
        "dropped_collection": None,
    }
    assert [r.collection_name for r in proxy.sent("CreateAlias")] == ["docs_v1"]
    switched = alias(collection_name="docs_v2", drop_previous=True).execute(context())
    assert switched["previous_collection"] == "docs_v1" and switched["dropped_collection"] == "docs_v1"
    assert [r.collection_name for r in proxy.sent("AlterAlias")] == ["docs_v2"]
    assert [r.collection_name for r in proxy.sent("DropCollection")] == ["docs_v1"]
    assert proxy.aliases == {"live": "docs_v2"} and "docs_v1" not in proxy.collections


def test_alias_keeps_a_previous_collection_other_aliases_name(proxy):
    for name in ("docs_v1", "docs_v2"):
        proxy.add_collection(name)
    proxy.aliases.update({"live": "docs_v1", "backup": "docs_v1"})
    with log_messages() as logs:
        result = alias(collection_name="docs_v2", drop_previous=True).execute(context())
    assert result["dropped_collection"] is None and not proxy.sent("DropCollection")
    assert any("Not dropping 'docs_v1': aliases ['backup'] still name it" in m for m in logs)


def test_drop_refused_for_an_alias_added_during_the_grace_period(proxy, monkeypatch):
    """2.4 (milvus#40148) and 2.5.5+ refuse to drop a collection an alias names; the switch is done."""
    for name in ("docs_v1", "docs_v2"):
        proxy.add_collection(name)
    proxy.aliases["live"] = "docs_v1"
    monkeypatch.setattr(
        "airflow_provider_milvus.operators.milvus.time.sleep", lambda _: proxy.aliases.update(backup="docs_v1")
    )
    with pytest.raises(MilvusError) as err:
        alias(collection_name="docs_v2", drop_previous=True, drop_grace_period=5).execute(context())
    assert err.value.rpc == "DropCollection" and err.value.code == 65535
    assert err.value.reason == (
        "unable to drop the collection [docs_v1] because it has associated aliases [backup], "
        "please remove all aliases before dropping the collection"
    )
    assert proxy.aliases["live"] == "docs_v2" and "docs_v1" in proxy.collections


def test_alias_named_as_a_collection_is_refused_before_milvus_is_asked(proxy):
    """Milvus would answer code 1601 "alias and collection name conflict"; the operator asks first."""
    for name in ("docs", "live"):
        proxy.add_collection(name)
    with pytest.raises(MilvusConfigError, match="alias 'live' is the name of an existing collection"):
        alias(collection_name="docs").execute(context())
    assert not proxy.sent("CreateAlias") and not proxy.sent("AlterAlias")
    with pytest.raises(MilvusError, match=r"code 1601\): alias and collection name conflict"):
        hook().point_alias("live", "docs", exists=False)


def test_index_description_fields_the_provider_reads_exist():
    """The fields read are in the IndexDescription message every version answers."""
    fields = {f.name for f in milvus_pb2.IndexDescription.DESCRIPTOR.fields}
    assert {"index_name", "field_name", "indexed_rows", "total_rows", "pending_index_rows", "state"} <= fields
    assert "index_state_fail_reason" in fields
