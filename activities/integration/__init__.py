"""The integration step's side effects: merge every subtask branch, smell-check, report."""
