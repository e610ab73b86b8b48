"""The loops and their contracts type-check strictly (issue 24), with the mypy the lock pins.

A mixin that uses an attribute or method no class declares, an activity result returned
as `Any`, a `Literal` state passed where another shape is expected: mypy names each, and
this test fails with its report. Run by `./run test`, so by CI.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib

from tests.conftest import REPO_ROOT


def test_the_configuration_is_strict_on_workflows_and_contracts() -> None:
    """The check below is only as good as its settings: strict, on both packages."""
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert config["strict"] is True
    assert {"workflows", "contracts"} <= set(config["files"])


def test_workflows_and_contracts_type_check_strictly() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "MYPY_FORCE_COLOR": "0"},
        timeout=600,
    )
    assert proc.returncode == 0, f"mypy (settings in pyproject.toml):\n{proc.stdout}{proc.stderr}"
