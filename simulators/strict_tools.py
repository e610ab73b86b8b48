"""Strict tool use as the Messages API checks it, and the answers a strict model can give.

A tool with `"strict": true` has its input schema compiled into a grammar that
constrains sampling: the model's call of it always validates against the schema and
names a tool the request offers (strict tool use guide,
https://platform.claude.com/docs/en/agents-and-tools/tool-use/strict-tool-use).
The schema must use the subset in "JSON Schema limitations"
(https://platform.claude.com/docs/en/build-with-claude/structured-outputs#json-schema-limitations):
basic types, `enum` of primitives, `const`, `anyOf`, `allOf`, local `$ref`/`$defs`,
`default`, `required`, `additionalProperties: false` on every object, `minItems` 0 or
1, `pattern` without backreferences or lookaround, ten string formats; no recursion,
no numeric bounds, no string lengths, no other array bounds. A request breaking it
gets a 400 "with details"; a request may hold at most 20 strict tools, 24 optional
parameters and 16 parameters with union types across their schemas.

The docs give no wording for those 400s. The messages below are the API's as users
have quoted them (prefixed with the tool's place, `tools.N.custom:`):
"For 'integer' type, property 'minimum' is not supported" and "properties maximum,
minimum are not supported" (github.com/earendil-works/pi/issues/9953,
github.com/agentjido/req_llm/issues/302), "For 'object' type, 'additionalProperties'
must be explicitly set to false" (github.com/vercel/ai/issues/20681), "Too many strict
tools (22). The maximum number of strict tools supported is 20. ..." and the optional
and union limits (github.com/elie222/inbox-zero/issues/2323). Where nobody quoted
one (a format, recursion, a model without strict tool use) the wording is ours, in
the same form. This stand-in's own guess is stricter than the docs on one point: it
refuses `strict` for a model the structured outputs guide does not list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

# Structured outputs guide: available on every model of the 4.5 generation and later
# (dated snapshots included); Google's partner-model page says the same ("all Anthropic
# Claude 4.5 and later models").
STRICT_TOOL_MODELS = (
    "claude-fable-5-2",
    "claude-fable-5-1",
    "claude-fable-5",
    "claude-opus-5-5",
    "claude-sonnet-5-5",
    "claude-haiku-5-5",
    "claude-opus-5",
    "claude-sonnet-5",
    "claude-opus-4-8",
    "claude-opus-4-7",
    "claude-opus-4-6",
    "claude-sonnet-4-6",
    "claude-sonnet-4-5",
    "claude-opus-4-5",
    "claude-haiku-4-5",
)
MAX_STRICT_TOOLS = 20
MAX_OPTIONAL = 24
MAX_UNIONS = 16
FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6", "uuid"}
)
_ANY = frozenset(
    {"type", "enum", "const", "anyOf", "allOf", "$ref", "$defs", "definitions"}
    | {"description", "title", "default", "examples", "$comment", "deprecated"}
)
_PER_TYPE = {
    "object": frozenset({"properties", "required", "additionalProperties"}),
    "array": frozenset({"items", "minItems"}),
    "string": frozenset({"format", "pattern"}),
}
_UNSUPPORTED_REGEX = re.compile(r"\(\?<?[=!]|\\[1-9]|\\k<")
_MINIMAL = {"string": "", "integer": 0, "number": 0, "boolean": False, "null": None}


def strict_tools(tools: Any) -> dict[str, dict[str, Any]]:
    """The request's strict tools: name -> input schema."""
    return {
        str(t.get("name")): t.get("input_schema") or {}
        for t in tools or []
        if isinstance(t, dict) and t.get("strict") is True
    }


