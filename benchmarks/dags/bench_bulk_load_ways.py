"""The example bulk-load DAG, once per way its sensors can wait, for benchmarks/dag_waits.py.

(The airflow dag-processor parses a file only if it names both "airflow" and "dag".)"""

from __future__ import annotations

from example_dags.example_milvus_bulk_load import bulk_load_dag

# How the sensors wait in each way: poke mode holds a worker slot for the whole wait; deferrable
# sensors start on a worker, wait in the triggerer and resume on a worker; started from the
# trigger, the scheduler starts them in the triggerer, which ends them (Airflow 3.3+).
WAYS = {
    "poke": {"mode": "poke", "deferrable": False},
    "deferrable": {"deferrable": True},
    "start_from_trigger": {"start_from_trigger": True},
}

DAGS = {way: bulk_load_dag(f"bench_bulk_load_{way}", import_wait=wait, flush_wait=wait) for way, wait in WAYS.items()}
