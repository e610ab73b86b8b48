"""Seed 003's smell checks on the integrated branch, over what the feature changed.

- every file a subtask's XML promised exists;
- imports resolve: Python modules and names inside the repository are checked
  from the source (a subtask that renamed what another imports is the classic
  integration failure), third-party ones in the repository's own environment,
  inside the sandbox, like any gate; JavaScript/TypeScript (js_imports.py) and
  Go (go_imports.py) against the repository's files and manifests;
- no TODO, FIXME, placeholder or mock code outside tests, in the lines the
  feature added (pre-existing ones are not the feature's doing);
- no conflict markers left by a merge.

Each check becomes one gate result, so the round's verdict, the integrator's
issues and INTEGRATION.md treat it like any other gate.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from activities import files
from activities.git.command import git_out, run_git
from activities.git.queries import is_ancestor, resolve_commit
from activities.integration import go_imports, js_imports
from contracts.build import GateCommand
from contracts.integration import SmellFinding

CHECK_FILES = "smell: every promised file exists"
CHECK_IMPORTS = "smell: imports resolve"
CHECK_MARKERS = "smell: no TODO, FIXME, placeholder or mock code outside tests"
CHECK_CONFLICTS = "smell: no merge conflict markers"

SOURCE_SUFFIXES = frozenset(
    ".py .pyi .js .jsx .ts .tsx .mjs .cjs .go .rs .java .kt .rb .c .h .cc .cpp .hpp .cs "
    ".swift .php .scala .sh .bash".split()
)
TEST_DIRS = frozenset({"tests", "test", "testing", "__tests__", "spec", "specs", "fixtures"})
TEST_NAME = re.compile(r"^(test_.*|.*_test\.\w+|.*\.(test|spec)\.\w+|conftest\.py)$")
SMELL = re.compile(
    r"\b(TODO|FIXME|XXX)\b|\bplaceholder\b(?!\s*[=:])|raise NotImplementedError|\bunittest\.mock\b"
    r"|\bMagicMock\b|\bmock\b",
    re.IGNORECASE,
)
CONFLICT_MARKER = re.compile(r"^(<{7}|>{7})( |$)")
# Run in the repository's environment: which top-level modules cannot be found.
FIND_SPEC = (
    "import importlib.util as u, sys; "
    "b = [n for n in sys.argv[1:] if u.find_spec(n) is None]; "
    "print('cannot import: ' + ' '.join(b) if b else 'every import resolves'); "
    "sys.exit(1 if b else 0)"
)


def is_test_path(rel: str) -> bool:
    parts = PurePosixPath(rel).parts
    return any(p in TEST_DIRS for p in parts[:-1]) or bool(TEST_NAME.match(parts[-1]))


Bases = str | Sequence[str]


def _refs(bases: Bases) -> list[str]:
    return [bases] if isinstance(bases, str) else list(bases)


def changed_files(worktree: str, bases: Bases) -> list[str]:
    """Files the work added or modified (deleted ones cannot smell).

    One base (integration: the base commit): the diff against it. Several (a subtask: its
    base branch and its dependencies' branches): the files its own commits touched, and
    what is not committed yet.
    """
    refs = _refs(bases)
    untracked = git_out(worktree, "ls-files", "--others", "--exclude-standard")
    if len(refs) == 1:
        out = git_out(worktree, "diff", "--name-only", "--no-renames", "--diff-filter=AM", refs[0])
    else:
        out = git_out(
            worktree, "log", "--format=", "--name-only", "--no-renames", "HEAD", "--not", *refs
        )
        out += "\n" + git_out(worktree, "diff", "--name-only", "--no-renames", "HEAD")
    names = {line for line in f"{out}\n{untracked}".splitlines() if line}
    return sorted(n for n in names if (Path(worktree) / n).is_file())


def added_lines(worktree: str, bases: Bases, rel: str) -> list[tuple[int, str]]:
    """(line number, text) of each line the work added to `rel`."""
    refs = _refs(bases)
    if len(refs) > 1 or not git_out(worktree, "ls-files", "--", rel):
        return _own_lines(worktree, refs, rel)  # (an untracked file: every line is new)
    out = git_out(worktree, "diff", "-U0", "--no-color", refs[0], "--", rel)
    lines: list[tuple[int, str]] = []
    number = 0
    for line in out.splitlines():
        hunk = re.match(r"^@@ -\S+ \+(\d+)", line)
        if hunk:
            number = int(hunk.group(1))
            continue
        if line.startswith("+") and not line.startswith("+++"):
            lines.append((number, line[1:]))
            number += 1
    return lines


_BLAME_HEAD = re.compile(r"^([0-9a-f]{40}) \d+ (\d+)")
UNCOMMITTED = "0" * 40


def _own_lines(worktree: str, refs: list[str], rel: str) -> list[tuple[int, str]]:
    """Lines of `rel` written by commits none of `refs` holds (or not committed yet)."""
    own = set(git_out(worktree, "rev-list", "HEAD", "--not", *refs).split())
    proc = run_git(worktree, "blame", "--porcelain", "--", rel, check=False)
    if proc.returncode != 0:  # not in HEAD: every line is new
        text = _text(Path(worktree) / rel) or ""
        return list(enumerate(text.splitlines(), start=1))
    lines: list[tuple[int, str]] = []
    commit, number = "", 0
    for line in proc.stdout.splitlines():
        head = _BLAME_HEAD.match(line)
        if head:
            commit, number = head.group(1), int(head.group(2))
        elif line.startswith("\t") and (commit in own or commit == UNCOMMITTED):
            lines.append((number, line[1:]))
    return lines


def promised_missing(
    worktree: Path, promised: dict[str, list[str]], where: str = "on the integrated branch"
) -> list[SmellFinding]:
    return [
        SmellFinding(
            check=CHECK_FILES,
            path=rel,
            message=f"{subtask}'s XML promises {rel}, which is missing {where}",
        )
        for subtask, files in sorted(promised.items())
        for rel in files
        if not (worktree / rel).exists()
    ]


def smell_markers(worktree: str, bases: Bases, files: Iterable[str]) -> list[SmellFinding]:
    findings = []
    for rel in files:
        if is_test_path(rel) or PurePosixPath(rel).suffix not in SOURCE_SUFFIXES:
            continue
        for number, text in added_lines(worktree, bases, rel):
            found = SMELL.search(text)
            if found:
                findings.append(
                    SmellFinding(
                        check=CHECK_MARKERS,
                        path=rel,
                        line=number,
                        message=f"`{found.group(0)}` outside tests: {text.strip()[:160]}",
                    )
                )
    return findings


def conflict_markers(worktree: Path, files: Iterable[str]) -> list[SmellFinding]:
    findings = []
    for rel in files:
        text = _text(worktree / rel)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if CONFLICT_MARKER.match(line):
                findings.append(
                    SmellFinding(
                        check=CHECK_CONFLICTS,
                        path=rel,
                        line=number,
                        message=f"merge conflict marker `{line[:20]}`: resolve the conflict",
                    )
                )
                break
    return findings


# ------------------------------------------------------------------ imports


class Imports:
    """Imports of the changed files: Python resolved against the repository's source (and
    third-party modules, `external`, in its environment); JavaScript/TypeScript against
    its files and package.json; Go against its go.mod."""

    def __init__(self, worktree: Path) -> None:
        self.root = worktree
        self.roots = [worktree, worktree / "src"]
        self.external: set[str] = set()
        self.findings: list[SmellFinding] = []
        self._manifests: js_imports.Manifests | None = None
        self._go_modules: dict[Path, go_imports.Module | None] = {}

    def check(self, rel: str) -> None:
        suffix = PurePosixPath(rel).suffix
        if suffix not in (".py", ".go") and suffix not in js_imports.SUFFIXES:
            return
        text = _text(self.root / rel)
        if text is None:
            return
        if suffix == ".py":
            self._python(rel, text)
            return
        if suffix == ".go":
            module = go_imports.module_of(self.root, rel, self._go_modules)
            found = go_imports.check(rel, text, module) if module else []
        else:
            self._manifests = self._manifests or js_imports.Manifests(self.root)
            found = js_imports.check(self.root, rel, text, self._manifests)
        for line, message in found:
            self._bad(rel, line, message)

    def _python(self, rel: str, text: str) -> None:
        try:
            tree = ast.parse(text, filename=rel)
        except SyntaxError as err:
            self._bad(rel, err.lineno, f"does not parse: {err.msg}")
            return
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self._module(rel, node.lineno, alias.name)
            elif isinstance(node, ast.ImportFrom):
                self._from(rel, node)

    def _from(self, rel: str, node: ast.ImportFrom) -> None:
        if node.level:
            package = (self.root / rel).parent
            for _ in range(node.level - 1):
                package = package.parent
            base = package.joinpath(*node.module.split(".")) if node.module else package
            target = self._module_path(base)
            if target is None and node.module:
                self._bad(
                    rel,
                    node.lineno,
                    f"relative import {'.' * node.level}{node.module} "
                    "names no module in the repository",
                )
                return
            self._names(rel, node, base, target)
            return
        assert node.module is not None
        local = self._local(node.module)
        if local is None:
            self._module(rel, node.lineno, node.module)
            return
        self._names(rel, node, local, self._module_path(local))

    def _names(self, rel: str, node: ast.ImportFrom, base: Path, target: Path | None) -> None:
        defined = _defined_names(target) if target is not None else None
        for alias in node.names:
            if alias.name == "*" or self._module_path(base / alias.name) is not None:
                continue
            if defined is not None and alias.name not in defined:
                where = target.relative_to(self.root) if target else base
                self._bad(rel, node.lineno, f"imports {alias.name!r}, which {where} lacks")

    def _module(self, rel: str, line: int, dotted: str) -> None:
        top = dotted.split(".")[0]
        if top in sys.stdlib_module_names or top == "__future__":
            return
        if self._local(top) is None:
            self.external.add(top)
            return
        if self._local(dotted) is None:
            self._bad(rel, line, f"imports {dotted}, which is no module in the repository")

    def _local(self, dotted: str) -> Path | None:
        """The repository path of a module (file or package), or None."""
        for root in self.roots:
            base = root.joinpath(*dotted.split("."))
            if self._module_path(base) is not None:
                return base
        return None

    @staticmethod
    def _module_path(base: Path) -> Path | None:
        """`base.py`, or `base/__init__.py`, or `base/` as a namespace package."""
        if base.with_suffix(".py").is_file():
            return base.with_suffix(".py")
        if (base / "__init__.py").is_file():
            return base / "__init__.py"
        if base.is_dir() and any(base.glob("*.py")):
            return base  # a namespace package: any name may be a submodule
        return None

    def _bad(self, rel: str, line: int | None, message: str) -> None:
        finding = SmellFinding(check=CHECK_IMPORTS, path=rel, line=line, message=message)
        self.findings.append(finding)


def _defined_names(target: Path) -> set[str] | None:
    """Top-level names a module defines (in every branch of a top-level `if`/`try`);
    None when it cannot be told (star imports, a module `__getattr__`, a namespace
    package, a file that does not parse)."""
    if target.is_dir():
        return None
    try:
        tree = ast.parse(_text(target) or "")
    except SyntaxError:
        return None
    names: set[str] = set()

    def collect(body: list[ast.stmt]) -> bool:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if node.name == "__getattr__":
                    return False
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    names.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    if alias.name == "*":
                        return False
                    names.add((alias.asname or alias.name).split(".")[0])
            else:
                nested = [
                    getattr(node, field, [])
                    for field in ("body", "orelse", "finalbody", "handlers")
                ]
                for block in nested:
                    inner = [getattr(h, "body", h) for h in block]
                    flat = [x for b in inner for x in (b if isinstance(b, list) else [b])]
                    if flat and not collect([x for x in flat if isinstance(x, ast.stmt)]):
                        return False
        return True

    return names if collect(tree.body) else None


def _text(path: Path) -> str | None:
    """A regular file's text (None for binaries, special files and very large files)."""
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size > 2_000_000:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


