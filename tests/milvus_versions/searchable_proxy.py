"""The searchable RPCs (indexes, loading, aliases) answered as the proxy of Milvus 2.4+ builds them.

Beside :class:`~tests.milvus_versions.proxy.Milvus25Proxy` (whose import and flush answers it
keeps); each answer below is built after milvus-io/milvus, as read in the trees of the 2.4/2.5 era
(importing ``pkg/``), the 2.6 era (``pkg/v2``) and master (3.0, ``mlog``), which agree on them
unless said:

- ``DescribeIndex`` (``internal/proxy/task_index.go`` describeIndexTask): the proxy passes only the
  collection, the index name and the timestamp on to datacoord, never ``field_name``: every index
  of the collection is answered whatever field is asked for. An unknown index name is code 700
  "index not found[indexName=x]"; a collection without any index (no name asked) code 700 "index
  not found[collection=x]" (``pkg/util/merr``: ErrIndexNotFound, WrapErrIndexNotFound,
  WrapErrIndexNotFoundForCollection; ``oldCode`` maps 700 to ErrorCode IndexNotExist). An unknown
  collection is code 100 "collection not found[database=default][collection=x]" (rootcoord
  ``meta_table.go`` GetCollectionByName).
- The rows and state of each index (``internal/datacoord/index_service.go`` completeIndexInfo):
  ``total_rows`` sums the flushed segments; ``pending_index_rows`` the flushed segments whose index
  is not Finished, those flushed after CreateIndex included; ``state`` looks only at segments
  flushed before the index was created (or before the request's ``timestamp``), so it reads
  Finished while later segments are unindexed (milvus#40580, on 2.5.3: ``total_rows=1000000,
  indexed_rows=0, pending_index_rows=1000000, state=Finished``); ``indexed_rows`` counts a
  compacted segment's sources while the compacted segment is unindexed (countIndexedRows; the
  example of milvus#24562: 6144 total, 4096 indexed, 2048 pending, Finished). A failed segment
  build makes the state Failed, ``index_state_fail_reason`` "<segmentID>: <reason>;" per segment.
- ``GetIndexState`` and ``GetIndexBuildProgress`` are "Deprecated: use DescribeIndex instead"
  (``internal/proxy/impl.go``, ``task_index.go``); answered here only to show they are never asked.
- ``GetLoadState`` (``internal/proxy/impl.go``): LoadStateNotExist for an unknown collection,
  LoadStateNotLoad for one not loaded, Loading below 100 %, else Loaded (a refresh keeps it 100 %).
- ``GetLoadingProgress`` (``internal/proxy/impl.go``, ``util.go`` getCollectionProgress, over
  querycoord ShowCollections in ``internal/querycoordv2/services.go``): ``progress`` stays 100
  once loaded, also during a refresh; ``refresh_progress`` is 0 or 100 only (100 once the refreshed
  target is ready, ``collection.IsRefreshed()``). A collection not loaded is code 101 "collection
  not loaded[collection=<id>]".
- ``LoadCollection`` with ``refresh`` (``internal/proxy/task.go`` loadCollectionTask passes it on;
  querycoordv2 ``services.go`` LoadCollection -> refreshCollection, in every tree read): a
  collection not loaded is refused, WrapErrCollectionNotLoaded(collectionID), a loading one with
  "collection not fully loaded"; the proxy wraps the refusal as "call query coordinator
  LoadCollection: ..." (a plain error: code 65535).
- ``ReleaseCollection`` of a collection not loaded succeeds ("release collection ignored").
- Aliases (``internal/rootcoord/meta_table.go``): ``DescribeAlias`` of an unknown alias is code
  1600 "alias not found[database=default][alias=x]"; an alias named as a collection is code 1601
  "alias and collection name conflict[...]". ``DropCollection`` of a collection that aliases
  still name is refused from 2.4 (milvus#40148, the 2.4 branch) and 2.5.5 (milvus#40143, #40236):
  "unable to drop the collection [x] because it has associated aliases [a], please remove all
  aliases before dropping the collection" (``internal/rootcoord/drop_collection_task.go``, a plain
  error: code 65535); one named by an alias: "cannot drop the collection via alias = x".
- ``DescribeCollection``, ``Connect``, ``AllocTimestamp``, ``CreateIndex``: what pymilvus's
  ``MilvusClient`` sends on the hook's collection and index calls (``create_index`` waits in
  pymilvus, ``wait_for_creating_index``: AllocTimestamp, then DescribeIndex with that timestamp
  every 0.5 s until the state reads Finished or Failed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pymilvus.grpc_gen import common_pb2, milvus_pb2, schema_pb2

from .proxy import OK, Milvus25Proxy

COLLECTION_IDS = iter(range(456_789_000_000_000_001, 456_789_000_000_100_000))


def error(code: int, reason: str) -> common_pb2.Status:
    """A status as ``merr.Status`` builds it: the code, the reason, and the legacy error code."""
    legacy = {100: common_pb2.CollectionNotExists, 700: common_pb2.IndexNotExist}.get(code, common_pb2.UnexpectedError)
    return common_pb2.Status(code=code, error_code=legacy, reason=reason)


def index(
    name: str = "vector",
    *,
    total: int = 1000,
    indexed: int = 1000,
    pending: int = 0,
    state: str = "Finished",
    reason: str = "",
    field_name: str | None = None,
) -> milvus_pb2.IndexDescription:
    """One IndexDescription as describeIndexTask fills it."""
    return milvus_pb2.IndexDescription(
        index_name=name,
        indexID=457_000_000_000_000_000 + len(name),
        field_name=field_name or name,
        # The user's params, as CreateIndex received them (describeIndexTask answers UserIndexParams).
        params=[
            common_pb2.KeyValuePair(key="index_type", value="HNSW"),
            common_pb2.KeyValuePair(key="metric_type", value="L2"),
            common_pb2.KeyValuePair(key="params", value='{"M": 8}'),
        ],
        total_rows=total,
        indexed_rows=indexed,
        pending_index_rows=pending,
        state=common_pb2.IndexState.Value(state),
        index_state_fail_reason=reason,
    )


@dataclass
class Script:
    """Answers given one per request; the last repeats."""

    answers: list
    asked: int = 0

    def next(self):
        answer = self.answers[min(self.asked, len(self.answers) - 1)]
        self.asked += 1
        return answer


@dataclass
class SearchableProxy(Milvus25Proxy):
    """Answers the index, load and alias RPCs as a Milvus 2.4+ proxy does; records every request."""

    collections: dict[str, int] = field(default_factory=dict)
    # index name -> the DescribeIndex answers for it, request by request
    indexes: dict[str, dict[str, Script]] = field(default_factory=dict)
    # index name -> answers of an index CreateIndex is to make
    to_create: dict[str, list[milvus_pb2.IndexDescription]] = field(default_factory=dict)
    # collection name -> its load percentage, absent if not loaded
    loaded: dict[str, int] = field(default_factory=dict)
    # collection name -> the (progress, refresh_progress) answers of GetLoadingProgress
    progress: dict[str, Script] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    # Called after each GetLoadState answer (to change what Milvus holds between two requests).
    after_load_state: Callable[[], None] | None = None

    def add_collection(self, name: str, *indexes: list[milvus_pb2.IndexDescription] | milvus_pb2.IndexDescription):
        """A collection, with indexes given as an answer or a list of answers each."""
        self.collections[name] = next(COLLECTION_IDS)
        self.indexes[name] = {}
        for answers in indexes:
            script = Script(answers if isinstance(answers, list) else [answers])
            self.indexes[name][script.answers[0].index_name] = script

    def _resolve(self, name: str) -> str | None:
        name = self.aliases.get(name, name)
        return name if name in self.collections else None

    @staticmethod
    def _not_found(name: str) -> common_pb2.Status:
        return error(100, f"collection not found[database=default][collection={name}]")

    # --- What MilvusClient sends --------------------------------------------------------------

    def Connect(self, request, context):
        self._record("Connect", request)
        return milvus_pb2.ConnectResponse(
            status=OK, server_info=common_pb2.ServerInfo(build_tags=self.version), identifier=1
        )

    def AllocTimestamp(self, request, context):
        self._record("AllocTimestamp", request)
        return milvus_pb2.AllocTimestampResponse(status=OK, timestamp=462_000_000_000_000_000)

    def HasCollection(self, request, context):
        # HasCollection resolves aliases (rootcoord GetCollectionByName looks at aliases first).
        self._record("HasCollection", request)
        return milvus_pb2.BoolResponse(status=OK, value=self._resolve(request.collection_name) is not None)

    def DescribeCollection(self, request, context):
        self._record("DescribeCollection", request)
        name = self._resolve(request.collection_name)
        if name is None:
            return milvus_pb2.DescribeCollectionResponse(status=self._not_found(request.collection_name))
        schema = schema_pb2.CollectionSchema(
            name=name,
            fields=[
                schema_pb2.FieldSchema(fieldID=100, name="id", is_primary_key=True, data_type=schema_pb2.Int64),
                schema_pb2.FieldSchema(
                    fieldID=101,
                    name="vector",
                    data_type=schema_pb2.FloatVector,
                    type_params=[common_pb2.KeyValuePair(key="dim", value="8")],
                ),
                schema_pb2.FieldSchema(
                    fieldID=102,
                    name="title",
                    data_type=schema_pb2.VarChar,
                    type_params=[common_pb2.KeyValuePair(key="max_length", value="64")],
                ),
            ],
        )
        return milvus_pb2.DescribeCollectionResponse(
            status=OK, schema=schema, collectionID=self.collections[name], collection_name=name, db_name="default"
        )

    def CreateIndex(self, request, context):
        self._record("CreateIndex", request)
        name = self._resolve(request.collection_name)
        if name is None:
            return self._not_found(request.collection_name)
        index_name = request.index_name or request.field_name
        if index_name not in self.indexes[name]:
            self.indexes[name][index_name] = Script(list(self.to_create.pop(index_name)))
        return OK

    # --- Indexes ------------------------------------------------------------------------------

    def DescribeIndex(self, request, context):
        self._record("DescribeIndex", request)
        name = self._resolve(request.collection_name)
        if name is None:
            return milvus_pb2.DescribeIndexResponse(status=self._not_found(request.collection_name))
        scripts = self.indexes[name]
        if request.index_name:
            if request.index_name not in scripts:
                return milvus_pb2.DescribeIndexResponse(
                    status=error(700, f"index not found[indexName={request.index_name}]")
                )
            scripts = {request.index_name: scripts[request.index_name]}
        elif not scripts:
            return milvus_pb2.DescribeIndexResponse(status=error(700, f"index not found[collection={name}]"))
        # request.field_name is not read: the proxy never passes it on.
        return milvus_pb2.DescribeIndexResponse(
            status=OK, index_descriptions=[script.next() for script in scripts.values()]
        )

    def GetIndexState(self, request, context):
        self._record("GetIndexState", request)
        return milvus_pb2.GetIndexStateResponse(status=OK, state=common_pb2.Finished)

    def GetIndexBuildProgress(self, request, context):
        self._record("GetIndexBuildProgress", request)
        return milvus_pb2.GetIndexBuildProgressResponse(status=OK)

    # --- Loading ------------------------------------------------------------------------------

    def GetLoadState(self, request, context):
        self._record("GetLoadState", request)
        name = self._resolve(request.collection_name)
        if name is None:
            state = common_pb2.LoadStateNotExist
        elif name not in self.loaded:
            state = common_pb2.LoadStateNotLoad
        else:
            state = common_pb2.LoadStateLoaded if self.loaded[name] >= 100 else common_pb2.LoadStateLoading
        if self.after_load_state is not None:
            self.after_load_state()
        return milvus_pb2.GetLoadStateResponse(status=OK, state=state)

    def GetLoadingProgress(self, request, context):
        self._record("GetLoadingProgress", request)
        name = self._resolve(request.collection_name)
        if name is None:
            return milvus_pb2.GetLoadingProgressResponse(status=self._not_found(request.collection_name))
        if name not in self.loaded:
            return milvus_pb2.GetLoadingProgressResponse(
                status=error(101, f"collection not loaded[collection={self.collections[name]}]")
            )
        progress, refresh = self.progress[name].next() if name in self.progress else (self.loaded[name], 0)
        self.loaded[name] = progress
        return milvus_pb2.GetLoadingProgressResponse(status=OK, progress=progress, refresh_progress=refresh)

    def _load(self, request) -> common_pb2.Status:
        name = self._resolve(request.collection_name)
        if name is None:
            return self._not_found(request.collection_name)
        if request.refresh:
            collection_id = self.collections[name]
            if name not in self.loaded:
                return error(
                    65535, f"call query coordinator LoadCollection: collection not loaded[collection={collection_id}]"
                )
            if self.loaded[name] < 100:
                return error(
                    65535,
                    "call query coordinator LoadCollection: collection not fully loaded: "
                    f"collection not loaded[collection={collection_id}]",
                )
            return OK
        self.loaded.setdefault(name, 0)
        return OK

    def LoadCollection(self, request, context):
        self._record("LoadCollection", request)
        return self._load(request)

    def LoadPartitions(self, request, context):
        self._record("LoadPartitions", request)
        return self._load(request)

    def ReleaseCollection(self, request, context):
        self._record("ReleaseCollection", request)
        self.loaded.pop(request.collection_name, None)
        return OK

    # --- Aliases ------------------------------------------------------------------------------

    def DescribeAlias(self, request, context):
        self._record("DescribeAlias", request)
        if request.alias not in self.aliases:
            return milvus_pb2.DescribeAliasResponse(
                status=error(1600, f"alias not found[database=default][alias={request.alias}]")
            )
        return milvus_pb2.DescribeAliasResponse(
            status=OK, db_name="default", alias=request.alias, collection=self.aliases[request.alias]
        )

    def ListAliases(self, request, context):
        self._record("ListAliases", request)
        names = [alias for alias, target in self.aliases.items() if target == request.collection_name]
        return milvus_pb2.ListAliasesResponse(
            status=OK, db_name="default", collection_name=request.collection_name, aliases=names
        )

    def _point(self, request) -> common_pb2.Status:
        if request.alias in self.collections:
            return error(1601, f"alias and collection name conflict[database=default][alias={request.alias}]")
        if request.collection_name not in self.collections:
            return self._not_found(request.collection_name)
        self.aliases[request.alias] = request.collection_name
        return OK

    def CreateAlias(self, request, context):
        self._record("CreateAlias", request)
        return self._point(request)

    def AlterAlias(self, request, context):
        self._record("AlterAlias", request)
        return self._point(request)

    def DropCollection(self, request, context):
        self._record("DropCollection", request)
        name = request.collection_name
        if name in self.aliases:
            return error(65535, f"cannot drop the collection via alias = {name}")
        named_by = [alias for alias, target in self.aliases.items() if target == name]
        if named_by:
            return error(
                65535,
                f"unable to drop the collection [{name}] because it has associated aliases [{' '.join(named_by)}], "
                "please remove all aliases before dropping the collection",
            )
        self.collections.pop(name, None)  # dropping one that does not exist is not an error
        self.loaded.pop(name, None)
        return OK
