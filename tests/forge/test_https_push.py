"""The pull-request step pushes over HTTPS with GITHUB_TOKEN to the hosts it may give it to."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.exceptions import ApplicationError

from contracts.config import ForgeConfig
from contracts.git import token_hosts_for
from tests.forge.conftest import TOKEN
from tests.forge.pulls import built_subtask, open_pr, request
from tests.git.gitutil import Repos, git
from tests.git.https_server import GitHttpsServer, trusted

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


@pytest.fixture
def https_origin(
    repos: Repos, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GitHttpsServer]:
    with trusted(repos.origin.parent, TOKEN, tmp_path, monkeypatch) as srv:
        yield srv


def _use(repos: Repos, server: GitHttpsServer) -> None:
    git(repos.root, "remote", "set-url", "origin", server.url(repos.origin.name))


@needs_openssl
def test_forge_none_pushes_to_a_token_host(repos: Repos, https_origin: GitHttpsServer) -> None:
    wt = built_subtask(repos)  # before the remote turns HTTPS: set-up is not under test
    _use(repos, https_origin)

    open_pr(request(repos, wt, None, forge="none", repository=None, token_hosts=["localhost"]))

    assert git(repos.origin, "rev-parse", "feat/01-types") == git(wt, "rev-parse", "HEAD")
    assert f"x-access-token:{TOKEN}" in https_origin.credentials_seen
    assert TOKEN not in git(repos.root, "config", "--list")


@needs_openssl
def test_forge_none_offers_no_token_to_other_hosts(
    repos: Repos, https_origin: GitHttpsServer
) -> None:
    wt = built_subtask(repos)
    _use(repos, https_origin)

    with pytest.raises(ApplicationError) as err:
        open_pr(request(repos, wt, None, forge="none", repository=None))

    assert err.value.non_retryable and err.value.type == "GitAuthFailed"
    assert "token_hosts" in str(err.value)
    assert https_origin.credentials_seen == []


@needs_openssl
def test_the_api_url_host_gets_the_token_without_listing_it(
    repos: Repos, https_origin: GitHttpsServer
) -> None:
    wt = built_subtask(repos)
    _use(repos, https_origin)

    open_pr(request(repos, wt, "https://localhost/api/v3", forge="none", repository=None))

    assert git(repos.origin, "rev-parse", "feat/01-types") == git(wt, "rev-parse", "HEAD")
    assert f"x-access-token:{TOKEN}" in https_origin.credentials_seen


def test_token_hosts_are_bare_host_names() -> None:
    assert ForgeConfig(token_hosts=[" Git.Example.com", "git.example.com"]).token_hosts == [
        "git.example.com"
    ]
    for bad in ["https://git.example.com", "git.example.com:8443", "x@host", "host/path", ""]:
        with pytest.raises(ValidationError, match="token_hosts"):
            ForgeConfig(token_hosts=[bad])


def test_token_hosts_for_an_api_url() -> None:
    assert token_hosts_for(None) == ["github.com"]
    assert token_hosts_for("https://api.github.com") == ["github.com"]
    assert token_hosts_for("https://ghe.example.com/api/v3", ["git.example.com"]) == [
        "ghe.example.com",
        "git.example.com",
        "github.com",
    ]
    assert token_hosts_for("https://api.acme.ghe.com") == ["acme.ghe.com", "github.com"]
