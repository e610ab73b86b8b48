"""Each host keeps its own clone: translate repository paths at the activity boundary.

Workflows carry the paths of the clone the loop was started from (the
canonical paths). A worker whose clone lives elsewhere is started with
`--path-map CANONICAL=LOCAL`; its activities then see local paths in their
inputs, and what they return is translated back, so workflow history only
ever holds canonical paths, whichever host did the work.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import BaseModel
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

ENV_VAR = "ORCHESTRATOR_PATH_MAP"


class PathMapError(ValueError):
    """A malformed `--path-map` / ORCHESTRATOR_PATH_MAP entry."""


def _prefix(path: str) -> re.Pattern[str]:
    """`path` as a whole path component: /a/p matches /a/p and /a/p/x, never /a/p2."""
    return re.compile(re.escape(path.rstrip("/")) + r"(?=/|$|[^\w.-])")


@dataclass(frozen=True)
class PathMap:
    """Pairs of (canonical, local) absolute directories."""

    pairs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> PathMap:
        pairs = []
        for entry in entries:
            canonical, sep, local = entry.partition("=")
            canonical, local = canonical.strip(), local.strip()
            if not sep or not canonical or not local:
                raise PathMapError(
                    f"path map entry {entry!r}: expected CANONICAL=LOCAL, e.g. "
                    "--path-map /home/alice/shop=/srv/shop"
                )
            for label, path in (("canonical", canonical), ("local", local)):
                if not os.path.isabs(path):
                    raise PathMapError(
                        f"path map entry {entry!r}: the {label} path {path!r} is not "
                        "absolute; give both sides as absolute paths"
                    )
            if not os.path.isdir(local):
                raise PathMapError(
                    f"path map entry {entry!r}: the local clone {local} does not exist; "
                    "clone the repository there first (git clone <origin> " + local + ")"
                )
            pairs.append((canonical.rstrip("/"), local.rstrip("/")))
        return cls(tuple(pairs))

    @classmethod
    def from_env(cls, extra: Iterable[str] = ()) -> PathMap:
        """`ORCHESTRATOR_PATH_MAP` holds entries separated by `;`."""
        raw = os.environ.get(ENV_VAR, "")
        return cls.parse([*(e for e in raw.split(";") if e.strip()), *extra])

    def __bool__(self) -> bool:
        return bool(self.pairs)

    def to_local(self, value: Any) -> Any:
        rules = [(_prefix(c), lo) for c, lo in self.pairs]
        return _rewrite(value, lambda s: _apply(s, rules))

    def to_canonical(self, value: Any) -> Any:
        # The local side may be reached through a symlink (/tmp on macOS): map both spellings.
        rules = []
        for canonical, local in self.pairs:
            for spelling in {local, os.path.realpath(local)}:
                rules.append((_prefix(spelling), canonical))
        return _rewrite(value, lambda s: _apply(s, rules))


def _apply(text: str, rules: list[tuple[re.Pattern[str], str]]) -> str:
    for pattern, replacement in rules:
        text = pattern.sub(lambda _m, r=replacement: r, text)
    return text


def _rewrite(value: Any, fn: Callable[[str], str]) -> Any:
    """Apply `fn` to every string inside models, lists, tuples and dicts; keep the types."""
    if isinstance(value, Enum):
        return value  # a str-valued enum member is a name, never a path
    if isinstance(value, str):
        new = fn(value)
        return value if new == value else new
    if isinstance(value, BaseModel):
        updates = {}
        for name in type(value).model_fields:
            old = getattr(value, name)
            new = _rewrite(old, fn)
            if new is not old:
                updates[name] = new
        return value.model_copy(update=updates) if updates else value
    if isinstance(value, list):
        return [_rewrite(v, fn) for v in value]
    if isinstance(value, tuple):
        return tuple(_rewrite(v, fn) for v in value)
    if isinstance(value, dict):
        return {_rewrite(k, fn): _rewrite(v, fn) for k, v in value.items()}
    return value


class PathMapInterceptor(Interceptor):
    """Worker interceptor: activities only; workflows never see a local path."""

    def __init__(self, path_map: PathMap) -> None:
        self.path_map = path_map

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Inbound(next, self.path_map)


class _Inbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, path_map: PathMap) -> None:
        super().__init__(next)
        self.path_map = path_map

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        input.args = [self.path_map.to_local(a) for a in input.args]
        return self.path_map.to_canonical(await super().execute_activity(input))


NO_PATH_MAP = PathMap()
