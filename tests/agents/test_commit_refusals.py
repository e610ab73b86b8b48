"""What an agent may not commit is told to it, refused, named, and never runs anything.

Issue 20: a builder made a nested repository in its worktree whose clean filter
the orchestrator's own git then ran on the host; a `.gitmodules` with
`update = !cmd` wedged every commit for an hour; a 200 MB file and 100,000
files were accepted. Here a scripted builder (the real worker, the real
sandbox, real git) does each of these; the agent hears what the commit would
refuse when it submits, what it leaves is refused at the commit and named in
its result, a worktree over its budget holds for a person, and no program an
agent planted ever runs outside the sandbox.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from simulators.messages_api import MessagesStandIn
from tests.agents.conftest import Runner, git, request
from tests.agents.steps import edit, script, worktree
from tests.support import shell, write


def nested_repository_attack(marker: Path) -> str:
    """The issue's commands: a nested repository whose clean filter writes `marker` (it
    can only where the host's files are: the sandbox does not show them)."""
    return (
        "git init -q vendored && cd vendored && "
        f"printf '#!/bin/sh\\necho ran >> {marker}\\ncat\\n' > .x.sh && "
        "git config filter.x.clean 'sh .x.sh' && echo '* filter=x' > .gitattributes && "
        "echo code > lib.txt && git add -A && "
        "git -c user.name=a -c user.email=b commit -qm vendored && echo more >> lib.txt"
    )


SUBMIT = {"tool": "submit_edit", "input": {"summary": "done", "files_changed": []}}


def rejections(standin: MessagesStandIn, role: str) -> list[str]:
    """What the orchestrator answered to the role's rejected submissions."""
    return [
        str(r["content"])
        for q in standin.requests
        if q.role == role
        for r in q.tool_results
        if r.get("is_error") and "submit_edit rejected" in str(r["content"])
    ]


async def test_a_nested_repository_is_refused_named_and_runs_nothing_on_the_host(
    repo: Path, standin: MessagesStandIn, runner: Runner, tmp_path: Path
) -> None:
    wt = worktree(repo)
    marker = tmp_path / "filter-ran-on-the-host"
    script(
        standin,
        builder=[shell(nested_repository_attack(marker)), write("src/mul.py", "M=1\n")],
        fixer=[write("src/mul.py", "M=2\n")],
    )
    built = await edit(runner, wt, "builder")
    fixed = await edit(runner, wt, "fixer")

    assert not marker.exists(), "a nested repository's filter ran on the host"
    told = rejections(standin, "builder")
    assert len(told) == 2 and "vendored/: a nested git repository" in told[0]
    assert "rm -rf vendored/.git" in told[0]
    assert built["refused"] == ["vendored/ (a nested git repository)"]
    assert "vendored/" in built["summary"] and "Refused" in built["summary"]
    assert built["files_changed"] == ["src/mul.py"] and fixed["files_changed"] == ["src/mul.py"]
    assert not (wt / "vendored").exists()
    assert "160000" not in git(wt, "ls-tree", "-r", "HEAD")


async def test_an_agent_told_of_its_nested_repository_can_keep_its_files(
    repo: Path, standin: MessagesStandIn, runner: Runner, tmp_path: Path
) -> None:
    wt = worktree(repo)
    marker = tmp_path / "filter-ran-on-the-host"
    script(
        standin,
        builder=[shell(nested_repository_attack(marker)), SUBMIT, shell("rm -rf vendored/.git")],
    )
    built = await edit(runner, wt, "builder")

    assert len(rejections(standin, "builder")) == 1
    assert built["refused"] == []
    assert "vendored/lib.txt" in built["files_changed"]
    assert git(wt, "show", "HEAD:vendored/lib.txt") == "code\nmore"
    assert not marker.exists()


