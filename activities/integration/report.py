"""build-reviews/INTEGRATION.md: how the feature came together, for the person merging it.

The integrator's words (its summaries, how it resolved a conflict, why it blamed a
subtask) are text in the report: one line each, never a heading or a table row.
"""

from __future__ import annotations

from activities.agent_text import inline
from activities.forge import follow_round_line
from contracts.follow import FollowRound
from contracts.integration import IntegrationReport


def render(r: IntegrationReport) -> str:
    o = r.outcome
    runs = len({rnd.run for rnd in r.rounds})
    verdict = {"passed": "**passed**", "skipped": "**skipped**", "failed": "**failed**"}[o.status]
    out = [
        f"# Integration: {r.feature}",
        "",
        f"- Branch: `{r.branch}` (from `{r.base_branch}`)",
        f"- Outcome: {verdict}" + (f": {inline(o.reason)}" if o.reason else ""),
        f"- Pull request: {o.pr_url or '(none)'}" + (f" ({o.pr_status})" if o.pr_status else ""),
        f"- Rounds: {len(r.rounds)}" + (f" in {runs} runs" if runs > 1 else ""),
        "",
        "## Merge order (DAG order)",
        "",
    ]
    out += [
        f"{i}. `feat/{name}`" + (f" — {r.subtask_prs[name]}" if r.subtask_prs.get(name) else "")
        for i, name in enumerate(r.merge_order, start=1)
    ] or ["(no subtask)"]
    out += ["", "## Conflicts", ""]
    out += [
        f"- `{c.branch}` in {', '.join(f'`{f}`' for f in c.files)} (merge {c.commit[:10]}): "
        + (inline(r.resolutions.get(c.branch) or "") or "not resolved yet")
        for c in r.conflicts
    ] or ["None: every branch merged cleanly."]
    out += ["", "## Rounds", ""]
    for rnd in r.rounds:
        title = f"Run {rnd.run}, round {rnd.round}" if runs > 1 else f"Round {rnd.round}"
        out += [f"### {title}", "", "| check | result |", "|---|---|"]
        out += [f"| `{cmd}` | {'pass' if ok else 'FAIL'} |" for cmd, ok in rnd.gates.items()]
        if rnd.scores:
            out += ["", "Scores: " + ", ".join(f"{k} {v:.2f}" for k, v in rnd.scores.items())]
        if rnd.fixer_summary:
            out += ["", f"Integrator: {inline(rnd.fixer_summary)}"]
        if rnd.culprit:
            by = {"checks": " by the checks", "person": " by a person"}.get(rnd.culprit_by, "")
            out += ["", f"Attributed to `{rnd.culprit}`{by}, which was reopened."]
        out.append("")
    if not r.rounds:
        out += ["(none)", ""]
    if r.follow_rounds:
        out += ["## CI and review rounds on the pull request", ""]
        out += [follow_round_line(f) for f in r.follow_rounds]
        out.append("")
    if r.reopened:
        out += ["## Reopened subtasks", ""]
        out += [f"- {inline(line)}" for line in r.reopened]
        out.append("")
    out += ["_Written by the orchestrator's integration step._", ""]
    return "\n".join(out)


def pr_body(
    feature: str,
    merge_order: list[str],
    subtask_prs: dict[str, str],
    gates: dict[str, bool],
    report_path: str,
    evidence: list[str],
    follow_rounds: list[FollowRound] | None = None,
) -> str:
    """The integration PR's description. Pure: workflows may call it."""
    out = [
        "## Summary",
        "",
        f"Every subtask of `{feature}` merged, in dependency order, and verified as a whole: "
        "the subtasks' gates, the integration suite and seed 003's smell checks.",
        "",
        "## Subtask pull requests (merge order)",
        "",
    ]
    out += [
        f"{i}. `{name}`: {subtask_prs.get(name) or '(no PR)'}"
        for i, name in enumerate(merge_order, start=1)
    ] or ["(none)"]
    out += ["", "## Checks", ""]
    out += [f"- `{cmd}`: {'pass' if ok else 'fail'}" for cmd, ok in gates.items()] or ["- (none)"]
    out += ["", "## Evidence", ""]
    out += [f"- {path}" for path in evidence]
    out += [f"- {report_path} (the whole story, in the checkout the build ran from)", ""]
    if follow_rounds:
        out += ["## CI and Review Rounds", "", *(follow_round_line(r) for r in follow_rounds), ""]
    out += ["_Opened by the orchestrator's integration step._", ""]
    return "\n".join(out)
