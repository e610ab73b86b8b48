"""Bad `orchestrator.toml` files (and the role files it names), refused at a loop's start.

Each case writes one mistake into the repository and runs `resolve_project`, the
check that both the `project.resolve` activity and the CLI run before a loop
starts: the refusal names the file, the key and the fix, and the tree is
byte-identical afterwards. (tests/plan/test_config_errors.py has the range
checks of every duration and count; these are the other ways a file goes wrong.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from activities.config import resolve_project
from tests.badinput.support import Case, git, ids, refused_untouched, write


def toml(text: str | bytes) -> object:
    return lambda root, design: write(root / "orchestrator.toml", text)


def role(name: str, text: str, config: str) -> object:
    def go(root: Path, design: Path) -> None:
        write(root / ".orchestrator" / "agents" / f"{name}.md", text)
        write(root / "orchestrator.toml", config)

    return go


def committed_then_edited(root: Path, design: Path) -> None:
    write(root / "orchestrator.toml", "threshold = 0.9\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "config")
    write(root / "orchestrator.toml", "threshold = 0.5\n")


def a_directory(root: Path, design: Path) -> None:
    (root / "orchestrator.toml").mkdir()


CASES = [
    Case("syntax", toml("threshold = 0.9\nmax_rounds =\n"), "is not valid TOML", "correct the"),
    Case(
        "duplicate-key",
        toml("threshold = 0.9\nthreshold = 0.8\n"),
        "Cannot overwrite a value (at line 2",
        "correct the syntax at that line",
    ),
    Case(
        "table-twice",
        toml("[agents]\nmax_turns = 3\n[agents]\nmax_turns = 4\n"),
        "Cannot declare ('agents',) twice (at line 3",
        "correct the syntax",
    ),
    Case(
        "byte-order-mark",
        toml("\ufeffthreshold = 0.9\n"),
        "starts with a byte-order mark",
        "save it as UTF-8 without BOM",
    ),
    Case("a-directory", a_directory, "is not a regular file", "make it a file"),
    Case(
        "threshold-a-bool",
        toml("threshold = true\n"),
        "threshold = true: it should be a valid number",
        "or delete the line for the default (0.96)",
    ),
    Case(
        "threshold-a-numeric-string",
        toml('threshold = "0.9"\n'),
        'threshold = "0.9": it should be a valid number',
        "give it a value of the right type",
    ),
    Case(
        "threshold-negative",
        toml("threshold = -0.1\n"),
        "threshold = -0.1",
        "set it to 0 or more",
    ),
    Case("threshold-nan", toml("threshold = nan\n"), "threshold = nan", "use a finite number"),
    Case(
        "concurrency-fractional",
        toml("max_concurrent_subtasks = 2.5\n"),
        "max_concurrent_subtasks = 2.5: it should be a valid integer",
        "or delete the line for the default (2)",
    ),
    Case(
        "parallel-reviews-zero",
        toml("max_parallel_reviews = 0\n"),
        "max_parallel_reviews = 0",
        "set it to 1 or more",
    ),
    Case("stuck-rounds-zero", toml("stuck_rounds = 0\n"), "stuck_rounds = 0", "1 or more"),
    Case("max-rounds-zero", toml("max_rounds = 0\n"), "max_rounds = 0", "set it to 1 or more"),
    Case(
        "host-timeout-below-a-second",
        toml("host_timeout_s = 0.5\n"),
        "host_timeout_s = 0.5",
        "set it to 1 or more",
    ),
    Case(
        "unknown-table",
        toml('[reviewer]\ncode = ["code-correctness"]\n'),
        "reviewer is not a known key",
        "correct its spelling (keys here: threshold,",
    ),
    Case(
        "key-in-the-wrong-table",
        toml("[agents]\nthreshold = 0.9\n"),
        "[agents] threshold is not a known key",
        "keys here: dir, max_turns",
    ),
    Case(
        "table-given-a-value",
        toml("agents = 5\n"),
        "agents = 5: it should be a valid dictionary",
        "give it a value of the right type",
    ),
    Case(
        "reviewers-a-string",
        toml('[reviewers]\ndesign = "design-requirements"\n'),
        '[reviewers] design = "design-requirements": it should be a valid list',
        'or delete the line for the default (["design-requirements"',
    ),
    Case(
        "reviewer-name-empty",
        toml('[reviewers]\ndesign = [""]\n'),
        '[reviewers] design[0] = ""',
        "give it a value",
    ),
    Case(
        "model-empty",
        toml('[models]\ndefault = ""\n'),
        '[models] default = ""',
        "give it a value",
    ),
    Case(
        "role-model-empty",
        toml('[models.roles]\nbuilder = ""\n'),
        '[models.roles] builder = ""',
        "give it a value",
    ),
    Case(
        "context-window-zero",
        toml("[models.context_windows]\nclaude = 0\n"),
        "[models.context_windows] claude = 0",
        "set it to 1 or more",
    ),
    Case(
        "gate-commands-a-string",
        toml('[gates]\ncommands = "pytest -q"\n'),
        '[gates] commands = "pytest -q": it should be a valid list',
        'write it as a list, e.g. ["pytest -q"]',
    ),
    Case(
        "gate-command-empty",
        toml('[gates]\ncommands = ["pytest -q", ""]\n'),
        '[gates] commands = ["pytest -q", ""]: an entry is empty',
        "delete the empty string from the list",
    ),
    Case(
        "gate-setup-a-number",
        toml("[gates]\nsetup = [1]\n"),
        "[gates] setup[0] = 1: it should be a valid string",
        "give it a value of the right type",
    ),
    Case(
        "forge-kind-unknown",
        toml('[forge]\nkind = "gitlab"\n'),
        "[forge] kind = \"gitlab\": it should be 'github' or 'none'",
        'or delete the line for the default ("github")',
    ),
    Case(
        "forge-repository-not-owner-name",
        toml('[forge]\nrepository = "my-repo"\n'),
        "[forge] repository = \"my-repo\": 'my-repo' is not owner/name",
        'write it as on GitHub, e.g. "octo-org/my-repo"',
    ),
    Case(
        "forge-api-url-not-a-url",
        toml('[forge]\napi_url = "github.example.com"\n'),
        "[forge] api_url = \"github.example.com\": 'github.example.com' is not an http(s) URL",
        "give the API's base URL",
    ),
    Case(
        "forge-remote-an-option",
        toml('[forge]\nremote = "--upload-pack=touch /tmp/x"\n'),
        "[forge] remote = \"--upload-pack=touch /tmp/x\": '--upload-pack=touch /tmp/x' starts "
        "with '-'",
        'use a name git accepts, e.g. "origin"',
    ),
    Case(
        "forge-remote-empty",
        toml('[forge]\nremote = ""\n'),
        '[forge] remote = "": it is empty',
        'e.g. "origin"',
    ),
    Case(
        "forge-base-branch-invalid",
        toml('[forge]\nbase_branch = "release..1"\n'),
        "[forge] base_branch = \"release..1\": 'release..1' holds a character git refuses",
        'use a name git accepts, e.g. "main"',
    ),
    Case(
        "forge-token-host-a-url",
        toml('[forge]\ntoken_hosts = ["https://git.example.com"]\n'),
        "'https://git.example.com' is not a host name",
        'list host names only, e.g. token_hosts = ["git.example.com"]',
    ),
    Case(
        "tracker-path-leaves-the-repository",
        toml('[tracker]\npath = "../../pr_tracker.md"\n'),
        "[tracker] path = \"../../pr_tracker.md\": '../../pr_tracker.md' leads out of the "
        "repository",
        "name a path relative to the repository root, without '..'",
    ),
    Case(
        "tracker-path-empty",
        toml('[tracker]\npath = ""\n'),
        '[tracker] path = "": it is empty',
        "name a path relative to the repository root",
    ),
    Case(
        "agents-dir-absolute",
        toml('[agents]\ndir = "/etc"\n'),
        "[agents] dir = \"/etc\": '/etc' leads out of the repository",
        "name a path relative to the repository root",
    ),
    Case(
        "budget-with-a-unit",
        toml('[budget]\nmax_cost_usd = "10$"\n'),
        '[budget] max_cost_usd = "10$": it should be a valid number',
        "or delete the line for no limit",
    ),
    Case(
        "price-without-output",
        toml("[prices.my-model]\ninput = 1.0\n"),
        "[prices.my-model] output is missing",
        "add it",
    ),
    Case(
        "sandbox-mode-unknown",
        toml('[sandbox]\nmode = "docker"\n'),
        "[sandbox] mode = \"docker\": it should be 'os' or 'none'",
        'or delete the line for the default ("os")',
    ),
    Case(
        "sandbox-network-a-url",
        toml('[sandbox]\nnetwork = ["https://pypi.org/simple"]\n'),
        "'https://pypi.org/simple' is not a host name",
        "Fix: list host names, optionally with a port",
    ),
    Case(
        "sandbox-read-only-relative",
        toml('[sandbox]\nread_only = ["opt/node"]\n'),
        '"opt/node" is not an absolute path',
        'write it from the root, e.g. "/opt/node"',
    ),
    Case(
        "sandbox-read-only-the-repository",
        lambda root, design: write(
            root / "orchestrator.toml", f'[sandbox]\nread_only = ["{root}"]\n'
        ),
        "[sandbox] read_only lists {root}, which is or holds {root}, the repository's main",
        "Fix: list only a toolchain's own directory in [sandbox] read_only (e.g. /opt/node)",
    ),
    Case(
        "sandbox-read-only-the-root",
        toml('[sandbox]\nread_only = ["/opt/node", "/"]\n'),
        "[sandbox] read_only lists /, which is the whole file system",
        "Fix: list only a toolchain's own directory",
    ),
    Case(
        "sandbox-read-only-live-system",
        toml('[sandbox]\nread_only = ["/proc/self"]\n'),
        "[sandbox] read_only lists /proc/self (really /proc/",
        "Fix: list only a toolchain's own directory",
    ),
    Case(
        "sandbox-processes-a-string",
        toml('[sandbox]\nmax_processes = "512"\n'),
        '[sandbox] max_processes = "512": it should be a valid integer',
        "give it a value of the right type",
    ),
    Case(
        "role-file-without-front-matter",
        role("security", "Review for security.\n", '[reviewers]\ncode = ["security"]\n'),
        "{root}/.orchestrator/agents/security.md: it does not start with YAML front matter",
        "write it as\n---\nname: my-reviewer",
    ),
    Case(
        "role-file-with-broken-yaml",
        role(
            "security",
            "---\nname: security\ndescription: [unclosed\n---\nReview.\n",
            '[reviewers]\ncode = ["security"]\n',
        ),
        "{root}/.orchestrator/agents/security.md: its front matter is not valid YAML",
        "write it as\n---\nname: my-reviewer",
    ),
    Case(
        "role-named-is-not-defined",
        role(
            "security",
            "---\nname: sec\ndescription: x\n---\nReview.\n",
            '[reviewers]\ncode = ["security"]\n',
        ),
        '[reviewers] code names the unknown role "security"',
        "use one of the known reviewer roles (code-architecture, code-correctness",
    ),
    Case(
        "edited-after-the-commit-the-loop-starts-from",
        committed_then_edited,
        "orchestrator.toml differ from the commit",
        "commit them (`git add orchestrator.toml && git commit`)",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_a_bad_orchestrator_toml_is_refused_and_nothing_is_written(
    case: Case, tmp_path: Path
) -> None:
    message = refused_untouched(
        case,
        tmp_path,
        lambda design: resolve_project(str(design)),
        ("ConfigError", "RoleDefinitionError"),
    )
    assert f"{tmp_path}/repo/" in message.split(": ", 1)[0], message  # the file comes first
