"""What a person hears from a verb sent to a loop that has ended: what happened, what next.

`approve` on an approved design used to say "not running … start it with
`orchestrator design`", as if nothing had happened; it is approved already, and
the next step is the build.
"""

from __future__ import annotations

import os
import shlex


def what_next(
    kind: str,
    workflow_id: str,
    done: bool,
    line: str,
    design_dir: str,
    build: tuple[bool, str] | None = None,
) -> str:
    """`<id> ended: <how>. Next: <command>` for a closed design or build loop
    (`build`: how the build after an approved design ended, if one ran)."""
    where = shlex.quote(os.path.abspath(design_dir))
    if kind == "design" and done and build is not None:
        how = f"is approved already ({line})"
        nxt = (
            f"the build has finished too ({build[1]}); see `orchestrator status {where}`"
            if build[0]
            else f"the build ended {build[1]}; `orchestrator build {where}` resumes it"
        )
    elif kind == "design" and done:
        nxt = f"build it: `orchestrator build {where}`"
        how = f"is approved already ({line})"
    elif kind == "design":
        nxt = f"`orchestrator design {where}` starts it again, resuming from what is on record"
        how = f"ended: {line}"
    elif done:
        nxt = f"nothing is left to build; see `orchestrator status {where}` for the PRs"
        how = f"has finished ({line})"
    else:
        nxt = f"`orchestrator build {where}` starts it again, resuming from what is on record"
        how = f"ended: {line}"
    return f"{workflow_id} {how}. Next: {nxt}"
