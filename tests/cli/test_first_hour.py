"""The first hour of a new user (issue 21): nothing silent, nothing stuck, advice that works.

Real processes: `./run`, `orchestrator ...` and the demo as a person starts them, each
with its own ORCHESTRATOR_HOME, against the suite's dev server (or a port where none
answers); a real bubblewrap, or a broken one first on PATH.
"""

from __future__ import annotations

import asyncio
import os
import pty
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
)
from temporalio.service import RPCError

import starter
from contracts.design import DESIGN_DOC_APPROVED
from contracts.version import TASK_QUEUE
from runtime.server import DevServer, free_port, is_listening, process_alive
from simulators.demo_scenario import (
    CI_TEST,
    FORK_A_TEST,
    FORK_A_TEXT,
    FORK_APPROACHES,
    FORKED_SUBTASK,
)
from simulators.github_api import GitHubStandIn
from tests.cli.commands import orchestrator
from tests.conftest import REPO_ROOT
from tests.demo_runs import InterruptedDemos, demo_dir, own_home, processes_of
from tests.support import make_project, scripted_model
from tests.workflows.builds import (
    ONE_REVIEWER,
    git_out,
    passes_review,
    tiny_project,
    writes_file_rule,
)
from worker import build_worker

BROKEN_BWRAP = "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def broken_path(tmp_path: Path) -> str:
    """PATH with a bubblewrap first that fails as it does without user namespaces."""
    bindir = tmp_path / "broken-bin"
    bindir.mkdir(exist_ok=True)
    (bindir / "bwrap").write_text(BROKEN_BWRAP)
    (bindir / "bwrap").chmod(0o755)
    return f"{bindir}{os.pathsep}{os.environ['PATH']}"


def dead_address() -> str:
    return f"127.0.0.1:{free_port()}"


async def latest_run(handle: WorkflowHandle) -> str | None:
    try:
        return (await handle.describe()).run_id
    except RPCError:
        return None


# ------------------------------------------------------------------ ./run and --help


