"""Bad `orchestrator` command lines: refused (exit 2) with the fix, before anything happens.

The verbs run in this process (`starter.main`, in a thread, against the suite's
server), which keeps a hundred commands fast. Three kinds of case:

- on a scratch repository (design-docs/active/feat) whose loops never ran: the
  refusal names the file or argument and the fix, no workflow is started, and the
  tree is byte-identical;
- on a design directory whose loops are held (the design waiting for answers, the
  build waiting for a decision on subtask a): nothing reaches them, their histories do not grow;
- argument mistakes argparse itself refuses, with the verb's usage.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

import starter
from activities.plan.pipeline import seed_subtask_files
from contracts.build import BuildStatus, SubtaskState
from contracts.design import DesignStatus
from contracts.human import MAX_SIGNAL_TEXT
from contracts.version import TASK_QUEUE
from runtime.server import DevServer
from tests.badinput.loops import Held, held_loops, still_sound
from tests.badinput.support import git, make_repo, snapshot, subplan, write

# One worker runs this module, in order (ONE_WORKER in tests/conftest.py): its tests
# share the loops `held` holds, and one reads what the test before it answered.

LONG = "x" * (MAX_SIGNAL_TEXT + 1)


@dataclass(frozen=True)
class Command:
    """`orchestrator <argv>`: `{feat}` is the scratch design directory, `{held}` the held one's."""

    id: str
    argv: tuple[str, ...]
    where: str
    fix: str
    arrange: Callable[[Path, Path], object] = lambda root, design: None
    commit: bool = True  # commit the arranged project (as a person would before a loop)


def cmd(
    id_: str, *argv: str, where: str, fix: str, arrange: object = None, commit: bool = True
) -> Command:
    return Command(id_, argv, where, fix, arrange or (lambda root, design: None), commit)  # type: ignore[arg-type]


def seeded(root: Path, design: Path) -> None:
    seed_subtask_files(str(design))


def seeded_then(change: Callable[[Path], object]) -> Callable[[Path, Path], None]:
    def go(root: Path, design: Path) -> None:
        seed_subtask_files(str(design))
        change(design)

    return go


def symlink_loop(root: Path, design: Path) -> None:
    (root.parent / "loop-a").symlink_to(root.parent / "loop-b")
    (root.parent / "loop-b").symlink_to(root.parent / "loop-a")


def detached(root: Path, design: Path) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-qm", "project")
    git(root, "checkout", "-q", "--detach")


def without_origin(root: Path, design: Path) -> None:
    seed_subtask_files(str(design))
    git(root, "remote", "remove", "origin")


def named_with_a_space(root: Path, design: Path) -> None:
    shutil.copytree(design, design.parent / "my feat")


LOOP = "loop-a: cannot be resolved (Too many levels of symbolic links: symbolic links that lead"


def loose(root: Path, design: Path) -> None:
    """The design directory moved out of any repository."""
    shutil.move(str(design), str(root.parent / "loose"))


