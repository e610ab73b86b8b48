"""docker-compose.yml: valid Compose, scalable workers, pinned images, no secrets in the file.

The schema is the official Compose Specification schema
(compose-spec/compose-spec, schema/compose-spec.json, Apache-2.0) as shipped
inside the `check-jsonschema` package, so the test needs no network.
"""

from __future__ import annotations

import copy
import json
import re
from importlib import resources
from typing import Any

import jsonschema
import pytest
import yaml

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}
_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
SECRET_NAME = re.compile(r"KEY|TOKEN|PASSWORD|PWD|SECRET", re.IGNORECASE)
PASSED_THROUGH = ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "GITHUB_TOKEN", "GITHUB_API_URL")


class MissingVariable(Exception):
    """A ${NAME:?message} variable was not set: Compose refuses to start."""


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable substitution, enough for this file ($$ is a literal $)."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(m: re.Match[str]) -> str:
        name, op, arg = m["name"], m["op"] or "", m["arg"] or ""
        current = env.get(name)
        if op.endswith("?") and (current is None or (op == ":?" and current == "")):
            raise MissingVariable(f"{name}: {arg}")
        if op == ":-" and not current:
            return arg
        if op == "-" and current is None:
            return arg
        return current or ""

    parts = value.split("$$")
    return "$".join(_VAR.sub(one, part) for part in parts)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    try:
        vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    except ModuleNotFoundError:
        pytest.fail("install the dev dependencies (`pip install -e '.[dev]'`): check-jsonschema")
    return json.loads(vendor.joinpath("compose-spec.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def resolved(compose: dict[str, Any]) -> dict[str, Any]:
    """The file as Compose sees it for a user who set only POSTGRES_PASSWORD."""
    return interpolate(compose, {"POSTGRES_PASSWORD": "example-password"})


def schema_errors(schema: dict[str, Any], document: dict[str, Any]) -> list[str]:
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def test_compose_file_follows_the_compose_specification(
    schema: dict[str, Any], compose: dict[str, Any], resolved: dict[str, Any]
) -> None:
    assert schema.get("title") == "Compose Specification"
    assert schema_errors(schema, compose) == []
    assert schema_errors(schema, resolved) == []


def test_the_schema_check_catches_mistakes(
    schema: dict[str, Any], resolved: dict[str, Any]
) -> None:
    """Guard against a vacuous check: misspelt keys and wrong types are refused."""
    misspelt = copy.deepcopy(resolved)
    misspelt["services"]["worker"]["enviroment"] = {"A": "b"}
    wrong_type = copy.deepcopy(resolved)
    wrong_type["services"]["temporal"]["ports"] = "7233:7233"
    assert any("enviroment" in e for e in schema_errors(schema, misspelt))
    assert schema_errors(schema, wrong_type)


def test_compose_refuses_to_start_without_a_database_password(compose: dict[str, Any]) -> None:
    with pytest.raises(MissingVariable, match="POSTGRES_PASSWORD"):
        interpolate(compose, {})


def test_expected_services_are_there(compose: dict[str, Any]) -> None:
    assert {"postgresql", "temporal", "temporal-ui", "worker"} <= set(compose["services"])


def test_worker_scales_with_docker_compose_up_scale(resolved: dict[str, Any]) -> None:
    worker = resolved["services"]["worker"]
    assert "build" in worker, "the worker is built from the project's Dockerfile"
    assert worker["build"].get("dockerfile", "Dockerfile") == "Dockerfile"
    # A fixed name, hostname or published port would make replica 2 collide with replica 1.
    for key in ("container_name", "hostname", "ports"):
        assert key not in worker, f"worker must not set {key}: --scale worker=N needs replicas"
    assert "restart" in worker and worker["restart"] != "no"
    # Each replica serves the host queue of its own hostname: nothing may pin one name.
    assert "ORCHESTRATOR_HOST" not in env_of(worker)


def test_worker_may_create_the_command_sandbox(resolved: dict[str, Any]) -> None:
    """bubblewrap needs namespaces (seccomp), mounts (AppArmor) and a fresh /proc."""
    options = set(resolved["services"]["worker"].get("security_opt", []))
    assert {"seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"} <= options


def test_no_service_has_a_fixed_container_name(resolved: dict[str, Any]) -> None:
    named = [name for name, svc in resolved["services"].items() if "container_name" in svc]
    assert named == [], "container_name stops two deployments (or projects) on one host"


def test_every_image_is_pinned_to_a_version(resolved: dict[str, Any]) -> None:
    images = {name: svc["image"] for name, svc in resolved["services"].items() if "image" in svc}
    assert set(images) >= {"postgresql", "temporal", "temporal-ui"}
    for name, image in images.items():
        if "@sha256:" in image:
            continue
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image!r} has no tag"
        assert tag != "latest", f"{name}: {image!r} floats"
        assert re.match(r"^v?\d+\.\d+", tag), f"{name}: {image!r} is not pinned to a version"


def test_temporal_runs_on_postgresql(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    temporal, postgresql = services["temporal"], services["postgresql"]
    assert depends_on(temporal).get("postgresql") == "service_healthy"
    assert "healthcheck" in postgresql
    env = env_of(temporal)
    assert env["DB"] == "postgres12"
    assert env["POSTGRES_SEEDS"] in services
    # Every schema step must have finished before the server starts on the database.
    for name, condition in depends_on(temporal).items():
        if name != "postgresql":
            assert condition == "service_completed_successfully", name
            assert depends_on(services[name]).get("postgresql") == "service_healthy"
    assert any(p["target"] == 7233 for p in temporal["ports"])


def test_database_survives_docker_compose_down(resolved: dict[str, Any]) -> None:
    mounts = resolved["services"]["postgresql"]["volumes"]
    named = [m.split(":", 1)[0] for m in mounts if isinstance(m, str) and ":" in m]
    data = [n for n in named if n in (resolved.get("volumes") or {})]
    assert data, "PostgreSQL's data directory must be a named volume declared in `volumes:`"


def test_web_ui_points_at_temporal(resolved: dict[str, Any]) -> None:
    ui = resolved["services"]["temporal-ui"]
    assert env_of(ui)["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert any(str(p["published"]) == "8080" and p["target"] == 8080 for p in ui["ports"])


def test_workers_reach_temporal_only_after_the_namespace_exists(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    worker = services["worker"]
    assert env_of(worker)["TEMPORAL_ADDRESS"] == "temporal:7233"
    namespace = env_of(worker)["TEMPORAL_NAMESPACE"]
    gates = [n for n, c in depends_on(worker).items() if c == "service_completed_successfully"]
    assert gates, "workers must wait for the namespace to be registered"
    assert any(env_of(services[g]).get("TEMPORAL_NAMESPACE") == namespace for g in gates)


def test_secrets_come_from_the_environment(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for key, value in env_of(service).items():
            if SECRET_NAME.search(key):
                m = _VAR.fullmatch(value)
                assert m, f"{name}.{key} holds a literal value; use ${{{key}:-}} or ${{...:?}}"
                assert m["op"] in (":-", ":?") and (m["op"] == ":?" or m["arg"] == ""), (
                    f"{name}.{key} has a default value baked into the file"
                )
    worker_env = env_of(compose["services"]["worker"])
    for key in PASSED_THROUGH:
        assert worker_env.get(key) == f"${{{key}:-}}", f"worker must pass {key} from the host"


def test_worker_mounts_the_clones_at_the_same_path(resolved: dict[str, Any]) -> None:
    """Paths given to the CLI on the host must name the same files inside every worker."""
    binds = [
        v
        for v in resolved["services"]["worker"].get("volumes", [])
        if isinstance(v, dict) and v.get("type") == "bind"
    ]
    assert binds, "the worker needs the repositories it works on mounted"
    assert any(v["source"] == v["target"] == "/work" for v in binds)
    assert all(v.get("bind", {}).get("create_host_path") is False for v in binds)


def test_the_server_keeps_payloads_as_small_as_the_embedded_one(compose: dict[str, Any]) -> None:
    """A raw signal of megabytes must not land in a history on either server."""
    from runtime.server import BLOB_LIMITS

    dynamic = yaml.safe_load(compose["configs"]["temporal-dynamicconfig"]["content"])
    assert {key: str(dynamic[key][0]["value"]) for key in BLOB_LIMITS} == BLOB_LIMITS


def test_the_namespace_job_registers_the_loops_search_attributes(resolved: dict[str, Any]) -> None:
    """Without them `temporal workflow list --query 'OrchestratorWaitingFor="person"'` fails."""
    from contracts.search_attributes import KEYS, cli_type

    script = "\n".join(resolved["services"]["temporal-namespace"]["command"])
    assert "temporal operator search-attribute create" in script
    for key in KEYS:
        assert f"{key.name}={cli_type(key)}" in script


def test_workers_export_traces_to_jaeger(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    jaeger = services["jaeger"]
    assert jaeger["image"].startswith("jaegertracing/all-in-one:")
    assert env_of(jaeger)["COLLECTOR_OTLP_ENABLED"] == "true" and "4318" in jaeger["expose"]
    assert any(p["target"] == 16686 and p["host_ip"] == "127.0.0.1" for p in jaeger["ports"])
    worker = env_of(services["worker"])
    assert worker["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318"
    assert worker["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
