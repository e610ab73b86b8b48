"""Where a command's repository keeps its git data and its Python environment, and
which host paths a sandbox may show.

Read from the files on disk (`.git` files, `commondir`, `pyvenv.cfg`) rather
than by running git or the project's tools, which would run what the
repository configures. What a sandbox binds comes only from sources the
orchestrator trusts: the git directory (named by the worktree's `.git` file,
which no command or tool can write), the main checkout's virtualenv and the
Python installation it was made from, and `[sandbox] read_only` (orchestrator.toml
as committed where the loop started). A venv in the worktree is an agent's to
write: it is used from inside, and nothing it names is ever bound.
"""

from __future__ import annotations

import os
import pwd
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

VENV_NAMES = (".venv", "venv")
# The system's live state (processes, devices, sockets, boot files): never bound, nor below.
LIVE_SYSTEM = ("/proc", "/sys", "/dev", "/run", "/var/run", "/boot")


def _git_entry(workdir: Path) -> Path | None:
    for folder in (workdir, *workdir.parents):
        entry = folder / ".git"
        if entry.exists():
            return entry
    return None


def worktree_git_dir(workdir: Path) -> Path | None:
    """The git directory of `workdir`'s checkout (a worktree's own, under the common one)."""
    entry = _git_entry(workdir)
    if entry is None:
        return None
    if entry.is_dir():
        return Path(os.path.realpath(entry))
    try:
        text = entry.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not text.startswith("gitdir:"):
        return None
    target = Path(text.removeprefix("gitdir:").strip())
    return Path(os.path.realpath(target if target.is_absolute() else entry.parent / target))


def common_git_dir(git_dir: Path) -> Path:
    """The repository's shared git directory (objects, refs, hooks, config)."""
    pointer = git_dir / "commondir"
    if not pointer.is_file():
        return git_dir
    text = pointer.read_text(encoding="utf-8").strip()
    target = Path(text)
    return Path(os.path.realpath(target if target.is_absolute() else git_dir / target))


def git_dirs(workdir: Path) -> list[Path]:
    """Everything git-related a command may read but never write: `.git` and its targets."""
    entry = _git_entry(workdir)
    git_dir = worktree_git_dir(workdir)
    if entry is None or git_dir is None:
        return []
    common = common_git_dir(git_dir)
    paths = [common]
    if common not in git_dir.parents and git_dir != common:
        paths.append(git_dir)
    if entry.is_file():
        paths.append(entry)
    return paths


def main_checkout(workdir: Path) -> Path | None:
    """The repository's main working tree (where an untracked `.venv` usually lives)."""
    git_dir = worktree_git_dir(workdir)
    if git_dir is None:
        return None
    common = common_git_dir(git_dir)
    return common.parent if common.name == ".git" else None


@dataclass(frozen=True)
class Protected:
    """What no bind may be or hold, and (`within`) what no bind may lie inside either."""

    around: dict[Path, str]
    within: dict[Path, str]


def protected_places(workdir: Path) -> Protected:
    """The repository, the worker's own state, every home directory and the shared
    temporary directory: a bind that is or holds one shows far more than a toolchain."""
    main = main_checkout(workdir) or workdir
    # As runtime/server.py places it; not created here, only kept out of every sandbox.
    state = os.environ.get("ORCHESTRATOR_HOME") or str(Path.home() / ".orchestrator")
    around = {
        "/etc": "the system's configuration",
        tempfile.gettempdir(): "the temporary directory every process shares",
        str(Path.home()): "a home directory",
        **{e.pw_dir: "a home directory" for e in pwd.getpwall() if e.pw_dir not in ("", "/")},
    }
    try:
        around[os.getcwd()] = "the worker's working directory"
    except OSError:
        pass
    within = {
        str(main): "the repository's main checkout (every worktree and transcript)",
        state: "ORCHESTRATOR_HOME (the Temporal database and the worker's logs)",
    }
    return Protected(
        around={_real(p): why for p, why in {**around, **within}.items()},
        within={_real(p): why for p, why in within.items()},
    )


def _real(path: str | Path) -> Path:
    return Path(os.path.realpath(path))


def bind_problem(path: str | Path, protected: Protected) -> str | None:
    """Why `path` must not be bound into a sandbox, or None (absent paths bind nothing)."""
    real = _real(path)
    try:
        mode = os.stat(real).st_mode
    except OSError:
        return None
    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
        return "is a socket, device or pipe (a way out of the sandbox), not a file to read"
    if real == Path("/"):
        return "is the whole file system"
    for system in map(_real, LIVE_SYSTEM):
        if real == system or system in real.parents:
            return f"is {system} or lies under it (the system's live state)"
    for place, what in protected.around.items():
        if real == place or real in place.parents:
            return f"is or holds {place}, {what}"
    for place, what in protected.within.items():
        if place in real.parents:
            return f"lies inside {place}, {what}"
    return None


