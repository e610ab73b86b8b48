"""`!reset`'s archive step against a remote someone else pushes to meanwhile."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from activities.git.archive import archive_branches
from contracts.reset import ArchiveRequest, ArchiveResult, archive_name
from tests.git.gitutil import IDENTITY, Repos, commit_file, git, plant
from tests.git.https_server import TOKEN, GitHttpsServer

BRANCH = "feat/01-types"
STAMP = "20261207T210000Z"

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def _someone_pushes_when_the_archive_lands(repos: Repos, markers: Path) -> None:
    """A post-receive hook: the first time an archive branch arrives, a colleague's commit
    lands on BRANCH, after the archive step fetched it and before it deletes it."""
    identity = " ".join(f"{k}='{v}'" for k, v in IDENTITY.items())
    then = (
        f'grep -q " refs/heads/archive/" "{markers}/post-receive.in" || exit 0\n'
        f'[ -e "{markers}/moved" ] && exit 0\n'
        f'touch "{markers}/moved"\n'
        f"tree=$(git rev-parse {BRANCH}^{{tree}})\n"
        f'new=$(env {identity} git commit-tree "$tree" -p {BRANCH} -m "pushed meanwhile")\n'
        f'git update-ref refs/heads/{BRANCH} "$new"\n'
    )
    hook = repos.origin / "hooks" / "post-receive"
    plant(hook, markers, "post-receive.ran", f'cat > "{markers}/post-receive.in"\n{then}')


def _archive_as_temporal_retries(req: ArchiveRequest, attempts: int = 3) -> ArchiveResult:
    """The activity's retry policy, as a loop: each failure is retried with the same input."""
    for attempt in range(attempts):
        try:
            return archive_branches(req)
        except Exception:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def test_a_push_landing_while_the_branch_is_archived_is_archived_not_lost(
    repos: Repos, server: GitHttpsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    git(repos.root, "switch", "-q", "-c", BRANCH)
    ours = commit_file(repos.root, "src/types.py", "X = 1\n", "types")
    git(repos.root, "push", "-q", str(repos.origin), BRANCH)
    git(repos.root, "switch", "-q", "main")
    markers = tmp_path / "markers"
    markers.mkdir()
    _someone_pushes_when_the_archive_lands(repos, markers)

    result = _archive_as_temporal_retries(
        ArchiveRequest(
            repo_root=str(repos.root), branches={BRANCH: ""}, stamp=STAMP, token_hosts=["localhost"]
        )
    )

    archive = archive_name(BRANCH, STAMP)
    assert (markers / "moved").exists(), "the colleague's push never happened"
    assert result.archived == {BRANCH: archive}
    # The colleague's commit is the archive's tip on the remote, on top of ours: nothing lost.
    kept = git(repos.origin, "rev-parse", f"refs/heads/{archive}")
    assert git(repos.origin, "log", "-1", "--format=%s", kept) == "pushed meanwhile"
    assert git(repos.origin, "rev-parse", f"{kept}^") == ours
    # And only then was the branch removed, here and there.
    assert git(repos.origin, "branch", "--list", BRANCH) == ""
    assert git(repos.root, "branch", "--list", BRANCH) == ""
    assert git(repos.root, "rev-parse", archive) == kept
