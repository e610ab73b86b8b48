"""The runtime lock alone runs the demo: what a user (or the image) installs is enough.

A fresh virtual environment gets `requirements.lock` (hashes checked) and the
project without its dependencies, exactly as the Dockerfile installs them, and
`orchestrator demo` runs in it from a directory outside the repository, with its
own HOME and ORCHESTRATOR_HOME and no server running, so it starts the embedded
one on free ports. The test venv's packages (the dev extra, the editable
checkout) cannot reach it: a module, a data file or a distribution the product
needs and the lock or the wheel lacks fails here.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from runtime.server import process_alive
from tests.conftest import REPO_ROOT
from tests.support import holders_of, server_port

INSTALL_LIMIT = 900
DEMO_LIMIT = 900
# What `pip install .` does not need; the rest of the checkout is copied as a build context.
NOT_BUILT = (".git", ".venv", ".worktrees", ".orchestrator", "tests", "benchmarks", "build")
NOT_BUILT_ANYWHERE = ("__pycache__", "*.egg-info", "node_modules", ".*_cache")


def _run(argv: list[str], limit: float, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=limit)
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _not_built(folder: str, names: list[str]) -> set[str]:
    skipped = set(shutil.ignore_patterns(*NOT_BUILT_ANYWHERE)(folder, names))
    if Path(folder) == REPO_ROOT:
        skipped |= set(NOT_BUILT) & set(names)
    return skipped


def _install(venv: Path, source: Path) -> Path:
    """requirements.lock alone, then the project with --no-deps (the Dockerfile's two steps).

    The suite's own pip installs into the fresh venv (`--python`), so the venv holds only
    what the lock and the project bring (not even pip: nothing the product imports may come
    from it), and making it costs no pip install of its own (about 4.7 s of CPU). Nothing is
    compiled ahead (`--no-compile`): the demo compiles what it imports, as a user's first run
    does, instead of every module of every package (about 6 s of CPU)."""
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], 120)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
    pip += ["--disable-pip-version-check", "--no-compile"]
    lock = REPO_ROOT / "requirements.lock"
    _run([*pip, "--require-hashes", "-r", str(lock)], INSTALL_LIMIT)
    shutil.copytree(REPO_ROOT, source, ignore=_not_built)
    _run([*pip, "--no-deps", str(source)], INSTALL_LIMIT)
    return python


def _clean_env(venv: Path, home: Path, address: str) -> dict[str, str]:
    """What a user's shell would hold: no test venv on PATH, no PYTHONPATH, no secrets."""
    test_bin = str(Path(sys.executable).parent)
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != test_bin]
    return {
        "PATH": os.pathsep.join([str(venv / "bin"), *path]),
        "HOME": str(home),
        "ORCHESTRATOR_HOME": str(home / ".orchestrator"),
        "TEMPORAL_ADDRESS": address,
        "LANG": "C.UTF-8",
        **({"TMPDIR": os.environ["TMPDIR"]} if "TMPDIR" in os.environ else {}),
    }


def _stop(pids: list[int]) -> None:
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while any(process_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in pids:
        if process_alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_the_runtime_lock_alone_runs_the_demo(tmp_path: Path) -> None:
    venv, home = tmp_path / "venv", tmp_path / "home"
    python = _install(venv, tmp_path / "source")
    where = _run([str(python), "-c", "import cli; print(cli.__file__)"], 60, cwd=tmp_path)
    assert where.stdout.startswith(str(venv)), "the product must come from the fresh venv"

    home.mkdir()
    env = _clean_env(venv, home, f"127.0.0.1:{server_port()}")
    database = home / ".orchestrator" / "temporal.db"
    demo = subprocess.Popen(
        [str(venv / "bin" / "orchestrator"), "demo"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = demo.communicate(timeout=DEMO_LIMIT)
    except subprocess.TimeoutExpired:
        os.killpg(demo.pid, signal.SIGKILL)
        out, err = demo.communicate()
    finally:
        # The embedded server outlives the demo on purpose (the next command reuses it).
        _stop(holders_of(database))
    assert demo.returncode == 0, out[-3000:] + err[-3000:]
    assert "starting the embedded dev server" in err
    assert "DESIGN_DOC_APPROVED" in out
    assert out.count(" PR http://127.0.0.1:") == 5 + 1  # five subtasks, then the integration
    assert out.rstrip().splitlines()[-1] == "SHIPPED"
