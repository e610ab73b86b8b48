"""orchestrator.toml: every value a loop cannot run with is refused at start.

Each refusal names the file, the key and the fix. The check is the one the
`project.resolve` activity runs when a loop starts, and the CLI runs it before
it connects to anything (exit 2).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.config import resolve_project
from contracts.design import DesignInput
from runtime.server import free_port
from tests.conftest import REPO_ROOT
from tests.support import until
from worker import build_worker
from workflows.design_review import DesignReviewWorkflow

ROLE_FILE = """---
name: security-reviewer
description: looks for injection and secrets
kind: review
---
Review the code for security problems.
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with a design directory and no orchestrator.toml yet."""
    root = tmp_path / "repo"
    design = root / "design-docs/active/feat"
    (design / "subplans").mkdir(parents=True)
    (design / "overview.md").write_text("# Feat\n\nA feature.\n")
    (design / "subplans/01-a.md").write_text("# A\n\n**Dependencies**: None\n")
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    return root


def design_of(root: Path) -> str:
    return str(root / "design-docs/active/feat")


def committed(root: Path) -> Path:
    """The repository with everything committed: a loop starts only from a commit."""
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "project", "--allow-empty"], check=True)
    return root


def refusal(root: Path, toml: str | bytes) -> str:
    path = root / "orchestrator.toml"
    if isinstance(toml, bytes):
        path.write_bytes(toml)
    else:
        path.write_text(toml, encoding="utf-8")
    with pytest.raises(ApplicationError) as info:
        resolve_project(design_of(root))
    err = info.value
    assert err.type == "ConfigError" and err.non_retryable
    assert err.message.startswith(f"{path}: "), err.message
    assert "Fix: " in err.message, err.message
    return err.message


CASES = [
    ("[agents]\ntimeout_s = -1\n", "[agents] timeout_s = -1", "set it above 0"),
    ("[agents]\ntimeout_s = 0\n", "[agents] timeout_s = 0", "set it above 0"),
    ("[agents]\ntimeout_s = inf\n", "[agents] timeout_s = inf", "use a finite number"),
    ("[agents]\nmax_turns = 0\n", "[agents] max_turns = 0", "set it to 1 or more"),
    ("[agents]\nmax_total_tokens = -5\n", "[agents] max_total_tokens = -5", "1 or more"),
    ("[agents]\ncommand_timeout_s = 0\n", "[agents] command_timeout_s = 0", "set it above 0"),
    ("[agents]\nheartbeat_timeout_s = 1\n", "[agents] heartbeat_timeout_s = 1", "2 or more"),
    ("[agents]\nretry_for_s = -1\n", "[agents] retry_for_s = -1", "0 or more"),
    ("[gates]\ntimeout_s = -30\n", "[gates] timeout_s = -30", "set it above 0"),
    ("[gates]\noutput_limit = 0\n", "[gates] output_limit = 0", "set it to 1 or more"),
    ("[gates]\nheartbeat_timeout_s = 5\n", "[gates] heartbeat_timeout_s = 5", "15 or more"),
    ("[budget]\nmax_cost_usd = -1\n", "[budget] max_cost_usd = -1", "delete the line for no limit"),
    ("[budget]\nmax_cost_usd = 0\n", "[budget] max_cost_usd = 0", "set it above 0"),
    ("[budget]\nmax_tokens = -100\n", "[budget] max_tokens = -100", "set it to 1 or more"),
    ("[prices.m]\ninput = -3.0\noutput = 15.0\n", "[prices.m] input = -3.0", "0 or more"),
    ("[prices.m]\ninput = 3.0\noutput = 15.0\ncache_read = -1\n", "[prices.m] cache_read", "0 or"),
    ("[reviewers]\ndesign = []\n", "[reviewers] design = []", "list at least 1 role"),
    ("[reviewers]\ncode = []\n", "[reviewers] code = []", "list at least 1 role"),
    ("threshold = 1.5\n", "threshold = 1.5", "set it to 1 or less"),
    ("max_concurrent_subtasks = 0\n", "max_concurrent_subtasks = 0", "set it to 1 or more"),
    ("[agents]\ntimout_s = 5\n", "[agents] timout_s is not a known key", "correct its spelling"),
    ('[gates]\ntimeout_s = "ten"\n', '[gates] timeout_s = "ten"', "right type"),
    ('[gates]\nlint = ["pylint"]\n', '[gates] lint[0] = "pylint"', "'ruff', 'flake8', 'eslint'"),
    ("[integration]\nmax_reopens = -1\n", "[integration] max_reopens = -1", "0 or more"),
    ('[release]\nfix_severity = "severe"\n', '[release] fix_severity = "severe"', "'high'"),
    ("[release]\nmax_fix_rounds = -1\n", "[release] max_fix_rounds = -1", "0 or more"),
    ('[patterns]\npath = "patterns"\n', '[patterns] path = "patterns"', "one under ~/"),
    ('[patterns]\npath = ""\n', '[patterns] path = ""', "name the library's directory"),
    ('[patterns]\npath = "/x/.git/p"\n', '[patterns] path = "/x/.git/p"', "name another"),
    ("[patterns]\noffer = 11\n", "[patterns] offer = 11", "set it to 10 or less"),
    ('[patterns]\ndir = "/x"\n', "[patterns] dir is not a known key", "(keys here: path, offer)"),
]


@pytest.mark.parametrize(("toml", "key", "fix"), CASES, ids=[c[1] for c in CASES])
def test_a_value_the_loop_cannot_run_with_is_refused(
    repo: Path, toml: str, key: str, fix: str
) -> None:
    message = refusal(repo, toml)
    assert key in message
    assert fix in message.split(key, 1)[1], message


def test_the_default_is_named_when_there_is_one(repo: Path) -> None:
    message = refusal(repo, "[agents]\ntimeout_s = -1\n")
    assert "or delete the line for the default (3600.0)" in message
    message = refusal(repo, "[reviewers]\ndesign = []\n")
    assert '"design-requirements", "design-performance", "design-architecture"' in message


def test_every_problem_is_listed_at_once(repo: Path) -> None:
    message = refusal(repo, "[agents]\ntimeout_s = -1\nmax_turns = 0\n[gates]\ntimeout_s = 0\n")
    for key in ("[agents] timeout_s", "[agents] max_turns", "[gates] timeout_s"):
        assert key in message


def test_an_unknown_reviewer_role_lists_the_known_ones(repo: Path) -> None:
    message = refusal(repo, '[reviewers]\ncode = ["code-corectness"]\n')
    assert '[reviewers] code names the unknown role "code-corectness"' in message
    assert "code-correctness, code-performance" in message
    assert ".orchestrator/agents/<name>.md" in message


def test_a_role_that_cannot_review_is_refused_as_a_reviewer(repo: Path) -> None:
    message = refusal(repo, '[reviewers]\ndesign = ["design-writer"]\n')
    assert '[reviewers] design names "design-writer"' in message
    assert "a role of kind 'edit' that cannot review" in message
    assert "Fix: use one of the reviewer roles" in message


def test_a_reviewer_listed_twice_is_refused(repo: Path) -> None:
    message = refusal(repo, '[reviewers]\ncode = ["code-correctness", "code-correctness"]\n')
    assert "code-correctness is listed more than once. Fix: name each role once" in message


def test_a_model_for_an_unknown_role_is_refused(repo: Path) -> None:
    message = refusal(repo, '[models.roles]\nbuilderr = "claude-opus-4-5"\n')
    assert "[models.roles] builderr is not a known role" in message and "builder" in message


def test_a_reviewer_defined_by_the_repository_is_accepted(repo: Path) -> None:
    agents = repo / "review-roles"
    agents.mkdir()
    (agents / "security-reviewer.md").write_text(ROLE_FILE)
    (repo / "orchestrator.toml").write_text(
        '[reviewers]\ncode = ["security-reviewer", "code-correctness"]\n'
        '[agents]\ndir = "review-roles"\n'
    )
    ctx = resolve_project(design_of(committed(repo)))
    assert ctx.config.reviewers.code == ["security-reviewer", "code-correctness"]
    # ...and only from the configured directory.
    (repo / "orchestrator.toml").write_text('[reviewers]\ncode = ["security-reviewer"]\n')
    with pytest.raises(ApplicationError) as refused:
        resolve_project(design_of(committed(repo)))
    message = refused.value.message
    assert "security-reviewer" in message and "add .orchestrator/agents/<name>.md" in message


def test_invalid_utf8_names_the_line(repo: Path) -> None:
    message = refusal(repo, b"threshold = 0.9\n# caf\xe9\n")
    assert "line 2 is not valid UTF-8 (byte 0xe9)" in message
    assert "Fix: save the file as UTF-8" in message


def test_good_values_and_defaults_still_load(repo: Path) -> None:
    (repo / "orchestrator.toml").write_text(
        "[agents]\ntimeout_s = 0.5\nretry_for_s = 0\nheartbeat_timeout_s = 2\n"
        "[gates]\nheartbeat_timeout_s = 15\n"
        "[budget]\nmax_cost_usd = 0.01\nmax_tokens = 1\n"
        "[prices.free]\ninput = 0\noutput = 0\n"
    )
    cfg = resolve_project(design_of(committed(repo))).config
    assert cfg.agents.timeout_s == 0.5 and cfg.agents.retry_for_s == 0
    assert cfg.budget.max_cost_usd == 0.01 and cfg.prices["free"].input == 0
    (repo / "orchestrator.toml").unlink()
    cfg = resolve_project(design_of(committed(repo))).config
    assert cfg.agents.timeout_s == 3600.0 and cfg.gates.heartbeat_timeout_s == 30.0


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    # Nothing answers at this address: a refusal must come before any connection.
    env = {**os.environ, "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}"}
    return subprocess.run(
        [sys.executable, "-m", "starter", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("verb", ["design", "build", "plan"])
def test_the_cli_refuses_before_starting_anything(repo: Path, verb: str) -> None:
    (repo / "orchestrator.toml").write_text("[agents]\ntimeout_s = -1\n")
    extra = ["--no-embedded"]
    done = cli(verb, design_of(repo), *extra)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"error: {repo / 'orchestrator.toml'}: [agents] timeout_s = -1")
    assert "Fix: set it above 0" in done.stderr
    assert "Temporal" not in done.stderr  # refused before connecting
    assert done.stdout == ""


def test_the_cli_refuses_a_design_outside_a_repository(tmp_path: Path) -> None:
    design = tmp_path / "feat"
    design.mkdir()
    (design / "overview.md").write_text("# Feat\n")
    done = cli("design", str(design), "--no-embedded")
    assert done.returncode == 2
    assert "not inside a git repository. Fix: run `git init`" in done.stderr


async def test_a_loop_started_without_the_cli_is_refused_not_wedged(
    client: Client, task_queue: str, repo: Path
) -> None:
    """From the plain `temporal` CLI nothing checks first: the loop's first step refuses it.

    `[agents] timeout_s = -1` used to reach `execute_activity` and fail the workflow
    task on every attempt, forever. Now the loop holds it for a person (a failure
    decision) with the file, key and fix: fix the file, then `retry`.
    """
    (repo / "orchestrator.toml").write_text("[agents]\ntimeout_s = -1\n")
    key = "[agents] timeout_s = -1"
    async with build_worker(client, task_queue):
        handle = await client.start_workflow(
            DesignReviewWorkflow.run,
            DesignInput(design_dir=design_of(repo)),
            id=f"config-{task_queue}",
            task_queue=task_queue,
        )

        async def refused() -> str:
            st = await handle.query(DesignReviewWorkflow.status)
            held = [d.failure for d in st.decisions if d.kind == "failure" and d.failure]
            return " ".join(f.error for f in held)

        try:
            message = await until(refused, limit=60, what="the refusal")
        finally:
            with contextlib.suppress(RPCError):
                await handle.terminate("test done")
    assert key in message and "Fix: set it above 0" in message, message
    assert str(repo / "orchestrator.toml") in message
