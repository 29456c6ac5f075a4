"""Mage's block decorators: ``@data_loader``, ``@transformer``, ..., ``@test`` and ``@callback``.

Outside a run they are the identity: they only tag the function with its role, so a block file
imports and runs as plain Python. The runner finds the tagged functions after executing a body.
A callback block's functions are tagged with the status they answer: ``@callback('success')``,
``@callback('failure')``, ``@callback('cancelled')`` (bare ``@callback`` means success), and
Mage's older ``@on_success`` and ``@on_failure``.
Exported block files guard the import (``if 'transformer' not in globals(): ...``) so the same file
also runs under Mage, whose runner injects its own decorators.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

#: Attribute set on a decorated function; its value is the role (a block type, or "test").
ROLE_ATTRIBUTE = "__jupyter_blocks_role__"
#: Attribute set on a callback function; its value is the status it answers.
STATUS_ATTRIBUTE = "__jupyter_blocks_status__"
#: Decorator name -> the status a callback function so decorated answers.
CALLBACK_DECORATORS = {"callback": None, "on_success": "success", "on_failure": "failure"}
#: The statuses ``@callback(...)`` takes (Mage's).
STATUSES = ("success", "failure", "cancelled")

#: Decorator name -> block type. ``conditional`` is Mage's older spelling of ``condition``.
DECORATOR_TYPES = {
    "data_loader": "data_loader",
    "transformer": "transformer",
    "data_exporter": "data_exporter",
    "sensor": "sensor",
    "condition": "condition",
    "conditional": "condition",
    "custom": "custom",
    "callback": "callback",
    "on_success": "callback",
    "on_failure": "callback",
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


def callback(status: Any = "success") -> Any:
    """``@callback('success' | 'failure' | 'cancelled')``; bare ``@callback`` means success."""
    if callable(status):
        return callback("success")(status)
    if status not in STATUSES:
        raise ValueError(f"@callback status must be one of {', '.join(STATUSES)}, got {status!r}")

    def decorate(function: F) -> F:
        setattr(function, ROLE_ATTRIBUTE, "callback")
        setattr(function, STATUS_ATTRIBUTE, status)
        return function

    return decorate


on_success = callback("success")
on_failure = callback("failure")

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
    "callback": callback,
    "on_success": on_success,
    "on_failure": on_failure,
}