# ------------------------------------------------------------ attribution


class Attribution:
    """Which subtask's own work a finding is in: the first branch, in DAG order, that holds
    the commit which wrote the line (or took the file away). A dependent's branch holds its
    dependencies' commits too, so the first one is where the work was done; a commit no
    subtask branch holds (the integrator's, a conflicting merge) is nobody's."""

    def __init__(self, worktree: str, base: str, branches: dict[str, str]) -> None:
        self.worktree, self.base = worktree, base
        self.refs = {name: _branch_ref(worktree, b) for name, b in branches.items()}
        self._owners: dict[str, str | None] = {}

    def of_line(self, rel: str, line: int) -> str | None:
        return self._owner("blame", "--porcelain", "-L", f"{line},{line}", "HEAD", "--", rel)

    def of_deletion(self, rel: str) -> str | None:
        return self._owner(
            "log", "-n1", "--format=%H", "--diff-filter=D", f"{self.base}..HEAD", "--", rel
        )

    def _owner(self, *git_args: str) -> str | None:
        """The subtask owning the commit git names first in its output (blame, log)."""
        if not any(self.refs.values()):
            return None
        out = run_git(self.worktree, *git_args, check=False).stdout
        commit = out.split(maxsplit=1)[0] if out.split() else ""
        if not re.fullmatch(r"[0-9a-f]{40}", commit):
            return None
        if commit not in self._owners:
            self._owners[commit] = next(
                (
                    name
                    for name, ref in self.refs.items()
                    if ref and is_ancestor(self.worktree, commit, ref)
                ),
                None,
            )
        return self._owners[commit]


