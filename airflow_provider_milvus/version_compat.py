"""Every switch on what the running Airflow offers, in one place (as the Standard provider's
``version_compat.py``). Names Airflow moved between versions are imported through
``apache-airflow-providers-common-compat``; what it does not cover is decided here, by feature
where a feature can be checked, so a backport or a pre-release is judged by what it has.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseHook, Connection, mask_secret
from airflow.triggers.base import BaseTrigger


def _triggerer_runs_tasks() -> bool:
    try:
        from airflow.sdk.bases.xcom import BaseXCom
    except ImportError:  # Airflow 2
        return False
    return hasattr(BaseTrigger, "render_template_fields") and hasattr(BaseXCom, "aset")


# Airflow 3.3+: the triggerer renders the templates of a task the scheduler starts there
# (start_from_trigger), and a trigger can push its task's XComs and end it. Older versions resume
# every deferred task on a worker.
TRIGGERER_RUNS_TASKS = _triggerer_runs_tasks()

if TYPE_CHECKING:

    async def amask_secret(secret: Any, name: str | None = None) -> None: ...

else:
    try:  # Airflow 3.3+: masking from the triggerer's event loop goes through its supervisor, async
        from airflow.sdk.log import amask_secret
    except ImportError:  # older Airflow masks in-process, without blocking

        async def amask_secret(secret: Any, name: str | None = None) -> None:
            mask_secret(secret, name)


async def aget_connection(hook: BaseHook, conn_id: str) -> Connection:
    """The connection, fetched without blocking the event loop: through the triggerer's async API
    (Airflow 3.1+), else in a thread."""
    if hasattr(hook, "aget_connection"):
        return await hook.aget_connection(conn_id)
    return await asyncio.to_thread(hook.get_connection, conn_id)


def connection_from_uri(uri: str, conn_id: str) -> Connection:
    """Parse a connection URI as Airflow does (Airflow 3's ``Connection.from_uri``, Airflow 2's
    ``Connection(uri=...)``); raises ValueError when it cannot."""
    if hasattr(Connection, "from_uri"):
        return Connection.from_uri(uri, conn_id=conn_id)
    return Connection(conn_id=conn_id, uri=uri)  # type: ignore[call-arg]
