"""A fault campaign: runs of the example bulk-load DAG and of an ingest DAG, retries on, through a
real ``airflow standalone`` against a real Milvus, while an injector (seeded, each fault logged)
SIGKILLs at random moments the task processes, the triggerer and the scheduler (restarting them as
a supervisor would), and stops and restarts Milvus. Milvus is restarted too when it dies on its own
(Milvus 2.3.5's proxy crashes when a GetImportState call is cancelled, milvus#35539, fixed in
2.3.22 and 2.4.10): such crashes are counted apart. Then, per run, the rows expected and found by
primary key, duplicated and lost keys, imports per file group, the run's state and, for a failed
run, its cause; and a table.

    make chaos                                       # about 15 minutes, 100+ faults
                                                     # (11 of faults, then 3 for the runs in flight)
    .venv/bin/python -m benchmarks.chaos --minutes 30 --seed 7
    .venv/bin/python -m benchmarks.chaos --smoke     # a few faults (tests/e2e/test_chaos_smoke.py runs it)

Exits 1 if a successful run lost or duplicated a row, a file group was imported twice, or a failed
run has no named cause (a bare Python error, such as a TypeError, is none).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.airflow import AirflowStack, api_health
from harness.milvus import EmbeddedMilvus
from harness.processes import port_open

REPO = Path(__file__).resolve().parents[1]
BULK_LOAD = "example_milvus_bulk_load"
INGEST = "chaos_ingest"
BULK_ROWS = 4500  # three file groups of the example's 256 KiB
INGEST_ROWS = 3000
# The injector's choice of fault, weighted: most faults hit tasks, as most crashes in production do.
FAULT_WEIGHTS = {"task": 0.55, "triggerer": 0.15, "scheduler": 0.15, "milvus": 0.15}
RETRIES = 6


@dataclass
class Fault:
    at: float  # seconds since the campaign started
    kind: str
    target: str
    recovered_after: float | None = None  # seconds until the component (or the task's next try) ran again


@dataclass
class RunReport:
    dag_id: str
    run_id: str
    collection: str
    expected: int
    state: str = "running"
    found: int = 0
    total: int = 0
    duplicated: int = 0
    lost: int = 0
    imports: int = 0
    imports_duplicated: int = 0
    cause: str = ""


@dataclass
class Campaign:
    stack: AirflowStack
    milvus: EmbeddedMilvus
    rng: random.Random
    started: float = field(default_factory=time.monotonic)
    faults: list[Fault] = field(default_factory=list)
    milvus_crashes: int = 0
    milvus_lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    log_path: Path | None = None

    def now(self) -> float:
        return time.monotonic() - self.started

    def record(self, fault: Fault) -> None:
        self.faults.append(fault)
        line = json.dumps(asdict(fault))
        print(f"[chaos] fault {len(self.faults)}: {line}", flush=True)
        if self.log_path is not None:
            with open(self.log_path, "a") as log:
                log.write(line + "\n")

    # --- Faults -----------------------------------------------------------------------------------

    def inject(self, kind: str) -> Fault | None:
        if kind == "task":
            pids = self.stack.task_pids([BULK_LOAD, INGEST])
            if not pids:
                return None
            key = self.rng.choice(sorted(pids))
            with contextlib.suppress(ProcessLookupError):
                os.kill(pids[key], signal.SIGKILL)
            fault = Fault(self.now(), kind, f"{key[0]}.{key[2]}[{key[3]}] {key[1]}")
            threading.Thread(target=self._watch_task, args=(fault, key), daemon=True).start()
            return fault
        if kind in ("triggerer", "scheduler"):
            killed = self.stack.kill_component(kind)
            fault = Fault(self.now(), kind, f"pids {killed}")
            begun, killed_at = time.monotonic(), datetime.now(UTC)
            time.sleep(self.rng.uniform(0, 3))  # a supervisor's restart delay
            self.stack.start_component(kind)
            # Watched apart, so that the next fault may come while the new one starts.
            threading.Thread(target=self._watch_component, args=(fault, kind, begun, killed_at), daemon=True).start()
            return fault
        if kind == "milvus":
            if not self.milvus_lock.acquire(blocking=False):
                return None  # Milvus is being restarted, or held up for a check
            fault = Fault(self.now(), kind, f"port {self.milvus.port}")
            threading.Thread(target=self._restart_milvus, args=(fault,), daemon=True).start()
            return fault
        raise ValueError(kind)

    def _watch_component(self, fault: Fault, kind: str, begun: float, killed_at: datetime) -> None:
        """Recovered once a heartbeat of the new triggerer or scheduler reaches the database."""
        while time.monotonic() - begun < 180:
            beat = ((api_health(self.stack.ui_url) or {}).get(kind) or {}).get(f"latest_{kind}_heartbeat")
            if beat and datetime.fromisoformat(beat) > killed_at:
                fault.recovered_after = round(time.monotonic() - begun, 1)
                return
            time.sleep(1)

    def _restart_milvus(self, fault: Fault) -> None:
        """Stop Milvus, wait a supervisor's delay, start it; with ``milvus_lock`` held throughout."""
        try:
            begun = time.monotonic()
            self.milvus.stop()
            time.sleep(self.rng.uniform(0, 5))
            self.milvus.start()
            fault.recovered_after = round(time.monotonic() - begun, 1)
        finally:
            self.milvus_lock.release()

    def _watch_task(self, fault: Fault, key: tuple[str, str, str, int]) -> None:
        """Until the killed task instance runs again (its next try) or ends."""
        dag_id, run_id, task_id, map_index = key
        begun = time.monotonic()
        first = None
        while time.monotonic() - begun < 300:
            row = self.stack.task_instances(dag_id, run_id).get((task_id, map_index))
            if row:
                first = first if first is not None else row["try_number"]
                if row["state"] in ("success", "failed") or (row["try_number"] > first and row["state"] == "running"):
                    fault.recovered_after = round(time.monotonic() - begun, 1)
                    return
            time.sleep(0.5)

    def injector(self, interval: tuple[float, float], max_faults: int) -> None:
        kinds, weights = zip(*FAULT_WEIGHTS.items(), strict=True)
        pause = self.rng.uniform(*interval)
        while not self.stopping.wait(pause) and len(self.faults) < max_faults:
            kind = self.rng.choices(kinds, weights)[0]
            try:
                fault = self.inject(kind)
            except Exception as err:  # a fault that could not be made is logged, not fatal
                print(f"[chaos] could not inject {kind}: {err}", flush=True)
                fault = None
            if fault is not None:
                self.record(fault)
            # Nothing to hit (no task running, Milvus already restarting): draw again soon.
            pause = self.rng.uniform(*interval) if fault is not None else 0.5

    def supervise_milvus(self) -> None:
        """Restart Milvus when it dies on its own, as a supervisor would; count those crashes. Its
        wrapper may outlive a crashed server, so a server whose port stays closed for 5 s is dead."""
        closed = 0
        while not self.stopping.wait(1):
            with self.milvus_lock:
                process = self.milvus.process
                closed = 0 if port_open(self.milvus.port) else closed + 1
                if process is not None and (process.poll() is not None or closed >= 5):
                    self.milvus_crashes += 1
                    print(f"[chaos] Milvus died on its own at {self.now():.0f}s; restarting", flush=True)
                    self.milvus.stop()
                    self.milvus.start()
                    closed = 0


