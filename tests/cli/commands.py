"""Running the CLI as a person does: `python -m starter <verb> ...` in its own process."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from tests.conftest import REPO_ROOT

# The ids the CLI derives from the demo's feature name.
IDS = ("design-link-shortener", "build-link-shortener")


async def orchestrator(
    env: dict[str, str], *args: str, limit: float = 300
) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "starter", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=limit,
        check=False,
    )
