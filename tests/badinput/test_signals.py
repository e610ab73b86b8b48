"""Bad signals and updates, sent with the real `temporal` CLI to loops held at a gate.

One design loop (waiting for answers to Q1 and Q2) and one build loop (waiting
for a decision on its stuck subtask `a`) serve every case of the module. A signal
cannot answer its sender, so a refused one is shown in `status` as the loop's
notice, with the fix; an update is rejected to its sender with the fix. Either
way the loop's state is as it was, and after all of them each workflow is still
running, answers `status`, has not one failed workflow task, and takes a good
signal.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowFailureError

from contracts.build import BuildResult, BuildStatus, SubtaskState
from contracts.design import DesignStatus
from contracts.human import MAX_SIGNAL_TEXT, AnswerInput, FailureInfo
from runtime.server import DevServer
from tests.badinput.loops import Held, held_loops, no_failed_task, still_sound
from tests.support import status_of, temporal_cli, until
from workflows.build import BuildWorkflow
from workflows.design_review import DesignReviewWorkflow

# One worker runs this module, in order (ONE_WORKER in tests/conftest.py): its tests
# share the loops `held` holds, and one reads what the test before it answered.

LONG = json.dumps("x" * (MAX_SIGNAL_TEXT + 1))
SKIP_A = '{"choice": "skip", "scope": "a"}'
STATUS = {"design": DesignStatus, "build": BuildStatus, "child": SubtaskState}


@dataclass(frozen=True)
class Message:
    """A signal (refused in the target's `status` notice) or an update (rejected to the CLI)."""

    id: str
    target: str  # design, build or child (the build's subtask `a`)
    name: str
    inputs: tuple[str, ...]  # raw JSON, one `--input` each
    where: str
    fix: str
    update: bool = False


def sig(id_: str, target: str, name: str, *inputs: str, where: str, fix: str) -> Message:
    return Message(id_, target, name, inputs, where, fix)


def upd(id_: str, target: str, name: str, *inputs: str, where: str, fix: str) -> Message:
    return Message(id_, target, name, inputs, where, fix, update=True)


ANSWER = 'send --input \'{"question_id": "Q1", "choice": "B"}\''
DECIDE = 'send --input \'{"choice": "skip", "scope": "02-parser"}\''
BUDGET = 'send --input \'{"max_cost_usd": 20} or {"max_tokens": 5000000}\''
DESIGN_VERBS = "start the line with one of approved, request_changes, answer, decide"

DESIGN = [
    sig("approved-before-the-gate", "design", "approved",
        where="approved: the phase is questions, not the approval gate",
        fix="approve when `status` shows awaiting-approval"),
    sig("approved-with-an-object", "design", "approved", '{"ok": true}',
        where='approved: {"ok": true} is not its input', fix="send --input"),
    sig("request-changes-empty", "design", "request_changes", '""',
        where="request_changes: the feedback is empty", fix="say what to change"),
    sig("request-changes-blank-field", "design", "request_changes", '{"feedback": "  "}',
        where="request_changes: the feedback is empty", fix="say what to change"),
    sig("request-changes-misspelt-field", "design", "request_changes", '{"feedbak": "more"}',
        where="request_changes: {\"feedbak\": \"more\"} is not its input (feedback is missing",
        fix="send --input '\"what to change\" (or {\"feedback\": \"what to change\"})'"),
    sig("request-changes-a-number", "design", "request_changes", "42",
        where="request_changes: 42 is not its input", fix="send --input"),
    sig("request-changes-too-long", "design", "request_changes", LONG,
        where=f"request_changes: {MAX_SIGNAL_TEXT + 1} characters, more than {MAX_SIGNAL_TEXT}",
        fix="put the details in a file in the design directory"),
    sig("answer-unknown-question", "design", "answer", '{"question_id": "Q9", "choice": "A"}',
        where="answer: unknown question id 'Q9'; known: Q1, Q2",
        fix="answer one of the open questions"),
    sig("answer-unknown-option", "design", "answer", '{"question_id": "Q2", "choice": "Z"}',
        where="answer: Q2 has no option 'Z'", fix="choose one of: A) A JSON file"),
    sig("answer-as-text", "design", "answer", '"Q2 B"',
        where='answer: "Q2 B" is not its input (should be a JSON object)', fix=ANSWER),
    sig("answer-without-a-choice", "design", "answer", '{"question_id": "Q2"}',
        where="(choice is missing)", fix=ANSWER),
    sig("answer-id-a-number", "design", "answer", '{"question_id": 2, "choice": "B"}',
        where="(question_id should be text)", fix=ANSWER),
    sig("answer-in-two-inputs", "design", "answer", '"Q2"', '"B"',
        where="answer takes one input, got 2", fix="send one --input"),
    sig("answer-without-input", "design", "answer",
        where="answer needs an input", fix=ANSWER),
    sig("decide-when-nothing-waits", "design", "decide", '{"choice": "accept"}',
        where="decide: nothing waits for a decision", fix="decide only what `status` lists"),
    sig("decide-an-unknown-scope", "design", "decide", '{"choice": "accept", "scope": "zz"}',
        where="decide: nothing waits for zz", fix="decide only what `status` lists"),
    sig("decide-as-text", "design", "decide", '"accept"',
        where='decide: "accept" is not its input', fix=DECIDE),
    sig("decide-without-a-choice", "design", "decide", '{"scope": "consistency"}',
        where="(choice is missing)", fix=DECIDE),
    sig("pause-with-an-input", "design", "!pause", '"now"',
        where='!pause takes no input, got "now"', fix="send it without --input"),
    sig("resume-with-an-input", "design", "!resume", '{"all": true}',
        where="!resume takes no input", fix="send it without --input"),
    sig("command-empty", "design", "command", '""',
        where="command: the line is empty", fix="send one of approved, request_changes"),
    sig("command-unknown-verb", "design", "command", '"frobnicate now"',
        where="'frobnicate' is not a command of this loop", fix=DESIGN_VERBS),
    sig("command-of-the-build", "design", "command", '"!change add dark mode"',
        where="'!change' is not a command of this loop", fix=DESIGN_VERBS),
    sig("command-answer-without-an-option", "design", "command", '"answer Q2"',
        where="an answer names a question and an option",
        fix="send `answer <question-id> <option>`"),
    sig("command-answer-unknown-question", "design", "command", '"answer Q9 A"',
        where="unknown question id 'Q9'", fix="answer one of the open questions"),
    sig("command-decide-without-a-choice", "design", "command", '"decide"',
        where="a decision needs a choice", fix="send `decide [<scope>] <choice>`"),
    sig("command-approve-before-the-gate", "design", "command", '"approve"',
        where="approved: the phase is questions", fix="approve when `status` shows"),
    sig("command-an-object", "design", "command", '{"line": "approved"}',
        where="(should be text)", fix="send --input '\"answer Q1 B\" (one line of text)'"),
    sig("say-empty", "design", "say", '"  "',
        where="say: the text is empty", fix='say what you think, e.g. "looks good"'),
    sig("say-an-object", "design", "say", '{"text": "looks good"}',
        where='say: {"text": "looks good"} is not its input (should be text)',
        fix="send --input '\"looks good\" (what you think, in words)'"),
    sig("signal-misspelt", "design", "approve",
        where="the design loop takes no signal 'approve' (did you mean 'approved'?)",
        fix="use one of approved, request_changes, answer"),
    sig("signal-with-a-look-alike", "design", "\u0430pproved",
        where="(it holds U+0430 CYRILLIC SMALL LETTER A where 'a' (U+0061) looks the same; did "
        "you mean 'approved'?)", fix="use one of approved"),
    sig("answer-with-a-look-alike-option", "design", "answer",
        '{"question_id": "Q2", "choice": "\u0412"}',
        where="Q2 has no option '\u0412' (it holds U+0412 CYRILLIC CAPITAL LETTER VE where 'B' "
        "(U+0042) looks the same)", fix="choose one of: A) A JSON file"),
    sig("signal-of-the-build", "design", "!change", '"add dark mode"',
        where="the design loop takes no signal '!change'", fix="use one of approved"),
    upd("update-unknown-question", "design", "answer_question",
        '{"question_id": "Q9", "choice": "A"}',
        where="unknown question id 'Q9'; known: Q1, Q2", fix="answer one of the open questions"),
    upd("update-unknown-option", "design", "answer_question",
        '{"question_id": "Q2", "choice": "C"}',
        where="Q2 has no option 'C'", fix="choose one of: A) A JSON file"),
    upd("update-as-text", "design", "answer_question", '"Q2 B"',
        where='answer_question: "Q2 B" is not its input', fix=ANSWER),
    upd("update-empty-object", "design", "answer_question", "{}",
        where="(question_id is missing; choice is missing)", fix=ANSWER),
    upd("update-in-two-inputs", "design", "answer_question", '"Q2"', '"B"',
        where="answer_question takes one input, got 2", fix="send one --input"),
    upd("update-that-is-a-signal", "design", "answer", '{"question_id": "Q2", "choice": "B"}',
        where="the design loop takes no update 'answer' (did you mean 'answer_question'?)",
        fix="use one of answer_question"),
]  # fmt: skip

BUILD = [
    sig("decide-the-budget-before-it-is-reached", "build", "decide",
        '{"choice": "raise", "scope": "budget"}',
        where="decide budget: the budget is not reached, so nothing waits for it",
        fix="decide only what `status` lists"),
    sig("decide-not-an-option", "build", "decide", '{"choice": "maybe", "scope": "a"}',
        where="decide 'maybe': not an option for a", fix="choose skip / simplify / debug"),
    sig("decide-unscoped-not-an-option", "build", "decide", '{"choice": "retry"}',
        where="decide 'retry': not an option for a", fix="choose skip / simplify / debug"),
    sig("decide-an-unknown-subtask", "build", "decide", '{"choice": "skip", "scope": "zz"}',
        where="decide: no subtask waits for a decision (zz)",
        fix="decide only what `status` lists"),
    sig("decide-a-failure-that-is-not-there", "build", "decide",
        '{"choice": "retry", "scope": "failure"}',
        where="no subtask waits for a decision (failure)", fix="decide only what"),
    sig("decide-as-text", "build", "decide", '"raise"',
        where='decide: "raise" is not its input', fix=DECIDE),
    sig("decide-empty-object", "build", "decide", "{}",
        where="(choice is missing)", fix=DECIDE),
    sig("raise-budget-negative", "build", "raise_budget", '{"max_cost_usd": -5}',
        where="(max_cost_usd should be greater than 0)", fix=BUDGET),
    sig("raise-budget-zero-tokens", "build", "raise_budget", '{"max_tokens": 0}',
        where="(max_tokens should be greater than or equal to 1)", fix=BUDGET),
    sig("raise-budget-beyond-any-number", "build", "raise_budget", '{"max_tokens": 1e400}',
        where="max_tokens should be a finite number", fix=BUDGET),
    sig("raise-budget-naming-nothing", "build", "raise_budget", "{}",
        where="(it names no limit)", fix=BUDGET),
    sig("raise-budget-misspelt", "build", "raise_budget", '{"max_cost": 20}',
        where="(max_cost is not a field of this input)", fix=BUDGET),
    sig("raise-budget-a-number", "build", "raise_budget", "20",
        where="raise_budget: 20 is not its input (should be a JSON object)", fix=BUDGET),
    sig("raise-budget-in-words", "build", "raise_budget", '{"max_tokens": "lots"}',
        where="(max_tokens should be a valid integer", fix=BUDGET),
    sig("change-empty", "build", "!change", '""',
        where="!change: the change is empty", fix="describe it"),
    sig("change-misspelt-field", "build", "!change", '{"desc": "rename b"}',
        where="(description is missing", fix="(or {\"description\": \"what to change\"})"),
    sig("change-too-long", "build", "!change", LONG,
        where=f"!change: {MAX_SIGNAL_TEXT + 1} characters", fix="put the details in a file"),
    sig("change-approve-with-no-change", "build", "!change-approve",
        where="!change-approve: no change is open", fix="propose one with !change first"),
    sig("change-cancel-with-no-change", "build", "!change-cancel",
        where="!change-cancel: no change is open", fix="propose one with !change first"),
    sig("migration-approve-with-no-report", "build", "!migration-approve",
        where="!migration-approve: no Migration Risk Report is pending",
        fix="send it only while `status` shows a subtask waiting on its report"),
    sig("migration-cancel-for-a-subtask-with-no-report", "build", "!migration-cancel", '"a"',
        where="!migration-cancel a: no Migration Risk Report is pending",
        fix="send it only while `status` shows a subtask waiting on its report"),
    sig("migration-approve-as-a-command-line", "build", "command", '"!migration-approve"',
        where="!migration-approve: no Migration Risk Report is pending",
        fix="build-reviews/<subtask>/MIGRATION.md"),
    sig("reset-confirm-with-no-reset", "build", "!reset-confirm",
        where="!reset-confirm: no !reset is waiting",
        fix="send !reset, then !reset-confirm within 5 minutes"),
    sig("reset-with-an-input", "build", "!reset", '"now"',
        where='!reset takes no input, got "now"', fix="send it without --input"),
    sig("pattern-add-an-unknown-subtask", "build", "!pattern-add", '"zz"',
        where="!pattern-add zz: 'zz' is not a subtask of this build",
        fix="send `!pattern-add <subtask>` with one of a"),
    sig("pattern-add-without-a-subtask", "build", "!pattern-add",
        where="!pattern-add needs an input", fix='send --input \'"<finished subtask>"'),
    sig("pattern-list-with-an-input", "build", "!pattern-list", '"all"',
        where='!pattern-list takes no input, got "all"', fix="send it without --input"),
    sig("change-approve-with-an-input", "build", "!change-approve", '"yes"',
        where='!change-approve takes no input, got "yes"', fix="send it without --input"),
    sig("pause-with-an-input", "build", "!pause", '"now"',
        where="!pause takes no input", fix="send it without --input"),
    sig("command-of-the-design", "build", "command", '"approved"',
        where="'approved' is not a command of this loop", fix="start the line with one of decide"),
    sig("command-raise-budget", "build", "command", '"!raise-budget 20"',
        where="'!raise-budget' is not a command of this loop", fix="start the line with one of"),
    sig("command-decide-not-an-option", "build", "command", '"decide a maybe"',
        where="decide 'maybe': not an option for a", fix="choose skip / simplify / debug"),
    sig("command-change-empty", "build", "command", '"!change"',
        where="!change: the change is empty", fix="describe it"),
    sig("say-too-long", "build", "say", LONG,
        where=f"say: {MAX_SIGNAL_TEXT + 1} characters, more than {MAX_SIGNAL_TEXT}",
        fix="say it shorter"),
    sig("say-without-input", "build", "say",
        where="say needs an input", fix="send --input '\"looks good\" (what you think"),
    sig("progress-that-is-not", "build", "subtask_progress", '{"subtask": 5}',
        where='subtask_progress: {"subtask": 5} is not its input',
        fix="leave subtask_progress to a build's subtasks, which sends it"),
    sig("signal-of-the-design", "build", "approved",
        where="the build takes no signal 'approved'", fix="use one of decide, !change"),
    sig("signal-misspelt", "build", "!chnage", '"rename b"',
        where="the build takes no signal '!chnage' (did you mean '!change'?)",
        fix="use one of decide"),
    upd("update-of-the-design", "build", "answer_question",
        '{"question_id": "Q1", "choice": "A"}',
        where="the build takes no updates, so not 'answer_question'",
        fix="send a signal instead (decide, !change"),
    sig("subtask-decide-not-an-option", "child", "decide", '{"choice": "maybe"}',
        where="decide 'maybe': not an option", fix="choose skip / simplify / debug / continue"),
    sig("subtask-pause-with-an-input", "child", "!pause", '"now"',
        where="!pause takes no input", fix="send it without --input"),
    sig("subtask-hold-not-a-bool", "child", "budget_hold", '"perhaps"',
        where='budget_hold: "perhaps" is not its input', fix="leave budget_hold to the build"),
    sig("subtask-signal-misspelt", "child", "decidе", '"skip"',
        where="the subtask takes no signal 'decidе'", fix="use one of decide, !pause"),
]  # fmt: skip


@pytest.fixture(scope="module")
async def held(client: Client, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Held]:
    root = tmp_path_factory.mktemp("badinput-signals")
    queue = f"badinput-{root.name}"
    async with held_loops(client, root, queue, "design-badinput", "build-badinput") as loops:
        yield loops


def kept(st: object) -> object:
    """What a refused message must not change."""
    if isinstance(st, DesignStatus):
        return (st.phase, st.paused, [q.id for q in st.open_questions], st.decisions)
    if isinstance(st, BuildStatus):
        return (st.phase, st.paused, st.max_tokens, st.max_cost_usd, st.change, st.running)
    assert isinstance(st, SubtaskState)
    return (st.status, st.paused, st.budget_hold, st.decision, st.round)


async def send(server: DevServer, held: Held, case: Message) -> str:
    """The case through the `temporal` CLI; the refusal (update) or the notice (signal)."""
    handle = getattr(held, case.target)
    inputs = [arg for text in case.inputs for arg in ("--input", text)]
    verb = ["update", "execute"] if case.update else ["signal"]
    # In a thread: the worker shares this event loop, and an update waits for it to answer.
    done = await asyncio.to_thread(
        temporal_cli,
        server.address, "workflow", *verb, "--workflow-id", handle.id, "--name", case.name, *inputs,
    )  # fmt: skip
    if case.update:
        assert done.returncode != 0, f"{case.id}: accepted: {done.stdout}"
        return done.stderr
    assert done.returncode == 0, f"{case.id}: {done.stderr}"
    # A query after a signal sees it handled: the server runs the workflow task first.
    return (await status_of(handle, STATUS[case.target])).notice


@pytest.mark.parametrize("case", DESIGN + BUILD, ids=[f"{c.target}-{c.id}" for c in DESIGN + BUILD])
async def test_a_bad_message_is_refused_with_the_fix_and_changes_nothing(
    held: Held, temporal_server: DevServer, case: Message
) -> None:
    handle = getattr(held, case.target)
    before = kept(await status_of(handle, STATUS[case.target]))
    said = await send(temporal_server, held, case)
    assert case.where in said, f"{case.id}: {case.where!r} not in {said!r}"
    assert "Fix: " in said and case.fix in said.split("Fix: ", 1)[1], f"{case.id}: {said!r}"
    assert kept(await status_of(handle, STATUS[case.target])) == before


async def test_say_hints_the_pending_decision_and_changes_nothing(
    held: Held, temporal_server: DevServer
) -> None:
    """`say` from the plain `temporal` CLI: the build's hint names what it waits for (its
    stuck subtask's decision), the design's names the answers; nothing moves."""
    for handle, kind, line, shown in (
        (held.build, BuildStatus, "Looks good, let's build.", "`decide a <skip | simplify"),
        (held.design, DesignStatus, "happy with this", "`answer Q1 <option>`"),
    ):
        before = kept(await status_of(handle, kind))
        said = await asyncio.to_thread(
            temporal_cli,
            temporal_server.address, "workflow", "signal", "--workflow-id", handle.id,
            "--name", "say", "--input", json.dumps(line),
        )  # fmt: skip
        assert said.returncode == 0, said.stderr
        st = await status_of(handle, kind)
        assert shown in st.hint and "Nothing was advanced" in st.hint, st.hint
        assert kept(st) == before
    await held.build.signal(BuildWorkflow.command, "!help")
    notice = (await status_of(held.build, BuildStatus)).notice
    assert notice.startswith("!help: the build takes now: decide [scope] <choice> (waiting: a)")


async def test_after_every_bad_message_the_loops_run_and_take_a_good_one(
    held: Held, temporal_server: DevServer
) -> None:
    """Run last in this module: nothing above failed, wedged or moved a loop."""
    for handle, kind in ((held.design, DesignStatus), (held.build, BuildStatus)):
        await still_sound(handle, kind)
    await still_sound(held.child, SubtaskState)

    reply = await held.design.execute_update(
        DesignReviewWorkflow.answer_question, AnswerInput(question_id="Q2", choice="B")
    )
    assert reply == "Q2: B) In memory only"
    st = await still_sound(held.design, DesignStatus)
    assert [q.id for q in st.open_questions] == ["Q1"]  # type: ignore[attr-defined]

    for name, arg in (("raise_budget", '{"max_tokens": 50000000}'), ("decide", SKIP_A)):
        sent = await asyncio.to_thread(
            temporal_cli,
            temporal_server.address, "workflow", "signal", "--workflow-id", held.build.id,
            "--name", name, "--input", arg,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
    result = BuildResult.model_validate(await held.build.result())
    assert result.result == "SUBTASKS_INCOMPLETE"
    assert [(s.subtask, s.status) for s in result.subtasks] == [("a", "blocked"), ("b", "blocked")]
    assert "skipped by a person" in result.subtasks[0].notes
    assert (await status_of(held.build, BuildStatus)).max_tokens == 50_000_000


async def test_an_answer_on_record_changes_only_when_the_sender_says_replace(
    held: Held, temporal_server: DevServer
) -> None:
    """Run after the test above, which answered Q2 with B: a different answer to Q2 was
    taken silently, replacing the person's; now it is refused (the signal's refusal in
    `status`, the update's to its sender) unless it says `replace`."""
    refusal = "Q2 is already answered (B) In memory only, by a person)"
    fix = "Fix: to change the answer, send it again with replace"
    for name, text in (
        ("answer", '{"question_id": "Q2", "choice": "A"}'),
        ("command", '"answer Q2 A"'),
    ):
        sent = await asyncio.to_thread(
            temporal_cli,
            temporal_server.address, "workflow", "signal", "--workflow-id", held.design.id,
            "--name", name, "--input", text,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        st = await status_of(held.design, DesignStatus)
        assert refusal in st.notice and fix in st.notice, (name, st.notice)
        assert [(q.id, q.choice) for q in st.answered_questions] == [("Q2", "B")]
    rejected = await asyncio.to_thread(
        temporal_cli,
        temporal_server.address, "workflow", "update", "execute", "--workflow-id",
        held.design.id, "--name", "answer_question", "--input",
        '{"question_id": "Q2", "choice": "A"}',
    )  # fmt: skip
    assert rejected.returncode != 0 and refusal in rejected.stderr, rejected.stderr
    reply = await held.design.execute_update(
        DesignReviewWorkflow.answer_question,
        AnswerInput(question_id="Q2", choice="A", replace=True),
    )
    assert reply == "Q2: A) A JSON file in the current directory"
    st = await still_sound(held.design, DesignStatus)
    q2 = st.answered_questions[0]  # type: ignore[attr-defined]
    replaced = "answered by a person (replacing B, given by a person)"
    assert (q2.choice, q2.reasoning) == ("A", replaced)


@dataclass(frozen=True)
class Start:
    """`temporal workflow start --type <workflow> [--input ...]`: it fails at once, saying why."""

    id: str
    workflow: str
    inputs: tuple[str, ...]
    where: str


FIX_START = '--input \'{"design_dir": "/abs/path/design-docs/active/<feature>"}\''
STARTS = [
    Start("design-without-input", "DesignReviewWorkflow", (),
          "DesignReviewWorkflow needs an input"),
    Start("design-dir-a-number", "DesignReviewWorkflow", ('{"design_dir": 5}',),
          "(design_dir should be text)"),
    Start("design-dir-missing", "DesignReviewWorkflow", ('{"dir": "/x"}',),
          "(design_dir is missing; dir is not a field of this input)"),
    Start("design-as-a-path", "DesignReviewWorkflow", ('"/abs/design"',),
          'DesignReviewWorkflow: "/abs/design" is not its input (should be a JSON object)'),
    Start("design-threshold-above-one", "DesignReviewWorkflow",
          ('{"design_dir": "/x", "threshold": 5}',),
          "(threshold should be less than or equal to 1)"),
    Start("design-no-parallel-reviews", "DesignReviewWorkflow",
          ('{"design_dir": "/x", "max_parallel_reviews": -1}',),
          "(max_parallel_reviews should be greater than or equal to 1)"),
    Start("design-misspelt-field", "DesignReviewWorkflow",
          ('{"design_dir": "/x", "treshold": 0.9}',),
          "(treshold is not a field of this input)"),
    Start("build-no-concurrency", "BuildWorkflow",
          ('{"design_dir": "/x", "max_concurrent_subtasks": -1}',),
          "(max_concurrent_subtasks should be greater than or equal to 1)"),
    Start("build-unknown-forge", "BuildWorkflow", ('{"design_dir": "/x", "forge": "gitlab"}',),
          "(forge should be 'github' or 'none')"),
    Start("build-negative-budget", "BuildWorkflow",
          ('{"design_dir": "/x", "max_cost_usd": -1}',),
          "(max_cost_usd should be greater than 0)"),
    Start("build-base-branch-an-option", "BuildWorkflow",
          ('{"design_dir": "/x", "base_branch": "--force"}',),
          "'--force' starts with '-', which git reads as an option"),
    Start("build-in-two-inputs", "BuildWorkflow", ('"/x"', '"/y"'),
          "BuildWorkflow takes one input, got 2"),
    Start("plan-dir-a-list", "PlanWorkflow", ('{"design_dir": ["/x"]}',),
          "(design_dir should be text)"),
    Start("design-dir-relative", "DesignReviewWorkflow",
          ('{"design_dir": "design-docs/active/feat"}',),
          "DesignReviewWorkflow: design_dir 'design-docs/active/feat' is not an absolute path"),
    Start("build-dir-relative", "BuildWorkflow", ('{"design_dir": "./feat"}',),
          "BuildWorkflow: design_dir './feat' is not an absolute path"),
    Start("plan-dir-from-home", "PlanWorkflow", ('{"design_dir": "~/feat"}',),
          "PlanWorkflow: design_dir '~/feat' is not an absolute path"),
]  # fmt: skip


@pytest.mark.parametrize("case", STARTS, ids=[c.id for c in STARTS])
async def test_a_bad_start_fails_at_once_with_the_fix(
    held: Held, client: Client, temporal_server: DevServer, case: Start
) -> None:
    """Nothing can run without its input: the loop fails on its first task, never wedges."""
    workflow_id = f"bad-start-{case.id}"
    inputs = [arg for text in case.inputs for arg in ("--input", text)]
    started = await asyncio.to_thread(
        temporal_cli,
        temporal_server.address, "workflow", "start", "--type", case.workflow,
        "--task-queue", held.queue, "--workflow-id", workflow_id, *inputs,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    handle = client.get_workflow_handle(workflow_id)
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    said = str(failed.value.cause)
    assert case.where in said and FIX_START in said, f"{case.id}: {said!r}"
    await no_failed_task(handle)


async def first_hold(
    client: Client, server: DevServer, queue: str, workflow_id: str, design_dir: str
) -> FailureInfo:
    """Start a design loop from the plain `temporal` CLI; the failure it holds on first,
    which must come at the step's first attempt. The loop is terminated afterwards."""
    started = await asyncio.to_thread(
        temporal_cli,
        server.address, "workflow", "start", "--type", "DesignReviewWorkflow",
        "--task-queue", queue, "--workflow-id", workflow_id,
        "--input", json.dumps({"design_dir": design_dir}),
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    handle = client.get_workflow_handle(workflow_id)
    try:

        async def held_on_it() -> DesignStatus | None:
            st = await status_of(handle, DesignStatus)
            return st if st.decisions else None

        st = await until(held_on_it, limit=60, what=f"the hold of {workflow_id[:40]}")
        failure = st.decisions[0].failure
        assert failure is not None and failure.attempts == 1, st.decisions
        assert "Fix: " in failure.error, failure.error
        await no_failed_task(handle)
        return failure
    finally:
        await handle.terminate("bad-input corpus done")


@pytest.mark.parametrize(
    ("design_dir", "said"),
    [
        ("/", "/: is the file system's root, not a design directory"),
        ("/nonexistent/design-docs/active/feat", "design directory not found"),
    ],
)
async def test_a_start_on_no_design_holds_at_once_with_the_fix(
    held: Held, client: Client, temporal_server: DevServer, design_dir: str, said: str
) -> None:
    """An absolute path the loop cannot use is refused by its first activity, at once
    (non-retryable): the loop holds, visible in `status`, instead of retrying or running."""
    workflow_id = f"bad-dir-{abs(hash(design_dir))}"
    failure = await first_hold(client, temporal_server, held.queue, workflow_id, design_dir)
    assert said in failure.error, failure.error


async def test_a_name_too_long_for_the_file_system_holds_at_once(
    held: Held, client: Client, temporal_server: DevServer
) -> None:
    """A workflow id of 300 characters (the plain `temporal` CLI takes it) names the
    directory of its agents' transcripts: the file system refuses it with ENAMETOOLONG,
    which was retried for an hour. Now the step holds at its first attempt, with the fix."""
    design_dir = str(held.repo.design_dir)
    failure = await first_hold(client, temporal_server, held.queue, "d" * 300, design_dir)
    assert "File name too long" in failure.error, failure.error
    assert "(a name of 300 bytes; a file name holds 255). Fix: shorten" in failure.error


async def test_a_signal_of_megabytes_never_reaches_the_history(
    held: Held, temporal_server: DevServer, tmp_path: Path
) -> None:
    """The loop refuses a 1.5 MB `approved` note, but the server kept it in the history;
    with the server's payload limit (runtime/server.py) it refuses the signal itself."""
    count = [e async for e in held.design.fetch_history_events()]
    big = tmp_path / "note.json"
    big.write_text(json.dumps("x" * 1_500_000))
    sent = await asyncio.to_thread(
        temporal_cli,
        temporal_server.address, "workflow", "signal", "--workflow-id", held.design.id,
        "--name", "approved", "--input-file", str(big),
    )  # fmt: skip
    assert sent.returncode != 0 and "exceeds" in sent.stderr.lower(), sent.stderr
    assert [e async for e in held.design.fetch_history_events()] == count
    await still_sound(held.design, DesignStatus)


async def test_budget_from_the_plain_temporal_cli_answers_in_status(
    held: Held, temporal_server: DevServer
) -> None:
    """`command "!budget"` as a person types it at the `temporal` CLI: the loop keeps its
    ledger's summary as its notice, which `status` shows."""
    sent = await asyncio.to_thread(
        temporal_cli,
        temporal_server.address, "workflow", "signal", "--workflow-id", held.design.id,
        "--name", "command", "--input", '"!budget"',
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr

    async def noted() -> str:
        notice = (await status_of(held.design, DesignStatus)).notice
        return notice if notice.startswith("budget: ") else ""

    notice = await until(noted, what="the budget notice")
    st = await still_sound(held.design, DesignStatus)
    assert f"budget: {st.tokens:,} tokens, ${st.cost_usd:.4f} in " in notice  # type: ignore[attr-defined]
    assert "limit: none." in notice and "`orchestrator budget <dir>`" in notice