def test_run_without_arguments_prints_the_two_commands(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(REPO_ROOT / "run")],
        env={**os.environ, "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.split()[:2] == [str(REPO_ROOT / "run"), "demo"] for line in lines), lines
    assert any(line.split()[:2] == [str(REPO_ROOT / "run"), "test"] for line in lines), lines
    assert not (tmp_path / ".orchestrator").exists()  # nothing was started


def test_every_verb_describes_its_arguments_and_decide_its_choices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # no line wrapped inside a choice
    parser = starter.parser()
    verbs = next(a for a in parser._actions if a.dest == "command").choices
    undescribed = [
        f"{name} {arg.dest}"
        for name, sub in verbs.items()  # type: ignore[union-attr]
        for arg in sub._actions
        if arg.dest != "help" and not arg.help
    ]
    assert undescribed == []
    decide = verbs["decide"].format_help()  # type: ignore[index]
    assert decide.startswith("usage: orchestrator decide <dir> [scope|subtask] <choice>")
    for choice in ("retry", "skip", "stop", "simplify", "debug", "review-together", "raise"):
        assert choice in decide, choice


@pytest.mark.skipif(
    os.geteuid() != 0 and subprocess.run(["sudo", "-n", "true"], check=False).returncode != 0,
    reason="installs only as root or with sudo without a password",
)
def test_run_demo_installs_bubblewrap_when_it_is_missing(tmp_path: Path) -> None:
    """`./run demo` installs Debian's bubblewrap as `./run test` does (here a stand-in apt-get
    on a PATH without bwrap records what it was asked and provides it)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tools = ("bash", "cat", "sha256sum", "cut", "uname", "id", "dirname", "rm", "touch", "sudo")
    for tool in tools:
        found = shutil.which(tool)
        if found:
            (bindir / tool).symlink_to(found)
    asked = tmp_path / "apt-get.log"
    (bindir / "apt-get").write_text(
        f'#!{shutil.which("bash")}\necho "$@" >> {asked}\n'
        f'[ "$1" = install ] && {shutil.which("ln")} -sf {shutil.which("bwrap")} {bindir}/bwrap\n'
        "exit 0\n"
    )
    (bindir / "apt-get").chmod(0o755)
    done = subprocess.run(
        [shutil.which("bash") or "bash", str(REPO_ROOT / "run"), "demo", "--help"],
        env={"PATH": str(bindir), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "installing Debian's bubblewrap" in done.stderr
    assert asked.read_text().splitlines()[-1].split() == ["install", "-y", "-qq", "bubblewrap"]
    assert (bindir / "bwrap").exists() and "usage: orchestrator demo" in done.stdout


# -------------------------------------------------------------- prerequisites first


async def test_the_demo_stops_at_once_without_a_sandbox(tmp_path: Path) -> None:
    address = dead_address()
    env = own_home(tmp_path, address, PATH=broken_path(tmp_path))
    began = time.monotonic()
    done = await orchestrator(env, "demo", limit=120)
    assert time.monotonic() - began < 60
    assert done.returncode == 2, done.stdout + done.stderr
    errors = done.stderr.strip().splitlines()
    assert len(errors) == 1, errors  # one line
    assert errors[0].startswith("error: the demo stops before starting anything")
    assert "bubblewrap" in errors[0] and 'mode = "none"' in errors[0]
    assert "demo --sandbox none" in errors[0] and "Fix: " in errors[0]
    assert not is_listening(address)  # no server was started, nor anything else
    assert not (tmp_path / "home" / "demo").exists()


async def test_build_and_worker_stop_before_starting_anything_without_a_sandbox(
    client: Client,
    temporal_server: DevServer,
    temporal_env: dict[str, str],
    tmp_path: Path,
    no_leftovers: None,
) -> None:
    with GitHubStandIn() as github:
        repo = tiny_project(tmp_path, github.url, {"a": []}, ONE_REVIEWER)
        env = {**temporal_env, "PATH": broken_path(tmp_path)}
        build = client.get_workflow_handle("build-link-shortener")
        before = await latest_run(build)  # another test's build may have run under this id
        async with build_worker(client, TASK_QUEUE):  # a worker of this machine polls
            refused = await orchestrator(env, "build", str(repo.design_dir))
        assert refused.returncode == 2, refused.stdout + refused.stderr
        line = refused.stderr.strip().splitlines()[0]
        assert line.startswith("error: `build` stops before starting anything")
        assert "bubblewrap cannot create a sandbox here" in line and 'mode = "none"' in line
        assert await latest_run(build) == before  # no workflow was started

        worker = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "worker", "--no-embedded", "--task-queue", "never-polled"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert worker.returncode == 2, worker.stdout + worker.stderr
    errors = worker.stderr.strip().splitlines()
    assert len(errors) == 1 and "bubblewrap" in errors[0] and "--without-sandbox" in errors[0]


# ---------------------------------------------------------------- holds are never silent


async def test_wait_prints_a_hold_at_once_with_commands_that_work(
    client: Client,
    temporal_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_leftovers: None,
) -> None:
    """A revoked key holds the build: `--wait` prints the hold, its reason and one pasteable
    command per choice, with elapsed time on its progress and no colour into a pipe."""
    rules = [writes_file_rule("a"), passes_review()]
    with (
        GitHubStandIn() as github,
        scripted_model({"rules": rules}, monkeypatch, github.url) as model,
    ):
        model.api_key = "a-key-nobody-holds"  # every request: 401, as for a revoked key
        repo = tiny_project(tmp_path, github.url, {"a": []}, ONE_REVIEWER)
        design = str(repo.design_dir)
        async with build_worker(client, TASK_QUEUE):
            held = await orchestrator(temporal_env, "build", design, "--wait")
            assert held.returncode == 3, held.stdout + held.stderr
            out = held.stdout
            assert re.search(r"^\[0:\d\d\] Build link-shortener: ", out, re.M), out
            assert ANSI.search(out) is None  # a pipe gets no colour
            assert "Held (failure: a): builder · a failed" in out and "401" in out
            commands = re.findall(r"^  (retry|skip|stop): (.+)$", out, re.M)
            assert [c for c, _ in commands] == ["retry", "skip", "stop"]
            retry = shlex.split(dict(commands)["retry"])
            assert retry[0].endswith("orchestrator") and retry[1:] == ["decide", design, "retry"]

            # On a terminal the hold is coloured, unless NO_COLOR says otherwise.
            shown = await asyncio.to_thread(on_a_terminal, temporal_env, "status", design)
            assert ANSI.search(shown), shown
            plain = await asyncio.to_thread(
                on_a_terminal, {**temporal_env, "NO_COLOR": "1"}, "status", design
            )
            assert ANSI.search(plain) is None and "Held (failure: a)" in plain

            model.api_key = None  # the person fixed the key, then pastes the command
            sent = await asyncio.to_thread(
                subprocess.run, retry, env=temporal_env, capture_output=True, text=True,
                timeout=120, check=False,
            )  # fmt: skip
            assert sent.returncode == 0, sent.stdout + sent.stderr
            assert "sent decide failure retry to build-link-shortener" in sent.stdout
            finished = await orchestrator(temporal_env, "build", design, "--wait")
    assert finished.returncode == 0, finished.stdout + finished.stderr


def on_a_terminal(env: dict[str, str], *args: str) -> str:
    """`orchestrator <args>` with its output on a pseudo-terminal, as a person sees it."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "starter", *args],
        cwd=REPO_ROOT,
        env={**env, "TERM": "xterm"},
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=120)
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


