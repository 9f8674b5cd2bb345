"""The DAGs of the tests: triggered by hand, their inputs in params."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG

START = pendulum.datetime(2025, 1, 1, tz="UTC")


def manual_dag(dag_id: str, params: dict[str, Any], *, native: bool = True, **kwargs: Any) -> DAG:
    """A DAG with no schedule whose runs take their inputs from ``params``. Templates render as
    Python objects unless ``native=False`` (for tests of text-rendered lists)."""
    return DAG(dag_id, schedule=None, start_date=START, params=params, render_template_as_native_obj=native, **kwargs)