SCRATCH = [
    cmd("design-dir-missing", "design", "{feat}/../nope",
        where="design directory not found", fix="pass the path of a directory holding overview.md"),
    cmd("design-outside-a-repository", "design", "{loose}", arrange=loose,
        where="not inside a git repository", fix="run `git init` in the project"),
    cmd("design-with-a-bad-config", "design", "{feat}",
        arrange=lambda root, design: write(root / "orchestrator.toml", "threshold = 2\n"),
        where="orchestrator.toml: threshold = 2", fix="set it to 1 or less"),
    cmd("design-with-a-cycle", "design", "{feat}",
        arrange=lambda root, design: write(
            design / "subplans" / "01-core.md", subplan("Core", deps="02-api")),
        where="01-core.md: dependency cycle: 01-core -> 02-api -> 01-core",
        fix="remove one of these dependencies"),
    cmd("design-with-a-bad-subplan-name", "design", "{feat}",
        arrange=lambda root, design: write(design / "subplans" / "03 Parser.md", subplan("P")),
        where="03 Parser.md: subtask name '03 Parser' is not a slug",
        fix="rename it to subplans/03-parser.md"),
    cmd("build-before-the-design", "build", "{feat}",
        where="subtasks: no XML subtasks found", fix="run `orchestrator design"),
    cmd("build-with-broken-xml", "build", "{feat}",
        arrange=seeded_then(lambda d: write(d / "subtasks" / "01-core.xml", "<subtask id=")),
        where="subtasks/01-core.xml: malformed XML at line 1",
        fix="delete it and run `orchestrator design <dir>` to regenerate it"),
    cmd("build-with-xml-that-disagrees", "build", "{feat}",
        arrange=seeded_then(lambda d: write(d / "subplans" / "02-api.md", subplan("Api"))),
        where="subtasks/02-api.xml: <dependencies> lists ['01-core'] but subplans/02-api.md "
        "declares none", fix="make them agree"),
    cmd("build-with-no-concurrency", "build", "{feat}", "--max-concurrent", "0", arrange=seeded,
        where="argument --max-concurrent: 0 must be a number above 0",
        fix="usage: orchestrator build"),
    cmd("build-with-a-cost-in-words", "build", "{feat}", "--max-cost-usd", "ten", arrange=seeded,
        where="argument --max-cost-usd: 'ten' is not a number", fix="usage: orchestrator build"),
    cmd("build-with-infinite-tokens", "build", "{feat}", "--max-tokens", "inf", arrange=seeded,
        where="argument --max-tokens: 'inf' is not a number", fix="usage: orchestrator build"),
    cmd("build-on-an-unknown-forge", "build", "{feat}", "--forge", "gitlab", arrange=seeded,
        where="argument --forge: invalid choice: 'gitlab'", fix="choose from 'github', 'none'"),
    cmd("plan-with-a-cycle", "plan", "{feat}", "--write",
        arrange=lambda root, design: write(
            design / "subplans" / "02-api.md", subplan("Api", deps="02-api")),
        where="02-api.md: dependency cycle: 02-api -> 02-api",
        fix="remove '02-api' from its Dependencies"),
    cmd("plan-without-an-overview", "plan", "{feat}",
        arrange=lambda root, design: (design / "overview.md").unlink(),
        where="overview.md: overview.md is missing", fix="write the feature's overview"),
    cmd("plan-of-a-bad-config", "plan", "{feat}",
        arrange=lambda root, design: write(root / "orchestrator.toml", "[forge]\nremote = '-x'\n"),
        where="[forge] remote = \"-x\"", fix='use a name git accepts, e.g. "origin"'),
    cmd("status-of-loops-that-never-ran", "status", "{feat}",
        where="nothing has run for", fix="start with `orchestrator design"),
    cmd("metrics-of-loops-that-never-ran", "metrics", "{feat}",
        where="nothing has run for", fix="start with `orchestrator design"),
    cmd("pause-with-nothing-running", "pause", "{feat}",
        where="no design, build or release loop is running for",
        fix="Start one with `orchestrator design"),
    cmd("cancel-with-nothing-running", "cancel", "{feat}",
        where="no design, build or release loop is running for",
        fix="Start one with `orchestrator design"),
    cmd("approve-with-no-design-loop", "approve", "{feat}",
        where="the design loop design-feat is not running",
        fix="start it with `orchestrator design"),
    cmd("answer-with-no-design-loop", "answer", "{feat}", "Q1", "B",
        where="the design loop design-feat is not running",
        fix="start it with `orchestrator design"),
    cmd("change-with-no-build", "change", "{feat}", "rename b",
        where="the build build-feat is not running", fix="start it with `orchestrator build"),
    cmd("answer-without-a-choice", "answer", "{feat}", "Q1",
        where="the following arguments are required: choice", fix="usage: orchestrator answer"),
    cmd("decide-in-three-words", "decide", "{feat}", "02-api", "skip", "now",
        where="3 words after the directory",
        fix="send `decide <dir> [scope|subtask] <choice>`"),
    cmd("replay-of-round-two-in-words", "replay", "{feat}", "01-core", "two",
        where="argument round: invalid int value: 'two'", fix="usage: orchestrator replay"),
    cmd("a-misspelt-verb", "aprove", "{feat}",
        where="argument COMMAND: invalid choice: 'aprove'", fix="choose from"),
    cmd("request-changes-empty", "request-changes", "{feat}", "  ",
        where="the feedback is empty", fix="say what to change"),
    cmd("request-changes-too-long", "request-changes", "{feat}", LONG,
        where=f"the feedback is {MAX_SIGNAL_TEXT + 1} characters",
        fix="put the details in a file"),
    cmd("change-empty", "change", "{feat}", "",
        where="the change is empty", fix='describe it: orchestrator change <dir> "..."'),
    cmd("change-too-long", "change", "{feat}", LONG,
        where=f"the change is {MAX_SIGNAL_TEXT + 1} characters", fix="put the details in a file"),
    cmd("plan-of-a-symlink-loop", "plan", "{loop}", arrange=symlink_loop,
        where=LOOP, fix="pass the design directory itself"),
    cmd("design-of-a-symlink-loop", "design", "{loop}", arrange=symlink_loop,
        where=LOOP, fix="pass the design directory itself"),
    cmd("status-of-a-symlink-loop", "status", "{loop}", arrange=symlink_loop,
        where=LOOP, fix="pass the design directory itself"),
    cmd("design-of-the-file-system-root", "design", "/",
        where="/: is the file system's root, not a design directory",
        fix="pass the directory holding overview.md"),
    cmd("plan-of-the-file-system-root", "plan", "/",
        where="/: is the file system's root", fix="pass the directory holding overview.md"),
    cmd("design-on-a-detached-head", "design", "{feat}", arrange=detached, commit=False,
        where="HEAD is detached at", fix="`git switch <branch>`"),
    cmd("design-of-a-feature-with-a-space", "design", "{feat}/../my feat",
        arrange=named_with_a_space,
        where="the feature name 'my feat' (the design directory's name) is not a plain name",
        fix="rename the directory, e.g. to"),
    cmd("build-without-origin", "build", "{feat}", arrange=without_origin,
        where="the remote 'origin' is not configured", fix="`git remote add origin <url>`"),
    cmd("answer-with-a-choice-too-long", "answer", "{feat}", "Q1", LONG,
        where=f"the choice is {MAX_SIGNAL_TEXT + 1} characters, more than {MAX_SIGNAL_TEXT}",
        fix="put the details in a file"),
    cmd("answer-with-an-id-too-long", "answer", "{feat}", "Q" * 101, "B",
        where="the question id is 101 characters, more than 100",
        fix="give the name `orchestrator status` shows"),
    cmd("decide-with-a-word-too-long", "decide", "{feat}", "s" * 5000,
        where="a word of the decision is 5000 characters, more than 100",
        fix="give the name `orchestrator status` shows"),
    cmd("webhook-without-its-secret", "webhook", "--port", "8787", "--secret-env", "NO_SUCH_SECRET",
        where="the environment variable NO_SUCH_SECRET (--secret-env) is not set",
        fix="`export NO_SUCH_SECRET=<the secret you set on GitHub>`"),
    cmd("webhook-on-no-port", "webhook", "--port", "70000", "--secret-env", "S",
        where="argument --port: '70000' is not a port (1-65535)",
        fix="usage: orchestrator webhook"),
]  # fmt: skip

