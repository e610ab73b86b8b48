"""Done-when of issue 12: a 7-subtask build pushes every branch to an HTTPS origin that
accepts only GITHUB_TOKEN, and the token is then found nowhere."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from contracts.build import BuildInput, BuildResult
from simulators.github_api import GitHubStandIn
from tests.git.https_server import trusted
from tests.support import scripted_model
from tests.workflows.builds import (
    ONE_REVIEWER,
    REPO,
    git_out,
    passes_review,
    tiny_project,
    wid,
    writes_file_rule,
)
from worker import build_worker
from workflows.build import BuildWorkflow

SUBTASKS = {
    "a": [],
    "b": ["a"],
    "c": ["a"],
    "d": ["b", "c"],
    "e": [],
    "f": ["e"],
    "g": ["d", "f"],
}


def files_holding(root: Path, secret: bytes) -> list[str]:
    return [
        str(p)
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink() and secret in p.read_bytes()
    ]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
async def test_seven_subtasks_push_over_https_and_the_token_is_nowhere(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = f"ghp_{uuid.uuid4().hex}"
    scenario = {"rules": [*(writes_file_rule(n) for n in SUBTASKS), passes_review()]}
    with (
        GitHubStandIn(token=token) as github,
        scripted_model(scenario, monkeypatch, github.url),
    ):
        monkeypatch.setenv("GITHUB_TOKEN", token)
        repo = tiny_project(tmp_path, github.url, SUBTASKS, ONE_REVIEWER)
        toml = repo.root / "orchestrator.toml"
        toml.write_text(
            toml.read_text().replace("[forge]\n", '[forge]\ntoken_hosts = ["localhost"]\n')
        )
        subprocess.run(["git", "commit", "-qam", "token host"], cwd=repo.root, check=True,
                       env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
                            "PATH": "/usr/bin:/bin"})  # fmt: skip
        subprocess.run(["git", "push", "-q", "origin", "main"], cwd=repo.root, check=True)
        with trusted(repo.origin.parent, token, tmp_path, monkeypatch) as https:
            subprocess.run(
                ["git", "remote", "set-url", "origin", https.url(repo.origin.name)],
                cwd=repo.root,
                check=True,
            )
            async with build_worker(client, task_queue):
                handle = await client.start_workflow(
                    BuildWorkflow.run,
                    BuildInput(design_dir=str(repo.design_dir)),
                    id=wid(),
                    task_queue=task_queue,
                )
                result = BuildResult.model_validate(await handle.result())
                histories = [await handle.fetch_history()]
                for sub in SUBTASKS:
                    child = client.get_workflow_handle(f"{handle.id}-{sub}")
                    histories.append(await child.fetch_history())
        pulls = github.pulls(REPO)

    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
    # Every branch reached the HTTPS origin, through the token and nothing else.
    for sub in SUBTASKS:
        branch = f"feat/{sub}"
        assert git_out(repo.origin, "rev-parse", branch) == git_out(repo.root, "rev-parse", branch)
    integration = "integration/link-shortener"
    assert git_out(repo.origin, "rev-parse", integration) == git_out(
        repo.root, "rev-parse", integration
    )
    assert {p["head"]["ref"] for p in pulls} == {*(f"feat/{s}" for s in SUBTASKS), integration}
    # Review files are linked by repository path on the branch, never by a local path.
    for pr in pulls:
        assert str(tmp_path) not in pr["body"], pr["body"]
        assert f"/{REPO}/blob/{pr['head']['ref']}/" in pr["body"], pr["body"]
    assert https.credentials_seen and all(
        c == f"x-access-token:{token}" for c in https.credentials_seen
    )
    # ... and the token is in no file (repository, worktrees, transcripts, origin), no git
    # config, no remote URL, no log line and no workflow history.
    secret = token.encode()
    assert files_holding(tmp_path, secret) == []
    # The Temporal server's database and logs, and the worker's local state.
    assert files_holding(Path(os.environ["ORCHESTRATOR_HOME"]), secret) == []
    assert token not in git_out(repo.root, "config", "--list", "--show-origin")
    assert token not in git_out(repo.root, "remote", "-v")
    for history in histories:
        assert token not in history.to_json()
    out, err = capfd.readouterr()
    assert token not in out and token not in err and token not in caplog.text
