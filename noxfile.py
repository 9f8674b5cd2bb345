"""The version matrix: ``make test`` runs every session (``nox`` from a virtualenv with nox and uv):
``e2e`` alone, then ``full``, ``form``, ``coinstall``, ``next``, ``own_stack`` and the three ``compat``
legs side by side.

- ``e2e``: Airflow 3.3 + pymilvus 3.x, the end-to-end runs through a real scheduler and triggerers.
  They run alone: some time a flush against Milvus's own checkpoints, or a triggerer's heartbeat,
  which a machine loaded by other sessions makes them miss.
- ``full``: Airflow 3.3 + pymilvus 3.x, lint, type check and the rest of the suite (real Milvus,
  dag.test() runs, the trigger runs, faults, security, the browser tests).
- ``compat``: an older Airflow with an older pymilvus each, the unit tests, the Milvus 2.5/2.6
  answers, and the integration tests against the real Milvus (every operator and sensor mode
  through dag.test(), the trigger runs, the hook and `airflow providers` / `connections test`);
  end-to-end tests through a real scheduler and triggerer, and the connection form in a browser.
- ``next``: the next Airflow, 3.4 (its newest pre-release until 3.4.0 is served) + pymilvus 3.x: what
  the compat legs run, the searchable and retried-import tests, and the example DAG end to end.
- ``own_stack``: Airflow 3.3 + pymilvus 3.x, the runs that start a stack of their own: the S3 demo and
  the fault campaign's smoke.
- ``form``: Airflow 3.1 with the FAB provider (which Airflow 3.0/3.1 need to show a connection
  form's extra fields): the connection form in a browser.
- ``coinstall``: the provider resolves and imports beside the Milvus integrations of LangChain
  (pymilvus 3) and LlamaIndex (pymilvus 2.6).

A session that cannot install fails the run; none is skipped.
"""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "uv"
nox.options.error_on_missing_interpreters = True
nox.options.reuse_venv = "no"
# Let Python cache each module's bytecode the first time a process imports it. Where
# PYTHONDONTWRITEBYTECODE is set (as on some CI machines), each Airflow process, each DAG parse among
# them, would otherwise compile Airflow, pymilvus and numpy from source again, seconds each. (Compiling
# every installed module at install instead costs about 40 s of CPU per virtualenv, most of it for
# modules no test imports.)
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

PYTHON = "3.11"

# What Airflow's own constraints pin and the matrix, resolving without them, must pin too. Airflow
# 3.2.2 requires these with no upper bound, and newer releases break its execution API (which
# dag.test() and the workers use): with cadwyn 8 / fastapi 0.137+ it fails to build ("Model
# 'TITerminalStatePayload' needs a discriminator field"); with svcs 26, which removes its registry
# from the app's state when a lifespan ends, every in-process call fails ("'State' object has no
# attribute 'svcs_registry'"), because 3.2.2 lets its in-process API's lifespan be collected.
#
# Airflow 2.11 and 3.1 set an attribute on cryptography's MultiFernet (`is_encrypted`), which
# cryptography 51 builds in Rust and no longer lets them: every connection with a password then fails
# to build ("'...MultiFernet' object has no attribute 'is_encrypted'"). Airflow 3.2 wraps it instead.
OLD_FERNET = ["cryptography<51"]
CONSTRAINTS = {"2.11": OLD_FERNET, "3.1": OLD_FERNET, "3.2": ["cadwyn<8", "fastapi<0.137", "svcs<26"]}

COMPAT_TESTS = [
    "tests/unit",
    "tests/milvus_versions",
    "tests/integration/test_flush.py",
    "tests/integration/test_bulk_insert.py",
    "tests/integration/test_hook.py",
    "tests/integration/test_provider_cli.py",
    "tests/integration/test_ingest.py",
]

