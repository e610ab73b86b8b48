"""Signals as people send them from the plain `temporal` CLI: checked by the handler itself.

Typed handler arguments let the SDK decide what happens to a malformed input, and
it decides badly for a person: an input of the wrong shape is dropped with a line
in the worker's log, and a wrong number of inputs raises a TypeError that fails
the workflow task again and again (the loop is wedged). So every handler takes
whatever arrived (`*args`), checks it with `contracts.human.signal_input`, and
refuses what it cannot use through the loop's `control.refuse` (`LoopControl`), which
shows the reason and the fix in `status`. The decorated method keeps its typed body: calls from
the loop's own code (the `command` signal) pass through the same check.
"""

from __future__ import annotations

import inspect
import posixpath
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from contracts.human import EXAMPLES, NO_INPUT, signal_input

if TYPE_CHECKING:
    from workflows.loop_control import LoopControl


def checked_signal(
    name: str, shape: Any = None, optional: bool = False
) -> Callable[[Callable[..., Any]], Any]:
    """`@workflow.signal(name=name)` over a body that receives the checked input.

    `shape` None: the signal takes no input and the body takes none. `optional`: the
    body receives None when no input came.
    """

    def wrap(body: Callable[..., Any]) -> Any:
        def checked(self: Any, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
            try:
                value = signal_input(name, args, shape, optional)
            except ValueError as err:
                self.control.refuse(str(err))
                return None
            return () if value is NO_INPUT else (value,)

        if inspect.iscoroutinefunction(body):

            async def handler(self: Any, *args: Any) -> None:
                value = checked(self, args)
                if value is not None:
                    await body(self, *value)

        else:

            def handler(self: Any, *args: Any) -> None:  # type: ignore[misc]
                value = checked(self, args)
                if value is not None:
                    body(self, *value)

        # Not functools.wraps: the SDK would read the body's typed signature through
        # __wrapped__ and decode (or drop) the input itself again.
        handler.__name__ = body.__name__
        handler.__qualname__ = body.__qualname__
        handler.__doc__ = body.__doc__
        return workflow.signal(name=name)(handler)

    return wrap


def run_input(workflow_name: str, args: tuple[Any, ...], shape: Any) -> Any:
    """A loop's start input, checked the same way: one started (from the plain `temporal`
    CLI) with a malformed input fails at once, saying what to send, instead of failing
    its first workflow task over and over."""
    try:
        return signal_input(workflow_name, args, shape)
    except ValueError as err:
        raise ApplicationError(str(err), type="InvalidInput", non_retryable=True) from None


def carried_state(args: tuple[Any, ...], shape: Any) -> Any:
    """The state an earlier run carried over (continue-as-new), read as the run is made
    (`@workflow.init`): a signal that reaches the new run with its first task runs its
    handler before `run`, and must change that state, not a blank one `run` would then
    replace (a person's pause or decision lost). None when there is none, or the input is
    malformed (`run` says how, through `run_input`)."""
    try:
        inp = signal_input("input", args, shape)
    except ValueError:
        return None
    return inp.state


def loop_input(workflow_name: str, args: tuple[Any, ...], shape: Any) -> Any:
    """A loop's start input on a design directory: checked (`run_input`), its
    `design_dir` absolute (`absolute_design_dir`)."""
    inp = run_input(workflow_name, args, shape)
    absolute_design_dir(workflow_name, inp.design_dir)
    return inp


def absolute_design_dir(workflow_name: str, design_dir: str) -> None:
    """Refuse a relative `design_dir`: a worker resolves it against its own working
    directory, so the loop ran on the worker's repository instead of the person's. Only
    the plain `temporal` CLI can send one (ours sends absolute paths). Pure path logic:
    whether it is a git repository is the first activity's to say."""
    if not posixpath.isabs(design_dir):
        raise ApplicationError(
            f"{workflow_name}: design_dir {design_dir!r} is not an absolute path, and a worker "
            "would read it from its own working directory. Fix: send --input "
            f"'{EXAMPLES[workflow_name]}'",
            type="InvalidInput",
            non_retryable=True,
        )


class _UnknownNames:
    """Not a base class: the holder of the two dynamic handlers `unknown_names` hands out."""

    control: LoopControl

    @workflow.signal(dynamic=True)
    def unknown_signal(self, name: str, args: Sequence[RawValue]) -> None:
        self.control.unknown_signal(name)

    @workflow.update(dynamic=True)
    def unknown_update(self, name: str, args: Sequence[RawValue]) -> None:
        self.control.unknown_update(name)

    @unknown_update.validator
    def _no_such_update(self, name: str, args: Sequence[RawValue]) -> None:
        self.control.unknown_update(name)


def unknown_names() -> tuple[Any, Any]:
    """A loop's handlers for a signal or update it has no handler for, to assign in its
    class body (`unknown_signal, unknown_update = unknown_names()`): both answer through
    the loop's `control` (`LoopControl`), which names the loop and its messages."""
    return _UnknownNames.unknown_signal, _UnknownNames.unknown_update
