"""A worker in its own process, so a test can SIGKILL it mid-agent.

python -m tests.agents.worker_process <temporal-address> <task-queue>
"""

from __future__ import annotations

import asyncio
import sys

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from activities.agents import ACTIVITIES
from tests.agents.agent_workflow import AgentActivityProbe


async def main(address: str, task_queue: str) -> None:
    client = await Client.connect(address, data_converter=pydantic_data_converter)
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[AgentActivityProbe],
        activities=ACTIVITIES,
        # No sticky cache: after the kill, the next workflow task goes straight to the
        # shared queue instead of waiting out the dead worker's sticky queue timeout.
        max_cached_workflows=0,
    ):
        print("worker ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