HELD = [
    cmd("answer-an-unknown-question", "answer", "{held}", "Q9", "B",
        where="unknown question id 'Q9'; known: Q1, Q2", fix="answer one of the open questions"),
    cmd("answer-an-unknown-option", "answer", "{held}", "Q2", "Z",
        where="Q2 has no option 'Z'", fix="choose one of: A) A JSON file"),
    cmd("approve-before-the-gate", "approve", "{held}",
        where="the design is not at the approval gate yet (phase questions",
        fix="approve when `orchestrator status` shows awaiting-approval"),
    cmd("decide-not-an-option", "decide", "{held}", "a", "maybe",
        where="'maybe' is not an option for a", fix="choose one of: skip, simplify, debug"),
    cmd("decide-with-a-look-alike", "decide", "{held}", "a", "\u0455kip",
        where="'\u0455kip' is not an option (it holds U+0455 CYRILLIC SMALL LETTER DZE where 's' "
        "(U+0073) looks the same) for a", fix="choose one of: skip, simplify, debug"),
    cmd("decide-what-does-not-wait", "decide", "{held}", "zz", "stop",
        where="no prompt waits on 'zz'; waiting: a (skip/simplify/debug/continue)",
        fix="name one of them"),
    cmd("decide-the-budget-that-does-not-wait", "decide", "{held}", "budget", "raise",
        where="no prompt waits on 'budget'", fix="name one of them"),
    cmd("decide-a-choice-of-another-prompt", "decide", "{held}", "retry",
        where="'retry' is not an option for a", fix="choose one of: skip, simplify"),
    cmd("change-approve-with-no-change", "change-approve", "{held}",
        where="nothing to change-approve: no change is open", fix="propose one first"),
    cmd("change-cancel-with-no-change", "change-cancel", "{held}",
        where="nothing to change-cancel: no change is open", fix="propose one first"),
    cmd("migration-approve-with-no-report", "migration-approve", "{held}",
        where="nothing to migration-approve: no Migration Risk Report is pending",
        fix="send it while `orchestrator status` shows a subtask held on its report"),
    cmd("migration-cancel-for-a-subtask-with-no-report", "migration-cancel", "{held}", "a",
        where="nothing to migration-cancel: no Migration Risk Report is pending for a",
        fix="send it while `orchestrator status` shows a subtask held on its report"),
    cmd("replay-an-unknown-subtask", "replay", "{held}", "zz", "1",
        where="the build has no subtask 'zz' that ever started", fix="name one of a, b"),
    cmd("replay-a-round-not-reached", "replay", "{held}", "a", "7",
        where="a has no review round 7 (rounds: 1)", fix="name a round it has finished"),
    cmd("request-changes-empty-to-a-running-loop", "request-changes", "{held}", "",
        where="the feedback is empty", fix="say what to change"),
]  # fmt: skip


