"""Activity names the workflows call, in one place.

Workflows call activities by their stable registered names so a renamed
Python function can never change what a recorded history replays against.
"""

RESOLVE_PROJECT = "project.resolve"
PLAN_DESIGN = "plan.design"
LOAD_SUBTASKS = "plan.load_subtasks"

AGENT_REVIEW = "agent.review"
AGENT_EDIT = "agent.edit"
AGENT_ANSWER = "agent.answer_questions"
AGENT_DRAFT = "agent.draft_subtask"
AGENT_ANALYZE_CHANGE = "agent.analyze_change"

DESIGN_WRITE_ANSWERS = "design.write_answers"
BUILD_WRITE_REPORT = "build.write_report"

GIT_ENSURE_WORKTREE = "git.ensure_worktree"
GIT_COMMIT_PATHS = "git.commit_paths"
GIT_PUSH = "git.push_branch"
GIT_REPO_INFO = "git.repo_info"

GATES_RUN = "gates.run"
FORGE_OPEN_PR = "forge.open_pull_request"
TRACKER_WRITE = "tracker.write"
HOST_CLAIM = "host.claim"
CHANGE_WRITE_REPORT = "change.write_report"
CHANGE_APPEND_LOG = "change.append_log"
GIT_MERGE_DEPENDENCIES = "git.merge_dependencies"
REVIEW_PASS_RECORD = "build.record_review_pass"
REVIEW_PASS_FIND = "build.find_review_pass"
