"""Reviews are blind: a reviewer sees no earlier review or score, whichever tool it uses.

A worktree can hold review files: a dependency's merged branch, or a branch that
already carries its review record, brings `build-reviews/` (and the design's
`design-reviews/`) with their scores. A code reviewer with a shell tries its
file tools and its commands on them.
"""

from __future__ import annotations

from pathlib import Path

from simulators.messages_api import MessagesStandIn
from tests.agents.conftest import Runner, request

OLD_SCORE = "## SCORE: 0.4242"
EARLIER = "design-docs/active/demo/build-reviews/01-core/2026-01-01-00-00-00_code-correctness.md"
DESIGN = "design-docs/active/demo/design-reviews/01-core_2026-01-01-00-00-00_design-arch.md"


async def test_a_reviewer_sees_no_earlier_review_through_tools_or_commands(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    for rel in (EARLIER, DESIGN):
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(f"Looks weak.\n{OLD_SCORE}\n---\nfull review\n")
    attempts = [
        ("read_file", {"path": EARLIER}),
        ("read_file", {"path": DESIGN}),
        ("list_files", {"path": "design-docs/active/demo/build-reviews"}),
        ("search_files", {"pattern": "SCORE", "path": "."}),
        (
            "run_command",
            {
                "command": f"cat {EARLIER} {DESIGN}; grep -rn SCORE . ; "
                "ls -R design-docs/active/demo; echo looked"
            },
        ),
    ]
    standin.reset(
        {
            "rules": [
                {
                    "match": {"role": "code-correctness"},
                    "steps": [{"tool": t, "input": a} for t, a in attempts],
                }
            ]
        }
    )
    await runner.run(
        "agent.review",
        request(repo, "code-correctness", scope="01-core", review_path="r.md", title="t"),
    )
    results = [r.tool_results[0] for r in standin.requests[1 : 1 + len(attempts)]]
    read_earlier, read_design, listing, search, command = results
    for refused in (read_earlier, read_design, listing):
        assert refused["is_error"] and "reviews are blind" in refused["content"], refused
    assert search["content"] == "no matches"
    assert "looked" in command["content"] and "No such file or directory" in command["content"]
    assert all("0.4242" not in r["content"] and "Looks weak" not in r["content"] for r in results)
    # The files themselves are untouched (hidden inside the sandbox, not removed).
    assert OLD_SCORE in (repo / EARLIER).read_text()
