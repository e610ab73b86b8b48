"""Gate hints, pure: which phrases sound like a gate, and what each loop then suggests."""

from __future__ import annotations

import time

import pytest

from contracts.build import BuildStatus, SubtaskView
from contracts.change import PendingChange
from contracts.design import DesignStatus
from contracts.gate_hints import (
    NO_GATE,
    commands_now,
    help_text,
    hint,
    standing,
    status_text,
)
from contracts.gate_phrases import MAX_HEARD, heard
from contracts.human import PendingDecision, TrackedQuestion
from contracts.release import ReleaseStatus


@pytest.mark.parametrize(
    ("text", "intent", "words"),
    [
        ("looks good", "proceed", "looks good"),
        ("Looks good to me!", "proceed", "Looks good"),
        ("This all looks really good.", "proceed", "looks really good"),
        ("that looks right", "proceed", "looks right"),
        ("I'm happy with this", "proceed", "happy with this"),
        ("LGTM", "proceed", "LGTM"),
        ("good to go", "proceed", "good to go"),
        ("let's build", "build", "let's build"),
        ("lets build it now", "build", "lets build"),
        ("Let\u2019s build", "build", "Let\u2019s build"),
        ("OK, start building", "build", "start building"),
        ("go ahead and build", "build", "go ahead and build"),
        ("looks good, let's build", "build", "let's build"),
        ("ready to ship", "ship", "ready to ship"),
        ("looks shippable", "ship", "looks shippable"),
        ("we're done", "ship", "we're done"),
        ("check security", "security", "check security"),
        ("please run the security review", "security", "security review"),
        ("hm. Looks good.", "proceed", "Looks good"),
    ],
)
def test_phrases_that_sound_like_a_gate(text: str, intent: str, words: str) -> None:
    found = heard(text)
    assert found is not None, text
    assert (found.intent, found.words) == (intent, words)


@pytest.mark.parametrize(
    "text",
    [
        "doesn't look good",
        "it does not look good",
        "not ready to ship",
        "we're not ready to ship yet",
        "never ready to ship, this one",
        "dont think it looks good",
        "looks good?",
        "does it look good",
        "are we ready to ship",
        "is it ready to ship",
        "should we build",
        "what about the security review",
        "almost ready to ship",
        "looks good if the tests pass",
        "looks good but the parser needs work",
        "looks good, however 02-api is too big",
        "it looks like rain",
        "goodness, look at this",
        "the shipping module",
        "let's go back to the drawing board",
        "go ahead and rename the API",
        "that's right, the parser is wrong",
        "we build it later",
        "",
        "   ",
        "!!!???",
    ],
)
def test_near_misses_suggest_nothing(text: str) -> None:
    assert heard(text) is None


def test_one_sentence_that_negates_leaves_another_that_does_not() -> None:
    found = heard("The old draft was not good. This one looks good.")
    assert found is not None and found.words == "looks good"


def test_bounded_and_linear_on_long_input() -> None:
    """Whatever arrives, the scan reads at most MAX_HEARD characters, in one pass."""
    for text in ("looks " * 4000, "a" * 20_000, "n't " * 5000, "?" * 20_000, "x" * 10**6):
        started = time.monotonic()
        assert heard(text) is None
        assert time.monotonic() - started < 0.5
    assert heard("x" * (MAX_HEARD + 10) + " looks good") is None  # past the bound: not read


def _design(phase: str = "awaiting-approval", **kw: object) -> DesignStatus:
    return DesignStatus.model_validate(
        {
            "feature": "f",
            "phase": phase,
            "paused": False,
            "waiting_for": "approved or request_changes",
            "threshold": 0.96,
            "scopes": [],
            "open_questions": [],
            "answered_questions": [],
            "decisions": [],
            "cost_usd": 0,
            "tokens": 0,
            **kw,
        }
    )


def _build(**kw: object) -> BuildStatus:
    return BuildStatus.model_validate(
        {
            "feature": "f",
            "phase": "building",
            "paused": False,
            "waiting_for": "agents",
            "subtasks": [],
            "running": [],
            "cost_usd": 0,
            "tokens": 0,
            "max_cost_usd": None,
            "max_tokens": None,
            **kw,
        }
    )