def run_cli(argv: list[str]) -> tuple[int, str]:
    """`orchestrator argv` in this process: its exit status and stderr."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = starter.main(argv)
        except SystemExit as exited:  # argparse
            code = int(exited.code or 0)
    return code, err.getvalue()


async def refused(case: Command, **dirs: Path) -> str:
    argv = [a.format(**{k: str(v) for k, v in dirs.items()}) for a in case.argv]
    code, err = await asyncio.to_thread(run_cli, [*argv, "--no-embedded"])
    assert code == 2, f"{case.id}: exit {code}: {err}"
    assert case.where in err, f"{case.id}: {case.where!r} not in {err!r}"
    assert case.fix in err, f"{case.id}: {case.fix!r} not in {err!r}"
    return err


@pytest.fixture(scope="module")
async def held(
    client: Client, temporal_server: DevServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Held]:
    """Loops under the ids the CLI derives (design-link-shortener, ...), on its task queue."""
    root = tmp_path_factory.mktemp("badinput-cli")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TEMPORAL_ADDRESS", temporal_server.address)
        env.setenv("TEMPORAL_NAMESPACE", "default")
        ids = ("design-link-shortener", "build-link-shortener")
        async with held_loops(client, root, TASK_QUEUE, *ids) as loops:
            yield loops


async def started(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def events(handle: WorkflowHandle) -> int:
    return len([e async for e in handle.fetch_history_events()])


@pytest.mark.parametrize("case", SCRATCH, ids=[c.id for c in SCRATCH])
async def test_a_bad_command_is_refused_before_anything_starts(
    held: Held, client: Client, tmp_path: Path, case: Command
) -> None:
    root = tmp_path / "repo"
    design = make_repo(root)
    # A project a build could start on (a forge repository, an origin), committed with
    # the case's mistake: the loops read their configuration from a commit.
    write(root / "orchestrator.toml", '[forge]\nrepository = "octo/feat"\n')
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "origin.git")], check=True)
    git(root, "remote", "add", "origin", str(tmp_path / "origin.git"))
    case.arrange(root, design)
    if (root / ".git").is_dir() and case.commit:
        git(root, "add", "-A")
        git(root, "commit", "-qm", "the project, with the mistake")
    before = snapshot(tmp_path)
    await refused(case, feat=design, loose=tmp_path / "loose", loop=tmp_path / "loop-a")
    assert snapshot(tmp_path) == before, f"{case.id}: the refusal wrote to the tree"
    for workflow_id in ("design-feat", "build-feat", "plan-feat"):
        assert not await started(client, workflow_id), f"{case.id}: {workflow_id} started"


@pytest.mark.parametrize("case", HELD, ids=[c.id for c in HELD])
async def test_a_bad_command_to_held_loops_reaches_neither(held: Held, case: Command) -> None:
    before = [await events(h) for h in (held.design, held.build, held.child)]
    await refused(case, held=held.repo.design_dir)
    assert [await events(h) for h in (held.design, held.build, held.child)] == before


async def test_after_every_bad_command_the_loops_run_and_a_good_one_works(
    held: Held,
) -> None:
    for handle, kind in ((held.design, DesignStatus), (held.build, BuildStatus)):
        st = await still_sound(handle, kind)
        assert st.notice == "", f"{handle.id} heard a refused command: {st.notice}"  # type: ignore[attr-defined]
    await still_sound(held.child, SubtaskState)
    code, err = await asyncio.to_thread(
        run_cli, ["answer", str(held.repo.design_dir), "Q1", "A", "--no-embedded"]
    )
    assert code == 0, err
    st = await still_sound(held.design, DesignStatus)
    assert [q.id for q in st.open_questions] == ["Q2"]  # type: ignore[attr-defined]
    shown = json.loads(
        await asyncio.to_thread(_stdout, ["status", str(held.repo.design_dir), "--json"])
    )
    assert [v["decision"]["options"] for v in shown["build"]["subtasks"] if v["decision"]] == [
        ["skip", "simplify", "debug", "continue"]
    ]


def _stdout(argv: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert starter.main([*argv, "--no-embedded"]) == 0
    return out.getvalue()


async def test_an_answer_on_record_changes_only_with_replace(held: Held) -> None:
    """Run after the test above, which answered Q1 with A."""
    design_dir = str(held.repo.design_dir)
    code, err = await asyncio.to_thread(run_cli, ["answer", design_dir, "Q1", "B", "--no-embedded"])
    assert code == 2 and "Q1 is already answered (A) Yes: the base62" in err, err
    assert "Fix: to change the answer, send it again with replace: `orchestrator answer" in err
    assert "Q1 B --replace`" in err
    st = await still_sound(held.design, DesignStatus)
    assert [(q.id, q.choice) for q in st.answered_questions] == [("Q1", "A")]  # type: ignore[attr-defined]
    code, err = await asyncio.to_thread(
        run_cli, ["answer", design_dir, "Q1", "B", "--replace", "--no-embedded"]
    )
    assert code == 0, err
    st = await still_sound(held.design, DesignStatus)
    assert [(q.id, q.choice) for q in st.answered_questions] == [("Q1", "B")]  # type: ignore[attr-defined]
