"""A scratch copy of the bundled example repository, with a local bare `origin`.

Used by `orchestrator demo` and by the end-to-end tests: a real git
repository holding the example project and its design directory.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FEATURE = "link-shortener"
DESIGN_REL = f"design-docs/active/{FEATURE}"
DEMO_REPOSITORY = "demo/link-shortener"
GIT_IDENTITY = ["-c", "user.name=Orchestrator Demo", "-c", "user.email=demo@localhost"]


@dataclass(frozen=True)
class DemoRepo:
    root: Path
    origin: Path
    design_dir: Path


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *GIT_IDENTITY, *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def prepare_demo_repo(
    dest: Path,
    config_toml: str = "",
    with_subplans: bool = True,
    design_source: Path | None = None,
) -> DemoRepo:
    """dest/origin.git (bare) and dest/repo (its clone, on `main`, one commit)."""
    dest.mkdir(parents=True, exist_ok=True)
    origin, root = dest / "origin.git", dest / "repo"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    shutil.copytree(EXAMPLES / "link-shortener-repo", root)
    design_dir = root / DESIGN_REL
    shutil.copytree(design_source or EXAMPLES / FEATURE, design_dir)
    if not with_subplans:
        shutil.rmtree(design_dir / "subplans", ignore_errors=True)
    if config_toml:
        (root / "orchestrator.toml").write_text(config_toml, encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "remote", "add", "origin", str(origin))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "Initial commit: link shortener project and its design")
    git(root, "push", "-q", "-u", "origin", "main")
    return DemoRepo(root=root, origin=origin, design_dir=design_dir)


def demo_config(
    github_api_url: str | None, repository: str = DEMO_REPOSITORY, top: str = ""
) -> str:
    """orchestrator.toml for the demo: fast models (simulated), the local GitHub stand-in."""
    lines = [
        "# Written by `orchestrator demo`: the design and build loops on the example.",
        "threshold = 0.96",
        "max_concurrent_subtasks = 2",
        *([top] if top else []),
        "",
        "[models]",
        'default = "sim-model-1"',
        "",
        "[forge]",
        f'kind = "{"github" if github_api_url else "none"}"',
        f'repository = "{repository}"',
    ]
    if github_api_url:
        lines.append(f'api_url = "{github_api_url}"')
    lines += [
        "",
        "[prices.sim-model-1]",
        "input = 3.0",
        "output = 15.0",
        "cache_write = 3.75",
        "cache_read = 0.3",
        "",
    ]
    return "\n".join(lines)
