"""Thousands of concurrent Milvus waits in one event loop: the provider's triggers measured against
the alternatives, on the same work, in one run, against a real Milvus. Prints a table.

    make bench                                   # N = 10, 100, 1000, 2000
    .venv/bin/python -m benchmarks.triggerer_scale --sizes 10,100 --idle 20

Each way of waiting runs in a fresh process of its own, so its memory, CPU and sockets are its own:

  provider   MilvusFlushStateTrigger / MilvusImportStateTrigger, built from their serialized kwargs
             and run on one asyncio loop, as the triggerer runs them
  to_thread  (a) the common pattern: a trigger per wait calling pymilvus's synchronous API through
             asyncio.to_thread, with a MilvusClient of its own
  bare       (b) the floor: bare grpc.aio stub calls on one shared channel, no provider code, polling
             on the provider's schedule (spread first polls, +/- 10 % jitter)
  bare_lockstep  the same, with every wait polling at the same moments (the naive loop)
  poke       (c) poke-mode sensors, one process per wait: a few are measured, N is extrapolated

One run of a way at size N, all waits started together:
  1. N flush waits on 4 collections, each for a flush timestamp that no flush has passed yet.
     After a warm-up of two poll intervals, an idle window of --idle seconds is measured: CPU,
     RPCs, RSS, TCP connections. Then this script flushes the collections, watches GetFlushState
     every 50 ms to learn when Milvus reports them done, and each wait's event time is compared
     with that moment (detection latency).
  2. 4 imports are started, N import waits are started on them (i % 4), and the same is done
     with GetImportState.
Event-loop lag is sampled every 50 ms over the whole run (p50, p99, max) and reported separately
for the idle window ("idle max"), where the waits only poll: no starts, no events.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from airflow_provider_milvus.wait import POLL_JITTER  # the bare floor polls on the provider's schedule
from benchmarks.stats import percentile
from harness.milvus import tso

REPO = Path(__file__).resolve().parents[1]

COLLECTIONS = 4
DIM = 8
WAYS = ("provider", "to_thread", "bare", "bare_lockstep")
IMPORT_COMPLETED, IMPORT_FAILED, IMPORT_FAILED_AND_CLEANED = 6, 1, 7


# --- The child: one way of waiting, N waits, one process ------------------------------------------


class Counter:
    rpcs = 0


async def wait_provider(kind: str, target: dict[str, Any], spec: dict[str, Any]) -> float:
    from airflow_provider_milvus.triggers.milvus import MilvusFlushStateTrigger, MilvusImportStateTrigger

    if kind == "flush":
        trigger = MilvusFlushStateTrigger(collections=[target], poll_interval=spec["poll_interval"])
    else:
        trigger = MilvusImportStateTrigger(import_task_id=target["task_id"], poll_interval=spec["poll_interval"])
    # The triggerer rebuilds each trigger from its serialized kwargs.
    _classpath, kwargs = trigger.serialize()
    trigger = type(trigger)(**kwargs)
    fired = None
    # As the triggerer does: the event is taken, and the trigger's run() is iterated to its end.
    async for event in trigger.run():
        if event.payload["status"] != "success":
            raise RuntimeError(event.payload)
        fired = fired or time.time()
    if fired is None:
        raise RuntimeError("trigger ended without an event")
    return fired


class ThreadWaits:
    """(a) What a hand-written trigger usually does: a pymilvus client per wait, each poll in a thread."""

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def client(self):
        from pymilvus import MilvusClient

        return MilvusClient(uri=self.uri)

    async def wait(self, kind: str, target: dict[str, Any], spec: dict[str, Any], client) -> float:
        handler = client._get_connection()
        while True:
            Counter.rpcs += 1
            if kind == "flush":
                done = await asyncio.to_thread(
                    handler.get_flush_state, target["segment_ids"], target["collection_name"], target["flush_ts"]
                )
            else:
                state = await asyncio.to_thread(handler.get_bulk_insert_state, target["task_id"])
                if state.state in (IMPORT_FAILED, IMPORT_FAILED_AND_CLEANED):
                    raise RuntimeError(f"import {target['task_id']} failed")
                done = state.state == IMPORT_COMPLETED
            if done:
                return time.time()
            await asyncio.sleep(spec["poll_interval"])


class BareWaits:
    """(b) The floor: the RPC on one shared grpc.aio channel, a sleep, nothing else.

    ``spread``: poll on the provider's schedule (first poll one interval plus a random part of one,
    then every interval +/- 10 %), so the two differ only by the provider's code. Without it, all
    waits poll together, as the naive loop of (a) does.
    """

    def __init__(self, address: str, spread: bool) -> None:
        self.spread = spread
        import grpc
        from pymilvus.grpc_gen import milvus_pb2, milvus_pb2_grpc

        self.pb = milvus_pb2
        self.stub = milvus_pb2_grpc.MilvusServiceStub(grpc.aio.insecure_channel(address))

    async def wait(self, kind: str, target: dict[str, Any], spec: dict[str, Any], client=None) -> float:
        metadata = (("dbname", "default"),)
        if kind == "flush":
            request = self.pb.GetFlushStateRequest(
                segmentIDs=target["segment_ids"],
                collection_name=target["collection_name"],
                flush_ts=target["flush_ts"],
                db_name="default",
            )
        else:
            request = self.pb.GetImportStateRequest(task=target["task_id"])
        interval = spec["poll_interval"]
        if self.spread:
            await asyncio.sleep(interval + random.uniform(0, interval))
        while True:
            Counter.rpcs += 1
            if kind == "flush":
                done = (await self.stub.GetFlushState(request, metadata=metadata, timeout=30)).flushed
            else:
                state = (await self.stub.GetImportState(request, metadata=metadata, timeout=30)).state
                if state in (IMPORT_FAILED, IMPORT_FAILED_AND_CLEANED):
                    raise RuntimeError(f"import {target['task_id']} failed")
                done = state == IMPORT_COMPLETED
            if done:
                return time.time()
            jitter = random.uniform(1 - POLL_JITTER, 1 + POLL_JITTER) if self.spread else 1.0
            await asyncio.sleep(interval * jitter)


def milvus_connections(process, port: int) -> int:
    return sum(
        1 for c in process.net_connections(kind="tcp") if c.raddr and c.raddr.port == port and c.status == "ESTABLISHED"
    )


async def child_main(spec: dict[str, Any], protocol) -> dict[str, Any]:
    import psutil

    way, n, interval = spec["way"], spec["n"], spec["poll_interval"]
    port = int(spec["uri"].rsplit(":", 1)[1])
    me = psutil.Process()
    loop = asyncio.get_running_loop()

    # Everything a way needs before its first wait, so the baseline holds only the waits' cost.
    clients: list[Any] = [None] * n
    if way == "provider":
        os.environ["AIRFLOW_CONN_MILVUS_DEFAULT"] = spec["uri"].replace("http://", "milvus://", 1)
        from airflow_provider_milvus.hooks.milvus import MilvusHook
        from airflow_provider_milvus.triggers import milvus as _triggers  # noqa: F401

        original = MilvusHook._acall

        async def counted(self, *args, **kwargs):
            Counter.rpcs += 1
            return await original(self, *args, **kwargs)

        MilvusHook._acall = counted

        async def wait(kind, target, index):
            return await wait_provider(kind, target, spec)
    elif way == "to_thread":
        import pymilvus  # noqa: F401

        waits = ThreadWaits(spec["uri"])

        async def wait(kind, target, index):
            return await waits.wait(kind, target, spec, clients[index])
    else:
        waits = BareWaits(spec["uri"].removeprefix("http://"), spread=way == "bare")

        async def wait(kind, target, index):
            return await waits.wait(kind, target, spec)

    lags: list[float] = []
    lag_times: list[float] = []  # when each lag sample started
    # Garbage collections of the oldest generation, (start, seconds): what long lags are made of.
    full_collections: list[tuple[float, float]] = []
    collecting: dict[str, float] = {}

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            collecting["start"] = time.perf_counter()
        elif "start" in collecting:
            began = collecting.pop("start")
            full_collections.append((began, time.perf_counter() - began))

    gc.callbacks.append(on_gc)
    rss_peak = [0]
    stop = asyncio.Event()

    async def sample_lag():
        last_rss = 0.0
        while not stop.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.05)
            lags.append(time.perf_counter() - start - 0.05)
            lag_times.append(start)
            if start - last_rss > 1:
                rss_peak[0] = max(rss_peak[0], me.memory_info().rss)
                last_rss = start

    rss_base = me.memory_info().rss
    sampler = asyncio.create_task(sample_lag())
    setup_started = time.perf_counter()
    if way == "to_thread":
        # A client per wait, as each hand-written trigger makes its own (created off the loop).
        clients[:] = await asyncio.gather(*(asyncio.to_thread(waits.client) for _ in range(n)))
    setup_seconds = time.perf_counter() - setup_started

    def start(kind: str, targets: list[dict[str, Any]]) -> list[asyncio.Task]:
        return [asyncio.create_task(wait(kind, targets[i % len(targets)], i)) for i in range(n)]

    # The process's own cost with no wait (gRPC threads, this sampler), subtracted per poll below.
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(spec["baseline"])
    base_cpu_rate = (time.process_time() - cpu0) / (time.perf_counter() - wall0)

    phases = {"start": time.perf_counter()}
    flush_tasks = start("flush", spec["flush_targets"])
    await asyncio.sleep(2 * interval)  # warm-up: every wait is past its first poll
    cpu0, rpc0, wall0 = time.process_time(), Counter.rpcs, time.perf_counter()
    phases["idle"] = wall0
    await asyncio.sleep(spec["idle"] / 2)
    connections = milvus_connections(me, port)
    await asyncio.sleep(spec["idle"] / 2)
    cpu1, rpc1, wall1 = time.process_time(), Counter.rpcs, time.perf_counter()
    rss_peak[0] = max(rss_peak[0], me.memory_info().rss)
    early = sum(t.done() for t in flush_tasks)  # none may: nothing has flushed past their timestamp
    phases["flush events"] = time.perf_counter()
    protocol.write("IDLE_DONE\n")

    flush_times = await asyncio.wait_for(asyncio.gather(*flush_tasks), 120)
    protocol.write("FLUSH_DONE\n")
    line = await loop.run_in_executor(None, sys.stdin.readline)
    import_targets = json.loads(line)
    phases["imports"] = time.perf_counter()
    import_times = await asyncio.wait_for(asyncio.gather(*start("import", import_targets)), 300)
    stop.set()
    await sampler
    return {
        "way": way,
        "n": n,
        "setup_seconds": setup_seconds,
        "rss_base": rss_base,
        "rss_peak": rss_peak[0],
        "connections": connections,
        "cpu_window": cpu1 - cpu0,
        "cpu_baseline": base_cpu_rate * (wall1 - wall0),
        "wall_window": wall1 - wall0,
        "rpcs_window": rpc1 - rpc0,
        "rpcs_total": Counter.rpcs,
        "lag_ms": [percentile(lags, 50) * 1000, percentile(lags, 99) * 1000, max(lags) * 1000],
        # Steady state: the largest lag while every wait just polls (no starts, no events).
        "idle_max_lag_ms": 1000 * max(lag for lag, t in zip(lags, lag_times, strict=True) if wall0 <= t <= wall1),
        # Where the largest lags happen: starting N waits, their events, the import phase.
        "max_lag_by_phase_ms": {
            name: 1000 * max((lag for lag, t in zip(lags, lag_times, strict=True) if begin <= t < end), default=0.0)
            for (name, begin), end in zip(phases.items(), [*list(phases.values())[1:], float("inf")], strict=True)
        },
        # The longest full garbage collection in each phase, and how many there were.
        "full_gc_by_phase_ms": {
            name: [
                1000 * max((d for t, d in full_collections if begin <= t < end), default=0.0),
                sum(1 for t, _ in full_collections if begin <= t < end),
            ]
            for (name, begin), end in zip(phases.items(), [*list(phases.values())[1:], float("inf")], strict=True)
        },
        "flush_times": flush_times,
        "import_times": import_times,
        "early_events": early,
    }


def poke_main(spec: dict[str, Any]) -> None:
    """(c) One poke-mode sensor in a process of its own, poking until told to stop."""
    os.environ["AIRFLOW_CONN_MILVUS_DEFAULT"] = spec["uri"].replace("http://", "milvus://", 1)
    from airflow_provider_milvus.sensors.milvus import MilvusFlushStateSensor

    target = spec["flush_targets"][0]
    sensor = MilvusFlushStateSensor(
        task_id="wait_for_flush",
        collection_name=target["collection_name"],
        segment_ids=target["segment_ids"],
        flush_ts=target["flush_ts"],
        poke_interval=spec["poll_interval"],
    )
    print("READY", flush=True)
    while not sensor.poke({}):
        time.sleep(spec["poll_interval"])


# --- The parent: Milvus, the work, the children, the table ----------------------------------------


class Work:
    """The collections and import files the waits are about, and the Milvus-side clock of 'done'."""

    def __init__(self, uri: str, import_dir: Path) -> None:
        from pymilvus import DataType, MilvusClient

        from airflow_provider_milvus.hooks.milvus import MilvusHook

        os.environ["AIRFLOW_CONN_MILVUS_BENCH"] = uri.replace("http://", "milvus://", 1)
        self.uri = uri
        self.import_dir = import_dir
        self.client = MilvusClient(uri=uri)
        self.hook = MilvusHook("milvus_bench")
        self.names = [f"bench_{i}" for i in range(COLLECTIONS)]
        self.next_id = 0
        for name in self.names:
            if self.client.has_collection(name):
                self.client.drop_collection(name)
            schema = self.client.create_schema(auto_id=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
            self.client.create_collection(name, schema=schema)
        self.insert(100)
        flushed = self.hook.flush(self.names)
        self.segments = {name: flushed["collections"][name]["segment_ids"] for name in self.names}
        for name in self.names:
            while not self.hook.get_flush_state(self.segments[name], name):
                time.sleep(0.2)

    def rows(self, count: int) -> list[dict[str, Any]]:
        rows = [{"id": self.next_id + i, "vector": [float(i % 7)] * DIM} for i in range(count)]
        self.next_id += count
        return rows

    def insert(self, count: int) -> None:
        for name in self.names:
            self.client.insert(name, self.rows(count))

    def flush_targets(self) -> list[dict[str, Any]]:
        """Targets no flush has passed yet: done only when complete_flush() runs.

        Unflushed rows inserted first hold each channel's checkpoint behind ``flush_ts``; with
        nothing pending, Milvus moves the checkpoint on by itself within a minute or so.
        """
        self.insert(10)
        time.sleep(0.01)
        ts = tso(time.time())
        return [{"collection_name": n, "segment_ids": self.segments[n], "flush_ts": ts} for n in self.names]

    def complete_flush(self, targets: list[dict[str, Any]]) -> list[float]:
        """Flush, then learn within 50 ms when Milvus reports each target done."""
        self.hook.flush(self.names)
        hook = self.hook
        return self._watch(
            [lambda t=t: hook.get_flush_state(t["segment_ids"], t["collection_name"], t["flush_ts"]) for t in targets]
        )

    def start_imports(self) -> list[dict[str, Any]]:
        targets = []
        for name in self.names:
            path = self.import_dir / f"{name}-{self.next_id}.json"
            path.write_text(json.dumps({"rows": self.rows(500)}))
            targets.append({"task_id": self.hook.bulk_insert(name, [str(path)])})
        return targets

    def imports_done(self, targets: list[dict[str, Any]]) -> list[float]:
        def check(task_id: int) -> bool:
            state = self.hook.get_import_state(task_id)
            if state["state"] in ("ImportFailed", "ImportFailedAndCleaned"):
                raise RuntimeError(f"import {task_id} failed: {state}")
            return state["state"] == "ImportCompleted"

        return self._watch([lambda t=t: check(t["task_id"]) for t in targets])

    @staticmethod
    def _watch(checks: list[Any], timeout: float = 300) -> list[float]:
        done: list[float | None] = [None] * len(checks)
        deadline = time.monotonic() + timeout
        while None in done:
            if time.monotonic() > deadline:
                raise TimeoutError("Milvus did not report done")
            for i, check in enumerate(checks):
                if done[i] is None and check():
                    done[i] = time.time()
            time.sleep(0.05)
        return done  # type: ignore[return-value]


def run_child(work: Work, way: str, n: int, args: argparse.Namespace, log_dir: Path) -> dict[str, Any]:
    flush_targets = work.flush_targets()
    spec = {"way": way, "n": n, "uri": work.uri, "poll_interval": args.poll_interval, "idle": args.idle, "baseline": 5}
    spec["flush_targets"] = flush_targets
    with open(log_dir / f"{way}-{n}.log", "w") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.triggerer_scale", "--child", json.dumps(spec)],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    try:

        def expect(marker: str) -> None:
            line = child.stdout.readline().strip()
            if line != marker:
                raise RuntimeError(f"{way} N={n}: expected {marker}, got {line!r}; see {log_dir / f'{way}-{n}.log'}")

        expect("IDLE_DONE")
        flush_done = work.complete_flush(flush_targets)
        expect("FLUSH_DONE")
        import_targets = work.start_imports()
        child.stdin.write(json.dumps(import_targets) + "\n")
        child.stdin.flush()
        import_done = work.imports_done(import_targets)
        result = json.loads(child.stdout.readline())
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    k = len(flush_targets)
    result["flush_latency"] = [t - flush_done[i % k] for i, t in enumerate(result.pop("flush_times"))]
    result["import_latency"] = [t - import_done[i % k] for i, t in enumerate(result.pop("import_times"))]
    return result


def run_poke(work: Work, processes: int, args: argparse.Namespace) -> dict[str, Any]:
    import psutil

    spec = {"uri": work.uri, "poll_interval": args.poll_interval, "flush_targets": work.flush_targets()}
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.triggerer_scale", "--poke-child", json.dumps(spec)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(processes)
    ]
    try:
        for child in children:
            if child.stdout.readline().strip() != "READY":
                raise RuntimeError("a poke-mode sensor process did not start")
        time.sleep(2 * args.poll_interval)
        procs = [psutil.Process(c.pid) for c in children]
        cpu0 = [sum(p.cpu_times()[:2]) for p in procs]
        started = time.perf_counter()
        time.sleep(args.idle)
        wall = time.perf_counter() - started
        cpu = [sum(p.cpu_times()[:2]) - c0 for p, c0 in zip(procs, cpu0, strict=True)]
        rss = [p.memory_info().rss for p in procs]
        port = int(work.uri.rsplit(":", 1)[1])
        connections = [milvus_connections(p, port) for p in procs]
    finally:
        for child in children:
            child.kill()
            child.wait()
    polls = wall / args.poll_interval
    return {
        "processes": processes,
        "rss_per_process": statistics.median(rss),
        "cpu_per_process": statistics.median(cpu),
        "cpu_per_poll": statistics.median(cpu) / polls,
        "wall": wall,
        "connections_per_process": max(connections),
    }


def process_tree(root) -> list:
    return [root, *root.children(recursive=True)]


def run_in_triggerer(work: Work, n: int, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """N deferred sensors in a real ``airflow triggerer`` (``airflow standalone``), measured from outside."""
    import shutil

    import pendulum
    import psutil

    from harness.airflow import AirflowStack, json_output
    from harness.processes import wait_until

    dag_id = "bench_triggerer_waits"
    dags = tmp / "dags"
    dags.mkdir()
    shutil.copy(REPO / "benchmarks" / "dags" / f"{dag_id}.py", dags)
    env = {
        "AIRFLOW_CONN_MILVUS_DEFAULT": work.uri.replace("http://", "milvus://", 1),
        "AIRFLOW__CORE__PARALLELISM": "8",  # 2 cores: more task processes starting at once only queue
    }
    port = int(work.uri.rsplit(":", 1)[1])
    stack = AirflowStack(tmp / "airflow-home", dags, env).start()
    try:
        stack.wait_parsed([dag_id])
        # The `airflow triggerer` that standalone started: the oldest process naming it (its trigger
        # runner subprocess is in its tree).
        triggerer = psutil.Process(stack.triggerer_pid())

        def measure(seconds: float) -> tuple[float, int, int]:
            """CPU % of the triggerer's processes over the window, their RSS and Milvus connections."""
            tree = process_tree(triggerer)
            cpu0 = sum(sum(p.cpu_times()[:2]) for p in tree)
            time.sleep(seconds / 2)
            connections = sum(milvus_connections(p, port) for p in process_tree(triggerer))
            time.sleep(seconds / 2)
            tree = process_tree(triggerer)
            cpu1 = sum(sum(p.cpu_times()[:2]) for p in tree)
            return 100 * (cpu1 - cpu0) / seconds, sum(p.memory_info().rss for p in tree), connections

        idle_cpu, idle_rss, _ = measure(args.idle)
        targets = work.flush_targets()
        conf = {
            "n": n,
            "collections": [t["collection_name"] for t in targets],
            "segment_ids": {t["collection_name"]: t["segment_ids"] for t in targets},
            "flush_ts": targets[0]["flush_ts"],
        }
        run_id = stack.trigger(dag_id, conf)

        def deferred_count() -> int:
            out = stack.cli("tasks", "states-for-dag-run", dag_id, run_id, "-o", "json")
            states = [t["state"] for t in json_output(out) if t["task_id"] == "wait_for_flush"]
            if any(state in ("failed", "upstream_failed") for state in states):
                failed = [r for r in stack.task_results(dag_id, run_id) if r.state in ("failed", "upstream_failed")]
                tail = "\n".join(failed[0].log.splitlines()[-30:]) if failed else ""
                raise RuntimeError(f"{len(failed)} task(s) failed before the flush; the first one's log ends:\n{tail}")
            return sum(state == "deferred" for state in states)

        def deferred() -> bool:
            return deferred_count() >= n

        started = time.monotonic()
        wait_until(f"{n} deferred sensors", deferred, timeout=900, interval=3)
        deferring_seconds = time.monotonic() - started
        time.sleep(2 * args.poll_interval)
        busy_cpu, busy_rss, connections = measure(args.idle)
        if deferred_count() < n:
            raise RuntimeError("flush waits in the triggerer fired before the flush: an invalid run")
        flush_done = work.complete_flush(targets)
        state = stack.wait_run(dag_id, run_id, timeout=600)
        logs = stack.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / "task_id=wait_for_flush"

        def fired_events() -> dict[int, float]:
            fired = {}
            for path in logs.glob("map_index=*/attempt=*.log.trigger.*.log"):
                for line in path.read_text(errors="replace").splitlines():
                    if '"Trigger fired event"' in line:
                        fired[int(path.parent.name.split("=")[1])] = pendulum.parse(json.loads(line)["timestamp"])
            return fired

        # The triggerer writes trigger logs behind the events: give the files time to catch up.
        with contextlib.suppress(TimeoutError):
            wait_until("every trigger log", lambda: len(fired_events()) >= n, timeout=60, interval=2)
        fired = {i: t.timestamp() for i, t in fired_events().items()}
        latency = [t - flush_done[i % len(flush_done)] for i, t in fired.items()]
        blocked_lines = [
            line.strip()[:200]
            for line in stack.log_path.read_text(errors="replace").splitlines()
            if "was blocked for" in line
        ]
    finally:
        stack.stop()
    return {
        "n": n,
        "state": state,
        "deferring_seconds": deferring_seconds,
        "idle_cpu_pct": idle_cpu,
        "busy_cpu_pct": busy_cpu,
        "added_rss": busy_rss - idle_rss,
        "connections": connections,
        "fired": len(fired),
        "latency_p50": percentile(latency, 50),
        "latency_p99": percentile(latency, 99),
        "blocked_warnings": blocked_lines,
        "polls_per_second": n / args.poll_interval,
    }