# The end-to-end tests (`airflow standalone`: a real scheduler, triggerer and API server or, on
# Airflow 2, webserver) in the older legs too. The example DAG runs on each, and each test whose
# outcome depends on what Airflow does (asset scheduling, retries, timeouts) or that runs an import
# through the triggerer on one or two of them; the rest run on 3.3 only, to keep the matrix short on
# two cores. (The triggerer-crash test is among them: it times a flush a second ahead of Milvus's
# own checkpoints, which legs side by side load the machine to miss; so is the credentials test,
# which expects the flush's wait to defer rather than end at its check.) The worker-kill test finds
# a task's process by the title Airflow 3 gives it. The tests of sensors started in the triggerer
# (test_start_from_trigger.py, test_two_triggerers.py) need Airflow 3.3.
# The browser test of the connection form (tests/ui picks the test of the installed Airflow's UI)
# runs in Airflow 2.11's Flask UI, and in Airflow 3.3's and 3.2's (whose form shows the token as
# typed: it has no masked input for extra fields). Airflow 3.0/3.1 show the form's extra fields only
# with the FAB provider installed (its wtforms build them): the `form` session tests that UI.
E2E = "tests/e2e/test_end_to_end.py::test_"
COMPAT_STACK_TESTS = {
    "2.11": [
        # The searchable operators and sensor in every mode, on the oldest Airflow.
        "tests/integration/test_searchable.py",
        # Object storage with the oldest pymilvus's bulk writer.
        "tests/integration/test_object_storage.py",
        f"{E2E}bulk_load_example_succeeds_with_deferred_sensors",
        f"{E2E}writing_a_collection_triggers_the_dag_scheduled_on_its_asset",
        f"{E2E}good_import_through_the_triggerer",
        f"{E2E}sensor_timeout_while_deferred_fails_or_skips_with_soft_fail",
        "tests/ui",
    ],
    "3.1": [
        f"{E2E}bulk_load_example_succeeds_with_deferred_sensors",
        f"{E2E}broken_import_file_fails_with_milvus_reason",
        f"{E2E}good_import_through_the_triggerer",
    ],
    "3.2": [
        f"{E2E}bulk_load_example_succeeds_with_deferred_sensors",
        f"{E2E}writing_a_collection_triggers_the_dag_scheduled_on_its_asset",
        f"{E2E}worker_killed_mid_import_retry_reconnects_to_its_import",
        # (tests/e2e/test_import_kills.py runs in e2e only: side by side, Milvus 2.3.5 left the log
        # line it aims by out for some imports, twice, though every run had one import.)
        f"{E2E}sensor_timeout_while_deferred_fails_or_skips_with_soft_fail",
        "tests/ui",
    ],
}


LATEST = ["apache-airflow>=3.3,<3.4", "pymilvus>=3.0,<4"]

# The next Airflow: 3.4's newest pre-release until its final release is served. A pre-release in the
# specifier lets uv pick pre-releases of Airflow (and of the Airflow core and task SDK it pins) and of
# nothing else; once 3.4.0 is served the same specifier picks it.
NEXT = ["apache-airflow>=3.4.0b2,<3.5", "pymilvus>=3.0,<4"]
# What the compat legs run, the searchable and retried-import tests, and the example DAG end to end
# (the full session runs every integration test on 3.3; the matrix stays short on two cores).
NEXT_TESTS = [
    *COMPAT_TESTS,
    "tests/integration/test_searchable.py",
    "tests/integration/test_import_retry.py",
    f"{E2E}bulk_load_example_succeeds_with_deferred_sensors",
]
# Runs that start stacks of their own: the second demo (the example on an S3-backed Milvus) and the
# fault campaign's smoke (`make chaos CHAOS_ARGS="--smoke --seed 5"`), whose Milvus restarts keep
# their ports: the harness claims every port it hands out for its process's life, so no session
# side by side is given them meanwhile.
OWN_STACK_TESTS = ["tests/e2e/test_demo.py", "tests/e2e/test_chaos_smoke.py"]


@nox.session(python=PYTHON)
def full(session: nox.Session) -> None:
    """Airflow 3.3, pymilvus 3.x: ruff, mypy, and every test but the end-to-end ones."""
    session.install("-e", ".[test]", *LATEST)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
    session.run("pytest", "-v", "--durations=15", *(session.posargs or ["--ignore=tests/e2e"]))


