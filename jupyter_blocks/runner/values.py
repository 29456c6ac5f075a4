"""Variable values as command-line text: ``--var NAME=VALUE`` read, and written back.

What belongs here: reading a value the way ``--var`` and ``-p`` take it (a YAML scalar: ``3`` is
an int, ``true`` a bool, ``2020-10-01`` a date, anything else text) and writing a value so it
reads back the same, as the resume command of a failed run must.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from jupyter_blocks.core.errors import ConfigError


def parse_assignments(pairs: Iterable[str]) -> dict[str, Any]:
    """Parse ``NAME=VALUE`` pairs; values are YAML scalars (``3`` is an int, ``true`` a bool)."""
    values: dict[str, Any] = {}
    for pair in pairs:
        name, equals, text = pair.partition("=")
        if not equals or not name.strip():
            raise ConfigError(f"--var `{pair}` needs the form NAME=VALUE "
                              "(for example --var execution_date=2020-10-01)")
        values[name.strip()] = parse_value(text)
    return values


def parse_json_object(text: str, option: str) -> dict[str, Any]:
    """Variables given as one JSON object (Mage's ``--runtime-vars``)."""
    import json

    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{option}: not valid JSON ({exc.msg} at character {exc.pos}); "
                          "give one object, like '{\"months\": 3}'") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{option}: expected a JSON object of variables, got "
                          f"{type(value).__name__}")
    return value


def parse_value(text: str) -> Any:
    """A command-line value as a YAML scalar; text that is not a scalar stays text."""
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, dict | list):
        return text
    return "" if value is None and text.strip() not in ("null", "~") else value


def format_value(value: Any) -> str:
    """A value as command-line text that :func:`parse_value` reads back to the same value."""
    import yaml

    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value if parse_value(value) == value else yaml.safe_dump(value).strip()
    text: str = yaml.safe_dump(value, default_flow_style=True).strip()
    return text.removesuffix("\n...").strip()
