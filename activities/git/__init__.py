"""The orchestrator's git, one concern per module, all behind the activities in
`activities.git.activities`: `hygiene` (the environment and settings every git process
runs with: no secrets, no program a repository configures), `command` (running one
command; its errors), `queries` (facts about a repository), `remote` (credentials and
failures of commands that talk to a remote), `branches` (fetch, resolve, push, reset),
`worktrees` (a subtask's worktree, its dependencies merged in), `commit_guard` (what an
agent left that is never committed) and `commits` (committing exactly the paths meant).
"""
