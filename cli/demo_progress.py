"""The build's progress as the demo prints it: what changed since the last poll."""

from __future__ import annotations

from cli.demo_steps import Demo
from cli.views import scores_text
from contracts.build import BuildStatus, SubtaskView

# Statuses of a followed PR worth a line (ci_running is every PR's, between the others).
FOLLOW_SHOWN = {
    "ci_failed": "red CI: a fixer gets the check's output",
    "changes_requested": "changes requested: a fixer gets the review",
    "mergeable": "mergeable (GitHub says clean)",
    "merged": "merged",
}


def report_progress(demo: Demo, st: BuildStatus, seen: set[tuple[str, object]]) -> None:
    """Starts, rounds, PRs, what following each PR did, blocked subtasks."""
    say = demo.say
    for v in st.subtasks:
        if v.status != "pending" and (v.name, "start") not in seen:
            seen.add((v.name, "start"))
            say(f"  {v.name:<12} started (running now: {', '.join(st.running) or '-'})")
        for n, scores in enumerate(v.round_scores, start=1):
            if (v.name, n) not in seen:
                seen.add((v.name, n))
                # A round with no reviewer (integration's, before the integrator changed
                # anything) is judged by its checks alone.
                checks = "checks " + ("green" if v.gates_passed else "red")
                say(f"  {v.name:<12} round {n}: {scores_text(scores) if scores else checks}")
        if v.pr_url and (v.name, "pr") not in seen:
            seen.add((v.name, "pr"))
            say(f"  {v.name:<12} PR {v.pr_url}")
        following(demo, v, seen)
        if v.status in ("blocked", "cancelled") and (v.name, "end") not in seen:
            seen.add((v.name, "end"))
            say(f"  {v.name:<12} {v.status}: {v.notes}")
    if st.notice and ("notice", st.notice) not in seen:
        seen.add(("notice", st.notice))
        say(f"  note: {st.notice}")


def following(demo: Demo, v: SubtaskView, seen: set[tuple[str, object]]) -> None:
    """A followed PR's turns: red CI, changes requested, each fix pushed, mergeable (a
    round and the end it led to can arrive in one poll: the round is said first)."""
    for r in v.follow_rounds:
        key = (v.name, f"{r.kind} round {r.round}")
        if key in seen:
            continue
        seen.add(key)
        what = ", ".join(r.checks or r.reviews)
        what += f", {r.comments} comment(s)" if r.comments else ""
        fix = f"fix {r.commit[:10]} pushed" if r.commit else r.note or "no fix"
        demo.say(f"  {v.name:<12} {r.kind} round {r.round} ({what}): {fix}")
    if v.status in FOLLOW_SHOWN and (v.name, v.status) not in seen:
        seen.add((v.name, v.status))
        demo.say(f"  {v.name:<12} {FOLLOW_SHOWN[v.status]}")
