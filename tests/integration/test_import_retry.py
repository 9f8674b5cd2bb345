"""A retried bulk insert against the real Milvus: each branch of what a retry finds (the task state
store's record of the request, an intent without the import's ID, nothing, several imports), and
the order in which a try records what it does. (Real retries through Airflow: tests/e2e.)"""

from __future__ import annotations

import pendulum
import pytest

from airflow_provider_milvus.exceptions import MilvusDuplicateImportError
from airflow_provider_milvus.hooks.milvus import MilvusHook
from airflow_provider_milvus.operators.milvus import MilvusBulkInsertOperator
from airflow_provider_milvus.utils.import_resume import DUPLICATE_IMPORTS_XCOM, IMPORT_STORE_KEY
from airflow_provider_milvus.wait import ImportStateTarget, deadline_after, wait_sync
from tests.log_capture import log_messages
from tests.task_context import TaskStore, context

from .helpers import make_collection, row_count, vectors, write_json


def bulk_insert(name: str, files: list[str], **kwargs) -> MilvusBulkInsertOperator:
    return MilvusBulkInsertOperator(
        task_id="bulk_insert", collection_name=name, files=files, poll_interval=0.3, wait_timeout=120, **kwargs
    )


def request(name: str, files: list[str]) -> dict:
    return {"db_name": "", "collection": name, "partition": "", "files": files, "options": {}}


def import_ids(name: str) -> list[int]:
    return sorted(task["id"] for task in MilvusHook().list_import_tasks(name))


def completed(task_id: int) -> None:
    wait_sync(MilvusHook(), ImportStateTarget(task_id), poll_interval=0.3, deadline=deadline_after(120))


@pytest.fixture
def legacy_only(legacy_milvus):
    """These branches read files in the import listing, which only Milvus 2.2/2.3 report (the 2.4+
    answers are fed to the same code in tests/milvus_versions)."""
    if not legacy_milvus:
        legacy_milvus.note("a retry finds an import it has no ID for by its files in the listing")
        pytest.fail("needs Milvus 2.2/2.3: run the 2.4+ cases in tests/milvus_versions")  # never skipped
    return legacy_milvus


@pytest.mark.parametrize("wait", [False, True])
def test_the_request_is_recorded_before_the_import_and_its_id_after(milvus_client, import_dir, wait):
    """Every submission, waiting or not: the intent first (Milvus holds no import yet), then the ID."""
    name = make_collection(milvus_client)
    files = [write_json(import_dir, vectors(200))]
    writes: list[tuple[dict, int]] = []
    store = TaskStore(on_set=lambda key, value: writes.append((dict(value), len(import_ids(name)))))
    task_id = bulk_insert(name, files, wait_for_completion=wait).execute(context(1, store))
    (intent, imports_then), (record, imports_after) = writes
    assert intent["import_task_id"] is None and imports_then == 0
    assert record["import_task_id"] == task_id and imports_after == 1
    assert intent["request"] == record["request"] == request(name, files)
    assert intent["submitted_at"] == record["submitted_at"] <= pendulum.now("UTC").timestamp()
    # The record stays for later tries (as Airflow's resumable jobs keep theirs).
    assert store.values[IMPORT_STORE_KEY]["import_task_id"] == task_id


def test_retry_with_the_recorded_id_reconnects(milvus_client, import_dir):
    name = make_collection(milvus_client)
    files = [write_json(import_dir, vectors(300))]
    store = TaskStore()
    first = bulk_insert(name, files).execute(context(1, store))
    with log_messages() as logs:
        assert bulk_insert(name, files, wait_for_completion=True).execute(context(2, store)) == first
    assert any(f"Reconnecting to import task {first}" in m and "task state store" in m for m in logs)
    assert import_ids(name) == [first]
    assert row_count(milvus_client, name) == 300


