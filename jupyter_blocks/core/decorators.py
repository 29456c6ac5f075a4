"""Mage's block decorators: ``@data_loader``, ``@transformer``, ... and ``@test``.

Outside a run they are the identity: they only tag the function with its role, so a block file
imports and runs as plain Python. The runner finds the tagged functions after executing a body.
Exported block files guard the import (``if 'transformer' not in globals(): ...``) so the same file
also runs under Mage, whose runner injects its own decorators.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

#: Attribute set on a decorated function; its value is the role (a block type, or "test").
ROLE_ATTRIBUTE = "__jupyter_blocks_role__"

#: Decorator name -> block type. ``conditional`` is Mage's older spelling of ``condition``.
DECORATOR_TYPES = {
    "data_loader": "data_loader",
    "transformer": "transformer",
    "data_exporter": "data_exporter",
    "sensor": "sensor",
    "condition": "condition",
    "conditional": "condition",
    "custom": "custom",
}


def _role(role: str) -> Callable[[F], F]:
    def decorate(function: F) -> F:
        setattr(function, ROLE_ATTRIBUTE, role)
        return function

    decorate.__name__ = role
    decorate.__doc__ = f"Mark a function as the body of a `{role}` block."
    return decorate


data_loader = _role("data_loader")
transformer = _role("transformer")
data_exporter = _role("data_exporter")
sensor = _role("sensor")
condition = _role("condition")
conditional = _role("condition")
custom = _role("custom")
test = _role("test")

#: The names a block body may use without importing them.
NAMESPACE: dict[str, Any] = {
    "data_loader": data_loader,
    "transformer": transformer,
    "data_exporter": data_exporter,
    "sensor": sensor,
    "condition": condition,
    "conditional": conditional,
    "custom": custom,
    "test": test,
}
