"""HTTPS remotes: GITHUB_TOKEN reaches git through a per-call credential helper, nowhere else.

A real HTTPS git server (`git http-backend` behind TLS with a self-signed
certificate) accepts only Basic auth with the token as password.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from activities.git import activities as git_activities
from activities.git.remote import CREDENTIAL_HELPER, remote_auth
from contracts.git import PushRequest, WorktreeRequest
from tests.git.gitutil import Repos, commit_file, git
from tests.git.https_server import TOKEN, GitHttpsServer

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def _feature_branch(repos: Repos) -> str:
    git(repos.root, "switch", "-q", "-c", "feat/01-types")
    commit_file(repos.root, "src/types.py", "X = 1\n", "types")
    return "feat/01-types"


def _push(repos: Repos, branch: str, token_hosts: list[str]) -> None:
    git_activities.push_branch(
        PushRequest(path=str(repos.root), branch=branch, token_hosts=token_hosts)
    )


def _files_containing(root: Path, needle: str) -> list[str]:
    data = needle.encode()
    return [
        str(p)
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink() and data in p.read_bytes()
    ]


def test_push_over_https_with_the_token(
    repos: Repos, server: GitHttpsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    branch = _feature_branch(repos)

    _push(repos, branch, ["localhost"])

    assert git(repos.origin, "rev-parse", branch) == git(repos.root, "rev-parse", branch)
    assert f"x-access-token:{TOKEN}" in server.credentials_seen
    # The token is on no disk the repository owns, nor in its remote URL.
    assert _files_containing(repos.root / ".git", TOKEN) == []
    assert _files_containing(repos.origin, TOKEN) == []
    assert git(repos.root, "remote", "get-url", "origin") == server.url(repos.origin.name)
    assert TOKEN not in git(repos.root, "config", "--list", "--show-origin")


def test_fetch_over_https_restores_a_pushed_branch(
    repos: Repos, server: GitHttpsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    branch = _feature_branch(repos)
    _push(repos, branch, ["localhost"])
    git(repos.root, "switch", "-q", "main")
    git(repos.root, "branch", "-q", "-D", branch)

    wt = git_activities.ensure_worktree(
        WorktreeRequest(repo_root=str(repos.root), subtask="01-types", token_hosts=["localhost"])
    )

    assert wt.created and wt.has_own_work
    assert wt.head == git(repos.origin, "rev-parse", branch)
    assert _files_containing(repos.root / ".git", TOKEN) == []


def test_a_wrong_token_stops_with_what_to_configure(
    repos: Repos, server: GitHttpsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "ghp_wrong_token_abcdef123456"
    monkeypatch.setenv("GITHUB_TOKEN", wrong)
    branch = _feature_branch(repos)

    with pytest.raises(ApplicationError) as err:
        _push(repos, branch, ["localhost"])

    assert err.value.non_retryable and err.value.type == "GitAuthFailed"
    message = str(err.value)
    assert "GITHUB_TOKEN" in message and "push" in message and "SSH remote" in message
    assert wrong not in message and TOKEN not in message
    assert f"x-access-token:{wrong}" in server.credentials_seen
    assert _files_containing(repos.root / ".git", wrong) == []


def test_a_missing_token_says_to_set_it(
    repos: Repos, server: GitHttpsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    branch = _feature_branch(repos)

    with pytest.raises(ApplicationError) as err:
        _push(repos, branch, ["localhost"])

    assert err.value.non_retryable and err.value.type == "GitAuthFailed"
    assert "set GITHUB_TOKEN" in str(err.value)
    assert server.credentials_seen == []


def test_a_host_outside_token_hosts_never_gets_the_token(
    repos: Repos, server: GitHttpsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    branch = _feature_branch(repos)

    with pytest.raises(ApplicationError) as err:
        _push(repos, branch, [])

    assert err.value.non_retryable and err.value.type == "GitAuthFailed"
    assert "token_hosts" in str(err.value) and "localhost" in str(err.value)
    assert TOKEN not in str(err.value)
    assert server.requests  # it asked, and was offered nothing
    assert server.credentials_seen == []


def test_a_configured_credential_helper_is_not_asked(
    repos: Repos, server: GitHttpsServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Helpers in the repository's config are repository code: reset, never run."""
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    marker = tmp_path / "helper-ran"
    git(repos.root, "config", "credential.helper", f"!f() {{ env > {marker}; }}; f")
    branch = _feature_branch(repos)

    _push(repos, branch, ["localhost"])

    assert not marker.exists()


