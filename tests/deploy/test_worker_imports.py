"""A worker's activity threads never import a package with circular imports at once.

PyGithub's modules import each other in a circle: imported by several threads at the
same moment (a restarted worker's first PR polls, each in its own activity thread), most
of them get `partially initialized module` errors, and the interpreter may keep a broken
`github` for good, so every retry of every forge activity fails the same way (seen in a
killed-worker test under load). The worker imports such packages before any activity runs.
"""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT

# The threads start together and import what the activities import lazily; without the
# worker's preload, most of them fail (and the last line sometimes too) in nearly every run.
RACE = """
import threading
import worker

worker.activities()
start, failed = threading.Barrier(8), []

def lazily(i: int) -> None:
    start.wait()
    try:
        if i % 4 == 0:
            from github import GithubException  # noqa: F401
        elif i % 4 == 1:
            import github.Repository  # noqa: F401
        elif i % 4 == 2:
            from github.PullRequest import PullRequest  # noqa: F401
        else:
            import networkx  # noqa: F401
            networkx.DiGraph()
    except Exception as exc:  # noqa: BLE001
        failed.append(repr(exc))

threads = [threading.Thread(target=lazily, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
from github import GithubException  # noqa: E402,F401
print(failed)
"""


def test_activity_threads_importing_pygithub_at_once_all_succeed() -> None:
    for _ in range(3):  # a fresh interpreter each time: the race is in the first import
        done = subprocess.run(
            [sys.executable, "-c", RACE], cwd=REPO_ROOT, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.strip() == "[]", done.stdout
