"""What a wait costs a DAG run: a bulk-load DAG through a real scheduler, workers and
triggerer (``airflow standalone``), against a real Milvus, its sensors waiting three ways, side by
side in one run. Prints a table.

    make bench-dag                                  # 3 runs of each way, interleaved; medians
    .venv/bin/python -m benchmarks.dag_waits --repeat 1

The ways (benchmarks/dags/bench_bulk_load_ways.py: the example DAG's import and flush steps, built
with each):

  poke                poke-mode sensors: each holds a worker slot for its whole wait
  deferrable          today's deferrable sensors: start on a worker, wait in the triggerer,
                      resume on a worker
  start_from_trigger  the scheduler starts them in the triggerer, whose triggers end them
                      (Airflow 3.3+; Airflow starts mapped tasks, the import sensors here, on a
                      worker, and their triggers end them)

Per way and DAG run: worker runs per wait (the three import sensors and the flush sensor, counted
from their logs); each import sensor's duration less its import's own duration in Milvus (from its
submission, the bulk-insert task's end, to the moment Milvus reports it completed, watched every
100 ms from here): p50 and max; the DAG run's duration; and the worker slot-seconds the sensors
held (each worker run from its first log line to its last; process start-up not counted).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import tempfile
import threading
from pathlib import Path
from typing import Any

import pendulum

from benchmarks.stats import percentile

REPO = Path(__file__).resolve().parents[1]
DAG_FILE = REPO / "benchmarks" / "dags" / "bench_bulk_load_ways.py"
WAYS = ("poke", "deferrable", "start_from_trigger")
POLL_INTERVAL = 10.0  # the example DAG's poke_interval


class ImportWatcher:
    """Watches a collection's imports every 100 ms; records when Milvus first reports each completed."""

    def __init__(self, collection: str) -> None:
        self.collection = collection
        self.completed: dict[int, pendulum.DateTime] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> ImportWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        from airflow_provider_milvus.exceptions import MilvusError
        from airflow_provider_milvus.hooks.milvus import MilvusHook

        hook = MilvusHook()
        while not self._stop.wait(0.1):
            with contextlib.suppress(MilvusError):  # before the collection exists
                for task in hook.list_import_tasks(self.collection):
                    if task["state"] == "ImportCompleted":
                        self.completed.setdefault(task["id"], pendulum.now("UTC"))


def _utc(value: str | None) -> pendulum.DateTime | None:
    return pendulum.parse(value, tz="UTC") if value else None  # type: ignore[return-value]


def _xcom_int(raw: Any) -> int:
    value = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
    while isinstance(value, str):  # stored JSON text, possibly encoded twice
        value = json.loads(value)
    return int(value)


