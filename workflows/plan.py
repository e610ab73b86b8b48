"""PlanWorkflow: the plan engine run durably (the first proof of the wiring)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.plan.activities import plan_design
    from contracts.plan import PlanRequest, PlanResult
    from workflows import options
    from workflows.inputs import loop_input


@workflow.defn(name="PlanWorkflow")
class PlanWorkflow:
    @workflow.run
    async def run(self, *args: Any) -> PlanResult:
        request: PlanRequest = loop_input("PlanWorkflow", args, PlanRequest)
        return await workflow.execute_activity(
            plan_design,
            request,
            summary=f"plan {request.design_dir}",
            **options.quick(),
        )