def summarize(r: dict[str, Any], interval: float) -> dict[str, Any]:
    added = max(0, r["rss_peak"] - r["rss_base"])
    return {
        "way": r["way"],
        "n": r["n"],
        "tcp": r["connections"],
        "rss_mb": added / 2**20,
        "rss_kb_per_wait": added / 1024 / r["n"],
        "cpu_ms_per_poll": 1000 * max(0.0, r["cpu_window"] - r["cpu_baseline"]) / max(1, r["rpcs_window"]),
        "cpu_pct": 100 * r["cpu_window"] / r["wall_window"],
        "lag": r["lag_ms"],
        "idle_max_lag": r["idle_max_lag_ms"],
        "max_lag_by_phase": r["max_lag_by_phase_ms"],
        "full_gc_by_phase": r["full_gc_by_phase_ms"],
        "flush_p50": percentile(r["flush_latency"], 50),
        "flush_p99": percentile(r["flush_latency"], 99),
        "import_p50": percentile(r["import_latency"], 50),
        "import_p99": percentile(r["import_latency"], 99),
        "rpcs": r["rpcs_total"],
        "rpcs_window": r["rpcs_window"],
        "early": r["early_events"],
    }


HEADER = (
    f"{'N':>5} {'way':<13} {'TCP':>5} {'+RSS MB':>8} {'KB/wait':>8} {'CPU ms/poll':>11} {'CPU %':>6} "
    f"{'lag p50/p99/max ms':>19} {'idle max':>8} {'flush det. p50/p99 s':>21} {'import det. p50/p99 s':>22} {'RPCs':>7}"
)