# --- The verdict ---------------------------------------------------------------------------------


def verify(stack: AirflowStack, report: RunReport) -> None:
    from airflow_provider_milvus.hooks.milvus import MilvusHook

    hook = MilvusHook()
    client = hook.get_conn()
    if client.has_collection(report.collection):
        client.load_collection(report.collection)
        client.refresh_load(report.collection)
        count = client.query(report.collection, output_fields=["count(*)"], consistency_level="Strong")
        report.total = int(count[0]["count(*)"])
        ids = client.query(
            report.collection, filter="id >= 0", output_fields=["id"], consistency_level="Strong", limit=16384
        )
        keys = Counter(row["id"] for row in ids)
        report.found = len(keys)
        report.duplicated = max(report.total - report.found, sum(n - 1 for n in keys.values()))
        report.lost = len(set(range(report.expected)) - set(keys))
        if report.dag_id == BULK_LOAD:
            imports = hook.list_import_tasks(report.collection)
            report.imports = len(imports)
            # A file group imported twice is one that more than one import did not fail on (Milvus
            # 2.3 lists each task's files, comma-joined, in its infos).
            failed = ("ImportFailed", "ImportFailedAndCleaned")
            completed = Counter(i["infos"].get("files", "") for i in imports if i["state"] not in failed)
            report.imports_duplicated = sum(n - 1 for n in completed.values())
    else:
        report.lost = report.expected
    if report.state == "running":
        report.cause = unfinished(stack, report)
    elif report.state != "success":
        report.cause = failure_cause(stack, report)


