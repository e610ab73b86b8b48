"""A finished subtask's implementation, read from git as a pattern entry.

Finished means: the commit that passed its review is on record
(`build-reviews/<subtask>/review-pass.json`, written before its pull request) and its
branch, where it still exists, holds that commit. The subtask's own work is the range
from where its own commits start (after its base and dependencies) to that commit;
its largest files are the key files, each excerpt bounded, and so is their total.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError

from activities import files
from activities.agents.briefing import own_base
from activities.git.command import git_bytes, git_out
from activities.git.queries import is_ancestor, resolve_commit
from activities.patterns.keywords import keywords
from activities.patterns.library import Pattern, PatternRefused
from activities.plan.subtask_xml import read_subtask
from activities.review_pass import pass_path
from contracts.build import ReviewPass
from contracts.git import BRANCH_PREFIX
from contracts.patterns import PatternAddRequest
from contracts.plan import PlanError

MAX_FILES = 6  # key files listed with an excerpt
MAX_FILE_CHARS = 1_500  # of one file's excerpt
MAX_EXCERPT_CHARS = 6_000  # of all excerpts of one pattern
MAX_SUMMARY_CHARS = 1_000

STACKS = {
    ".py": "Python",
    ".pyi": "Python",
    ".ts": "TypeScript",
    ".tsx": "TypeScript",
    ".js": "JavaScript",
    ".jsx": "JavaScript",
    ".mjs": "JavaScript",
    ".go": "Go",
    ".rs": "Rust",
    ".java": "Java",
    ".kt": "Kotlin",
    ".rb": "Ruby",
    ".php": "PHP",
    ".cs": "C#",
    ".c": "C",
    ".h": "C",
    ".cpp": "C++",
    ".swift": "Swift",
    ".sql": "SQL",
    ".sh": "Shell",
    ".html": "HTML",
    ".css": "CSS",
    ".prisma": "Prisma",
}
FENCE_LANG = {".py": "python", ".ts": "ts", ".tsx": "tsx", ".js": "js", ".go": "go", ".rs": "rust"}


def finished_commit(req: PatternAddRequest) -> str:
    """The commit that passed review, if the subtask finished; else refused, saying why."""
    record_path = pass_path(req.design_dir, req.subtask)
    rel = os.path.relpath(record_path, req.repo_root)
    try:
        record = ReviewPass.model_validate_json(files.read_bytes(record_path))
    except FileNotFoundError:
        raise PatternRefused(
            f"{req.subtask} has not finished: no review pass is on record ({rel}), so it has "
            "no reviewed work to keep. Fix: add it once its pull request exists (`status` "
            "shows its PR)"
        ) from None
    except (ValidationError, UnicodeDecodeError, OSError) as err:
        raise PatternRefused(
            f"{rel} cannot be read ({err}); it is the record of the commit that passed "
            f"review. Fix: build {req.subtask} again so it is written anew"
        ) from err
    commit = resolve_commit(req.repo_root, record.commit)
    if commit is None:
        raise PatternRefused(
            f"{req.subtask}: the commit that passed review ({record.commit[:12]}, {rel}) is "
            "not in this repository. Fix: fetch its branch "
            f"(`git fetch {req.remote} {BRANCH_PREFIX}{req.subtask}`), then add it again"
        )
    branch = BRANCH_PREFIX + req.subtask
    for ref in (f"refs/heads/{branch}", f"refs/remotes/{req.remote}/{branch}"):
        tip = resolve_commit(req.repo_root, ref)
        if tip is not None and not is_ancestor(req.repo_root, commit, tip):
            raise PatternRefused(
                f"{req.subtask}: {ref} no longer holds the commit that passed review "
                f"({commit[:12]}): its work was reset or rewritten since. Fix: let the build "
                "finish it again, then add it"
            )
    return commit


def capture(req: PatternAddRequest, commit: str) -> Pattern:
    """The entry (without its id) for the subtask's own work up to `commit`."""
    xml = Path(req.design_dir) / "subtasks" / f"{req.subtask}.xml"
    try:
        spec = read_subtask(xml)
    except (PlanError, OSError) as err:
        raise PatternRefused(
            f"{req.subtask}: its subtask file {xml} cannot be read ({err}). Fix: restore it "
            "from the approved design"
        ) from err
    root = req.repo_root
    base = own_base(root, commit, [req.base_branch, *req.dependency_branches]) or commit
    changed = _own_files(req, base, commit)
    if not changed:
        raise PatternRefused(
            f"{req.subtask}: {BRANCH_PREFIX}{req.subtask} has no work of its own up to "
            f"{commit[:12]} (nothing differs from its base), so there is nothing to keep"
        )
    key = sorted(changed, key=lambda p: (-changed[p], p))[:MAX_FILES]
    stack = sorted({STACKS[s] for p in changed if (s := Path(p).suffix.lower()) in STACKS})
    summary = " ".join(spec.summary.split())[:MAX_SUMMARY_CHARS] or spec.title
    summary = "\\" + summary if summary.startswith("#") else summary  # text, not a heading
    body = [
        "### Summary",
        "",
        summary,
        "",
        "### Key files",
        "",
        *(f"- `{p}` (+{changed[p]})" for p in key),
        *_excerpts(root, commit, key),
    ]
    return Pattern(
        id="",
        title=" ".join(spec.title.split()) or req.subtask,
        domain=req.feature,
        stack=", ".join(stack) or "-",
        keywords=keywords(spec.title, spec.summary, [*spec.files, *key]),
        source=source_key(req),
        commit=commit,
        pr=req.pr_url or "-",
        body="\n".join(body),
    )


