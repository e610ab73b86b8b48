"""Long git and API steps keep heartbeating, so Temporal never mistakes them for dead."""

from __future__ import annotations

import time

from temporalio.testing import ActivityEnvironment

from activities.git.activities import heartbeating


def test_heartbeats_continue_while_a_blocking_step_runs() -> None:
    env = ActivityEnvironment()
    beats: list[tuple[object, ...]] = []
    env.on_heartbeat = lambda *details: beats.append(details)

    def slow_push() -> str:
        with heartbeating("push feat/01-types", every=0.02):
            time.sleep(0.2)
        return "done"

    assert env.run(slow_push) == "done"
    assert len(beats) >= 3
    assert all(details == ("push feat/01-types",) for details in beats)


def test_outside_an_activity_it_does_nothing() -> None:
    with heartbeating("plain call", every=0.01):
        time.sleep(0.03)
