"""Check the reference implementation the simulated builder writes, gate by gate.

For every subtask of `examples/link-shortener`, in plan order:

1. its directory here holds exactly the subplan's **Files Modified**;
2. isolated: template + the subtask's transitive dependencies + the subtask itself, then
   the subplan's validation-gate commands (so 03-codec passes without 02-storage);
3. cumulative: subtasks applied one after another to a single copy, gates after each;
   finally the whole suite with `pytest -q`.

Gate commands and dependencies are read with the product's own parser, so this checks
exactly what the build loop will run. `pytest ...` / `python ...` run with the given
interpreter (default: the project's venv), from the repository root.

Usage: python examples/link-shortener-impl/verify.py [--python PATH]
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMPL = Path(__file__).resolve().parent
EXAMPLES = IMPL.parent
PROJECT = EXAMPLES.parent
TEMPLATE = EXAMPLES / "link-shortener-repo"
DESIGN = EXAMPLES / "link-shortener"
VENV_PYTHON = PROJECT / ".venv" / "bin" / "python"

sys.path.insert(0, str(PROJECT))
from activities.plan.design_dir import load_design  # noqa: E402
from activities.plan.graph import analyze  # noqa: E402
from activities.plan.subtask_xml import subtask_from_subplan  # noqa: E402
from contracts.plan import SubplanMeta  # noqa: E402


def argv_for(command: str, python: str) -> list[str]:
    """`pytest -q x` -> [python, -m, pytest, -q, x]; `python ...` -> [python, ...]."""
    words = shlex.split(command)
    if words[0] == "pytest":
        return [python, "-m", "pytest", *words[1:]]
    if words[0] in ("python", "python3"):
        return [python, *words[1:]]
    return words


def impl_files(name: str) -> list[str]:
    root = IMPL / name
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )


def apply(name: str, repo: Path) -> None:
    for rel in impl_files(name):
        target = repo / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(IMPL / name / rel, target)


def fresh_repo(parent: Path, label: str) -> Path:
    repo = parent / label
    shutil.copytree(TEMPLATE, repo)
    return repo


def run_gates(label: str, commands: list[str], repo: Path, python: str) -> bool:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    ok = True
    for command in commands:
        started = time.monotonic()
        proc = subprocess.run(
            argv_for(command, python), cwd=repo, env=env, capture_output=True, text=True
        )
        took = time.monotonic() - started
        verdict = "ok  " if proc.returncode == 0 else "FAIL"
        print(f"  {verdict} [{label}] {command}  ({took:.2f}s, exit {proc.returncode})")
        if proc.returncode != 0:
            ok = False
            print((proc.stdout + proc.stderr).rstrip()[-3000:])
    return ok


def closure(name: str, by_name: dict[str, SubplanMeta]) -> set[str]:
    seen: set[str] = set()
    todo = [name]
    while todo:
        for dep in by_name[todo.pop()].dependencies:
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=str(VENV_PYTHON), help="interpreter for the gates")
    python = parser.parse_args().python

    doc = load_design(str(DESIGN))
    by_name = {s.name: s for s in doc.subplans}
    order = analyze(doc).order
    gates = {name: subtask_from_subplan(by_name[name]).commands for name in order}
    ok = True

    print("files:")
    for name in order:
        have, want = impl_files(name), sorted(by_name[name].files_modified)
        same = have == want
        ok &= same
        print(f"  {'ok  ' if same else 'FAIL'} [{name}] {', '.join(have)}")
        if not same:
            print(f"       subplan lists: {', '.join(want)}")
        if not gates[name]:
            ok = False
            print(f"  FAIL [{name}] the subplan has no gate commands")

    with tempfile.TemporaryDirectory(prefix="link-shortener-verify-") as tmp:
        scratch = Path(tmp)
        print("isolated (dependencies only):")
        for name in order:
            needed = closure(name, by_name) | {name}
            repo = fresh_repo(scratch, f"isolated-{name}")
            for step in order:
                if step in needed:
                    apply(step, repo)
            ok &= run_gates(name, gates[name], repo, python)

        print("cumulative (plan order):")
        repo = fresh_repo(scratch, "cumulative")
        for name in order:
            apply(name, repo)
            ok &= run_gates(name, gates[name], repo, python)
        ok &= run_gates("all", ["pytest -q"], repo, python)

    print("verify: OK" if ok else "verify: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
