"""Agents: roles run as durable Messages API tool-use loops (see activities.agents.activities)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from activities.agents.activities import ACTIVITIES

__all__ = ["ACTIVITIES"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the CLI reads the model tables without loading every agent
    # activity (and the whole Messages SDK) first.
    if name == "ACTIVITIES":
        from activities.agents.activities import ACTIVITIES
        from activities.agents.loop import load_sdk

        load_sdk()  # whoever runs these activities needs the SDK: loaded before they run
        return ACTIVITIES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
