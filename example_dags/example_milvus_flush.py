"""Flush collections and wait until the data is persisted, in the triggerer (flushSync).

``wait_for_completion=True`` makes the flush operator wait like Node's ``flushSync`` or Go's
``FlushTask.Await``; ``deferrable=True`` does that waiting in the triggerer, freeing the worker.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param

from airflow_provider_milvus.operators.milvus import MilvusFlushOperator

with DAG(
    "example_milvus_flush",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["milvus", "example"],
    params={"collections": Param(["airflow_bulk_load"], type="array")},
    render_template_as_native_obj=True,
):
    # [START howto_operator_milvus_flush_and_wait]
    MilvusFlushOperator(
        task_id="flush_and_wait",
        collection_names="{{ params.collections }}",
        wait_for_completion=True,
        deferrable=True,
        poll_interval=2,
        wait_timeout=600,
    )
    # [END howto_operator_milvus_flush_and_wait]
