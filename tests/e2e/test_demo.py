"""The second demo, ``make demo DEMO_ARGS=--s3``, as a user runs it: the example bulk-load DAG
through a real scheduler, workers and triggerer, against a Milvus whose storage is an S3 bucket
(moto's server, on loopback), its import files written to that bucket by MilvusBulkWriteOperator.

It starts a stack of its own: the ``own_stack`` session runs it (the ``e2e`` session leaves it out)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import pytest

from harness.processes import free_port
from tests.e2e.helpers import ROOT

DEMO_TIMEOUT = 900


# The demo's own deadline, its stop, and the session's Milvus stopped after the last test.
@pytest.mark.timeout(DEMO_TIMEOUT + 300)
def test_s3_demo_writes_imports_waits_and_searches(tmp_path):
    demo = subprocess.Popen(
        [sys.executable, "-m", "demo", "--s3", "--api-port", str(free_port()), "--work-dir", str(tmp_path / "demo")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = demo.communicate(timeout=DEMO_TIMEOUT)
    except subprocess.TimeoutExpired:
        demo.send_signal(signal.SIGINT)  # the demo stops what it started
        output, _ = demo.communicate(timeout=180)
    assert demo.returncode == 0, output
    # 6,000 rows in four file groups of about 256 KiB, one import each, every task done.
    assert re.search(r"DAG run success; collection 'demo_\w+' holds 6000 rows\.", output), output
    assert "Milvus's bucket 'milvus-bucket' holds 4 import files under bulk_imports/." in output, output
    tasks = [line.split() for line in output.splitlines() if re.match(r"^(bulk_insert|wait_for_import|check)\b", line)]
    assert len(tasks) == 9 and all("success" in line for line in tasks), output
