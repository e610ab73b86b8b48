"""The loops' custom search attributes: what the Web UI and `temporal workflow list --query`
filter on, so "which loops wait for me?" has an answer across repositories.

Every loop upserts them (workflows/search_attrs.py); the embedded server, `orchestrator
server` and docker-compose.yml register them; a worker on a server without them says how
to add them (`create_commands`), and the loops run without them.
"""

from __future__ import annotations

from typing import Any, Literal

from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey

Waiting = Literal["person", "agents", "ci", "nothing"]

FEATURE = SearchAttributeKey.for_keyword("OrchestratorFeature")
REPO = SearchAttributeKey.for_keyword("OrchestratorRepo")
PHASE = SearchAttributeKey.for_keyword("OrchestratorPhase")
WAITING_FOR = SearchAttributeKey.for_keyword("OrchestratorWaitingFor")
COST_USD = SearchAttributeKey.for_float("OrchestratorCostUsd")
KEYS: tuple[SearchAttributeKey[Any], ...] = (FEATURE, REPO, PHASE, WAITING_FOR, COST_USD)

# The type names the `temporal` CLI and the server's `--search-attribute` take.
CLI_TYPES = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
}


def cli_type(key: SearchAttributeKey[Any]) -> str:
    return CLI_TYPES[key.indexed_value_type]


def dev_server_flags() -> list[str]:
    """`temporal server start-dev` registers them at start (`--search-attribute Name=Type`)."""
    return [f for key in KEYS for f in ("--search-attribute", f"{key.name}={cli_type(key)}")]


def create_commands(missing: list[str], namespace: str, address: str = "") -> list[str]:
    """The commands that register the attributes named in `missing` (one per type: the CLI
    takes one `--type` per call)."""
    where = f" --address {address}" if address else ""
    commands = []
    for type_name in CLI_TYPES.values():
        names = [k.name for k in KEYS if k.name in missing and cli_type(k) == type_name]
        if names:
            flags = " ".join(f"--name {n}" for n in names)
            commands.append(
                f"temporal operator search-attribute create --namespace {namespace}{where} "
                f"--type {type_name} {flags}"
            )
    return commands


def waiting_query(waiting: Waiting = "person") -> str:
    """The visibility query of the loops that wait for `waiting`."""
    return f'{WAITING_FOR.name}="{waiting}"'
