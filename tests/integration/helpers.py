"""Helpers for integration tests: collections with data, import files, and DAG runs."""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path
from typing import Any

DIM = 8


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def vectors(count: int, start: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(start)
    return [{"id": start + i, "vector": [rng.random() for _ in range(DIM)]} for i in range(count)]


def make_collection(client, name: str | None = None, rows: int = 0, **kwargs: Any) -> str:
    name = name or unique("c")
    client.create_collection(name, dimension=DIM, auto_id=False, **kwargs)
    if rows:
        client.insert(name, vectors(rows))
    return name


def write_json(dir: Path, rows: list[dict[str, Any]]) -> str:
    path = dir / f"{uuid.uuid4().hex}.json"
    path.write_text(json.dumps({"rows": rows}))
    return str(path)


def write_parquet(dir: Path, rows: list[dict[str, Any]]) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = dir / f"{uuid.uuid4().hex}.parquet"
    table = pa.table(
        {
            "id": pa.array([r["id"] for r in rows], pa.int64()),
            "vector": pa.array([r["vector"] for r in rows], pa.list_(pa.float32())),
        }
    )
    pq.write_table(table, path)
    return str(path)


def write_numpy(dir: Path, rows: list[dict[str, Any]]) -> list[str]:
    import numpy as np

    folder = dir / uuid.uuid4().hex
    folder.mkdir()
    np.save(folder / "id.npy", np.array([r["id"] for r in rows], dtype=np.int64))
    np.save(folder / "vector.npy", np.array([r["vector"] for r in rows], dtype=np.float32))
    return [str(folder / "id.npy"), str(folder / "vector.npy")]


def row_count(client, name: str) -> int:
    return int(client.get_collection_stats(name)["row_count"])


def dag(dag_id: str):
    """A DAG of the tests' dags folder, by ID (dag.test() needs it to come from there)."""
    from tests.dags import bulk_insert_dags, flush_dags, ingest_dags, searchable_dags

    return {**flush_dags.DAGS, **bulk_insert_dags.DAGS, **ingest_dags.DAGS, **searchable_dags.DAGS}[dag_id]


def run_dag(dag, params: dict[str, Any] | None = None, timeout: float = 180):
    """Run a DAG with dag.test() and return its DagRun.

    dag.test() never enforces a trigger's timeout, so this guards the whole run with an alarm.
    """
    import signal

    def alarm(signum, frame):
        raise TimeoutError(f"dag.test() of {dag.dag_id} did not finish in {timeout}s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(int(timeout))
    try:
        dag_run = dag.test(run_conf=params)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return dag_run


def task_states(dag_run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in _tis(dag_run)}


def xcom(dag_run, task_id: str, key: str = "return_value") -> Any:
    [ti] = [ti for ti in _tis(dag_run) if ti.task_id == task_id]
    return ti.xcom_pull(task_ids=task_id, key=key)


def _tis(dag_run):
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = dag_run.get_task_instances(session=session)
        for ti in tis:
            session.expunge(ti)
    return tis
