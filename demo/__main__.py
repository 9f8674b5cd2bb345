"""Run the bulk-load example DAG through a real Airflow (scheduler, dag-processor, triggerer,
api-server: ``airflow standalone``) against an embedded Milvus, report, and clean up.

    python -m demo [--keep-running] [--api-port 8080] [--timeout 600]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".demo"
DAG_ID = "example_milvus_bulk_load"
AIRFLOW = str(Path(sys.executable).parent / "airflow")


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def check_ports_free(ports: dict[int, str]) -> None:
    from airflow_provider_milvus.embedded import port_open

    busy = [f"{port} ({what})" for port, what in ports.items() if port_open(port)]
    if busy:
        raise SystemExit(f"[demo] port(s) already in use on 127.0.0.1: {', '.join(busy)}. Stop what uses them, "
                         "or pick another API port with --api-port.")  # fmt: skip


def wait_until(what: str, check, timeout: float, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise SystemExit(f"[demo] timed out after {timeout:.0f}s waiting for {what}")


def api_healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


def airflow(*args: str, timeout: float = 120) -> str:
    done = subprocess.run([AIRFLOW, *args], capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        raise SystemExit(f"[demo] airflow {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def deferrals(log_dir: Path, run_id: str) -> dict[tuple[str, int], float]:
    """Seconds each deferred task instance's trigger ran in the triggerer, from the trigger logs."""
    import pendulum

    waited: dict[tuple[str, int], float] = {}
    for log in (log_dir / f"dag_id={DAG_ID}" / f"run_id={run_id}").rglob("attempt=*.log.trigger.*.log"):
        parts = dict(p.split("=", 1) for p in log.relative_to(log_dir).parts[:-1] if "=" in p)
        stamps = {}
        for line in log.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            event = str(record.get("event", ""))
            if event.startswith("trigger ") and event.endswith("starting"):
                stamps.setdefault("start", record["timestamp"])
            elif event == "Trigger fired event":
                stamps["fired"] = record["timestamp"]
        key = (parts["task_id"], int(parts.get("map_index", -1)))
        if "start" in stamps and "fired" in stamps:
            waited[key] = (
                waited.get(key, 0.0)
                + (pendulum.parse(stamps["fired"]) - pendulum.parse(stamps["start"])).total_seconds()
            )
    return waited


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep-running", action="store_true", help="keep Airflow and Milvus up until Ctrl-C")
    parser.add_argument("--api-port", type=int, default=8080)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the DAG run")
    args = parser.parse_args()

    from airflow_provider_milvus.embedded import ETCD_PEER_PORT, EmbeddedMilvus

    check_ports_free({args.api_port: "Airflow API", 8793: "worker log server", 8794: "triggerer log server",
                      ETCD_PEER_PORT: "Milvus etcd"})  # fmt: skip
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "airflow").mkdir(parents=True)
    milvus = EmbeddedMilvus(WORK / "milvus")
    standalone: subprocess.Popen | None = None
    try:
        say("starting Milvus ...")
        milvus.start()
        import_dir = milvus.data_dir / "imports"
        import_dir.mkdir()
        os.environ.update(
            {
                "AIRFLOW_HOME": str(WORK / "airflow"),
                "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__API__PORT": str(args.api_port),
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
                "AIRFLOW_CONN_MILVUS_DEFAULT": milvus.uri.replace("http://", "milvus://"),
                "MILVUS_IMPORT_DIR": str(import_dir),
                # `airflow standalone` starts its components as `airflow ...` from PATH.
                "PATH": f"{Path(AIRFLOW).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            }
        )
        from airflow_provider_milvus.hooks.milvus import MilvusHook

        ok, message = MilvusHook().test_connection()
        say(f"Milvus at {milvus.uri}: test_connection() -> {ok}, {message!r}")
        if not ok:
            raise SystemExit(1)

        say("starting Airflow (scheduler, dag-processor, triggerer, api-server) ...")
        log = open(WORK / "airflow-standalone.log", "wb")  # noqa: SIM115
        standalone = subprocess.Popen(
            [AIRFLOW, "standalone"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=os.environ,
        )  # fmt: skip
        wait_until("the Airflow API", lambda: standalone.poll() is None and api_healthy(args.api_port), 240)
        from airflow.models import DagRun
        from airflow.models.serialized_dag import SerializedDagModel
        from airflow.utils.session import create_session

        def dag_parsed() -> bool:
            with create_session() as session:
                return SerializedDagModel.get(DAG_ID, session=session) is not None

        wait_until(f"the DAG {DAG_ID} to be parsed", dag_parsed, 180, 2)
        collection = f"demo_{time.strftime('%Y%m%d_%H%M%S')}"
        airflow("dags", "unpause", DAG_ID)
        out = airflow("dags", "trigger", DAG_ID, "-c", json.dumps({"collection": collection}), "-o", "json")
        # The CLI may log before its JSON: take the JSON line.
        run_id = json.loads(next(line for line in out.splitlines() if line.startswith("[{")))[0]["dag_run_id"]
        say(f"triggered {DAG_ID} run {run_id} (collection {collection!r}); waiting up to {args.timeout:.0f}s ...")

        def finished():
            with create_session() as session:
                run = session.query(DagRun).filter_by(dag_id=DAG_ID, run_id=run_id).one()
                return run.state if run.state in ("success", "failed") else None

        state = wait_until("the DAG run", finished, args.timeout, 2)
        with create_session() as session:
            run = session.query(DagRun).filter_by(dag_id=DAG_ID, run_id=run_id).one()
            tis = sorted(
                run.get_task_instances(session=session), key=lambda t: (t.start_date or run.start_date, t.map_index)
            )
            rows = [(ti.task_id, ti.map_index, str(ti.state), ti.duration or 0.0) for ti in tis]
        waited = deferrals(WORK / "airflow" / "logs", run_id)
        print(f"\n{'task':<18} {'map':>4} {'state':<10} {'duration':>9}  deferred (waited in the triggerer)")
        for task_id, map_index, ti_state, duration in rows:
            deferred = f"yes, {waited[(task_id, map_index)]:.1f}s" if (task_id, map_index) in waited else "no"
            print(
                f"{task_id:<18} {map_index if map_index >= 0 else '':>4} {ti_state:<10} {duration:>8.1f}s  {deferred}"
            )
        count = MilvusHook().get_conn().get_collection_stats(collection)["row_count"]
        print(f"\nDAG run {state}; collection {collection!r} holds {count} rows.\n")
        if args.keep_running:
            passwords = WORK / "airflow" / "simple_auth_manager_passwords.json.generated"
            login = passwords.read_text().strip() if passwords.exists() else "(see the standalone log)"
            say(f"Airflow UI: http://127.0.0.1:{args.api_port}  login: {login}  (Ctrl-C stops everything)")
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
        if state != "success":
            raise SystemExit(1)
    finally:
        if standalone is not None:
            say("stopping Airflow ...")
            stop_group(standalone)
        say("stopping Milvus ...")
        milvus.stop()


def stop_group(process: subprocess.Popen, timeout: float = 30) -> None:
    """Stop a process started in its own session, and everything it started, by its group id."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return


if __name__ == "__main__":
    main()