def measure_run(stack: Any, dag_id: str, run_id: str, watcher: ImportWatcher) -> dict[str, Any]:
    tis = {
        (r["task_id"], r["map_index"]): r
        for r in stack.query(
            f"SELECT task_id, {stack.ti_map_index}, start_date, end_date FROM task_instance "
            "WHERE dag_id = ? AND run_id = ?",
            dag_id,
            run_id,
        )
    }
    [run] = stack.query("SELECT start_date, end_date FROM dag_run WHERE dag_id = ? AND run_id = ?", dag_id, run_id)
    import_ids = {
        r["map_index"]: _xcom_int(r["value"])
        for r in stack.query(
            "SELECT map_index, value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = 'bulk_insert' "
            "AND key = 'return_value'",
            dag_id,
            run_id,
        )
    }
    results = {(r.task_id, r.map_index): r for r in stack.task_results(dag_id, run_id)}
    waits = [key for key in results if key[0] in ("wait_for_import", "wait_for_flush")]
    overheads = []
    for (task_id, index), _ in sorted(results.items()):
        if task_id != "wait_for_import":
            continue
        done = watcher.completed.get(import_ids[index])
        submitted = _utc(tis[("bulk_insert", index)]["end_date"])
        started, ended = _utc(tis[(task_id, index)]["start_date"]), _utc(tis[(task_id, index)]["end_date"])
        if done is None or None in (submitted, started, ended):
            raise RuntimeError(f"no completion seen for import {import_ids[index]} of {dag_id} {run_id}")
        overheads.append((ended - started).total_seconds() - (done - submitted).total_seconds())
    return {
        "runs_per_wait": sum(results[k].worker_runs for k in waits) / len(waits),
        "import_runs": [results[k].worker_runs for k in waits if k[0] == "wait_for_import"],
        "flush_runs": results[("wait_for_flush", -1)].worker_runs,
        "overheads": overheads,
        "dag_seconds": (_utc(run["end_date"]) - _utc(run["start_date"])).total_seconds(),
        "slot_seconds": sum(results[k].worker_seconds for k in waits),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each way, interleaved (default: %(default)s)")
    parser.add_argument("--rows", type=int, default=2000, help="rows per import file (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed per DAG run")
    args = parser.parse_args()

    from harness.airflow import AirflowStack
    from harness.milvus import EmbeddedMilvus

    tmp = Path(tempfile.mkdtemp(prefix="bench-dag-waits-"))
    milvus = EmbeddedMilvus(tmp / "milvus")
    stack = None
    try:
        milvus.start()
        import_dir = milvus.data_dir / "imports"
        import_dir.mkdir()
        connection = milvus.uri.replace("http://", "milvus://", 1)
        import os

        os.environ["AIRFLOW_CONN_MILVUS_DEFAULT"] = connection
        dags = tmp / "dags"
        dags.mkdir()
        shutil.copy(DAG_FILE, dags)
        stack = AirflowStack(
            tmp / "airflow", dags, {"AIRFLOW_CONN_MILVUS_DEFAULT": connection, "MILVUS_IMPORT_DIR": str(import_dir)}
        ).start()
        dag_ids = {way: f"bench_bulk_load_{way}" for way in WAYS}
        stack.wait_parsed(list(dag_ids.values()))
        measured: dict[str, list[dict[str, Any]]] = {way: [] for way in WAYS}
        for repeat in range(args.repeat):
            for way in WAYS:
                collection = f"bench_{way}_{repeat}"
                with ImportWatcher(collection) as watcher:
                    run_id = stack.trigger(
                        dag_ids[way],
                        {"collection": collection, "rows_per_file": args.rows, "import_dir": str(import_dir)},
                    )
                    state = stack.wait_run(dag_ids[way], run_id, args.timeout)
                if state != "success":
                    raise RuntimeError(f"{dag_ids[way]} run {run_id} ended {state}; see {stack.home / 'logs'}")
                measured[way].append(measure_run(stack, dag_ids[way], run_id, watcher))
                print(f"# {way} run {repeat + 1}: {measured[way][-1]}", flush=True)
        report(measured, args)
    finally:
        if stack is not None:
            stack.stop()
        milvus.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def report(measured: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    import platform

    print(f"\n# {args.repeat} run(s) of each way, interleaved; medians over runs. Poll interval {POLL_INTERVAL:.0f} s,")
    print(f"# 3 imports of {args.rows} rows and a flush per run. {platform.python_version()}, {platform.machine()}")
    header = (
        f"{'way':<20}{'worker runs/wait':>17}{'imports':>10}{'flush':>7}"
        f"{'overhead p50 s':>16}{'overhead max s':>16}{'DAG run s':>11}{'slot-s waiting':>16}"
    )
    print(header)
    rows: dict[str, dict[str, float]] = {}
    for way in WAYS:
        runs = measured[way]
        row = {
            "runs": statistics.median(r["runs_per_wait"] for r in runs),
            "p50": statistics.median(percentile(r["overheads"], 50) for r in runs),
            "max": max(max(r["overheads"]) for r in runs),
            "dag": statistics.median(r["dag_seconds"] for r in runs),
            "slot": statistics.median(r["slot_seconds"] for r in runs),
        }
        rows[way] = row
        imports = "/".join(str(n) for n in runs[-1]["import_runs"])
        print(
            f"{way:<20}{row['runs']:>17.2f}{imports:>10}{runs[-1]['flush_runs']:>7}"
            f"{row['p50']:>16.1f}{row['max']:>16.1f}{row['dag']:>11.1f}{row['slot']:>16.1f}"
        )
    print("\n# start_from_trigger / other way (lower is better)")
    print(f"{'vs':<20}{'worker runs/wait':>17}{'overhead p50':>14}{'DAG run':>9}{'slot-s waiting':>16}")
    best = rows["start_from_trigger"]
    for way in ("poke", "deferrable"):
        other = rows[way]

        def ratio(key: str, other: dict[str, float] = other) -> str:
            return f"{best[key] / other[key]:.2f}x" if other[key] else "n/a"

        print(f"{way:<20}{ratio('runs'):>17}{ratio('p50'):>14}{ratio('dag'):>9}{ratio('slot'):>16}")
    flush_runs = [r["flush_runs"] for r in measured["start_from_trigger"]]
    import_runs = [n for r in measured["start_from_trigger"] for n in r["import_runs"]]
    print(f"\n# targets (start_from_trigger), poll interval {POLL_INTERVAL:.0f} s:")
    met = "met   " if max(flush_runs) == 0 else "MISSED"
    print(f"#   {met}  0 worker runs per sensor started in the triggerer (flush: {flush_runs})")
    print(
        f"#   gap     the mapped import sensors: {sorted(set(import_runs))} worker run(s) each; "
        "Airflow 3.3 starts no mapped task in the triggerer"
    )
    target = POLL_INTERVAL + 2
    met = "met   " if best["p50"] <= target else "MISSED"
    print(f"#   {met}  wait-task overhead p50 <= {target:.0f} s: {best['p50']:.1f} s")


if __name__ == "__main__":
    main()