_NEXT_PAYLOAD_KEY = "', '"  # where an event's message ends in a logged payload dict
_ERROR_LINE = re.compile(r"(\w+(?:Error|Exception|Failed|Timeout)\b[^\n]{0,240})")
# Errors that can only be the provider's bug: Python's own, raised where a named error belongs.
_BARE_ERRORS = {"TypeError", "KeyError", "AttributeError", "IndexError", "ValueError", "UnboundLocalError"}


def failure_cause(stack: AirflowStack, report: RunReport) -> str:
    """The failed task and why: Milvus's or the provider's named error; the kills that used up its
    retries; or Airflow failing it with no error of the task's own (its trigger may even have
    fired success: a scheduler or triggerer killed around the event, apache/airflow#71580)."""
    for ti in stack.task_results(report.dag_id, report.run_id):
        if ti.state != "failed":
            continue
        errors = _ERROR_LINE.findall(ti.log)
        if errors:
            # The error alone, not the rest of the trigger event's payload a log line prints after it.
            return f"{ti.task_id}: {errors[-1].split(_NEXT_PAYLOAD_KEY)[0].strip()}"
        row = stack.task_instances(report.dag_id, report.run_id)[(ti.task_id, ti.map_index)]
        if row["try_number"] > RETRIES:
            return f"{ti.task_id}: killed, retries used up"
        fired = "'status': 'success'" in ti.log
        return (
            f"{ti.task_id}: failed by Airflow on try {row['try_number']} with no error of its own"
            f"{' after its trigger fired success' if fired else ''} (a killed scheduler or triggerer)"
        )
    return "no failed task (upstream failed or timed out)"


def unfinished(stack: AirflowStack, report: RunReport) -> str:
    """What a run still going when the campaign ends is at: its tasks not yet done, and their states."""
    pending = [
        f"{ti.task_id} {ti.state}"
        for ti in stack.task_results(report.dag_id, report.run_id)
        if ti.state not in ("success", "skipped")
    ]
    return f"unfinished at the end: {', '.join(sorted(pending)) or 'no task started'}"


def provider_bug(cause: str) -> bool:
    """A failed run whose cause is a bare Python error: the provider failed to name what went wrong.
    Kills that used up the retries, Milvus unreachable past them, and the provider's named errors
    (:mod:`airflow_provider_milvus.exceptions`) are causes outside it, or named refusals."""
    error = cause.partition(": ")[2]  # "<task_id>: <the error's class>: <its message>"
    return re.split(r"[:\s]", error, maxsplit=1)[0] in _BARE_ERRORS


def resume_paths(stack: AirflowStack, reports: list[RunReport]) -> Counter[str]:
    """How each retried bulk insert found its way: the task state store's record of the import's ID;
    a record of the intent alone (the try was killed around the Import), then Milvus's listing, where
    an import of its files is one Milvus took before the try could record its ID (the window); or a
    new import after a failed one."""
    paths: Counter[str] = Counter()
    for report in reports:
        if report.dag_id != BULK_LOAD:
            continue
        for ti in stack.task_results(report.dag_id, report.run_id):
            if ti.task_id != "bulk_insert":
                continue
            paths["reconnected to the recorded import ID"] += ti.log.count("Reconnecting to import task")
            paths["intent recorded, no ID (killed around the Import)"] += ti.log.count("did not record Milvus's answer")
            paths["  of which Milvus had the import (the window): found by its files"] += ti.log.count(
                "found by its files"
            )
            paths["earlier import failed: imported anew"] += ti.log.count("importing anew")
    return paths


