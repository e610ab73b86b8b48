"""The release loop end to end (seed 004's gates): `!critic` -> `!security` -> `!verify`, each
sent by a person, in order. Real Temporal, real git, the stand-in model as critic, security
reviewer, verifier and fixer; the plain `temporal` CLI as a person would type it."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import ActivityEnvironment

from activities.release.activities import scan
from activities.tracker import read_tracker
from cli.holds import release_answers
from contracts.human import DecideInput
from contracts.release import ReleaseInput, ReleaseResult, ReleaseStatus, ScanRequest
from contracts.sandbox import SandboxConfig
from runtime.server import DevServer
from simulators.github_api import GitHubStandIn
from tests.support import record_history, scripted_model, temporal_cli, until, write
from tests.workflows.builds import (
    BRANCH,
    ONE_REVIEWER,
    git_out,
    integrated,
    tiny_project,
    waits_for,
)
from tests.workflows.builds import release_status as status
from worker import build_worker
from workflows.release import ReleaseWorkflow


async def test_gates_in_order_ship_with_three_reports_and_a_fix_round(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Out of order refused; a high security finding gets a fixer round; SHIPPED."""
    rules = [
        {
            "match": {"role": "release-security", "scope": "injection", "round": 1},
            "submit": {"score": 0.6},
        },
        {
            "match": {"role": "fixer", "scope": "release-security"},
            "steps": [write("src/escaped.txt", "escaped\n")],
            "submit": {"summary": "Escaped the input."},
        },
    ]
    with scripted_model({"rules": rules}, monkeypatch, github.url) as messages:
        repo = integrated(tmp_path, github.url, "test -f src/escaped.txt")
        async with build_worker(client, task_queue):
            handle = await client.start_workflow(
                ReleaseWorkflow.run,
                ReleaseInput(design_dir=str(repo.design_dir)),
                id=f"release-link-shortener-{uuid.uuid4().hex[:6]}",
                task_queue=task_queue,
            )
            await waits_for(handle, "!critic")
            await handle.signal(ReleaseWorkflow.verify)
            refused = await until(
                lambda: _notice(handle, "refused !verify"), what="the refusal of !verify"
            )
            assert "!critic comes first" in refused, refused
            await handle.signal(ReleaseWorkflow.say, "looks good")
            st = await until(lambda: _hinted(handle), what="a hint")
            assert "type !critic" in st.hint, st.hint
            await handle.signal(ReleaseWorkflow.command, "!critic")
            st = await waits_for(handle, "!security")
            critic = next(s for s in st.stages if s.name == "critic")
            assert critic.status == "done" and critic.report, critic
            await handle.signal(ReleaseWorkflow.security)
            await waits_for(handle, "!verify")
            await handle.signal(ReleaseWorkflow.verify)
            result = ReleaseResult.model_validate(await handle.result())
            await record_history(handle)

    assert result.result == "SHIPPED", result
    release = repo.design_dir / "release"
    critique = (release / "CRITIQUE.md").read_text()
    assert "| completeness against acceptance criteria | 0.85 |" in critique, critique
    security = (release / "SECURITY.md").read_text()
    assert "skipped: bandit not installed" in security, security
    assert "Escaped the input." in security
    verify = (release / "VERIFY.md").read_text()
    assert "Verdict: **SHIPPED**" in verify and "| `test -f src/escaped.txt` | pass |" in verify
    assert "| a | exists |" in verify, verify
    # The fixer committed on the integration branch, not on the person's checkout.
    assert git_out(repo.root, "show", f"{BRANCH}:src/escaped.txt") == "escaped"
    assert not (repo.root / "src/escaped.txt").exists()
    fixers = [r for r in messages.requests if r.role == "fixer"]
    assert {r.scope for r in fixers} == {"release-security"}
    rows = {
        r.subtask: r
        for r in read_tracker(str(repo.root / "design-docs/orchestration/pr_tracker.md"))[
            "link-shortener"
        ]
    }
    assert [rows[n].status for n in ("critic", "security", "verify")] == ["passed"] * 3
    assert rows["a"].status == "pr_created"  # the build's rows stay
    assert rows["verify"].notes.endswith("SHIPPED"), rows["verify"]


async def _notice(handle: WorkflowHandle, start: str) -> str | None:
    st = await status(handle)
    return st.notice if st.notice.startswith(start) else None


async def _hinted(handle: WorkflowHandle) -> ReleaseStatus | None:
    st = await status(handle)
    return st if st.hint else None


