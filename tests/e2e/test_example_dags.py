"""Example DAGs through a real scheduler and triggerer: the ingest example (twice: its upsert
replaces rows), and the full-reload example, twice, while searches go through the alias the whole
time: none fails, none comes back empty, and the second run's rows are what the alias serves after
its swap. (The bulk-load example runs in test_end_to_end.py.)"""

from __future__ import annotations

import threading

import pytest

from airflow_provider_milvus.hooks.milvus import MilvusHook
from tests.e2e.helpers import run

RELOAD_DAG = "example_milvus_reload"
INGEST_DAG = "example_milvus_ingest"
DIM = 32  # the example's


class SearchLoop(threading.Thread):
    """Searches through the alias until stopped, counting answers, empty answers and errors."""

    def __init__(self, uri: str, alias: str) -> None:
        super().__init__(daemon=True)
        self.uri, self.alias = uri, alias
        self.stopped = threading.Event()
        self.answered = self.empty = 0
        self.errors: list[str] = []

    def run(self) -> None:
        from pymilvus import MilvusClient

        client = MilvusClient(uri=self.uri)
        probe = [0.5] * DIM
        try:
            while not self.stopped.wait(0.05):
                try:
                    [hits] = client.search(self.alias, data=[probe], limit=1, consistency_level="Strong")
                except Exception as err:  # every failure is counted, whatever raised it
                    self.errors.append(f"{type(err).__name__}: {err}")
                    continue
                self.answered += 1
                self.empty += not hits
        finally:
            client.close()


@pytest.mark.timeout(900)
def test_reload_example_swaps_the_alias_with_no_failed_or_empty_search(stack, milvus_uri):
    stack.wait_parsed([RELOAD_DAG])
    hook = MilvusHook()
    alias = "e2e_reload"
    state, tasks = run(stack, RELOAD_DAG, {"alias": alias, "rows": 1000, "first_id": 0})
    assert state == "success", {k: v.state for k, v in tasks.items()}
    first = hook.describe_alias(alias)
    assert first and first.startswith(f"{alias}_")

    searches = SearchLoop(milvus_uri, alias)
    searches.start()
    try:
        state, tasks = run(stack, RELOAD_DAG, {"alias": alias, "rows": 1000, "first_id": 100_000})
    finally:
        searches.stopped.set()
        searches.join(timeout=30)
    assert state == "success", {k: v.state for k, v in tasks.items()}
    assert searches.errors == [] and searches.empty == 0, (searches.errors[:5], searches.empty)
    assert searches.answered > 20

    second = hook.describe_alias(alias)
    assert second and second != first
    assert not hook.has_collection(first)  # dropped after the swap
    assert hook.count_rows(alias, "id >= 100000") == 1000
    assert hook.count_rows(alias, "id < 100000") == 0
    [swap] = [t for (task_id, _), t in tasks.items() if task_id == "swap_alias"]
    assert f"Dropped {first!r}" in swap.log


def test_ingest_example_writes_its_rows_and_a_rerun_replaces_them(stack, milvus_uri):
    stack.wait_parsed([INGEST_DAG])
    hook = MilvusHook()
    collection = "e2e_ingest_example"
    for _ in range(2):
        state, tasks = run(stack, INGEST_DAG, {"collection": collection, "rows": 1200})
        assert state == "success", {k: v.state for k, v in tasks.items()}
    assert hook.count_rows(collection) == 1200  # upserted twice, each primary key once
    [ingest] = [t for (task_id, _), t in tasks.items() if task_id == "ingest"]
    assert "1200" in ingest.log
