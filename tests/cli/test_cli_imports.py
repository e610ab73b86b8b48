"""The CLI starts without the Messages SDK: it names the loops' messages by method reference,
which imports the workflows, and the SDK (seconds of CPU) is imported only where a model is
called. Every verb a person types, and every CLI process the suite starts, would pay it."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT


def printed(probe: str) -> str:
    """What `probe` prints, run in a fresh interpreter (nothing imported yet)."""
    found = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return found.stdout.strip()


def test_the_cli_and_the_workflows_import_without_the_messages_sdk() -> None:
    probe = (
        "import sys, starter, workflows.build, workflows.design_review, workflows.subtask\n"
        "print(sorted(m for m in sys.modules if m == 'anthropic' or m.startswith('anthropic.')))"
    )
    assert printed(probe) == "[]"


def test_a_cli_verb_starts_without_pygithub_requests_or_networkx() -> None:
    """Each costs a CLI verb tenths of a second of CPU (`orchestrator --help` 1.0 s instead of
    1.4 s with them); only a worker calls GitHub and only `plan` orders a graph. The loops the
    CLI names import their activities' modules, so those import them where they are used."""
    probe = (
        "import sys, starter, workflows.pr_follow, workflows.release, workflows.integration\n"
        "heavy = {'github', 'requests', 'networkx'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))"
    )
    assert printed(probe) == "[]"


def test_a_worker_loads_the_messages_sdk_before_any_activity_runs() -> None:
    """Imported inside the first model call instead, it stalled the worker's event loop for
    seconds, and a live attempt with a short heartbeat timeout was taken for a dead one."""
    probe = (
        "import sys, worker\n"
        "before = 'anthropic' in sys.modules\n"
        "worker.activities()\n"
        "print(before, 'anthropic' in sys.modules)"
    )
    assert printed(probe).split() == ["False", "True"]
