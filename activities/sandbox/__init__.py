"""One way to run a command an agent or a gate asked for: inside an OS sandbox.

Agents read text written by others and can be prompt-injected, so a command is
treated as hostile. On Linux it runs under bubblewrap: new user, PID, IPC, UTS
and network namespaces, no capabilities, a read-only system, only the worktree
and size-bounded /tmp, /var/tmp and /dev/shm writable, the repository's git
directory read-only, nothing else of the machine visible (home, other
repositories, ORCHESTRATOR_HOME, transcripts); what is bound comes only from
sources the orchestrator trusts (`paths.py`).
The launcher starts from a scrubbed environment, so no secret is anywhere in
the sandbox's reach. Every process dies with the command (PID namespace),
CPU time, data memory and process count are bounded, and output streams to a
capped file instead of memory. On macOS, `sandbox-exec` with a small profile.
"""

from __future__ import annotations

from activities.sandbox.runner import Outcome, SandboxUnavailable, Spec, ensure_available, run

__all__ = ["Outcome", "SandboxUnavailable", "Spec", "ensure_available", "run"]
