"""A process's start-up: its modules imported with the cyclic garbage collector off.

Importing the Temporal SDK, pydantic's models and the Messages SDK creates hundreds of
thousands of objects and no garbage worth collecting, yet each few hundred allocations
start a collection pass over them: 10 to 20 % of the CPU of starting a CLI verb or a
worker. What the imports made is then frozen (`gc.freeze`), so the collections of the
process's life do not walk it again either.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def imports_without_gc() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
