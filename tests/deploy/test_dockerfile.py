"""The worker image: git inside, the real worker command line, nothing needed left out.

No Docker engine here: the ENTRYPOINT + CMD are fed to the worker's own
argument parser, and the .dockerignore patterns are checked against the files
`pip install .` needs.
"""

from __future__ import annotations

import argparse
import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest

import worker

ROOT = Path(__file__).resolve().parents[2]


def only(instructions: list[Any], keyword: str) -> Any:
    found = [i for i in instructions if i.keyword == keyword]
    assert len(found) == 1, f"the final stage needs exactly one {keyword}, found {len(found)}"
    return found[0]


def worker_argv(final_stage: list[Any]) -> list[str]:
    """What the container runs, minus the program: ENTRYPOINT then CMD."""
    entry = only(final_stage, "ENTRYPOINT").exec_form()
    cmd = only(final_stage, "CMD").exec_form()
    argv = entry + cmd
    if argv[:3] == ["python", "-m", "worker"]:
        return argv[3:]
    if argv[:2] == ["orchestrator", "worker"]:
        return [a for a in argv[2:] if a != "--"]
    if len(argv) > 1 and argv[0].startswith("python") and argv[1].endswith("worker.py"):
        return argv[2:]
    pytest.fail(f"the image does not run the worker: {argv}")


@pytest.fixture(scope="module")
def container_args(final_stage: list[Any]) -> argparse.Namespace:
    return worker.parser().parse_args(worker_argv(final_stage))


def test_image_installs_git(final_stage: list[Any]) -> None:
    runs = " ".join(i.args for i in final_stage if i.keyword == "RUN")
    assert re.search(r"apt-get install[^&;]*\bgit\b", runs), "worktree activities need git"
    assert re.search(r"apt-get install[^&;]*\bbubblewrap\b", runs), "commands run in bwrap"
    assert "rm -rf /var/lib/apt/lists" in runs


def test_image_is_python_311_slim(dockerfile: list[Any]) -> None:
    bases = [i.args.split()[0] for i in dockerfile if i.keyword == "FROM"]
    assert bases and all(b.startswith("python:3.11") and "slim" in b for b in bases)


def test_worker_never_starts_an_embedded_server(container_args: argparse.Namespace) -> None:
    assert container_args.no_embedded is True


def test_worker_runs_as_a_regular_user(final_stage: list[Any]) -> None:
    user = only(final_stage, "USER").args
    assert user not in ("root", "0") and not user.startswith("0:")


def test_metrics_port_is_the_same_everywhere(
    container_args: argparse.Namespace, final_stage: list[Any], compose: dict[str, Any]
) -> None:
    """The port the worker serves, the image exposes, compose exposes and the healthcheck asks."""
    port = container_args.metrics_port
    assert port is not None, "the image should serve Prometheus metrics by default"
    exposed = {
        p.split("/")[0] for i in final_stage if i.keyword == "EXPOSE" for p in i.args.split()
    }
    assert str(port) in exposed
    service = compose["services"]["worker"]
    assert str(port) in {str(p) for p in service.get("expose", [])}
    probe = " ".join(map(str, service["healthcheck"]["test"]))
    assert f"127.0.0.1:{port}/metrics" in probe


def test_worker_stops_gracefully(final_stage: list[Any]) -> None:
    """SIGINT is what the worker turns into a drain (KeyboardInterrupt)."""
    assert only(final_stage, "STOPSIGNAL").args == "SIGINT"


# .dockerignore


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
    assert not any(p.startswith("!") for p in patterns), "exceptions are not modelled here"
    return patterns


def ignored(relative: str, patterns: list[str]) -> bool:
    """Docker excludes a path when it, or a directory above it, matches a pattern."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    for pattern in patterns:
        if pattern.startswith("**/"):
            tail = pattern[3:]
            if any(
                fnmatch("/".join(parts[k : n + 1]), tail)
                for n in range(len(parts))
                for k in range(n + 1)
            ):
                return True
        elif any(fnmatch(prefix, pattern.rstrip("/")) for prefix in prefixes):
            return True
    return False


def needed_by_pip_install() -> list[str]:
    """pyproject.toml, the lock, the readme, the py-modules and the listed packages' files."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = project["tool"]["setuptools"]
    needed = ["pyproject.toml", "requirements.lock", project["project"]["readme"]]
    needed += [f"{m}.py" for m in setuptools["py-modules"]]
    for include in setuptools["packages"]["find"]["include"]:
        top = ROOT / include.rstrip("*")
        needed += [
            p.relative_to(ROOT).as_posix()
            for p in top.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        ]
    return needed


def test_build_context_keeps_what_pip_install_needs() -> None:
    patterns = dockerignore_patterns()
    needed = needed_by_pip_install()
    assert "worker.py" in needed and any(n.startswith("activities/") for n in needed)
    dropped = [path for path in needed if ignored(path, patterns)]
    assert dropped == []


def test_build_context_leaves_out_secrets_and_local_state() -> None:
    patterns = dockerignore_patterns()
    for path in (".env", ".git/config", ".venv/bin/python", ".worktrees/01-x/a.py", "tests/x.py"):
        assert ignored(path, patterns), path
