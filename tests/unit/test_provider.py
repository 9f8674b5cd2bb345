"""Registration metadata, and the pymilvus internals the hook depends on."""

from __future__ import annotations

from importlib.metadata import entry_points

from airflow_provider_milvus.get_provider_info import get_provider_info


def test_entry_point_and_connection_type():
    [ep] = [
        ep for ep in entry_points(group="apache_airflow_provider") if ep.value.startswith("airflow_provider_milvus")
    ]
    info = ep.load()()
    assert info == get_provider_info()
    assert info["package-name"] == "airflow-provider-milvus"
    [conn] = info["connection-types"]
    assert conn["connection-type"] == "milvus" and conn["hook-name"] == "Milvus"
    assert conn["hook-class-name"] == "airflow_provider_milvus.hooks.milvus.MilvusHook"
    fields = conn["conn-fields"]
    assert set(fields) == {
        "token", "db_name", "secure", "server_pem_path", "ca_pem_path",
        "client_pem_path", "client_key_path", "server_name", "timeout",
        "bucket_name", "storage_endpoint", "storage_access_key", "storage_secret_key",
        "cluster_id", "cloud_api_endpoint",
    }  # fmt: skip
    for secret in ("token", "storage_access_key", "storage_secret_key"):
        assert fields[secret]["schema"]["format"] == "password"
    for module_group in ("hooks", "operators", "sensors", "triggers"):
        for entry in info[module_group]:
            for module in entry["python-modules"]:
                __import__(module)


def test_pymilvus_protocol_surface_the_hook_uses():
    """Fails loudly if a pymilvus release moves or renames what the hook builds on."""
    from pymilvus.grpc_gen import common_pb2, milvus_pb2, milvus_pb2_grpc

    stub_methods = ("Flush", "GetFlushState", "Import", "GetImportState", "ListImportTasks", "GetVersion")
    for method in (*stub_methods, "ShowCollections"):
        assert hasattr(milvus_pb2_grpc.MilvusServiceStub(_FakeChannel()), method), method
    assert set(milvus_pb2.FlushResponse.DESCRIPTOR.fields_by_name) >= {
        "status", "db_name", "coll_segIDs", "flush_coll_segIDs", "coll_seal_times", "coll_flush_ts", "channel_cps",
    }  # fmt: skip
    assert set(milvus_pb2.GetFlushStateRequest.DESCRIPTOR.fields_by_name) >= {
        "segmentIDs", "flush_ts", "db_name", "collection_name",
    }  # fmt: skip
    assert set(milvus_pb2.ImportRequest.DESCRIPTOR.fields_by_name) >= {
        "collection_name", "partition_name", "files", "options", "db_name",
    }  # fmt: skip
    assert set(milvus_pb2.GetImportStateResponse.DESCRIPTOR.fields_by_name) >= {
        "status", "state", "row_count", "id_list", "infos", "id", "collection_id", "segment_ids", "create_ts",
    }  # fmt: skip
    assert set(milvus_pb2.ListImportTasksRequest.DESCRIPTOR.fields_by_name) >= {"collection_name", "limit", "db_name"}
    states = dict(common_pb2.ImportState.items())
    assert {k: states.get(k) for k in ("ImportPending", "ImportFailed", "ImportStarted", "ImportPersisted")} == {
        "ImportPending": 0, "ImportFailed": 1, "ImportStarted": 2, "ImportPersisted": 5,
    }  # fmt: skip
    assert (states.get("ImportCompleted"), states.get("ImportFailedAndCleaned")) == (6, 7)
    assert {"code", "error_code", "reason"} <= set(common_pb2.Status.DESCRIPTOR.fields_by_name)


class _FakeChannel:
    def unary_unary(self, *args, **kwargs):
        return object()

    def __getattr__(self, name):
        return lambda *args, **kwargs: object()


def test_public_classes_start_with_a_one_line_summary_and_point_to_their_page():
    import importlib
    import inspect
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    modules = ["hooks.milvus", "operators.milvus", "sensors.milvus", "triggers.milvus", "exceptions"]
    for name in modules:
        module = importlib.import_module(f"airflow_provider_milvus.{name}")
        for cls_name, cls in vars(module).items():
            if not inspect.isclass(cls) or cls.__module__ != module.__name__ or cls_name.startswith("_"):
                continue
            lines = (cls.__doc__ or "").strip().splitlines()
            assert lines and lines[0].endswith("."), f"{cls_name}: no one-line summary: {lines[:1]}"
            assert len(lines) == 1 or not lines[1].strip(), f"{cls_name}: the summary runs over one line"
            if name != "exceptions":
                pages = [word.rstrip(".,;)") for word in cls.__doc__.split() if word.startswith("docs/")]
                assert pages, f"{cls_name}: names no docs page"
                for page in pages:
                    assert (root / page).is_file(), f"{cls_name}: {page} does not exist"