async def test_plain_temporal_cli_and_a_failing_suite_is_not_shipped(
    client: Client,
    temporal_server: DevServer,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Started and driven with `temporal workflow start/signal`; the suite fails, no fixer
    round is left ([release] max_fix_rounds = 0), a person keeps it: NOT_SHIPPED."""
    wid = f"release-link-shortener-{uuid.uuid4().hex[:6]}"

    def cli(*args: str) -> None:
        done = temporal_cli(temporal_server.address, "workflow", *args, "--workflow-id", wid)
        assert done.returncode == 0, done.stderr

    rel = "design-docs/active/link-shortener/docs"
    docs = {
        "match": {"role": "release-docs"},
        "steps": [
            write(f"{rel}/{n}", f"# {n}\n") for n in ("OVERVIEW.md", "CHANGELOG.md", "API.md")
        ],
        "submit": {"summary": "Wrote the docs."},
    }
    with scripted_model({"rules": [docs]}, monkeypatch, github.url):
        repo = integrated(tmp_path, github.url, "test -f src/missing.txt", "max_fix_rounds = 0")
        async with build_worker(client, task_queue):
            payload = json.dumps({"design_dir": str(repo.design_dir)})
            cli(
                "start", "--type", "ReleaseWorkflow", "--task-queue", task_queue, "--input", payload
            )
            handle = client.get_workflow_handle(wid)
            await waits_for(handle, "!critic")
            cli("signal", "--name", "!docs")  # the docs agent, while the loop waits for a gate

            async def documented() -> ReleaseStatus | None:
                st = await status(handle)
                return st if st.docs == "done" else None

            st = await until(documented, limit=120, what="the docs")
            assert len(st.docs_files) == 3 and not st.notice, st
            for gate in ("!critic", "!security", "!verify"):
                await waits_for(handle, gate)
                cli("signal", "--name", gate)

            async def asked() -> ReleaseStatus | None:
                st = await status(handle)
                return st if st.decisions else None

            st = await until(asked, limit=120, what="the verify decision")
            assert st.decisions[0].scope == "verify", st.decisions
            # `status` prints one pasteable command per choice (cli/holds.py): paste `skip`.
            monkeypatch.setenv("TEMPORAL_ADDRESS", temporal_server.address)
            lines = release_answers(st, wid)
            (skip,) = [line.split(": ", 1)[1] for line in lines if line.startswith("  skip: ")]
            pasted = subprocess.run(shlex.split(skip), capture_output=True, text=True, timeout=60)
            assert pasted.returncode == 0, pasted.stderr
            result = ReleaseResult.model_validate(await handle.result())

    assert result.result == "NOT_SHIPPED", result
    verify = (repo.design_dir / "release" / "VERIFY.md").read_text()
    assert "Verdict: **NOT_SHIPPED**" in verify
    assert "| `test -f src/missing.txt` | FAIL |" in verify
    assert git_out(repo.root, "show", f"{BRANCH}:{rel}/API.md") == "# API.md"


async def test_a_release_before_integration_holds_with_the_fix(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with scripted_model({"rules": []}, monkeypatch, github.url):
        repo = tiny_project(tmp_path, github.url, {"a": []}, ONE_REVIEWER)
        async with build_worker(client, task_queue):
            handle = await client.start_workflow(
                ReleaseWorkflow.run,
                ReleaseInput(design_dir=str(repo.design_dir)),
                id=f"release-link-shortener-{uuid.uuid4().hex[:6]}",
                task_queue=task_queue,
            )

            async def held() -> ReleaseStatus | None:
                st = await status(handle)
                return st if st.decisions else None

            st = await until(held, what="the hold")
            prompt = st.decisions[0].prompt
            assert "has not integrated" in prompt and "orchestrator build" in prompt, prompt
            await handle.signal(ReleaseWorkflow.critic)
            st = await until(lambda: _notice(handle, "refused !critic"), what="refusal")
            await handle.signal(ReleaseWorkflow.decide, DecideInput(choice="stop"))
            result = ReleaseResult.model_validate(await handle.result())
    assert result.result == "NOT_SHIPPED" and "has not integrated" in result.stop_reason


async def test_bandit_runs_when_installed_and_its_findings_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real bandit (a dev dependency) on PATH runs over the worktree; each finding keeps
    its severity, location and log, so the parser is held to what bandit really prints."""
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "app.py").write_text(
        "import pickle\nimport subprocess\n\n\n"
        "def load(blob: bytes) -> object:\n    return pickle.loads(blob)\n\n\n"
        "def run(cmd: str) -> int:\n    return subprocess.call(cmd, shell=True)\n"
    )
    (repo / ".venv").mkdir()
    (repo / ".venv" / "ignored.py").write_text("eval(input())\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "src"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "app"], cwd=repo, check=True)
    bindir = Path(sys.executable).parent
    assert (bindir / "bandit").exists(), "bandit is a dev dependency (pyproject.toml)"
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    req = ScanRequest(
        workdir=str(repo), log_dir=str(tmp_path / "logs"), sandbox=SandboxConfig(mode="none")
    )
    result = await ActivityEnvironment().run(scan, req)
    found = {(f.severity.value, f.location, f.description.split(":")[0]) for f in result.findings}
    # B403: import pickle (low), B404: import subprocess (low), B301: pickle.loads (medium),
    # B602: subprocess call with shell=True (high); nothing from .venv.
    assert found == {
        ("low", "src/app.py:1", "B403"),
        ("low", "src/app.py:2", "B404"),
        ("medium", "src/app.py:6", "B301"),
        ("high", "src/app.py:10", "B602"),
    }, result.findings
    assert all(f.evidence.endswith("bandit.log") for f in result.findings)
    assert result.notes[0].startswith("bandit ran (exit 1): 4 finding(s)"), result.notes
    assert "network" in result.notes[1]
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    skipped = await ActivityEnvironment().run(scan, req)
    assert skipped.notes[0] == "skipped: bandit not installed" and not skipped.findings
