"""Lint by default: a linter the repository configures runs on each subtask's changed files.

Recognised: ruff (`ruff.toml`, `.ruff.toml`, `[tool.ruff]` in pyproject.toml),
flake8 (`.flake8`, `[flake8]` in setup.cfg or tox.ini), eslint (`eslint.config.*`,
`.eslintrc*`, `eslintConfig` in package.json) and golangci-lint (`.golangci.*`).
Each runs as a gate, in the sandbox, in the repository's environment (its venv;
`node_modules/.bin` for eslint), on the files the subtask's own work changed. A
linter that is configured but not installed there is a hold for a person (install
it, or `[gates] lint = []`), never a silent pass.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MISSING = 127  # the shell's "command not found"


@dataclass(frozen=True)
class Linter:
    name: str
    suffixes: frozenset[str]
    configured: Callable[[Path], str | None]  # what configures it here, or None
    command: Callable[[Path, list[str]], str]  # its command line for these files
    install: str  # how a person installs it where gates run


def _file(*names: str) -> Callable[[Path], str | None]:
    return lambda root: next((n for n in names if (root / n).is_file()), None)


def _section(pattern: str, *names: str) -> Callable[[Path], str | None]:
    """A config section (`[tool.ruff]`) in one of the files `names`."""
    found = re.compile(rf"^\[{pattern}", re.MULTILINE)

    def check(root: Path) -> str | None:
        for name in names:
            try:
                text = (root / name).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if found.search(text):
                return f"{name} [{pattern.replace(chr(92), '')}]"
        return None

    return check


def _either(*checks: Callable[[Path], str | None]) -> Callable[[Path], str | None]:
    return lambda root: next((w for w in (c(root) for c in checks) if w), None)


def _eslint_in_package(root: Path) -> str | None:
    try:
        manifest = json.loads((root / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return (
        "package.json eslintConfig"
        if isinstance(manifest, dict) and "eslintConfig" in manifest
        else None
    )


def _quoted(files: list[str]) -> str:
    return " ".join(shlex.quote(f) for f in files)


def _eslint(root: Path, files: list[str]) -> str:
    local = "node_modules/.bin/eslint"
    binary = f"./{local}" if (root / local).is_file() else "eslint"
    return f"{binary} -- {_quoted(files)}"


def _golangci(root: Path, files: list[str]) -> str:
    packages = sorted({f"./{PurePosixPath(f).parent}" for f in files})
    return f"golangci-lint run {_quoted(packages)}"


PYTHON = frozenset({".py", ".pyi"})
SCRIPT = frozenset(".js .jsx .ts .tsx .mjs .cjs .mts .cts".split())
LINTERS = {
    "ruff": Linter(
        "ruff",
        PYTHON,
        _either(_file("ruff.toml", ".ruff.toml"), _section(r"tool\.ruff", "pyproject.toml")),
        lambda root, files: f"ruff check --force-exclude -- {_quoted(files)}",
        '".venv/bin/pip install ruff" in `[gates] setup`',
    ),
    "flake8": Linter(
        "flake8",
        PYTHON,
        _either(_file(".flake8"), _section("flake8", "setup.cfg", "tox.ini")),
        lambda root, files: f"flake8 -- {_quoted(files)}",
        '".venv/bin/pip install flake8" in `[gates] setup`',
    ),
    "eslint": Linter(
        "eslint",
        SCRIPT,
        _either(
            _file(
                *(f"eslint.config.{x}" for x in ("js", "mjs", "cjs", "ts", "mts", "cts")),
                *(f".eslintrc{x}" for x in ("", ".js", ".cjs", ".json", ".yaml", ".yml")),
            ),
            _eslint_in_package,
        ),
        _eslint,
        '"npm ci" (eslint in devDependencies) in `[gates] setup`',
    ),
    "golangci-lint": Linter(
        "golangci-lint",
        frozenset({".go"}),
        _file(".golangci.yml", ".golangci.yaml", ".golangci.toml", ".golangci.json"),
        _golangci,
        "golangci-lint on the worker's PATH (https://golangci-lint.run/welcome/install/)",
    ),
}


def chosen(root: Path, names: Sequence[str] | None) -> list[tuple[Linter, str]]:
    """The linters to run and why: those named in `[gates] lint`, else every one the
    repository configures."""
    if names is not None:
        return [(LINTERS[n], LINTERS[n].configured(root) or "[gates] lint") for n in names]
    found = [(linter, linter.configured(root)) for linter in LINTERS.values()]
    return [(linter, where) for linter, where in found if where]


def command_line(linter: Linter, root: Path, files: list[str]) -> str:
    """The linter on `files`, after making sure it is there: exit 127 says it is not."""
    binary = linter.command(root, files).split()[0]
    return (
        f"command -v {shlex.quote(binary)} >/dev/null 2>&1 || "
        f"{{ echo '{linter.name} is not installed' >&2; exit {MISSING}; }}; "
        + linter.command(root, files)
    )


def missing_message(linter: Linter, where: str) -> str:
    return (
        f"lint: {linter.name} is configured ({where}) but not installed where gates run (the "
        "repository's .venv or venv, node_modules/.bin, or the system PATH in the sandbox). "
        f"Fix: install it there ({linter.install}), then decide retry; or turn the lint gate "
        "off with `[gates] lint = []` in orchestrator.toml"
    )
