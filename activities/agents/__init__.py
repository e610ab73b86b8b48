"""Agents: roles run as durable Messages API tool-use loops (see activities.agents.activities)."""

from activities.agents.activities import ACTIVITIES

__all__ = ["ACTIVITIES"]
