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
from pydantic import ValidationError

from activities.config import resolve_project
from contracts.config import OrchestratorConfig, ProjectContext
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


def linked(rel: str, text: str, config: str = "") -> object:
    """`rel` in the repository is a symbolic link to a file outside it holding `text`."""

    def go(root: Path, design: Path) -> None:
        outside = root.parent / f"outside-{Path(rel).name}"
        write(outside, text)
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).symlink_to(outside)
        if config:
            write(root / "orchestrator.toml", config)

    return go


def committed(arrange: object) -> object:
    """`arrange`, then everything committed: the loop reads roles from the commit."""

    def go(root: Path, design: Path) -> None:
        arrange(root, design)  # type: ignore[operator]
        git(root, "add", "-A")
        git(root, "commit", "-qm", "project")

    return go


def tracker_through_a_link_into_git(root: Path, design: Path) -> None:
    (root / "notes").symlink_to(".git")
    write(root / "orchestrator.toml", '[tracker]\npath = "notes/config"\n')


def tracker_onto_the_readme(root: Path, design: Path) -> None:
    write(root / "README.md", "# My project\n\nHow to run it.\n")
    write(root / "orchestrator.toml", '[tracker]\npath = "README.md"\n')


ROLE = "---\nname: {name}\n{extra}description: x\n---\nDo the work.\n"
SECURITY = '[reviewers]\ncode = ["security"]\n'
TRACKER_FIX = "name a file of its own inside the repository, outside .git"


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
        "fork-pick-unknown",
        toml('[fork]\npick = "fastest"\n'),
        "orchestrator.toml: [fork] pick = \"fastest\": it should be 'ask' or 'best'",
        'delete the line for the default ("ask")',
    ),
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
        "ci-rounds-zero",
        toml("[forge]\nmax_ci_rounds = 0\n"),
        "[forge] max_ci_rounds = 0",
        "set it to 1 or more",
    ),
    Case(
        "follow-a-string",
        toml('[forge]\nfollow = "yes"\n'),
        '[forge] follow = "yes": it should be a valid boolean',
        "give it a value of the right type",
    ),
    Case(
        "merge-unknown",
        toml('[forge]\nmerge = "yes"\n'),
        "[forge] merge = \"yes\": it should be 'manual' or 'auto'",
        'delete the line for the default ("manual")',
    ),
    Case(
        "merge-method-unknown",
        toml('[forge]\nmerge_method = "fast-forward"\n'),
        "[forge] merge_method = \"fast-forward\": it should be 'squash', 'merge' or 'rebase'",
        'delete the line for the default ("squash")',
    ),
    Case("poll-zero", toml("[forge]\npoll_s = 0\n"), "[forge] poll_s = 0", "set it to 1 or more"),
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
        "tracker-path-into-git",
        toml('[tracker]\npath = ".git/config"\n'),
        "[tracker] path = \".git/config\": '.git/config' is inside .git, git's own directory",
        "name a path outside .git",
    ),
    Case(
        "tracker-path-into-git-in-capitals",
        toml('[tracker]\npath = "sub/.GIT/config"\n'),
        "'sub/.GIT/config' is inside .git",
        "name a path outside .git",
    ),
    Case(
        "tracker-path-with-a-newline",
        toml('[tracker]\npath = "pr_tracker.md\\n.md"\n'),
        "'pr_tracker.md\\n.md' holds a control character",
        "name a path relative to the repository root",
    ),
    Case(
        "tracker-path-onto-the-config",
        toml('[tracker]\npath = "orchestrator.toml"\n'),
        '[tracker] path = "orchestrator.toml": is orchestrator.toml, the configuration itself',
        TRACKER_FIX,
    ),
    Case(
        "tracker-path-onto-a-role-file",
        toml('[tracker]\npath = ".orchestrator/agents/builder.md"\n'),
        '[tracker] path = ".orchestrator/agents/builder.md": is inside [agents] dir',
        TRACKER_FIX,
    ),
    Case(
        "tracker-path-onto-the-design",
        toml('[tracker]\npath = "design-docs/active/feat/overview.md"\n'),
        "is inside the design directory, whose files the loops read and commit",
        TRACKER_FIX,
    ),
    Case(
        "tracker-path-into-a-worktree",
        toml('[tracker]\npath = ".worktrees/01-core/pr_tracker.md"\n'),
        "is inside .worktrees/, the orchestrator's own folder",
        TRACKER_FIX,
    ),
    Case(
        "tracker-path-absolute",
        toml('[tracker]\npath = "/tmp/pr_tracker.md"\n'),
        "[tracker] path = \"/tmp/pr_tracker.md\": '/tmp/pr_tracker.md' leads out of the repository",
        "name a path relative to the repository root",
    ),
    Case(
        "tracker-path-through-a-link-into-git",
        tracker_through_a_link_into_git,
        '[tracker] path = "notes/config": leads into .git',
        TRACKER_FIX,
    ),
    Case(
        "tracker-path-onto-a-file-of-the-persons",
        tracker_onto_the_readme,
        '[tracker] path = "README.md": is README.md, an existing file that is not a tracker',
        "the default design-docs/orchestration/pr_tracker.md",
    ),
    Case(
        "agents-dir-into-git",
        toml('[agents]\ndir = ".git/hooks"\n'),
        "[agents] dir = \".git/hooks\": '.git/hooks' is inside .git",
        "name a path outside .git",
    ),
    Case(
        "agents-dir-inside-the-design",
        toml('[agents]\ndir = "design-docs/active/feat/roles"\n'),
        '[agents] dir = "design-docs/active/feat/roles": overlaps the design directory',
        "name a folder of its own",
    ),
    Case(
        "config-a-symlink-out-of-the-repository",
        linked("orchestrator.toml", "threshold = 0.5\n"),
        "orchestrator.toml: is a symbolic link (to ",
        "replace the link with the file",
    ),
    Case(
        "role-file-a-symlink",
        linked(
            ".orchestrator/agents/security.md", ROLE.format(name="security", extra=""), SECURITY
        ),
        "agent file {root}/.orchestrator/agents/security.md is a symbolic link",
        "replace the link with the file",
    ),
    Case(
        "role-file-a-committed-symlink",
        committed(
            linked(
                ".orchestrator/agents/security.md", ROLE.format(name="security", extra=""), SECURITY
            )
        ),
        "agent file {root}/.orchestrator/agents/security.md (as committed in ",
        "replace the link with the file",
    ),
    Case(
        "role-named-like-a-built-in",
        role("builder", ROLE.format(name="builder", extra=""), "threshold = 0.9\n"),
        "{root}/.orchestrator/agents/builder.md: `name: builder` is the name of a built-in role",
        "add `replaces: builder` to its front matter",
    ),
    Case(
        "role-replaces-under-another-name",
        role("my-builder", ROLE.format(name="my-builder", extra="replaces: builder\n"), ""),
        "my-builder.md: `replaces: builder` with `name: my-builder`",
        "name it builder too",
    ),
    Case(
        "role-replaces-no-built-in",
        role("security", ROLE.format(name="security", extra="replaces: security\n"), SECURITY),
        "security.md: `replaces: security` with `name: security`",
        "name one of the built-in roles (builder, change-analyst",
    ),
    Case(
        "role-name-too-long",
        role("r", ROLE.format(name="r" * 65, extra=""), ""),
        "`name` is 65 characters, more than 64",
        "write it as",
    ),
    Case(
        "model-misspelt",
        toml('[models]\ndefault = "claude-sonet-4-6"\n'),
        "[models] default = \"claude-sonet-4-6\": 'claude-sonet-4-6' is not a model the Messages "
        "API knows (did you mean 'claude-sonnet-4-6'?)",
        'declare its prices in [prices."claude-sonet-4-6"]',
    ),
    Case(
        "role-model-of-another-vendor",
        toml('[models.roles]\nbuilder = "gpt-4o"\n'),
        "[models.roles] builder = \"gpt-4o\": 'gpt-4o' is not a model",
        "use one of claude-",
    ),
    Case(
        "role-file-model-unknown",
        role(
            "security",
            ROLE.format(name="security", extra="model: claude-opus-9\n"),
            SECURITY,
        ),
        'model in {root}/.orchestrator/agents/security.md = "claude-opus-9"',
        "use one of claude-",
    ),
    Case(
        "context-window-one-token",
        toml("[models.context_windows]\nclaude = 1\n"),
        "[models.context_windows] claude = 1: 1 tokens is no model's context window",
        "give the window in tokens, between 16000 and 10000000",
    ),
    Case(
        "context-window-in-thousands",
        toml('[models.context_windows]\n"claude-sonnet-4-6" = 200\n'),
        "200 tokens is no model's context window",
        "(Claude's is 200000)",
    ),
    Case(
        "forge-repository-a-relative-path",
        toml('[forge]\nrepository = "../.."\n'),
        "[forge] repository = \"../..\": '../..' is not owner/name",
        'write it as on GitHub, e.g. "octo-org/my-repo"',
    ),
    Case(
        "forge-repository-with-dot-git",
        toml('[forge]\nrepository = "org/repo.git"\n'),
        "'org/repo.git' ends in .git, the ending of a clone URL",
        'write it as on GitHub, e.g. "octo-org/my-repo"',
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


def test_a_context_recorded_before_a_rule_still_decodes() -> None:
    """The stricter rules apply to the file: a running loop's recorded ProjectContext (what
    its history replays) keeps decoding, or every workflow task of it would fail."""
    recorded = {
        "repo_root": "/r",
        "design_dir": "/r/d/feat",
        "design_rel": "d/feat",
        "feature": "feat",
        "branch": "main",
        "config": {
            "tracker": {"path": "/srv/shared/pr_tracker.md"},
            "forge": {"repository": "org/repo.git"},
            "models": {"context_windows": {"claude": 1000}},
        },
    }
    ctx = ProjectContext.model_validate(recorded)
    assert ctx.config.tracker.path == "/srv/shared/pr_tracker.md"
    with pytest.raises(ValidationError):
        OrchestratorConfig.model_validate(recorded["config"], context={"file": True})