@nox.session(python=PYTHON)
def e2e(session: nox.Session) -> None:
    """Airflow 3.3, pymilvus 3.x: the end-to-end tests through a real scheduler and triggerers."""
    session.install("-e", ".[test]", *LATEST)
    # The S3 demo and the fault campaign's smoke start stacks of their own: the own_stack session
    # runs them, side by side with the others.
    session.run(
        "pytest",
        "-v",
        "--durations=15",
        *(
            session.posargs
            or ["tests/e2e", "--ignore=tests/e2e/test_demo.py", "--ignore=tests/e2e/test_chaos_smoke.py"]
        ),
    )


@nox.session(python=PYTHON, name="own_stack")
def own_stack(session: nox.Session) -> None:
    """Airflow 3.3, pymilvus 3.x: the S3 demo and the fault campaign's smoke, each through an Airflow
    and a Milvus of its own."""
    session.install("-e", ".[test]", *LATEST)
    session.run("pytest", "-v", "--durations=15", *(session.posargs or OWN_STACK_TESTS))


@nox.session(python=PYTHON, name="next")
def next_airflow(session: nox.Session) -> None:
    """Airflow 3.4 (its newest pre-release until the release), pymilvus 3.x: unit, version-answer
    and integration tests, and the example DAG end to end."""
    session.install("-e", ".[test]", *NEXT)
    session.run("python", "-c", "import airflow; print('Airflow', airflow.__version__)")
    session.run("pytest", "-v", "--durations=15", *(session.posargs or NEXT_TESTS))


@nox.session(python=PYTHON)
@nox.parametrize(
    ("airflow", "pymilvus"),
    [("2.11", "2.5"), ("3.1", "2.6"), ("3.2", "3.0")],
    ids=["airflow2.11-pymilvus2.5", "airflow3.1-pymilvus2.6", "airflow3.2-pymilvus3.0"],
)
def compat(session: nox.Session, airflow: str, pymilvus: str) -> None:
    """An older Airflow and pymilvus: unit, version-answer and real-Milvus integration tests."""
    pins = CONSTRAINTS.get(airflow, [])
    session.install("-e", ".[test]", f"apache-airflow=={airflow}.*", f"pymilvus=={pymilvus}.*", *pins)
    tests = [*COMPAT_TESTS, *COMPAT_STACK_TESTS.get(airflow, [])]
    session.run("pytest", "-v", "--durations=10", *(session.posargs or tests))


@nox.session(python=PYTHON)
def form(session: nox.Session) -> None:
    """Airflow 3.1 with the FAB provider: the connection form's extra fields in a browser, and as the
    CLI lists them."""
    session.install(
        "-e", ".[test]", "apache-airflow==3.1.*", "pymilvus==2.6.*", "apache-airflow-providers-fab", *CONSTRAINTS["3.1"]
    )
    session.run("pytest", "-v", *(session.posargs or ["tests/ui", "tests/integration/test_provider_cli.py"]))


@nox.session(python=PYTHON)
@nox.parametrize(
    "library",
    ["langchain-milvus>=0.4,<0.5", "llama-index-vector-stores-milvus>=1.2,<1.3"],
    ids=["langchain-milvus", "llama-index-vector-stores-milvus"],
)
def coinstall(session: nox.Session, library: str) -> None:
    """The provider and a Milvus library resolve into one environment; the provider imports there."""
    session.install(".", library)
    # Import the installed provider, not the checkout: run from an empty directory of its own.
    home = os.path.abspath(session.create_tmp())
    session.env["AIRFLOW_HOME"] = home
    session.chdir(home)
    name = library.split(">")[0]
    session.run(
        "python",
        "-c",
        "import importlib.metadata as m, pymilvus, airflow_provider_milvus.operators.milvus, "
        "airflow_provider_milvus.sensors.milvus, airflow_provider_milvus.triggers.milvus; "
        f"print({name!r}, m.version({name!r}), 'beside pymilvus', pymilvus.__version__)",
    )