async def test_an_update_command_in_gitmodules_is_refused_not_retried_for_an_hour(
    repo: Path, standin: MessagesStandIn, runner: Runner, tmp_path: Path
) -> None:
    """The branch already records a submodule (a dependency brought it); the builder adds
    `update = !cmd` to .gitmodules, which made every `git status` fail, and retry."""
    wt = worktree(repo)
    git(wt, "update-index", "--add", "--cacheinfo", f"160000,{'1' * 40},vendored")
    (wt / ".gitmodules").write_text('[submodule "vendored"]\n\tpath = vendored\n')
    git(wt, "add", ".gitmodules")
    git(wt, "commit", "-q", "-m", "vendored library")
    marker = tmp_path / "update-ran"
    gitmodules = f'[submodule "vendored"]\n\tpath = vendored\n\tupdate = !touch {marker}\n'
    script(standin, builder=[write(".gitmodules", gitmodules), write("src/mul.py", "M=1\n")])
    built = await edit(runner, wt, "builder", max_attempts=1)

    assert "a change to .gitmodules" in rejections(standin, "builder")[0]
    assert built["refused"] == [".gitmodules (a change to .gitmodules)"]
    assert built["files_changed"] == ["src/mul.py"]
    assert (wt / ".gitmodules").read_text() == '[submodule "vendored"]\n\tpath = vendored\n'
    assert not marker.exists()


@pytest.mark.parametrize("cleans_up", [False, True], ids=["holds", "agent-cleans-up"])
async def test_a_worktree_over_its_budget_is_told_then_held_for_a_person(
    repo: Path, standin: MessagesStandIn, runner: Runner, cleans_up: bool
) -> None:
    wt = worktree(repo)
    fill = (
        "head -c 2097152 /dev/zero > data.bin && mkdir gen && "
        "for i in $(seq 30); do echo $i > gen/$i.txt; done"
    )
    steps = [shell(fill), write("src/mul.py", "M=1\n")]
    if cleans_up:
        steps += [SUBMIT, shell("rm -rf data.bin gen")]
    script(standin, builder=steps)
    budget = {"worktree_max_files": 20, "worktree_max_file_mb": 1}
    req = request(
        wt, "builder", scope="01-core", commit_message="build", settings={"sandbox": budget}
    )

    if cleans_up:
        built = await runner.run("agent.edit", req)
        assert built["files_changed"] == ["src/mul.py"]
        return
    with pytest.raises(WorkflowFailureError) as failed:
        await runner.run("agent.edit", req)
    told = rejections(standin, "builder")
    held = failed.value.cause.cause
    assert isinstance(held, ApplicationError)
    assert held.non_retryable and held.type == "WorktreeOverBudget"
    for text in (told[0], held.message):
        assert "over the budget of 20 ([sandbox] worktree_max_files)" in text
        assert "data.bin is 2.0 MB, over the limit of 1 MB" in text and "Fix:" in text
    assert git(wt, "log", "-1", "--format=%s") == "initial"  # nothing committed


async def test_a_reviewers_stray_files_are_discarded_never_committed_by_the_next_editor(
    repo: Path, standin: MessagesStandIn, runner: Runner, caplog: pytest.LogCaptureFixture
) -> None:
    """A reviewer runs the tests; the files they (or it) leave are not the fixer's work."""
    wt = worktree(repo)
    (wt / "notes.txt").write_text("already here before the review\n")
    stray = (
        "echo 'coverage: 91%' > coverage.out && echo '# reviewed' >> src/core.py && "
        "mkdir -p build/obj && echo obj > build/obj/core.o && "
        "rm design-docs/active/demo/overview.md"
    )
    script(standin, **{"code-correctness": [shell(stray)], "fixer": [write("src/mul.py", "M=1\n")]})
    review = request(wt, "code-correctness", scope="01-core", review_path="review.md", title="t")
    await runner.run("agent.review", review)

    assert (wt / "review.md").is_file()  # its own record stays
    assert not (wt / "coverage.out").exists() and not (wt / "build").exists()
    # What was there before, its review and its transcript stay; nothing else changed.
    assert git(wt, "status", "--porcelain") == "?? .orchestrator/\n?? notes.txt\n?? review.md"
    assert "left files in" in caplog.text and "coverage.out" in caplog.text
    (wt / "notes.txt").unlink()
    (wt / "review.md").unlink()
    fixed = await edit(runner, wt, "fixer")
    assert fixed["files_changed"] == ["src/mul.py"]
    assert git(wt, "show", "--name-only", "--format=", "HEAD") == "src/mul.py"
