"""Dependency analysis with networkx: order, stages, critical path, file conflicts.

Everything is deterministic (lexicographic tie-breaks), so the same design
directory always yields the same plan and the same rendered files. Edges run
dependency -> dependent, the direction work flows; messages print them the
other way (`a -> b` means a depends on b), matching `plan/dag.md`.
"""

from __future__ import annotations

from collections import defaultdict, deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: it takes a third of a second, and every CLI verb
    import networkx as nx  # imports the loops (so this module), while only `plan` needs it

from activities.plan.design_dir import display_path
from contracts.plan import Conflict, DesignDoc, Plan, PlanError, PlanIssue


def build_graph(doc: DesignDoc) -> nx.DiGraph:
    import networkx as nx

    graph = nx.DiGraph()
    for sub in doc.subplans:
        graph.add_node(sub.name)
    for sub in doc.subplans:
        for dep in sub.dependencies:
            graph.add_edge(dep, sub.name)
    return graph


def find_cycles(graph: nx.DiGraph) -> list[list[str]]:
    """One shortest cycle per strongly connected knot, each as `[a, b, ..., a]` where
    each step reads "depends on", starting at the knot's smallest name."""
    import networkx as nx

    depends_on = graph.reverse(copy=False)
    cycles: list[list[str]] = []
    for component in nx.strongly_connected_components(graph):
        start = min(component)
        if len(component) == 1 and not graph.has_edge(start, start):
            continue
        cycles.append(_shortest_cycle(depends_on, start, component))
    return sorted(cycles)


def _shortest_cycle(depends_on: nx.DiGraph, start: str, component: set[str]) -> list[str]:
    """Breadth-first from `start` back to itself over sorted neighbours: deterministic."""
    parent: dict[str, str] = {}
    queue: deque[str] = deque([start])
    seen = {start}
    while queue:
        node = queue.popleft()
        for nxt in sorted(depends_on.successors(node)):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [*reversed(path), start]
            if nxt in component and nxt not in seen:
                seen.add(nxt)
                parent[nxt] = node
                queue.append(nxt)
    raise AssertionError(f"{start} is in a cycle but no path back was found")


def _check_acyclic(doc: DesignDoc, graph: nx.DiGraph) -> None:
    import networkx as nx

    if nx.is_directed_acyclic_graph(graph):
        return
    by_name = doc.by_name()
    issues = [
        PlanIssue(
            file=display_path(doc.design_dir, by_name[cycle[0]].path),
            problem=f"dependency cycle: {' -> '.join(cycle)}",
            fix="remove one of these dependencies so the subtasks can be ordered"
            if len(cycle) > 2
            else f"a subtask cannot depend on itself; remove {cycle[0]!r} from its Dependencies",
        )
        for cycle in find_cycles(graph)
    ]
    raise PlanError.from_issues(issues)


def compute_stages(graph: nx.DiGraph, order: list[str]) -> list[list[str]]:
    """Stage 1 has no dependencies; stage N = 1 + the latest stage among its dependencies."""
    stage: dict[str, int] = {}
    for node in order:
        stage[node] = 1 + max((stage[d] for d in graph.predecessors(node)), default=0)
    grouped: dict[int, list[str]] = defaultdict(list)
    for node, n in stage.items():
        grouped[n].append(node)
    return [sorted(grouped[n]) for n in sorted(grouped)]


def critical_path(doc: DesignDoc, graph: nx.DiGraph, order: list[str]) -> tuple[list[str], float]:
    """The longest chain by estimated hours (1h when undeclared); ties go to the smaller name."""
    hours = {s.name: s.hours for s in doc.subplans}
    total: dict[str, float] = {}
    best_dep: dict[str, str | None] = {}
    for name in order:
        deps = sorted(graph.predecessors(name))
        best: str | None = None
        for dep in deps:
            if best is None or total[dep] > total[best]:
                best = dep
        best_dep[name] = best
        total[name] = hours[name] + (total[best] if best is not None else 0.0)
    if not total:
        return [], 0.0
    end = min(total, key=lambda n: (-total[n], n))
    path: list[str] = []
    node: str | None = end
    while node is not None:
        path.append(node)
        node = best_dep[node]
    return list(reversed(path)), total[end]


def file_conflicts(doc: DesignDoc, stages: list[list[str]]) -> list[Conflict]:
    """Files modified by more than one subtask of the same stage (they would run together)."""
    files = {s.name: s.files_modified for s in doc.subplans}
    conflicts: list[Conflict] = []
    for number, stage in enumerate(stages, start=1):
        owners: dict[str, set[str]] = defaultdict(set)
        for name in stage:
            for path in files[name]:
                owners[path].add(name)
        conflicts.extend(
            Conflict(stage=number, file=path, subtasks=sorted(names))
            for path, names in sorted(owners.items())
            if len(names) > 1
        )
    return conflicts


def analyze(doc: DesignDoc) -> Plan:
    """The plan for a parsed design; a dependency cycle raises `PlanError` with its path."""
    import networkx as nx

    graph = build_graph(doc)
    _check_acyclic(doc, graph)
    order = list(nx.lexicographical_topological_sort(graph))
    stages = compute_stages(graph, order)
    path, _hours = critical_path(doc, graph, order)
    return Plan(
        order=order,
        stages=stages,
        critical_path=path,
        conflicts=file_conflicts(doc, stages),
        warnings=list(doc.warnings),
    )


def critical_path_hours(doc: DesignDoc, plan: Plan) -> float:
    by_name = doc.by_name()
    return sum(by_name[n].hours for n in plan.critical_path)