def read_only_problems(paths: list[str], workdir: Path) -> list[str]:
    """`[sandbox] read_only` entries a sandbox must refuse, each with its reason."""
    if not paths:
        return []
    protected = protected_places(workdir)
    problems = []
    for path in paths:
        problem = bind_problem(path, protected)
        if problem:
            shown = path if _real(path) == Path(path) else f"{path} (really {_real(path)})"
            problems.append(f"[sandbox] read_only lists {shown}, which {problem}")
    return problems


READ_ONLY_FIX = (
    "Fix: list only a toolchain's own directory in [sandbox] read_only (e.g. /opt/node), "
    "never the root, /etc, /proc, /run, a home directory, the repository, ORCHESTRATOR_HOME "
    "or a socket"
)


@dataclass(frozen=True)
class ProjectEnv:
    """The target repository's Python environment: the PATH entry, what must be readable,
    and why something its configuration names was not bound (for the gate's log)."""

    venv: Path | None = None
    read_only: tuple[Path, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def path_first(self) -> list[str]:
        return [str(self.venv / "bin")] if self.venv else []


def _venv_in(place: Path) -> Path | None:
    for name in VENV_NAMES:
        venv = place / name
        if (venv / "pyvenv.cfg").is_file() and (venv / "bin").is_dir():
            return venv
    return None


def project_environment(workdir: Path) -> ProjectEnv:
    """The repository's virtualenv: the worktree's first on PATH (when it has an
    interpreter), else the main checkout's.

    A uv project's `.venv` (uv's default) and a poetry project's in-project `.venv`
    are found the same way; `[gates] setup` can create one in the worktree (e.g.
    `uv sync --frozen`). Binds come from the main checkout's venv only (untracked,
    made by a person): it and the installation it was made from, once checked.
    """
    main = main_checkout(workdir)
    trusted = _venv_in(main) if main is not None else None
    own = _venv_in(workdir) if main != _real(workdir) else None
    if own is not None and not (own / "bin" / "python").exists():
        own = None  # no interpreter: not an environment (an agent's half-made one), skipped
    first = own or trusted
    if trusted is None or main is None:
        return ProjectEnv(venv=first)
    binds, notes = _trusted_binds(trusted, main, workdir)
    return ProjectEnv(venv=first, read_only=tuple(binds), notes=tuple(notes))


def _trusted_binds(venv: Path, main: Path, workdir: Path) -> tuple[list[Path], list[str]]:
    """The main checkout's venv (when outside the workdir) and its base installation."""
    protected = protected_places(workdir)
    cfg = venv / "pyvenv.cfg"
    fix = f"Fix: recreate it from a Python installation (`python3 -m venv --clear {venv}`)"
    real_venv = _real(venv)
    if real_venv.parent != _real(main):  # a link to a venv elsewhere: checked like any bind
        problem = bind_problem(real_venv, protected)
        if problem:
            return [], [f"{venv} is not bound: it {problem}. {fix}"]
    binds = [] if _real(workdir) in real_venv.parents else [venv]
    homes = [
        value.strip()
        for key, _, value in (
            line.partition("=")
            for line in cfg.read_text(encoding="utf-8", errors="replace").splitlines()
        )
        if key.strip() == "home"
    ]
    if len(homes) != 1 or not Path(homes[0]).is_absolute():
        return binds, [
            f"{cfg} has {len(homes)} `home` lines where a venv has one absolute path; the "
            f"interpreter it names is not bound. {fix}"
        ]
    home = _real(homes[0])
    prefixes = [home.parent if home.name == "bin" else home]
    python = venv / "bin" / "python"
    if python.exists():
        prefixes.append(_real(python).parent.parent)
    notes = []
    for prefix in dict.fromkeys(prefixes):
        if prefix == Path("/usr") or Path("/usr") in prefix.parents:
            continue  # the system's, bound in every sandbox
        problem = bind_problem(prefix, protected) or (
            None if _is_installation(prefix) else "is not a Python installation"
        )
        if problem:
            notes.append(f"{cfg}: the interpreter at {prefix} is not bound: it {problem}. {fix}")
        else:
            binds.append(prefix)
    return binds, notes


def _is_installation(prefix: Path) -> bool:
    """A Python installation's prefix: an interpreter in bin/, a standard library in lib/."""
    if not prefix.is_dir():
        return False
    interpreter = any(p.is_file() for p in prefix.glob("bin/python*"))
    library = any(prefix.glob("lib/python3*/os.py")) or any(prefix.glob("lib/pypy3*/os.py"))
    return interpreter and library
