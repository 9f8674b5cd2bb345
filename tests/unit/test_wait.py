"""The shared wait policy, driven with a scripted target (no network)."""

from __future__ import annotations

import asyncio
import logging

import pendulum
import pytest

from airflow_provider_milvus import wait
from airflow_provider_milvus.exceptions import MilvusError, MilvusWaitFailed, MilvusWaitTimeout
from airflow_provider_milvus.wait import (
    Check,
    ImportStateTarget,
    IndexStateTarget,
    LoadTarget,
    Outcome,
    WaitTarget,
    wait_async,
    wait_sync,
)


class Scripted(WaitTarget):
    """Answers (or raises) from a script, one item per poll."""

    def __init__(self, script):
        self.script = list(script)
        self.polls = 0

    description = "scripted thing"

    def _next(self):
        self.polls += 1
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def poll(self, hook):
        return self._next()

    async def apoll(self, hook):
        return self._next()

    def check(self, answer):
        if answer == "done":
            return Check(Outcome.DONE, result={"ok": True})
        if answer == "failed":
            return Check(Outcome.FAILED, message="broken file")
        return Check(Outcome.WAITING, progress=answer)


@pytest.fixture(autouse=True)
def fast_sleeps(monkeypatch):
    """Record sleeps instead of sleeping."""
    slept = []
    monkeypatch.setattr(wait.time, "sleep", slept.append)

    async def asleep(seconds):
        slept.append(seconds)

    monkeypatch.setattr(wait.asyncio, "sleep", asleep)
    return slept


def run_both(target_factory, **kwargs):
    results = []
    for runner in ("sync", "async"):
        target = target_factory()
        if runner == "sync":
            results.append((wait_sync(None, target, **kwargs), target))
        else:
            results.append((asyncio.run(wait_async(None, target, **kwargs)), target))
    return results


def test_polls_until_done_with_jittered_interval(fast_sleeps):
    for result, target in run_both(lambda: Scripted(["a", "b", "done"]), poll_interval=10, deadline=None):
        assert result == {"ok": True} and target.polls == 3
    assert len(fast_sleeps) == 4
    # Each run: the second poll spread over half to one and a half intervals, then +/- 10 %.
    assert all(5 <= s <= 15 for s in fast_sleeps[0::2]) and all(9 <= s <= 11 for s in fast_sleeps[1::2])


def test_transient_errors_are_retried_with_backoff_and_logged(fast_sleeps, caplog):
    transient = MilvusError("GetImportState", "UNAVAILABLE", "down", transient=True)
    with caplog.at_level(logging.WARNING):
        [(result, target)] = run_both(
            lambda: Scripted([transient, transient, transient, "done"]), poll_interval=5, deadline=None
        )[:1]
    assert result == {"ok": True} and target.polls == 4
    assert "(retry 3)" in caplog.text
    # Backoff with full jitter: each delay within its cap of 1, 2, 4 seconds.
    assert [s <= cap for s, cap in zip(fast_sleeps[:3], (1, 2, 4), strict=True)] == [True] * 3


def test_permanent_error_fails_at_once():
    permanent = MilvusError("GetFlushState", 100, "collection not found")
    target = Scripted([permanent, "done"])
    with pytest.raises(MilvusError, match="collection not found"):
        wait_sync(None, target, poll_interval=1, deadline=None)
    assert target.polls == 1


def test_failed_state_raises_with_reason():
    with pytest.raises(MilvusWaitFailed, match="scripted thing failed: broken file"):
        asyncio.run(wait_async(None, Scripted(["a", "failed"]), poll_interval=1, deadline=None))


def test_deadline_in_the_past_polls_once_then_times_out():
    target = Scripted(["still going"])
    with pytest.raises(MilvusWaitTimeout, match=r"Timed out waiting for scripted thing.*last state: still going"):
        wait_sync(None, target, poll_interval=1, deadline=pendulum.now("UTC").subtract(seconds=1))
    assert target.polls == 1


def test_sleep_never_overshoots_the_deadline(monkeypatch):
    clock = [pendulum.datetime(2030, 1, 1)]
    monkeypatch.setattr(wait.pendulum, "now", lambda tz=None: clock[0])
    slept = []

    def advance(seconds):
        slept.append(seconds)
        clock[0] = clock[0].add(seconds=seconds)

    monkeypatch.setattr(wait.time, "sleep", advance)
    target = Scripted(["x"] * 10)
    with pytest.raises(MilvusWaitTimeout):
        wait_sync(None, target, poll_interval=2, deadline=clock[0].add(seconds=5))
    # The first sleep after an immediate poll spreads up to 1.5 intervals, later ones 1.1.
    assert sum(slept) == pytest.approx(5) and max(slept) <= 3.0
    assert target.polls == len(slept) + 1


