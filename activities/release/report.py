"""`release/CRITIQUE.md`, `SECURITY.md`, `VERIFY.md`: what each gate found, with evidence.

The agents' words are one line each (`inline`), never a heading or a table row.
"""

from __future__ import annotations

import posixpath
from collections import Counter

from activities.agent_text import inline
from contracts.release import (
    CRITIC_DIMENSIONS,
    SECURITY_DOMAINS,
    ReleaseReport,
    StageState,
    area_slug,
    at_or_above,
)

TITLES = {"critic": "Critique", "security": "Security review", "verify": "Verification"}
FILES = {"critic": "CRITIQUE.md", "security": "SECURITY.md", "verify": "VERIFY.md"}


def report_path(design_dir: str, stage: str) -> str:
    return f"{design_dir}/release/{FILES[stage]}"


def _shown(r: ReleaseReport, path: str) -> str:
    """A file of the design directory as a path relative to it (the report sits in it)."""
    top = posixpath.dirname(posixpath.dirname(r.path))
    if path.startswith(top + "/"):
        return path[len(top) + 1 :]
    return path or "-"


def _counts(stage: StageState) -> str:
    counts = Counter(f.severity.value for f in stage.findings)
    order = ("critical", "high", "medium", "low")
    return ", ".join(f"{counts[s]} {s}" for s in order if counts[s]) or "none"


def _areas(r: ReleaseReport, names: tuple[str, ...], what: str) -> list[str]:
    st = r.stage
    out = [f"| {what} | score | findings | evidence |", "|---|---|---|---|"]
    for name in names:
        slug = area_slug(name)
        score = st.scores.get(slug)
        found = sum(1 for f in st.findings if f.area == slug)
        shown = f"{score:.2f}" if score is not None else "-"
        out.append(f"| {name} | {shown} | {found} | {_shown(r, st.evidence.get(slug, ''))} |")
    return out


def _findings(r: ReleaseReport) -> list[str]:
    out = ["## Findings", ""]
    for f in r.stage.findings:
        where = f" at `{inline(f.location)}`" if f.location else ""
        fix = " (fix round)" if at_or_above(f.severity.value, r.fix_severity) else ""
        out.append(f"- **{f.severity.value}** [{f.area}]{where}: {inline(f.description)}{fix}")
        if f.evidence:
            out.append(f"  - evidence: {_shown(r, f.evidence)}")
    if not r.stage.findings:
        out.append("None.")
    return [*out, ""]


def render(r: ReleaseReport) -> str:
    st = r.stage
    out = [
        f"# {TITLES[st.name]}: {r.feature}",
        "",
        f"- Branch: `{r.branch}`",
        f"- Review rounds: {st.round}, fixer rounds: {st.fix_rounds}",
        f"- Open findings: {_counts(st)} (fix rounds for `{r.fix_severity}` and above)",
    ]
    if st.accepted:
        out.append("- A person kept the findings above the fix severity as they are")
    if r.verdict is not None:
        out.append(f"- Verdict: **{r.verdict}**")
    out.append("")
    if st.name == "critic":
        out += ["## Dimensions", "", *_areas(r, CRITIC_DIMENSIONS, "dimension"), ""]
    elif st.name == "security":
        out += ["## Domains", "", *_areas(r, SECURITY_DOMAINS, "domain"), ""]
        out += ["## Scanners", ""]
        out += [f"- {inline(note)}" for note in st.scanners] or ["- none ran"]
        out.append("")
    else:
        out += ["## Test suite", "", "| command | result | log |", "|---|---|---|"]
        out += [
            f"| `{g.command}` | {'pass' if g.passed else 'FAIL'} | {_shown(r, g.log_path)} |"
            for g in st.gates
        ] or ["| (no test command configured) | - | - |"]
        out += ["", "## Acceptance criteria", "", "| subtask | criterion | met | evidence |"]
        out.append("|---|---|---|---|")
        for c in r.criteria:
            slug = area_slug(c.subtask)
            unmet = any(f.area == slug for f in st.findings)
            met = "no" if unmet else ("yes" if slug in st.scores else "-")
            evidence = _shown(r, st.evidence.get(slug, ""))
            out.append(f"| {c.subtask} | {inline(c.text)} | {met} | {evidence} |")
        out.append("")
    out += _findings(r)
    if st.fixes:
        out += ["## Fix rounds", ""]
        out += [f"{i}. {inline(fix)}" for i, fix in enumerate(st.fixes, start=1)]
        out.append("")
    out += ["_Written by the orchestrator's release loop._", ""]
    return "\n".join(out)
