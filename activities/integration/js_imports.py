"""JavaScript and TypeScript imports: a relative one names a file of the repository, a bare
one a package its `package.json` declares (or a Node built-in, or a workspace package).

Read from the source with regular expressions (no Node needed): `import ... from`,
`export ... from`, side-effect `import '...'`, `import(...)` and `require(...)`.
Path aliases (`tsconfig.json`/`jsconfig.json` `paths`), `#` subpath imports and
scheme-prefixed specifiers (`virtual:`, `https:`) are left alone: what they mean
depends on a bundler this check does not run.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from activities.git.command import git_out

SUFFIXES = frozenset(".js .jsx .ts .tsx .mjs .cjs .mts .cts".split())
RESOLVE = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts", ".json", ".node")
# TypeScript's ESM convention: `./x.js` in the source is `./x.ts` on disk.
TS_TWIN = {".js": (".ts", ".tsx"), ".jsx": (".tsx",), ".mjs": (".mts",), ".cjs": (".cts",)}
SPECIFIER = re.compile(
    r"""(?:\bimport\s+(?:type\s+)?(?:[\w$*{}\s,]+?\s+from\s+)?"""
    r"""|\bexport\s+(?:type\s+)?[\w$*{}\s,]+?\s+from\s+"""
    r"""|\b(?:require|import)\s*\(\s*)(['"])([^'"\n]+)\1"""
)
BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
LINE_COMMENT = re.compile(r"(^|\s)//[^\n]*")
NODE_BUILTINS = frozenset(
    "assert async_hooks buffer child_process cluster console constants crypto dgram "
    "diagnostics_channel dns domain events fs http http2 https inspector module net os path "
    "perf_hooks process punycode querystring readline repl stream string_decoder sys test "
    "timers tls trace_events tty url util v8 vm wasi worker_threads zlib".split()
)
DEPENDENCY_FIELDS = ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies")


class Manifests:
    """The repository's package.json files and path aliases, read once per check run."""

    def __init__(self, worktree: Path) -> None:
        self.root = worktree
        listed = git_out(
            str(worktree), "ls-files", "--cached", "--others", "--exclude-standard", "--",
            "package.json", "*/package.json", "tsconfig.json", "jsconfig.json",
        )  # fmt: skip
        files = sorted({p for p in listed.splitlines() if "node_modules/" not in p})
        self.packages = {
            str(Path(p).parent): _json(worktree / p) for p in files if p.endswith("package.json")
        }
        self.workspace = {str(m.get("name")) for m in self.packages.values() if m.get("name")}
        self.aliases: list[str] = []
        self.base_urls: list[Path] = []
        for rel in (p for p in files if not p.endswith("package.json")):
            options = _json(worktree / rel).get("compilerOptions") or {}
            if isinstance(options.get("paths"), dict):
                self.aliases += [k.rstrip("*") for k in options["paths"]]
            if isinstance(options.get("baseUrl"), str):
                self.base_urls.append((worktree / rel).parent / options["baseUrl"])

    def declared(self, rel: str, package: str) -> bool:
        """Declared by the nearest package.json above `rel`, or the root one (hoisted)."""
        folder = Path(rel).parent
        chain = [str(p) for p in (folder, *folder.parents)]
        for key in dict.fromkeys([*chain, "."]):
            manifest = self.packages.get(key)
            if manifest and any(
                package in (manifest.get(f) or {}) or f"@types/{package}" in (manifest.get(f) or {})
                for f in DEPENDENCY_FIELDS
            ):
                return True
        return package in self.workspace


def check(worktree: Path, rel: str, text: str, manifests: Manifests) -> list[tuple[int, str]]:
    """(line, what is wrong) for each import of `rel` that does not resolve."""
    code = LINE_COMMENT.sub(r"\1", BLOCK_COMMENT.sub(lambda m: "\n" * m[0].count("\n"), text))
    problems = []
    for match in SPECIFIER.finditer(code):
        spec = match.group(2)
        line = code.count("\n", 0, match.start(2)) + 1
        problem = _problem(worktree, rel, spec, manifests)
        if problem:
            problems.append((line, problem))
    return problems


def _problem(worktree: Path, rel: str, spec: str, m: Manifests) -> str | None:
    if spec.startswith((".", "/")):
        if _resolves(worktree, (worktree / rel).parent, spec):
            return None
        return f"imports {spec!r}, which is no file of the repository (nor with .ts/.js/index)"
    if ":" in spec or spec.startswith("#") or any(spec.startswith(a) for a in m.aliases if a):
        return None  # node:fs is a built-in; the rest are a bundler's or the package's own
    parts = spec.split("/")
    package = "/".join(parts[:2]) if spec.startswith("@") else parts[0]
    if package in NODE_BUILTINS or any(_resolves(worktree, b, f"./{spec}") for b in m.base_urls):
        return None
    if not m.packages or m.declared(rel, package):
        return None  # no package.json at all: nothing declares dependencies here to check
    return (
        f"imports {spec!r}, but no package.json declares {package!r}. Fix: add it to the "
        "package's dependencies (npm install " + package + ") or import what is declared"
    )


def _resolves(worktree: Path, folder: Path, spec: str) -> bool:
    base = worktree if spec.startswith("/") else folder  # `/x`: the project's root
    target = Path(os.path.normpath(base / spec.lstrip("/")))
    if not target.is_relative_to(worktree):
        return False
    candidates = [target, *(Path(f"{target}{ext}") for ext in RESOLVE)]
    candidates += [target.with_suffix(t) for t in TS_TWIN.get(target.suffix, ())]
    candidates += [target / f"index{ext}" for ext in RESOLVE] + [target / "package.json"]
    return any(c.is_file() for c in candidates)


def _json(path: Path) -> dict[str, Any]:
    """A JSON (or tsconfig's JSON-with-comments) object; {} when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    bare = LINE_COMMENT.sub(r"\1", BLOCK_COMMENT.sub("", text))
    for attempt in (text, re.sub(r",(\s*[}\]])", r"\1", bare)):  # comments, trailing commas
        try:
            value = json.loads(attempt)
        except ValueError:
            continue
        return value if isinstance(value, dict) else {}
    return {}