# ------------------------------------------------------- decide, finished loops, stop


async def test_decide_refuses_a_typo_before_starting_anything(tmp_path: Path) -> None:
    address = dead_address()
    repo = make_project(tmp_path / "p")
    env = own_home(tmp_path, address)
    refused = await orchestrator(env, "decide", str(repo.design_dir), "retyr")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "'retyr' is not a choice any prompt offers" in refused.stderr
    assert "retry, skip, stop" in refused.stderr
    assert not is_listening(address)  # no server started
    assert not (tmp_path / "home" / "worker.pid").exists()  # no worker either


async def test_a_mistyped_directory_starts_nothing(tmp_path: Path) -> None:
    address = dead_address()
    env = own_home(tmp_path, address)
    missing = str(tmp_path / "design-docs" / "active" / "link-shortner")
    for verb in (["status"], ["pause"], ["cancel"], ["decide", "retry"], ["build"]):
        refused = await orchestrator(env, verb[0], missing, *verb[1:])
        assert refused.returncode == 2, (verb, refused.stdout, refused.stderr)
        assert f"{missing}: design directory not found" in refused.stderr, refused.stderr
    assert not is_listening(address)  # no server started
    assert not (tmp_path / "home" / "worker.pid").exists()  # no worker either


async def test_stop_stops_the_worker_and_the_server_the_cli_started(tmp_path: Path) -> None:
    address = dead_address()
    home = tmp_path / "home"
    env = own_home(tmp_path, address, ANTHROPIC_API_KEY="")
    repo = make_project(tmp_path / "p")
    try:
        # `design` starts the embedded server and a background worker, then the loop.
        started = await orchestrator(env, "design", str(repo.design_dir), limit=180)
        assert started.returncode == 0, started.stdout + started.stderr
        assert is_listening(address)
        worker_pid = int((home / "worker.pid").read_text())

        kept = await orchestrator(env, "stop", "--keep-server")
        assert kept.returncode == 0 and f"stopped the background worker (pid {worker_pid})" in (
            kept.stdout
        )
        assert not process_alive(worker_pid)
        assert is_listening(address)

        stopped = await orchestrator(env, "stop")
        assert stopped.returncode == 0, stopped.stderr
        assert "stopped the embedded Temporal server" in stopped.stdout
        assert not is_listening(address)
        assert processes_of(home) == []  # nothing of its own is left
    finally:
        for line in processes_of(home):
            os.kill(int(line.split(":")[0]), signal.SIGKILL)


# --------------------------------------------------------------------------- the demo


async def test_ctrl_c_on_the_demo_ends_its_loops_and_a_rerun_finishes(
    client: Client, interrupted_demos: InterruptedDemos
) -> None:
    home, demo_env = interrupted_demos.home, interrupted_demos.env
    out = interrupted_demos.ctrl_c_out
    assert interrupted_demos.ctrl_c_code == 130, out[-3000:]
    assert "Interrupted: ending the demo's loops" in out
    assert "The demo's loops are cancelled" in out and "demo --clean" in out
    assert "Traceback" not in out  # the worker's log went to its file
    assert interrupted_demos.build_after_ctrl_c.status == WorkflowExecutionStatus.CANCELED
    assert interrupted_demos.running_after_ctrl_c == []

    # The rerun (after the next demo was SIGKILLed too: the test below) finishes.
    second = interrupted_demos.rerun
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    out = second.stdout
    assert out.rstrip().splitlines()[-1] == "SHIPPED"
    assert re.search(r"^\[0:\d\d\]   01-models    started", out, re.M)  # elapsed time

    # After the demo, its loops answer `status` and `metrics`: the CLI serves the demo's own
    # task queue itself (no background worker is started on the default one).
    design = demo_dir(out)
    metrics = await orchestrator(demo_env, "metrics", design)
    assert metrics.returncode == 0, metrics.stdout + metrics.stderr
    assert "build (COMPLETED):" in metrics.stdout and "No worker polls" not in metrics.stderr
    assert "release (COMPLETED):" in metrics.stdout
    assert not (home / "worker.pid").exists()
    # Verbs on finished loops say what happened and what comes next.
    approve = await orchestrator(demo_env, "approve", design)
    assert approve.returncode == 2
    assert "design-link-shortener is approved already (DESIGN_DOC_APPROVED)" in approve.stderr
    assert "Next: the build has finished too (ALL_SUBTASKS_MERGEABLE)" in approve.stderr
    pause = await orchestrator(demo_env, "pause", design)
    assert "build-link-shortener has finished (ALL_SUBTASKS_MERGEABLE)" in pause.stderr
    # The Web UI's summary of each loop, set at its start.
    described = await client.get_workflow_handle("build-link-shortener").describe()
    summary = await described.static_summary()
    assert summary == (
        "build link-shortener in repo: every subtask to a pull request, then integration"
    )
    assert f"design directory: `{design}`" in (await described.static_details() or "")

    cleaned = await orchestrator(demo_env, "demo", "--clean")
    assert cleaned.returncode == 0, cleaned.stderr
    # The Ctrl-C'd and the killed demo's; the rerun's is where --dir said.
    assert "removed 2 demo directories" in cleaned.stdout
    assert list((home / "demo").iterdir()) == []


