"""A scratch copy of the bundled example repository, with a local bare `origin`.

Used by `orchestrator demo` and by the end-to-end tests: a real git
repository holding the example project and its design directory.
"""

from __future__ import annotations

import compileall
import importlib.metadata
import os
import shutil
import subprocess
import sys
import sysconfig
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
    venv_like: Path | None = None,
) -> DemoRepo:
    """dest/origin.git (bare) and dest/repo (its clone, on `main`, one commit); `venv_like`:
    see `make_test_venv`."""
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
    make_test_venv(root / ".venv", like=venv_like)
    return DemoRepo(root=root, origin=origin, design_dir=design_dir)


def make_test_venv(
    venv: Path, requirements: tuple[str, ...] = ("pytest",), like: Path | None = None
) -> None:
    """The example project's own virtualenv (untracked, like a developer's `.venv`).

    Gates and agent commands run in the target repository's environment inside
    the sandbox, which has no network: instead of downloading pytest, the demo
    copies it (and what it requires) from the orchestrator's own environment.
    `like`: a venv made here before, whose packages are hard-linked instead (a tenth of
    the CPU of copying its 1,000 files; for callers that make many, as the tests do). The
    gates only read them, and writing a package replaces its files, never edits one.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    if like is not None:
        shutil.copytree(
            like / site.relative_to(venv), site, copy_function=_link, dirs_exist_ok=True
        )
    else:
        _copy_packages(requirements, site)
    script = venv / "bin" / "pytest"
    script.write_text(
        f"#!{python}\nimport pytest\n\nraise SystemExit(pytest.main())\n",
        encoding="utf-8",
    )
    script.chmod(0o755)


def _link(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or one without hard links
        shutil.copy2(source, target)


def _copy_packages(requirements: tuple[str, ...], site: Path) -> None:
    for name in _closure(requirements):
        dist = importlib.metadata.distribution(name)
        for file in dist.files or []:
            source = Path(str(dist.locate_file(file)))
            if file.parts[0] == ".." or not source.is_file():
                continue  # console scripts live outside site-packages: make_test_venv writes one
            target = site / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)  # the source's time, so its copied bytecode is valid
    # The gates run in this venv read-only (the sandbox), where `PYTHONDONTWRITEBYTECODE` is
    # set or not: without bytecode each pytest run compiled pytest again (0.25 s of CPU of its
    # 0.4 s). Compiled here what the copy above did not bring (a no-op when it brought it all).
    compileall.compile_dir(str(site), quiet=1)


def _closure(requirements: tuple[str, ...]) -> list[str]:
    """The distributions `requirements` need on this interpreter, themselves included."""
    from packaging.requirements import Requirement

    seen: list[str] = []
    todo = list(requirements)
    env = {"python_version": sysconfig.get_python_version(), "extra": ""}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.append(name)
        for text in importlib.metadata.requires(name) or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate(env):
                todo.append(req.name)
    return seen


# The demo follows its PRs; its CI reports at once (cli/demo_forge.py), so a short poll.
DEMO_FOLLOW = "follow = true\npoll_s = 1\npoll_max_s = 2"


def demo_config(
    github_api_url: str | None,
    repository: str = DEMO_REPOSITORY,
    top: str = "",
    forge: str = "follow = false",
) -> str:
    """orchestrator.toml for the example: the default model (played by the local Messages
    stand-in, which checks its thinking, tool and caching rules as the API would), the
    local GitHub stand-in. `forge`: more `[forge]` lines; by default the PRs are not
    followed (nothing reports CI there); the demo follows them with `DEMO_FOLLOW`."""
    lines = [
        "# Written by `orchestrator demo`: the design and build loops on the example.",
        "threshold = 0.96",
        "max_concurrent_subtasks = 2",
        *([top] if top else []),
        "",
        "[models]",
        'default = "claude-sonnet-5-5"',
        "",
        "[forge]",
        f'kind = "{"github" if github_api_url else "none"}"',
        f'repository = "{repository}"',
    ]
    if github_api_url:
        lines.append(f'api_url = "{github_api_url}"')
    if forge:
        lines.append(forge)
    return "\n".join([*lines, ""])