def refusal(tools: Any, model: str, models: Sequence[str] = STRICT_TOOL_MODELS) -> str | None:
    """Why the API refuses the request's tools in strict mode, or None."""
    count = optional = unions = 0
    for index, tool in enumerate(tools if isinstance(tools, list) else []):
        if not isinstance(tool, dict) or "strict" not in tool:
            continue
        if not isinstance(tool["strict"], bool):
            return f"tools.{index}.custom.strict: Input should be a valid boolean"
        if not tool["strict"]:
            continue
        if not any(model == m or model.startswith(f"{m}-") for m in models):
            return f"tools.{index}.custom.strict: strict tool use is not supported for {model}"
        schema = tool.get("input_schema")
        problem = _problem(schema, schema, ())
        if problem:
            return f"tools.{index}.custom: {problem}"
        count += 1
        more = _cost(schema)
        optional, unions = optional + more[0], unions + more[1]
    if count > MAX_STRICT_TOOLS:
        return (
            f"Too many strict tools ({count}). The maximum number of strict tools supported "
            f"is {MAX_STRICT_TOOLS}. Try reducing the number of tools marked as strict."
        )
    if optional > MAX_OPTIONAL:
        return (
            f"Schemas contains too many optional parameters ({optional}), which would make "
            "grammar compilation inefficient. Reduce the number of optional parameters in "
            f"your tool schemas (limit: {MAX_OPTIONAL})."
        )
    if unions > MAX_UNIONS:
        return (
            f"Schemas contains too many parameters with union types ({unions} parameters "
            "with type arrays or anyOf). Reduce the number of parameters with union types "
            f"in your tool schemas (limit: {MAX_UNIONS})."
        )
    return None


def _types(node: Mapping[str, Any]) -> list[str]:
    kind = node.get("type")
    return [str(t) for t in kind] if isinstance(kind, list) else [str(kind)] if kind else []


def _problem(node: Any, root: Any, refs: tuple[str, ...]) -> str | None:
    if not isinstance(node, dict):
        return "each schema must be a JSON object"
    types = _types(node)
    if "properties" in node and "object" not in types:
        types.append("object")
    allowed = _ANY.union(*(_PER_TYPE.get(t, frozenset()) for t in types))
    extra = sorted(k for k in node if k not in allowed)
    label = types[0] if len(types) == 1 else "|".join(types) or "untyped"
    if extra:
        if len(extra) == 1:
            return f"For '{label}' type, property '{extra[0]}' is not supported"
        return f"For '{label}' type, properties {', '.join(extra)} are not supported"
    if "object" in types and node.get("additionalProperties") is not False:
        return "For 'object' type, 'additionalProperties' must be explicitly set to false"
    if node.get("minItems", 0) not in (0, 1):
        return "For 'array' type, property 'minItems' is not supported"
    if "format" in node and node["format"] not in FORMATS:
        return f"For 'string' type, format '{node['format']}' is not supported"
    if "pattern" in node and _UNSUPPORTED_REGEX.search(str(node["pattern"])):
        return "pattern: backreferences and lookaround assertions are not supported"
    if "enum" in node and not all(_primitive(v) for v in node["enum"]):
        return "enum: only strings, numbers, booleans and null are supported"
    ref = node.get("$ref")
    if ref is not None:
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return f"$ref {ref!r}: only local references are supported"
        if ref in refs:
            return f"$ref {ref}: recursive schemas are not supported"
        target = _resolve(ref, root)
        if target is None:
            return f"$ref {ref}: no such definition"
        found = _problem(target, root, (*refs, ref))
        if found:
            return found
    for child in _children(node):
        found = _problem(child, root, refs)
        if found:
            return found
    return None


def _children(node: Mapping[str, Any]) -> list[Any]:
    children: list[Any] = []
    for key in ("properties", "$defs", "definitions"):
        value = node.get(key)
        children += list(value.values()) if isinstance(value, dict) else []
    if "items" in node:
        children.append(node["items"])
    for key in ("anyOf", "allOf"):
        children += node.get(key) or []
    return children


def _cost(node: Any) -> tuple[int, int]:
    """(optional parameters, parameters with union types), counted through nested schemas."""
    if not isinstance(node, dict):
        return 0, 0
    props = node.get("properties") if isinstance(node.get("properties"), dict) else {}
    optional = sum(1 for name in props if name not in (node.get("required") or []))
    unions = 1 if "anyOf" in node or isinstance(node.get("type"), list) else 0
    for child in _children(node):
        more = _cost(child)
        optional, unions = optional + more[0], unions + more[1]
    return optional, unions


