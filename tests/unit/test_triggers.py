"""Trigger kwargs: JSON primitives, round-tripping, and garbage rejected clearly."""

from __future__ import annotations

import importlib
import importlib.machinery
import json

import pytest

from airflow_provider_milvus.exceptions import MilvusConfigError, MilvusWaitFailed, MilvusWaitTimeout
from airflow_provider_milvus.triggers.milvus import (
    MilvusFlushStateTrigger,
    MilvusImportStateTrigger,
    MilvusIndexStateTrigger,
    MilvusLoadTrigger,
)
from airflow_provider_milvus.utils.mixins import event_result


def roundtrip(trigger):
    classpath, kwargs = trigger.serialize()
    assert json.loads(json.dumps(kwargs)) == kwargs  # JSON primitives only
    module, name = classpath.rsplit(".", 1)
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    return kwargs


def test_flush_trigger_roundtrip():
    kwargs = roundtrip(
        MilvusFlushStateTrigger(
            collections=[{"collection_name": "c", "segment_ids": [1, 2], "flush_ts": 99}],
            db_name="db",
            milvus_conn_id="m",
            poll_interval=2,
            deadline="2030-01-01T00:00:00+00:00",
            rpc_timeout=3,
        )
    )
    assert kwargs["deadline"] == "2030-01-01T00:00:00+00:00" and kwargs["milvus_conn_id"] == "m"


def test_import_trigger_roundtrip():
    kwargs = roundtrip(MilvusImportStateTrigger(import_task_id="42", deadline=None))
    assert kwargs["import_task_id"] == 42


def test_index_and_load_trigger_roundtrip():
    kwargs = roundtrip(MilvusIndexStateTrigger(collection_name="c", index_names=["a", "b"], field_name="v"))
    assert kwargs["collection_name"] == "c" and kwargs["index_names"] == ["a", "b"]
    kwargs = roundtrip(MilvusLoadTrigger(collection_name="c", partition_names=["p"], refresh=True))
    assert kwargs["refresh"] is True and kwargs["partition_names"] == ["p"]
    # A sensor the scheduler starts in the triggerer hands over templates, checked once rendered.
    roundtrip(MilvusIndexStateTrigger(collection_name="{{ params.collection }}"))


@pytest.mark.parametrize(
    ("cls", "kwargs", "fragment"),
    [
        (MilvusImportStateTrigger, {"import_task_id": "abc"}, "import_task_id must be an integer"),
        (MilvusImportStateTrigger, {"import_task_id": 1, "poll_interval": 0}, "poll_interval must be a positive"),
        (MilvusImportStateTrigger, {"import_task_id": 1, "poll_interval": -5}, "poll_interval"),
        (MilvusImportStateTrigger, {"import_task_id": 1, "deadline": "tomorrow-ish"}, "deadline must be an ISO"),
        (MilvusImportStateTrigger, {"import_task_id": 1, "milvus_conn_id": None}, "milvus_conn_id"),
        (MilvusIndexStateTrigger, {"collection_name": ""}, "collection_name"),
        (MilvusIndexStateTrigger, {"collection_name": "c", "index_names": [""]}, "index_name"),
        (MilvusLoadTrigger, {"collection_name": None}, "collection_name"),
        (MilvusLoadTrigger, {"collection_name": "c", "partition_names": [3]}, "partition_names"),
        (MilvusFlushStateTrigger, {"collections": []}, "collections must be a non-empty list"),
        (MilvusFlushStateTrigger, {"collections": [{"x": 1}]}, "need segment_ids"),
        (MilvusFlushStateTrigger, {"collections": [{"segment_ids": ["a"]}]}, "integer segment IDs"),
    ],
)
def test_garbage_kwargs_rejected(cls, kwargs, fragment):
    with pytest.raises(MilvusConfigError, match=fragment):
        cls(**kwargs)


def test_event_result():
    assert event_result({"status": "success", "flushed": True})["flushed"]
    with pytest.raises(MilvusWaitTimeout, match="late"):
        event_result({"status": "timeout", "message": "late"})
    with pytest.raises(MilvusWaitFailed, match="bad") as err:
        event_result({"status": "error", "message": "bad", "import_state": {"state": "ImportFailed"}})
    assert err.value.result == {"state": "ImportFailed"}
    with pytest.raises(MilvusWaitFailed, match="Unexpected event"):
        event_result(None)