def test_retry_with_only_the_intent_finds_the_import_by_its_files(milvus_client, import_dir, legacy_only):
    """The try was lost between Milvus accepting the Import and the record of its ID."""
    name = make_collection(milvus_client)
    files = [write_json(import_dir, vectors(400))]
    store = TaskStore()
    store.set(
        IMPORT_STORE_KEY,
        {"request": request(name, files), "submitted_at": pendulum.now("UTC").timestamp(), "import_task_id": None},
    )
    lost = MilvusHook().bulk_insert(name, files)  # what the lost try sent
    with log_messages() as logs:
        assert bulk_insert(name, files, wait_for_completion=True).execute(context(2, store)) == lost
    assert any(f"Reattaching to import task {lost}" in m for m in logs)
    assert any("did not record Milvus's answer" in m for m in logs)
    assert store.values[IMPORT_STORE_KEY]["import_task_id"] == lost  # the next retry reconnects by ID
    assert import_ids(name) == [lost]
    assert row_count(milvus_client, name) == 400


def test_retry_with_only_the_intent_imports_when_nothing_reached_milvus(milvus_client, import_dir, legacy_only):
    """The try was lost before its Import left, or Milvus refused it: nothing to reconnect to. An
    import of the same files from before the request (another run's) is not this task's."""
    name = make_collection(milvus_client)
    files = [write_json(import_dir, vectors(100))]
    older = MilvusHook().bulk_insert(name, files)
    completed(older)
    later = pendulum.now("UTC").add(seconds=30).timestamp()  # past the clock-skew allowance
    store = TaskStore()
    store.set(IMPORT_STORE_KEY, {"request": request(name, files), "submitted_at": later, "import_task_id": None})
    task_id = bulk_insert(name, files, wait_for_completion=True).execute(context(2, store))
    assert task_id != older
    assert import_ids(name) == sorted([older, task_id])


def test_retry_after_a_failed_import_imports_anew(milvus_client, import_dir):
    name = make_collection(milvus_client)
    broken = [write_json(import_dir, [{"id": 1, "no_such_field": [0.5]}])]
    store = TaskStore()
    failed = bulk_insert(name, broken).execute(context(1, store))
    with pytest.raises(Exception, match="ImportFailed"):
        completed(failed)
    with log_messages() as logs, pytest.raises(Exception, match="ImportFailed"):
        bulk_insert(name, broken, wait_for_completion=True).execute(context(2, store))
    assert any(f"Import task {failed} of an earlier try ended in ImportFailed" in m for m in logs)
    assert len(import_ids(name)) == 2


def test_no_record_imports_and_a_changed_request_imports_anew(milvus_client, import_dir):
    name = make_collection(milvus_client)
    files = [write_json(import_dir, vectors(50))]
    other = [write_json(import_dir, vectors(50, start=50))]
    store = TaskStore()
    first = bulk_insert(name, files).execute(context(2, store))  # a retry with nothing recorded
    second = bulk_insert(name, other).execute(context(3, store))  # the inputs changed
    assert first != second and import_ids(name) == sorted([first, second])
    assert store.values[IMPORT_STORE_KEY]["request"]["files"] == other


@pytest.mark.parametrize("with_store", [True, False])
def test_several_imports_of_the_request_fail_the_task_naming_them(milvus_client, import_dir, legacy_only, with_store):
    """Duplicates made anyway (two submissions of the request since it was first sent): the task
    says so, in its log and XCom, instead of going green over them."""
    name = make_collection(milvus_client)
    files = [write_json(import_dir, vectors(60))]
    started = pendulum.now("UTC").subtract(seconds=1)
    twice = [MilvusHook().bulk_insert(name, files), MilvusHook().bulk_insert(name, files)]
    store = None
    if with_store:
        store = TaskStore()
        record = {"request": request(name, files), "submitted_at": started.timestamp(), "import_task_id": twice[1]}
        store.set(IMPORT_STORE_KEY, record)
    ctx = context(2, store, run_start=started)
    with pytest.raises(MilvusDuplicateImportError, match=r"Milvus holds 2 imports of this task's request") as err:
        bulk_insert(name, files, wait_for_completion=True).execute(ctx)
    assert sorted(err.value.import_task_ids) == sorted(twice)
    assert sorted(i["id"] for i in ctx["ti"].pushed[DUPLICATE_IMPORTS_XCOM]) == sorted(twice)
    assert import_ids(name) == sorted(twice)  # nothing more imported
