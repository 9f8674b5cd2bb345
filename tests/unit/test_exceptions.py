"""Every exception a user may catch keeps its fields across pickling (Airflow ships exceptions
between processes), and one that retrying cannot fix fails its task without retries."""

from __future__ import annotations

import pickle

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_milvus import exceptions
from airflow_provider_milvus.exceptions import (
    MilvusAuthenticationError,
    MilvusCheckFailed,
    MilvusConfigError,
    MilvusDuplicateImportError,
    MilvusError,
    MilvusImportInterrupted,
    MilvusImportUnknownError,
    MilvusSchemaConflictError,
    MilvusWaitFailed,
    MilvusWaitTimeout,
)

CASES = [
    MilvusConfigError("port: not a number"),
    MilvusSchemaConflictError("collection 'docs' exists with a different schema: dim 8 != 16"),
    MilvusError("Import", 100, "collection not found", transient=False, outcome_unknown=True),
    MilvusAuthenticationError("GetVersion", "UNAUTHENTICATED", "authentication failed", transient=True),
    MilvusWaitFailed("import 5 failed", {"state": "ImportFailed", "failed_reason": "bad file"}),
    MilvusWaitTimeout("deadline passed"),
    MilvusImportInterrupted(
        "import 6 failed: task marked failed as service restarted",
        {"state": "ImportFailed", "failed_reason": "task marked failed as service restarted"},
    ),
    MilvusImportUnknownError("cannot be told", [1, 2]),
    MilvusDuplicateImportError("2 imports", [3, 4]),
    MilvusCheckFailed("check of 'docs' failed: 40 rows, expected 41"),
]


def test_every_exception_of_the_module_is_covered():
    defined = {
        obj for obj in vars(exceptions).values() if isinstance(obj, type) and obj.__module__ == exceptions.__name__
    }
    assert defined == {type(case) for case in CASES}


@pytest.mark.parametrize("error", CASES, ids=lambda e: type(e).__name__)
def test_pickles_with_its_fields(error):
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and str(copy) == str(error)
    assert vars(copy) == vars(error)


@pytest.mark.parametrize(
    "error_type", [MilvusSchemaConflictError, MilvusWaitFailed, MilvusImportUnknownError, MilvusDuplicateImportError]
)
def test_what_retrying_cannot_fix_fails_without_retries(error_type):
    assert issubclass(error_type, AirflowFailException)


@pytest.mark.parametrize("error_type", [MilvusError, MilvusWaitTimeout, MilvusImportInterrupted, MilvusCheckFailed])
def test_what_a_retry_can_fix_is_retried(error_type):
    assert not issubclass(error_type, AirflowFailException)


def test_context_added_to_an_error_keeps_its_code_and_flags():
    error = MilvusError("Insert", 8, "rate limit exceeded", transient=True, outcome_unknown=True)
    batched = error.with_context("batch 2 of 3 failed")
    assert (batched.rpc, batched.code, batched.transient, batched.outcome_unknown) == ("Insert", 8, True, True)
    assert batched.reason == "batch 2 of 3 failed: rate limit exceeded"
