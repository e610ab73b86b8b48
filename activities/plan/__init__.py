"""The plan engine: parse a design directory, analyze its DAG, render and write the plan,
read and write subtask XML. Pure Python + networkx; the Temporal activities are in
`activities.plan.activities`."""

from activities.plan.activities import ACTIVITIES, load_subtasks, plan_design, seed_subtasks
from activities.plan.design_dir import load_design, parse_subplan
from activities.plan.graph import analyze, build_graph, critical_path_hours, find_cycles
from activities.plan.pipeline import (
    load_checked_subtasks,
    plan_and_write,
    run_plan,
    seed_subtask_files,
)
from activities.plan.render import (
    format_plan_text,
    render_batches,
    render_dag,
    write_plan_files,
)
from activities.plan.subtask_xml import (
    parse_subtask_xml,
    read_subtask,
    read_subtasks,
    subtask_from_subplan,
    subtask_to_xml,
    write_subtask,
)
from contracts.plan import DesignDoc, Plan, PlanError

__all__ = [
    "ACTIVITIES",
    "DesignDoc",
    "Plan",
    "PlanError",
    "analyze",
    "build_graph",
    "critical_path_hours",
    "find_cycles",
    "format_plan_text",
    "load_checked_subtasks",
    "load_design",
    "load_subtasks",
    "parse_subplan",
    "parse_subtask_xml",
    "plan_and_write",
    "plan_design",
    "read_subtask",
    "read_subtasks",
    "render_batches",
    "render_dag",
    "run_plan",
    "seed_subtask_files",
    "seed_subtasks",
    "subtask_from_subplan",
    "subtask_to_xml",
    "write_plan_files",
    "write_subtask",
]