def _branch_ref(worktree: str, branch: str) -> str | None:
    """The branch's commit here: the local branch, else a remote-tracking copy."""
    found = resolve_commit(worktree, f"refs/heads/{branch}")
    if found:
        return found
    out = git_out(worktree, "for-each-ref", "--format=%(objectname)", f"refs/remotes/*/{branch}")
    return out.split()[0] if out.split() else None


def attribute(
    findings: list[SmellFinding],
    worktree: str,
    base: str,
    branches: dict[str, str],
    promised: dict[str, list[str]],
) -> list[SmellFinding]:
    """Name the subtask at fault where the checks can tell: a promised file that is missing
    (whoever deleted it, else whoever promised it) and a marker a subtask's commit wrote."""
    who = Attribution(worktree, base, branches)
    promiser = {rel: name for name, files in promised.items() for rel in files}
    for f in findings:
        if f.check == CHECK_FILES:
            f.subtask = who.of_deletion(f.path) or promiser.get(f.path)
        elif f.check in (CHECK_MARKERS, CHECK_CONFLICTS) and f.line is not None:
            f.subtask = who.of_line(f.path, f.line)
    return findings


FIXES = {
    CHECK_FILES: "write each promised file (if the plan changed, change the subtask's XML "
    "with `orchestrator change`)",
    CHECK_CONFLICTS: "resolve each conflict and delete its markers",
    CHECK_MARKERS: "finish what each marker stands for and delete the marker (tests may keep "
    "theirs)",
    CHECK_IMPORTS: "import only what the repository has or its manifest (pyproject.toml or "
    "requirements, package.json, go.mod) declares and its environment installs",
}


