"""The pattern library (seed 004): finished subtasks kept for later builds."""
