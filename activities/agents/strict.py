"""Strict tool use: which models take it, and the schema subset it accepts.

With `"strict": true` on a tool definition the API constrains the model's sampling
to the tool's input schema: a call of it never has a wrong type, a missing required
field, an unknown field, or an unknown tool name (strict tool use guide,
https://platform.claude.com/docs/en/agents-and-tools/tool-use/strict-tool-use).
It is available, without a beta header, on every Claude model from the 4.5
generation on (structured outputs guide,
https://platform.claude.com/docs/en/build-with-claude/structured-outputs; the model
table's `strict_tools`); any other model gets the plain schema.

A strict schema uses a subset of JSON Schema ("JSON Schema limitations" in the
structured outputs guide): every object closed with `additionalProperties: false`;
no numeric bounds, no string lengths, no array bounds but `minItems` 0 or 1, a
short list of string formats, no recursion. What the subset cannot say is dropped
from the schema sent and named in its description instead; code still checks it
(pydantic for every submission, `argument_problems` for the file tools), and a
violation reaches the model as an `is_error` tool result, as it always did.

The API also limits a request's strict tools: at most 20, at most 24 optional
parameters and 16 parameters with union types (`anyOf`, a list of types) across
all of their schemas. Tools past those limits are sent plain, the submit tool
first in line for strictness.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

from activities.agents import models

# Which models take `strict: true` (1) or not (0), by id; dated snapshots and aliases
# find their model (models.lookup). Names the table does not know: the plain schema.
STRICT_TOOL_MODELS: dict[str, int] = {m.id: int(m.strict_tools) for m in models.MODELS}
MAX_STRICT_TOOLS = 20
MAX_OPTIONAL_PARAMETERS = 24
MAX_UNION_PARAMETERS = 16
STRING_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6", "uuid"}
)
# Said about a value, not a constraint on it: kept as they are.
_KEPT = frozenset({"type", "description", "title", "const", "required", "properties"})
_NESTED_LISTS = ("anyOf", "allOf")


class _NotStrict(Exception):
    """The schema means something the subset cannot express (an open object, recursion)."""


def supports_strict(model: str) -> bool:
    info = models.lookup(model)
    return info is not None and info.strict_tools


def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """`schema` in the strict subset, or None when it cannot be said there without
    changing what it accepts (an object open to any key, a recursive model)."""
    try:
        return _node(copy.deepcopy(dict(schema)))
    except _NotStrict:
        return None


def for_model(tools: Iterable[Mapping[str, Any]], model: str) -> list[dict[str, Any]]:
    """The tool definitions to send to `model`: strict where it supports it and the API's
    limits allow, the submit tool (last) first in line; the rest as they are."""
    defs = [dict(t) for t in tools]
    if not supports_strict(model):
        return defs
    count = optional = unions = 0
    order = [len(defs) - 1, *range(len(defs) - 1)] if defs else []
    for index in order:
        schema = strict_schema(defs[index]["input_schema"])
        if schema is None:
            continue
        more_optional, more_unions = cost(schema)
        if (
            count + 1 > MAX_STRICT_TOOLS
            or optional + more_optional > MAX_OPTIONAL_PARAMETERS
            or unions + more_unions > MAX_UNION_PARAMETERS
        ):
            continue
        count, optional, unions = count + 1, optional + more_optional, unions + more_unions
        defs[index] = {**defs[index], "input_schema": schema, "strict": True}
    return defs


def cost(schema: Any) -> tuple[int, int]:
    """(optional parameters, parameters with union types) in a schema, nested ones included."""
    if isinstance(schema, list):
        totals = [cost(s) for s in schema]
        return sum(o for o, _ in totals), sum(u for _, u in totals)
    if not isinstance(schema, dict):
        return 0, 0
    optional = len(set(schema.get("properties", {})) - set(schema.get("required", [])))
    unions = int("anyOf" in schema or isinstance(schema.get("type"), list))
    for key in ("properties", "$defs", "definitions"):
        more = cost(list(schema.get(key, {}).values()))
        optional, unions = optional + more[0], unions + more[1]
    for key in ("items", *_NESTED_LISTS):
        more = cost(schema.get(key))
        optional, unions = optional + more[0], unions + more[1]
    return optional, unions


def _node(node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:  # inline_refs leaves a reference only where the model recurses
        raise _NotStrict
    out: dict[str, Any] = {}
    dropped: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _node(sub) for name, sub in value.items()}
        elif key == "items" and isinstance(value, dict):
            out[key] = _node(value)
        elif key in _NESTED_LISTS or key == "oneOf":
            out["anyOf" if key == "oneOf" else key] = [_node(sub) for sub in value]
        elif key == "additionalProperties":
            if value is not False:  # dict[str, X]: a strict object could hold no key at all
                raise _NotStrict
        elif key == "enum" and all(_primitive(v) for v in value):
            out[key] = value
        elif key == "default":
            if _primitive(value):  # a default is documentation, never a constraint
                out[key] = value
        elif key == "minItems" and value in (0, 1):
            out[key] = value
        elif key == "format" and value in STRING_FORMATS:
            out[key] = value
        elif key in _KEPT:
            out[key] = value
        else:
            dropped[key] = value
    if out.get("type") == "object" or "properties" in out:
        out["additionalProperties"] = False
    if dropped:
        said = ", ".join(f"{k} {json.dumps(v)}" for k, v in dropped.items())
        out["description"] = f"{out.get('description', '')} ({said})".strip()
    return out


def _primitive(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)
