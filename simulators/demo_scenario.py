"""The scripted model for the bundled example (`examples/link-shortener`).

Reviewers find a gap in round 1 and clear the bar in round 2; one reviewer
asks two questions, the question answerer settles one from the codebase; the
builder of each subtask writes the reference implementation from
`examples/link-shortener-impl/<subtask>/` and runs the subtask's tests. After the
PRs open, a fixer mends the one red CI run and answers the one review the demo's
forge (cli/demo_forge.py) produces; the docs agent writes the release docs. This
is a simulation of the model, and everything that prints it says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
IMPL_DIR = EXAMPLES / "link-shortener-impl"
# The follow fixer's agent round: after the build's two review rounds (state round 2).
FOLLOW_ROUND = 3

# The demo's CI (simulated) also runs a test the subtask's own gates never ran; the first
# head of this subtask's PR lacks it, so that run is red until the fixer adds the test.
RED_CI_SUBTASK = "03-codec"
CI_TEST = "tests/test_codec_alphabet.py"
CI_TEST_TEXT = '''"""Every character of the alphabet is the one-character code of its value."""

from shortener.codec import ALPHABET, decode, encode


def test_every_alphabet_character_round_trips() -> None:
    for value, char in enumerate(ALPHABET):
        assert encode(value) == char
        assert decode(char) == value
'''

# One review asking for a change, with one comment, on this subtask's PR.
REVIEWED_SUBTASK = "02-storage"
REVIEWED_PATH = "shortener/storage.py"
REVIEWED_LINE = "FIRST_ID = 1\n"
REVIEW_BODY = "One question before this merges."
REVIEW_COMMENT = "Why do ids start at 1? Say it next to the constant, so nobody changes it to 0."
REVIEW_FIX = (
    '# Ids start at 1: the code of 0 is "0", easily read as the letter O in a link.\n'
    + REVIEWED_LINE
)

# The subtask the demo forks before it starts (the last: its attempts build while nothing
# else does), the approach each attempt's builder is given, and what its reviewers see.
FORKED_SUBTASK = "05-cli"
FORK_APPROACHES = {
    "A": "the least code: argparse in shortener/cli.py, one test of the round trip",
    "B": "argparse in shortener/cli.py, a test for every exit code and the error line",
}
FORK_A_TEST = "tests/test_cli.py"
FORK_A_TEXT = '''"""The CLI's round trip (the demo's fork, attempt A: the happy path only)."""

from shortener.cli import main

URL = "https://example.com/some/long/path?q=1"


def test_shorten_then_resolve_round_trips(capsys, tmp_path):
    db = str(tmp_path / "links.json")
    assert main(["--db", db, "shorten", URL]) == 0
    code = capsys.readouterr().out.strip()
    assert main(["--db", db, "resolve", code]) == 0
    assert capsys.readouterr().out == f"{URL}\\n"
'''
FORK_REVIEWS = {
    "A": (0.97, "Only the round trip is tested: exit codes 1 and 2 and the error line are not"),
    "B": (0.99, "Every exit code and the one-line error are tested"),
}

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


def builder_rule(
    subtask: str, impl_dir: Path, scope: str | None = None, texts: dict[str, str] | None = None
) -> dict[str, Any]:
    """The builder of `scope` (default: the subtask) writes the subtask's reference files,
    `texts` in place of some, and runs its tests."""
    root = impl_dir / subtask
    found = sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    files = {str(p.relative_to(root)): p.read_text(encoding="utf-8") for p in found}
    files.update(texts or {})
    steps: list[dict[str, Any]] = [
        {"tool": "write_file", "input": {"path": path, "content": text}}
        for path, text in files.items()
    ]
    tests = [path for path in files if Path(path).name.startswith("test_")]
    if tests:
        steps.append(
            {"tool": "run_command", "input": {"command": f"python -m pytest -q {' '.join(tests)}"}}
        )
    return {
        "match": {"role": "builder", "scope": scope or subtask},
        "steps": steps,
        "submit": {
            "summary": f"Implemented {subtask} with tests (simulated builder).",
            "files_changed": list(files),
        },
    }


def fork_rules(impl_dir: Path) -> list[dict[str, Any]]:
    """The attempts of the demo's `!fork` (cli/demo_fork.py sends it): A writes the CLI
    with its round trip test only, B with the reference tests of every exit code; each
    passes review in one round, B clearly higher, so FORK-<name>.md recommends B."""
    rules = [
        builder_rule(FORKED_SUBTASK, impl_dir, f"{FORKED_SUBTASK}@A", {FORK_A_TEST: FORK_A_TEXT}),
        builder_rule(FORKED_SUBTASK, impl_dir, f"{FORKED_SUBTASK}@B"),
    ]
    for attempt, (score, tested) in FORK_REVIEWS.items():
        summary = [f"{FORKED_SUBTASK} does what its subplan asks", tested]
        rules.append(
            {
                "match": {"kind": "review", "scope": f"{FORKED_SUBTASK}@{attempt}"},
                "submit": {"score": score, "summary": summary},
            }
        )
    return rules


def follow_fixer_rules() -> list[dict[str, Any]]:
    """The fixers of the PRs' follow loops: the red CI's missing test, the review's comment."""
    return [
        {
            "match": {"role": "fixer", "scope": RED_CI_SUBTASK, "round": FOLLOW_ROUND},
            "steps": [
                {"tool": "write_file", "input": {"path": CI_TEST, "content": CI_TEST_TEXT}},
                {"tool": "run_command", "input": {"command": f"python -m pytest -q {CI_TEST}"}},
            ],
            "submit": {
                "summary": f"Added {CI_TEST}, the alphabet round trip CI runs (simulated fixer).",
                "files_changed": [CI_TEST],
            },
        },
        {
            "match": {"role": "fixer", "scope": REVIEWED_SUBTASK, "round": FOLLOW_ROUND},
            "steps": [
                {
                    "tool": "edit_file",
                    "input": {
                        "path": REVIEWED_PATH,
                        "old_string": REVIEWED_LINE,
                        "new_string": REVIEW_FIX,
                    },
                }
            ],
            "submit": {
                "summary": "Said above FIRST_ID why ids start at 1 (simulated fixer).",
                "files_changed": [REVIEWED_PATH],
            },
        },
    ]


def docs_rule(design_rel: str) -> dict[str, Any]:
    """`!docs`: the docs agent writes the release's three documents."""
    docs = f"{design_rel}/docs"
    text = {
        "OVERVIEW.md": "# Link shortener\n\nShort codes for URLs: a library and a CLI "
        "(`python -m shortener`), links kept in a JSON file. See the design's overview.\n",
        "CHANGELOG.md": "# Changelog\n\n- Models, storage, base62 codec, service and CLI "
        "(subtasks 01 to 05), integrated on integration/link-shortener.\n",
        "API.md": "# API\n\nNo OpenAPI description in the repository: the API is the "
        "`shortener` package (`Shortener.shorten`, `resolve`, `stats`).\n",
    }
    return {
        "match": {"role": "release-docs"},
        "steps": [
            {"tool": "write_file", "input": {"path": f"{docs}/{name}", "content": body}}
            for name, body in text.items()
        ],
        "submit": {
            "summary": "Wrote the overview, the changelog and the API notes (simulated).",
            "files_changed": [f"{docs}/{name}" for name in text],
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
        rules += fork_rules(impl_dir)
    return {"rules": [*rules, *follow_fixer_rules(), docs_rule(design_rel)]}
