"""A person's files in a subtask's worktree are never committed: the subtask holds.

Issue 22: a person's untracked file and hand edit in `.worktrees/01-core` were
committed as "implement Core" and pushed. The editor's commit now takes only
what changed while it ran; what was changed before it started is a person's
unless the orchestrator's own gates made it, and a person's stops the editor
before the model is asked, naming the files and the fix.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from simulators.messages_api import MessagesStandIn
from tests.agents.conftest import Runner, git, request
from tests.agents.steps import cancel_and_wait, edit, script, worktree
from tests.support import shell, write


async def test_a_persons_files_in_the_worktree_hold_the_editor_and_are_never_committed(
    repo: Path, standin: MessagesStandIn, gate_runner: Runner
) -> None:
    wt = worktree(repo)
    (wt / "scratch-notes.txt").write_text("call Bob about the API key\n")
    with (wt / "src/core.py").open("a") as fh:
        fh.write("# my hand edit, not finished\n")
    script(standin, builder=[write("src/mul.py", "M = 1\n")])

    with pytest.raises(WorkflowFailureError) as failed:
        await edit(gate_runner, wt, "builder", max_attempts=1)
    held = failed.value.cause.cause
    assert isinstance(held, ApplicationError)
    assert held.non_retryable and held.type == "PersonsChangesInWorktree"
    assert "scratch-notes.txt, src/core.py" in held.message
    assert "stash push --include-untracked" in held.message and "Fix:" in held.message
    assert standin.requests == []  # the model was never asked
    assert git(wt, "log", "-1", "--format=%s") == "initial"

    # The person puts them aside and retries: the builder commits its own file only.
    git(wt, "stash", "push", "-q", "--include-untracked")
    built = await edit(gate_runner, wt, "builder")
    git(wt, "stash", "pop", "-q")
    assert built["files_changed"] == ["src/mul.py"]
    assert git(wt, "show", "--name-only", "--format=", "HEAD") == "src/mul.py"
    assert "scratch-notes.txt" not in git(repo, "log", "--all", "--name-only")
    assert (wt / "scratch-notes.txt").is_file()  # still theirs, as they left it


async def test_what_the_gates_leave_is_neither_a_persons_nor_the_next_editors(
    repo: Path, standin: MessagesStandIn, gate_runner: Runner, tmp_path: Path
) -> None:
    wt = worktree(repo)
    gates = {
        "workdir": str(wt),
        "commands": ["echo 'coverage: 91%' > coverage.out && mkdir -p build && echo o > build/x.o"],
        "log_dir": str(tmp_path / "logs"),
    }
    ran = await gate_runner.run("gates.run", gates)
    assert ran["results"][0]["passed"], ran
    # The reviewers run after the gates; one runs the same command, rewriting their output.
    rerun = shell("sleep 0.01; echo 'coverage: 92%' > coverage.out && echo p > build/x.o")
    script(standin, **{"code-correctness": [rerun], "fixer": [write("src/mul.py", "M = 1\n")]})
    review = request(wt, "code-correctness", scope="01-core", review_path="review.md", title="t")
    await gate_runner.run("agent.review", review)
    (wt / "review.md").unlink()

    fixed = await edit(gate_runner, wt, "fixer")

    assert fixed["files_changed"] == ["src/mul.py"]
    assert git(wt, "show", "--name-only", "--format=", "HEAD") == "src/mul.py"
    assert (wt / "coverage.out").read_text() == "coverage: 92%\n"  # uncommitted, as left


async def test_a_cancelled_editors_uncommitted_work_is_not_taken_for_a_persons(
    repo: Path, standin: MessagesStandIn, gate_runner: Runner
) -> None:
    """A subtask restarted after a cancel (a spec change, say) finds the worktree as the
    cancelled editor found it: nothing to hold on, nothing of the cancelled call to commit."""
    wt = worktree(repo)
    first = {"match": {"role": "builder", "round": 1}}
    standin.reset(
        {
            "rules": [
                {
                    **first,
                    "steps": [write("src/half.py", "HALF = 1\n"), write("src/core.py", "x\n")],
                    "faults": [{"type": "hang", "at_turn": 3, "seconds": 120}],
                },
                {"match": {"role": "builder", "round": 2}, "steps": [write("src/mul.py", "M\n")]},
            ]
        }
    )
    cancelled = await gate_runner.start(
        "agent.edit",
        request(wt, "builder", scope="01-core", round=1, commit_message="build"),
        heartbeat_timeout_s=1.0,
        wait_for_cancel=True,
    )
    await asyncio.to_thread(standin.wait_for, lambda r: r.turn == 3, 30)
    await cancel_and_wait(cancelled)
    assert git(wt, "status", "--porcelain", "--", "src") == ""  # put back as the branch has it

    again = await gate_runner.run(
        "agent.edit", request(wt, "builder", scope="01-core", round=2, commit_message="build")
    )
    assert again["files_changed"] == ["src/mul.py"]
    assert git(wt, "show", "--name-only", "--format=", "HEAD") == "src/mul.py"
