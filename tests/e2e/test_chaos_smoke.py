"""A short run of the fault campaign (``make chaos``): two DAG runs with retries on through a real
``airflow standalone``, a few faults at seeded random moments (task processes, the triggerer, the
scheduler, Milvus). The campaign exits 1 if a successful run lost or duplicated a row, a file group
was imported twice, or a failed run has no named cause.

It starts a stack of its own (the own_stack session runs it) and restarts its Milvus on the ports it
had, which the harness keeps claimed meanwhile."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import pytest

from tests.e2e.helpers import ROOT

CAMPAIGN_TIMEOUT = 1500


@pytest.mark.timeout(CAMPAIGN_TIMEOUT + 400)
def test_short_fault_campaign_loses_and_duplicates_nothing(tmp_path):
    campaign = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.chaos", "--smoke", "--seed", "5", "--work-dir", str(tmp_path / "chaos")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = campaign.communicate(timeout=CAMPAIGN_TIMEOUT)
    except subprocess.TimeoutExpired:
        campaign.send_signal(signal.SIGINT)  # the campaign stops what it started
        output, _ = campaign.communicate(timeout=300)
    assert campaign.returncode == 0, output[-20000:]
    faults = re.search(r"Fault campaign: (\d+) faults in [\d.]+ min, (\d+) runs", output)
    assert faults and int(faults[1]) >= 1 and int(faults[2]) >= 2, output[-20000:]
