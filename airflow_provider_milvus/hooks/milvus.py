"""The Milvus hook: what the provider asks Milvus (flush, bulk insert and their states; collections
and rows), over the transport of :mod:`airflow_provider_milvus.hooks.milvus_base`.

Flush, GetFlushState, Import, GetImportState and ListImportTasks are not exposed by
``pymilvus.MilvusClient``, so they go through the generated gRPC stubs that ship with pymilvus
(``pymilvus.grpc_gen``), the same protocol every Milvus SDK speaks; collections and rows go
through the ``MilvusClient``. All use of pymilvus stays in the two hook modules, but for the bulk
writer, which :mod:`airflow_provider_milvus.storage` drives.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from pymilvus.grpc_gen import common_pb2, milvus_pb2

from airflow_provider_milvus.assets.milvus import collection_uri
from airflow_provider_milvus.exceptions import MilvusConfigError, MilvusError
from airflow_provider_milvus.hooks.connection_form import connection_form_widgets, ui_field_behaviour
from airflow_provider_milvus.hooks.milvus_base import MilvusBaseHook
from airflow_provider_milvus.storage import S3Destination, import_file_keys
from airflow_provider_milvus.types import FlushResult, ImportState, IndexState, LoadProgress
from airflow_provider_milvus.validation import (
    validate_collection_names,
    validate_flush_target,
    validate_import_options,
    validate_import_task_id,
    validate_name,
)

if TYPE_CHECKING:
    from pymilvus import CollectionSchema, MilvusClient

# --- Request builders and response readers, shared by the sync and async calls. -----------------


def _flush_request(collection_names: list[str], db_name: str) -> milvus_pb2.FlushRequest:
    return milvus_pb2.FlushRequest(collection_names=collection_names, db_name=db_name)


def _flush_result(response: milvus_pb2.FlushResponse, collection_names: list[str], db_name: str) -> FlushResult:
    return {
        "db_name": response.db_name or db_name or "default",
        "collections": {
            name: {
                "segment_ids": list(response.coll_segIDs[name].data) if name in response.coll_segIDs else [],
                "flushed_segment_ids": (
                    list(response.flush_coll_segIDs[name].data) if name in response.flush_coll_segIDs else []
                ),
                "flush_ts": int(response.coll_flush_ts.get(name, 0)),
                "seal_time": int(response.coll_seal_times.get(name, 0)),
            }
            for name in collection_names
        },
        "channel_checkpoints": {
            channel: {"timestamp": int(position.timestamp)} for channel, position in response.channel_cps.items()
        },
    }


def _flush_state_request(
    *, segment_ids: list[int], collection_name: str | None, flush_ts: int | None, db_name: str
) -> milvus_pb2.GetFlushStateRequest:
    return milvus_pb2.GetFlushStateRequest(
        segmentIDs=segment_ids, collection_name=collection_name or "", flush_ts=flush_ts or 0, db_name=db_name
    )


def _import_request(
    collection_name: str, files: list[str], partition_name: str | None, db_name: str, options: dict[str, str] | None
) -> milvus_pb2.ImportRequest:
    return milvus_pb2.ImportRequest(
        collection_name=collection_name,
        partition_name=partition_name or "",
        files=files,
        db_name=db_name,
        options=[common_pb2.KeyValuePair(key=k, value=str(v)) for k, v in (options or {}).items()],
    )


def import_state_dict(response: milvus_pb2.GetImportStateResponse, import_task_id: int = 0) -> ImportState:
    """Node's getImportState fields, with the state by name plus failed_reason and progress.

    ``id`` is the task asked about: Milvus 2.4+ answers ``id=0`` (its GetImportState is a shim
    over import jobs), so the ID Milvus reports is used only when no ID was asked for (a listing).
    Only ``state``, ``row_count``, ``failed_reason``, ``progress`` and ``create_ts`` are reported by
    every version; ``id_list``, ``segment_ids``, ``collection_id`` and the ``infos`` beyond
    ``failed_reason`` and ``progress_percent`` are Milvus 2.2/2.3 only.
    """
    infos = {kv.key: kv.value for kv in response.infos}
    progress: int | None = None
    if infos.get("progress_percent", "").isdigit():
        progress = int(infos["progress_percent"])
    return {
        "id": import_task_id or int(response.id),
        "state": common_pb2.ImportState.Name(response.state),
        "row_count": int(response.row_count),
        "id_list": list(response.id_list),
        "infos": infos,
        "collection_id": int(response.collection_id),
        "segment_ids": list(response.segment_ids),
        "create_ts": int(response.create_ts),
        "failed_reason": infos.get("failed_reason", ""),
        "progress": progress,
    }


def index_state_dict(description: Any) -> IndexState:
    """One ``IndexDescription`` of DescribeIndex, by name."""
    return {
        "index_name": description.index_name,
        "field_name": description.field_name,
        "indexed_rows": int(description.indexed_rows),
        "total_rows": int(description.total_rows),
        "pending_index_rows": int(description.pending_index_rows),
        "state": common_pb2.IndexState.Name(description.state),
        "fail_reason": description.index_state_fail_reason,
    }


def _describe_index_request(
    collection_name: str, index_name: str | None, field_name: str | None, db_name: str
) -> milvus_pb2.DescribeIndexRequest:
    return milvus_pb2.DescribeIndexRequest(
        collection_name=collection_name, index_name=index_name or "", field_name=field_name or "", db_name=db_name
    )


def _loading_progress_request(
    collection_name: str, partition_names: list[str] | None, db_name: str
) -> milvus_pb2.GetLoadingProgressRequest:
    return milvus_pb2.GetLoadingProgressRequest(
        collection_name=collection_name, partition_names=partition_names or [], db_name=db_name
    )


def _loading_progress(response: milvus_pb2.GetLoadingProgressResponse) -> LoadProgress:
    return {"progress": int(response.progress), "refresh_progress": int(response.refresh_progress)}


class MilvusHook(MilvusBaseHook):
    """Talks to Milvus through an Airflow connection of type ``milvus``.

    See docs/connection.md. Flush, bulk insert and their states go through the gRPC stubs;
    collections and rows through pymilvus's ``MilvusClient`` (:meth:`get_conn`).

    :param milvus_conn_id: The Airflow connection to use.
    """

    conn_type = "milvus"
    hook_name = "Milvus"

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The extra fields of the connection form in Airflow's Flask UI (Airflow 2)."""
        return connection_form_widgets()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden, relabeled and placeholder fields of the Airflow 2 connection form."""
        return ui_field_behaviour()

    def collection_asset(self, collection_name: str, db_name: str | None = None) -> Any:
        """The collection as an Airflow asset (a dataset on Airflow 2), for ``outlets`` and schedules:
        ``milvus://<host>:<port>/<database>/<collection>`` as this connection reaches it."""
        from airflow.providers.common.compat.sdk import Asset

        name = validate_name(collection_name, "collection_name")
        return Asset(collection_uri(self.settings.address, db_name or self.settings.db_name, name))

    def _report_output(self, collection_name: str, db_name: str | None = None) -> None:
        """Tell Airflow's hook lineage that this hook wrote to the collection (a no-op unless a
        lineage reader is installed), as first-party hooks report what they read and write."""
        from airflow.providers.common.compat.lineage.hook import get_hook_lineage_collector

        uri = collection_uri(self.settings.address, db_name or self.settings.db_name, collection_name)
        get_hook_lineage_collector().add_output_asset(context=self, uri=uri)

    def get_conn(self) -> MilvusClient:
        """A ``pymilvus.MilvusClient`` for the connection, created once per hook."""
        return self.client

    def test_connection(self) -> tuple[bool, str]:
        """Check the server answers and accepts the credentials and database."""
        try:
            version = self.get_server_version()
            self._call("ShowCollections", milvus_pb2.ShowCollectionsRequest(db_name=self.settings.db_name), 10)
        except (MilvusError, MilvusConfigError) as err:
            return False, str(err)
        finally:
            self.close()
        return True, f"Connected to Milvus {version}"

    # --- Milvus operations ----------------------------------------------------------------------

    def get_server_version(self, timeout: float | None = 10) -> str:
        """Milvus's version string, e.g. ``v2.5.4``."""
        return self._call("GetVersion", milvus_pb2.GetVersionRequest(), timeout).version

    def flush(
        self, collection_names: str | list[str], db_name: str | None = None, timeout: float | None = None
    ) -> FlushResult:
        """Send one Flush RPC for the collections; returns at once with what Milvus answered.

        ``{"db_name", "collections": {name: {"segment_ids", "flushed_segment_ids", "flush_ts",
        "seal_time"}}, "channel_checkpoints": {channel: {"timestamp"}}}``
        """
        names = validate_collection_names(collection_names)
        db = self._db(db_name)
        response = self._call("Flush", _flush_request(names, db), timeout, db)
        return _flush_result(response, names, db)

    def get_flush_state(
        self,
        segment_ids: list[int],
        collection_name: str | None = None,
        flush_ts: int | None = None,
        db_name: str | None = None,
        timeout: float | None = None,
    ) -> bool:
        """Whether the segments are persisted, and the collection's channels past ``flush_ts``.

        ``segment_ids`` may be empty when ``collection_name`` and ``flush_ts`` are given (a flush
        that sealed no segment). Milvus answers True for segment IDs it does not know, and 2.4+
        answers True without checking ``flush_ts`` when no collection is named: name it.
        """
        target = validate_flush_target(segment_ids, collection_name, flush_ts)  # before the connection is read
        db = self._db(db_name)
        request = _flush_state_request(**target, db_name=db)
        return bool(self._call("GetFlushState", request, timeout, db).flushed)

    async def aget_flush_state(
        self,
        segment_ids: list[int],
        collection_name: str | None = None,
        flush_ts: int | None = None,
        db_name: str | None = None,
        timeout: float | None = None,
    ) -> bool:
        """:meth:`get_flush_state` on the running event loop, over the channel shared per loop."""
        target = validate_flush_target(segment_ids, collection_name, flush_ts)
        db = db_name or (await self.asettings()).db_name
        request = _flush_state_request(**target, db_name=db)
        return bool((await self._acall("GetFlushState", request, timeout, db)).flushed)

    def bulk_insert(
        self,
        collection_name: str,
        files: list[str],
        partition_name: str | None = None,
        db_name: str | None = None,
        options: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> int:
        """Start an import (bulk insert) of the files; returns the import task ID (a job ID on 2.4+).

        ``files`` are paths as the server sees them (see :meth:`import_file_keys`); the server
        judges their format. ``options``
        are passed to Milvus as strings (``auto_commit=false`` is refused: see
        :func:`~airflow_provider_milvus.validation.validate_import_options`).
        """
        validate_name(collection_name, "collection_name")
        files = self.import_file_keys(files)
        options = validate_import_options(options)
        db = self._db(db_name)
        self._check_import_target(collection_name, partition_name, db, timeout)
        request = _import_request(collection_name, files, partition_name, db, options)
        response = self._call("Import", request, timeout, db)
        if not response.tasks:
            raise MilvusError("Import", "no task", f"Milvus returned no import task for {collection_name!r}")
        self._report_output(collection_name, db)
        return int(response.tasks[0])

    def import_file_keys(self, files: Any) -> list[str]:
        """``files`` as the server reads them: keys in its bucket (``s3://`` URIs and
        ``ObjectStoragePath`` objects of the connection's ``bucket_name`` turned into keys), or local
        paths; see :func:`airflow_provider_milvus.storage.import_file_keys`."""
        return import_file_keys(files, self.settings)

    def storage_destination(self, aws_conn_id: str | None = None) -> S3Destination | None:
        """Where to write import files: Milvus's bucket (the connection's ``bucket_name``), with the
        endpoint and keys of ``aws_conn_id`` (login, password, extra ``endpoint_url``) or of the
        connection's ``storage_*`` extras; None for a server that reads local paths."""
        settings = self.settings
        if not settings.bucket_name:
            if aws_conn_id:
                raise MilvusConfigError(
                    f"aws_conn_id: the Milvus connection {settings.conn_id!r} names no bucket_name, so the import "
                    "files have no bucket to go to; set its bucket_name extra to Milvus's bucket"
                )
            return None
        endpoint, access_key, secret_key = (
            settings.storage_endpoint,
            settings.storage_access_key,
            settings.storage_secret_key,
        )
        region = None
        if aws_conn_id:
            aws = self._aws_keys(aws_conn_id)
            endpoint = aws["endpoint"] or endpoint
            access_key, secret_key, region = aws["access_key"], aws["secret_key"], aws["region"] or None
        where = f"aws_conn_id {aws_conn_id!r}" if aws_conn_id else f"the Milvus connection {settings.conn_id!r}"
        if not endpoint:
            raise MilvusConfigError(f"{where} gives no S3 endpoint (storage_endpoint, or endpoint_url) to write to")
        if not access_key or not secret_key:
            raise MilvusConfigError(
                f"{where} gives no access key and secret key to write to bucket {settings.bucket_name!r}"
            )
        from airflow.providers.common.compat.sdk import mask_secret

        mask_secret(access_key)
        mask_secret(secret_key)
        return S3Destination(settings.bucket_name, endpoint, access_key, secret_key, region)

    def _aws_keys(self, aws_conn_id: str) -> dict[str, str]:
        """An Airflow AWS connection's S3 endpoint, keys and region (login and password, or its extras)."""
        aws = self.get_connection(aws_conn_id)
        extra = aws.extra_dejson
        s3_config = (extra.get("service_config") or {}).get("s3") or {}
        return {
            "endpoint": str(extra.get("endpoint_url") or s3_config.get("endpoint_url") or ""),
            "access_key": aws.login or str(extra.get("aws_access_key_id") or ""),
            "secret_key": aws.password or str(extra.get("aws_secret_access_key") or ""),
            "session_token": str(extra.get("aws_session_token") or ""),
            "region": str(extra.get("region_name") or ""),
        }

    def object_url_credentials(self, aws_conn_id: str | None = None) -> dict[str, str]:
        """The keys Zilliz Cloud reads ``object_urls`` with (``access_key``, ``secret_key``,
        ``session_token``): ``aws_conn_id``'s, or the connection's ``storage_*`` extras; empty for
        objects that need none. Masked in logs."""
        if aws_conn_id:
            aws = self._aws_keys(aws_conn_id)
            keys = {name: aws[name] for name in ("access_key", "secret_key", "session_token")}
            where = f"aws_conn_id {aws_conn_id!r}"
        else:
            settings = self.settings
            keys = {
                "access_key": settings.storage_access_key,
                "secret_key": settings.storage_secret_key,
                "session_token": "",
            }
            where = f"the Milvus connection {settings.conn_id!r}"
        if bool(keys["access_key"]) != bool(keys["secret_key"]):
            raise MilvusConfigError(f"{where} gives only one of the access key and the secret key for object_urls")
        from airflow.providers.common.compat.sdk import mask_secret

        for value in keys.values():
            if value:
                mask_secret(value)
        return keys

    def collection_schema(self, collection_name: str, timeout: float | None = None) -> CollectionSchema:
        """The collection's schema as pymilvus's ``CollectionSchema`` (what its bulk writer checks rows
        against); a collection that does not exist fails naming it and its database."""
        from pymilvus import CollectionSchema

        client = self.get_conn()
        if not self._client_call("HasCollection", lambda: client.has_collection(collection_name, timeout=timeout)):
            raise MilvusError(
                "DescribeCollection",
                100,
                f"collection not found: {collection_name!r} in database {self.settings.db_name or 'default'!r}",
            )
        described = self._client_call(
            "DescribeCollection", lambda: client.describe_collection(collection_name, timeout=timeout)
        )
        return CollectionSchema.construct_from_dict(described)

    def _check_import_target(
        self, collection_name: str, partition_name: str | None, db: str, timeout: float | None
    ) -> None:
        """Fail at once on a collection or partition that does not exist: Milvus 2.3 would retry the
        Import inside for about a minute before refusing it."""
        has = milvus_pb2.HasCollectionRequest(collection_name=collection_name, db_name=db)
        if not self._call("HasCollection", has, timeout, db).value:
            raise MilvusError(
                "Import", 100, f"collection not found: {collection_name!r} in database {db or 'default'!r}"
            )
        if partition_name:
            has_partition = milvus_pb2.HasPartitionRequest(
                collection_name=collection_name, partition_name=partition_name, db_name=db
            )
            if not self._call("HasPartition", has_partition, timeout, db).value:
                raise MilvusError(
                    "Import",
                    200,
                    f"partition not found: {partition_name!r} in collection {collection_name!r} of database "
                    f"{db or 'default'!r}",
                )

    def get_import_state(self, import_task_id: int, timeout: float | None = None) -> ImportState:
        """The state of one import (see :func:`import_state_dict`)."""
        task_id = validate_import_task_id(import_task_id)
        request = milvus_pb2.GetImportStateRequest(task=task_id)
        return import_state_dict(self._call("GetImportState", request, timeout), task_id)

    async def aget_import_state(self, import_task_id: int, timeout: float | None = None) -> ImportState:
        """:meth:`get_import_state` on the running event loop, over the channel shared per loop."""
        task_id = validate_import_task_id(import_task_id)
        request = milvus_pb2.GetImportStateRequest(task=task_id)
        return import_state_dict(await self._acall("GetImportState", request, timeout), task_id)

    def list_import_tasks(
        self,
        collection_name: str | None = None,
        limit: int = 0,
        db_name: str | None = None,
        timeout: float | None = None,
    ) -> list[ImportState]:
        """The import tasks Milvus keeps, of one collection or all. Milvus 2.4+ reports them with
        ``id=0`` and without their files (see docs/milvus-versions.md)."""
        db = self._db(db_name)
        request = milvus_pb2.ListImportTasksRequest(collection_name=collection_name or "", limit=limit, db_name=db)
        return [import_state_dict(task) for task in self._call("ListImportTasks", request, timeout, db).tasks]

    # --- Indexes, loading and aliases -------------------------------------------------------------

    def describe_index(
        self,
        collection_name: str,
        index_name: str | None = None,
        field_name: str | None = None,
        db_name: str | None = None,
        timeout: float | None = None,
    ) -> list[IndexState]:
        """The collection's indexes (the one named, or those of ``field_name``; all by default) and
        how far each is built (see :class:`~airflow_provider_milvus.types.IndexState`)."""
        db = self._db(db_name)
        request = _describe_index_request(collection_name, index_name, field_name, db)
        return [index_state_dict(d) for d in self._call("DescribeIndex", request, timeout, db).index_descriptions]

    async def adescribe_index(
        self,
        collection_name: str,
        index_name: str | None = None,
        field_name: str | None = None,
        db_name: str | None = None,
        timeout: float | None = None,
    ) -> list[IndexState]:
        """:meth:`describe_index` on the running event loop, over the channel shared per loop."""
        db = db_name or (await self.asettings()).db_name
        request = _describe_index_request(collection_name, index_name, field_name, db)
        response = await self._acall("DescribeIndex", request, timeout, db)
        return [index_state_dict(d) for d in response.index_descriptions]

    def create_index(self, collection_name: str, index: dict[str, Any], timeout: float | None = None) -> None:
        """Create one index, ``{"field_name", "index_type", "metric_type", "params", "index_name"}``
        (validated by :func:`~airflow_provider_milvus.schema.validate_index_params`); Milvus builds
        it in the background."""
        client = self.get_conn()
        params = client.prepare_index_params()
        params.add_index(**index)
        # sync=False: pymilvus would otherwise wait for the build inside (holding a worker that means to
        # defer, and turning a failed build into a retryable error); the index wait does that.
        self._client_call(
            "CreateIndex", lambda: client.create_index(collection_name, params, timeout=timeout, sync=False)
        )

    def describe_index_params(self, collection_name: str, timeout: float | None = None) -> list[dict[str, Any]]:
        """How the collection's indexes were made: ``[{"index_name", "field_name", "index_type",
        "metric_type"}]``."""
        client = self.get_conn()
        names = self._client_call("ListIndexes", lambda: client.list_indexes(collection_name, timeout=timeout))
        described = []
        for index_name in names:
            info: dict[str, Any] = self._client_call(
                "DescribeIndex", functools.partial(client.describe_index, collection_name, index_name, timeout=timeout)
            )
            described.append({key: info.get(key) for key in ("index_name", "field_name", "index_type", "metric_type")})
        return described

    def start_load(
        self,
        collection_name: str,
        *,
        partition_names: list[str] | None = None,
        refresh: bool = False,
        replica_number: int | None = None,
        resource_groups: list[str] | None = None,
        load_fields: list[str] | None = None,
        db_name: str | None = None,
        timeout: float | None = None,
    ) -> None:
        """Ask Milvus to load the collection (or some of its partitions) for search, or with
        ``refresh`` to pick up segments added since it was loaded (an import's); returns once Milvus
        accepted it. Wait with :meth:`get_loading_progress`."""
        db = self._db(db_name)
        common: dict[str, Any] = {
            "collection_name": collection_name,
            "db_name": db,
            "refresh": refresh,
            "replica_number": replica_number or 0,
            "resource_groups": resource_groups or [],
            "load_fields": load_fields or [],
        }
        if partition_names:
            self._call(
                "LoadPartitions",
                milvus_pb2.LoadPartitionsRequest(partition_names=partition_names, **common),
                timeout,
                db,
            )
        else:
            self._call("LoadCollection", milvus_pb2.LoadCollectionRequest(**common), timeout, db)

    def get_load_state(
        self,
        collection_name: str,
        partition_names: list[str] | None = None,
        db_name: str | None = None,
        timeout: float | None = None,
    ) -> str:
        """``LoadStateNotExist``, ``LoadStateNotLoad``, ``LoadStateLoading`` or ``LoadStateLoaded``."""
        db = self._db(db_name)
        request = milvus_pb2.GetLoadStateRequest(
            collection_name=collection_name, partition_names=partition_names or [], db_name=db
        )
        return common_pb2.LoadState.Name(self._call("GetLoadState", request, timeout, db).state)

    def get_loading_progress(
        self,
        collection_name: str,
        partition_names: list[str] | None = None,
        db_name: str | None = None,
        timeout: float | None = None,
    ) -> LoadProgress:
        """How far a load (``progress``) and a refresh (``refresh_progress``) are, in percent."""
        db = self._db(db_name)
        request = _loading_progress_request(collection_name, partition_names, db)
        return _loading_progress(self._call("GetLoadingProgress", request, timeout, db))

    async def aget_loading_progress(
        self,
        collection_name: str,
        partition_names: list[str] | None = None,
        db_name: str | None = None,
        timeout: float | None = None,
    ) -> LoadProgress:
        """:meth:`get_loading_progress` on the running event loop, over the channel shared per loop."""
        db = db_name or (await self.asettings()).db_name
        request = _loading_progress_request(collection_name, partition_names, db)
        return _loading_progress(await self._acall("GetLoadingProgress", request, timeout, db))

    def release(
        self,
        collection_name: str,
        partition_names: list[str] | None = None,
        db_name: str | None = None,
        timeout: float | None = None,
    ) -> None:
        """Release the collection (or some of its partitions) from memory."""
        db = self._db(db_name)
        if partition_names:
            request: Any = milvus_pb2.ReleasePartitionsRequest(
                collection_name=collection_name, partition_names=partition_names, db_name=db
            )
            self._call("ReleasePartitions", request, timeout, db)
        else:
            request = milvus_pb2.ReleaseCollectionRequest(collection_name=collection_name, db_name=db)
            self._call("ReleaseCollection", request, timeout, db)

    def has_collection(self, collection_name: str, db_name: str | None = None, timeout: float | None = None) -> bool:
        """Whether a collection of this name exists (Milvus answers True for an alias too)."""
        db = self._db(db_name)
        request = milvus_pb2.HasCollectionRequest(collection_name=collection_name, db_name=db)
        return bool(self._call("HasCollection", request, timeout, db).value)

    def list_aliases(self, collection_name: str, db_name: str | None = None, timeout: float | None = None) -> list[str]:
        """The aliases that point at the collection."""
        db = self._db(db_name)
        request = milvus_pb2.ListAliasesRequest(collection_name=collection_name, db_name=db)
        return list(self._call("ListAliases", request, timeout, db).aliases)

    def describe_alias(self, alias: str, db_name: str | None = None, timeout: float | None = None) -> str | None:
        """The collection the alias points at, or None if there is no such alias."""
        db = self._db(db_name)
        request = milvus_pb2.DescribeAliasRequest(alias=alias, db_name=db)
        try:
            return self._call("DescribeAlias", request, timeout, db).collection or None
        except MilvusError as err:
            if "alias not found" in err.reason.lower() or "does not exist" in err.reason.lower():
                return None
            raise

    def point_alias(
        self,
        alias: str,
        collection_name: str,
        *,
        exists: bool,
        db_name: str | None = None,
        timeout: float | None = None,
    ) -> None:
        """Create the alias (``exists=False``) or point it at the collection, atomically (AlterAlias)."""
        db = self._db(db_name)
        if exists:
            self._call(
                "AlterAlias",
                milvus_pb2.AlterAliasRequest(alias=alias, collection_name=collection_name, db_name=db),
                timeout,
                db,
            )
        else:
            self._call(
                "CreateAlias",
                milvus_pb2.CreateAliasRequest(alias=alias, collection_name=collection_name, db_name=db),
                timeout,
                db,
            )
        self._report_output(alias, db)

    def drop_collection(self, collection_name: str, db_name: str | None = None, timeout: float | None = None) -> None:
        """Drop the collection and its data."""
        db = self._db(db_name)
        self._call(
            "DropCollection", milvus_pb2.DropCollectionRequest(collection_name=collection_name, db_name=db), timeout, db
        )

    # --- Collections and rows, through pymilvus's MilvusClient -------------------------------------

    @staticmethod
    def data_types() -> frozenset[str]:
        """The names of the field data types this pymilvus knows (INT64, VARCHAR, FLOAT_VECTOR, ...)."""
        from pymilvus import DataType

        return frozenset(t.name for t in DataType if t.name not in ("NONE", "UNKNOWN") and not t.name.startswith("_"))

    def describe_collection_schema(self, collection_name: str, timeout: float | None = None) -> dict[str, Any] | None:
        """The collection's schema in the provider's JSON form (see :mod:`airflow_provider_milvus.schema`),
        or None if there is no such collection."""
        client = self.get_conn()
        if not self._client_call("HasCollection", lambda: client.has_collection(collection_name, timeout=timeout)):
            return None
        described = self._client_call(
            "DescribeCollection", lambda: client.describe_collection(collection_name, timeout=timeout)
        )
        return _schema_from_description(described)

    def create_collection(
        self,
        collection_name: str,
        schema: dict[str, Any],
        index_params: list[dict[str, Any]] | None = None,
        timeout: float | None = None,
    ) -> None:
        """Create a collection from a schema validated by :func:`~airflow_provider_milvus.schema.validate_schema`,
        with its indexes; it is not loaded (see :meth:`load_collection`)."""
        from pymilvus import DataType, MilvusClient

        client = self.get_conn()
        milvus_schema = MilvusClient.create_schema(
            enable_dynamic_field=schema["enable_dynamic_field"], description=schema["description"]
        )
        for field in schema["fields"]:
            kwargs = {key: value for key, value in field.items() if key not in ("name", "type", "element_type")}
            if "element_type" in field:
                kwargs["element_type"] = DataType[field["element_type"]]
            milvus_schema.add_field(field["name"], DataType[field["type"]], **kwargs)
        # The indexes separately: given them, pymilvus's create_collection also loads the collection.
        self._client_call(
            "CreateCollection",
            lambda: client.create_collection(collection_name, schema=milvus_schema, timeout=timeout),
        )
        for spec in index_params or []:
            self.create_index(collection_name, spec, timeout=timeout)
        self._report_output(collection_name)

    def load_collection(self, collection_name: str, timeout: float | None = None) -> None:
        """Load the collection into memory for search (returns once it is loaded)."""
        client = self.get_conn()
        self._client_call("LoadCollection", lambda: client.load_collection(collection_name, timeout=timeout))

    def write_rows(
        self,
        collection_name: str,
        rows: list[dict[str, Any]],
        *,
        upsert: bool = False,
        partition_name: str | None = None,
        timeout: float | None = None,
    ) -> tuple[int, list[int | str]]:
        """Insert (or upsert) rows; returns how many Milvus wrote and the primary keys it returned."""
        client = self.get_conn()
        write = client.upsert if upsert else client.insert
        result = self._client_call(
            "Upsert" if upsert else "Insert",
            lambda: write(collection_name, rows, timeout=timeout, partition_name=partition_name or ""),
        )
        count = result.get("upsert_count" if upsert else "insert_count", len(rows))
        self._report_output(collection_name)
        return int(count), list(result.get("ids") or [])

    def count_rows(self, collection_name: str, filter: str = "", timeout: float | None = None) -> int:
        """Rows of the collection (those matching ``filter``), counted at Strong consistency: every
        write Milvus acknowledged before the call, of the segments loaded for search."""
        client = self.get_conn()
        result = self._client_call(
            "Query",
            lambda: client.query(
                collection_name, filter=filter, output_fields=["count(*)"], consistency_level="Strong", timeout=timeout
            ),
        )
        return int(result[0]["count(*)"]) if result else 0

    def search(
        self,
        collection_name: str,
        vector: list[float],
        *,
        anns_field: str | None = None,
        limit: int = 10,
        filter: str = "",
        output_fields: list[str] | None = None,
        search_params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> list[dict[str, Any]]:
        """One vector's nearest rows at Strong consistency: ``[{"id", "distance", "entity"}]``."""
        client = self.get_conn()
        kwargs: dict[str, Any] = {"anns_field": anns_field} if anns_field else {}
        result = self._client_call(
            "Search",
            lambda: client.search(
                collection_name,
                data=[vector],
                limit=limit,
                filter=filter,
                output_fields=output_fields,
                search_params=search_params or {},
                consistency_level="Strong",
                timeout=timeout,
                **kwargs,
            ),
        )
        return [
            {"id": hit["id"], "distance": float(hit["distance"]), "entity": dict(hit.get("entity") or {})}
            for hit in (result[0] if result else [])
        ]


def _schema_from_description(described: dict[str, Any]) -> dict[str, Any]:
    """``MilvusClient.describe_collection`` in the provider's schema form."""
    fields = []
    for field in described.get("fields", []):
        entry: dict[str, Any] = {"name": field["name"], "type": _type_name(field["type"])}
        entry["is_primary"] = bool(field.get("is_primary", False))
        if entry["is_primary"]:
            entry["auto_id"] = bool(field.get("auto_id", described.get("auto_id", False)))
        params = field.get("params") or {}
        for key in ("dim", "max_length", "max_capacity"):
            if key in params:
                entry[key] = int(params[key])
        if field.get("element_type") is not None:
            entry["element_type"] = _type_name(field["element_type"])
        for flag in ("nullable", "is_partition_key"):
            entry[flag] = bool(field.get(flag, False))
        fields.append(entry)
    return {
        "fields": fields,
        "enable_dynamic_field": bool(described.get("enable_dynamic_field", False)),
        "description": str(described.get("description") or ""),
    }


def _type_name(data_type: Any) -> str:
    return str(getattr(data_type, "name", data_type)).upper()