def row(s: dict[str, Any]) -> str:
    lag = "/".join(f"{v:.1f}" for v in s["lag"])
    return (
        f"{s['n']:>5} {s['way']:<13} {s['tcp']:>5} {s['rss_mb']:>8.1f} {s['rss_kb_per_wait']:>8.1f} "
        f"{s['cpu_ms_per_poll']:>11.3f} {s['cpu_pct']:>6.2f} {lag:>19} {s['idle_max_lag']:>8.1f} "
        f"{s['flush_p50']:>10.2f}/{s['flush_p99']:<10.2f} {s['import_p50']:>11.2f}/{s['import_p99']:<10.2f} "
        f"{s['rpcs']:>7}"
    )


def median_summary(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over repeated runs (TCP connections: the most seen)."""

    def median(values: list[Any]) -> Any:
        first = values[0]
        if isinstance(first, list):
            return [median([v[i] for v in values]) for i in range(len(first))]
        if isinstance(first, dict):
            return {k: median([v[k] for v in values]) for k in first}
        if isinstance(first, (int, float)) and not isinstance(first, bool):
            return statistics.median(values)
        return first

    merged = {key: median([s[key] for s in summaries]) for key in summaries[0]}
    merged["tcp"] = max(s["tcp"] for s in summaries)
    return merged


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import grpc
    import pymilvus

    return (
        f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
        f"grpcio {grpc.__version__}, pymilvus {pymilvus.__version__}, {platform.platform()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,1000,2000", help="comma-separated N (default: %(default)s)")
    parser.add_argument("--ways", default=",".join(WAYS), help="comma-separated ways (default: %(default)s)")
    parser.add_argument("--poll-interval", type=float, default=5.0, help="seconds (default: %(default)s)")
    parser.add_argument("--idle", type=float, default=20.0, help="measured idle window, seconds (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each N and way; medians reported")
    parser.add_argument("--poke-processes", type=int, default=4, help="poke-mode sensor processes; 0 skips them")
    parser.add_argument("--triggerer-n", type=int, default=100, help="waits in a real triggerer; 0 skips it")
    parser.add_argument("--milvus-uri", help="use this Milvus instead of starting one (needs --import-dir)")
    parser.add_argument("--import-dir", type=Path, help="a directory the server reads import files from")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--poke-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        # The protocol with the parent keeps stdout to itself; whatever logs to stdout goes to stderr.
        protocol = os.fdopen(os.dup(1), "w", buffering=1)
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        result = asyncio.run(child_main(json.loads(args.child), protocol))
        protocol.write(json.dumps(result) + "\n")
        return
    if args.poke_child:
        poke_main(json.loads(args.poke_child))
        return

    sizes = [int(s) for s in args.sizes.split(",")]
    ways = [w for w in args.ways.split(",") if w]
    unknown = set(ways) - set(WAYS)
    if unknown:
        parser.error(f"--ways: unknown {sorted(unknown)}; choose from {', '.join(WAYS)}")
    if args.poll_interval <= 0 or args.idle <= 0:
        parser.error("--poll-interval and --idle must be positive")

    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-airflow-"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    from harness.milvus import EmbeddedMilvus

    server = None
    with tempfile.TemporaryDirectory(prefix="bench-milvus-") as tmp:
        if args.milvus_uri:
            if not args.import_dir:
                parser.error("--milvus-uri needs --import-dir")
            uri, import_dir = args.milvus_uri, args.import_dir
        else:
            server = EmbeddedMilvus(Path(tmp) / "data").start()
            uri, import_dir = server.uri, server.data_dir / "imports"
            import_dir.mkdir(parents=True, exist_ok=True)
        log_dir = Path(tmp) / "logs"
        log_dir.mkdir()
        try:
            print(f"# machine: {machine()}", flush=True)
            work = Work(uri, import_dir)
            print(
                f"# Milvus {work.hook.get_server_version()} at {uri}; poll interval {args.poll_interval:g} s, "
                f"idle window {args.idle:g} s after a warm-up of two intervals",
                flush=True,
            )
            print(HEADER, flush=True)
            runs: dict[tuple[int, str], list[dict[str, Any]]] = {}
            for n in sizes:
                for _ in range(args.repeat):  # ways interleaved, so drift on the machine hits all alike
                    for way in ways:
                        try:
                            summary = summarize(run_child(work, way, n, args, log_dir), args.poll_interval)
                        except Exception as err:  # one failing way must not hide the others' figures
                            print(f"{n:>5} {way:<13} FAILED: {err}", flush=True)
                            continue
                        runs.setdefault((n, way), []).append(summary)
                        print(row(summary), flush=True)
            results = {key: median_summary(summaries) for key, summaries in runs.items()}
            if args.repeat > 1:
                print(f"\n# medians of {args.repeat} runs (ratios and targets below use these)\n{HEADER}")
                for summary in results.values():
                    print(row(summary))
            poke = run_poke(work, args.poke_processes, args) if args.poke_processes else None
            report(results, sizes, poke, args)
            if args.triggerer_n:
                print(f"\n# in a real `airflow triggerer` (airflow standalone), N={args.triggerer_n}:", flush=True)
                real = run_in_triggerer(work, args.triggerer_n, args, Path(tmp))
                report_triggerer(real, results.get((args.triggerer_n, "provider")), args)
        finally:
            if server is not None:
                server.stop()


def report(results: dict, sizes: list[int], poke: dict | None, args: argparse.Namespace) -> None:
    print("\n# largest event-loop lag (ms) by phase: starting N waits (+ warm-up), idle, flush events, imports")
    for (n, way), s in results.items():
        print(f"{n:>5} {way:<13} " + " ".join(f"{v:>8.1f}" for v in s["max_lag_by_phase"].values()))
    print("\n# longest full (generation 2) garbage collection (ms) and how many, by the same phases")
    for (n, way), s in results.items():
        cells = (f"{pause:>6.1f} x{count:<3.0f}" for pause, count in s["full_gc_by_phase"].values())
        print(f"{n:>5} {way:<13} " + " ".join(cells))
    if poke:
        print(
            f"\n# (c) poke-mode sensors, {poke['processes']} processes measured over {poke['wall']:.0f} s: per process "
            f"{poke['rss_per_process'] / 2**20:.0f} MB RSS, {poke['connections_per_process']} TCP connection(s), "
            f"{1000 * poke['cpu_per_poll']:.2f} ms CPU per poll, "
            f"{100 * poke['cpu_per_process'] / poke['wall']:.2f} % CPU."
        )
        print("#     Extrapolated (N x one process; a real worker slot adds Airflow's task supervisor on top):")
        for n in sizes:
            print(
                f"#     N={n:<5} {n} worker slots, {n * poke['rss_per_process'] / 2**30:.1f} GB RSS, "
                f"{n * poke['connections_per_process']} TCP connections, "
                f"{n * 100 * poke['cpu_per_process'] / poke['wall']:.1f} % CPU"
            )
    print("\n# provider / alternative (lower is better; TCP and RSS in absolute terms above)")
    print(f"{'N':>5} {'vs':<13} {'CPU/poll':>9} {'CPU %':>7} {'+RSS':>7} {'lag p99':>8} {'flush det. p50':>15}")
    for n in sizes:
        mine = results.get((n, "provider"))
        for other in ("to_thread", "bare", "bare_lockstep"):
            theirs = results.get((n, other))
            if not mine or not theirs:
                continue

            def ratio(a: float, b: float) -> str:
                return f"{a / b:.2f}x" if b > 0 else "n/a"

            print(
                f"{n:>5} {other:<13} {ratio(mine['cpu_ms_per_poll'], theirs['cpu_ms_per_poll']):>9} "
                f"{ratio(mine['cpu_pct'], theirs['cpu_pct']):>7} {ratio(mine['rss_mb'], theirs['rss_mb']):>7} "
                f"{ratio(mine['lag'][1], theirs['lag'][1]):>8} {ratio(mine['flush_p50'], theirs['flush_p50']):>15}"
            )
    for n in sizes:
        mine, floor = results.get((n, "provider")), results.get((n, "bare"))
        if n != 1000 or not mine:
            continue
        checks = [
            ("p99 loop lag <= 50 ms", mine["lag"][1] <= 50),
            ("at most one TCP connection", mine["tcp"] <= 1),
            ("added RSS <= 50 MB", mine["rss_mb"] <= 50),
            ("detection p50 <= interval/2 + 100 ms", mine["flush_p50"] <= args.poll_interval / 2 + 0.1),
        ]
        if floor:
            within = mine["cpu_ms_per_poll"] <= 1.5 * floor["cpu_ms_per_poll"]
            checks.append(("CPU within 1.5x of the bare-stub floor", within))
        print(f"\n# targets at N=1000, poll interval {args.poll_interval:g} s:")
        for what, ok in checks:
            print(f"#   {'met    ' if ok else 'MISSED '} {what}")
    early = {k: v["early"] for k, v in results.items() if v["early"]}
    if early:
        print(f"\n# WARNING: flush waits that fired before the flush (invalid runs): {early}")


def report_triggerer(real: dict[str, Any], in_loop: dict[str, Any] | None, args: argparse.Namespace) -> None:
    added_cpu = real["busy_cpu_pct"] - real["idle_cpu_pct"]
    polls = real["polls_per_second"]
    print(
        f"#   DAG run {real['state']}; {real['fired']} trigger events; {real['deferring_seconds']:.0f} s for all "
        f"sensors to defer\n"
        f"#   triggerer processes: {real['connections']} TCP connection(s) to Milvus, "
        f"+{real['added_rss'] / 2**20:.1f} MB RSS with the waits\n"
        f"#   CPU: {real['idle_cpu_pct']:.2f} % with no triggers, {real['busy_cpu_pct']:.2f} % with them: "
        f"+{added_cpu:.2f} %, about {10 * added_cpu / polls:.3f} ms per poll at ~{polls:g} polls/s\n"
        f"#   detection: p50 {real['latency_p50']:.2f} s, p99 {real['latency_p99']:.2f} s; "
        f"'event loop blocked' warnings: {len(real['blocked_warnings'])}"
    )
    for line in real["blocked_warnings"][:5]:
        print(f"#     {line}")
    if in_loop:
        print(
            f"#   in-loop figures at the same N: {in_loop['tcp']} TCP, +{in_loop['rss_mb']:.1f} MB, "
            f"{in_loop['cpu_ms_per_poll']:.3f} ms per poll, {in_loop['cpu_pct']:.2f} % CPU, "
            f"detection p50 {in_loop['flush_p50']:.2f} s"
        )


if __name__ == "__main__":
    main()
