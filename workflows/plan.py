"""PlanWorkflow: the plan engine run durably (the first proof of the wiring)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.plan.activities import plan_design
    from contracts.plan import PlanRequest, PlanResult
    from workflows import options
    from workflows.inputs import absolute_design_dir, run_input


@workflow.defn(name="PlanWorkflow")
class PlanWorkflow:
    @workflow.run
    async def run(self, *args: Any) -> PlanResult:
        request = run_input("PlanWorkflow", args, PlanRequest)
        absolute_design_dir("PlanWorkflow", request.design_dir)
        return await workflow.execute_activity(
            plan_design,
            request,
            summary=f"plan {request.design_dir}",
            **options.quick(),
        )
