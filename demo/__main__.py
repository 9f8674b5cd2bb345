"""Run the bulk-load example DAG through a real Airflow (scheduler, dag-processor, triggerer,
api-server: ``airflow standalone``) against an embedded Milvus, report, and clean up.

    python -m demo [--s3] [--keep-running] [--api-port 8080] [--timeout 600]

With ``--s3`` Milvus keeps its data in a bucket of an S3 server started beside it (moto's, on
loopback), as production Milvus does with MinIO or S3, and the DAG writes its import files there.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import time
from pathlib import Path

from harness.airflow import AirflowStack
from harness.milvus import EmbeddedMilvus
from harness.processes import port_open
from harness.s3 import ACCESS_KEY, SECRET_KEY, S3Server

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".demo"
DAG_ID = "example_milvus_bulk_load"


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep-running", action="store_true", help="keep Airflow and Milvus up until Ctrl-C")
    parser.add_argument("--api-port", type=int, default=8080)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the DAG run")
    parser.add_argument("--s3", action="store_true", help="Milvus on S3 storage (an S3 server started beside it)")
    parser.add_argument("--work-dir", type=Path, default=WORK, help="where the servers keep their data (emptied first)")
    args = parser.parse_args()

    if port_open(args.api_port):
        raise SystemExit(f"[demo] port {args.api_port} (the Airflow API) is in use; choose one with --api-port")
    work = args.work_dir
    shutil.rmtree(work, ignore_errors=True)
    s3 = S3Server(work / "s3") if args.s3 else None
    milvus = EmbeddedMilvus(work / "milvus", server_args=s3.milvus_args() if s3 else None)
    stack: AirflowStack | None = None
    try:
        if s3 is not None:
            say("starting an S3 server ...")
            s3.start()
        say("starting Milvus ...")
        milvus.start()
        if s3 is not None:
            # Milvus reads import files from its bucket; the DAG writes them there with these keys.
            import_dir = ""
            host, port = milvus.uri.removeprefix("http://").split(":")
            extra = {
                "bucket_name": s3.bucket,
                "storage_endpoint": s3.endpoint_url,
                "storage_access_key": ACCESS_KEY,
                "storage_secret_key": SECRET_KEY,
            }
            connection = json.dumps({"conn_type": "milvus", "host": host, "port": int(port), "extra": extra})
        else:
            import_dir = str(milvus.data_dir / "imports")
            Path(import_dir).mkdir()
            connection = milvus.uri.replace("http://", "milvus://")
        os.environ["AIRFLOW_CONN_MILVUS_DEFAULT"] = connection
        from airflow_provider_milvus.hooks.milvus import MilvusHook

        ok, message = MilvusHook().test_connection()
        say(f"Milvus at {milvus.uri}: test_connection() -> {ok}, {message!r}")
        if not ok:
            raise SystemExit(1)

        say("starting Airflow (scheduler, dag-processor, triggerer, api-server) ...")
        stack = AirflowStack(
            work / "airflow",
            ROOT / "example_dags",
            {"AIRFLOW_CONN_MILVUS_DEFAULT": connection, "MILVUS_IMPORT_DIR": import_dir},
            api_port=args.api_port,
        ).start()
        stack.wait_parsed([DAG_ID])
        collection = f"demo_{time.strftime('%Y%m%d_%H%M%S')}"
        run_id = stack.trigger(DAG_ID, {"collection": collection})
        say(f"triggered {DAG_ID} run {run_id} (collection {collection!r}); waiting up to {args.timeout:.0f}s ...")
        state = stack.wait_run(DAG_ID, run_id, args.timeout)

        print(f"\n{'task':<18} {'map':>4} {'state':<10} {'duration':>9} {'worker runs':>12}  deferred (trigger time)")
        for ti in stack.task_results(DAG_ID, run_id):
            deferred = "no" if ti.trigger_seconds is None else f"yes, {ti.trigger_seconds:.1f}s"
            map_index = ti.map_index if ti.map_index >= 0 else ""
            print(
                f"{ti.task_id:<18} {map_index:>4} {ti.state:<10} {ti.duration:>8.1f}s {ti.worker_runs:>12}  {deferred}"
            )
        count = MilvusHook().get_conn().get_collection_stats(collection)["row_count"]
        print(f"\nDAG run {state}; collection {collection!r} holds {count} rows.")
        if s3 is not None:
            print(
                f"Milvus's bucket {s3.bucket!r} holds {len(s3.keys('bulk_imports/'))} import files under bulk_imports/."
            )
        print()
        if args.keep_running:
            passwords = stack.home / "simple_auth_manager_passwords.json.generated"
            login = passwords.read_text().strip() if passwords.exists() else f"(see {stack.log_path})"
            say(f"Airflow UI: {stack.ui_url}  login: {login}  (Ctrl-C stops everything)")
            signal.signal(signal.SIGTERM, _interrupt)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        if state != "success":
            raise SystemExit(1)
    except TimeoutError as err:
        raise SystemExit(f"[demo] {err}") from None
    finally:
        if stack is not None:
            say("stopping Airflow ...")
            stack.stop()
        say("stopping Milvus ...")
        milvus.stop()
        if s3 is not None:
            say("stopping the S3 server ...")
            s3.stop()


if __name__ == "__main__":
    main()
