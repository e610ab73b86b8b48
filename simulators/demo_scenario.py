"""The scripted model for the bundled example (`examples/link-shortener`).

Reviewers find a gap in round 1 and clear the bar in round 2; one reviewer
asks two questions, the question answerer settles one from the codebase; the
builder of each subtask writes the reference implementation from
`examples/link-shortener-impl/<subtask>/` and runs the subtask's tests. This
is a simulation of the model, and everything that prints it says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
IMPL_DIR = EXAMPLES / "link-shortener-impl"

QUESTIONS = [
    {
        "id": "Q1",
        "text": "Are short codes case-sensitive?",
        "options": ["Yes: the base62 alphabet keeps both cases", "No: codes are lower-case"],
    },
    {
        "id": "Q2",
        "text": "Where should the CLI keep links by default?",
        "options": ["A JSON file in the current directory", "In memory only"],
    },
]


def builder_rule(subtask: str, impl_dir: Path) -> dict[str, Any]:
    root = impl_dir / subtask
    files = sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    steps: list[dict[str, Any]] = [
        {
            "tool": "write_file",
            "input": {"path": str(p.relative_to(root)), "content": p.read_text(encoding="utf-8")},
        }
        for p in files
    ]
    tests = [str(p.relative_to(root)) for p in files if p.name.startswith("test_")]
    if tests:
        steps.append(
            {"tool": "run_command", "input": {"command": f"python -m pytest -q {' '.join(tests)}"}}
        )
    return {
        "match": {"role": "builder", "scope": subtask},
        "steps": steps,
        "submit": {
            "summary": f"Implemented {subtask} with tests (simulated builder).",
            "files_changed": [str(p.relative_to(root)) for p in files],
        },
    }


def link_shortener_scenario(
    design_rel: str = "design-docs/active/link-shortener", impl_dir: Path = IMPL_DIR
) -> dict[str, Any]:
    overview = f"{design_rel}/overview.md"
    rules: list[dict[str, Any]] = [
        {
            "match": {"role": "design-requirements", "scope": "consistency", "round": 1},
            "steps": [{"tool": "read_file", "input": {"path": overview}}],
            "submit": {
                "score": 0.82,
                "summary": ["The subplans agree with the overview", "Two decisions are open"],
                "issues": [
                    {
                        "severity": "high",
                        "description": "The overview does not say how codes are matched "
                        "(case) nor where the CLI stores links.",
                        "location": f"{overview}:13",
                        "quote": "- Resolve a code to its URL and count the visit.",
                        "failure": "resolving `AbC` after shortening to `abc`: nothing says "
                        "whether it finds the link",
                    }
                ],
                "questions": QUESTIONS,
                "recommended_fixer": "design-writer",
                "notes": "The design section leaves two product decisions open; see the questions.",
            },
        },
        {
            "match": {"role": "question-answerer"},
            "steps": [{"tool": "search_files", "input": {"pattern": "base62"}}],
            "submit": {
                "answers": [
                    {
                        "id": "Q1",
                        "answered": True,
                        "choice": "A",
                        "reasoning": "03-codec specifies the base62 alphabet 0-9a-zA-Z, so "
                        "codes keep both cases.",
                    },
                    {
                        "id": "Q2",
                        "answered": False,
                        "choice": None,
                        "reasoning": "Nothing in the repository decides the CLI's default store.",
                    },
                ]
            },
        },
        {
            "match": {"role": "design-writer", "scope": "consistency"},
            "steps": [
                {
                    "tool": "edit_file",
                    "input": {
                        "path": overview,
                        "old_string": "## Non-goals",
                        "new_string": "## Decisions\n\n- Error cases are listed per subplan; "
                        "invalid input raises a typed error.\n\n## Non-goals",
                    },
                }
            ],
            "submit": {
                "summary": "Added a Decisions section (simulated writer).",
                "files_changed": [overview],
            },
        },
    ]
    if impl_dir.is_dir():
        rules += [builder_rule(d.name, impl_dir) for d in sorted(impl_dir.iterdir()) if d.is_dir()]
    return {"rules": rules}