def resolve_bases(worktree: str, names: Sequence[str]) -> list[str]:
    """The commits of `names` (branches, local or remote-tracking, or commit ids); one
    branch alone becomes its merge base with HEAD, so a base that moved on since is not
    read as this work's change."""
    refs = [
        r for r in (_branch_ref(worktree, n) or resolve_commit(worktree, n) for n in names) if r
    ]
    if len(refs) == 1:
        refs = [git_out(worktree, "merge-base", "HEAD", refs[0]).strip() or refs[0]]
    return refs


def as_gate(check: str, findings: list[SmellFinding], log_path: Path) -> GateCommand:
    """One check's findings as a gate result with its log; each names file:line, the
    check's fix closes the list."""
    mine = [f for f in findings if f.check == check]
    lines = [f"{f.path}{f':{f.line}' if f.line else ''}: {f.message}" for f in mine]
    body = "\n".join([*lines, f"Fix: {FIXES[check]}"]) if lines else "ok"
    files.atomic_write_text(log_path, f"$ {check}\n{body}\n\n[exit {1 if lines else 0}]\n")
    shown = lines[:15] + ([f"... {len(lines) - 15} more"] if len(lines) > 15 else [])
    return GateCommand(
        command=check,
        exit_code=1 if lines else 0,
        passed=not lines,
        duration_s=0.0,
        log_path=str(log_path),
        tail="\n".join([*shown, f"Fix: {FIXES[check]}"]) if lines else "",
        culprits=list(dict.fromkeys(f.subtask for f in mine if f.subtask)),
        kind="smell",
    )
