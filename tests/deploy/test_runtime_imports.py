"""Every third-party module the product imports is a declared runtime dependency.

`pip install orchestrator` (or the image's `requirements.lock`) installs what
pyproject.toml's `dependencies` name and what those need. A module the product
imports that arrives only as another package's dependency, or only with the dev
extra, works in the test venv and dies with ModuleNotFoundError in a user's.
Imports are read from the source (at any depth: inside functions too), so a
verb nobody ran in the suite is covered as well.
"""

from __future__ import annotations

import ast
import importlib.metadata
import inspect
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import REPO_ROOT

PACKAGES = ("contracts", "activities", "workflows", "runtime", "cli", "simulators")
MODULES = ("starter", "worker")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def product_imports() -> dict[str, set[str]]:
    """Top-level module imported -> the product files importing it (absolute imports)."""
    files = [p for pkg in PACKAGES for p in (REPO_ROOT / pkg).rglob("*.py")]
    files += [REPO_ROOT / f"{m}.py" for m in MODULES]
    found: dict[str, set[str]] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(
                    path.relative_to(REPO_ROOT).as_posix()
                )
    return found


def runtime_dependencies() -> set[str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {
        _normal(re.split(r"[\s<>=!~\[;]", r.strip(), maxsplit=1)[0])
        for r in project["project"]["dependencies"]
    }


def test_every_imported_distribution_is_a_runtime_dependency() -> None:
    own = {*PACKAGES, *MODULES}
    third_party = {
        module: files
        for module, files in product_imports().items()
        if module not in own and module not in sys.stdlib_module_names
    }
    assert "temporalio" in third_party and "packaging" in third_party  # the scan sees them
    providers = importlib.metadata.packages_distributions()
    declared = runtime_dependencies()
    missing = {}
    for module, files in sorted(third_party.items()):
        dists = {_normal(d) for d in providers.get(module, [])}
        assert dists, f"no installed distribution provides {module!r} (imported by {files})"
        if not dists & declared:
            missing[module] = (sorted(dists), sorted(files))
    assert missing == {}, (
        "imported by the product but not in pyproject.toml's [project] dependencies "
        "(module: (distribution, importers)); declare them and regenerate both locks"
    )


def test_what_the_demo_copies_is_a_runtime_dependency() -> None:
    """The demo copies pytest (and what it needs) from the orchestrator's own environment into
    the example project's venv, since the sandbox has no network: it must be installed."""
    from cli.demo_repo import make_test_venv

    copied = inspect.signature(make_test_venv).parameters["requirements"].default
    assert {_normal(name) for name in copied} <= runtime_dependencies()


def _without_bytecode_writes(
    venv: Path, program: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """`program args...` from the venv's bin, in its parent, as the read-only sandbox runs it."""
    return subprocess.run(
        [str(venv / "bin" / program), *args],
        cwd=venv.parent,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def test_the_demo_venv_brings_pytests_bytecode(tmp_path: Path) -> None:
    """The gates run pytest in the example project's venv read-only (the sandbox), where no
    bytecode can be written: without it in the venv, every gate compiled pytest again."""
    from cli.demo_repo import make_test_venv

    make_test_venv(tmp_path / "venv")
    done = _without_bytecode_writes(
        tmp_path / "venv", "python", "-v", "-c", "import pytest, _pytest.python"
    )
    loaded = [
        line
        for line in done.stderr.splitlines()
        if line.startswith("# code object from ") and str(tmp_path) in line
    ]
    from_source = [line for line in loaded if not line.endswith(".pyc'")]
    assert from_source == [] and len(loaded) > 50, loaded


def test_a_venv_made_like_another_links_its_packages_and_runs_pytest(tmp_path: Path) -> None:
    """What the tests' projects get (`like`): the same packages as the demo's copy, hard
    links to its files, its bytecode valid, and a pytest that runs a test."""
    from cli.demo_repo import make_test_venv

    make_test_venv(tmp_path / "first")
    make_test_venv(tmp_path / "second", like=tmp_path / "first")
    site = next((tmp_path / "first" / "lib").glob("python*/site-packages"))
    copied = sorted(p.relative_to(tmp_path / "first") for p in site.rglob("*") if p.is_file())
    assert len(copied) > 500
    for rel in copied:
        first, second = tmp_path / "first" / rel, tmp_path / "second" / rel
        assert os.path.samefile(first, second), rel
    (tmp_path / "test_one.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")
    done = _without_bytecode_writes(tmp_path / "second", "pytest", "-q", "-p", "no:cacheprovider")
    assert "1 passed" in done.stdout, done.stdout + done.stderr
    where = subprocess.run(
        [
            str(tmp_path / "second" / "bin" / "python"),
            "-c",
            "import pytest; print(pytest.__file__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(tmp_path / "second" / "lib")), where.stdout
