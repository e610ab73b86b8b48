"""What a person hears from a verb sent to a loop that has ended: what happened, what next.

`approve` on an approved design used to say "not running … start it with
`orchestrator design`", as if nothing had happened; it is approved already, and
the next step is the build.
"""

from __future__ import annotations

import os
import shlex


def what_next(kind: str, workflow_id: str, done: bool, line: str, design_dir: str) -> str:
    """`<id> has ended: <how>. Next: <command>` for a closed design or build loop."""
    where = shlex.quote(os.path.abspath(design_dir))
    if kind == "design" and done:
        nxt = f"build it: `orchestrator build {where}`"
        how = f"approved already ({line})"
    elif kind == "design":
        nxt = f"`orchestrator design {where}` starts it again, resuming from what is on record"
        how = f"ended {line}" if line.startswith("completed") else line
    elif done:
        nxt = f"nothing is left to build; see `orchestrator status {where}` for the PRs"
        how = f"finished ({line})"
    else:
        nxt = f"`orchestrator build {where}` starts it again, resuming from what is on record"
        how = f"ended {line}" if line.startswith("completed") else line
    return f"{workflow_id} has {how}. Next: {nxt}"
