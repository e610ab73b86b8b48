"""The repository's CI and merges, as the GitHub stand-in sees them: shared by the tests
that follow PRs (subtasks' and integration's) through a real build."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from simulators.github_api import GitHubStandIn
from tests.workflows.builds import REPO

CI_URL = "https://ci.example"  # each run's link: <CI_URL>/<branch>/<n>
# The conclusion of CI's `n`th run (from 0) on a branch: success unless a test says otherwise.
Conclude = Callable[[str, int], str]


def green(branch: str, n: int) -> str:
    return "success"


def merges(github: GitHubStandIn) -> list[tuple[int, Any, int]]:
    """Every merge request the stand-in answered: (PR number, body, status)."""
    found = []
    for r in github.requests:
        if r.method == "PUT" and r.path.endswith("/merge"):
            found.append((int(r.path.split("/")[-2]), r.body, r.status))
    return found


@asynccontextmanager
async def ci(
    github: GitHubStandIn, after: dict[str, str] | None = None, conclude: Conclude = green
) -> AsyncIterator[list[tuple[str, str]]]:
    """A CI that reports `tests` on every new head of an open PR, as GitHub Actions would
    on each push (`conclude`: its conclusion, green by default; its link names the branch
    and the run's number there); yields the (branch, head)
    pairs it ran on, in order. `after`: a branch's CI reports only once the other branch's
    PR is open."""
    ran: list[tuple[str, str]] = []

    async def run() -> None:
        while True:
            pulls = github.pulls(REPO)
            opened = {p["head"]["ref"] for p in pulls}
            for p in pulls:
                key = (p["head"]["ref"], p["head"]["sha"])
                if (after or {}).get(key[0], key[0]) not in opened:
                    continue
                if p["state"] == "open" and key not in ran:
                    n = len([b for b, _ in ran if b == key[0]])
                    ran.append(key)
                    github.check_run(
                        REPO,
                        key[1],
                        "tests",
                        conclusion=conclude(key[0], n),
                        details_url=f"{CI_URL}/{key[0]}/{n}",
                    )
            await asyncio.sleep(0.3)

    task = asyncio.ensure_future(run())
    try:
        yield ran
    finally:
        task.cancel()
