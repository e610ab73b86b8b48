"""The orchestrator's git, one concern per module.

`hygiene` (the environment and settings every git process runs with: no secrets,
no program a repository configures), `command` (running one command; its errors),
`queries` (facts about a repository), `remote` (credentials and failures of
commands that talk to a remote), `branches` (fetch, resolve, push, reset),
`worktrees` (a subtask's worktree and its dependencies merged in).
"""
