"""The stack the end-to-end tests share: ``airflow standalone`` with the example and test DAGs,
against the real Milvus server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.airflow import AirflowStack
from tests.e2e.helpers import E2E_DAGS, EXAMPLE_DAG, ROOT, SECRET_PASSWORD, SECRET_TOKEN


@pytest.fixture(scope="session")
def stack(milvus_server, tmp_path_factory):
    dags = tmp_path_factory.mktemp("dags")
    for dag_file in [*(ROOT / "example_dags").glob("*.py"), Path(__file__).parent / "dags" / "e2e_dags.py"]:
        shutil.copy(dag_file, dags)
    address = milvus_server["uri"].removeprefix("http://")
    env = {
        "AIRFLOW_CONN_MILVUS_DEFAULT": f"milvus://{address}",
        "AIRFLOW_CONN_MILVUS_PASSWORD": f"milvus://reader:{SECRET_PASSWORD}@{address}",
        "AIRFLOW_CONN_MILVUS_TOKEN": f"milvus://{address}?token={SECRET_TOKEN}",
        "MILVUS_IMPORT_DIR": str(milvus_server["import_dir"]),
        # A killed triggerer's triggers go to a live one once its heartbeat is this old.
        "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
    }
    airflow = AirflowStack(tmp_path_factory.mktemp("airflow-home"), dags, env).start()
    try:
        airflow.wait_parsed([EXAMPLE_DAG, *E2E_DAGS])
        yield airflow
    finally:
        airflow.stop()
