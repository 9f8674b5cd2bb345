"""A real Airflow on this machine, started and stopped by process group: ``airflow standalone``
(scheduler, dag-processor, triggerer, api-server, SQLite, LocalExecutor; on Airflow 2 scheduler,
triggerer, webserver, SequentialExecutor) for the demo, the end-to-end tests and the benchmark, and
a lone ``airflow api-server`` (``airflow webserver``) for the browser tests.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import sqlite3
import subprocess
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow import __version__ as airflow_version
from packaging.version import Version

from harness.processes import (
    AIRFLOW,
    cmdline,
    descendants,
    free_port,
    port_open,
    start_group,
    stop_group,
    wait_until,
)


def start_until(
    healthy: Callable[[subprocess.Popen], bool], args: list[str], log_path: Path, env: dict[str, str], timeout: float
) -> subprocess.Popen:
    """Start a process group and wait until ``healthy(process)``; stop it if that never comes."""
    process = start_group(args, log_path, env)
    try:
        wait_until(f"airflow {args[1]} to be healthy", lambda: healthy(process), timeout)
    except BaseException:
        stop_group(process)
        raise
    return process


AIRFLOW_2 = Version(airflow_version).major == 2


def api_health(url: str) -> dict[str, Any] | None:
    """The Airflow API's (Airflow 2: the webserver's) health report, or None while it does not answer."""
    path = "/health" if AIRFLOW_2 else "/api/v2/monitor/health"
    try:
        with urllib.request.urlopen(f"{url}{path}", timeout=2) as reply:
            return json.load(reply)
    except (OSError, ValueError):
        return None


REPO = Path(__file__).resolve().parents[1]


@dataclass
class TaskResult:
    task_id: str
    map_index: int
    state: str
    duration: float
    trigger_seconds: float | None  # how long its trigger(s) ran in the triggerer; None if never deferred
    log: str  # the task's log and its trigger logs, as text
    worker_runs: int  # times a worker ran it (a start, each resumption)
    worker_seconds: float  # time in those runs, from each run's first log line to its last


# Every run of a task on a worker begins its log with this line.
WORKER_RUN_START = "::group::Pre Execute"


def worker_runs(worker_logs: list[Path]) -> list[float]:
    """The length in seconds of each worker run written to these task logs (not trigger logs): from
    a run's first line to its last. The process's start before its first line is not counted."""
    import pendulum

    spans: list[list[Any]] = []
    for path in worker_logs:
        for line in path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
                moment = pendulum.parse(record["timestamp"])
            except (ValueError, KeyError, TypeError):
                continue
            if record.get("event") == WORKER_RUN_START or not spans:
                spans.append([moment, moment])
            else:
                spans[-1][1] = moment
    return [(end - start).total_seconds() for start, end in spans]


_WORKER_TITLE = "airflow worker -- "


class AirflowStack:
    """Runs ``airflow standalone`` with its home, DAGs folder and ports of our choosing.

    :param home: AIRFLOW_HOME (created).
    :param dags_folder: Folder of DAG files.
    :param env: Further environment, e.g. connections as ``AIRFLOW_CONN_*``.
    :param api_port: API server port; a free one by default.
    """

    def __init__(self, home: Path, dags_folder: Path, env: dict[str, str], api_port: int | None = None) -> None:
        self.home = Path(home)
        self.dags_folder = Path(dags_folder)
        self.api_port = api_port or free_port()
        self.log_server_ports = (free_port(), free_port())
        self.process: subprocess.Popen | None = None
        self.extra_triggerers: list[subprocess.Popen] = []
        self.env = {
            **os.environ,
            **env,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home / 'airflow.db'}",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.log_server_ports[0]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.log_server_ports[1]),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            # The DAG files do not change once the stack runs: parse each once, not every 30 s
            # (a parse costs seconds of CPU, which the triggerer and Milvus need more).
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600",
            # A task whose DAG file does not parse in time never starts ("Dag not found"); on a busy
            # two-core machine (Milvus importing, a dozen Airflow processes) 30 s was not always enough.
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
            "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "150",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            # `airflow standalone` starts its components as `airflow ...` from PATH.
            "PATH": f"{Path(AIRFLOW).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            # The test DAGs import the harness (harness.dags).
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")])),
        }
        if AIRFLOW_2:
            # Airflow 2's names of the same settings: its webserver serves the UI and the API, and
            # its scheduler parses the DAG files.
            self.env |= {
                "AIRFLOW__WEBSERVER__WEB_SERVER_PORT": str(self.api_port),
                "AIRFLOW__WEBSERVER__WEB_SERVER_HOST": "127.0.0.1",
                "AIRFLOW__WEBSERVER__WORKERS": "1",
                "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "3600",
                "AIRFLOW__CORE__DAG_FILE_PROCESSOR_TIMEOUT": "150",
            }

    @property
    def log_path(self) -> Path:
        return self.home / "standalone.log"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self, timeout: float = 240) -> AirflowStack:
        busy = [str(p) for p in (self.api_port, *self.log_server_ports) if port_open(p)]
        if busy:
            raise RuntimeError(f"Cannot start Airflow: port(s) {', '.join(busy)} on 127.0.0.1 already in use")
        self.home.mkdir(parents=True, exist_ok=True)
        self.process = start_until(self._healthy, [AIRFLOW, "standalone"], self.log_path, self.env, timeout)
        return self

    def _healthy(self, process: subprocess.Popen) -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"airflow standalone exited; see {self.log_path}")
        health = api_health(self.ui_url)
        return health is not None and all(
            (health.get(part) or {}).get("status") == "healthy" for part in ("metadatabase", "scheduler", "triggerer")
        )

    def triggerer_pid(self) -> int:
        """The ``airflow triggerer`` process that ``airflow standalone`` started."""
        assert self.process is not None
        named = [pid for pid in descendants(self.process.pid) if b"triggerer" in cmdline(pid)]
        if not named:
            raise RuntimeError("no triggerer process under airflow standalone")
        # Its trigger runner names the triggerer too: the triggerer is the one the others are under.
        return next(pid for pid in named if not any(pid in descendants(other) for other in named if other != pid))

    def kill_triggerer(self) -> list[int]:
        """SIGKILL the triggerer ``airflow standalone`` runs, and its trigger runner: a crash, with
        no chance to clean up or to end its job. Returns the pids killed."""
        triggerer = self.triggerer_pid()
        doomed = {triggerer, *descendants(triggerer)}
        for pid in doomed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return sorted(doomed)

    def task_pids(self, dag_ids: list[str]) -> dict[tuple[str, str, str, int], int]:
        """The processes running the current tries of the DAGs' task instances, by (dag_id, run_id,
        task_id, map_index): one look at the metadata database and one at /proc for them all."""
        marks = ", ".join("?" * len(dag_ids))
        rows = self.query(
            f"SELECT id, dag_id, run_id, task_id, {self.ti_map_index} FROM task_instance WHERE dag_id IN ({marks})",
            *dag_ids,
        )
        # The task runner names its process after the try it runs: "airflow worker -- <ti id>"
        # (the id as a UUID; SQLite stores it as 32 hex digits).
        titles = {
            f"{_WORKER_TITLE}{uuid.UUID(str(row['id']))}".encode(): (
                row["dag_id"],
                row["run_id"],
                row["task_id"],
                row["map_index"],
            )
            for row in rows
        }
        pids: dict[tuple[str, str, str, int], int] = {}
        for path in Path("/proc").glob("[0-9]*/cmdline"):
            pid = int(path.parent.name)
            title = cmdline(pid)[: len(_WORKER_TITLE) + 36]  # the title, then a UUID's 36 characters
            if title in titles:
                if titles[title] in pids:
                    raise RuntimeError(f"two processes for {title.decode()!r}: {pids[titles[title]]}, {pid}")
                pids[titles[title]] = pid
        return pids

    def kill_task(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> int:
        """SIGKILL the process running a task instance's current try (its worker dies mid-task, as
        on a lost machine): its supervisor reports the failure, and Airflow retries it if it may.
        Returns the pid killed."""
        pid = self.task_pids([dag_id]).get((dag_id, run_id, task_id, map_index))
        if pid is None:
            raise RuntimeError(f"no process runs {dag_id}.{task_id} of run {run_id}")
        os.kill(pid, signal.SIGKILL)
        return pid

    def start_triggerer(self, env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start another ``airflow triggerer`` (beside the first, or after kill_triggerer), with
        ``env`` on top of the stack's; stop() stops it too."""
        log = self.home / f"triggerer-{len(self.extra_triggerers) + 1}.log"
        # Its own log server port: the first triggerer may still hold the stack's.
        own = {"AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port())}
        process = start_group([AIRFLOW, "triggerer"], log, {**self.env, **own, **(env or {})})
        self.extra_triggerers.append(process)
        return process

    def component_pids(self, name: str) -> list[int]:
        """The live ``airflow <name>`` processes (scheduler, triggerer, ...), started by ``airflow
        standalone`` or by :meth:`start_component`: the top one of each, not its helpers."""
        roots = [p.pid for p in (self.process, *self.extra_triggerers) if p is not None and p.poll() is None]
        under = {pid for root in roots for pid in descendants(root)} | {
            p.pid for p in self.extra_triggerers if p.poll() is None
        }
        title = f"airflow {name}".encode()
        named = [pid for pid in under if title in cmdline(pid).replace(b"\0", b" ")]
        return [pid for pid in named if not any(pid in descendants(other) for other in named if other != pid)]

    def kill_component(self, name: str) -> list[int]:
        """SIGKILL every ``airflow <name>`` process and its helpers (a crash, no clean-up)."""
        doomed = {pid for top in self.component_pids(name) for pid in (top, *descendants(top))}
        for pid in doomed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return sorted(doomed)

    def start_component(self, name: str) -> subprocess.Popen:
        """Start ``airflow <name>`` beside the stack (as a supervisor restarts a crashed one); stop()
        stops it too."""
        log = self.home / f"{name}-{len(self.extra_triggerers) + 1}.log"
        own = {"AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port())} if name == "triggerer" else {}
        process = start_group([AIRFLOW, name], log, {**self.env, **own})
        self.extra_triggerers.append(process)
        return process

    def stop(self, timeout: float = 30) -> None:
        for process in self.extra_triggerers:
            stop_group(process, timeout)
        self.extra_triggerers = []
        if self.process is not None:
            stop_group(self.process, timeout)
            self.process = None

    def cli(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run([AIRFLOW, *args], capture_output=True, text=True, timeout=timeout, env=self.env)
        if done.returncode:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def wait_parsed(self, dag_ids: list[str], timeout: float = 180) -> None:
        def parsed() -> bool:
            rows = self.query("SELECT dag.dag_id FROM dag JOIN serialized_dag ON serialized_dag.dag_id = dag.dag_id")
            return set(dag_ids) <= {row["dag_id"] for row in rows}

        wait_until(f"DAGs {dag_ids} to be parsed", parsed, timeout, 1)

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        out = self.cli("dags", "trigger", dag_id, "-c", json.dumps(conf or {}), "-o", "json")
        return json_output(out)[0]["dag_run_id"]

    def query(self, sql: str, *args: object) -> list[sqlite3.Row]:
        """Rows of the stack's metadata database, read while Airflow runs. (Polling through the
        CLI instead would start an Airflow process every time, seconds of CPU each.)"""
        with contextlib.closing(sqlite3.connect(self.home / "airflow.db", timeout=30)) as db:
            db.row_factory = sqlite3.Row
            return db.execute(sql, args).fetchall()

    @functools.cached_property
    def ti_map_index(self) -> str:
        """The task_instance column of a task's map index, selected as ``map_index``: Airflow 3.4
        renamed it ``region_index`` (migration 0144)."""
        columns = {row["name"] for row in self.query("PRAGMA table_info(task_instance)")}
        return "region_index AS map_index" if "region_index" in columns else "map_index"

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        """The DAG's runs, oldest first: run_id and state."""
        return [
            dict(row) for row in self.query("SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id", dag_id)
        ]

    def wait_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        def finished() -> str | None:
            rows = self.query("SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", dag_id, run_id)
            return rows[0]["state"] if rows and rows[0]["state"] in ("success", "failed") else None

        try:
            return wait_until(f"run {run_id} of {dag_id}", finished, timeout, 1)
        except TimeoutError as err:
            # Where the run stood, so that a run that hung and a run that was slow tell apart.
            states = ", ".join(
                f"{task_id}[{map_index}]={ti['state']} (try {ti['try_number']})"
                for (task_id, map_index), ti in sorted(self.task_instances(dag_id, run_id).items())
            )
            raise TimeoutError(f"{err}; its tasks: {states or 'none yet'}") from None

    def task_instances(self, dag_id: str, run_id: str) -> dict[tuple[str, int], dict[str, Any]]:
        """The run's task instances as the metadata database holds them, by (task_id, map_index)."""
        rows = self.query(
            f"SELECT task_id, {self.ti_map_index}, state, try_number, hostname, pid, start_date, end_date "
            "FROM task_instance WHERE dag_id = ? AND run_id = ?",
            dag_id,
            run_id,
        )
        return {(row["task_id"], row["map_index"]): dict(row) for row in rows}

    def task_results(self, dag_id: str, run_id: str) -> list[TaskResult]:
        results = []
        run_logs = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
        for ti in self.task_instances(dag_id, run_id).values():
            map_index = ti["map_index"]
            folder = run_logs / f"task_id={ti['task_id']}"
            if map_index >= 0:
                folder = folder / f"map_index={map_index}"
            logs = sorted(folder.glob("attempt=*.log*")) if folder.exists() else []
            runs = worker_runs([p for p in logs if ".trigger." not in p.name])
            results.append(
                TaskResult(
                    task_id=ti["task_id"],
                    map_index=map_index,
                    state=str(ti["state"]),
                    duration=_duration(ti),
                    trigger_seconds=_trigger_seconds([p for p in logs if ".trigger." in p.name]),
                    log="\n".join(p.read_text(errors="replace") for p in logs),
                    worker_runs=len(runs),
                    worker_seconds=sum(runs),
                )
            )
        return results


def json_output(out: str) -> Any:
    """What an ``airflow ... -o json`` command printed as JSON: the line that starts with [ or {
    (Airflow may log to stdout before it)."""
    for line in out.splitlines():
        if line.startswith(("[", "{")):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return []


def _duration(ti: dict[str, Any]) -> float:
    import pendulum

    if ti.get("start_date") and ti.get("end_date"):
        return (pendulum.parse(ti["end_date"]) - pendulum.parse(ti["start_date"])).total_seconds()
    return 0.0


def trigger_log_times(path: Path) -> dict[str, Any]:
    """When the trigger of one trigger log started and when it fired (pendulum times; a key is
    missing if its line is)."""
    import pendulum

    times: dict[str, Any] = {}
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        event = str(record.get("event", ""))
        if event.startswith("trigger ") and event.endswith("starting"):
            times.setdefault("started", pendulum.parse(record["timestamp"]))
        elif event == "Trigger fired event":
            times["fired"] = pendulum.parse(record["timestamp"])
    return times


def _trigger_seconds(trigger_logs: list[Path]) -> float | None:
    """From 'trigger ... starting' to 'Trigger fired event' in each trigger log, summed."""
    if not trigger_logs:
        return None
    total = 0.0
    for path in trigger_logs:
        times = trigger_log_times(path)
        if "started" in times and "fired" in times:
            total += (times["fired"] - times["started"]).total_seconds()
    return total


class ApiServer:
    """``airflow api-server`` in its own Airflow home and process group, with the Test button enabled
    and every visitor an admin (the connection form is under test, not the login page)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "api-server.log"
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
        }
        self.env.pop("AIRFLOW_CONN_MILVUS_DEFAULT", None)
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> ApiServer:
        self.cli("db", "migrate")
        self.process = start_until(self._healthy, self._command(), self.log_path, self.env, timeout)
        return self

    def _command(self) -> list[str]:
        return [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(self.port)]

    def _healthy(self, process: subprocess.Popen) -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"airflow {self._command()[1]} exited:\n{self.log_path.read_text()[-3000:]}")
        return api_health(self.url) is not None

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process, 20)
            self.process = None

    def cli(self, *args: str) -> str:
        done = subprocess.run([AIRFLOW, *args], capture_output=True, text=True, timeout=300, env=self.env)
        if done.returncode:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def get(self, path: str) -> dict:
        request = urllib.request.Request(f"{self.url}{path}", headers=self._authorization())
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.load(reply)

    def _authorization(self) -> dict[str, str]:
        """A bearer token for the API: every visitor is an admin, yet Airflow 3.1's API wants one."""
        with urllib.request.urlopen(f"{self.url}/auth/token", timeout=10) as reply:
            return {"Authorization": f"Bearer {json.load(reply)['access_token']}"}


class Webserver(ApiServer):
    """Airflow 2's ``airflow webserver`` (its Flask UI), one gunicorn worker, every visitor an admin
    (FAB's public role), with the Test button enabled."""

    def __init__(self, home: Path) -> None:
        super().__init__(home)
        (home / "webserver_config.py").write_text('AUTH_ROLE_PUBLIC = "Admin"\n')
        self.env["AIRFLOW__WEBSERVER__WORKERS"] = "1"

    def _command(self) -> list[str]:
        return [AIRFLOW, "webserver", "--hostname", "127.0.0.1", "--port", str(self.port)]

    def _authorization(self) -> dict[str, str]:
        return {}  # the public role is an admin
