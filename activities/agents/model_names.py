"""Which model names exist, so a misspelt one is refused before any agent runs.

An unknown name is only found out by the API's 404, after the loop has started and
other agents have spent their tokens. The names the installed `anthropic` SDK lists
(and their dated snapshots) are known; so are Claude Code's short names and any model
orchestrator.toml prices itself (`[prices.<model>]`), the way to use a model the SDK
does not know yet or one an endpoint serves under its own name.
"""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Iterable

from activities.agents import models

_SNAPSHOT = re.compile(r"^(?P<family>.+)-20\d{6}$")


def sdk_models() -> list[str]:
    """The model ids the installed SDK names (its `Model` literal)."""
    from anthropic.types import Model  # on first use: the SDK takes a second to import

    found: list[str] = []
    for arg in typing.get_args(Model):
        if typing.get_origin(arg) is typing.Literal:
            found += [str(a) for a in typing.get_args(arg)]
    return found


def model_problem(name: str, declared: Iterable[str] = ()) -> str | None:
    """Why `name` names no model we can call, with the closest known one; None if it is known.

    Known: the model table (ids, aliases, and what extends an id: models.lookup), the SDK's
    list, and what orchestrator.toml prices itself."""
    table = {name for m in models.MODELS for name in (m.id, *m.aliases)}
    known = {*table, *sdk_models(), "inherit", *declared}
    snapshot = _SNAPSHOT.match(name)
    if name in known or models.lookup(name) or (snapshot and snapshot["family"] in known):
        return None
    close = difflib.get_close_matches(name, sorted(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (
        f"{name!r} is not a model the Messages API knows{hint}. Fix: use one of "
        f"{', '.join(m.id for m in models.current())} (or an alias: "
        f"{', '.join(sorted(a for m in models.current() for a in m.aliases))}); for a model "
        f'your endpoint serves under another name, declare its prices in [prices."{name}"] '
        "(input, output per million tokens)"
    )