def _resolve(ref: str, root: Any) -> Any:
    node = root
    for part in ref[2:].split("/"):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _primitive(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


# -- what a strict model answers -------------------------------------------------------


def constrained(value: Any, schema: Any, root: Any = None) -> Any:
    """`value` as grammar-constrained sampling lets it out: itself where it fits `schema`,
    else the nearest value that does (unknown keys gone, missing required ones and
    values of the wrong type replaced by the simplest value of the right type)."""
    root = schema if root is None else root
    if not isinstance(schema, dict):
        return value
    if "$ref" in schema:
        return constrained(value, _resolve(schema["$ref"], root), root)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return value if value in schema["enum"] else schema["enum"][0]
    if "anyOf" in schema:
        branches = schema["anyOf"]
        fitting = next((b for b in branches if fits(value, b, root)), None)
        return value if fitting is not None else constrained(value, _closest(value, branches), root)
    for branch in schema.get("allOf", []):
        value = constrained(value, branch, root)
    types = _types(schema) or (["object"] if "properties" in schema else [])
    kind = next((t for t in types if _is(value, t)), types[0] if types else None)
    if kind == "object":
        props: dict[str, Any] = schema.get("properties", {})
        given = value if isinstance(value, dict) else {}
        out = {k: constrained(v, props[k], root) for k, v in given.items() if k in props}
        for name in schema.get("required", []):
            if name not in out and name in props:
                out[name] = constrained(None, props[name], root)
        return out
    if kind == "array":
        items = [constrained(v, schema.get("items"), root) for v in _list(value)]
        while len(items) < schema.get("minItems", 0):
            items.append(constrained(None, schema.get("items"), root))
        return items
    if kind is None or _is(value, kind):
        return value
    if "default" in schema and _is(schema["default"], kind):
        return schema["default"]
    return _MINIMAL.get(kind)


def fits(value: Any, schema: Any, root: Any = None) -> bool:
    """Whether `value` validates against a strict-subset `schema`."""
    return constrained(value, schema, root) == value and _typed(value, schema, root)


def _typed(value: Any, schema: Any, root: Any) -> bool:
    """Equal after constraining can hide a bool taken for an int (True == 1): check types."""
    if not isinstance(schema, dict):
        return True
    root = schema if root is None else root
    if "$ref" in schema:
        return _typed(value, _resolve(schema["$ref"], root), root)
    if "anyOf" in schema:
        return any(fits(value, b, root) for b in schema["anyOf"])
    types = _types(schema)
    if types and not any(_is(value, t) for t in types):
        return "enum" in schema or "const" in schema
    if isinstance(value, dict):
        props = schema.get("properties", {})
        return all(_typed(v, props.get(k), root) for k, v in value.items())
    if isinstance(value, list):
        return all(_typed(v, schema.get("items"), root) for v in value)
    return True


def strict_answer(
    content: list[dict[str, Any]],
    strict: Mapping[str, Any],
    offered: set[str],
    instead: str,
    cut: Mapping[int, Any] | None = None,
) -> list[dict[str, Any]]:
    """`content` as a model sampling under the request's strict tools gives it: every call
    of a strict tool fits its schema, and no call names a tool the request lacks (that
    one becomes the text `instead`). A call cut off at max_tokens (in `cut`) is as far as
    it got."""
    if not strict:
        return content
    out: list[dict[str, Any]] = []
    for index, block in enumerate(content):
        if block.get("type") != "tool_use" or index in (cut or {}):
            out.append(block)
        elif block.get("name") not in offered:
            out.append({"type": "text", "text": instead})
        elif block.get("name") in strict:
            schema = strict[block["name"]]
            out.append({**block, "input": constrained(block.get("input"), schema)})
        else:
            out.append(block)
    return out


def _closest(value: Any, branches: list[Any]) -> Any:
    """The branch of an anyOf whose type the value has, else the first."""
    for branch in branches:
        if isinstance(branch, dict) and any(_is(value, t) for t in _types(branch)):
            return branch
    return branches[0] if branches else {}


def _is(value: Any, kind: str) -> bool:
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    return {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "integer": isinstance(value, int),
        "number": isinstance(value, int | float),
        "null": value is None,
    }.get(kind, True)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
