"""The installed provider as Airflow's own CLI sees it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

AIRFLOW = str(Path(sys.executable).parent / "airflow")


def airflow(*args: str) -> str:
    done = subprocess.run([AIRFLOW, *args], capture_output=True, text=True, timeout=180, check=True)
    return done.stdout


def test_providers_list_hooks_and_widgets():
    assert "airflow-provider-milvus" in airflow("providers", "list")
    hooks = airflow("providers", "hooks")
    assert any(line.split("|")[0].strip() == "milvus" and "MilvusHook" in line for line in hooks.splitlines())
    widgets = airflow("providers", "widgets")
    fields = ("token", "db_name", "secure", "server_pem_path", "ca_pem_path", "client_pem_path",
              "client_key_path", "server_name", "timeout")  # fmt: skip
    if form_has_extra_fields():
        for field in fields:
            assert f"extra__milvus__{field}" in widgets, field
    else:
        # Airflow 3.0/3.1 build extra fields with wtforms, which they install only with the FAB provider.
        assert "extra__milvus__" not in widgets


def form_has_extra_fields() -> bool:
    """Airflow 3.2+ reads the fields from the provider info; older versions ask the hook, with wtforms."""
    from importlib.util import find_spec

    from airflow import __version__
    from packaging.version import Version

    return Version(__version__).release[:2] >= (3, 2) or find_spec("wtforms") is not None


def test_connections_test_against_real_server_and_closed_port(milvus_uri):
    """`airflow connections test` with the connection in an environment variable."""
    import os

    from harness.processes import free_port

    def connections_test(uri: str) -> str:
        env = {**os.environ, "AIRFLOW__CORE__TEST_CONNECTION": "Enabled", "AIRFLOW_CONN_MILVUS_DEFAULT": uri}
        done = subprocess.run(
            [AIRFLOW, "connections", "test", "milvus_default"], capture_output=True, text=True, timeout=180, env=env
        )
        return done.stdout + done.stderr

    assert "Connection success!" in connections_test(os.environ["AIRFLOW_CONN_MILVUS_DEFAULT"])
    port = free_port()
    output = connections_test(f"milvus://127.0.0.1:{port}")
    assert "Connection failed!" in output and f"cannot reach Milvus at 127.0.0.1:{port}" in output
