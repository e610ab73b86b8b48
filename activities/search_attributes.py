"""Does the server have the loops' search attributes? Asked of its operator service.

A workflow task that upserts an attribute the namespace lacks fails, and keeps failing:
so a loop upserts only when the activity that resolved its project found all of them
(`ProjectContext.search_attributes`, recorded in its history), and the worker says at
start how to add what is missing.
"""

from __future__ import annotations

import logging

from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError

from contracts.search_attributes import KEYS

log = logging.getLogger(__name__)


async def missing(client: Client, namespace: str | None = None) -> list[str] | None:
    """The attributes the namespace lacks or has with another type ([] when it has them
    all), or None when the server cannot say (the time-skipping test server cannot)."""
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace or client.namespace)
        )
    except RPCError as err:
        log.debug("cannot list search attributes: %s", err)
        return None
    known = {**listed.custom_attributes, **listed.system_attributes}
    return [k.name for k in KEYS if known.get(k.name) != int(k.indexed_value_type)]


async def registered(client: Client) -> bool:
    return await missing(client) == []
