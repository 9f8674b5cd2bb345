"""The parts of a task's context the operators use, for tests that call ``execute`` directly.

The real task state store is exercised end to end, through real retries, in tests/e2e.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any


class RecordingTI:
    """The part of a task instance the operators use: its try number and XCom pushes."""

    def __init__(self, try_number: int = 1) -> None:
        self.try_number = try_number
        self.map_index = -1
        self.task_id = "t"
        self.dag_id = "d"
        self.run_id = "manual__2025-01-01T00:00:00+00:00"
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


class TaskStore:
    """What ``context["task_state_store"]`` offers (get, set, delete), kept in a dict; ``on_set`` is
    called before each write (to see what Milvus held when it was made)."""

    def __init__(self, on_set=None) -> None:
        self.values: dict[str, Any] = {}
        self.on_set = on_set

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        if value is None:
            raise ValueError("Cannot set value as None")  # as Airflow's store
        if self.on_set is not None:
            self.on_set(key, value)
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


def context(try_number: int = 1, store: TaskStore | None = None, run_start: Any = None) -> dict[str, Any]:
    """A task context: a recording TI, the store if given (Airflow 3.3+), the DAG run's start."""
    ctx: dict[str, Any] = {"ti": RecordingTI(try_number)}
    if store is not None:
        ctx["task_state_store"] = store
    if run_start is not None:
        ctx["dag_run"] = SimpleNamespace(start_date=run_start)
    return ctx