async def test_a_killed_demo_leaves_nothing_that_stops_the_next_one(
    interrupted_demos: InterruptedDemos,
) -> None:
    """SIGKILL mid-build: the loops stay on a queue nobody polls. `status` says so, and the
    next demo (in a directory of the person's choosing) ends the old build and the subtask it
    left running, instead of waiting for nothing, and runs both loops end to end, saying what
    it does on its stdout."""
    shown = interrupted_demos.killed_status
    assert shown.returncode == 0, shown.stderr
    assert "build (build-link-shortener): RUNNING, but nothing serves it" in shown.stdout
    assert "which no worker polls" in shown.stdout and "demo --clean" in shown.stdout

    scratch, demo_env = interrupted_demos.rerun_dir, interrupted_demos.env
    second = interrupted_demos.rerun
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    out = second.stdout
    # The killed demo's build is terminated, and its subtask with it: nothing is found stale.
    assert re.search(r"ended build-link-shortener-\S+, left running by the earlier build-", out)
    assert "terminated stale" not in out, out
    assert str(scratch / "repo") in out  # the scratch repository --dir says
    assert "SIMULATION" in out
    assert "temporal workflow signal --workflow-id design-link-shortener --name approved" in out
    assert "DESIGN_DOC_APPROVED" in out
    assert out.count(" PR http://127.0.0.1:") == 5 + 1  # five subtasks, then the integration
    assert "== integration: passed: integration/link-shortener (http://127.0.0.1:" in out
    assert "build-reviews/INTEGRATION.md" in out
    assert "Web UI:" in out and "cost" in out
    # Each PR is followed: one red CI fixed, one review answered, as they happen.
    assert "CI (simulated) tests: failure on 03-codec's PR #" in out, out
    assert "03-codec     ci round 1 (tests: failure): fix " in out
    assert "red CI fixed" in out and "03-codec     mergeable" in out
    assert "alice (simulated reviewer) requests changes on 02-storage's PR #" in out
    assert "reply on PR #" in out and "by orchestrator-bot: Addressed in " in out
    assert "== build: ALL_SUBTASKS_MERGEABLE" in out  # every followed PR ended clean
    with GitHubStandIn(state_path=str(scratch / "github.json")) as github:  # its last state
        demo_forge_did_what_it_said(scratch, github)
        demo_forked_and_merged(scratch, out, github)
    # The release, each gate sent as a person sends it, ends SHIPPED with its three reports.
    for gate in ("!docs", "!critic", "!security", "!verify"):
        assert f"signal --workflow-id release-link-shortener --name '{gate}'" in out, gate
    release = scratch / "repo/design-docs/active/link-shortener/release"
    for report in ("CRITIQUE.md", "SECURITY.md", "VERIFY.md"):
        assert f"  {release / report}" in out and (release / report).is_file(), report
    assert "Verdict: **SHIPPED**" in (release / "VERIFY.md").read_text()
    assert "release-link-shortener: SHIPPED" in out
    assert out.rstrip().splitlines()[-1] == "SHIPPED"
    shown = await orchestrator(demo_env, "status", str(release.parent))
    assert "completed: ALL_SUBTASKS_MERGEABLE" in shown.stdout, shown.stdout
    assert "release (release-link-shortener): COMPLETED" in shown.stdout
    assert "completed: SHIPPED; reports: " in shown.stdout


