"""Check runs, commit statuses and GitHub Actions job logs for the GitHub stand-in.

Each route answers as GitHub's REST reference says (links beside each); the OpenAPI contract
test holds the requests to GitHub's published description. Real check runs are written by a
GitHub App (`POST /repos/{o}/{r}/check-runs` wants an installation token, "OAuth apps and
personal access tokens (classic) cannot use this endpoint"); here a test writes them with
`GitHubStandIn.check_run(...)` or over HTTP with a token it registered by `add_app(...)`.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from simulators import github_git
from simulators.github_errors import ApiError, check_enums, paginate, validation_failed

if TYPE_CHECKING:
    from simulators.github_api import GitHubStandIn

CHECKS_DOCS = "https://docs.github.com/rest/checks/runs#create-a-check-run"
STATUS_DOCS = "https://docs.github.com/rest/commits/statuses#create-a-commit-status"
LOGS_DOCS = (
    "https://docs.github.com/rest/actions/workflow-jobs#download-job-logs-for-a-workflow-run"
)
# checks/create and checks/update: `status` and `conclusion` enums, and output.summary/text
# "Maximum length: 65535 characters".
STATUSES = ("queued", "in_progress", "completed", "waiting", "requested", "pending")
CONCLUSIONS = (
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
)
OUTPUT_LIMIT = 65_535
# repos/create-commit-status: `state` is one of these.
STATES = ("error", "failure", "pending", "success")
DESCRIPTION_LIMIT = 140
# "This link expires after 1 minute" (actions/download-job-logs-for-workflow-run).
LOG_LINK_TTL = 60
ACTIONS_APP = "github-actions"
APP_ONLY = "You must authenticate via a GitHub App."
# checks/list-for-ref query enums (GitHub's OpenAPI description).
_LIST_ENUMS = {"status": ("queued", "in_progress", "completed"), "filter": ("latest", "all")}


def _missing(resource: str, *fields: str) -> ApiError:
    return validation_failed(
        *({"resource": resource, "field": f, "code": "missing_field"} for f in fields),
        docs=CHECKS_DOCS,
    )


def _check_output(output: Any) -> dict[str, Any]:
    """checks/create: `output` needs `title` and `summary`; summary and text at most 65535."""
    if output is None:
        return {"title": None, "summary": None, "text": None}
    if not isinstance(output, dict) or not output.get("title") or not output.get("summary"):
        raise _missing("CheckRun", "output.title", "output.summary")
    for name in ("summary", "text"):
        value = output.get(name)
        if isinstance(value, str) and len(value) > OUTPUT_LIMIT:
            raise validation_failed(
                {
                    "resource": "CheckRun",
                    "code": "custom",
                    "field": f"output.{name}",
                    "message": f"output.{name} is too long (maximum is {OUTPUT_LIMIT} characters)",
                },
                docs=CHECKS_DOCS,
            )
    return {k: output.get(k) for k in ("title", "summary", "text")}


class Checks:
    """The stand-in's check runs, statuses and job logs (called with its lock held)."""

    def __init__(self, standin: GitHubStandIn) -> None:
        self.standin = standin
        self.runs: dict[str, list[dict[str, Any]]] = {}
        self.statuses: dict[str, list[dict[str, Any]]] = {}
        self.logs: dict[str, str] = {}
        self.apps: dict[str, str] = {}  # installation token -> app slug
        self._secret = hashlib.sha256(str(id(self)).encode()).digest()

    def state(self) -> dict[str, Any]:
        return {"check_runs": self.runs, "statuses": self.statuses, "job_logs": self.logs}

    def load(self, data: Mapping[str, Any]) -> None:
        self.runs = data.get("check_runs", {})
        self.statuses = data.get("statuses", {})
        self.logs = data.get("job_logs", {})

    # --- writing (tests, or a GitHub App over HTTP) ----------------------

    def _commit(self, full: str, sha: str) -> str:
        git_dir = self.standin.git_dir(full)
        found = github_git.resolve(git_dir, sha) if git_dir else None
        if found is None or not found.startswith(sha.lower()):
            raise validation_failed(
                {
                    "resource": "Commit",
                    "code": "custom",
                    "message": f"No commit found for SHA: {sha}",
                },
                docs=STATUS_DOCS,
            )
        return found

    def write_run(
        self, full: str, body: Mapping[str, Any], app: str, run_id: int | None = None
    ) -> dict[str, Any]:
        """checks/create (run_id None) or checks/update, validated as GitHub does."""
        runs = self.runs.setdefault(full, [])
        if run_id is None:
            missing = [f for f in ("name", "head_sha") if not body.get(f)]
            if missing:
                raise _missing("CheckRun", *missing)
            run: dict[str, Any] = {
                "id": self.standin.new_id(),
                "head_sha": self._commit(full, str(body["head_sha"])),
                "app": app,
                "status": "queued",
                "conclusion": None,
                "output": _check_output(None),
                "started_at": self.standin.now(),
                "completed_at": None,
            }
        else:
            run = self.find_run(full, run_id)
        for name, allowed in (("status", STATUSES), ("conclusion", CONCLUSIONS)):
            if body.get(name) is not None and body[name] not in allowed:
                raise validation_failed(
                    {"resource": "CheckRun", "field": name, "code": "invalid"}, docs=CHECKS_DOCS
                )
        # "Providing `conclusion` will automatically set the `status` parameter to `completed`."
        # and `conclusion` is "Required if you provide `completed_at` or a `status` of
        # `completed`".
        status = "completed" if body.get("conclusion") else body.get("status", run["status"])
        conclusion = body.get("conclusion", run["conclusion"])
        if status == "completed" and not conclusion:
            raise _missing("CheckRun", "conclusion")
        if "output" in body:
            run["output"] = _check_output(body["output"])
        for key in ("name", "details_url", "external_id"):
            if key in body:
                run[key] = body[key]
        run.update(status=status, conclusion=conclusion if status == "completed" else None)
        run["completed_at"] = self.standin.now() if status == "completed" else None
        if run_id is None:
            runs.append(run)
        return self.render_run(full, run)

    def set_log(self, job_id: int, text: str) -> None:
        self.logs[str(job_id)] = text

    def write_status(
        self, full: str, sha: str, body: Any, creator: str
    ) -> tuple[int, Any, dict[str, str]]:
        """repos/create-commit-status: 201, or 422 on a bad state or unknown SHA."""
        if not isinstance(body, dict) or body.get("state") not in STATES:
            raise validation_failed(
                {"resource": "Status", "field": "state", "code": "invalid"}, docs=STATUS_DOCS
            )
        description = body.get("description")
        if isinstance(description, str) and len(description) > DESCRIPTION_LIMIT:
            raise validation_failed(
                {
                    "resource": "Status",
                    "code": "custom",
                    "field": "description",
                    "message": f"description is too long (maximum is {DESCRIPTION_LIMIT} "
                    "characters)",
                },
                docs=STATUS_DOCS,
            )
        stamp = self.standin.now()
        status = {
            "id": self.standin.new_id(),
            "sha": self._commit(full, sha),
            "state": body["state"],
            "context": body.get("context") or "default",
            "description": description,
            "target_url": body.get("target_url"),
            "creator": creator,
            "created_at": stamp,
            "updated_at": stamp,
        }
        self.statuses.setdefault(full, []).append(status)
        return 201, self.render_status(full, status), {}

    # --- reading ------------------------------------------------------------

    def find_run(self, full: str, run_id: int) -> dict[str, Any]:
        for run in self.runs.get(full, []):
            if run["id"] == run_id:
                return run
        raise ApiError(404, {"message": "Not Found", "documentation_url": CHECKS_DOCS})

    def latest_runs(self, full: str, sha: str) -> list[dict[str, Any]]:
        """`filter=latest`: the most recent run of each name on the commit."""
        latest: dict[str, dict[str, Any]] = {}
        for run in self.runs.get(full, []):
            if run["head_sha"] == sha:
                latest[run["name"]] = run
        return list(latest.values())

    def latest_statuses(self, full: str, sha: str) -> list[dict[str, Any]]:
        """The newest status of each context, newest first (the combined status' view)."""
        latest: dict[str, dict[str, Any]] = {}
        for status in self.statuses.get(full, []):
            if status["sha"] == sha:
                latest[status["context"]] = status
        return sorted(latest.values(), key=lambda s: s["id"], reverse=True)

    def _resolve_ref(self, full: str, ref: str) -> str:
        git_dir = self.standin.git_dir(full)
        sha = github_git.resolve(git_dir, ref) if git_dir else None
        if sha is None:
            raise validation_failed(
                {
                    "resource": "Commit",
                    "code": "custom",
                    "message": f"No commit found for SHA: {ref}",
                },
                docs=STATUS_DOCS,
            )
        return sha

    def list_runs(
        self, full: str, ref: str, query: Mapping[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        """checks/list-for-ref: {total_count, check_runs}, filtered and paginated."""
        check_enums(query, _LIST_ENUMS)
        sha = self._resolve_ref(full, ref)
        if query.get("filter", "latest") == "latest":
            runs = self.latest_runs(full, sha)
        else:
            runs = [r for r in self.runs.get(full, []) if r["head_sha"] == sha]
        runs = [
            r
            for r in runs
            if query.get("check_name") in (None, r["name"])
            and query.get("status") in (None, r["status"])
        ]
        url = f"{self.standin.url}/repos/{full}/commits/{ref}/check-runs"
        chunk, headers = paginate(runs, query, url)
        rendered = [self.render_run(full, r) for r in chunk]
        return 200, {"total_count": len(runs), "check_runs": rendered}, headers

    def combined(
        self, full: str, ref: str, query: Mapping[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        """repos/get-combined-status-for-ref: `failure` if any context is error or failure,
        `pending` if there are none or one is pending, else `success`."""
        sha = self._resolve_ref(full, ref)
        latest = self.latest_statuses(full, sha)
        states = {s["state"] for s in latest}
        if states & {"error", "failure"}:
            state = "failure"
        elif not states or "pending" in states:
            state = "pending"
        else:
            state = "success"
        url = f"{self.standin.url}/repos/{full}/commits/{ref}/status"
        chunk, headers = paginate(latest, query, url)
        api = f"{self.standin.url}/repos/{full}"
        body = {
            "state": state,
            "sha": sha,
            "total_count": len(latest),
            "statuses": [self.render_status(full, s) for s in chunk],
            "repository": self.standin.render_repo(full),
            "commit_url": f"{api}/commits/{sha}",
            "url": f"{api}/commits/{sha}/status",
        }
        return 200, body, headers

    # --- job logs -----------------------------------------------------------

    def _signature(self, job_id: str, expires: int) -> str:
        return hmac.new(self._secret, f"{job_id}:{expires}".encode(), "sha256").hexdigest()

    def log_redirect(self, full: str, job_id: int) -> tuple[int, Any, dict[str, str]]:
        """302 to a download link that needs no token and expires after a minute."""
        known = any(r["id"] == job_id and r["app"] == ACTIONS_APP for r in self.runs.get(full, []))
        if not known or str(job_id) not in self.logs:
            raise ApiError(404, {"message": "Not Found", "documentation_url": LOGS_DOCS})
        expires = int(time.time()) + LOG_LINK_TTL
        sig = self._signature(str(job_id), expires)
        location = f"{self.standin.url}/_standin/job-logs/{job_id}?expires={expires}&sig={sig}"
        return 302, None, {"Location": location}

    def download(self, job_id: str, query: Mapping[str, str]) -> tuple[int, str]:
        """The log behind a redirect: 403 once the link expired or when it was altered."""
        expires = query.get("expires", "")
        good = expires.isdigit() and hmac.compare_digest(
            self._signature(job_id, int(expires)), query.get("sig", "")
        )
        if not good or int(expires) < time.time():
            return 403, "AuthenticationFailed: the link is invalid or has expired"
        if job_id not in self.logs:
            return 404, "BlobNotFound"
        return 200, self.logs[job_id]

    # --- rendering ----------------------------------------------------------

    def render_run(self, full: str, run: dict[str, Any]) -> dict[str, Any]:
        site, api = self.standin.url, f"{self.standin.url}/repos/{full}"
        slug = run["app"]
        if slug == ACTIONS_APP:  # an Actions job's check run shares the job's id
            html_url = f"{site}/{full}/actions/runs/{run['id'] + 1}/job/{run['id']}"
        else:
            html_url = f"{site}/{full}/runs/{run['id']}"
        return {
            "id": run["id"],
            "node_id": f"CR_{run['id']}",
            "head_sha": run["head_sha"],
            "name": run["name"],
            "external_id": run.get("external_id") or "",
            "url": f"{api}/check-runs/{run['id']}",
            "html_url": html_url,
            "details_url": run.get("details_url") or html_url,
            "status": run["status"],
            "conclusion": run["conclusion"],
            "started_at": run["started_at"],
            "completed_at": run["completed_at"],
            "output": {
                **run["output"],
                "annotations_count": 0,
                "annotations_url": f"{api}/check-runs/{run['id']}/annotations",
            },
            "check_suite": {"id": run["id"] + 2},
            "app": {
                "id": abs(hash(slug)) % 100_000,
                "slug": slug,
                "node_id": f"A_{slug}",
                "name": "GitHub Actions" if slug == ACTIONS_APP else slug,
                "owner": self.standin.render_user(slug),
            },
            "pull_requests": [],
        }

    def render_status(self, full: str, status: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": status["id"],
            "node_id": f"SC_{status['id']}",
            "url": f"{self.standin.url}/repos/{full}/statuses/{status['sha']}",
            "state": status["state"],
            "context": status["context"],
            "description": status["description"],
            "target_url": status["target_url"],
            "avatar_url": None,
            "creator": self.standin.render_user(status["creator"]),
            "created_at": status["created_at"],
            "updated_at": status["updated_at"],
        }