def source_key(req: PatternAddRequest) -> str:
    """What makes two adds the same pattern: the project, its feature, the subtask."""
    return f"{req.subtask} of {req.feature} in {os.path.realpath(req.repo_root)}"


def _own_files(req: PatternAddRequest, base: str, commit: str) -> dict[str, int]:
    """Files of the subtask's own work -> lines added (the design's records left out)."""
    design_rel = os.path.relpath(os.path.realpath(req.design_dir), os.path.realpath(req.repo_root))
    skip = (f"{design_rel}/", ".orchestrator/")
    out: dict[str, int] = {}
    # -z: paths as they are (no quoting of unusual names), one NUL-ended record each.
    numstat = git_out(req.repo_root, "diff", "--numstat", "-z", "--no-renames", base, commit)
    for record in filter(None, numstat.split("\0")):
        added, _deleted, path = record.split("\t", 2)
        if path.startswith(skip) or added == "-":  # records, binaries
            continue
        if any(ord(c) < 32 for c in path):  # a newline in a name would end the entry's line
            continue
        if int(added) > 0:
            out[path] = int(added)
    return out


def _excerpts(root: str, commit: str, paths: list[str]) -> list[str]:
    out: list[str] = []
    left = MAX_EXCERPT_CHARS
    for path in paths:
        if left <= 0:
            break
        data = git_bytes(root, "show", f"{commit}:{path}")
        if data is None or b"\0" in data[:8000]:
            continue
        text = data.decode("utf-8", errors="replace")
        limit = min(MAX_FILE_CHARS, left)
        shown = text if len(text) <= limit else text[: text.rfind("\n", 0, limit) + 1 or limit]
        left -= len(shown)
        fence = "`" * max(3, _longest_run(shown, "`") + 1)
        lang = FENCE_LANG.get(Path(path).suffix.lower(), "")
        rest = len(text) - len(shown)
        out += ["", f"#### `{path}`", "", f"{fence}{lang}", shown.rstrip("\n"), fence]
        if rest:
            out.append(f"({rest} more characters in the file at {commit[:12]})")
    return out


def _longest_run(text: str, char: str) -> int:
    best = run = 0
    for c in text:
        run = run + 1 if c == char else 0
        best = max(best, run)
    return best