def demo_forge_did_what_it_said(scratch: Path, github: GitHubStandIn) -> None:
    """On the demo's GitHub stand-in: the codec PR's first head red, the fixer's head green
    and holding the test CI asked for; the one review comment with exactly one reply, by
    the orchestrator's account, naming the fix."""
    pulls = {p["head"]["ref"]: p for p in github.pulls("demo/link-shortener")}
    runs = github.checks.runs["demo/link-shortener"]
    fixed = pulls["feat/03-codec"]["head"]["sha"]
    red = git_out(scratch / "origin.git", "rev-parse", f"{fixed}^")  # one push: the fix
    assert [r["conclusion"] for r in runs if r["head_sha"] == red] == ["failure"]
    assert [r["conclusion"] for r in runs if r["head_sha"] == fixed] == ["success"]
    assert git_out(scratch / "origin.git", "cat-file", "-t", f"{fixed}:{CI_TEST}") == "blob"
    comments = github.reviews.comments_of("demo/link-shortener", pulls["feat/02-storage"]["number"])
    (asked,) = [c for c in comments if c["in_reply_to_id"] is None]
    (reply,) = [c for c in comments if c["in_reply_to_id"] is not None]
    assert asked["user"] == "alice" and reply["in_reply_to_id"] == asked["id"]
    assert reply["user"] == github.login and reply["body"].startswith("Addressed in ")


def demo_forked_and_merged(scratch: Path, out: str, github: GitHubStandIn) -> None:
    """The demo forked 05-cli before it started and printed what a person types; both
    attempts were reviewed, FORK-05-cli.md recommends B, and the demo's `merge` made B the
    subtask's branch: its PR carries B's commits, A is kept as archive/... and is gone as
    fork/05-cli-A from the remote."""
    design, origin = demo_dir(out), scratch / "origin.git"
    report = f"{design}/build-reviews/{FORKED_SUBTASK}/FORK-{FORKED_SUBTASK}.md"
    assert f"fork {design} {FORKED_SUBTASK} --approach A " in out, out
    assert "05-cli@A     passed after 1 round(s): code-correctness 0.97" in out
    assert "05-cli@B     passed after 1 round(s): code-correctness 0.99" in out
    assert f"05-cli       fork 05-cli compared: {report}" in out
    assert f" merge {design} B {FORKED_SUBTASK}\n" in out
    assert "!merge B (05-cli): fork 05-cli: B merged (picked by a person); kept " in out
    assert "A person must act" not in out, "the demo answers its own pick"
    text = Path(report).read_text()
    assert "Recommended: **B**" in text and FORK_APPROACHES["A"] in text
    # The PR of 05-cli is opened from feat/05-cli, which carries B's commits and tests.
    head = next(p for p in github.pulls("demo/link-shortener") if p["head"]["ref"] == "feat/05-cli")
    head_sha = head["head"]["sha"]
    subjects = git_out(origin, "log", "--format=%s", head_sha).splitlines()
    assert "Merge branch 'feat/04-service' into fork/05-cli-B" in subjects, subjects
    # B, promoted, is gone as a fork branch too: its commits live on as feat/05-cli.
    assert git_out(origin, "rev-parse", "--verify", "-q", "refs/heads/fork/05-cli-B") == ""
    assert "def test_invalid_input_exits_2" in git_out(origin, "show", f"{head_sha}:{FORK_A_TEST}")
    # A: gone as a fork branch, kept as one archive with its own test.
    assert git_out(origin, "rev-parse", "--verify", "-q", "refs/heads/fork/05-cli-A") == ""
    fmt = "--format=%(refname:short)"
    archives = git_out(origin, "for-each-ref", fmt, "refs/heads/archive/fork/").splitlines()
    assert len(archives) == 1 and archives[0].startswith("archive/fork/05-cli-A-"), archives
    kept = git_out(origin, "show", f"{archives[0]}:{FORK_A_TEST}")
    assert kept == FORK_A_TEXT.strip()


async def test_a_hold_in_the_demo_is_printed_and_its_command_works(
    interrupted_demos: InterruptedDemos,
) -> None:
    """The model refuses the key: the demo says so at once, with the commands, and keeps
    its loops alive; the printed `retry`, pasted after the fix, lets it go on to its build
    (where the Ctrl-C test's Ctrl-C ends it; the rerun runs a demo to the end)."""
    held = interrupted_demos.held_out
    assert "A person must act: the demo waits for this" in held
    assert "Held (failure: consistency" in held and "401" in held
    sent = interrupted_demos.retry_sent
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "sent decide failure retry to design-link-shortener" in sent.stdout
    out = interrupted_demos.ctrl_c_out
    after = out[len(held) :]
    assert DESIGN_DOC_APPROVED in after and " started (running now:" in after, out[-3000:]
    assert "Traceback" not in out