def test_design_at_the_gate_suggests_approved_naming_the_words() -> None:
    text = hint(heard("looks good to me"), _design())
    assert text.startswith('It sounds like you\'re ready to proceed (you said "looks good")')
    assert "`approved` (orchestrator approve <dir>)" in text
    assert "Nothing was advanced" in text
    build = hint(heard("let's build"), _design())
    assert "`approved`" in build and "orchestrator build <dir>" in build


def test_design_not_at_the_gate_says_nothing_waits() -> None:
    text = hint(heard("looks good"), _design("individual-review", waiting_for="agents"))
    assert "nothing on the design loop waits" in text and "approved" not in text


def test_open_questions_and_decisions_come_before_the_gate() -> None:
    q = TrackedQuestion(
        id="Q1", text="?", options=["a", "b"], scope="01-a", reviewer="r", status="open"
    )
    assert "`answer Q1 <option>`" in hint(heard("lgtm"), _design(open_questions=[q]))
    stuck = PendingDecision(scope="01-a", prompt="stuck at 0.8", options=["continue", "accept"])
    text = hint(heard("lgtm"), _design(decisions=[stuck]))
    assert "`decide 01-a <continue | accept>`" in text and "stuck at 0.8" in text
    assert "`!resume`" in hint(heard("lgtm"), _design(paused=True))


def test_release_gates_are_named_as_the_release_loops() -> None:
    for said, gate in (("ready to ship", "!verify"), ("check security", "!security")):
        for st in (_design(), _build()):
            text = hint(heard(said), st)
            assert f"takes no {gate}" in text and "release loop" in text
            assert "send" not in text


def test_build_suggests_its_pending_decision_or_change() -> None:
    view = SubtaskView(
        name="02-parser",
        batch=1,
        dependencies=[],
        decision=PendingDecision(scope="02-parser", prompt="stuck", options=["skip", "debug"]),
    )
    text = hint(heard("good to go"), _build(subtasks=[view]))
    assert "`decide 02-parser <skip | debug>`" in text
    change = PendingChange(
        id=1, description="d", state="awaiting-decision", requested_at="2026-12-07T00:00:00"
    )
    assert "`!change-approve`" in hint(heard("looks good"), _build(change=change))
    assert "nothing on the build waits" in hint(heard("let's build"), _build())


def test_a_hint_stands_while_the_loop_waits_for_the_same() -> None:
    assert standing("send approved", "approved or request_changes", "approved or request_changes")
    assert standing("send approved", "approved or request_changes", "nothing (approved)") == ""


def test_no_words_no_hint() -> None:
    assert hint(None, _design()) == ""
    assert NO_GATE == "no gate matches"


def test_help_lists_what_the_loop_takes_now() -> None:
    at_gate = commands_now(_design())
    assert at_gate[:2] == ["approved", "request_changes <feedback>"]
    assert {"!pause", "say <words>", "!status", "!budget", "!help"} <= set(at_gate)
    assert "approved" not in commands_now(_design("individual-review"))
    assert "!resume" in commands_now(_design(paused=True))
    assert "!change <description>" in commands_now(_build())
    assert help_text(_build()).startswith("!help: the build takes now: !change <description>")
    assert "phase awaiting-approval" in status_text(_design())


def _release(next_gate: str | None, **fields: object) -> ReleaseStatus:
    values: dict[str, object] = {
        "feature": "f",
        "phase": "awaiting !critic",
        "paused": False,
        "waiting_for": f"a person to send {next_gate}",
        "next_gate": next_gate,
        "stages": [],
        "decisions": [],
        "cost_usd": 0.0,
        "tokens": 0,
    }
    return ReleaseStatus.model_validate({**values, **fields})


def test_the_release_loop_hints_the_gate_it_takes_now() -> None:
    st = _release("!critic")
    said = hint(heard("ready to ship"), st)
    assert "type !critic" in said and "(!verify comes after !critic)" in said, said
    assert "Nothing was advanced" in said
    assert "(!security" not in hint(heard("check security"), _release("!security"))
    assert "type !verify" in hint(heard("looks good"), _release("!verify"))
    running = hint(heard("looks good"), _release(None, phase="critic"))
    assert "takes no gate now" in running, running
    assert "`!resume` first" in hint(heard("lgtm"), _release("!critic", paused=True))
    assert commands_now(st)[0] == "!critic"
    assert help_text(st).startswith("!help: the release loop takes now: !critic")