def table(campaign: Campaign, reports: list[RunReport], seconds: float, stack: AirflowStack) -> str:
    lines = [f"Fault campaign: {len(campaign.faults)} faults in {seconds / 60:.1f} min, {len(reports)} runs"]
    lines.append("")
    lines.append(f"{'fault':<12} {'count':>6} {'recovered (median s)':>21} {'max s':>7}")
    for kind in FAULT_WEIGHTS:
        faults = [f for f in campaign.faults if f.kind == kind]
        times = [f.recovered_after for f in faults if f.recovered_after is not None]
        median = f"{statistics.median(times):.1f}" if times else "-"
        worst = f"{max(times):.1f}" if times else "-"
        lines.append(f"{kind:<12} {len(faults):>6} {median:>21} {worst:>7}")
    lines.append(f"{'milvus crash':<12} {campaign.milvus_crashes:>6}  (died on its own, restarted)")
    lines.append("")
    lines.append(
        f"{'DAG':<26} {'runs':>4} {'ok':>3} {'rows expected':>13} {'found':>7} {'dup':>4} {'lost':>4} "
        f"{'imports':>7} {'dup imp':>7}"
    )
    for dag_id in (BULK_LOAD, INGEST):
        mine = [r for r in reports if r.dag_id == dag_id]
        ok = [r for r in mine if r.state == "success"]
        lines.append(
            f"{dag_id:<26} {len(mine):>4} {len(ok):>3} {sum(r.expected for r in ok):>13} "
            f"{sum(r.found for r in ok):>7} {sum(r.duplicated for r in mine):>4} {sum(r.lost for r in ok):>4} "
            f"{sum(r.imports for r in mine):>7} {sum(r.imports_duplicated for r in mine):>7}"
        )
    failed = [r for r in reports if r.state == "failed"]
    lines.append("")
    lines.append(f"failed runs: {len(failed)}")
    for cause, n in Counter(r.cause for r in failed).most_common():
        lines.append(f"  {n} x {cause}{'   <- unnamed: a provider bug' if provider_bug(cause) else ''}")
    going = [r for r in reports if r.state == "running"]
    if going:
        lines.append(f"runs still going at the end (checked for duplicates, not for lost rows): {len(going)}")
        for cause, n in Counter(r.cause for r in going).most_common():
            lines.append(f"  {n} x {cause}")
    lines.append("")
    lines.append("retried bulk inserts:")
    for path, n in resume_paths(stack, reports).items():
        lines.append(f"  {path}: {n}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--minutes", type=float, default=11.0, help="how long faults are injected")
    parser.add_argument(
        "--tail",
        type=float,
        default=3.0,
        help="minutes the runs still going after the last fault may take to finish; then counted as unfinished",
    )
    parser.add_argument("--faults", type=int, default=150, help="at most this many faults")
    parser.add_argument("--interval", type=float, nargs=2, default=(2.0, 6.0), help="seconds between faults")
    parser.add_argument("--parallel", type=int, default=2, help="runs at a time")
    parser.add_argument("--smoke", action="store_true", help="a short campaign: two runs, a few faults")
    parser.add_argument("--work-dir", type=Path, default=None)
    args = parser.parse_args()
    if args.smoke:
        args.minutes, args.faults, args.interval, args.parallel, args.tail = 1.5, 6, (8.0, 14.0), 2, 5.0

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="milvus-chaos-"))
    shutil.rmtree(work, ignore_errors=True)
    dags = work / "dags"
    dags.mkdir(parents=True)
    shutil.copy(REPO / "example_dags" / "example_milvus_bulk_load.py", dags)
    shutil.copy(REPO / "benchmarks" / "dags" / "chaos_dags.py", dags)
    milvus = EmbeddedMilvus(work / "milvus")
    stack: AirflowStack | None = None
    campaign: Campaign | None = None
    threads: list[threading.Thread] = []
    try:
        milvus.start()
        import_dir = milvus.data_dir / "imports"
        import_dir.mkdir()
        connection = milvus.uri.replace("http://", "milvus://")
        os.environ["AIRFLOW_CONN_MILVUS_DEFAULT"] = connection
        env = {
            "AIRFLOW_CONN_MILVUS_DEFAULT": connection,
            "MILVUS_IMPORT_DIR": str(import_dir),
            "AIRFLOW__CORE__DEFAULT_TASK_RETRIES": str(RETRIES),
            # Longer than a Milvus restart (20-60 s here) over the retries.
            "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "15",
            # A killed triggerer's triggers go to its replacement once its heartbeat is this old.
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
            # A killed scheduler's running tasks are adopted or failed once its heartbeat is this old.
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "10",
        }
        stack = AirflowStack(work / "airflow", dags, env).start()
        stack.wait_parsed([BULK_LOAD, INGEST])
        campaign = Campaign(stack, milvus, random.Random(args.seed), log_path=work / "faults.jsonl")
        print(f"[chaos] seed {args.seed}; faults logged to {work / 'faults.jsonl'}", flush=True)
        threads = [
            threading.Thread(target=campaign.injector, args=(tuple(args.interval), args.faults), daemon=True),
            threading.Thread(target=campaign.supervise_milvus, daemon=True),
        ]
        for thread in threads:
            thread.start()

        reports: list[RunReport] = []
        deadline = time.monotonic() + args.minutes * 60
        # New runs start while faults come, but not in the last two minutes of a long campaign: a run
        # takes about that long with no fault, and the tail after the last fault is short.
        last_start = deadline - (120 if args.minutes >= 6 else 0)
        while time.monotonic() < deadline or any(r.state == "running" for r in reports):
            for report in reports:
                if report.state == "running":
                    rows = stack.query(
                        "SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", report.dag_id, report.run_id
                    )
                    if rows and rows[0]["state"] in ("success", "failed"):
                        report.state = rows[0]["state"]
                        print(f"[chaos] {report.dag_id} {report.run_id}: {report.state}", flush=True)
            active = sum(r.state == "running" for r in reports)
            if time.monotonic() < last_start and active < args.parallel:
                dag_id = (BULK_LOAD, INGEST)[len(reports) % 2]
                collection = f"chaos_{len(reports)}_{dag_id.split('_')[-1]}"
                expected = BULK_ROWS if dag_id == BULK_LOAD else INGEST_ROWS
                with milvus_up(campaign):
                    run_id = stack.trigger(dag_id, {"collection": collection, "rows": expected})
                reports.append(RunReport(dag_id, run_id, collection, expected))
            if time.monotonic() > deadline:
                campaign.stopping.set()  # no new faults: let the runs finish
            if time.monotonic() > deadline + args.tail * 60:
                print(f"[chaos] runs still going {args.tail:g} min after the last fault: unfinished", flush=True)
                break
            time.sleep(2)
        campaign.stopping.set()
        for thread in threads:
            thread.join(timeout=300)
        with milvus_up(campaign):
            for report in reports:
                verify(stack, report)
        seconds = campaign.now()
        for report in reports:
            print(json.dumps(asdict(report)))
        print()
        print(table(campaign, reports, seconds, stack))
        broken = [
            r
            for r in reports
            if r.duplicated
            or r.imports_duplicated
            or (r.state == "success" and r.lost)
            or (r.state == "failed" and (not r.cause or provider_bug(r.cause)))
        ]
        if broken:
            print(f"\n[chaos] {len(broken)} run(s) broke the promise: {[r.run_id for r in broken]}")
            sys.exit(1)
    finally:
        if campaign is not None:
            campaign.stopping.set()
            for thread in threads:
                thread.join(timeout=300)
        if stack is not None:
            stack.stop()
        milvus.stop()


@contextlib.contextmanager
def milvus_up(campaign: Campaign) -> Any:
    """Hold Milvus up (no restart by the injector or the supervisor) for what must reach it."""
    with campaign.milvus_lock:
        if campaign.milvus.process is None or campaign.milvus.process.poll() is not None:
            campaign.milvus.stop()
            campaign.milvus.start()
        yield


if __name__ == "__main__":
    main()