def test_a_missing_repository_is_not_retried(
    repos: Repos, server: GitHttpsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    git(repos.root, "remote", "set-url", "origin", server.url("missing.git"))
    branch = _feature_branch(repos)

    with pytest.raises(ApplicationError) as err:
        _push(repos, branch, ["localhost"])

    assert err.value.non_retryable and err.value.type == "RemoteNotFound"
    assert "remote URL" in str(err.value) and TOKEN not in str(err.value)


def test_an_unreachable_server_is_retried(repos: Repos, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    git(repos.root, "remote", "set-url", "origin", f"https://localhost:{port}/origin.git")
    branch = _feature_branch(repos)

    with pytest.raises(ApplicationError) as err:
        _push(repos, branch, ["localhost"])

    assert not err.value.non_retryable and err.value.type == "GitCommandFailed"
    assert TOKEN not in str(err.value)


def test_the_token_is_not_on_the_command_line(
    repos: Repos, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    git(repos.root, "remote", "set-url", "origin", "https://github.com/o/r.git")

    auth = remote_auth(str(repos.root), "origin", [])
    other = remote_auth(str(repos.root), "https://example.com/o/r.git", [])

    assert TOKEN not in " ".join(auth.config)
    assert "credential.https://github.com.helper=" + CREDENTIAL_HELPER in auth.config
    assert auth.config.index("credential.helper=") < auth.config.index(
        "credential.https://github.com.helper=" + CREDENTIAL_HELPER
    )
    assert auth.env["GITHUB_TOKEN"] == TOKEN and auth.env["GIT_TERMINAL_PROMPT"] == "0"
    assert "GITHUB_TOKEN" not in other.env
    assert not any("helper=!" in c for c in other.config)


def test_ssh_and_path_remotes_get_no_token(repos: Repos, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    for url in ("git@github.com:o/r.git", "ssh://git@github.com/o/r.git", str(repos.origin)):
        git(repos.root, "remote", "set-url", "origin", url)
        auth = remote_auth(str(repos.root), "origin", ["localhost"])
        assert "GITHUB_TOKEN" not in auth.env, url
        assert not any("helper=!" in c for c in auth.config), url


def test_the_api_url_host_gets_the_token(repos: Repos, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", "https://ghe.example.com/api/v3")
    git(repos.root, "remote", "set-url", "origin", "https://ghe.example.com/o/r.git")

    auth = remote_auth(str(repos.root), "origin", [])

    assert auth.token_hosts == ("ghe.example.com",)


def test_a_remote_that_also_pushes_over_ssh_gets_no_token(
    repos: Repos, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    git(repos.root, "remote", "set-url", "origin", "https://github.com/o/r.git")
    git(repos.root, "remote", "set-url", "--push", "origin", "git@github.com:o/r.git")

    auth = remote_auth(str(repos.root), "origin", [])

    assert "GITHUB_TOKEN" not in auth.env


def test_no_git_command_line_or_log_holds_the_token(
    repos: Repos,
    server: GitHttpsServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every git the orchestrator starts is recorded (a wrapper before the real git on PATH)."""
    real_git = shutil.which("git")
    assert real_git
    bin_dir, record = tmp_path / "bin", tmp_path / "argv.log"
    bin_dir.mkdir()
    wrapper = bin_dir / "git"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {record}\nexec {real_git} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG)
    branch = _feature_branch(repos)

    _push(repos, branch, ["localhost"])
    git(repos.root, "switch", "-q", "main")
    git(repos.root, "branch", "-q", "-D", branch)
    git_activities.ensure_worktree(
        WorktreeRequest(repo_root=str(repos.root), subtask="01-types", token_hosts=["localhost"])
    )

    argv = record.read_text()
    assert " push " in argv and " fetch " in argv and " ls-remote " in argv
    assert "$GITHUB_TOKEN" in argv and TOKEN not in argv
    assert TOKEN not in caplog.text
    assert _files_containing(repos.root / ".git", TOKEN) == []


def test_a_refused_fetch_stops_instead_of_using_a_stale_local_branch(
    repos: Repos, server: GitHttpsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_expired_token_0000")

    with pytest.raises(ApplicationError) as err:
        git_activities.ensure_worktree(
            WorktreeRequest(
                repo_root=str(repos.root), subtask="01-types", token_hosts=["localhost"]
            )
        )

    assert err.value.non_retryable and err.value.type == "GitAuthFailed"
    assert "ghp_expired_token_0000" not in str(err.value)
    assert git(repos.root, "branch", "--list", "feat/01-types") == ""