@pytest.mark.parametrize(
    ("state", "outcome"),
    [
        ("ImportPending", Outcome.WAITING),
        ("ImportStarted", Outcome.WAITING),
        ("ImportPersisted", Outcome.WAITING),
        ("ImportCompleted", Outcome.DONE),
        ("ImportFailed", Outcome.FAILED),
        ("ImportFailedAndCleaned", Outcome.FAILED),
    ],
)
def test_import_states_are_classified(state, outcome):
    check = ImportStateTarget(1).check({"state": state, "row_count": 5, "progress": 50, "failed_reason": "bad row 3"})
    assert check.outcome is outcome
    assert check.progress == f"{state}, 5 rows, 50%"
    if outcome is Outcome.FAILED:
        assert "bad row 3" in check.message


def test_first_poll_can_wait_one_interval(fast_sleeps):
    target = Scripted(["done"])
    steps = wait.wait_steps(target, poll_interval=4, deadline=None, first_poll_after=4)
    first = next(steps)
    assert isinstance(first, wait._Sleep) and 4 <= first.seconds <= 8
    assert target.polls == 0
    assert asyncio.run(wait_async(None, Scripted(["done"]), poll_interval=4, deadline=None, first_poll_after=4))
    assert 4 <= fast_sleeps[0] <= 8


def test_waits_started_together_spread_their_first_polls():
    firsts = [
        next(wait.wait_steps(Scripted(["done"]), poll_interval=10, deadline=None, first_poll_after=10)).seconds
        for _ in range(400)
    ]
    assert all(10 <= f <= 20 for f in firsts)
    # Spread over the whole interval, not bunched around one moment: every 2 s slot is used.
    assert {int((f - 10) // 2) for f in firsts} == {0, 1, 2, 3, 4}


def test_waits_that_poll_at_once_spread_their_second_polls():
    seconds = []
    for _ in range(400):
        steps = wait.wait_steps(Scripted(["waiting", "waiting", "done"]), poll_interval=10, deadline=None)
        assert isinstance(next(steps), wait._Poll)  # at once
        second = steps.send("waiting")
        assert isinstance(steps.send(None), wait._Poll)
        third = steps.send("waiting")
        seconds.append((second.seconds, third.seconds))
    assert all(5 <= s <= 15 and 9 <= t <= 11 for s, t in seconds)  # then the usual +/- 10 %
    assert {int((s - 5) // 2) for s, _ in seconds} == {0, 1, 2, 3, 4}


def _index(name="v_idx", state="Finished", indexed=100, total=100, pending=0, reason=""):
    return {
        "index_name": name,
        "field_name": "v",
        "indexed_rows": indexed,
        "total_rows": total,
        "pending_index_rows": pending,
        "state": state,
        "fail_reason": reason,
    }


@pytest.mark.parametrize(
    ("index", "outcome"),
    [
        (_index(), Outcome.DONE),
        # Finished while rows are unindexed (milvus#40580): still waiting.
        (_index(indexed=60), Outcome.WAITING),
        (_index(pending=40), Outcome.WAITING),
        (_index(state="InProgress", indexed=10), Outcome.WAITING),
        (_index(state="Failed", indexed=0, reason="out of memory"), Outcome.FAILED),
        (_index(total=0, indexed=0), Outcome.DONE),  # an empty collection's index
    ],
)
def test_index_states_compare_row_counts(index, outcome):
    check = IndexStateTarget("c").check([index])
    assert check.outcome is outcome
    if outcome is Outcome.FAILED:
        assert "v_idx: out of memory" in check.message


def test_index_wait_covers_every_named_index():
    target = IndexStateTarget("c", ["a", "b"])
    assert target.check([_index("a"), _index("b", indexed=1)]).outcome is Outcome.WAITING
    assert target.check([_index("a"), _index("b")]).outcome is Outcome.DONE
    missing = target.check([_index("a")])
    assert missing.outcome is Outcome.FAILED and "no such index: b" in missing.message


def test_index_wait_of_a_field_leaves_the_other_fields_out():
    """Milvus answers every index of the collection, whatever field_name asks for."""
    other = {**_index("t_idx", state="Failed", reason="x"), "field_name": "t"}
    target = IndexStateTarget("c", field_name="v")
    done = target.check([_index(), other])
    assert done.outcome is Outcome.DONE and [i["index_name"] for i in done.result] == ["v_idx"]
    assert target.check([_index(indexed=1), other]).outcome is Outcome.WAITING
    none = IndexStateTarget("c", field_name="t2").check([_index(), other])
    assert none.outcome is Outcome.FAILED and "no such index: none of field 't2'" in none.message


@pytest.mark.parametrize(
    ("refresh", "progress", "outcome"),
    [
        (False, {"progress": 100, "refresh_progress": 0}, Outcome.DONE),
        (False, {"progress": 50, "refresh_progress": 0}, Outcome.WAITING),
        (True, {"progress": 100, "refresh_progress": 40}, Outcome.WAITING),
        (True, {"progress": 100, "refresh_progress": 100}, Outcome.DONE),
    ],
)
def test_load_and_refresh_progress(refresh, progress, outcome):
    assert LoadTarget("c", refresh=refresh).check(progress).outcome is outcome
